"""Inference backends behind one contract (see `base.Backend`), chosen by name.

`create_backend("auto", bundle)` picks TensorRT where a CUDA GPU and TensorRT exist, then torch
on CUDA, then the faster CPU backend; the reason for every fallback is kept in `describe()`.
"""
from .base import Backend, BackendUnavailable, to_uint8_images
from .torch_backend import TorchBackend

BACKEND_NAMES = ("auto", "torch", "onnxruntime", "tensorrt")


def create_backend(name: str, bundle, device: str = "auto", threads: int | None = None) -> Backend:
    if name not in BACKEND_NAMES:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKEND_NAMES)}")
    if name in ("torch", "auto"):
        # Other backends are added by the fast-serving work; until then auto means torch.
        return TorchBackend(bundle, device=device, threads=threads)
    raise BackendUnavailable(f"backend {name!r} is not available in this build")
