"""In-process benchmark: a backend's own speed, with no server, queue or encoding in the way.

    measure_latency     single-image synthesize(): p50/p90/p95/p99 in ms
    measure_throughput  images/s for each batch size (1, 4, 16, 64 by default)
    run_inprocess       both, for several backends on one bundle, plus their ratios
    synthesis_flops     FLOPs of one image's synthesis (torch.utils.flop_counter)
    matmul_peak         fp32 GFLOP/s of a large torch.mm on this machine now: the ceiling to compare with

Backends are measured A/B interleaved (a few calls of each in turn, round after round) rather
than one after the other, so a background job that starts or stops mid-run slows every backend
alike and the ratios stay meaningful; CI gates on those ratios, not on absolute times
(DESIGN.md, use 4). Inputs are W+ codes from fixed seeds, so runs are comparable.
"""
from __future__ import annotations

import os
import platform
import time

import numpy as np

from avatarforge.models.latents import zs_from_seeds

DEFAULT_BATCH_SIZES = (1, 4, 16, 64)
PERCENTILES = (50, 90, 95, 99)


def percentiles_ms(samples_s: list[float]) -> dict:
    """Seconds -> {"n", "mean", "p50", "p90", "p95", "p99"} in milliseconds."""
    a = np.asarray(samples_s, dtype=np.float64) * 1e3
    return {"n": int(a.size), "mean": float(a.mean()), **{f"p{q}": float(np.percentile(a, q)) for q in PERCENTILES}}


def benchmark_ws(backend, z_dim: int, num_ws: int, count: int, first_seed: int = 0) -> np.ndarray:
    """float32 [count, num_ws, w_dim]: W+ of seeds first_seed.. (mapped by `backend`)."""
    w = backend.map(zs_from_seeds(range(first_seed, first_seed + count), z_dim))
    return np.ascontiguousarray(np.repeat(w[:, None, :], num_ws, axis=1), dtype=np.float32)


def interleaved(backends: dict, call, seconds: float, min_samples: int, calls_per_turn: int) -> dict[str, list[float]]:
    """Run `call(backend)` in turns across backends until `seconds` passed and each has `min_samples`."""
    for b in backends.values():
        call(b)  # warm-up: lazy allocation, first-run kernel selection
    samples: dict[str, list[float]] = {name: [] for name in backends}
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or min(len(s) for s in samples.values()) < min_samples:
        for name, b in backends.items():
            for _ in range(calls_per_turn):
                t0 = time.perf_counter()
                call(b)
                samples[name].append(time.perf_counter() - t0)
    return samples


def measure_latency(backends: dict, ws1: np.ndarray, seconds: float = 3.0, min_samples: int = 20) -> dict[str, dict]:
    """Single-image forward latency per backend. ws1: float32 [1, num_ws, w_dim]."""
    assert ws1.shape[0] == 1, "latency is measured on one image"
    samples = interleaved(backends, lambda b: b.synthesize(ws1), seconds, min_samples, calls_per_turn=5)
    return {name: percentiles_ms(s) for name, s in samples.items()}


def measure_throughput(backends: dict, ws: np.ndarray, batch_sizes=DEFAULT_BATCH_SIZES,
                       seconds_per_batch: float = 2.0, min_samples: int = 3) -> dict[str, list[dict]]:
    """images/s per backend and batch size. ws: float32 [>= max(batch_sizes), num_ws, w_dim]."""
    out: dict[str, list[dict]] = {name: [] for name in backends}
    for n in batch_sizes:
        batch = ws[:n]
        assert batch.shape[0] == n, f"need at least {n} codes, got {ws.shape[0]}"
        samples = interleaved(backends, lambda b: b.synthesize(batch), seconds_per_batch, min_samples, calls_per_turn=1)
        for name, s in samples.items():
            p50 = float(np.median(s))
            out[name].append({"batch": n, "batch_ms": percentiles_ms(s), "images_per_s": n / p50})
    return out


