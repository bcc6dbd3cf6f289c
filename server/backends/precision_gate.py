"""The gate a reduced-precision ("fast") backend passes before it serves.

`--precision fast` (bf16 on CPUs that have it, fp16 on CUDA) is a product promise: faces look
the same as `exact` (fp32) to a player, and a face never depends on the batch it was rendered
in. So at start the fast backend renders a fixed set of seeds next to the fp32 reference and is
kept only if every face clears MIN_PSNR_DB and a seed rendered alone matches itself inside a
full batch within MAX_BATCH_LEVELS. The figures go to GetModel (describe()["precision_gate"]),
so an operator sees why fast is on or off without reading logs.

Pure functions over uint8 images, plus `run_gate`, which drives two real backends.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .parity import broadcast_ws, parity_latents

GATE_SEEDS = tuple(range(16))  # fixed: the figures are reproducible and quotable
MIN_PSNR_DB = 45.0  # per face, against fp32: differences far below what a player can see
MAX_BATCH_LEVELS = 1  # a seed alone vs inside a batch: at most one uint8 level anywhere
BATCH_CHECK_SIZE = 64


def psnr_db(reference: np.ndarray, candidate: np.ndarray) -> np.ndarray:
    """Per-image PSNR (dB) of uint8 [N, H, W, C] images; identical images give +inf."""
    diff = reference.astype(np.float64) - candidate.astype(np.float64)
    mse = (diff ** 2).reshape(len(diff), -1).mean(axis=1)
    with np.errstate(divide="ignore"):
        return 10 * np.log10(255.0 ** 2 / mse)


@dataclass(frozen=True)
class GateResult:
    precision: str
    faces: int
    psnr_min_db: float
    psnr_median_db: float
    batch_max_levels: int  # seed 0 alone vs the same seed inside a batch of BATCH_CHECK_SIZE
    ok: bool
    reason: str

    def to_dict(self) -> dict:
        d = asdict(self)
        # JSON has no infinity: identical images report None ("no difference at all").
        for k in ("psnr_min_db", "psnr_median_db"):
            d[k] = None if not np.isfinite(d[k]) else round(d[k], 2)
        return d


def judge(precision: str, reference: np.ndarray, candidate: np.ndarray, alone: np.ndarray,
          in_batch: np.ndarray) -> GateResult:
    """Verdict from the images: fp32 `reference` vs `candidate` (same W+), and one seed rendered
    `alone` vs `in_batch` by the candidate."""
    psnr = psnr_db(reference, candidate)
    batch_levels = int(np.abs(alone.astype(np.int16) - in_batch.astype(np.int16)).max(initial=0))
    failures = []
    if psnr.min() < MIN_PSNR_DB:
        worst = int(psnr.argmin())
        failures.append(f"face {worst} is {psnr[worst]:.1f} dB from fp32 (needs >= {MIN_PSNR_DB:g})")
    if batch_levels > MAX_BATCH_LEVELS:
        failures.append(f"a face changes by {batch_levels} levels with its batch (allowed {MAX_BATCH_LEVELS})")
    return GateResult(
        precision=precision, faces=len(psnr), psnr_min_db=float(psnr.min()), psnr_median_db=float(np.median(psnr)),
        batch_max_levels=batch_levels, ok=not failures,
        reason="; ".join(failures) or f"every face >= {MIN_PSNR_DB:g} dB from fp32 and batch-independent",
    )


def run_gate(reference, candidate, z_dim: int, num_ws: int, seeds=GATE_SEEDS) -> GateResult:
    """Render the gate's faces with both backends (the reference's W+ for both) and judge them."""
    ws = broadcast_ws(reference.map(parity_latents(z_dim, seeds)), num_ws)
    batch = np.repeat(ws[:1], BATCH_CHECK_SIZE, axis=0)
    batch[1:len(ws)] = ws[1:]  # the rest of the batch is other faces, as in a real bulk call
    return judge(candidate.precision, reference.synthesize(ws), candidate.synthesize(ws),
                 candidate.synthesize(ws[:1]), candidate.synthesize(batch)[:1])


# What "fast" asks each engine for. ONNX Runtime's CPU kernels have no faster reduced precision
# for these graphs, so fast there is fp32 (and describe() says so through the backend's reason).
FAST_PRECISION = {"openvino": "bf16", "torch": "fp16", "tensorrt": "fp16", "onnxruntime": "fp32", "auto": "fp16"}
PRECISION_MODES = ("exact", "fast")


def fast_cpu_engine() -> tuple[str | None, str]:
    """("openvino", why) when this CPU runs bf16 natively and OpenVINO imports; else (None, why not)."""
    try:
        import openvino as ov
    except ImportError:
        return None, "fast on CPU needs OpenVINO (pip install 'avatarforge[openvino]')"
    from .openvino_backend import cpu_has_bf16

    core = ov.Core()
    if not cpu_has_bf16(core):
        caps = ", ".join(core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
        return None, f"fast on CPU needs native bf16 (AVX512-BF16 or AMX); this CPU offers {caps}: serving exact fp32"
    return "openvino", "this CPU runs bf16 natively: OpenVINO bf16"


def create_serving_backend(name: str, bundle, mode: str = "exact", device: str = "auto", threads=None,
                           cache_root=None, max_batch: int = 16):
    """The backend `--backend name --precision mode` serves with.

    exact = fp32 everywhere. fast = bf16 (OpenVINO, CPUs with native bf16) or fp16 (CUDA), kept
    only when it passes the gate above; otherwise fp32 and `fallback_reason` says why.
    """
    import torch

    from . import create_backend

    if mode not in PRECISION_MODES:
        raise ValueError(f"precision must be one of {', '.join(PRECISION_MODES)}, got {mode!r}")
    if mode == "exact":
        return create_backend(name, bundle, device, threads, "fp32", cache_root, max_batch)
    note = ""
    if name == "auto" and device in ("auto", "cpu") and not torch.cuda.is_available():
        engine, note = fast_cpu_engine()
        name = engine or name
    backend = create_backend(name, bundle, device, threads, FAST_PRECISION.get(name, "fp16"), cache_root, max_batch)
    if backend.precision != "fp32":
        reference = create_backend(name, bundle, device, threads, "fp32", cache_root, max_batch)
        gate = run_gate(reference, backend, bundle.config.z_dim, bundle.config.num_ws)
        if not gate.ok:
            reference.fallback_reason = f"fast ({backend.precision}) failed its gate: {gate.reason}; serving exact fp32"
            backend = reference
        backend.precision_gate = gate.to_dict()
    elif backend.precision == "fp32" and note:
        backend.fallback_reason = "; ".join(r for r in (note, backend.fallback_reason) if r)
    return backend
