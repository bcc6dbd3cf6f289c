"""The Encode RPC: pictures of a character -> its DNA, a reconstruction and scores.

    images[i] --decode (upload_images.py)--> uint8 RGB, upright, alpha composited
      --alignment.candidates--> the picture in the training framing, once per plausible alignment
      --encoder--> w per candidate --render (the batcher, as every face)--> keep the candidate
         the model reconstructs best (alignment.choose)
      --mean in W over pictures--> one code, broadcast to W+
      --refine (optional: steps and a time budget)--> W+
      --RenderPipeline.render_one_with_pixels--> image, and the pixels the scores are taken on

Why the mean in W: the encoder maps every picture into the same W, where the model's directions
and mixing are linear; pictures of one character differ by framing, compression and the
encoder's own error, which averaging reduces. A median would only differ with many pictures.
The spread between the pictures' codes is reported so a client can tell "three pictures of one
character" from "three characters".

Bounded work: at most max_encode_images pictures of max_encode_pixels each, checked before
decoding; refinement stops at its step count or time budget (at most max_refine_ms). The CPU
work (decoding, alignment, encoder, refinement, classifier) runs in one worker thread, never on
the event loop, and Encode calls take turns on it rather than oversubscribe the cores that
synthesis needs.
"""
from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from avatarforge.models import latents
from avatarforge.models.alignment import Aligned, candidates, choose
from avatarforge.models.encoder import to_float
from avatarforge.models.encoding_scores import attribute_agreement, distance_to, psnr, reliable_heads, spread
from avatarforge.models.refinement import refine
from avatarforge.v1 import avatarforge_pb2 as pb

from . import validation
from .config import ServerConfig
from .dna import make_dna
from .errors import InvalidRequest
from .imaging import encode_image
from .model_runtime import ModelRegistry, ModelRuntime
from .render_pipeline import RenderPipeline
from .scheduler import Priority
from .upload_images import decode

MAX_REFINE_STEPS = 10_000  # a sanity bound; the time budget is what really limits a call


