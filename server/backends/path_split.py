"""Two engines behind one backend contract: small batches on one, large batches on another.

Batch 1 (previews, EditSession) and full batches (bulk) have different winners on a CPU: ONNX
Runtime's per-call overhead is lowest, torch and OpenVINO amortise better over a batch. `auto`
measures both shapes (selection.py) and, when the winners differ, serves through this class.
Each batch goes whole to one engine (the scheduler sends at most max_batch rows), so a face's
pixels differ between the paths by at most the engines' parity (<= 1 level, parity.py), and
mapping always runs on the small-batch engine: W, hence every DNA, stays bit-identical.
"""
from __future__ import annotations

import numpy as np


class PathSplitBackend:
    def __init__(self, small, large, small_rows: int, reason: str = ""):
        if small.device != large.device:
            raise ValueError(f"both paths must run on one device, got {small.device} and {large.device}")
        self.small, self.large, self.small_rows = small, large, small_rows
        self.name = f"{small.name}+{large.name}"
        self.device = small.device
        self.precision = small.precision if small.precision == large.precision else f"{small.precision}+{large.precision}"
        self.fallback_reason = reason

    def map(self, z: np.ndarray) -> np.ndarray:
        return self.small.map(z)

    def synthesize(self, ws: np.ndarray) -> np.ndarray:
        return (self.small if len(ws) <= self.small_rows else self.large).synthesize(ws)

    def describe(self) -> dict:
        small, large = self.small.describe(), self.large.describe()
        return {
            "backend": self.name,
            "device": self.device,
            "precision": self.precision,
            "engine_key": f"{small['engine_key']} | {large['engine_key']}",
            "fallback_reason": self.fallback_reason,
            "threads": small.get("threads"),
            "threads_reason": f"{self.small.name}: {small.get('threads_reason', '')}; "
                              f"{self.large.name}: {large.get('threads_reason', '')}",
            "small_batch_backend": self.small.name,
            "large_batch_backend": self.large.name,
            "small_batch_rows": self.small_rows,
            "paths": {"small": small, "large": large},
        }
