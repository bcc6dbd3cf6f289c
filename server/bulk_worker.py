"""One bulk worker: a model, a backend and the server's render path, writing faces to a folder
or any fsspec URL (server/bulk_output.py).

`avatarforge bulk` hands a `FaceWriter` to Ray Data (`map_batches` with an actor pool), but the
class imports no Ray: a batch is a dict of numpy columns in, a dict of numpy columns out.

    {"seed": int64 [n]} -> RenderPipeline.produce (the exact code GenerateBatch runs)
                        -> seed000042.dna, then seed000042.<ext>, each appearing whole
                           (FaceStore.write: a temporary name and a rename, or one put)
                        -> {"seed": int64 [n], "written": bool [n]}

Why the server's render path and not a copy: bulk files must be byte-identical to what
`avatarforge generate` writes from a server with the same model, backend, seeds, psi, size and
format. Why check the disk again before rendering: when Ray retries a batch on a restarted
actor, the seeds the dead actor already finished are skipped, so no face is written twice.
"""
from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

import numpy as np

from avatarforge.client import FORMATS
from avatarforge.models.bundle import load_bundle
from avatarforge.v1 import avatarforge_pb2 as pb

from . import validation
from .backends.precision_gate import create_serving_backend
from .bulk_output import FaceStore
from .model_runtime import ModelRuntime
from .render_pipeline import RenderItem, RenderPipeline
from .scheduler import MicroBatcher, Priority


@dataclass(frozen=True)
class BulkJob:
    """What every worker renders and where it writes; built once by the command."""

    model: str  # bundle name or path (models/bundle.py resolves it)
    out: str  # output folder or fsspec URL every worker reaches (bulk_output.output_url)
    format: str = "png"  # a key of avatarforge.client.FORMATS
    size: int = 0  # output edge in pixels; 0 = the model's native resolution
    quality: int = 0  # JPEG/WebP quality 1-100; 0 = the encoder's default
    psi: float | None = None  # truncation; None = the bundle's default
    backend: str = "auto"  # a server.backends name
    device: str = "auto"  # "auto" | "cpu" | "cuda" | "cuda:<i>"
    threads: int | None = None  # CPU intra-op threads per worker; None = the library's default
    batch_size: int = 16  # rows per backend call (synthesis rounding depends on it; README "Determinism")
    model_dir: str | None = None


class FaceWriter:
    """A Ray Data actor (or any process's object): loads the model once, renders batches of seeds."""

    def __init__(self, job: BulkJob):
        self.job = job
        self.store = FaceStore(job.out)
        bundle = load_bundle(job.model, job.model_dir)
        cfg = bundle.config
        backend = create_serving_backend(job.backend, bundle, "exact", device=job.device, threads=job.threads,
                                         max_batch=job.batch_size)
        self.psi = bundle.default_truncation_psi if job.psi is None else job.psi
        # One caller, so each call's seeds go to the backend together, up to batch_size rows a call.
        self.runtime = ModelRuntime(bundle, backend, MicroBatcher(backend, max_batch=job.batch_size, name=bundle.name),
                                    default_psi=self.psi)
        self.output = validation.output(pb.OutputSpec(format=FORMATS[job.format], size=job.size, quality=job.quality),
                                        cfg.resolution, self.runtime.sizes)
        self.pipeline = RenderPipeline(encode_workers=1)
        self.loop = asyncio.new_event_loop()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        seeds = [int(s) for s in batch["seed"]]
        done = self.store.complete_among(seeds, self.job.format)
        todo = [s for s in seeds if s not in done]
        if todo:
            items = [RenderItem(index=i, seed=s) for i, s in enumerate(todo)]
            results, _ = self.loop.run_until_complete(
                self.pipeline.produce(self.runtime, items, self.psi, self.output, f"bulk-{os.getpid()}", Priority.BULK))
            for r in results:
                if r.HasField("error"):
                    raise RuntimeError(f"seed {r.seed}: {r.error.message}")
                img_path, dna_path = self.store.face_paths(r.seed, self.job.format)
                self.store.write(dna_path, r.dna.SerializeToString())
                self.store.write(img_path, r.image.data)
        return {"seed": np.asarray(seeds, np.int64), "written": np.asarray([s not in done for s in seeds])}
