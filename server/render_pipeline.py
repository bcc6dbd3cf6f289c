"""The one render path every RPC takes: faces in, encoded images with their DNA and timings out.

    RenderItem (a seed, or a W+ code with the DNA it came from)
      -> ModelRuntime: seeds -> z -> w -> W+ (truncated), inside the micro-batch's backend call
      -> MicroBatcher -> backend.synthesize                           uint8 [N, H, W, 3]
      -> imaging.encode_image, in a thread pool                       pb.FaceImage
      -> pb.FaceResult {index, seed, dna, image, timing} or {index, seed, error}

Generate, GenerateBatch, the editing RPCs and EditSession all render through a RenderPipeline,
so batching, encoding, error mapping and metrics are written once. An item that cannot be
produced (a seed past 2^32-1, a backend or encoder failure) becomes a Result with an ItemError:
the other items, and the stream they belong to, go on.
"""
from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from avatarforge.models.latents import MAX_SEED
from avatarforge.v1 import avatarforge_pb2 as pb

from .dna import make_dna
from .errors import ItemOutOfRange, grpc_code, item_error_code
from .imaging import FORMAT_NAMES, encode_image
from .model_runtime import ModelRuntime
from .scheduler import Priority
from .validation import OutputPlan

log = logging.getLogger(__name__)


@dataclass
class RenderItem:
    """One face to produce: where it sits in the request and where its code comes from."""

    index: int
    seed: int | None = None
    ws: np.ndarray | None = None  # float32 [num_ws, w_dim] when it came from DNA or an edit
    dna: pb.CharacterDna | None = None  # kept as given; None = made from the seed and psi


