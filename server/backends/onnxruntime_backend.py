"""ONNX Runtime backend over the exported graphs (models/export.py).

    map(z: float32 [N, z_dim]) -> float32 [N, w_dim]               mapping.onnx
    synthesize(ws: float32 [N, num_ws, w_dim]) -> uint8 [N, H, W, 3]  synthesis.onnx

CPU provider everywhere; the CUDA provider when onnxruntime-gpu is installed and a CUDA device
is asked for. fp32 only: ONNX Runtime's CPU kernels have no fast fp16 path, and on CUDA the
TensorRT and torch backends already cover fp16.
"""
from __future__ import annotations

import numpy as np

from .base import BackendUnavailable


def _import_ort():
    try:
        import onnxruntime as ort
    except ImportError as e:  # an optional extra: pip install 'avatarforge[export]'
        raise BackendUnavailable(f"onnxruntime is not installed ({e}); pip install 'avatarforge[export]'") from e
    return ort


def _providers(ort, device: str) -> tuple[list, str]:
    """(providers list, resolved device) for `device` = auto | cpu | cuda | cuda:<i>."""
    available = ort.get_available_providers()
    has_cuda = "CUDAExecutionProvider" in available
    if device == "auto":
        device = "cuda:0" if has_cuda else "cpu"
    if device.startswith("cuda"):
        if not has_cuda:
            raise BackendUnavailable(
                f"device {device!r} requested but onnxruntime has no CUDAExecutionProvider "
                f"(available: {available}); install onnxruntime-gpu"
            )
        index = int(device.split(":")[1]) if ":" in device else 0
        return [("CUDAExecutionProvider", {"device_id": index}), "CPUExecutionProvider"], f"cuda:{index}"
    if device != "cpu":
        raise BackendUnavailable(f"onnxruntime backend does not know device {device!r}")
    return ["CPUExecutionProvider"], "cpu"


class OnnxRuntimeBackend:
    name = "onnxruntime"

    def __init__(
        self,
        bundle,
        device: str = "cpu",  # "auto" | "cpu" | "cuda" | "cuda:<i>"
        threads: int | None = None,  # intra-op threads per session; None = onnxruntime's default (all cores)
        precision: str = "fp32",
        cache_root=None,  # where to export if the bundle folder is read-only (models.export)
    ):
        from avatarforge.models.export import export_onnx

        ort = _import_ort()
        self.fallback_reason = ""
        if precision != "fp32":
            self.fallback_reason = f"onnxruntime backend runs fp32 only; {precision} requested"
        self.precision = "fp32"
        providers, self.device = _providers(ort, device)
        self.threads = threads
        self.export = export_onnx(bundle, cache_root=cache_root)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or 0  # 0 = one per physical core
        options.inter_op_num_threads = 1  # the graphs are a single chain: no parallel branches to run
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only: fp16 constant-folding notes are noise to a server log
        self._mapping = ort.InferenceSession(str(self.export.mapping), options, providers=providers)
        self._synthesis = ort.InferenceSession(str(self.export.synthesis), options, providers=providers)
        self.providers = self._synthesis.get_providers()
        self.ort_version = ort.__version__

    def map(self, z: np.ndarray) -> np.ndarray:
        """z float32 [N, z_dim] -> w float32 [N, w_dim]."""
        return self._mapping.run(["w"], {"z": np.ascontiguousarray(z, np.float32)})[0]

    def synthesize(self, ws: np.ndarray) -> np.ndarray:
        """ws float32 [N, num_ws, w_dim] -> uint8 [N, H, W, 3]."""
        return self._synthesis.run(["images"], {"ws": np.ascontiguousarray(ws, np.float32)})[0]

    def describe(self) -> dict:
        return {
            "backend": self.name,
            "device": self.device,
            "precision": self.precision,
            "engine_key": f"ort{self.ort_version}/{self.export.synthesis_sha256[:16]}/{self.providers[0]}",
            "fallback_reason": self.fallback_reason,
            "threads": self.threads,
            "providers": self.providers,
            "onnx": {"key": self.export.key, "mapping": str(self.export.mapping), "synthesis": str(self.export.synthesis)},
        }
