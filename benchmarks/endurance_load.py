"""Endurance: many bulk streams and many players at once for a long window, against a real
server process. The question is not speed but survival: zero RPC errors, and memory that stays
bounded (peak RSS, and RSS at the end against RSS early on: a leak grows, a bound does not).

    streams   N GenerateBatch streams of 100,000 seeds each (load.bulk_level), read for the window
    players   M editors dragging a slider: RenderPreview of their face at PLAYER_HZ with the
              strength moving, and every NEW_FACE_EVERY-th tick a Generate for a new face

Every failed call is counted with its status, and the players go on after one, so the count is
the real one (a level that stops at its first error would hide the rest).
"""
from __future__ import annotations

import asyncio
import math
import time
from pathlib import Path

import grpc

from avatarforge.v1 import avatarforge_pb2 as pb
from avatarforge.v1 import avatarforge_pb2_grpc as pb_grpc

from .inprocess import percentiles_ms
from .load import CHANNEL_OPTIONS, bulk_level

PLAYER_HZ = 10.0
NEW_FACE_EVERY = 20
RSS_SAMPLE_S = 0.5


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """A /proc/<pid>/status memory figure (VmRSS now, VmHWM the peak), MB; 0 when unreadable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


async def _players(address: str, count: int, stop: asyncio.Event, errors: list[str], model: str = "") -> dict:
    async with grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS) as channel:
        stub = pb_grpc.AvatarForgeStub(channel)
        info = await stub.GetModel(pb.GetModelRequest(model=model))
        direction = info.directions[0] if info.directions else None
        latencies: list[float] = []
        started = time.perf_counter()

        async def call(rpc, request):
            t0 = time.perf_counter()
            try:
                reply = await rpc(request, timeout=60)
            except grpc.aio.AioRpcError as e:
                errors.append(f"player {type(request).__name__}: {e.code().name}: {e.details()}")
                return None
            latencies.append(time.perf_counter() - t0)
            return reply

        async def player(k: int) -> None:
            dna, tick, next_at = None, 0, time.perf_counter()
            while not stop.is_set():
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
                next_at = max(next_at + 1 / PLAYER_HZ, time.perf_counter())
                if dna is None or tick % NEW_FACE_EVERY == 0:
                    reply = await call(stub.Generate, pb.GenerateRequest(
                        model=model, characters=[pb.CharacterSource(seed=k * 1_000_000 + tick)]))
                    if reply is not None:
                        dna = reply.results[0].dna
                elif direction is not None:
                    strength = direction.default_strength * math.sin(tick / 5)
                    await call(stub.RenderPreview, pb.RenderPreviewRequest(
                        model=model, dna=dna, edits=[pb.DirectionEdit(direction=direction.name, strength=strength)]))
                tick += 1

        await asyncio.gather(*[player(k) for k in range(count)])
    return {"players": count, "calls": len(latencies), "seconds": time.perf_counter() - started,
            "latency_ms": percentiles_ms(latencies or [float("nan")])}


async def _sample_rss(pid: int, stop: asyncio.Event) -> list[tuple[float, float]]:
    """(seconds since start, RSS MB) every RSS_SAMPLE_S until `stop`."""
    t0, samples = time.perf_counter(), []
    while not stop.is_set():
        samples.append((time.perf_counter() - t0, rss_mb(pid)))
        await asyncio.sleep(RSS_SAMPLE_S)
    return samples


async def run_endurance(address: str, server_pid: int, streams: int, players: int, seconds: float,
                        model: str = "") -> dict:
    """The streams' timed window is `seconds` (load.bulk_level: it opens once every stream has
    its first image); the players play from the start until the streams are done, so the whole
    window has both, and the RSS is sampled as long."""
    errors: list[str] = []
    done = asyncio.Event()

    async def bulk() -> dict:
        try:
            return await bulk_level(address, streams, seconds, model, pb.IMAGE_FORMAT_PNG, first_seed=70_000_000)
        except grpc.aio.AioRpcError as e:
            errors.append(f"bulk stream: {e.code().name}: {e.details()}")
            return {}
        finally:
            done.set()

    rss, bulk_report, player_report = await asyncio.gather(
        _sample_rss(server_pid, done), bulk(), _players(address, players, done, errors, model))
    total = rss[-1][0] if rss else 0.0
    tail = [mb for t, mb in rss if t >= 0.9 * total] or [0.0]
    early = [mb for t, mb in rss if 0.1 * total <= t < 0.2 * total] or [0.0]
    return {
        "window_s": seconds, "run_s": total, "streams": streams, "players": players, "errors": errors,
        "bulk_images": bulk_report.get("images", 0), "bulk_images_per_s": bulk_report.get("images_per_s", 0.0),
        "player_calls": player_report["calls"], "player_p99_ms": player_report["latency_ms"]["p99"],
        "server_peak_rss_mb": rss_mb(server_pid, "VmHWM"),
        "rss_early_mb": max(early), "rss_end_mb": max(tail),
        "rss_samples": rss,
    }


def format_endurance(r: dict) -> str:
    return "\n".join([
        f"{r['streams']} GenerateBatch streams + {r['players']} players, {r['window_s']:.0f} s window "
        f"({r['run_s']:.0f} s in all): "
        f"bulk {r['bulk_images']} images ({r['bulk_images_per_s']:.1f}/s), players {r['player_calls']} calls "
        f"(p99 {r['player_p99_ms']:.0f} ms)",
        f"server RSS: peak {r['server_peak_rss_mb']:.0f} MB; {r['rss_early_mb']:.0f} MB early, "
        f"{r['rss_end_mb']:.0f} MB at the end",
        f"errors: {len(r['errors'])}" + (f" (first: {r['errors'][0]})" if r["errors"] else ""),
    ])