class RenderPipeline:
    def __init__(self, encode_workers: int, metrics=None):
        self.encode_workers = encode_workers
        self.metrics = metrics  # server.serving_metrics.ServingMetrics, or None
        self._encode_pool = ThreadPoolExecutor(encode_workers, thread_name_prefix="encode")

    def close(self) -> None:
        self._encode_pool.shutdown(wait=False, cancel_futures=True)

    async def produce(self, rt: ModelRuntime, items: list[RenderItem], psi: float, output: OutputPlan,
                      rid: str, priority: Priority) -> tuple[list[pb.FaceResult], pb.RenderTiming]:
        """Render and encode a group of items (at most one micro-batch for streams), in the order
        given; the Timing is the batch's (queue, compute, batch size) with encode summed."""
        results: dict[int, pb.FaceResult] = {}
        ok = []
        for it in items:
            if it.seed is not None and not 0 <= it.seed <= MAX_SEED:
                results[it.index] = self.item_error(it, rid, ItemOutOfRange(
                    f"seed {it.seed} (index {it.index}) is past the last seed {MAX_SEED}; this item is skipped"))
            else:
                ok.append(it)
        timing = pb.RenderTiming()
        if ok:
            try:
                images, ws, timing = await self._render(rt, ok, psi, priority)
                encoded = await self._encode_all(images, output)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # backend or encoder failure: these items fail, the stream goes on
                log.exception("request %s: producing %d items failed", rid, len(ok))
                for it in ok:
                    results[it.index] = self.item_error(it, rid, e)
            else:
                for it, w, (image, enc_us) in zip(ok, ws, encoded):
                    dna = it.dna or make_dna(rt.identity, w, seed=it.seed, psi=psi)
                    r = pb.FaceResult(index=it.index, request_id=rid, dna=dna, image=image,
                                  timing=pb.RenderTiming(queue_us=timing.queue_us, compute_us=timing.compute_us,
                                                   encode_us=enc_us, batch_size=timing.batch_size))
                    if it.seed is not None:
                        r.seed = it.seed
                    results[it.index] = r
                    timing.encode_us += enc_us
        return [results[it.index] for it in items], timing

    async def render_one(self, rt: ModelRuntime, ws: np.ndarray, output: OutputPlan,
                         compute_extra_us: int = 0) -> tuple[pb.FaceImage, pb.RenderTiming]:
        """One W+ float32 [num_ws, w_dim] -> (Image, Timing) at interactive priority (editor
        latency). Failures raise: an editor reports them, there is no stream to continue."""
        _, image, timing = await self.render_one_with_pixels(rt, ws, output, compute_extra_us)
        return image, timing

    async def render_one_with_pixels(self, rt: ModelRuntime, ws: np.ndarray, output: OutputPlan, compute_extra_us: int = 0
                                     ) -> tuple[np.ndarray, pb.FaceImage, pb.RenderTiming]:
        """render_one, plus the rendered pixels uint8 [H, W, 3] at the native resolution (what
        Encode scores against the picture)."""
        images, bt = await self.render_pixels(rt, ws[None], Priority.INTERACTIVE)
        (image, encode_us), = await self._encode_all(images, output)
        return images[0], image, pb.RenderTiming(queue_us=bt.queue_us, compute_us=bt.compute_us + compute_extra_us,
                                                 encode_us=encode_us, batch_size=bt.batch_size)

    async def render_pixels(self, rt: ModelRuntime, ws: np.ndarray, priority: Priority) -> tuple[np.ndarray, object]:
        """W+ float32 [N, num_ws, w_dim] -> (uint8 [N, H, W, 3] at the native resolution, BatchTiming),
        with no image encoding: for readers of the pixels (the parts classifier)."""
        return await rt.render(ws, priority)

    def item_error(self, it: RenderItem, rid: str, exc: BaseException) -> pb.FaceResult:
        if self.metrics is not None:
            stage = "validate" if isinstance(exc, ItemOutOfRange) else "compute"
            self.metrics.count_error(stage, grpc_code(exc).name)
        r = pb.FaceResult(index=it.index, request_id=rid,
                      error=pb.ItemError(code=item_error_code(exc), message=str(exc) or type(exc).__name__))
        if it.seed is not None:
            r.seed = it.seed
        return r

    async def _render(self, rt: ModelRuntime, items: list[RenderItem], psi: float,
                      priority: Priority) -> tuple[np.ndarray, np.ndarray, pb.RenderTiming]:
        """-> (uint8 [N, H, W, 3], W+ float32 [N, num_ws, w_dim], Timing). All-seed groups (bulk,
        seed Generate) are mapped inside the batch's backend call; mixed groups map their seeds
        first, and that mapping time counts as compute."""
        seeded = [it for it in items if it.seed is not None]
        if len(seeded) == len(items):
            images, ws, bt = await rt.render_seeds([it.seed for it in items], psi, priority)
            return images, ws, pb.RenderTiming(queue_us=bt.queue_us, compute_us=bt.compute_us, batch_size=bt.batch_size)
        t_map = time.perf_counter()
        seed_ws = iter(await rt.ws_from_seeds([it.seed for it in seeded], psi) if seeded else [])
        ws = np.stack([next(seed_ws) if it.seed is not None else it.ws for it in items])
        map_us = int((time.perf_counter() - t_map) * 1e6)
        images, bt = await rt.render(ws, priority)
        return images, ws, pb.RenderTiming(queue_us=bt.queue_us, compute_us=bt.compute_us + map_us, batch_size=bt.batch_size)

    async def _encode_all(self, images: np.ndarray, output: OutputPlan) -> list[tuple[pb.FaceImage, int]]:
        """uint8 [N, H, W, 3] -> [(Image, encode_us)]: one pool job per chunk, not per image (a
        thread hand-off costs about what a small image's encode does), up to encode_workers
        chunks in parallel."""
        def work(chunk):
            out = []
            for rgb in chunk:
                t = time.perf_counter()
                out.append((encode_image(rgb, output.format, output.size, output.quality, output.bottom_up), time.perf_counter() - t))
            return out

        loop = asyncio.get_running_loop()
        cuts = np.linspace(0, len(images), min(self.encode_workers, len(images)) + 1).astype(int)
        parts = await asyncio.gather(*[loop.run_in_executor(self._encode_pool, work, images[a:b])
                                       for a, b in zip(cuts[:-1], cuts[1:])])
        encoded = [x for part in parts for x in part]
        if self.metrics is not None:
            for _, seconds in encoded:
                self.metrics.observe_encode(FORMAT_NAMES[output.format], seconds)
        return [(img, int(seconds * 1e6)) for img, seconds in encoded]
