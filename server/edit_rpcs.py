"""The one-shot editing RPCs: RenderPreview, Interpolate, Mix, Mutate. Each validates its
request (edit_planning.py for editor states), computes the new W+ and renders it through the
RenderPipeline at interactive priority. The interactive EditSession is edit_session.py.
"""
from __future__ import annotations

import math
import time
from typing import AsyncIterator

import numpy as np
import torch

from avatarforge.models import latent_ops
from avatarforge.v1 import avatarforge_pb2 as pb

from . import validation
from .config import ServerConfig
from .dna import make_dna, read_dna
from .edit_planning import derived_dna, dna_tag, edited_ws, layer_range, plan_edit
from .errors import InvalidRequest
from .face_parts import PartReader
from .model_runtime import ModelRegistry
from .render_pipeline import RenderItem, RenderPipeline
from .scheduler import Priority

MAX_MUTATE_STRENGTH = 2.0  # in W std units: 0.1-0.3 a sibling, 1 a stranger, beyond 2 not a face
MAX_MUTATION_SEED = 2**62  # child i uses mutation seed `seed + i`; keeps every child seed < 2^63

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


class EditRpcs:
    """The editing RPCs of one server: its models, limits and render path."""

    def __init__(self, registry: ModelRegistry, config: ServerConfig, pipeline: RenderPipeline, parts: PartReader):
        self.registry = registry
        self.config = config
        self.pipeline = pipeline
        self.parts = parts

    async def render_preview(self, request: pb.RenderPreviewRequest) -> pb.RenderPreviewResponse:
        rid = validation.request_id(request.request_id)
        rt = self.registry.get(request.model)
        if not request.HasField("dna"):
            raise InvalidRequest("dna is empty: give the DNA of the face to edit")
        start = read_dna(request.dna, rt.identity)
        plan = plan_edit(rt, request)
        start_parts = (await self.parts.parts_of(rt, request.dna, start))[0] if plan.set_parts else None
        t = time.perf_counter()
        ws = edited_ws(rt, start, plan, start_parts)
        image, timing = await self.pipeline.render_one(rt, ws, plan.output, int((time.perf_counter() - t) * 1e6))
        return pb.RenderPreviewResponse(request_id=rid, image=image, dna=derived_dna(rt, request.dna, ws, plan.record()),
                                        timing=timing)

    async def mix(self, request: pb.MixRequest) -> pb.GenerateResponse:
        """BLEND: the weighted mean of the parents' W+ (weights normalised; all 0 = equal).
        STYLE: parents[0] is the base; every parent that names a layer range gives those layers
        (ranges must not overlap)."""
        rid = validation.request_id(request.request_id)
        rt = self.registry.get(request.model)
        plan = validation.output(request.output, rt.resolution, rt.sizes)
        parents = list(request.parents)
        if len(parents) < 2:
            raise InvalidRequest(f"parents has {len(parents)} faces: mixing needs two or more")
        validation.item_count(len(parents), self.config.max_unary_items, "number of parents")
        ws = np.stack([read_dna(p.dna, rt.identity, f"parents[{i}].dna") for i, p in enumerate(parents)])
        num_ws = rt.bundle.config.num_ws
        if request.mode in (pb.MIX_MODE_UNSPECIFIED, pb.MIX_MODE_BLEND):
            weights = np.array([p.weight for p in parents], np.float64)
            if not np.isfinite(weights).all() or (weights < 0).any():
                raise InvalidRequest(f"parent weights {weights.tolist()} must be finite and >= 0")
            weights = np.full(len(parents), 1 / len(parents)) if weights.sum() == 0 else weights / weights.sum()
            child = np.tensordot(weights, ws.astype(np.float64), axes=1).astype(np.float32)
            record = [(f"mix/blend/{dna_tag(p.dna)}", float(w)) for p, w in zip(parents, weights)]
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
                record.append((f"mix/{dna_tag(p.dna)}/{layers.start}-{layers.stop}", 1.0))
        else:
            raise InvalidRequest(f"mode = {request.mode} is not a known MixMode; use MIX_MODE_BLEND or MIX_MODE_STYLE")
        dna = make_dna(rt.identity, child, edits=record)
        results, timing = await self.pipeline.produce(rt, [RenderItem(0, ws=child, dna=dna)], 1.0, plan, rid, Priority.INTERACTIVE)
        return pb.GenerateResponse(request_id=rid, results=results, timing=timing)

    async def mutate(self, request: pb.MutateRequest) -> pb.GenerateResponse:
        """`count` children of one face; child i = the face moved by strength * W-std along the
        noise of mutation seed `seed + i` (so each child is reproducible on its own)."""
        rid = validation.request_id(request.request_id)
        rt = self.registry.get(request.model)
        plan = validation.output(request.output, rt.resolution, rt.sizes)
        if not request.HasField("dna"):
            raise InvalidRequest("dna is empty: give the DNA of the face to vary")
        parent = read_dna(request.dna, rt.identity)
        count = validation.item_count(request.count, self.config.max_unary_items, "count")
        if not (math.isfinite(request.strength) and 0 <= request.strength <= MAX_MUTATE_STRENGTH):
            raise InvalidRequest(f"strength = {request.strength:g} is out of range: use [0, {MAX_MUTATE_STRENGTH:g}] "
                                 "(in W standard deviations: 0.1-0.3 a sibling, 1 a stranger)")
        if not 0 <= request.seed <= MAX_MUTATION_SEED:
            raise InvalidRequest(f"seed = {request.seed} is out of range: use [0, 2^62]")
        seeds = [request.seed + i for i in range(count)]
        children = latent_ops.mutate(torch.from_numpy(parent)[None], seeds, float(request.strength), rt.w_std).numpy()
        items = [RenderItem(i, ws=np.ascontiguousarray(w), dna=derived_dna(rt, request.dna, w, [(f"mutate/{s}", float(request.strength))]))
                 for i, (w, s) in enumerate(zip(children, seeds))]
        results, timing = await self.pipeline.produce(rt, items, 1.0, plan, rid, Priority.INTERACTIVE)
        return pb.GenerateResponse(request_id=rid, results=results, timing=timing)

    async def interpolate(self, request: pb.InterpolateRequest) -> AsyncIterator[pb.InterpolateFrame]:
        """Frames source (t=0) .. via .. target (t=1), in micro-batches; the end frames carry the
        input DNAs themselves."""
        rid = validation.request_id(request.request_id)
        rt = self.registry.get(request.model)
        plan = validation.output(request.output, rt.resolution, rt.sizes)
        method = _SPACES.get(request.space)
        if method is None:
            raise InvalidRequest(f"space = {request.space} is not a known InterpolationSpace; use W_PLUS_LINEAR or W_PLUS_SLERP")
        frames = request.frames
        if frames < 2:
            raise InvalidRequest(f"frames = {frames}: a path needs at least 2 frames (both ends included)")
        validation.item_count(frames, self.config.max_stream_items, "frames")
        key_dnas = [request.source, *request.via, request.target]
        names = ["source", *[f"via[{i}]" for i in range(len(request.via))], "target"]
        for dna, name in zip(key_dnas, names):
            if dna.ByteSize() == 0:
                raise InvalidRequest(f"{name} is empty: give the DNA of the face the path passes through")
        keys = np.stack([read_dna(d, rt.identity, n) for d, n in zip(key_dnas, names)])
        ts = np.linspace(0.0, 1.0, frames)
        step = self.config.max_batch
        for first in range(0, frames, step):
            chunk = range(first, min(first + step, frames))
            ws = path_ws(keys, ts[chunk.start:chunk.stop], method, rt.w_avg)
            items = []
            for i, w in zip(chunk, ws):
                if i in (0, frames - 1):
                    dna = request.source if i == 0 else request.target
                else:
                    dna = make_dna(rt.identity, w, edits=[(f"interpolate/{method}", float(ts[i]))])
                items.append(RenderItem(i, ws=w, dna=dna))
            results, _ = await self.pipeline.produce(rt, items, 1.0, plan, rid, Priority.INTERACTIVE)
            for r in results:
                if r.HasField("error"):
                    raise RuntimeError(f"frame {r.index}: {r.error.message}")
                yield pb.InterpolateFrame(index=r.index, t=float(ts[r.index]), image=r.image, dna=r.dna, timing=r.timing)