class EncodeRpc:
    def __init__(self, registry: ModelRegistry, config: ServerConfig, pipeline: RenderPipeline):
        self.registry = registry
        self.config = config
        self.pipeline = pipeline
        self._cpu = ThreadPoolExecutor(1, thread_name_prefix="encode-cpu")
        self._closing = threading.Event()

    def close(self) -> None:
        self._closing.set()  # a refinement running now stops at its next step
        self._cpu.shutdown(wait=False, cancel_futures=True)

    async def _off_loop(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._cpu, fn, *args)

    async def encode(self, request: pb.EncodeRequest) -> pb.EncodeResponse:
        t0 = time.perf_counter()
        rid = validation.request_id(request.request_id)
        rt = self.registry.get(request.model)
        if rt.encoder is None:
            raise InvalidRequest(f"model {rt.bundle.name!r} ships no encoder (encoder.safetensors), so it cannot encode "
                                 "pictures: name a model that has one", "model")
        plan = validation.output(request.output, rt.resolution, rt.sizes)
        validation.item_count(len(request.images), self.config.max_encode_images, "number of images",
                              " (send the pictures of one character, the clearest first)")
        steps, budget_s = self._refinement(request)

        pictures = await self._off_loop(self._decode_all, rt, list(request.images))
        chosen, ws_each = await self._encode_each(rt, pictures)
        ws = latents.broadcast(torch.from_numpy(ws_each.mean(0, keepdims=True)), rt.bundle.config.num_ws)[0]
        refine_us, done = 0, 0
        if steps:
            targets = to_float(torch.from_numpy(np.stack([a.image for a in chosen])))
            # A cancelled call (client gone, deadline, shutdown's grace over) stops refining at
            # the next step: the thread would otherwise run out its budget, holding the CPU from
            # other calls and, at shutdown, the process (Python joins worker threads at exit).
            cancelled = threading.Event()
            stop = lambda: cancelled.is_set() or self._closing.is_set()  # noqa: E731
            try:
                r = await self._off_loop(refine, rt.bundle.generator.synthesis, ws, targets, rt.w_std, steps, budget_s,
                                         rt.classifier, stop)
            except asyncio.CancelledError:
                cancelled.set()
                raise
            ws, done, refine_us = r.ws, r.steps, int(r.seconds * 1e6)
        ws_np = np.ascontiguousarray(ws.numpy(), dtype=np.float32)
        pixels, image, timing = await self.pipeline.render_one_with_pixels(rt, ws_np, plan)
        scored = await self._off_loop(self._score, rt, chosen, ws_each, ws, pixels, plan, request.return_aligned)

        record = [(f"encode/{hashlib.sha256(im.data).hexdigest()[:12]}", 1.0 / len(pictures)) for im in request.images]
        if done:
            record.append(("refine", float(done)))
        timing.compute_us = int((time.perf_counter() - t0) * 1e6) - timing.queue_us - timing.encode_us
        return pb.EncodeResponse(request_id=rid, dna=make_dna(rt.identity, ws_np, edits=record), image=image, timing=timing,
                                 scores=pb.EncodeScores(refine_steps=done, refine_us=refine_us, **scored["scores"]),
                                 pictures=scored["pictures"])

    def _refinement(self, request: pb.EncodeRequest) -> tuple[int, float]:
        """(steps, budget in seconds) of a request, validated."""
        steps, ms = request.refine_steps, request.refine_budget_ms
        if not 0 <= steps <= MAX_REFINE_STEPS:
            raise InvalidRequest(f"refine_steps = {steps} is out of range: use 0 (no refinement) .. {MAX_REFINE_STEPS}; "
                                 "refine_budget_ms bounds the time", "refine_steps")
        if not 0 <= ms <= self.config.max_refine_ms:
            raise InvalidRequest(f"refine_budget_ms = {ms} is out of range: use 1 .. {self.config.max_refine_ms} ms, "
                                 f"or 0 for the default {self.config.default_refine_ms} ms", "refine_budget_ms")
        return steps, (ms or self.config.default_refine_ms) / 1e3

    def _decode_all(self, rt: ModelRuntime, images: list[pb.FaceImage]) -> list[np.ndarray]:
        background = rt.framing.background if rt.framing else None
        return [decode(im, f"images[{i}]", self.config.max_encode_pixels, background) for i, im in enumerate(images)]

    async def _encode_each(self, rt: ModelRuntime, pictures: list[np.ndarray]) -> tuple[list[Aligned], np.ndarray]:
        """Each picture's best alignment and its w: (K Aligned, float32 [K, w_dim])."""
        res = rt.resolution
        options = await self._off_loop(lambda: [candidates(p, res, rt.framing) for p in pictures])
        flat = [a for opts in options for a in opts]
        ws = await self._off_loop(self._run_encoder, rt, np.stack([a.image for a in flat]))
        recon = []
        for i in range(0, len(flat), self.config.max_batch):
            part = latents.broadcast(torch.from_numpy(ws[i : i + self.config.max_batch]), rt.bundle.config.num_ws).numpy()
            images, _ = await rt.render(part, Priority.INTERACTIVE)
            recon.append(images)
        recon = np.concatenate(recon)
        background = rt.framing.background if rt.framing else (0, 0, 0)
        chosen, ws_each, at = [], [], 0
        for opts in options:
            best = at + choose(opts, recon[at : at + len(opts)], background)
            chosen.append(flat[best])
            ws_each.append(ws[best])
            at += len(opts)
        return chosen, np.stack(ws_each)

    @staticmethod
    def _run_encoder(rt: ModelRuntime, images: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return rt.encoder(to_float(torch.from_numpy(images))).numpy()

    def _score(self, rt: ModelRuntime, chosen: list[Aligned], ws_each: np.ndarray, ws: torch.Tensor, pixels: np.ndarray,
               plan: validation.OutputPlan, return_aligned: bool) -> dict:
        aligned = np.stack([a.image for a in chosen])
        recon = np.repeat(pixels[None], len(aligned), axis=0)
        q = psnr(recon, aligned)
        agree = None
        if rt.classifier is not None:
            heads = reliable_heads(rt.bundle.manifest) or list(rt.classifier.vocab)
            agree = attribute_agreement(rt.classifier, heads, aligned, recon)
        own = latents.broadcast(torch.from_numpy(ws_each), rt.bundle.config.num_ws)
        dist = distance_to(own, ws, rt.w_std).numpy()
        pictures = []
        for i, a in enumerate(chosen):
            p = pb.EncodedPicture(index=i, psnr_db=float(q[i]), distance=float(dist[i]), realigned=a.realigned)
            if agree is not None:
                p.attribute_agreement = float(agree[i])
            if return_aligned:
                p.aligned.CopyFrom(encode_image(a.image, plan.format, plan.size, plan.quality, plan.bottom_up))
            pictures.append(p)
        scores = {"psnr_db": float(q.mean()), "spread": spread(own, rt.w_std)}
        if agree is not None:
            scores["attribute_agreement"] = float(agree.mean())
        return {"scores": scores, "pictures": pictures}
