"""Server suite: a gRPC server against an in-process baseline measured in the same run.

    start_server_process  `avatarforge serve` as a subprocess on a free port (when no --server)
    run_server_suite      concurrency sweep (interactive and bulk) interleaved with in-process
                          probes, then the headline ratios; JSON-ready dict

The in-process baseline (inprocess.py: backend.synthesize alone) is probed right before and
after the c1 windows its ratios divide (class Baseline), so load that comes or goes during the
run (this machine shares its CPU with a training job) moves numerator and denominator alike. The server and the baseline use
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


class Baseline:
    """The in-process backend, probed between server levels (A/B interleaving, as inprocess.py
    does between backends): each ratio divides by the probes taken right before and after its
    server window, so a load change elsewhere in the run does not skew it."""

    def __init__(self, bundle, backend_name: str, device: str, threads: int | None, max_batch: int, psi: float):
        import torch

        from avatarforge.models.latents import truncate
        from avatarforge.server.backends import create_backend

        self.name, self.max_batch = backend_name, max_batch
        self.backend = create_backend(backend_name, bundle, device=device, threads=threads)
        cfg = bundle.config
        ws = inprocess.benchmark_ws(self.backend, cfg.z_dim, cfg.num_ws, max(64, max_batch))
        # The server's inputs: truncated with its default psi (activations, hence any slow
        # denormal arithmetic, depend on the codes' magnitude).
        self.ws = truncate(torch.from_numpy(ws), bundle.generator.mapping.w_avg.detach().float(), psi).numpy()
        self.probes: list[dict] = []

    def probe(self, latency_s: float, throughput_s: float) -> dict:
        """Single-image latency and images/s at max_batch, now."""
        be = {self.name: self.backend}
        lat = inprocess.measure_latency(be, self.ws[:1], latency_s)[self.name]
        thr = inprocess.measure_throughput(be, self.ws, [self.max_batch], throughput_s)[self.name][0]
        self.probes.append({"latency_ms": lat, "images_per_s_at_max_batch": thr["images_per_s"]})
        return self.probes[-1]

    def curve(self, batch_sizes, throughput_s: float) -> list[dict]:
        """images/s by batch size (for the throughput-vs-batch plot)."""
        sizes = sorted(set(batch_sizes) | {1, self.max_batch})
        thr = inprocess.measure_throughput({self.name: self.backend}, self.ws, sizes, throughput_s)[self.name]
        return [{"batch": t["batch"], "images_per_s": t["images_per_s"]} for t in thr]


def _mean(probes: list[dict], key: str, q: str | None = None) -> float:
    return sum(p[key][q] if q else p[key] for p in probes) / len(probes)


def headline_ratios(interactive: list[dict], bulk_raw: list[dict], bulk_png: list[dict], single_p99_ms: float,
                    ref_images_per_s: float) -> dict:
    """The headline numbers CI gates on (see benchmarks/README.md for their definitions).
    single_p99_ms / ref_images_per_s: the in-process probes around the c1 interactive and
    bulk windows."""
    by_c = {r["concurrency"]: r for r in interactive}
    c1, c16 = by_c[1], by_c.get(16, by_c[max(by_c)])
    ref_thr = ref_images_per_s
    ratios = {
        "bulk_ratio_raw": bulk_raw[0]["images_per_s"] / ref_thr,
        "bulk_ratio_png": bulk_png[0]["images_per_s"] / ref_thr,
        "interactive_p99_ratio_c1": c1["latency_ms"]["p99"] / single_p99_ms,
        "batching_gain_c16": c16["images_per_s"] / c1["images_per_s"],
        "p99_ratio_c16_c1": c16["latency_ms"]["p99"] / c1["latency_ms"]["p99"],
    }
    budget_ms = 1.3 * single_p99_ms + 2.0
    targets = {
        "bulk_ratio_raw": ratios["bulk_ratio_raw"] >= 0.95,
        "bulk_ratio_png": ratios["bulk_ratio_png"] >= 0.85,
        "interactive_p99_ratio_c1": c1["latency_ms"]["p99"] <= budget_ms,
        "batching_gain_c16": ratios["batching_gain_c16"] >= 4.0,
        "p99_ratio_c16_c1": ratios["p99_ratio_c16_c1"] <= 3.0,
    }
    return {**ratios, "interactive_p99_c1_ms": c1["latency_ms"]["p99"], "interactive_p99_c1_budget_ms": budget_ms,
            "inprocess_single_p99_ms": single_p99_ms, "inprocess_images_per_s_at_max_batch": ref_thr,
            "targets_met": targets}


async def _sweep(address: str, levels, seconds: float, info: pb.ModelInfo, png_levels, probe) -> dict:
    """Interactive c1 and bulk c1 first, each between two in-process probes (their ratios'
    denominators), then the other levels."""
    model, count = info.name, info.limits.max_stream_items
    inter = lambda c: load.interactive_level(address, c, seconds, model)
    bulk = lambda c, fmt: load.bulk_level(address, c, seconds, model, fmt, count=count)
    probe()
    interactive = [await inter(1)]
    probe()
    bulk_raw = [await bulk(1, pb.IMAGE_FORMAT_RAW_RGBA8)]
    bulk_png = [await bulk(1, pb.IMAGE_FORMAT_PNG)] if 1 in png_levels else []
    probe()
    interactive += [await inter(c) for c in levels if c != 1]
    bulk_raw += [await bulk(c, pb.IMAGE_FORMAT_RAW_RGBA8) for c in levels if c != 1]
    bulk_png += [await bulk(c, pb.IMAGE_FORMAT_PNG) for c in png_levels if c != 1]
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
        base = Baseline(bundle, b.backend, b.device or "cpu", threads, max_batch, info.default_truncation_psi)
        probe = lambda: base.probe(baseline_latency_s, baseline_throughput_s)
        t0 = time.perf_counter()
        sweep = asyncio.run(_sweep(address, levels, seconds, info, png_levels, probe))
        sweep_s = time.perf_counter() - t0
        curve = base.curve(batch_sizes, baseline_throughput_s)
    finally:
        if proc is not None:
            stop_server_process(proc)
    p = base.probes
    single_p99 = _mean(p[0:2], "latency_ms", "p99")  # around interactive c1
    ref_thr = _mean(p[1:3], "images_per_s_at_max_batch")  # around bulk c1
    mean = {"latency_ms": {q: _mean(p, "latency_ms", q) for q in p[0]["latency_ms"]}, "throughput": curve}
    return {
        "address": address if proc is None else "subprocess",
        "server": {"model": info.name, "backend": b.backend, "device": b.device, "precision": b.precision,
                   "engine_key": b.engine_key, "fallback_reason": b.fallback_reason, "max_batch": max_batch},
        "settings": {"levels": list(levels), "window_s": seconds, "png_levels": list(png_levels), "threads": threads,
                     "sweep_s": sweep_s},
        "inprocess": {"mean": mean, "probes": p, "describe": inprocess._jsonable(base.backend.describe())},
        **sweep,
        "ratios": headline_ratios(sweep["interactive"], sweep["bulk_raw"], sweep["bulk_png"], single_p99, ref_thr),
        "loadavg": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }
