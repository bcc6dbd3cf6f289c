"""The contract every backend implements.

    map(z:  float32 [N, z_dim])          -> float32 [N, w_dim]
    synthesize(ws: float32 [N, num_ws, w_dim]) -> uint8 [N, H, W, 3]

Both are synchronous and thread-compatible (one call at a time per backend instance); the
scheduler owns batching and threads. Latent operations (truncation, edits, mixing) happen
outside, on W+, so a backend never changes when an edit is added.
"""
from __future__ import annotations

from typing import Protocol

import numpy as np
import torch

from avatarforge.models.export import to_uint8_nhwc


class BackendUnavailable(RuntimeError):
    """The requested backend cannot run here (library or device missing)."""


class Backend(Protocol):
    name: str  # "torch" | "onnxruntime" | "tensorrt"
    device: str  # "cpu" | "cuda:0" ...
    precision: str  # "fp32" | "fp16"

    def map(self, z: np.ndarray) -> np.ndarray: ...

    def synthesize(self, ws: np.ndarray) -> np.ndarray: ...

    def describe(self) -> dict:
        """backend, device, precision, engine_key, fallback_reason: reported by GetModel."""
        ...


def to_uint8_images(img: torch.Tensor) -> torch.Tensor:
    """float [N, 3, H, W] in [-1, 1] -> uint8 [N, H, W, 3] (NVlabs' convention: x*127.5+128, clamp).

    One definition, in models/export.py, because the exported synthesis graph ends with it:
    every backend (torch here, onnxruntime and TensorRT in their graphs) quantises the same way.
    """
    return to_uint8_nhwc(img)
