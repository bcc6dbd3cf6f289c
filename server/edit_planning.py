"""Edit planning: an editor state (EditState, RenderPreviewRequest) validated into an EditPlan,
and the W+ and DNA a plan makes. Pure functions of the model runtime's directions and W
statistics: no rendering, no RPC. The RPCs are edit_rpcs.py and edit_session.py.

An editor state is absolute (never a delta) and applies to the session's start face, in order:

    start W+ --set parts--> --mix (other face's layers, weighted)--> --direction edits--> --truncate (psi)--> W+

Set parts come first because they say what the face is; the sliders then move that face. They
need the start face's parts (face_parts.py reads them: exact for seed faces, the classifier's
reading otherwise), which the caller passes in.

Validation happens when a state arrives (so a bad state is answered at once, and a pending
state is always renderable); the W+ is computed only for the states actually rendered or
committed. The latent math is models/latent_ops.py and models/directions.py.

Provenance: a derived DNA keeps its parent's seed/psi and edit list and appends what was done,
so `edits` reads as the recipe. Besides direction names, these records are used:
    part/<part>/<VALUE>                     strength = 1: that part set to that value
    mix/<parent checksum, 12 hex>/<a>-<b>   strength = mix weight, layers a..b-1
    mix/blend/<checksum 12 hex>             strength = normalised weight of that parent
    truncate                                strength = psi
    mutate/<mutation seed>                  strength = mutation strength
    interpolate/<linear|spherical>          strength = t along the path
    encode/<picture sha256, 12 hex>         strength = the picture's weight in the mean (Encode)
    refine                                  strength = refinement steps done (Encode)
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from avatarforge.models import latent_ops
from avatarforge.models.directions import apply_edits
from avatarforge.models.part_setting import set_parts, with_changes
from avatarforge.v1 import avatarforge_pb2 as pb

from . import validation
from .dna import make_dna, read_dna
from .errors import InvalidRequest
from .face_parts import check_set_parts, part_records
from .model_runtime import ModelRuntime


@dataclass(frozen=True)
class EditPlan:
    """A validated editor state: what to do to a start face, and how to encode the result."""

    edits: tuple[tuple[str, float], ...]  # (direction name, strength), each known and in range
    mix_ws: np.ndarray | None  # float32 [num_ws, w_dim] of the other face, or None for no mix
    mix_layers: range
    mix_weight: float  # 0 = keep the start face, 1 = the other face's layers
    mix_tag: str  # the other face's checksum prefix, for the provenance record
    psi: float | None  # truncation toward the average face; None = none
    output: validation.OutputPlan
    set_parts: tuple[tuple[int, int], ...] = ()  # (part index, value index), each part once
    parts_record: tuple[tuple[str, float], ...] = ()  # their provenance entries

    def record(self) -> list[tuple[str, float]]:
        """The provenance entries this plan appends to a DNA's edit list (see module doc)."""
        out = list(self.parts_record)
        if self.mix_ws is not None:
            out.append((f"mix/{self.mix_tag}/{self.mix_layers.start}-{self.mix_layers.stop}", self.mix_weight))
        out += [(name, s) for name, s in self.edits if s != 0]
        if self.psi is not None:
            out.append(("truncate", self.psi))
        return out


def layer_range(start: int, end: int, num_ws: int, where: str) -> range:
    """[start, end) of W+ layers; 0,0 means every layer."""
    if start == 0 and end == 0:
        return range(num_ws)
    if not 0 <= start < end <= num_ws:
        raise InvalidRequest(f"{where}: layer range [{start}, {end}) is malformed: use 0 <= layer_start < layer_end "
                             f"<= {num_ws} (this model's W+ layers), or 0, 0 for all layers", f"{where}.layer_start")
    return range(start, end)


def dna_tag(dna: pb.CharacterDna) -> str:
    return dna.checksum.removeprefix("sha256:")[:12]


