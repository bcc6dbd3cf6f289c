"""The edit directions a bundle offers: supervised ones stored in the bundle, SeFa ones computed
from its weights at load time.

    <bundle>/directions.safetensors   {name: float32 [w_dim] unit vector} (supervised only)
    manifest["directions"]            [{name, description, kind, layers: [start, end),
                                        strength_range: [min, max], default_strength,
                                        success, unchanged, parts_unchanged, conditioned_on}, ...]
    manifest["dropped_directions"]    [{name, reason, success, unchanged, parts_unchanged}, ...]  (measured, not shipped)
    manifest["directions_derivation"] seeds, sample counts, generator/classifier sha256, targets

Strengths are distances in W (the vectors are unit length); `default_strength` is what the
measured `success` / `unchanged` fractions were taken at.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

from . import bundle as bundles
from .bundle import Bundle, BundleError
from .latent_ops import LayerSpec, apply_direction, condition_direction, layer_indices
from .latents import zs_from_seeds
from .networks import Generator
from .sefa import sefa_components

DIRECTIONS_FILE = "directions.safetensors"
SEFA_PREFIX = "sefa/"
# Seeds of the W statistics (mean, std): a range no other measurement uses.
STATS_SEEDS = range(3_000_000, 3_002_000)


@dataclass(frozen=True)
class Direction:
    name: str
    vector: torch.Tensor = field(repr=False)  # float32 [w_dim], unit length
    layers: range  # the W+ layers it is applied to, [start, end)
    kind: str  # "supervised" (classifier labels, InterFaceGAN) | "sefa" (from the weights)
    description: str = ""
    strength_range: tuple[float, float] = (-3.0, 3.0)
    default_strength: float = 1.0
    success: float | None = None  # measured share of faces that gain the attribute (supervised)
    unchanged: float | None = None  # measured share of other attributes left as they were
    parts_unchanged: float | None = None  # stricter: share of other parts whose exact value stayed
    conditioned_on: tuple[str, ...] = ()  # directions projected out of this one (InterFaceGAN)

    def apply(self, ws: torch.Tensor, strength: float | torch.Tensor | None = None) -> torch.Tensor:
        """ws [N, num_ws, w_dim] moved by `strength` (default: default_strength) on this direction's layers."""
        s = self.default_strength if strength is None else strength
        return apply_direction(ws, self.vector, s, self.layers)

    def manifest_entry(self) -> dict:
        return {
            "name": self.name, "description": self.description, "kind": self.kind,
            "layers": [self.layers.start, self.layers.stop],
            "strength_range": [round(float(x), 4) for x in self.strength_range],
            "default_strength": round(float(self.default_strength), 4),
            "success": self.success, "unchanged": self.unchanged, "parts_unchanged": self.parts_unchanged,
            "conditioned_on": list(self.conditioned_on),
        }


