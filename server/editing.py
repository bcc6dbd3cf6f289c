"""Face editing on the server: editor states validated into EditPlans, and the one-shot editing
RPCs (RenderPreview, Interpolate, Mix, Mutate). The interactive EditSession is edit_session.py.

An editor state is absolute (never a delta) and applies to the session's start face, in order:

    start W+ --mix (other face's layers, weighted)--> --direction edits--> --truncate (psi)--> W+

Validation happens when a state arrives (so a bad state is answered at once, and a pending
state is always renderable); the W+ is computed only for the states actually rendered or
committed. The latent math is models/editing.py and models/direction_set.py; this module adds
requests, limits, provenance and rendering.

Provenance: a derived DNA keeps its parent's seed/psi and edit list and appends what was done,
so `edits` reads as the recipe. Besides direction names, these records are used:
    mix/<parent checksum, 12 hex>/<a>-<b>   strength = mix weight, layers a..b-1
    mix/blend/<checksum 12 hex>             strength = normalised weight of that parent
    truncate                                strength = psi
    mutate/<mutation seed>                  strength = mutation strength
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, AsyncIterator

import numpy as np
import torch

from avatarforge.models import latent_ops
from avatarforge.models.directions import apply_edits
from avatarforge.v1 import avatarforge_pb2 as pb

from . import validation
from .dna import make_dna, read_dna
from .errors import InvalidRequest
from .model_runtime import ModelRuntime
from .scheduler import Priority

if TYPE_CHECKING:
    from .service import AvatarForgeService

MAX_MUTATE_STRENGTH = 2.0  # in W std units: 0.1-0.3 a sibling, 1 a stranger, beyond 2 not a face
MAX_MUTATION_SEED = 2**62  # child i uses mutation seed `seed + i`; keeps every child seed < 2^63


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

    def record(self) -> list[tuple[str, float]]:
        """The provenance entries this plan appends to a DNA's edit list (see module doc)."""
        out = []
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
                             f"<= {num_ws} (this model's W+ layers), or 0, 0 for all layers")
    return range(start, end)


def _dna_tag(dna: pb.CharacterDna) -> str:
    return dna.checksum.removeprefix("sha256:")[:12]


def check_edits(rt: ModelRuntime, edits, where: str = "edits") -> tuple[tuple[str, float], ...]:
    """Direction names known to the model, each once, strengths finite and in their range."""
    seen = set()
    out = []
    for i, e in enumerate(edits):
        d = rt.directions.get(e.direction)
        if d is None:
            names = ", ".join(sorted(rt.directions)) or "none"
            raise InvalidRequest(f"{where}[{i}]: unknown direction {e.direction!r}; model {rt.bundle.name!r} has: {names}")
        if e.direction in seen:
            raise InvalidRequest(f"{where}[{i}]: direction {e.direction!r} is given twice; a state gives each slider once")
        seen.add(e.direction)
        lo, hi = d.strength_range
        if not (math.isfinite(e.strength) and lo <= e.strength <= hi):
            raise InvalidRequest(f"{where}[{i}]: strength {e.strength:g} for {e.direction!r} is outside its range "
                                 f"[{lo:.4g}, {hi:.4g}] (GetModel lists every direction's range)")
        out.append((e.direction, float(e.strength)))
    return tuple(out)


def plan_edit(rt: ModelRuntime, msg, default_output: validation.OutputPlan | None = None) -> EditPlan:
    """Validate an EditState or RenderPreviewRequest (fields edits, mix, truncation_psi, output).
    An empty output falls back to `default_output` (the session's), when given."""
    edits = check_edits(rt, msg.edits)
    num_ws = rt.bundle.config.num_ws
    mix_ws, mix_layers, weight, tag = None, range(num_ws), 1.0, ""
    if msg.HasField("mix"):
        m = msg.mix
        if not m.HasField("other"):
            raise InvalidRequest("mix.other is empty: give the DNA of the face to mix in, or leave mix unset")
        mix_ws = read_dna(m.other, rt.identity, "mix.other")
        mix_layers = layer_range(m.layer_start, m.layer_end, num_ws, "mix")
        weight = m.weight if m.HasField("weight") else 1.0
        if not 0.0 <= weight <= 1.0:  # also rejects NaN
            raise InvalidRequest(f"mix.weight = {weight:g} is out of range: use [0, 1] (1 or unset = take the other face's layers)")
        tag = _dna_tag(m.other)
    psi = validation.psi(msg, "truncation_psi", None)
    if default_output is not None and msg.output.ByteSize() == 0:
        output = default_output
    else:
        output = validation.output(msg.output, rt.resolution, rt.sizes)
    return EditPlan(edits, mix_ws, mix_layers, weight, tag, psi, output)


def edited_ws(rt: ModelRuntime, start_ws: np.ndarray, plan: EditPlan) -> np.ndarray:
    """The W+ of a plan applied to a start face: float32 [num_ws, w_dim] -> float32 [num_ws, w_dim]."""
    ws = torch.from_numpy(start_ws)[None]  # [1, num_ws, w_dim]
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


