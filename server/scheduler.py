"""Micro-batching in front of one backend.

`MicroBatcher.synthesize(ws, priority)` queues a request's W+ codes; a dispatcher task groups
queued requests into backend calls of at most `max_batch` rows, interactive before bulk, and
runs every backend call (synthesize and map) in ONE worker thread, so the event loop never
blocks and the backend sees one call at a time (its contract). Work whose caller was cancelled
(e.g. a GenerateBatch stream the client dropped) is skipped before it reaches the backend.

Batches form naturally while the backend is busy: everything that queued up during one call
is grouped into the next. Later work adds `max_delay` (wait a few ms to fill a batch) and
metrics; keep the public surface (`synthesize`, `map`, `stats`, `close`) stable.
"""
from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

log = logging.getLogger(__name__)


class Priority(IntEnum):
    INTERACTIVE = 0  # editor sessions, previews, unary Generate
    BULK = 1  # GenerateBatch content builds


@dataclass
class BatchTiming:
    queue_us: int  # time from enqueue to the start of the backend call
    compute_us: int  # duration of the backend call(s) the request ran in
    batch_size: int  # rows in that call


@dataclass
class BatcherStats:
    """Counters, read by tests and (later) exported as metrics."""

    batches_run: int = 0  # backend.synthesize calls made
    rows_run: int = 0  # W+ rows synthesized
    jobs_skipped: int = 0  # queued requests dropped because their caller was cancelled
    map_calls: int = 0


@dataclass(order=True)
class _Job:
    priority: int
    seq: int
    ws: np.ndarray = field(compare=False)  # float32 [n, num_ws, w_dim]
    future: asyncio.Future = field(compare=False)
    enqueued: float = field(compare=False)


class MicroBatcher:
    def __init__(self, backend, max_batch: int, name: str = "model"):
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        self.backend = backend
        self.max_batch = max_batch
        self.name = name
        self.stats = BatcherStats()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"backend-{name}")
        self._heap: list[_Job] = []
        self._seq = itertools.count()
        self._wakeup = asyncio.Event()
        self._dispatcher: asyncio.Task | None = None

    async def synthesize(self, ws: np.ndarray, priority: Priority = Priority.BULK) -> tuple[np.ndarray, BatchTiming]:
        """ws float32 [n, num_ws, w_dim] -> (uint8 [n, H, W, 3], timing). Cancelling the caller
        drops the job if it has not reached the backend yet."""
        if ws.ndim != 3 or len(ws) == 0:
            raise ValueError(f"ws must be a non-empty [n, num_ws, w_dim] array, got {ws.shape}")
        self._ensure_dispatcher()
        fut = asyncio.get_running_loop().create_future()
        heapq.heappush(self._heap, _Job(int(priority), next(self._seq), np.ascontiguousarray(ws, np.float32), fut, time.perf_counter()))
        self._wakeup.set()
        return await fut

    async def map(self, z: np.ndarray, rowwise: bool = True) -> np.ndarray:
        """z float32 [n, z_dim] -> w float32 [n, w_dim], on the backend's worker thread.

        rowwise: one backend call per row. A GEMM's blocking (hence its float rounding) depends
        on the batch size, so this is what makes a seed's w, and its DNA bytes, bit-identical
        whatever batch it arrives in; the mapping MLP is cheap next to synthesis.
        """
        self.stats.map_calls += 1
        fn = self._map_rows if rowwise else self.backend.map
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, z)

    def _map_rows(self, z: np.ndarray) -> np.ndarray:
        return np.concatenate([self.backend.map(z[i : i + 1]) for i in range(len(z))])

    async def close(self) -> None:
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            try:
                await self._dispatcher
            except asyncio.CancelledError:
                pass
            self._dispatcher = None
        for job in self._heap:
            job.future.cancel()
        self._heap.clear()
        self._executor.shutdown(wait=True)

    # ------------------------------------------------------------------ internals

    def _ensure_dispatcher(self) -> None:
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.get_running_loop().create_task(self._dispatch(), name=f"batcher-{self.name}")

    def _take_batch(self) -> list[_Job]:
        """Pop queued jobs in priority order while they fit in max_batch rows; a job larger than
        max_batch goes alone (and runs in chunks). Cancelled jobs are dropped here."""
        jobs: list[_Job] = []
        rows = 0
        while self._heap:
            job = self._heap[0]
            if job.future.done():  # caller cancelled while queued
                heapq.heappop(self._heap)
                self.stats.jobs_skipped += 1
                continue
            if jobs and rows + len(job.ws) > self.max_batch:
                break
            heapq.heappop(self._heap)
            jobs.append(job)
            rows += len(job.ws)
        return jobs

    def _run(self, ws: np.ndarray) -> np.ndarray:
        """Worker thread: backend calls in chunks of max_batch rows."""
        out = []
        for i in range(0, len(ws), self.max_batch):
            out.append(self.backend.synthesize(ws[i : i + self.max_batch]))
            self.stats.batches_run += 1
            self.stats.rows_run += min(self.max_batch, len(ws) - i)
        return np.concatenate(out)

    async def _dispatch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._heap:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            jobs = self._take_batch()
            if not jobs:
                continue
            ws = np.concatenate([j.ws for j in jobs])
            start = time.perf_counter()
            try:
                images = await loop.run_in_executor(self._executor, self._run, ws)
            except Exception as e:  # a backend failure fails these jobs, not the dispatcher
                log.exception("backend %s failed on a batch of %d", self.name, len(ws))
                for j in jobs:
                    if not j.future.done():
                        j.future.set_exception(e)
                continue
            end = time.perf_counter()
            offset = 0
            for j in jobs:
                n = len(j.ws)
                if not j.future.done():
                    timing = BatchTiming(
                        queue_us=int((start - j.enqueued) * 1e6),
                        compute_us=int((end - start) * 1e6),
                        batch_size=min(len(ws), self.max_batch),
                    )
                    j.future.set_result((images[offset : offset + n], timing))
                offset += n
