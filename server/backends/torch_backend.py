"""PyTorch backend: works everywhere (CPU, CUDA); the reference the others are tested against."""
from __future__ import annotations

import numpy as np
import torch

from .base import to_uint8_images


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        from .base import BackendUnavailable

        raise BackendUnavailable(f"device {device!r} requested but torch sees no CUDA GPU")
    return device


class TorchBackend:
    name = "torch"

    def __init__(self, bundle, device: str = "auto", threads: int | None = None):
        self.device = resolve_device(device)
        self.precision = "fp32"
        if threads and self.device == "cpu":
            torch.set_num_threads(threads)
        self.generator = bundle.generator.to(self.device).eval().requires_grad_(False)
        self.fallback_reason = ""

    @torch.inference_mode()
    def map(self, z: np.ndarray) -> np.ndarray:
        w = self.generator.mapping(torch.from_numpy(np.ascontiguousarray(z, np.float32)).to(self.device))
        return w.float().cpu().numpy()

    @torch.inference_mode()
    def synthesize(self, ws: np.ndarray) -> np.ndarray:
        ws_t = torch.from_numpy(np.ascontiguousarray(ws, np.float32)).to(self.device)
        img = self.generator.synthesis(ws_t, noise_mode="const")
        return to_uint8_images(img).cpu().numpy()

    def describe(self) -> dict:
        return {"backend": self.name, "device": self.device, "precision": self.precision,
                "engine_key": "", "fallback_reason": self.fallback_reason}
