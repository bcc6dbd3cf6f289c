"""The scheduler's promise under mixed traffic, measured against a real server process.

    idle          4 players dragging a slider (paced unary Generate, 20/s each), nothing else
    bulk solo     8 GenerateBatch streams, nothing else
    mixed         both at once: players' p99 vs idle, bulk images/s vs solo
    saturated     16 closed-loop players beside 16 (then 64) bulk streams: bulk's share of images

Targets (issue "speed frontier" §4, idle machine): mixed p99 <= 2 x idle p99 + 5 ms, bulk keeps
>= 70 % of its solo rate; saturated bulk share >= 25 %. Every RPC error is counted: any is a
failure, whatever the timings. Peak RSS of the server process is read from /proc (VmHWM).
"""
from __future__ import annotations

import asyncio
from pathlib import Path

import grpc

from avatarforge.v1 import avatarforge_pb2 as pb

from .load import bulk_level, interactive_level

PLAYERS, PLAYER_HZ, BULK_STREAMS = 4, 20.0, 8
TARGETS = {"mixed_p99_over_idle": "<= 2 x idle p99 + 5 ms", "bulk_kept": ">= 0.70", "saturated_bulk_share": ">= 0.25"}


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM), MB; 0 where /proc is not there."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


async def _counted(coro, errors: list) -> dict:
    """Run a load level; an RPC error is recorded (code and text), never raised past the report."""
    try:
        return await coro
    except grpc.aio.AioRpcError as e:
        errors.append(f"{e.code().name}: {e.details()}")
        return {}


async def run_mixed(address: str, seconds: float, model: str = "", saturated_bulk=(16, 64)) -> dict:
    errors: list[str] = []
    raw = pb.IMAGE_FORMAT_RAW_RGBA8
    player = lambda n, hz, seed: interactive_level(address, n, seconds, model, raw, first_seed=seed, rate_hz=hz)
    bulk = lambda n, seed: bulk_level(address, n, seconds, model, raw, first_seed=seed)
    idle = await _counted(player(PLAYERS, PLAYER_HZ, 0), errors)
    solo = await _counted(bulk(BULK_STREAMS, 10_000_000), errors)
    mixed_players, mixed_bulk = await asyncio.gather(_counted(player(PLAYERS, PLAYER_HZ, 20_000_000), errors),
                                                     _counted(bulk(BULK_STREAMS, 30_000_000), errors))
    saturated = []
    for n in saturated_bulk:
        players, streams = await asyncio.gather(_counted(player(16, 0.0, 40_000_000 + n), errors),
                                                _counted(bulk(n, 50_000_000 + n), errors))
        got_p, got_b = players.get("images_per_s", 0.0), streams.get("images_per_s", 0.0)
        saturated.append({"players": 16, "bulk_streams": n, "player_images_per_s": got_p, "bulk_images_per_s": got_b,
                          "bulk_share": got_b / (got_p + got_b) if got_p + got_b else 0.0})
    p99 = lambda level: level.get("latency_ms", {}).get("p99", float("nan"))
    report = {
        "window_s": seconds,
        "idle_p99_ms": p99(idle), "mixed_p99_ms": p99(mixed_players),
        "bulk_solo_images_per_s": solo.get("images_per_s", 0.0),
        "bulk_mixed_images_per_s": mixed_bulk.get("images_per_s", 0.0),
        "saturated": saturated, "errors": errors,
        "levels": {"idle": idle, "solo": solo, "mixed_players": mixed_players, "mixed_bulk": mixed_bulk},
    }
    report["bulk_kept"] = report["bulk_mixed_images_per_s"] / report["bulk_solo_images_per_s"] if solo else 0.0
    report["targets_met"] = {
        "mixed_p99_over_idle": report["mixed_p99_ms"] <= 2 * report["idle_p99_ms"] + 5,
        "bulk_kept": report["bulk_kept"] >= 0.70,
        "saturated_bulk_share": all(s["bulk_share"] >= 0.25 for s in saturated),
        "no_errors": not errors,
    }
    return report


def format_report(r: dict) -> str:
    ok = lambda k: "✓" if r["targets_met"][k] else "✗"
    lines = [
        f"players idle p99 {r['idle_p99_ms']:.1f} ms; beside {BULK_STREAMS} bulk streams {r['mixed_p99_ms']:.1f} ms "
        f"(target <= {2 * r['idle_p99_ms'] + 5:.1f}) {ok('mixed_p99_over_idle')}",
        f"bulk solo {r['bulk_solo_images_per_s']:.1f} img/s; beside the players {r['bulk_mixed_images_per_s']:.1f} "
        f"({r['bulk_kept']:.0%}, target >= 70 %) {ok('bulk_kept')}",
    ]
    for s in r["saturated"]:
        lines.append(f"16 closed-loop players + {s['bulk_streams']} bulk streams: bulk {s['bulk_images_per_s']:.1f} img/s, "
                     f"players {s['player_images_per_s']:.1f} img/s, bulk share {s['bulk_share']:.0%} (target >= 25 %)")
    lines.append(f"errors: {len(r['errors'])}" + (f" (first: {r['errors'][0]})" if r["errors"] else "") +
                 f"; server peak RSS {r.get('server_peak_rss_mb', 0):.0f} MB")
    return "\n".join(lines)
