"""The AvatarForge service: requests in, replies out, as protobuf messages but with no gRPC.

Validation, latent pipeline, scheduling and image encoding are composed here; `api.py` only
adapts this to grpc.aio (status codes, cancellation). Errors are raised as `errors.*`.
"""
from __future__ import annotations

import asyncio
import collections
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import AsyncIterator, Callable

import numpy as np

from avatarforge.models.latents import MAX_SEED
from avatarforge.v1 import avatarforge_pb2 as pb

from . import editing, validation
from .config import ServerConfig
from .dna import make_dna, read_dna
from .edit_session import EditSession
from .errors import InvalidRequest, ItemOutOfRange, grpc_code, item_error_code
from .model_runtime import ModelRegistry, ModelRuntime
from .imaging import FORMAT_NAMES, encode_image
from .scheduler import Priority

log = logging.getLogger(__name__)

BULK_LOOKAHEAD = 2  # micro-batches a GenerateBatch stream keeps in flight


@dataclass
class _Item:
    """One face to produce: where it sits in the request and where its code comes from."""

    index: int
    seed: int | None = None
    ws: np.ndarray | None = None  # float32 [num_ws, w_dim] when it came from DNA
    dna: pb.CharacterDna | None = None


class AvatarForgeService:
    def __init__(self, registry: ModelRegistry, config: ServerConfig):
        self.registry = registry
        self.config = config
        self._encode_pool = ThreadPoolExecutor(config.encode_workers, thread_name_prefix="encode")

    def close(self) -> None:
        self._encode_pool.shutdown(wait=False, cancel_futures=True)

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
            backend=pb.BackendInfo(**{k: str(v or "") for k, v in rt.backend.describe().items()
                                      if k in pb.BackendInfo.DESCRIPTOR.fields_by_name}),
            directions=[self._direction_info(d) for d in rt.directions.values()],
            default_truncation_psi=c.default_psi,
            limits=pb.ServerLimits(max_batch=c.max_batch, max_unary_items=c.max_unary_items,
                                   max_stream_items=c.max_stream_items, max_message_bytes=c.max_message_bytes),
            data_licence=str(manifest.get("data", {}).get("licence", "")),
        )

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
        psi = validation.psi(request, "truncation_psi", self.config.default_psi)
        items = []
        for i, c in enumerate(request.characters):
            kind = c.WhichOneof("source")
            if kind == "seed":
                items.append(_Item(i, seed=validation.seed(c.seed, f"characters[{i}].seed")))
            elif kind == "dna":
                items.append(_Item(i, ws=read_dna(c.dna, rt.identity, f"characters[{i}].dna"), dna=c.dna))
            else:
                raise InvalidRequest(f"characters[{i}] is empty: set its seed or its dna")
        results, timing = await self._produce(rt, items, psi, plan, rid, Priority.INTERACTIVE)
        timing.encode_us = sum(r.timing.encode_us for r in results)
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
        psi = validation.psi(request, "truncation_psi", self.config.default_psi)
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
        every = request.progress_every

        summary = pb.BatchSummary(request_id=rid, total=total, skipped=start, timing=pb.Timing())
        yield pb.GenerateBatchEvent(progress=pb.Progress(request_id=rid, completed=start, total=total))
        chunks = [range(i, min(i + self.config.max_batch, total)) for i in range(start, total, self.config.max_batch)]
        produce = lambda ch: asyncio.ensure_future(self._produce(
            rt, [_Item(i, seed=seed_at(i)) for i in ch], psi, plan, rid, Priority.BULK))
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
                    yield pb.GenerateBatchEvent(progress=pb.Progress(
                        request_id=rid, completed=completed, failed=summary.failed, total=total))
        finally:
            for p in pending:  # the client went away: drop the lookahead batches
                p.cancel()
        summary.wall_us = int((time.perf_counter() - t0) * 1e6)
        log.info("GenerateBatch %s: %d produced, %d failed, %d skipped of %d in %.2f s",
                 rid or "-", summary.produced, summary.failed, summary.skipped, total, summary.wall_us / 1e6)
        yield pb.GenerateBatchEvent(summary=summary)

    # ------------------------------------------------------------------ editing (server/editing.py)

    def edit_session(self, requests: AsyncIterator[pb.EditRequest]) -> AsyncIterator[pb.EditEvent]:
        return EditSession(self).run(requests)

    async def render_preview(self, request: pb.RenderPreviewRequest) -> pb.RenderPreviewResponse:
        return await editing.render_preview(self, request)

    def interpolate(self, request: pb.InterpolateRequest) -> AsyncIterator[pb.InterpolateFrame]:
        return editing.interpolate(self, request)

    async def mix(self, request: pb.MixRequest) -> pb.GenerateResponse:
        return await editing.mix(self, request)

    async def mutate(self, request: pb.MutateRequest) -> pb.GenerateResponse:
        return await editing.mutate(self, request)

    # ------------------------------------------------------------------ pipeline

    async def _produce(self, rt: ModelRuntime, items: list[_Item], psi: float, plan: validation.OutputPlan,
                       rid: str, priority: Priority) -> tuple[list[pb.Result], pb.Timing]:
        """Render and encode a group of items (at most one micro-batch for streams); items that
        cannot be produced become Results with an ItemError."""
        results: dict[int, pb.Result] = {}
        ok = []
        for it in items:
            if it.seed is not None and not 0 <= it.seed <= MAX_SEED:
                results[it.index] = self._error(it, rid, ItemOutOfRange(
                    f"seed {it.seed} (index {it.index}) is past the last seed {MAX_SEED}; this item is skipped"))
            else:
                ok.append(it)
        timing = pb.Timing()
        if ok:
            try:
                seeded = [it for it in ok if it.seed is not None]
                map_us = 0
                if len(seeded) == len(ok):  # all seeds (bulk, previews): mapped inside the batch's call
                    images, seed_ws, bt = await rt.render_seeds([it.seed for it in ok], psi, priority)
                    for it, w in zip(ok, seed_ws):
                        it.ws = w
                else:
                    t_map = time.perf_counter()
                    if seeded:
                        seed_ws = await rt.ws_from_seeds([it.seed for it in seeded], psi)
                        for it, w in zip(seeded, seed_ws):
                            it.ws = w
                    map_us = int((time.perf_counter() - t_map) * 1e6)
                    images, bt = await rt.render(np.stack([it.ws for it in ok]), priority)
                timing = pb.Timing(queue_us=bt.queue_us, compute_us=bt.compute_us + map_us, batch_size=bt.batch_size)
                encoded = await self._encode_all(images, plan)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # backend or encoder failure: these items fail, the stream goes on
                log.exception("request %s: producing %d items failed", rid, len(ok))
                for it in ok:
                    results[it.index] = self._error(it, rid, e)
            else:
                for it, (image, enc_us) in zip(ok, encoded):
                    dna = it.dna or make_dna(rt.identity, it.ws, seed=it.seed, psi=psi)
                    r = pb.Result(index=it.index, request_id=rid, dna=dna, image=image,
                                  timing=pb.Timing(queue_us=timing.queue_us, compute_us=timing.compute_us,
                                                   encode_us=enc_us, batch_size=timing.batch_size))
                    if it.seed is not None:
                        r.seed = it.seed
                    results[it.index] = r
        return [results[it.index] for it in items], timing

    async def _encode_all(self, images: np.ndarray, plan: validation.OutputPlan) -> list[tuple[pb.Image, int]]:
        """uint8 [N, H, W, 3] -> [(Image, encode_us)]: one pool job per chunk, not per image (a
        thread hand-off costs about what a small image's encode does), up to encode_workers
        chunks in parallel."""
        def work(chunk):
            out = []
            for rgb in chunk:
                t = time.perf_counter()
                out.append((encode_image(rgb, plan.format, plan.size, plan.quality), time.perf_counter() - t))
            return out

        loop = asyncio.get_running_loop()
        cuts = np.linspace(0, len(images), min(self.config.encode_workers, len(images)) + 1).astype(int)
        parts = await asyncio.gather(*[loop.run_in_executor(self._encode_pool, work, images[a:b])
                                       for a, b in zip(cuts[:-1], cuts[1:])])
        encoded = [x for part in parts for x in part]
        if self.registry.metrics is not None:
            for _, seconds in encoded:
                self.registry.metrics.observe_encode(FORMAT_NAMES[plan.format], seconds)
        return [(img, int(seconds * 1e6)) for img, seconds in encoded]

    async def _encode(self, rgb: np.ndarray, plan: validation.OutputPlan) -> tuple[pb.Image, int]:
        def work():
            t = time.perf_counter()
            img = encode_image(rgb, plan.format, plan.size, plan.quality)
            return img, time.perf_counter() - t

        img, seconds = await asyncio.get_running_loop().run_in_executor(self._encode_pool, work)
        if self.registry.metrics is not None:
            self.registry.metrics.observe_encode(FORMAT_NAMES[plan.format], seconds)
        return img, int(seconds * 1e6)

    def _error(self, it: _Item, rid: str, exc: BaseException) -> pb.Result:
        if self.registry.metrics is not None:
            stage = "validate" if isinstance(exc, ItemOutOfRange) else "compute"
            self.registry.metrics.count_error(stage, grpc_code(exc).name)
        r = pb.Result(index=it.index, request_id=rid,
                      error=pb.ItemError(code=item_error_code(exc), message=str(exc) or type(exc).__name__))
        if it.seed is not None:
            r.seed = it.seed
        return r
