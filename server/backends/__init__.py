"""Inference backends behind one contract (see `base.Backend`), chosen by name.

    map(z: float32 [N, z_dim]) -> float32 [N, w_dim]
    synthesize(ws: float32 [N, num_ws, w_dim]) -> uint8 [N, H, W, 3]
    describe() -> {backend, device, precision, engine_key, fallback_reason, ...}

`create_backend("auto", bundle)` picks TensorRT where a CUDA GPU and TensorRT exist, then torch
on CUDA, then the faster CPU backend (measured); the reason for every fallback is kept in
`describe()["fallback_reason"]`. Naming a backend explicitly never falls back: it raises
`BackendUnavailable` with the reason instead, so a misconfigured server fails at start.
"""
from .base import Backend, BackendUnavailable, to_uint8_images
from .torch_backend import TorchBackend

BACKEND_NAMES = ("auto", "torch", "onnxruntime", "openvino", "tensorrt")


def create_backend(
    name: str,  # "auto" | "torch" | "onnxruntime" | "openvino" | "tensorrt"
    bundle,  # avatarforge.models.bundle.Bundle
    device: str = "auto",  # "auto" | "cpu" | "cuda" | "cuda:<i>"
    # CPU intra-op threads (torch: process-wide, onnxruntime: per session); "auto" = the count
    # whose synthesize measured fastest here at start (thread_choice.py); None = the library's default
    threads: int | str | None = None,
    precision: str = "fp32",  # "fp32" | "fp16" (CUDA only, kept only after a parity check)
    cache_root=None,  # ONNX/engine cache root; None = beside the bundle (user cache if read-only)
    max_batch: int = 16,  # the largest batch the caller sends (threads="auto" measures it and batch 1)
) -> Backend:
    if name not in BACKEND_NAMES:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKEND_NAMES)}")
    if name == "auto":
        from .selection import create_auto_backend

        return create_auto_backend(bundle, device, threads, precision, cache_root, max_batch=max_batch)
    if name == "torch":
        return TorchBackend(bundle, device=device, threads=threads, precision=precision, max_batch=max_batch)
    if name == "onnxruntime":
        from .onnxruntime_backend import OnnxRuntimeBackend

        return OnnxRuntimeBackend(bundle, device=device, threads=threads, precision=precision, cache_root=cache_root,
                                  max_batch=max_batch)
    if name == "openvino":
        from .openvino_backend import OpenVinoBackend

        return OpenVinoBackend(bundle, device=device, threads=threads, precision=precision, cache_root=cache_root)
    from .tensorrt_backend import TensorRTBackend

    return TensorRTBackend(bundle, device=device, threads=threads, precision=precision, cache_root=cache_root)


__all__ = ["Backend", "BackendUnavailable", "BACKEND_NAMES", "TorchBackend", "create_backend", "to_uint8_images"]