async def render_one(service: "AvatarForgeService", rt: ModelRuntime, ws: np.ndarray,
                     output: validation.OutputPlan, compute_extra_us: int = 0) -> tuple[pb.Image, pb.Timing]:
    """One W+ [num_ws, w_dim] -> (Image, Timing), at interactive priority (editor latency)."""
    images, bt = await rt.render(ws[None], Priority.INTERACTIVE)
    image, encode_us = await service._encode(images[0], output)
    return image, pb.Timing(queue_us=bt.queue_us, compute_us=bt.compute_us + compute_extra_us,
                            encode_us=encode_us, batch_size=bt.batch_size)


# ---------------------------------------------------------------------------------- unary RPCs


async def render_preview(service: "AvatarForgeService", request: pb.RenderPreviewRequest) -> pb.RenderPreviewResponse:
    rid = validation.request_id(request.request_id)
    rt = service.registry.get(request.model)
    if not request.HasField("dna"):
        raise InvalidRequest("dna is empty: give the DNA of the face to edit")
    start = read_dna(request.dna, rt.identity)
    plan = plan_edit(rt, request)
    t = time.perf_counter()
    ws = edited_ws(rt, start, plan)
    image, timing = await render_one(service, rt, ws, plan.output, int((time.perf_counter() - t) * 1e6))
    return pb.RenderPreviewResponse(request_id=rid, image=image, dna=derived_dna(rt, request.dna, ws, plan.record()),
                                    timing=timing)


async def mix(service: "AvatarForgeService", request: pb.MixRequest) -> pb.GenerateResponse:
    """BLEND: the weighted mean of the parents' W+ (weights normalised; all 0 = equal).
    STYLE: parents[0] is the base; every parent that names a layer range gives those layers
    (ranges must not overlap)."""
    from .service import _Item

    rid = validation.request_id(request.request_id)
    rt = service.registry.get(request.model)
    plan = validation.output(request.output, rt.resolution, rt.sizes)
    parents = list(request.parents)
    if len(parents) < 2:
        raise InvalidRequest(f"parents has {len(parents)} faces: mixing needs two or more")
    validation.item_count(len(parents), service.config.max_unary_items, "number of parents")
    ws = np.stack([read_dna(p.dna, rt.identity, f"parents[{i}].dna") for i, p in enumerate(parents)])
    num_ws = rt.bundle.config.num_ws
    if request.mode in (pb.MIX_MODE_UNSPECIFIED, pb.MIX_MODE_BLEND):
        weights = np.array([p.weight for p in parents], np.float64)
        if not np.isfinite(weights).all() or (weights < 0).any():
            raise InvalidRequest(f"parent weights {weights.tolist()} must be finite and >= 0")
        weights = np.full(len(parents), 1 / len(parents)) if weights.sum() == 0 else weights / weights.sum()
        child = np.tensordot(weights, ws.astype(np.float64), axes=1).astype(np.float32)
        record = [(f"mix/blend/{_dna_tag(p.dna)}", float(w)) for p, w in zip(parents, weights)]
    elif request.mode == pb.MIX_MODE_STYLE:
        child, owner, record = ws[0].copy(), {}, []
        for i, p in enumerate(parents):
            if i > 0 and p.layer_start == p.layer_end == 0:
                raise InvalidRequest(f"parents[{i}] names no layers: in STYLE mode give each parent after the "
                                     "first its [layer_start, layer_end)")
            if i == 0 and p.layer_start == p.layer_end == 0:
                continue  # the base: it gives every layer no other parent claims
            layers = layer_range(p.layer_start, p.layer_end, num_ws, f"parents[{i}]")
            clash = sorted(set(layers) & set(owner))
            if clash:
                raise InvalidRequest(f"parents[{i}]: layers {clash} are already taken from parents[{owner[clash[0]]}]; "
                                     "layer ranges must not overlap")
            owner.update({layer: i for layer in layers})
            child[layers.start:layers.stop] = ws[i, layers.start:layers.stop]
            record.append((f"mix/{_dna_tag(p.dna)}/{layers.start}-{layers.stop}", 1.0))
    else:
        raise InvalidRequest(f"mode = {request.mode} is not a known MixMode; use MIX_MODE_BLEND or MIX_MODE_STYLE")
    dna = make_dna(rt.identity, child, edits=record)
    results, timing = await service._produce(rt, [_Item(0, ws=child, dna=dna)], 1.0, plan, rid, Priority.INTERACTIVE)
    timing.encode_us = sum(r.timing.encode_us for r in results)
    return pb.GenerateResponse(request_id=rid, results=results, timing=timing)


