"""OpenVINO backend over the same exported graphs as ONNX Runtime (models/export.py).

    map(z: float32 [N, z_dim]) -> float32 [N, w_dim]               mapping.onnx
    synthesize(ws: float32 [N, num_ws, w_dim]) -> uint8 [N, H, W, 3]  synthesis.onnx

Why a third CPU engine: OpenVINO runs bf16 matrix products on CPUs with AVX512-BF16 or AMX at
about twice the fp32 rate, which neither torch's nor ONNX Runtime's CPU kernels do for these
graphs. `precision="bf16"` asks for that (INFERENCE_PRECISION_HINT); on a CPU that lacks it
OpenVINO would emulate it slower than fp32, so it runs fp32 and says why in `fallback_reason`.
Whether bf16 is good enough to serve is decided by server/backends/precision_gate.py, not here.

Compiled models are cached on disk by OpenVINO itself (CACHE_DIR beside the ONNX cache), so
a restart loads in a fraction of the compile time. The batch axis stays dynamic.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .base import BackendUnavailable

PRECISIONS = ("fp32", "bf16")


def _import_openvino():
    try:
        import openvino as ov
    except ImportError as e:  # an optional extra: pip install 'avatarforge[openvino]'
        raise BackendUnavailable(f"openvino is not installed ({e}); pip install 'avatarforge[openvino]'") from e
    return ov


def cpu_has_bf16(core) -> bool:
    """True when OpenVINO reports native bf16 on this CPU (AVX512-BF16 or AMX)."""
    return "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")


class OpenVinoBackend:
    name = "openvino"

    def __init__(
        self,
        bundle,
        device: str = "cpu",  # "auto" | "cpu": OpenVINO's GPU plugin targets Intel GPUs, not CUDA
        threads: int | str | None = None,  # None/"auto" = OpenVINO's default (one per physical core)
        precision: str = "fp32",  # "fp32" | "bf16" (native bf16 CPUs only; otherwise fp32 and a reason)
        cache_root=None,  # where to export/cache if the bundle folder is read-only (models.export)
        max_batch: int = 16,  # unused: the batch axis is dynamic; kept for the common signature
    ):
        from avatarforge.models.export import export_onnx

        if precision not in PRECISIONS:
            raise ValueError(f"openvino precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        if device not in ("auto", "cpu"):
            raise BackendUnavailable(f"openvino backend runs on the CPU here; device {device!r} is not supported")
        ov = _import_openvino()
        self.device = "cpu"
        self.ov_version = ov.get_version()
        self.export = export_onnx(bundle, cache_root=cache_root)
        self.cache_dir = Path(self.export.synthesis).parent / "openvino"
        core = ov.Core()
        core.set_property({"CACHE_DIR": str(self.cache_dir)})
        self.fallback_reason = ""
        if precision == "bf16" and not cpu_has_bf16(core):
            caps = core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
            self.fallback_reason = (f"bf16 requested but this CPU has no native bf16 (OpenVINO capabilities: "
                                    f"{', '.join(caps)}); running fp32")
            precision = "fp32"
        self.precision = precision
        # "auto" means measured elsewhere; OpenVINO's own default (physical cores) is already that.
        self.threads = int(threads) if threads not in (None, "auto") else None
        self.threads_reason = "set by the caller" if self.threads else "OpenVINO's default (physical cores)"
        config = {
            "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32",
            # One stream: the scheduler already batches across requests, and calls come one at a time.
            "PERFORMANCE_HINT": "LATENCY",
            "NUM_STREAMS": "1",
        }
        if self.threads:
            config["INFERENCE_NUM_THREADS"] = str(self.threads)
        self._synthesis = core.compile_model(str(self.export.synthesis), "CPU", config).create_infer_request()
        # The mapping network is tiny and feeds W to every edit: always fp32, so W never depends on precision.
        self._mapping = core.compile_model(str(self.export.mapping), "CPU",
                                           {**config, "INFERENCE_PRECISION_HINT": "f32"}).create_infer_request()

    def map(self, z: np.ndarray) -> np.ndarray:
        """z float32 [N, z_dim] -> w float32 [N, w_dim]."""
        return self._run(self._mapping, z)

    def synthesize(self, ws: np.ndarray) -> np.ndarray:
        """ws float32 [N, num_ws, w_dim] -> uint8 [N, H, W, 3]."""
        return self._run(self._synthesis, ws)

    @staticmethod
    def _run(request, x: np.ndarray) -> np.ndarray:
        request.infer([np.ascontiguousarray(x, np.float32)])
        # The request owns its output buffer and reuses it on the next call: hand back a copy.
        return request.get_output_tensor(0).data.copy()

    def describe(self) -> dict:
        return {
            "backend": self.name,
            "device": self.device,
            "precision": self.precision,
            "engine_key": f"ov{self.ov_version}/{self.export.synthesis_sha256[:16]}/CPU/{self.precision}",
            "fallback_reason": self.fallback_reason,
            "threads": self.threads,
            "threads_reason": self.threads_reason,
            "cache_dir": str(self.cache_dir),
            "onnx": {"key": self.export.key, "mapping": str(self.export.mapping), "synthesis": str(self.export.synthesis)},
        }
