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
        # intra-op threads per session; "auto" = measured at start (thread_choice.py);
        # None = onnxruntime's default (one per physical core)
        threads: int | str | None = None,
        precision: str = "fp32",
        cache_root=None,  # where to export if the bundle folder is read-only (models.export)
        max_batch: int = 16,  # the largest batch the caller sends: what threads="auto" measures besides 1
    ):
        from avatarforge.models.export import export_onnx

        ort = _import_ort()
        self.fallback_reason = ""
        if precision != "fp32":
            self.fallback_reason = f"onnxruntime backend runs fp32 only; {precision} requested"
        self.precision = "fp32"
        providers, self.device = _providers(ort, device)
        self.export = export_onnx(bundle, cache_root=cache_root)
        self._ort, self._provider_list = ort, providers
        self.thread_choice = None
        self.threads_reason = "set by the caller" if threads else "onnxruntime's default"
        if threads == "auto" and self.device == "cpu":
            threads = self._choose_threads(bundle.config, max_batch)
        else:
            threads = None if threads in (None, "auto") else int(threads)
            self._synthesis = self._session(self.export.synthesis, threads)
        self.threads = threads
        self._mapping = self._session(self.export.mapping, threads)
        self.providers = self._synthesis.get_providers()
        self.ort_version = ort.__version__

    def _session(self, path, threads: int | None):
        ort = self._ort
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or 0  # 0 = one per physical core
        options.inter_op_num_threads = 1  # the graphs are a single chain: no parallel branches to run
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only: fp16 constant-folding notes are noise to a server log
        return ort.InferenceSession(str(path), options, providers=self._provider_list)

    def _choose_threads(self, cfg, max_batch: int) -> int:
        """One synthesis session per candidate count, measured; keeps the winner's."""
        from .parity import broadcast_ws, parity_latents
        from .thread_choice import available_cores, candidate_counts, choose_threads

        sessions = {t: self._session(self.export.synthesis, t) for t in candidate_counts(available_cores())}
        mapping = self._session(self.export.mapping, 1)
        z = parity_latents(cfg.z_dim, seeds=range(max(1, max_batch)))
        ws = broadcast_ws(mapping.run(["w"], {"z": z})[0], cfg.num_ws)
        run = lambda t, batch: sessions[t].run(["images"], {"ws": batch})
        self.thread_choice = choose_threads(run, [ws[:1], ws] if len(ws) > 1 else [ws], counts=list(sessions))
        self.threads_reason = self.thread_choice.reason
        self._synthesis = sessions[self.thread_choice.threads]
        return self.thread_choice.threads

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
            "threads_reason": self.threads_reason,
            "providers": self.providers,
            "onnx": {"key": self.export.key, "mapping": str(self.export.mapping), "synthesis": str(self.export.synthesis)},
        }
