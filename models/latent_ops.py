"""Face editing as latent arithmetic: pure functions on W and W+ tensors.

Shapes (float32 unless noted):
    w       [N, w_dim]            one code per face (the mapping network's output)
    ws      [N, num_ws, w_dim]    W+: one code per synthesis layer (what the backends render)
    vector  [w_dim]               a direction in W (unit length when it comes from a bundle)

Every function returns a new tensor and leaves its inputs untouched. Nothing here draws
random numbers except `mutate`, and only from the seeds it is given, so an edited face is a
pure function of (start code, edits). The model-specific parts (which directions exist, how
strong an edit should be, the std of W) live in `directions.py`; `latents.py` keeps the
basics (seed -> z, broadcast, truncate), re-exported here so callers need one import.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from .latents import broadcast, truncate  # noqa: F401  (re-exported: one import for callers)

LayerSpec = str | range | slice | Sequence[int] | None
"""Which W+ layers an edit touches:
    None or "all"                 every layer
    "coarse" | "middle" | "fine"  StyleGAN's named groups (see `named_layer_ranges`)
    range(start, end) / slice     layers start..end-1
    [i, j, ...]                   explicit layer indices
"""

# Mutation noise comes from its own RNG stream, so child seed 5 of a face is unrelated to the
# face generated from seed 5 (whose z comes from RandomState(5)).
MUTATE_STREAM = 0x6D757461  # "muta"


# ---------------------------------------------------------------------------------------------
# Layer ranges.


def layer_input_resolution(index: int) -> int:
    """Resolution of the feature map that W+ layer `index` modulates.

    Layer 0 styles the 4x4 conv; afterwards each resolution has an upsampling conv (styled on
    the previous, smaller map) and a plain conv: 4, 4, 8, 8, 16, 16, ... The last index is the
    final ToRGB, which shares the pattern.
    """
    return 4 * 2 ** (index // 2)


def named_layer_ranges(num_ws: int) -> dict[str, range]:
    """StyleGAN's coarse / middle / fine groups, by the resolution a layer styles.

    coarse: 4-8 px (pose, face and hair shape), middle: 16-32 px (features, hair style),
    fine: 64 px and up (colours, texture). Below 128 px output the last resolution stands in
    for "fine" so every group of a 32/64 px model is non-empty:
        num_ws 18 (1024 px): coarse 0-3, middle 4-7, fine 8-17   (the usual split)
        num_ws 10 (64 px):   coarse 0-3, middle 4-7, fine 8-9
        num_ws 8  (32 px):   coarse 0-3, middle 4-5, fine 6-7
    A group is an empty range when the model is too small to have it (16 px and below).
    """
    if num_ws < 2:
        raise ValueError(f"num_ws must be at least 2, got {num_ws}")
    output_res = 2 ** ((num_ws + 2) // 2)
    fine_from = min(64, output_res)
    res = [layer_input_resolution(i) for i in range(num_ws)]
    first = lambda pred: next((i for i, r in enumerate(res) if pred(r)), num_ws)  # noqa: E731
    middle_start = first(lambda r: r > 8)
    fine_start = max(first(lambda r: r >= fine_from), middle_start)
    return {
        "coarse": range(0, middle_start),
        "middle": range(middle_start, fine_start),
        "fine": range(fine_start, num_ws),
        "all": range(0, num_ws),
    }


def layer_indices(layers: LayerSpec, num_ws: int) -> list[int]:
    """Resolve a `LayerSpec` to a sorted list of distinct layer indices, or raise ValueError."""
    if layers is None:
        return list(range(num_ws))
    if isinstance(layers, str):
        named = named_layer_ranges(num_ws)
        if layers not in named:
            raise ValueError(f"unknown layer range {layers!r}: use one of {sorted(named)}, a range or a list of indices")
        if len(named[layers]) == 0:
            raise ValueError(f"a model with {num_ws} W+ layers has no {layers!r} layers")
        return list(named[layers])
    if isinstance(layers, slice):
        if layers.step not in (None, 1):
            raise ValueError(f"layer slice must have step 1, got {layers}")
        start, stop = layers.start or 0, num_ws if layers.stop is None else layers.stop
        layers = range(start, stop)
    if isinstance(layers, range):
        if not 0 <= layers.start < layers.stop <= num_ws or layers.step != 1:
            raise ValueError(f"layer range [{layers.start}, {layers.stop}) must be non-empty, step 1, within [0, {num_ws})")
        return list(layers)
    indices = [int(i) for i in layers]
    if not indices:
        raise ValueError("layer list is empty: name at least one layer")
    bad = [i for i in indices if not 0 <= i < num_ws]
    if bad:
        raise ValueError(f"layer indices {bad} are out of range: this model has layers 0..{num_ws - 1}")
    if len(set(indices)) != len(indices):
        raise ValueError(f"layer indices {indices} repeat a layer")
    return sorted(indices)


def layer_mask(layers: LayerSpec, num_ws: int) -> torch.Tensor:
    """bool [num_ws]: True on the layers an edit touches."""
    mask = torch.zeros(num_ws, dtype=torch.bool)
    mask[layer_indices(layers, num_ws)] = True
    return mask


def _check_ws(ws: torch.Tensor, name: str = "ws") -> None:
    if ws.ndim != 3:
        raise ValueError(f"{name} must be W+ [N, num_ws, w_dim], got shape {list(ws.shape)}")


# ---------------------------------------------------------------------------------------------
# Interpolation and arithmetic.


def _as_steps(t, like: torch.Tensor) -> torch.Tensor:
    """float or sequence of T floats -> tensor broadcastable against `like` ([] or [T, 1, ...])."""
    t = torch.as_tensor(t, dtype=like.dtype)
    if t.ndim > 1:
        raise ValueError(f"t must be a number or a 1-D list of steps, got shape {list(t.shape)}")
    return t if t.ndim == 0 else t.reshape(-1, *([1] * like.ndim))


def lerp(a: torch.Tensor, b: torch.Tensor, t) -> torch.Tensor:
    """Linear interpolation a + t (b - a), the natural path in W (StyleGAN's PPL uses it there).

    a, b: same shape [...]; t: a number -> [...], or T numbers -> [T, ...] (one frame per t).
    t = 0 returns a and t = 1 returns b exactly.
    """
    if a.shape != b.shape:
        raise ValueError(f"cannot interpolate shapes {list(a.shape)} and {list(b.shape)}")
    t = _as_steps(t, a)
    out = a + t * (b - a)
    return torch.where(t == 1, b.expand_as(out), out)  # exact endpoint despite rounding


def slerp(a: torch.Tensor, b: torch.Tensor, t, center: torch.Tensor | None = None, eps: float = 1e-7) -> torch.Tensor:
    """Spherical interpolation of each code (the last axis) around `center` (default: origin).

    The angle is interpolated on the great circle and the length linearly, so every frame's
    distance from the centre lies between the two endpoints' (plain slerp would bulge when the
    lengths differ). Use center=w_avg in W: faces are spread around the average face, not 0.
    Shapes as in `lerp`; center: [w_dim] or broadcastable. Nearly parallel codes fall back to lerp.
    """
    if a.shape != b.shape:
        raise ValueError(f"cannot interpolate shapes {list(a.shape)} and {list(b.shape)}")
    c = torch.zeros_like(a) if center is None else center.to(a.dtype).expand_as(a)
    ta = _as_steps(t, a)
    da, db = a - c, b - c
    na, nb = da.norm(dim=-1, keepdim=True), db.norm(dim=-1, keepdim=True)
    ua, ub = da / na.clamp_min(eps), db / nb.clamp_min(eps)
    omega = torch.arccos((ua * ub).sum(-1, keepdim=True).clamp(-1.0, 1.0))
    sin_omega = torch.sin(omega)
    nearly_parallel = sin_omega < 1e-4
    safe = torch.where(nearly_parallel, torch.ones_like(sin_omega), sin_omega)
    wa = torch.where(nearly_parallel, 1 - ta, torch.sin((1 - ta) * omega) / safe)
    wb = torch.where(nearly_parallel, ta, torch.sin(ta * omega) / safe)
    direction = wa * ua + wb * ub
    direction = direction / direction.norm(dim=-1, keepdim=True).clamp_min(eps)
    out = c + direction * (na + ta * (nb - na))
    out = torch.where(ta == 0, a.expand_as(out), out)
    return torch.where(ta == 1, b.expand_as(out), out)


def interpolate(a: torch.Tensor, b: torch.Tensor, t, method: str = "linear", center: torch.Tensor | None = None) -> torch.Tensor:
    """`lerp` or `slerp` by name ("linear" | "spherical"), for callers that take it from a request."""
    if method == "linear":
        return lerp(a, b, t)
    if method == "spherical":
        return slerp(a, b, t, center)
    raise ValueError(f"unknown interpolation method {method!r}: use 'linear' or 'spherical'")


def add_difference(base: torch.Tensor, plus: torch.Tensor, minus: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """Latent arithmetic base + scale (plus - minus): "this face, with what B has and C lacks".

    Any shapes that broadcast together (W or W+); e.g. base [N, num_ws, w_dim], plus/minus [1, num_ws, w_dim].
    """
    try:
        return base + scale * (plus - minus)
    except RuntimeError as e:
        raise ValueError(f"shapes {list(base.shape)}, {list(plus.shape)}, {list(minus.shape)} do not broadcast") from e


# ---------------------------------------------------------------------------------------------
# Directions.


def apply_direction(ws: torch.Tensor, vector: torch.Tensor, strength, layers: LayerSpec = None) -> torch.Tensor:
    """ws + strength * vector on the chosen layers only; other layers are returned bit-identical.

    ws: [N, num_ws, w_dim]; vector: [w_dim]; strength: a number, or [N] (one per face, e.g. a
    slider value per request in a batch), in W units (a bundle's directions are unit vectors,
    so strength is the distance moved).
    """
    _check_ws(ws)
    if vector.shape != (ws.shape[2],):
        raise ValueError(f"direction must be [{ws.shape[2]}], got {list(vector.shape)}")
    strength = torch.as_tensor(strength, dtype=ws.dtype)
    if strength.ndim == 1 and strength.shape[0] != ws.shape[0]:
        raise ValueError(f"{strength.shape[0]} strengths for {ws.shape[0]} faces")
    strength = strength.reshape(-1, 1, 1) if strength.ndim == 1 else strength
    mask = layer_mask(layers, ws.shape[1])[None, :, None]  # [1, num_ws, 1]
    return torch.where(mask, ws + strength * vector.to(ws.dtype), ws)


def condition_direction(vector: torch.Tensor, conditions: Sequence[torch.Tensor] | torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """InterFaceGAN's conditional direction: remove the components along other attributes'
    directions and renormalise, so moving along the result leaves those attributes' linear
    scores unchanged (e.g. "add beard" without "darker skin").

    vector: [w_dim]; conditions: K vectors [K, w_dim] (any lengths, K < w_dim). The conditions are
    orthonormalised first (QR), so correlated conditions are handled exactly, not just pairwise.
    Returns a unit vector [w_dim] orthogonal to every condition. Raises ValueError if the
    direction lies (almost) inside the conditions' span: nothing would be left to edit.
    """
    cond = torch.stack(list(conditions)) if not isinstance(conditions, torch.Tensor) else conditions
    if cond.ndim == 1:
        cond = cond[None]
    if cond.shape[0] == 0:
        return vector / vector.norm()
    if cond.ndim != 2 or cond.shape[1] != vector.shape[0]:
        raise ValueError(f"conditions must be [K, {vector.shape[0]}], got {list(cond.shape)}")
    if cond.shape[0] >= vector.shape[0]:
        raise ValueError(f"{cond.shape[0]} conditions leave no room in a {vector.shape[0]}-d space")
    q, r = torch.linalg.qr(cond.double().t())  # q: [w_dim, K], orthonormal basis of the conditions
    keep = r.diagonal().abs() > 1e-8 * r.diagonal().abs().max()  # drop conditions that repeat others
    q = q[:, keep]
    v = vector.double() / vector.double().norm()
    residual = v - q @ (q.t() @ v)
    if residual.norm() < eps:
        raise ValueError("the direction lies within the span of its conditions: nothing is left to edit")
    return (residual / residual.norm()).to(vector.dtype)


# ---------------------------------------------------------------------------------------------
# Mixing and mutation.


def mix_styles(ws: torch.Tensor, other: torch.Tensor, layers: LayerSpec) -> torch.Tensor:
    """Take the chosen layers from `other` (style mixing): coarse layers give pose and face
    shape, fine layers colours. ws: [N, num_ws, w_dim]; other: the same shape or [1, num_ws, w_dim]."""
    _check_ws(ws)
    _check_ws(other, "other")
    if other.shape[1:] != ws.shape[1:] or other.shape[0] not in (1, ws.shape[0]):
        raise ValueError(f"cannot mix {list(other.shape)} into {list(ws.shape)}")
    mask = layer_mask(layers, ws.shape[1])[None, :, None]
    return torch.where(mask, other.to(ws.dtype).expand_as(ws), ws)


def mutation_noise(seed: int, w_dim: int) -> torch.Tensor:
    """float32 [w_dim] standard normal, a pure function of the seed (its own stream)."""
    if not 0 <= int(seed) < 2**63:
        raise ValueError(f"mutation seed must be a non-negative integer, got {seed}")
    rng = np.random.default_rng([MUTATE_STREAM, int(seed)])
    return torch.from_numpy(rng.standard_normal(w_dim).astype(np.float32))


def mutate(ws: torch.Tensor, seeds: int | Sequence[int], strength: float, w_std, layers: LayerSpec = None) -> torch.Tensor:
    """Children of a face: ws + strength * w_std * noise(seed) on the chosen layers.

    ws: [N, num_ws, w_dim], or [1, num_ws, w_dim] with several seeds (one child per seed);
    seeds: one int (the same perturbation for every row) or N ints; strength: in units of the
    W std (0.1-0.3: a sibling, 1: a stranger); w_std: a number or [w_dim] per-dimension std of
    W (`directions.w_statistics`). The same perturbation goes to every chosen layer, so a child
    stays a face the mapping network could have produced rather than a per-layer blend.
    Returns [max(N, len(seeds)), num_ws, w_dim].
    """
    _check_ws(ws)
    seeds = [seeds] if isinstance(seeds, (int, np.integer)) else list(seeds)
    if not seeds:
        raise ValueError("mutate needs at least one seed")
    if ws.shape[0] not in (1, len(seeds)) and len(seeds) != 1:
        raise ValueError(f"{len(seeds)} seeds for {ws.shape[0]} faces: give one seed or one per face")
    if not math.isfinite(strength) or strength < 0:
        raise ValueError(f"mutation strength must be a finite number >= 0, got {strength}")
    noise = torch.stack([mutation_noise(s, ws.shape[2]) for s in seeds])  # [S, w_dim]
    delta = strength * torch.as_tensor(w_std, dtype=ws.dtype) * noise  # [S, w_dim]
    mask = layer_mask(layers, ws.shape[1])[None, :, None]  # [1, num_ws, 1]
    return torch.where(mask, ws + delta[:, None, :], ws)  # broadcasts to [max(N, S), num_ws, w_dim]
