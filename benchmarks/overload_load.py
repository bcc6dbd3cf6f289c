"""Overload against a real server process: past its capacity, does the server answer the excess
with fast refusals while the calls it accepts keep their latency?

What a player does is drag a slider, and every move is a RenderPreview of their face (the
browser creator and the engine clients send one per move, one in flight at a time), so that is
the call measured here.

    capacity   closed-loop players (each a RenderPreview back to back) at 1, 2, 4 ... 2 x
               max_batch, each level for a quarter of the window: throughput and p99 at each.
               The sustainable rate is the highest throughput of the sweep; the unloaded p99
               is the p99 at UNLOADED_PLAYERS, a level that runs the whole window: the target
               divides by it, and a p99 of a quarter window's ~350 calls is its 4th-slowest
               call (28.9-39.5 ms in nine runs of one sitting).
    overload   open-loop arrivals at FACTOR x the sustainable rate for the window: a Poisson
               process (seeded), each arrival a new player's RenderPreview sent whether or not
               earlier ones have answered, so the excess is real and not throttled by clients
               waiting for their replies. Every outcome is counted by its status.

Targets (issue 15 item 2): accepted p99 <= 2 x unloaded p99; refused p99 < 10 ms; every
refusal RESOURCE_EXHAUSTED with a RetryInfo; no call ends with any other status. Latencies
are taken on the client from the moment the call is sent; how late the sender was against the
arrival schedule is reported beside them (a client that cannot keep up shows there).
"""
from __future__ import annotations

import asyncio
import gc
import random
import time

import grpc
from google.rpc import error_details_pb2, status_pb2

from avatarforge.v1 import avatarforge_pb2 as pb
from avatarforge.v1 import avatarforge_pb2_grpc as pb_grpc

from .inprocess import percentiles_ms
from .load import CHANNEL_OPTIONS, WARMUP_S

UNLOADED_PLAYERS = 4  # a few players editing at once: the mixed soak's idle scenario
FACTOR = 4.0
CALL_TIMEOUT_S = 30.0  # past this a call is DEADLINE_EXCEEDED: a timeout, which the target forbids
TARGETS = {"accepted_p99_over_unloaded": "<= 2", "refused_p99_ms": "< 10", "no_other_errors": "0 calls"}


def retry_delay_s(error: grpc.aio.AioRpcError) -> float | None:
    """The RetryInfo delay of a failed call's google.rpc details, seconds; None when it has none."""
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            for detail in status_pb2.Status.FromString(value).details:
                if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                    info = error_details_pb2.RetryInfo()
                    detail.Unpack(info)
                    return info.retry_delay.ToNanoseconds() / 1e9
    return None


class _Preview:
    """RenderPreview requests of one face along one direction, each a new strength."""

    def __init__(self, stub, model: str):
        self.stub, self.model = stub, model
        self.dna: pb.CharacterDna | None = None
        self.direction: pb.DirectionInfo | None = None
        self.n = 0

    async def setup(self) -> None:
        info = await self.stub.GetModel(pb.GetModelRequest(model=self.model))
        self.direction = info.directions[0] if info.directions else None
        reply = await self.stub.Generate(pb.GenerateRequest(model=self.model, characters=[pb.CharacterSource(seed=7)]))
        self.dna = reply.results[0].dna

    def request(self) -> pb.RenderPreviewRequest:
        self.n += 1
        edits = []
        if self.direction is not None:
            strength = self.direction.default_strength * ((self.n % 41) / 20 - 1)
            edits = [pb.DirectionEdit(direction=self.direction.name, strength=strength)]
        return pb.RenderPreviewRequest(model=self.model, dna=self.dna, edits=edits,
                                       output=pb.OutputSpec(format=pb.IMAGE_FORMAT_RAW_RGBA8))