@torch.no_grad()
def w_statistics(generator: Generator, seeds=STATS_SEEDS) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, std) of W over fixed seeds, each float32 [w_dim]: the unit of `editing.mutate`
    and of "how far is far" along a direction. Deterministic; ~2000 mapping passes (milliseconds)."""
    w = generator.mapping(torch.from_numpy(zs_from_seeds(list(seeds), generator.cfg.z_dim)))
    return w.mean(0), w.std(0)


def as_range(layers: LayerSpec, num_ws: int) -> range:
    """A LayerSpec that must be contiguous (directions store [start, end))."""
    idx = layer_indices(layers, num_ws)
    if idx != list(range(idx[0], idx[-1] + 1)):
        raise ValueError(f"a stored direction needs contiguous layers, got {idx}")
    return range(idx[0], idx[-1] + 1)


@torch.no_grad()
def sefa_directions(generator: Generator, layers: LayerSpec = None, k: int = 10) -> list[Direction]:
    """SeFa components `sefa/0..k-1` of the given layers, with strengths in units of how much W
    actually varies along each one (default 2 std, slider range +-4 std)."""
    vectors, eigenvalues = sefa_components(generator.synthesis, layers, k)
    w = generator.mapping(torch.from_numpy(zs_from_seeds(list(STATS_SEEDS), generator.cfg.z_dim)))
    sigma = (w @ vectors.t()).std(0)  # [k]
    span = as_range(layers, generator.num_ws)
    return [
        Direction(
            name=f"{SEFA_PREFIX}{i}", vector=vectors[i], layers=span, kind="sefa",
            description=f"SeFa component {i} of layers {span.start}-{span.stop - 1} (eigenvalue {eigenvalues[i]:.3g}); "
                        "unsupervised: its meaning is found by looking",
            strength_range=(-4 * float(sigma[i]), 4 * float(sigma[i])), default_strength=2 * float(sigma[i]),
        )
        for i in range(k)
    ]


def stored_directions(b: Bundle) -> list[Direction]:
    """The supervised directions listed in the manifest, with their vectors (verified unit, right size)."""
    entries = b.manifest.get("directions") or []
    if not entries:
        return []
    derived_for = (b.manifest.get("directions_derivation") or {}).get("generator_sha256")
    if derived_for and derived_for != b.generator_sha256:
        raise BundleError(f"{b.path}: directions were derived for generator {derived_for[:12]}..., "
                          f"not this one ({b.generator_sha256[:12]}...): re-run `avatarforge directions --derive`")
    try:
        tensors = b.load_tensors(DIRECTIONS_FILE)
    except KeyError as e:
        raise BundleError(f"{b.path}: the manifest lists directions but not {DIRECTIONS_FILE}") from e
    out = []
    for e in entries:
        v = tensors.get(e["name"])
        if v is None or v.shape != (b.config.w_dim,) or abs(float(v.float().norm()) - 1) > 1e-3:
            raise BundleError(f"{b.path / DIRECTIONS_FILE}: direction {e['name']!r} is missing or not a unit [{b.config.w_dim}] vector")
        out.append(Direction(
            name=e["name"], vector=v.float(), layers=range(*e["layers"]), kind=e.get("kind", "supervised"),
            description=e.get("description", ""), strength_range=tuple(e["strength_range"]),
            default_strength=e["default_strength"], success=e.get("success"), unchanged=e.get("unchanged"),
            parts_unchanged=e.get("parts_unchanged"), conditioned_on=tuple(e.get("conditioned_on", ())),
        ))
    return out


def load_directions(b: Bundle, sefa_k: int = 10, sefa_layers: LayerSpec = None) -> dict[str, Direction]:
    """Every direction a bundle offers, by name: stored supervised ones, then `sefa/0..sefa_k-1`."""
    out = {d.name: d for d in stored_directions(b)}
    if sefa_k:
        out.update({d.name: d for d in sefa_directions(b.generator, sefa_layers, sefa_k)})
    return out


def get_direction(directions: dict[str, Direction], name: str) -> Direction:
    """directions[name], or a ValueError naming what exists (for an API error message)."""
    if name not in directions:
        raise ValueError(f"unknown direction {name!r}; this model has: {', '.join(sorted(directions)) or 'none'}")
    return directions[name]


def apply_edits(ws: torch.Tensor, directions: dict[str, Direction], edits, keep=()) -> torch.Tensor:
    """Apply several slider edits at once, e.g. {"facial_hair": 1.2, "hair_red": 0.5}.

    ws: [N, num_ws, w_dim]; edits: {name: strength} or [(name, strength), ...] (strength in W
    units, within the direction's strength_range); keep: names of directions whose attributes
    must stay as they are: each edit is first made orthogonal to them (InterFaceGAN's
    conditional editing), e.g. keep=["skin_dark"] so that a beard does not darken the skin.
    Raises ValueError for unknown names or out-of-range strengths (an API maps it to
    INVALID_ARGUMENT).
    """
    pairs = list(edits.items()) if isinstance(edits, dict) else list(edits)
    kept = [get_direction(directions, n) for n in keep]
    out = ws
    for name, strength in pairs:
        d = get_direction(directions, name)
        lo, hi = d.strength_range
        if not lo <= float(strength) <= hi:
            raise ValueError(f"strength {strength} for {name!r} is outside its range [{lo:.3g}, {hi:.3g}]")
        conditions = [k.vector for k in kept if k.name != name]
        vector = condition_direction(d.vector, conditions) if conditions else d.vector
        out = apply_direction(out, vector, float(strength), d.layers)
    return out


def save_directions(path: str | Path, directions: list[Direction], dropped: list[dict], derivation: dict) -> None:
    """Write directions.safetensors and the three manifest entries into a bundle folder."""
    path = Path(path)
    tensors = {d.name: d.vector.float().contiguous() for d in directions}
    if not tensors:  # keep the file (and its checksum) even when every direction was dropped
        tensors = {"__none__": torch.zeros(0)}
    bundles.add_file(path, DIRECTIONS_FILE, tensors, key="directions", manifest_entry=[d.manifest_entry() for d in directions])
    manifest = json.loads((path / bundles.MANIFEST).read_text())
    manifest["dropped_directions"] = dropped
    manifest["directions_derivation"] = derivation
    bundles.write_manifest(path, manifest)