def synthesis_flops(bundle) -> dict:
    """FLOPs of synthesizing one image, counted by torch.utils.flop_counter on the bundle's torch
    synthesis network at batch 1: convolutions and matrix products, 2 FLOPs per multiply-add.
    Elementwise work (modulation, demodulation, noise, bias, activation, upsampling, uint8
    conversion) is not counted; it is a few percent of the arithmetic and none of the GEMM time."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    cfg = bundle.config
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        bundle.generator.synthesis(torch.zeros(1, cfg.num_ws, cfg.w_dim), noise_mode="const")
    by_op = {str(op): int(n) for op, n in counter.get_flop_counts()["Global"].items()}
    return {"per_image": int(counter.get_total_flops()), "by_op": by_op,
            "method": "torch.utils.flop_counter on the synthesis network at batch 1 (conv + matmul, "
                      "2 per multiply-add; elementwise ops not counted)"}


def matmul_peak(threads: int, seconds: float = 1.0, sizes=(1024, 2048)) -> dict:
    """fp32 GFLOP/s of torch.mm on square matrices with `threads` intra-op threads (the best
    size's median): what this CPU's GEMM reaches now, the ceiling for a conv network's GFLOP/s."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        best = {"gflops": 0.0}
        for n in sizes:
            a, b = torch.randn(n, n), torch.randn(n, n)
            torch.mm(a, b)  # warm-up
            times, start = [], time.perf_counter()
            while time.perf_counter() - start < seconds / len(sizes) or len(times) < 3:
                t0 = time.perf_counter()
                torch.mm(a, b)
                times.append(time.perf_counter() - t0)
            gflops = 2 * n**3 / float(np.median(times)) / 1e9
            if gflops > best["gflops"]:
                best = {"gflops": gflops, "n": n}
        return {**best, "threads": threads, "op": "torch.mm fp32, square n x n, median of repeated calls"}
    finally:
        torch.set_num_threads(before)


def speed_ratios(latency: dict, throughput: dict, reference: str = "torch") -> dict:
    """How many times faster than `reference` each backend is (>1 = faster), by p50 latency and by batch."""
    ratios = {}
    for name in latency:
        if name == reference or reference not in latency:
            continue
        ratios[f"{name}_vs_{reference}"] = {
            "latency_p50": latency[reference]["p50"] / latency[name]["p50"],
            "throughput": {str(a["batch"]): b["images_per_s"] / a["images_per_s"]
                           for a, b in zip(throughput[reference], throughput[name])},
        }
    return ratios


def environment() -> dict:
    """What the numbers depend on; the load average shows when a run was disturbed."""
    import torch

    env = {
        "python": platform.python_version(), "torch": torch.__version__, "cpu_count": os.cpu_count(),
        "machine": platform.machine(), "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "loadavg_start": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }
    try:
        import onnxruntime

        env["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    try:
        from avatarforge.server.backends.selection import _cpu_name

        env["cpu"] = _cpu_name()
    except ImportError:
        pass
    return env


def run_inprocess(
    bundle,
    backend_names=("torch", "onnxruntime"),
    device: str = "cpu",
    threads: int | None = None,
    batch_sizes=DEFAULT_BATCH_SIZES,
    latency_seconds: float = 3.0,
    throughput_seconds: float = 2.0,  # per batch size
    cache_root=None,
) -> dict:
    """The in-process suite for one bundle: JSON-ready dict (see benchmarks/README.md)."""
    from avatarforge.server.backends import create_backend

    backends = {name: create_backend(name, bundle, device=device, threads=threads, cache_root=cache_root)
                for name in backend_names}
    cfg = bundle.config
    reference = next(iter(backends.values()))  # one mapping for all: same W+ for every backend
    ws = benchmark_ws(reference, cfg.z_dim, cfg.num_ws, max(batch_sizes))
    env = environment()
    latency = measure_latency(backends, ws[:1], latency_seconds)
    throughput = measure_throughput(backends, ws, batch_sizes, throughput_seconds)
    env["loadavg_end"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {
        "environment": env,
        "settings": {"device": device, "threads": threads, "batch_sizes": list(batch_sizes),
                     "latency_seconds": latency_seconds, "throughput_seconds_per_batch": throughput_seconds},
        "backends": {name: {"describe": _jsonable(b.describe()), "latency_ms": latency[name],
                            "throughput": throughput[name]} for name, b in backends.items()},
        "ratios": speed_ratios(latency, throughput),
    }


def _jsonable(d):
    if isinstance(d, dict):
        return {k: _jsonable(v) for k, v in d.items()}
    if isinstance(d, (list, tuple)):
        return [_jsonable(v) for v in d]
    return d if isinstance(d, (str, int, float, bool, type(None))) else str(d)
