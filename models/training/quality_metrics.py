"""Quality metrics in the attribute classifier's feature space (no downloaded networks)."""
from __future__ import annotations

import numpy as np


def _sqrt_psd(m: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh(m)
    return (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to feature sets a [N, D] and b [M, D].

    ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2), the FID formula, computed
    with symmetric eigendecompositions (no scipy needed, and no complex round-off).
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root_a = _sqrt_psd(s_a)
    cross = _sqrt_psd(root_a @ s_b @ root_a)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2 * np.trace(cross))


def mean_pairwise_distance(feats: np.ndarray) -> float:
    """Mean Euclidean distance over all distinct pairs: a diversity measure."""
    f = np.asarray(feats, np.float64)
    sq = (f**2).sum(1)
    d2 = np.clip(sq[:, None] + sq[None, :] - 2 * f @ f.T, 0, None)
    n = len(f)
    return float(np.sqrt(d2)[~np.eye(n, dtype=bool)].mean())


def value_shares(labels: np.ndarray, n_values: int) -> np.ndarray:
    return np.bincount(labels.astype(np.int64), minlength=n_values)[:n_values] / max(len(labels), 1)


def balanced_accuracy(seen: np.ndarray, real: np.ndarray) -> float:
    """Mean of the recall on the positives and on the negatives (bool [N] each): a rare attribute
    read as always absent scores 0.5, not its share of negatives."""
    return float((seen[real].mean() + (~seen[~real]).mean()) / 2)


def total_variation(p: np.ndarray, q: np.ndarray) -> float:
    return float(0.5 * np.abs(p - q).sum())
