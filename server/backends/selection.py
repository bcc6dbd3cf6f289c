"""`--backend auto`: which backend runs here, and why.

Order (DESIGN.md): TensorRT if it imports and a CUDA GPU exists, else torch on CUDA, else the
fastest CPU backend, decided by a short interleaved measurement of torch, ONNX Runtime and OpenVINO (those that import) on this CPU
(or a cached one). The decision and every reason for skipping a better option end up in
`describe()["fallback_reason"]`, which GetModel reports.

The plan (`auto_candidates`) is a pure function of the facts, so it is unit-tested without a
GPU; the measurement is cached per (model hash, CPU, threads, library versions) because it costs
a second or two at every start otherwise.
"""
from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from .base import BackendUnavailable
from .parity import broadcast_ws, parity_latents

CPU_CHOICE_FILE = "cpu_backend_choice.json"


def auto_candidates(device: str, tensorrt_reason: str | None, cuda_available: bool) -> tuple[list[str], list[str]]:
    """(candidates in order of preference, reasons for what was skipped).

    Candidates: "tensorrt", "torch-cuda", "cpu" (the measured CPU choice, always last).
    """
    candidates, reasons = [], []
    if device == "cpu":
        reasons.append("device=cpu requested")
        return ["cpu"], reasons
    if tensorrt_reason is None:
        candidates.append("tensorrt")
    else:
        reasons.append(tensorrt_reason)
    if cuda_available:
        candidates.append("torch-cuda")
    else:
        reasons.append("torch sees no CUDA GPU")
    if device.startswith("cuda") and not candidates:
        raise BackendUnavailable(f"device {device!r} requested but no CUDA backend can run: {'; '.join(reasons)}")
    if device == "auto":
        candidates.append("cpu")
    return candidates, reasons


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_choice_key(generator_sha256: str, threads: int | str | None, engines: dict[str, str]) -> str:
    """The measurement's cache key: model, CPU, threads and every measured engine's version."""
    versions = [f"{name}{version}" for name, version in sorted(engines.items())]
    return "|".join([generator_sha256[:16], _cpu_name(), f"cores{os.cpu_count()}", f"threads{threads or 0}", *versions])


