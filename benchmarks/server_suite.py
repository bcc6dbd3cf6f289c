"""Server suite: a gRPC server against an in-process baseline measured in the same run.

    start_server_process  `avatarforge serve` as a subprocess on a free port (when no --server)
    run_server_suite      in-process baseline, concurrency sweep (interactive and bulk), baseline
                          again, then the headline ratios; JSON-ready dict

The in-process baseline (inprocess.py: backend.synthesize alone) is measured before AND after
the sweep and averaged, so load that comes or goes during the run (this machine shares its CPU
with a training job) moves numerator and denominator alike. The server and the baseline use
the backend the server reports in GetModel, on the same bundle, with the same thread count.
"""
from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from avatarforge.v1 import avatarforge_pb2 as pb

from . import inprocess, load

CONCURRENCY = (1, 4, 16, 64)

# The targets: reported next to each ratio, never asserted in unit tests.
TARGETS = {
    "bulk_ratio_raw": (">=", 0.95),
    "bulk_ratio_png": (">=", 0.85),
    "interactive_p99_ratio_c1": ("<=", "1.3x single forward + 2 ms"),
    "batching_gain_c16": (">=", 4.0),
    "p99_ratio_c16_c1": ("<=", 3.0),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server_process(model: str, backend: str, threads: int | None, extra: list[str] = (),
                         log_path: Path | None = None) -> tuple[subprocess.Popen, str]:
    """`python -m avatarforge.server` on a free loopback port; returns (process, address)."""
    port = free_port()
    cmd = [sys.executable, "-m", "avatarforge.server", "--address", f"127.0.0.1:{port}", "--model", model,
           "--backend", backend, "--log-level", "WARNING", *extra]
    if threads:
        cmd += ["--threads", str(threads)]
    out = open(log_path, "w") if log_path else subprocess.DEVNULL
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    return proc, f"127.0.0.1:{port}"


def stop_server_process(proc: subprocess.Popen) -> None:
    proc.terminate()  # SIGTERM: the server drains and exits
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _baseline(bundle, backend_name: str, device: str, threads: int | None, max_batch: int,
              batch_sizes, latency_s: float, throughput_s: float) -> dict:
    from avatarforge.server.backends import create_backend

    backend = create_backend(backend_name, bundle, device=device, threads=threads)
    cfg = bundle.config
    ws = inprocess.benchmark_ws(backend, cfg.z_dim, cfg.num_ws, max(max(batch_sizes), max_batch))
    sizes = sorted(set(batch_sizes) | {1, max_batch})
    lat = inprocess.measure_latency({backend_name: backend}, ws[:1], latency_s)[backend_name]
    thr = inprocess.measure_throughput({backend_name: backend}, ws, sizes, throughput_s)[backend_name]
    return {"latency_ms": lat, "throughput": thr, "describe": inprocess._jsonable(backend.describe())}


def _average_baselines(a: dict, b: dict) -> dict:
    """Mean of the before/after baselines (their percentiles and images/s)."""
    lat = {k: (a["latency_ms"][k] + b["latency_ms"][k]) / 2 for k in a["latency_ms"]}
    thr = [{"batch": x["batch"], "images_per_s": (x["images_per_s"] + y["images_per_s"]) / 2}
           for x, y in zip(a["throughput"], b["throughput"])]
    return {"latency_ms": lat, "throughput": thr}


def _images_per_s_at(baseline: dict, batch: int) -> float:
    return next(t["images_per_s"] for t in baseline["throughput"] if t["batch"] == batch)


def headline_ratios(interactive: list[dict], bulk_raw: list[dict], bulk_png: list[dict], baseline: dict,
                    max_batch: int) -> dict:
    """The six numbers CI gates on (see benchmarks/README.md for their definitions)."""
    by_c = {r["concurrency"]: r for r in interactive}
    c1, c16 = by_c[1], by_c.get(16, by_c[max(by_c)])
    single = baseline["latency_ms"]
    ref_thr = _images_per_s_at(baseline, max_batch)
    ratios = {
        "bulk_ratio_raw": bulk_raw[0]["images_per_s"] / ref_thr,
        "bulk_ratio_png": bulk_png[0]["images_per_s"] / ref_thr,
        "interactive_p99_ratio_c1": c1["latency_ms"]["p99"] / single["p99"],
        "batching_gain_c16": c16["images_per_s"] / c1["images_per_s"],
        "p99_ratio_c16_c1": c16["latency_ms"]["p99"] / c1["latency_ms"]["p99"],
    }
    budget_ms = 1.3 * single["p99"] + 2.0
    targets = {
        "bulk_ratio_raw": ratios["bulk_ratio_raw"] >= 0.95,
        "bulk_ratio_png": ratios["bulk_ratio_png"] >= 0.85,
        "interactive_p99_ratio_c1": c1["latency_ms"]["p99"] <= budget_ms,
        "batching_gain_c16": ratios["batching_gain_c16"] >= 4.0,
        "p99_ratio_c16_c1": ratios["p99_ratio_c16_c1"] <= 3.0,
    }
    return {**ratios, "interactive_p99_c1_ms": c1["latency_ms"]["p99"], "interactive_p99_c1_budget_ms": budget_ms,
            "inprocess_single_p99_ms": single["p99"], "inprocess_images_per_s_at_max_batch": ref_thr,
            "targets_met": targets}


async def _sweep(address: str, levels, seconds: float, info: pb.ModelInfo, png_levels) -> dict:
    model, count = info.name, info.limits.max_stream_items
    interactive = [await load.interactive_level(address, c, seconds, model) for c in levels]
    bulk_raw = [await load.bulk_level(address, c, seconds, model, pb.IMAGE_FORMAT_RAW_RGBA8, count=count) for c in levels]
    bulk_png = [await load.bulk_level(address, c, seconds, model, pb.IMAGE_FORMAT_PNG, count=count) for c in png_levels]
    return {"interactive": interactive, "bulk_raw": bulk_raw, "bulk_png": bulk_png}


def run_server_suite(
    bundle,  # avatarforge.models.bundle.Bundle: the model the server serves and the baseline runs
    address: str | None = None,  # a running server; None = start one as a subprocess
    backend: str = "torch",  # for the server this suite starts; a given server's own is used otherwise
    threads: int | None = 1,
    levels=CONCURRENCY,
    seconds: float = 3.0,  # window per level
    png_levels=(1,),
    batch_sizes=(1, 4, 16, 64),  # in-process throughput curve (max_batch is always added)
    baseline_latency_s: float = 2.0,
    baseline_throughput_s: float = 1.0,
    server_args: list[str] = (),
    log_path: Path | None = None,
) -> dict:
    proc = None
    if address is None:
        proc, address = start_server_process(str(bundle.path), backend, threads, list(server_args), log_path)
    try:
        info = asyncio.run(load.wait_until_serving(address))
        max_batch = info.limits.max_batch
        b = info.backend
        args = (bundle, b.backend, b.device or "cpu", threads, max_batch, batch_sizes, baseline_latency_s, baseline_throughput_s)
        before = _baseline(*args)
        t0 = time.perf_counter()
        sweep = asyncio.run(_sweep(address, levels, seconds, info, png_levels))
        sweep_s = time.perf_counter() - t0
        after = _baseline(*args)
    finally:
        if proc is not None:
            stop_server_process(proc)
    baseline = _average_baselines(before, after)
    return {
        "address": address if proc is None else "subprocess",
        "server": {"model": info.name, "backend": b.backend, "device": b.device, "precision": b.precision,
                   "engine_key": b.engine_key, "fallback_reason": b.fallback_reason, "max_batch": max_batch},
        "settings": {"levels": list(levels), "window_s": seconds, "png_levels": list(png_levels), "threads": threads,
                     "sweep_s": sweep_s},
        "inprocess": {"mean": baseline, "before": before, "after": after},
        **sweep,
        "ratios": headline_ratios(sweep["interactive"], sweep["bulk_raw"], sweep["bulk_png"], baseline, max_batch),
        "loadavg": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }
