"""Dynamic micro-batching in front of one backend (one MicroBatcher per model and backend).

`MicroBatcher.synthesize(ws, priority)` queues a request's W+ codes (`synthesize_seeds(z, ...)`
its z, mapped inside the batch's backend call); a dispatcher task groups
queued requests of every RPC into backend calls of at most `max_batch` rows and runs every
backend call (synthesize and map) in ONE worker thread, so the event loop never blocks and the
backend sees one call at a time (its contract).

When a batch starts (Triton's dynamic batcher is the anchor, research/serving.md §1):
- at once when `max_batch` rows are queued: the delay never holds back a full batch;
- at once when no more work is on its way: the batcher knows which callers are still mapping
  z to W with `map` (it runs on its worker thread and their `synthesize` follows in the same
  event-loop step), so a lone request (concurrency 1) never waits for company that cannot come
  (seed-only requests use `synthesize_seeds`, mapped inside the batch, and never wait);
- otherwise when the oldest queued job has waited `max_delay_s`: a few ms buys a fuller batch
  when many callers are mid-flight.

Interactive requests (unary Generate, previews, editor sessions) are taken before bulk ones
(GenerateBatch). Bulk work is bounded: `synthesize(..., BULK)` waits while `max_queued_rows`
bulk rows are already queued, so a content build (or a slow client whose stream stopped
reading, see service.generate_batch) queues at most that much and never starves the server.
Work whose caller was cancelled is dropped before it reaches the backend.

Every batch is recorded in `stats` and, when given, in Prometheus `ServingMetrics`.
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
from typing import Callable

import numpy as np

log = logging.getLogger(__name__)


class Priority(IntEnum):
    INTERACTIVE = 0  # editor sessions, previews, unary Generate
    BULK = 1  # GenerateBatch content builds

    @property
    def label(self) -> str:  # the metrics label
        return self.name.lower()


@dataclass
class BatchTiming:
    queue_us: int  # time from enqueue to the start of the backend call
    compute_us: int  # duration of the backend call(s) the request ran in
    batch_size: int  # rows in that call


@dataclass
class BatcherStats:
    """Counters, read by tests and the benchmark; the same events feed Prometheus metrics."""

    batches_run: int = 0  # backend.synthesize calls made
    rows_run: int = 0  # W+ rows synthesized
    jobs_skipped: int = 0  # queued requests dropped because their caller was cancelled
    map_calls: int = 0
    delayed_batches: int = 0  # batches that waited for more work (max_delay) before starting
    bulk_waits: int = 0  # bulk submissions that waited for queue room (backpressure)


@dataclass(order=True)
class _Job:
    priority: int
    seq: int
    ws: np.ndarray | None = field(compare=False)  # float32 [n, num_ws, w_dim]; None until z is mapped
    future: asyncio.Future = field(compare=False)
    enqueued: float = field(compare=False)
    z: np.ndarray | None = field(default=None, compare=False)  # float32 [n, z_dim] for synthesize_seeds
    to_ws: Callable[[np.ndarray], np.ndarray] | None = field(default=None, compare=False)

    @property
    def rows(self) -> int:
        return len(self.z) if self.ws is None else len(self.ws)


class MicroBatcher:
    def __init__(
        self,
        backend,  # a server.backends.base.Backend
        max_batch: int,  # rows per backend call
        name: str = "model",  # model name: thread name and metrics label
        max_delay_s: float = 0.0,  # longest a partial batch waits for work that is on its way
        max_queued_rows: int | None = None,  # bulk rows queued before bulk callers wait; None = 4 x max_batch
        metrics=None,  # server.metrics.ServingMetrics, or None
    ):
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        if max_delay_s < 0:
            raise ValueError(f"max_delay_s must be >= 0, got {max_delay_s}")
        self.backend = backend
        self.max_batch = max_batch
        self.max_delay_s = max_delay_s
        self.max_queued_rows = max_queued_rows or 4 * max_batch
        self.name = name
        self.metrics = metrics
        self.backend_name = getattr(backend, "name", type(backend).__name__)
        self.stats = BatcherStats()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"backend-{name}")
        self._heap: list[_Job] = []
        self._seq = itertools.count()
        self._queued_rows = {p: 0 for p in Priority}
        self._mapping = 0  # map() calls in flight: their synthesize() is on its way
        self._wakeup = asyncio.Event()  # new work queued or a mapping finished
        self._room = asyncio.Event()  # bulk rows left the queue
        self._dispatcher: asyncio.Task | None = None

    async def synthesize(self, ws: np.ndarray, priority: Priority = Priority.BULK) -> tuple[np.ndarray, BatchTiming]:
        """ws float32 [n, num_ws, w_dim] -> (uint8 [n, H, W, 3], timing). Bulk callers may wait
        here for queue room. Cancelling the caller drops the job if it has not reached the
        backend yet."""
        if ws.ndim != 3 or len(ws) == 0:
            raise ValueError(f"ws must be a non-empty [n, num_ws, w_dim] array, got {ws.shape}")
        images, _, timing = await self._submit(np.ascontiguousarray(ws, np.float32), None, None, Priority(priority))
        return images, timing

    async def synthesize_seeds(self, z: np.ndarray, to_ws: Callable[[np.ndarray], np.ndarray],
                               priority: Priority = Priority.BULK) -> tuple[np.ndarray, np.ndarray, BatchTiming]:
        """z float32 [n, z_dim] -> (uint8 [n, H, W, 3], W+ float32 [n, num_ws, w_dim], timing).

        Mapping (row by row, as in `map`), then `to_ws(w [n, w_dim]) -> W+` (broadcast and
        truncation), then synthesis, all inside the batch's one worker-thread call: one thread
        hand-off per batch instead of two per request, and the mapping of every request of
        the batch runs back to back with its synthesis. compute_us covers all three."""
        if z.ndim != 2 or len(z) == 0:
            raise ValueError(f"z must be a non-empty [n, z_dim] array, got {z.shape}")
        return await self._submit(None, np.ascontiguousarray(z, np.float32), to_ws, Priority(priority))

    async def _submit(self, ws, z, to_ws, priority: Priority):
        rows = len(z) if ws is None else len(ws)
        if priority == Priority.BULK:
            await self._wait_for_room(rows)
        self._ensure_dispatcher()
        fut = asyncio.get_running_loop().create_future()
        heapq.heappush(self._heap, _Job(int(priority), next(self._seq), ws, fut, time.perf_counter(), z, to_ws))
        self._count_queued(priority, rows)
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
        self._mapping += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, z)
        finally:
            # The caller's synthesize() (if any) runs in this same event-loop step, before
            # the dispatcher can look again: it never sees "nothing coming" in between.
            self._mapping -= 1
            self._wakeup.set()

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
        self._room.set()
        self._executor.shutdown(wait=True)

    # ------------------------------------------------------------------ admission

    async def _wait_for_room(self, rows: int) -> None:
        """Backpressure: wait while the bulk queue is full. A job larger than the whole limit
        still gets in once the queue is empty, so nothing waits forever."""
        waited = False
        while self._queued_rows[Priority.BULK] and self._queued_rows[Priority.BULK] + rows > self.max_queued_rows:
            waited = True
            self._room.clear()
            await self._room.wait()
        self.stats.bulk_waits += waited

    def _count_queued(self, priority: Priority, rows: int) -> None:
        self._queued_rows[priority] += rows
        if rows < 0 and priority == Priority.BULK:
            self._room.set()
        if self.metrics is not None:
            self.metrics.queue_depth.labels(self.name, self.backend_name, priority.label).set(self._queued_rows[priority])

    # ------------------------------------------------------------------ dispatch

    def _ensure_dispatcher(self) -> None:
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.get_running_loop().create_task(self._dispatch(), name=f"batcher-{self.name}")

    def _drop_cancelled(self) -> None:
        live = [j for j in self._heap if not j.future.done()]
        if len(live) != len(self._heap):
            for j in self._heap:
                if j.future.done():  # caller cancelled while queued
                    self.stats.jobs_skipped += 1
                    self._count_queued(Priority(j.priority), -j.rows)
            self._heap = live
            heapq.heapify(self._heap)

    def _delay_left(self) -> float:
        """Seconds the next batch should still wait for more work; 0 = start it now."""
        queued = sum(self._queued_rows.values())
        if self.max_delay_s <= 0 or queued >= self.max_batch or self._mapping == 0:
            return 0.0
        oldest = min(j.enqueued for j in self._heap)
        return max(0.0, oldest + self.max_delay_s - time.perf_counter())

    def _take_batch(self) -> list[_Job]:
        """Pop queued jobs in priority order while they fit in max_batch rows; a job larger than
        max_batch goes alone (and runs in chunks)."""
        jobs: list[_Job] = []
        rows = 0
        while self._heap:
            job = self._heap[0]
            if jobs and rows + job.rows > self.max_batch:
                break
            heapq.heappop(self._heap)
            self._count_queued(Priority(job.priority), -job.rows)
            jobs.append(job)
            rows += job.rows
        return jobs

    def _run(self, jobs: list[_Job]) -> np.ndarray:
        """Worker thread: map the jobs that came as z, then backend calls in chunks of max_batch rows."""
        for j in jobs:
            if j.ws is None:
                j.ws = np.ascontiguousarray(j.to_ws(self._map_rows(j.z)), np.float32)
        ws = jobs[0].ws if len(jobs) == 1 else np.concatenate([j.ws for j in jobs])
        out = []
        step = self.max_batch
        for i in range(0, len(ws), step):
            out.append(self.backend.synthesize(ws[i : i + step]))
            self.stats.batches_run += 1
            self.stats.rows_run += min(step, len(ws) - i)
        return out[0] if len(out) == 1 else np.concatenate(out)

    async def _dispatch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._drop_cancelled()
            if not self._heap:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            delay = self._delay_left()
            if delay > 0:
                self._wakeup.clear()
                try:
                    await asyncio.wait_for(self._wakeup.wait(), delay)
                except asyncio.TimeoutError:  # (a distinct class before Python 3.11)
                    self.stats.delayed_batches += 1
                continue
            jobs = self._take_batch()
            rows = sum(j.rows for j in jobs)
            start = time.perf_counter()
            try:
                images = await loop.run_in_executor(self._executor, self._run, jobs)
            except Exception as e:  # a backend failure fails these jobs, not the dispatcher
                log.exception("backend %s failed on a batch of %d", self.name, rows)
                if self.metrics is not None:
                    self.metrics.count_error("compute", "INTERNAL")
                for j in jobs:
                    if not j.future.done():
                        j.future.set_exception(e)
                continue
            end = time.perf_counter()
            batch_size = min(rows, self.max_batch)
            if self.metrics is not None:
                waits = [(Priority(j.priority).label, start - j.enqueued) for j in jobs for _ in range(j.rows)]
                self.metrics.observe_batch(self.name, self.backend_name, waits, end - start)
            offset = 0
            for j in jobs:
                n = j.rows
                if not j.future.done():
                    timing = BatchTiming(queue_us=int((start - j.enqueued) * 1e6),
                                         compute_us=int((end - start) * 1e6), batch_size=batch_size)
                    j.future.set_result((images[offset : offset + n], j.ws, timing))
                offset += n
