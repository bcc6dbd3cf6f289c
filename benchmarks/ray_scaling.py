"""How `avatarforge bulk` scales, measured in one run: the same seeds, model and backend through
`avatarforge generate` against one server, then `bulk --workers 1`, then `bulk --workers 2`.

    python -m avatarforge.benchmarks.ray_scaling --model avatars64 --seeds 0-399

Each run writes into a fresh folder, as a user runs it: the server is `avatarforge serve` in a
subprocess (started before its clock; `--server-threads` cores, by default as many as the
2-worker run's actors hold), and each `bulk` is its own process with its own local Ray (its
clock includes starting Ray and loading one model per actor).

    wall faces/s     faces / the command's wall time: what a user waits for
    steady faces/s   the last three quarters of the image files by modification time, once
                     every worker renders: what more seeds would cost
    per actor        steady / actors (the server counts as one): the figure that multiplies
                     by the number of GPUs or free cores of a cluster
    efficiency       steady(2 workers) / (2 x steady(1 worker)), for each round

--rounds N runs the three in turn N times and tables the medians: a background job that comes
and goes during the run then weighs on every row alike.

The server's --max-batch is --batch-size, so the bulk files must be byte-identical to generate's
(README "Determinism"); the run checks it. A shared machine skews the numbers: the run reports
the load average at its start and end, and how busy the CPUs were in the two seconds before it
started, when it ran nothing itself.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from avatarforge import cli
from avatarforge.commands.generate import parse_seeds

from .load import wait_until_serving
from .server_suite import start_server_process, stop_server_process

SETTLE_S = 2.0  # the CPU sample before the first run


@dataclass
class Run:
    name: str
    actors: int  # processes rendering: 1 server, or the bulk workers
    faces: int
    wall_s: float
    steady: float  # faces/s over the last three quarters of the files

    @property
    def wall_rate(self) -> float:
        return self.faces / self.wall_s

    @property
    def per_actor(self) -> float:
        return self.steady / self.actors


def steady_rate(folder: Path) -> float:
    """Faces/s over the last three quarters of the image files by modification time: start-up
    (Ray, model loads, the first batches while other workers still load) falls in the first."""
    times = sorted(p.stat().st_mtime_ns for p in folder.iterdir() if p.suffix not in (".dna", ".part")
                   and p.name != "contact_sheet.png")
    first = len(times) // 4
    span_s = (times[-1] - times[first]) / 1e9
    if len(times) - first < 2 or span_s <= 0:
        raise RuntimeError(f"{folder}: too few files, or all written at once, to time (use more seeds)")
    return (len(times) - 1 - first) / span_s


def cpu_busy(seconds: float) -> float:
    """Fraction of all cores busy (any process) over `seconds`, from /proc/stat."""
    def sample():
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(fields), fields[3] + fields[4]  # total, idle + iowait
    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    return 1.0 - (idle1 - idle0) / max(1, total1 - total0)


def run_generate(args, out: Path) -> Run:
    extra = ["--max-batch", str(args.batch_size)] + (["--model-dir", args.model_dir] if args.model_dir else [])
    proc, address = start_server_process(args.model, args.backend, args.server_threads, extra)
    try:
        asyncio.run(wait_until_serving(address, timeout=300))
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # its summary line; the table says it all
            rc = cli.main(["generate", "--server", address, "--seeds", args.seeds, "--out", str(out), "--no-progress"])
        wall = time.perf_counter() - start
    finally:
        stop_server_process(proc)
    if rc:
        raise RuntimeError(f"avatarforge generate exited {rc}")
    return Run(f"generate, one server (--threads {args.server_threads})", 1, args.faces, wall, steady_rate(out))


def run_bulk(args, workers: int, out: Path) -> Run:
    cmd = [sys.executable, "-m", "avatarforge.cli", "bulk", "--model", args.model, "--backend", args.backend,
           "--threads", str(args.threads), "--workers", str(workers), "--batch-size", str(args.batch_size),
           "--seeds", args.seeds, "--out", str(out), "--no-progress"]
    cmd += ["--model-dir", args.model_dir] if args.model_dir else []
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode:
        raise RuntimeError(f"avatarforge bulk --workers {workers} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return Run(f"bulk --workers {workers} (--threads {args.threads} each)", workers, args.faces, wall,
               steady_rate(out))


def identical_files(a: Path, b: Path) -> tuple[int, int]:
    """(files with the same bytes in both folders, files in `a`), contact sheets aside."""
    names = [p.name for p in a.iterdir() if p.name != "contact_sheet.png"]
    return sum((b / n).exists() and (a / n).read_bytes() == (b / n).read_bytes() for n in names), len(names)


def table(rounds: list[list[Run]]) -> str:
    """One row per way of running, medians over the rounds (the range of the steady rate after it
    when there are several), then the efficiency of each round."""
    med = lambda values: statistics.median(values)  # noqa: E731
    lines = ["| run | faces | wall s | wall faces/s | steady faces/s | per actor faces/s |",
             "| --- | --- | --- | --- | --- | --- |"]
    for runs in zip(*rounds):
        r = runs[0]
        steady = [x.steady for x in runs]
        spread = f" ({min(steady):.1f}-{max(steady):.1f})" if len(runs) > 1 else ""
        lines.append(f"| {r.name} | {r.faces} | {med([x.wall_s for x in runs]):.1f} | "
                     f"{med([x.wall_rate for x in runs]):.1f} | {med(steady):.1f}{spread} | "
                     f"{med([x.per_actor for x in runs]):.1f} |")
    efficiency = [two.steady / (2 * one.steady) for _, one, two in rounds]
    each = ", ".join(f"{e:.2f}" for e in efficiency)
    lines.append(f"\nefficiency, 2 workers = steady(2) / (2 x steady(1)): {each}"
                 + (f" (median {med(efficiency):.2f} over {len(rounds)} rounds)" if len(rounds) > 1 else ""))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(prog="python -m avatarforge.benchmarks.ray_scaling", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="avatars64", help="bundle name or path (default avatars64)")
    p.add_argument("--model-dir", default=None, help="folder of bundles the name is looked up in")
    p.add_argument("--seeds", default="0-399", help="seeds, as generate and bulk take them (default 0-399)")
    p.add_argument("--backend", default="torch", help="backend of the server and of every actor (default torch)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads per bulk actor (default 1)")
    p.add_argument("--server-threads", type=int, default=None,
                   help="the server's --threads (default 2 x --threads: the cores of the 2-worker run)")
    p.add_argument("--batch-size", type=int, default=16, help="bulk --batch-size and the server's --max-batch")
    p.add_argument("--rounds", type=int, default=1, help="run the three in turn this many times; the table "
                   "gives medians, so load that comes and goes touches every row alike (default 1)")
    p.add_argument("--out", type=Path, default=None, help="keep the runs' files here (default: a temporary folder)")
    args = p.parse_args(argv)
    args.faces = len(parse_seeds(args.seeds))
    args.server_threads = args.server_threads or 2 * args.threads

    environment = {"cpus": os.cpu_count(), "load_average_start": os.getloadavg(),
                   "cpu_busy_before_start": cpu_busy(SETTLE_S)}
    rounds, identical = [], []
    with tempfile.TemporaryDirectory(prefix="ray-scaling-") as scratch:
        for i in range(args.rounds):
            folders = [(args.out or Path(scratch)) / f"round{i}" / name for name in ("generate", "bulk-1", "bulk-2")]
            rounds.append([run_generate(args, folders[0]), run_bulk(args, 1, folders[1]),
                           run_bulk(args, 2, folders[2])])
            identical.append(identical_files(folders[0], folders[2]))
    environment["load_average_end"] = os.getloadavg()

    load0, load1 = environment["load_average_start"][0], environment["load_average_end"][0]
    print(f"{args.model}, seeds {args.seeds} ({args.faces} faces), backend {args.backend}, "
          f"batch {args.batch_size}, {args.rounds} round(s); {environment['cpus']} CPUs, load average {load0:.1f} "
          f"at the start and {load1:.1f} at the end, {environment['cpu_busy_before_start']:.0%} of the CPU busy "
          "with other processes before it started")
    print(table(rounds))
    same, total = [sum(x) for x in zip(*identical)]
    print(f"bulk --workers 2 files byte-identical to generate's: {same} of {total}")
    return {"environment": environment, "identical_files": [same, total],
            "rounds": [[{"name": r.name, "actors": r.actors, "faces": r.faces, "wall_s": r.wall_s,
                         "wall_faces_per_s": r.wall_rate, "steady_faces_per_s": r.steady,
                         "per_actor_faces_per_s": r.per_actor} for r in runs] for runs in rounds]}


if __name__ == "__main__":
    main()