def check_edits(rt: ModelRuntime, edits, where: str = "edits") -> tuple[tuple[str, float], ...]:
    """Direction names known to the model, each once, strengths finite and in their range."""
    seen = set()
    out = []
    for i, e in enumerate(edits):
        d = rt.directions.get(e.direction)
        if d is None:
            names = ", ".join(sorted(rt.directions)) or "none"
            raise InvalidRequest(f"{where}[{i}]: unknown direction {e.direction!r}; model {rt.bundle.name!r} has: {names}", f"{where}[{i}].direction")
        if e.direction in seen:
            raise InvalidRequest(f"{where}[{i}]: direction {e.direction!r} is given twice; a state gives each slider once", f"{where}[{i}].direction")
        seen.add(e.direction)
        lo, hi = d.strength_range
        if not (math.isfinite(e.strength) and lo <= e.strength <= hi):
            raise InvalidRequest(f"{where}[{i}]: strength {e.strength:g} for {e.direction!r} is outside its range "
                                 f"[{lo:.4g}, {hi:.4g}] (GetModel lists every direction's range)", f"{where}[{i}].strength")
        out.append((e.direction, float(e.strength)))
    return tuple(out)


def plan_edit(rt: ModelRuntime, msg, default_output: validation.OutputPlan | None = None) -> EditPlan:
    """Validate an EditState or RenderPreviewRequest (fields set_parts, edits, mix, truncation_psi,
    output). An empty output falls back to `default_output` (the session's), when given."""
    parts = check_set_parts(rt, msg.set_parts)
    edits = check_edits(rt, msg.edits)
    num_ws = rt.bundle.config.num_ws
    mix_ws, mix_layers, weight, tag = None, range(num_ws), 1.0, ""
    if msg.HasField("mix"):
        m = msg.mix
        if not m.HasField("other"):
            raise InvalidRequest("mix.other is empty: give the DNA of the face to mix in, or leave mix unset", "mix.other")
        mix_ws = read_dna(m.other, rt.identity, "mix.other")
        mix_layers = layer_range(m.layer_start, m.layer_end, num_ws, "mix")
        weight = m.weight if m.HasField("weight") else 1.0
        if not 0.0 <= weight <= 1.0:  # also rejects NaN
            raise InvalidRequest(f"mix.weight = {weight:g} is out of range: use [0, 1] (1 or unset = take the other face's layers)", "mix.weight")
        tag = dna_tag(m.other)
    psi = validation.psi(msg, "truncation_psi", None)
    if default_output is not None and msg.output.ByteSize() == 0:
        output = default_output
    else:
        output = validation.output(msg.output, rt.resolution, rt.sizes)
    records = tuple(part_records(rt.parts, parts)) if parts else ()
    return EditPlan(edits, mix_ws, mix_layers, weight, tag, psi, output, parts, records)


def edited_ws(rt: ModelRuntime, start_ws: np.ndarray, plan: EditPlan, start_parts: np.ndarray | None = None) -> np.ndarray:
    """The W+ of a plan applied to a start face: float32 [num_ws, w_dim] -> float32 [num_ws, w_dim].
    `start_parts` (int64 [num_parts], the start face's parts) is needed when the plan sets parts."""
    ws = torch.from_numpy(start_ws)[None]  # [1, num_ws, w_dim]
    if plan.set_parts:
        base = start_parts[None]
        ws = set_parts(ws, rt.bundle.generator.mapping, base, with_changes(base, dict(plan.set_parts)))
    if plan.mix_ws is not None:
        other = torch.from_numpy(plan.mix_ws)[None]
        blended = latent_ops.lerp(ws, other, plan.mix_weight)  # weight 1 copies `other` exactly
        ws = latent_ops.mix_styles(ws, blended, plan.mix_layers)
    if plan.edits:
        ws = apply_edits(ws, rt.directions, plan.edits)
    if plan.psi is not None:
        ws = latent_ops.truncate(ws, rt.w_avg, plan.psi)
    return np.ascontiguousarray(ws[0].numpy(), dtype=np.float32)


def derived_dna(rt: ModelRuntime, parent: pb.CharacterDna, ws: np.ndarray, record: list[tuple[str, float]]) -> pb.CharacterDna:
    """DNA of a face made from `parent`: its seed/psi and edits kept, `record` appended."""
    edits = [(e.direction, e.strength) for e in parent.edits] + record
    return make_dna(rt.identity, ws, seed=parent.seed if parent.HasField("seed") else None,
                    psi=parent.truncation_psi if parent.HasField("truncation_psi") else None, edits=edits)
