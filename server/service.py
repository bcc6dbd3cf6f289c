"""The AvatarForge service: requests in, replies out, as protobuf messages but with no gRPC.

Model information and generation are answered here; editing is edit_rpcs.py and
edit_session.py, personalisation (Encode) encode_rpc.py. Every face is rendered through one RenderPipeline (render_pipeline.py).
`api.py` only adapts this to grpc.aio (status codes, cancellation). Errors are raised as
`errors.*`.
"""
from __future__ import annotations

import asyncio
import collections
import logging
import time
from typing import AsyncIterator, Callable

from avatarforge.v1 import avatarforge_pb2 as pb

from . import validation
from .config import ServerConfig
from .dna import read_dna
from .edit_rpcs import EditRpcs
from .edit_session import EditSession
from .encode_rpc import EncodeRpc
from .errors import InvalidRequest
from .face_parts import PartReader
from .model_runtime import ModelRegistry, ModelRuntime
from .render_pipeline import RenderItem, RenderPipeline
from .scheduler import Priority

log = logging.getLogger(__name__)

BULK_LOOKAHEAD = 2  # micro-batches a GenerateBatch stream keeps in flight


def _backend_info(backend) -> pb.BackendInfo:
    """describe()'s keys that name a scalar BackendInfo field, as that field's type (None -> 0 or
    ""), plus the fast-precision gate when one ran (server/backends/precision_gate.py)."""
    fields = pb.BackendInfo.DESCRIPTOR.fields_by_name
    integer = lambda f: f.cpp_type in (f.CPPTYPE_INT32, f.CPPTYPE_INT64, f.CPPTYPE_UINT32, f.CPPTYPE_UINT64)
    info = pb.BackendInfo(**{k: int(v or 0) if integer(fields[k]) else str(v or "")
                             for k, v in backend.describe().items() if k in fields and k != "precision_gate"})
    info.precision_mode = getattr(backend, "precision_mode", "exact")
    gate = getattr(backend, "precision_gate", None)
    if gate:
        info.precision_gate.CopyFrom(pb.PrecisionGate(
            passed=gate["ok"], faces=gate["faces"], psnr_min_db=gate["psnr_min_db"] or 0.0,
            psnr_median_db=gate["psnr_median_db"] or 0.0, batch_max_levels=gate["batch_max_levels"],
            reason=gate["reason"]))
    return info


