"""`avatarforge soak`: a real server under mixed traffic (players and bulk builds at once): does
the scheduler keep interactive calls ahead of bulk without starving bulk, with zero errors and a
bounded memory? See benchmarks/mixed_load.py for the scenarios and targets.

    avatarforge soak --short --random-config tiny          # CI: ~40 s, fails on any RPC error
    avatarforge soak --model avatars64 --seconds 10        # the README's figures (idle machine)

Endurance instead (benchmarks/endurance_load.py): N bulk streams and M players at once for a
long window; zero errors and a bounded memory are the point, not speed:

    avatarforge soak --streams 64 --players 16 --seconds 60 --max-rss-mb 1500
    avatarforge soak --streams 64 --players 16 --short --random-config tiny   # CI: 8 s

Overload instead (benchmarks/overload_load.py): the sustainable RenderPreview rate from a
closed-loop sweep, then 4x that open loop; accepted calls' p99 against the unloaded p99, and
how fast the rest are refused. The server runs with its own admission defaults unless
--max-inflight, --max-render-wait-ms or --render-nice say otherwise; the mixed and endurance soaks run without
the queue bound (server_suite.UNBOUNDED_QUEUE):

    avatarforge soak --overload 4 --model avatars64 --seconds 10             # the README's figures
    avatarforge soak --overload 4 --short --random-config tiny               # CI: ~15 s

Exit status: 1 on any RPC error, refusals aside in --overload (or, with --gate, a missed target;
with --max-rss-mb, a server peak RSS above it), else 0.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

from avatarforge.server.openmp_policy import use_passive_wait_policy

use_passive_wait_policy()  # the server subprocess inherits it, as under `avatarforge serve`

HELP = "mixed players + bulk load, or an overload, on a real server: interactive p99, refusals, errors, peak RSS"
DESCRIPTION = __doc__


def add_arguments(parser: argparse.ArgumentParser) -> None:
    a = parser.add_argument
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--model", help="bundle path or zoo name (default avatars64)")
    src.add_argument("--random-config", choices=["tiny", "avatars64"], help="random weights of this architecture")
    a("--backend", default="auto", help="--backend of the server it starts (default auto, the server's own: the "
                                       "fastest CPU backend here, measured)")
    a("--threads", help="--threads of the server it starts (default: the server's, auto)")
    a("--seconds", type=float, help="window per scenario (default 10, --short 2)")
    a("--short", action="store_true", help="CI mode: 2 s windows, saturation beside 16 bulk streams only "
                                           "(--overload: 4 and max-batch players in the sweep)")
    a("--gate", action="store_true", help="also exit 1 when a target is missed (meaningful on an idle machine only)")
    a("--streams", type=int, default=0, help="endurance: this many GenerateBatch streams at once (with --players)")
    a("--players", type=int, default=0, help="endurance: this many players editing faces at once (with --streams)")
    a("--max-rss-mb", type=float, default=0.0, help="exit 1 when the server's peak RSS exceeds this (default: report only)")
    a("--overload", type=float, default=0.0, metavar="FACTOR",
      help="overload: offer FACTOR x the sustainable RenderPreview rate open loop (e.g. 4)")
    a("--max-inflight", help="--overload: --max-inflight of the server it starts (default: the server's)")
    a("--max-render-wait-ms", help="--overload: --max-render-wait-ms of the server it starts (default: the server's, auto)")
    a("--render-nice", help="--overload: --render-nice of the server it starts (default: the server's)")
    a("--json", dest="json_path", default="out/soak/results.json", help="results file (default out/soak/results.json)")


def run(args: argparse.Namespace) -> int:
    from avatarforge.models.bundle import BundleError, load_bundle

    from .load import wait_until_serving
    from .mixed_load import format_report, peak_rss_mb, run_mixed
    from .run import random_bundle
    from .server_suite import UNBOUNDED_QUEUE, start_server_process, stop_server_process

    out_json = Path(args.json_path)
    out_json.parent.mkdir(parents=True, exist_ok=True)
    try:
        bundle = (random_bundle(args.random_config, out_json.parent / "bundles") if args.random_config
                  else load_bundle(args.model or "avatars64"))
    except BundleError as e:
        print(f"avatarforge soak: {e}", file=sys.stderr)
        return 2
    endurance = bool(args.streams or args.players)
    seconds = args.seconds or ((8.0 if endurance else 2.0) if args.short else (60.0 if endurance else 10.0))
    extra = list(UNBOUNDED_QUEUE)
    if args.overload:
        extra = [arg for flag in ("max_inflight", "max_render_wait_ms", "render_nice") if getattr(args, flag) is not None
                 for arg in ("--" + flag.replace("_", "-"), getattr(args, flag))]
    proc, address = start_server_process(str(bundle.path), args.backend, args.threads, extra,
                                         log_path=out_json.parent / "server.log")
    try:
        info = asyncio.run(wait_until_serving(address))
        if args.overload:
            from .overload_load import UNLOADED_PLAYERS, format_overload, run_overload

            players = [UNLOADED_PLAYERS, info.limits.max_batch] if args.short else None  # CI: two levels
            report = asyncio.run(run_overload(address, info.limits.max_batch, seconds, args.overload, players=players))
            report.update(server_flags=extra, server_peak_rss_mb=peak_rss_mb(proc.pid))
        elif endurance:
            from .endurance_load import format_endurance, run_endurance

            report = asyncio.run(run_endurance(address, proc.pid, args.streams, args.players, seconds))
        else:
            report = asyncio.run(run_mixed(address, seconds, saturated_bulk=(16,) if args.short else (16, 64)))
            report["server_peak_rss_mb"] = peak_rss_mb(proc.pid)
    finally:
        stop_server_process(proc)
    # this machine's 1/5/15-minute load average at the end: the figures are only as quiet as the machine was
    report.update(started_at=time.strftime("%Y-%m-%dT%H:%M:%S"), model=bundle.name, load_average=os.getloadavg(),
                  backend=info.backend.backend, threads=info.backend.threads, max_batch=info.limits.max_batch)
    out_json.write_text(json.dumps(report, indent=2) + "\n")
    print(format_overload(report) if args.overload else format_endurance(report) if endurance
          else format_report(report))
    if args.max_rss_mb:
        within = report["server_peak_rss_mb"] <= args.max_rss_mb
        print(f"server peak RSS {report['server_peak_rss_mb']:.0f} MB, bound {args.max_rss_mb:.0f} MB "
              f"{'✓' if within else '✗'}")
        if not within:
            return 1
    if report["errors"]:
        return 1
    return 1 if args.gate and not endurance and not all(report["targets_met"].values()) else 0
