"""How good an encoding is: plain functions on images and codes, shared by the Encode RPC and the
offline measurement (models/training/encoding_quality.py), so the README's figures and the
server's scores are the same numbers.

- psnr: reconstruction vs the aligned input, in dB (uint8 pixels, peak 255).
- attribute agreement: share of the classifier's reliable heads (held-out accuracy >= 
  RELIABLE_ACCURACY in the bundle's manifest) that read the same value on the input and on the
  reconstruction. Unreliable heads (eyes, eyebrows, mouth, nose on avatars64) would only add
  the classifier's own noise.
- spread: distance between codes in units of W's per-dimension std (RMS over dimensions), the
  agreement of several pictures of one character.
"""
from __future__ import annotations

import numpy as np
import torch

RELIABLE_ACCURACY = 0.85


def psnr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """uint8 [N, H, W, 3] x2 -> float64 [N] dB (capped at 99 for identical images)."""
    err = ((a.astype(np.float64) - b.astype(np.float64)) ** 2).reshape(len(a), -1).mean(1)
    return np.where(err > 0, 10 * np.log10(255.0**2 / np.maximum(err, 1e-12)), 99.0)


def reliable_heads(manifest: dict) -> list[str]:
    """Classifier heads whose held-out accuracy (manifest["classifier"]) reaches RELIABLE_ACCURACY."""
    acc = (manifest.get("classifier") or {}).get("heldout_accuracy", {})
    return [h for h, a in acc.items() if a == a and a >= RELIABLE_ACCURACY]  # a == a: not NaN


@torch.no_grad()
def attribute_agreement(classifier, heads: list[str], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Share of `heads` read the same on a[i] and b[i]: uint8 [N, H, W, 3] x2 -> float64 [N]."""
    idx = [list(classifier.vocab).index(h) for h in heads]
    la, _ = classifier.predict(a)
    lb, _ = classifier.predict(b)
    return (la[:, idx] == lb[:, idx]).mean(1).astype(np.float64)


def spread(ws: torch.Tensor, w_std: torch.Tensor) -> float:
    """Mean pairwise distance of K codes [K, num_ws, w_dim] in W-std units (0 for one code)."""
    k = len(ws)
    if k < 2:
        return 0.0
    x = (ws / w_std).flatten(1)
    d = torch.cdist(x, x) / x.shape[1] ** 0.5
    return float(d.sum() / (k * (k - 1)))


def distance_to(ws: torch.Tensor, centre: torch.Tensor, w_std: torch.Tensor) -> torch.Tensor:
    """Each code's distance [K] to `centre` [num_ws, w_dim], in W-std units (RMS)."""
    return ((ws - centre) / w_std).flatten(1).pow(2).mean(1).sqrt()