async def mutate(service: "AvatarForgeService", request: pb.MutateRequest) -> pb.GenerateResponse:
    """`count` children of one face; child i = the face moved by strength * W-std along the
    noise of mutation seed `seed + i` (so each child is reproducible on its own)."""
    from .service import _Item

    rid = validation.request_id(request.request_id)
    rt = service.registry.get(request.model)
    plan = validation.output(request.output, rt.resolution, rt.sizes)
    if not request.HasField("dna"):
        raise InvalidRequest("dna is empty: give the DNA of the face to vary")
    parent = read_dna(request.dna, rt.identity)
    count = validation.item_count(request.count, service.config.max_unary_items, "count")
    if not (math.isfinite(request.strength) and 0 <= request.strength <= MAX_MUTATE_STRENGTH):
        raise InvalidRequest(f"strength = {request.strength:g} is out of range: use [0, {MAX_MUTATE_STRENGTH:g}] "
                             "(in W standard deviations: 0.1-0.3 a sibling, 1 a stranger)")
    if not 0 <= request.seed <= MAX_MUTATION_SEED:
        raise InvalidRequest(f"seed = {request.seed} is out of range: use [0, 2^62]")
    seeds = [request.seed + i for i in range(count)]
    children = latent_ops.mutate(torch.from_numpy(parent)[None], seeds, float(request.strength), rt.w_std).numpy()
    items = [_Item(i, ws=np.ascontiguousarray(w), dna=derived_dna(rt, request.dna, w, [(f"mutate/{s}", float(request.strength))]))
             for i, (w, s) in enumerate(zip(children, seeds))]
    results, timing = await service._produce(rt, items, 1.0, plan, rid, Priority.INTERACTIVE)
    timing.encode_us = sum(r.timing.encode_us for r in results)
    return pb.GenerateResponse(request_id=rid, results=results, timing=timing)


# ---------------------------------------------------------------------------------- Interpolate


_SPACES = {pb.INTERPOLATION_SPACE_UNSPECIFIED: "linear", pb.INTERPOLATION_SPACE_W_PLUS_LINEAR: "linear",
           pb.INTERPOLATION_SPACE_W_PLUS_SLERP: "spherical"}


def path_ws(keys: np.ndarray, ts: np.ndarray, method: str, center: torch.Tensor) -> np.ndarray:
    """Frames along a path through K key faces [K, num_ws, w_dim] at global ts in [0, 1] ->
    [T, num_ws, w_dim]. Each of the K-1 segments gets an equal share of t; keys are hit exactly."""
    segments = len(keys) - 1
    out = np.empty((len(ts), *keys.shape[1:]), np.float32)
    for j, t in enumerate(ts):
        seg = min(int(t * segments), segments - 1)
        local = float(t * segments - seg)
        a, b = torch.from_numpy(keys[seg]), torch.from_numpy(keys[seg + 1])
        out[j] = latent_ops.interpolate(a, b, local, method, center).numpy()
    return out


async def interpolate(service: "AvatarForgeService", request: pb.InterpolateRequest) -> AsyncIterator[pb.InterpolateFrame]:
    """Frames source (t=0) .. via .. target (t=1), in micro-batches; the end frames carry the
    input DNAs themselves."""
    from .service import _Item

    rid = validation.request_id(request.request_id)
    rt = service.registry.get(request.model)
    plan = validation.output(request.output, rt.resolution, rt.sizes)
    method = _SPACES.get(request.space)
    if method is None:
        raise InvalidRequest(f"space = {request.space} is not a known InterpolationSpace; use W_PLUS_LINEAR or W_PLUS_SLERP")
    frames = request.frames
    if frames < 2:
        raise InvalidRequest(f"frames = {frames}: a path needs at least 2 frames (both ends included)")
    validation.item_count(frames, service.config.max_stream_items, "frames")
    key_dnas = [request.source, *request.via, request.target]
    names = ["source", *[f"via[{i}]" for i in range(len(request.via))], "target"]
    for dna, name in zip(key_dnas, names):
        if dna.ByteSize() == 0:
            raise InvalidRequest(f"{name} is empty: give the DNA of the face the path passes through")
    keys = np.stack([read_dna(d, rt.identity, n) for d, n in zip(key_dnas, names)])
    ts = np.linspace(0.0, 1.0, frames)
    step = service.config.max_batch
    for first in range(0, frames, step):
        chunk = range(first, min(first + step, frames))
        ws = path_ws(keys, ts[chunk.start:chunk.stop], method, rt.w_avg)
        items = []
        for i, w in zip(chunk, ws):
            if i in (0, frames - 1):
                dna = request.source if i == 0 else request.target
            else:
                dna = make_dna(rt.identity, w, edits=[(f"interpolate/{method}", float(ts[i]))])
            items.append(_Item(i, ws=w, dna=dna))
        results, _ = await service._produce(rt, items, 1.0, plan, rid, Priority.INTERACTIVE)
        for r in results:
            if r.HasField("error"):
                raise RuntimeError(f"frame {r.index}: {r.error.message}")
            yield pb.InterpolateFrame(index=r.index, t=float(ts[r.index]), image=r.image, dna=r.dna, timing=r.timing)