def cpu_engines() -> dict[str, str]:
    """{backend name: library version} of the CPU backends that import here; torch always does."""
    engines = {"torch": torch.__version__}
    try:
        import onnxruntime

        engines["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    try:
        import openvino

        engines["openvino"] = openvino.get_version()
    except ImportError:
        pass
    return engines


def measure_synthesis(backends: dict, ws: np.ndarray, budget_s: float = 2.0, min_rounds: int = 5) -> dict[str, float]:
    """Median seconds of `synthesize(ws)` per backend, A/B interleaved so background load hits both alike."""
    for b in backends.values():
        b.synthesize(ws)  # warm-up: first-call allocations and lazy initialisation
    times: dict[str, list[float]] = {name: [] for name in backends}
    start = time.perf_counter()
    while min(len(t) for t in times.values()) < min_rounds or time.perf_counter() - start < budget_s:
        for name, b in backends.items():
            t0 = time.perf_counter()
            b.synthesize(ws)
            times[name].append(time.perf_counter() - t0)
        if time.perf_counter() - start > 10 * budget_s:  # a very slow model: enough is enough
            break
    return {name: float(np.median(t)) for name, t in times.items()}


def choose_cpu_backend(bundle, threads: int | str | None, choice_dir: Path, budget_s: float = 2.0, cache_root=None,
                       max_batch: int = 16):
    """(backend, reason): the fastest CPU engine that imports here (torch, ONNX Runtime,
    OpenVINO) for each path, measured at batch 1 (previews, edit sessions) and at max_batch
    (bulk). One engine when it wins both; a PathSplitBackend when the winners differ.

    The decision is cached in `<choice_dir>/cpu_backend_choice.json`; `cache_root` is passed to
    the ONNX export (None = beside the bundle).
    """
    from . import create_backend
    from .path_split import PathSplitBackend

    engines = cpu_engines()
    make = lambda name: create_backend(name, bundle, "cpu", threads, "fp32", cache_root, max_batch)
    if len(engines) == 1:
        return make("torch"), "neither onnxruntime nor openvino is installed; torch is the only CPU backend"
    key = cpu_choice_key(bundle.generator_sha256, threads, engines) + f"|batch{max_batch}"
    cache_file = Path(choice_dir) / CPU_CHOICE_FILE
    cache = _read_json(cache_file)
    if key in cache:
        entry = cache[key]
        small, large = entry["small"], entry["large"]
        why = f"{entry['reason']} (cached measurement from {entry['measured_at']})"
        if small == large:
            return make(small), why
        return PathSplitBackend(make(small), make(large), entry["small_rows"]), why
    backends = {name: make(name) for name in engines}
    cfg = bundle.config
    ws = broadcast_ws(backends["torch"].map(parity_latents(cfg.z_dim, seeds=range(max_batch))), cfg.num_ws)
    one = measure_synthesis(backends, ws[:1], budget_s)
    full = measure_synthesis(backends, ws, budget_s) if max_batch > 1 else one
    small, large = min(one, key=one.get), min(full, key=full.get)
    ms = lambda t, rows: ", ".join(f"{n} {s * 1e3:.2f} ms" for n, s in t.items()) + f" ({rows} rows)"
    reason = f"batch 1: {small} fastest ({ms(one, 1)}); batch {max_batch}: {large} fastest ({ms(full, max_batch)})"
    # Batches up to a quarter of max_batch (what an interactive burst fills) take the batch-1
    # path if its engine still wins there; otherwise only single rows do.
    small_rows = max(1, max_batch // 4)
    if small != large and small_rows > 1:
        mid = measure_synthesis({n: backends[n] for n in (small, large)}, ws[:small_rows], budget_s / 2)
        small_rows = small_rows if mid[small] <= mid[large] else 1
    cache[key] = {"small": small, "large": large, "small_rows": small_rows, "reason": reason,
                  "seconds": {"batch1": one, f"batch{max_batch}": full},
                  "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
    _write_json(cache_file, cache)
    if small == large:
        return backends[small], reason
    return PathSplitBackend(backends[small], backends[large], small_rows), reason


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _write_json(path: Path, data: dict) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache only costs a re-measurement next start


def create_auto_backend(bundle, device: str = "auto", threads: int | str | None = None, precision: str = "fp32",
                        cache_root=None, max_batch: int = 16):
    """The best backend that runs here, with `fallback_reason` saying what was skipped and why."""
    from avatarforge.models.export import default_cache_root

    from .tensorrt_backend import TensorRTBackend, tensorrt_unavailable_reason
    from .torch_backend import TorchBackend

    # The CPU measurement lives in the user cache; ONNX/engines stay beside the bundle unless
    # the caller named a cache root (backends get cache_root as given).
    choice_dir = Path(cache_root) if cache_root else default_cache_root()
    trt_reason = tensorrt_unavailable_reason() if device != "cpu" else None
    candidates, reasons = auto_candidates(device, trt_reason, torch.cuda.is_available())
    cuda_device = device if device.startswith("cuda") else "cuda:0"
    for candidate in candidates:
        if candidate == "tensorrt":
            try:
                backend = TensorRTBackend(bundle, cuda_device, threads, precision, cache_root=cache_root)
            except Exception as e:  # a build failure must not stop the server: torch still works
                reasons.append(f"tensorrt failed: {type(e).__name__}: {e}")
                continue
        elif candidate == "torch-cuda":
            backend = TorchBackend(bundle, cuda_device, threads, precision, max_batch=max_batch)
        else:
            if precision != "fp32":
                reasons.append(f"{precision} needs CUDA; the CPU backends run fp32")
            backend, why = choose_cpu_backend(bundle, threads, choice_dir, cache_root=cache_root, max_batch=max_batch)
            reasons.append(why)
        backend.fallback_reason = "; ".join(r for r in [*reasons, backend.fallback_reason] if r)
        return backend
    raise BackendUnavailable("; ".join(reasons))