async def closed_level(address: str, players: int, seconds: float, model: str = "") -> dict:
    """`players` clients, each a RenderPreview loop back to back, timed for `seconds` after
    WARMUP_S; completions in the window count. A refused player waits its RetryInfo delay, as a
    client should, and tries again; refusals are counted apart from errors."""
    async with grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS) as channel:
        preview = _Preview(pb_grpc.AvatarForgeStub(channel), model)
        await preview.setup()
        latencies: list[float] = []
        errors: list[str] = []
        refused = 0
        start = time.perf_counter() + WARMUP_S
        end = start + seconds

        async def player() -> None:
            nonlocal refused
            while time.perf_counter() < end:
                t0 = time.perf_counter()
                try:
                    await preview.stub.RenderPreview(preview.request(), timeout=CALL_TIMEOUT_S)
                except grpc.aio.AioRpcError as e:
                    delay = retry_delay_s(e)
                    if e.code() != grpc.StatusCode.RESOURCE_EXHAUSTED or delay is None:
                        errors.append(f"{e.code().name}: {e.details()}")
                        continue
                    refused += start <= t0 <= end
                    await asyncio.sleep(delay)
                    continue
                t1 = time.perf_counter()
                if start <= t0 and t1 <= end:
                    latencies.append(t1 - t0)

        await asyncio.gather(*[player() for _ in range(players)])
    return {"players": players, "calls": len(latencies), "calls_per_s": len(latencies) / seconds, "refused": refused,
            "latency_ms": percentiles_ms(latencies or [float("nan")]), "errors": errors}


async def open_level(address: str, rate_hz: float, seconds: float, model: str = "", seed: int = 0) -> dict:
    """Poisson arrivals at `rate_hz` for `seconds`, each a RenderPreview sent at its arrival
    time whatever the others are doing; every call's status and latency recorded."""
    rng = random.Random(seed)
    async with grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS) as channel:
        preview = _Preview(pb_grpc.AvatarForgeStub(channel), model)
        await preview.setup()
        accepted: list[float] = []
        refused: list[float] = []
        lag: list[float] = []
        refused_without_retry_info = 0
        other: dict[str, int] = {}
        first_other: list[str] = []

        async def call(request: pb.RenderPreviewRequest) -> None:
            nonlocal refused_without_retry_info
            t0 = time.perf_counter()
            try:
                await preview.stub.RenderPreview(request, timeout=CALL_TIMEOUT_S)
            except grpc.aio.AioRpcError as e:
                if e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                    refused.append(time.perf_counter() - t0)
                    refused_without_retry_info += retry_delay_s(e) is None
                else:
                    other[e.code().name] = other.get(e.code().name, 0) + 1
                    first_other[:] = first_other or [f"{e.code().name}: {e.details()}"]
                return
            accepted.append(time.perf_counter() - t0)

        calls = []
        started = time.perf_counter()
        at = started
        while True:
            at += rng.expovariate(rate_hz)
            if at - started > seconds:
                break
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            lag.append(time.perf_counter() - at)
            calls.append(asyncio.ensure_future(call(preview.request())))
        sent_s = time.perf_counter() - started
        await asyncio.gather(*calls)
    nan = [float("nan")]
    return {"rate_hz": rate_hz, "window_s": seconds, "sent": len(calls), "sent_per_s": len(calls) / sent_s,
            "accepted": len(accepted), "accepted_per_s": len(accepted) / sent_s, "refused": len(refused),
            "refused_without_retry_info": refused_without_retry_info, "other_errors": other,
            "first_other_error": first_other[0] if first_other else "",
            "accepted_ms": percentiles_ms(accepted or nan), "refused_ms": percentiles_ms(refused or nan),
            "sender_lag_ms": percentiles_ms(lag or nan)}


def sweep_players(max_batch: int) -> list[int]:
    """1, 2, 4 ... 2 x max_batch: past a full batch, more players only queue."""
    levels, n = [], 1
    while n <= 2 * max_batch:
        levels.append(n)
        n *= 2
    return levels


