"""PyTorch backend: works everywhere (CPU, CUDA); the reference the others are tested against.

    map(z: float32 [N, z_dim]) -> float32 [N, w_dim]
    synthesize(ws: float32 [N, num_ws, w_dim]) -> uint8 [N, H, W, 3]

Precision: fp32 by default. fp16 is CUDA-only and is kept only if the fp16 synthesis passes a
parity check against fp32 on fixed seeds at construction (StyleGAN2 decoders are known to give
NaN or flat images in fp16, research/models.md §6); otherwise the backend stays fp32 and says why
in `describe()["fallback_reason"]`.

Optimisations, measured on this project's 2-core CPU (benchmarks/README.md):
- inference_mode: always (no autograd bookkeeping).
- channels_last: on by default on CPU, where oneDNN's NHWC convolutions made synthesis 7-25%
  faster (tiny and 64 px configs, batch 1 and 16, 1 thread, A/B interleaved). Off by default on
  CUDA until measured there (pass channels_last=True to try it).
- torch.compile / CUDA graphs: not enabled. On CPU, inductor compiles C++ at startup (over a
  minute for the tiny model here, per dynamic-shape family), which a server start cannot afford;
  CUDA graphs need static shapes and a GPU to measure on, which this project's CI lacks.
"""
from __future__ import annotations

import copy

import numpy as np
import torch

from .base import BackendUnavailable, to_uint8_images
from .parity import broadcast_ws, check_parity, parity_latents
from .thread_choice import choose_threads


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BackendUnavailable(f"device {device!r} requested but torch sees no CUDA GPU")
    return device


class TorchBackend:
    name = "torch"

    def __init__(
        self,
        bundle,
        device: str = "auto",  # "auto" | "cpu" | "cuda" | "cuda:<i>"
        # CPU intra-op threads, process-wide in torch (set_num_threads); "auto" = measured at
        # start (thread_choice.py); None = torch's default (one per physical core).
        threads: int | str | None = None,
        precision: str = "fp32",  # "fp32" | "fp16" (CUDA only, parity-gated)
        channels_last: bool | None = None,  # NHWC conv layout; None = on for CPU, off for CUDA (measured, above)
        max_batch: int = 16,  # the largest batch the caller sends: what threads="auto" measures besides 1
    ):
        if precision not in ("fp32", "fp16"):
            raise ValueError(f"precision must be fp32 or fp16, got {precision!r}")
        self.device = resolve_device(device)
        self.fallback_reason = ""
        self.threads_reason = ""
        self.thread_choice = None
        if threads and threads != "auto" and self.device == "cpu":
            torch.set_num_threads(int(threads))
            self.threads_reason = "set by the caller"
        elif self.device == "cpu" and not threads:
            self.threads_reason = "torch's default"
        self.generator_sha256 = bundle.generator_sha256
        self.config = bundle.config
        # A private copy: the bundle's generator stays on the CPU in fp32 for other backends.
        self.generator = copy.deepcopy(bundle.generator).to(self.device).eval().requires_grad_(False)
        # The mapping runs on the CPU on every device. The scheduler maps seeds one row at a time
        # (a face never depends on its batch), and on a GPU each row is a dozen kernel launches and
        # a sync: on an H200 16 rows took ~19 of a bulk batch's 23 ms, against ~0.2 ms a row on a
        # CPU core. It also makes a seed's w (the DNA) the CPU server's, computed by the same code.
        self._mapping = self.generator.mapping if self.device == "cpu" else \
            copy.deepcopy(bundle.generator.mapping).float().eval().requires_grad_(False)
        self.channels_last = self.device == "cpu" if channels_last is None else channels_last
        if self.channels_last:
            self.generator.synthesis.to(memory_format=torch.channels_last)
        self.precision = "fp32"
        self.parity: dict | None = None
        self._synthesis_half = None
        if precision == "fp16":
            self._enable_fp16()
        if threads == "auto" and self.device == "cpu":
            self._choose_threads(max_batch)

    def _choose_threads(self, max_batch: int) -> None:
        cfg = self.config
        ws = broadcast_ws(self.map(parity_latents(cfg.z_dim, seeds=range(max(1, max_batch)))), cfg.num_ws)

        def run(threads: int, batch: np.ndarray) -> None:
            torch.set_num_threads(threads)
            self.synthesize(batch)

        self.thread_choice = choose_threads(run, [ws[:1], ws] if len(ws) > 1 else [ws])
        torch.set_num_threads(self.thread_choice.threads)
        self.threads_reason = self.thread_choice.reason

    def _enable_fp16(self) -> None:
        if not self.device.startswith("cuda"):
            self.fallback_reason = "fp16 requested but torch runs fp16 only on CUDA; using fp32"
            return
        fp32 = _Fp32View(self)
        self._synthesis_half = copy.deepcopy(self.generator.synthesis).half()
        self.precision = "fp16"
        self.parity = check_parity(fp32, self, self.config.z_dim, self.config.num_ws)
        if not self.parity["ok"]:
            self._synthesis_half, self.precision = None, "fp32"
            self.fallback_reason = f"fp16 failed the parity check against fp32 ({self.parity['images']}); using fp32"

    @torch.inference_mode()
    def map(self, z: np.ndarray) -> np.ndarray:
        """z float32 [N, z_dim] -> w float32 [N, w_dim]. Always fp32: the MLP is cheap and w is the DNA."""
        return self._mapping(torch.from_numpy(np.ascontiguousarray(z, np.float32))).numpy()

    @torch.inference_mode()
    def synthesize(self, ws: np.ndarray) -> np.ndarray:
        """ws float32 [N, num_ws, w_dim] -> uint8 [N, H, W, 3]."""
        return self._synthesize(ws, half=self._synthesis_half is not None)

    def _synthesize(self, ws: np.ndarray, half: bool) -> np.ndarray:
        ws_t = torch.from_numpy(np.ascontiguousarray(ws, np.float32)).to(self.device)
        if half:
            img = self._synthesis_half(ws_t.half(), noise_mode="const").float()
        else:
            img = self.generator.synthesis(ws_t, noise_mode="const")
        return to_uint8_images(img).cpu().numpy()

    def describe(self) -> dict:
        return {
            "backend": self.name,
            "device": self.device,
            "precision": self.precision,
            # Identifies what runs: the same key means the same numbers.
            "engine_key": f"torch{torch.__version__}/{self.generator_sha256[:16]}/{self.device}/{self.precision}",
            "fallback_reason": self.fallback_reason,
            "threads": torch.get_num_threads() if self.device == "cpu" else None,
            "threads_reason": self.threads_reason,
            "channels_last": self.channels_last,
            "parity": self.parity,
        }


class _Fp32View:
    """The fp32 path of a TorchBackend, as a backend: the reference in its own fp16 parity check."""

    def __init__(self, backend: TorchBackend):
        self._b = backend

    def map(self, z: np.ndarray) -> np.ndarray:
        return self._b.map(z)

    @torch.inference_mode()
    def synthesize(self, ws: np.ndarray) -> np.ndarray:
        return self._b._synthesize(ws, half=False)