class AvatarForgeService:
    def __init__(self, registry: ModelRegistry, config: ServerConfig):
        self.registry = registry
        self.config = config
        self.pipeline = RenderPipeline(config.encode_workers, registry.metrics)
        self.parts = PartReader(self.pipeline, config.max_unary_items)
        self.edits = EditRpcs(registry, config, self.pipeline, self.parts)
        self.encoding = EncodeRpc(registry, config, self.pipeline)

    def close(self) -> None:
        self.encoding.close()
        self.parts.close()
        self.pipeline.close()

    # ------------------------------------------------------------------ models

    def model_info(self, rt: ModelRuntime) -> pb.ModelInfo:
        cfg, manifest, c = rt.bundle.config, rt.bundle.manifest, self.config
        return pb.ModelInfo(
            name=rt.bundle.name,
            version=rt.bundle.version,
            generator_sha256=rt.bundle.generator_sha256,
            description=manifest.get("description", ""),
            resolution=cfg.resolution,
            z_dim=cfg.z_dim,
            w_dim=cfg.w_dim,
            num_ws=cfg.num_ws,
            supported_sizes=rt.sizes,
            backend=_backend_info(rt.backend),
            directions=[self._direction_info(d) for d in rt.directions.values()],
            default_truncation_psi=rt.default_psi,
            limits=pb.ServerLimits(max_batch=c.max_batch, max_unary_items=c.max_unary_items,
                                   max_stream_items=c.max_stream_items, max_message_bytes=c.max_message_bytes,
                                   max_encode_images=c.max_encode_images, max_encode_pixels=c.max_encode_pixels,
                                   max_refine_ms=c.max_refine_ms),
            data_licence=str(manifest.get("data", {}).get("licence", "")),
            parts=self._part_infos(rt),
        )

    @staticmethod
    def _part_infos(rt: ModelRuntime) -> list[pb.PartInfo]:
        if rt.parts is None:
            return []
        accuracy = (rt.bundle.manifest.get("classifier") or {}).get("heldout_accuracy", {})
        return [pb.PartInfo(name=name, values=values, classifier_accuracy=accuracy.get(name)) for name, values in rt.parts.values.items()]

    @staticmethod
    def _direction_info(d) -> pb.DirectionInfo:
        info = pb.DirectionInfo(name=d.name, description=d.description, kind=d.kind, layer_start=d.layers.start,
                                layer_end=d.layers.stop, strength_min=d.strength_range[0],
                                strength_max=d.strength_range[1], default_strength=d.default_strength)
        if d.success is not None:
            info.success = d.success
        if d.unchanged is not None:
            info.unchanged = d.unchanged
        return info

    async def list_models(self, request: pb.ListModelsRequest) -> pb.ListModelsResponse:
        return pb.ListModelsResponse(models=[self.model_info(rt) for rt in self.registry.runtimes.values()],
                                     default_model=self.registry.default_name)

    async def get_model(self, request: pb.GetModelRequest) -> pb.ModelInfo:
        return self.model_info(self.registry.get(request.model))

    # ------------------------------------------------------------------ generation

    async def generate(self, request: pb.GenerateRequest) -> pb.GenerateResponse:
        t0 = time.perf_counter()
        rid = validation.request_id(request.request_id)
        rt = self.registry.get(request.model)
        plan = validation.output(request.output, rt.resolution, rt.sizes)
        validation.item_count(len(request.characters), self.config.max_unary_items, "number of characters",
                              " (use GenerateBatch for bulk generation)")
        psi = validation.psi(request, "truncation_psi", rt.default_psi)
        items = []
        for i, c in enumerate(request.characters):
            kind = c.WhichOneof("source")
            if kind == "seed":
                items.append(RenderItem(i, seed=validation.seed(c.seed, f"characters[{i}].seed")))
            elif kind == "dna":
                items.append(RenderItem(i, ws=read_dna(c.dna, rt.identity, f"characters[{i}].dna"), dna=c.dna))
            else:
                raise InvalidRequest(f"characters[{i}] is empty: set its seed or its dna")
        results, timing = await self.pipeline.produce(rt, items, psi, plan, rid, Priority.INTERACTIVE)
        resp = pb.GenerateResponse(request_id=rid, results=results, timing=timing)
        log.debug("Generate %s: %d items in %.1f ms", rid, len(results), (time.perf_counter() - t0) * 1e3)
        return resp

    async def generate_batch(self, request: pb.GenerateBatchRequest) -> AsyncIterator[pb.GenerateBatchEvent]:
        """Events: Progress (first, with the total), then per micro-batch its items and a Progress,
        then one BatchSummary. Cancelling the iteration stops generation (queued work is dropped)."""
        t0 = time.perf_counter()
        rid = validation.request_id(request.request_id)
        rt = self.registry.get(request.model)
        plan = validation.output(request.output, rt.resolution, rt.sizes)
        psi = validation.psi(request, "truncation_psi", rt.default_psi)
        limit = self.config.max_stream_items
        kind = request.WhichOneof("seeds")
        if kind == "range":
            base = validation.seed(request.range.base_seed, "range.base_seed")
            total = validation.item_count(request.range.count, limit, "range.count", " (split the job into several calls)")
            seed_at: Callable[[int], int] = lambda i: base + i
        elif kind == "list":
            seeds = list(request.list.seeds)
            total = validation.item_count(len(seeds), limit, "number of seeds in list", " (split the job into several calls)")
            for i, s in enumerate(seeds):
                validation.seed(s, f"list.seeds[{i}]")
            seed_at = seeds.__getitem__
        else:
            raise InvalidRequest("set either range {base_seed, count} or list {seeds} to say which faces to generate")
        start = validation.start_index(request.start_index, total)
        if request.progress_every < 0:
            raise InvalidRequest(f"progress_every = {request.progress_every}: use 0 (after every micro-batch) or a count of items")
        every = request.progress_every

        summary = pb.BatchSummary(request_id=rid, total=total, skipped=start, timing=pb.RenderTiming())
        yield pb.GenerateBatchEvent(progress=pb.BatchProgress(request_id=rid, completed=start, total=total))
        chunks = [range(i, min(i + self.config.max_batch, total)) for i in range(start, total, self.config.max_batch)]
        produce = lambda ch: asyncio.ensure_future(self.pipeline.produce(
            rt, [RenderItem(i, seed=seed_at(i)) for i in ch], psi, plan, rid, Priority.BULK))
        # LOOKAHEAD micro-batches in flight: one computes while the one before is encoded and
        # another is sent, so the backend never idles on this stream. Bounded: a client that
        # stops reading stops this loop at its `yield`, so it holds at most that much work.
        pending = collections.deque(produce(ch) for ch in chunks[:BULK_LOOKAHEAD])
        completed, last_progress = start, start
        try:
            for k in range(len(chunks)):
                results, timing = await pending.popleft()
                if k + BULK_LOOKAHEAD < len(chunks):
                    pending.append(produce(chunks[k + BULK_LOOKAHEAD]))
                for r in results:
                    yield pb.GenerateBatchEvent(item=r)
                    if r.HasField("error"):
                        summary.failed += 1
                    else:
                        summary.produced += 1
                    summary.timing.encode_us += r.timing.encode_us
                summary.timing.queue_us += timing.queue_us
                summary.timing.compute_us += timing.compute_us
                summary.timing.batch_size = max(summary.timing.batch_size, timing.batch_size)
                completed += len(results)
                if completed - last_progress >= every or completed == total:
                    last_progress = completed
                    yield pb.GenerateBatchEvent(progress=pb.BatchProgress(
                        request_id=rid, completed=completed, failed=summary.failed, total=total))
        finally:
            for p in pending:  # the client went away: drop the lookahead batches
                p.cancel()
        summary.wall_us = int((time.perf_counter() - t0) * 1e6)
        log.info("GenerateBatch %s: %d produced, %d failed, %d skipped of %d in %.2f s",
                 rid or "-", summary.produced, summary.failed, summary.skipped, total, summary.wall_us / 1e6)
        yield pb.GenerateBatchEvent(summary=summary)

    # ------------------------------------------------------------------ editing

    def edit_session(self, requests: AsyncIterator[pb.EditRequest]) -> AsyncIterator[pb.EditEvent]:
        return EditSession(self.registry, self.pipeline, self.parts, self.config.edit_idle_timeout_s).run(requests)

    async def render_preview(self, request: pb.RenderPreviewRequest) -> pb.RenderPreviewResponse:
        return await self.edits.render_preview(request)

    def interpolate(self, request: pb.InterpolateRequest) -> AsyncIterator[pb.InterpolateFrame]:
        return self.edits.interpolate(request)

    async def mix(self, request: pb.MixRequest) -> pb.GenerateResponse:
        return await self.edits.mix(request)

    async def mutate(self, request: pb.MutateRequest) -> pb.GenerateResponse:
        return await self.edits.mutate(request)

    async def get_parts(self, request: pb.GetPartsRequest) -> pb.GetPartsResponse:
        return await self.parts.get_parts(self.registry.get(request.model), request)

    # ------------------------------------------------------------------ personalisation

    async def encode(self, request: pb.EncodeRequest) -> pb.EncodeResponse:
        return await self.encoding.encode(request)