async def run_overload(address: str, max_batch: int, seconds: float, factor: float = FACTOR, model: str = "",
                       players: list[int] | None = None) -> dict:
    """The capacity sweep (each level `seconds` / 4, the unloaded one `seconds`), then `factor` x its best rate open-loop for
    `seconds`; the report with its targets."""
    # This process imported torch: a full collection of its heap takes ~75 ms, and every call
    # in flight would be charged the stall. Frozen, collections walk only what the load makes.
    gc.collect()
    gc.freeze()
    levels = players or sweep_players(max_batch)
    if UNLOADED_PLAYERS not in levels:
        levels = sorted({*levels, UNLOADED_PLAYERS})
    sweep = [await closed_level(address, n, seconds if n == UNLOADED_PLAYERS else seconds / 4, model)
             for n in levels]
    sustainable = max(level["calls_per_s"] for level in sweep)
    unloaded = next(level for level in sweep if level["players"] == UNLOADED_PLAYERS)
    burst = await open_level(address, factor * sustainable, seconds, model)
    unloaded_p99 = unloaded["latency_ms"]["p99"]
    accepted_p99, refused_p99 = burst["accepted_ms"]["p99"], burst["refused_ms"]["p99"]
    errors = [e for level in sweep for e in level["errors"]]
    errors += [f"{code}: {n} calls (first: {burst['first_other_error']})" for code, n in burst["other_errors"].items()]
    if burst["refused_without_retry_info"]:
        errors.append(f"RESOURCE_EXHAUSTED without a RetryInfo: {burst['refused_without_retry_info']} calls")
    report = {
        "call": "RenderPreview", "factor": factor, "window_s": seconds, "sweep": sweep,
        "sustainable_per_s": sustainable, "unloaded_players": UNLOADED_PLAYERS, "unloaded_p99_ms": unloaded_p99,
        "overload": burst, "offered_per_s": factor * sustainable,
        "accepted_p99_ms": accepted_p99, "accepted_p99_over_unloaded": accepted_p99 / unloaded_p99,
        "refused_p99_ms": refused_p99, "errors": errors, "targets": TARGETS,
    }
    report["targets_met"] = {
        "accepted_p99_over_unloaded": report["accepted_p99_over_unloaded"] <= 2.0,
        "refused_p99_ms": refused_p99 < 10.0,
        "no_other_errors": not errors,
    }
    return report


def format_overload(r: dict) -> str:
    ok = lambda k: "✓" if r["targets_met"][k] else "✗"
    b = r["overload"]
    lines = [f"{r['call']} closed loop: " + ", ".join(
        f"{s['players']} players {s['calls_per_s']:.1f}/s p99 {s['latency_ms']['p99']:.0f} ms"
        + (f" ({s['refused']} refused)" if s["refused"] else "") for s in r["sweep"])]
    lines += [
        f"sustainable {r['sustainable_per_s']:.1f} calls/s; unloaded p99 ({r['unloaded_players']} players) "
        f"{r['unloaded_p99_ms']:.1f} ms",
        f"offered {r['factor']:g}x = {r['offered_per_s']:.1f}/s open loop for {r['window_s']:g} s (sent "
        f"{b['sent_per_s']:.1f}/s, sender lag p99 {b['sender_lag_ms']['p99']:.1f} ms): {b['accepted']} accepted, "
        f"{b['refused']} refused (RESOURCE_EXHAUSTED), {sum(b['other_errors'].values())} other {b['other_errors'] or ''}",
        f"accepted p99 {r['accepted_p99_ms']:.1f} ms = {r['accepted_p99_over_unloaded']:.2f} x unloaded (target <= 2) "
        f"{ok('accepted_p99_over_unloaded')}",
        f"refused p99 {r['refused_p99_ms']:.1f} ms (target < 10) {ok('refused_p99_ms')}",
        f"errors: {len(r['errors'])}" + (f" (first: {r['errors'][0]})" if r["errors"] else ""),
    ]
    return "\n".join(lines)
