"""Latent operations: pure functions on z, w and W+ tensors (no model state, no randomness
except from an explicit seed)."""
from __future__ import annotations

import numpy as np
import torch

MAX_SEED = 2**32 - 1  # numpy RandomState's seed range


def z_from_seed(seed: int, z_dim: int) -> np.ndarray:
    """z for one seed, from its own RNG stream, so it never depends on batch position.

    Same convention as NVlabs' generate.py: `RandomState(seed).randn(z_dim)`.
    """
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be in [0, {MAX_SEED}], got {seed}")
    return np.random.RandomState(seed).randn(z_dim).astype(np.float32)


def zs_from_seeds(seeds, z_dim: int) -> np.ndarray:  # -> float32 [N, z_dim]
    """`z_from_seed` for many seeds, bit-identical, but re-seeding one RandomState instead of
    constructing one per seed: construction draws OS entropy first and costs ~150 us a seed
    (~30 % of a tiny model's batch time when serving); re-seeding costs ~5 us."""
    rs = np.random.RandomState()
    z = np.empty((len(seeds), z_dim), np.float32)
    for i, s in enumerate(seeds):
        if not 0 <= s <= MAX_SEED:
            raise ValueError(f"seed must be in [0, {MAX_SEED}], got {s}")
        rs.seed(int(s))
        z[i] = rs.randn(z_dim)
    return z


def broadcast(w: torch.Tensor, num_ws: int) -> torch.Tensor:
    """w [N, w_dim] -> W+ [N, num_ws, w_dim] (every layer gets the same code)."""
    return w.unsqueeze(1).repeat(1, num_ws, 1)


def truncate(ws: torch.Tensor, w_avg: torch.Tensor, psi: float, cutoff: int | None = None) -> torch.Tensor:
    """Pull W+ codes toward the average face: w_avg + psi * (w - w_avg), on layers [0, cutoff).

    psi = 1 leaves the code unchanged; psi = 0 gives the average face. Lower psi trades
    variety for typicality (StyleGAN's truncation trick, applied in W).
    """
    out = ws.clone()
    sl = slice(0, cutoff)
    out[:, sl] = w_avg + psi * (ws[:, sl] - w_avg)
    return out
