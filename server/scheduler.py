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

Who goes first (each priority is a FIFO; a job may be split across batches by rows):
- interactive requests (unary Generate, previews, editor sessions) fill a batch before bulk
  ones (GenerateBatch), except for a share `bulk_share` of its rows kept for bulk whenever bulk
  is queued: a saturating interactive load slows bulk down but never starves it;
- while interactive traffic is live (seen within `interactive_window_s`), a batch with no
  interactive rows holds at most `bulk_rows_when_interactive` rows: an interactive request that
  arrives while bulk computes waits for a small batch, not a full one. Bulk pays a little
  throughput (a smaller batch) only while interactive users are there to be served.
Bulk work is bounded: `synthesize(..., BULK)` waits while `max_queued_rows`
bulk rows are already queued, so a content build (or a slow client whose stream stopped
reading, see service.generate_batch) queues at most that much and never starves the server.
Work whose caller was cancelled is dropped before it reaches the backend. A backend call that
raises fails the jobs of that batch with BackendFailed (INTERNAL; RenderPipeline turns it into
ItemErrors for streams) and the dispatcher goes on with the next batch.

How long new interactive work would take to come back (`render_wait_s`, read by the server's
admission rule, call_guard): the interactive rows ahead of it, i.e. what is left of the batch
on the backend when it holds interactive rows, plus the interactive rows queued and its own,
times the backend's recent seconds per row (a moving average over finished batches).
It is 0 while no interactive row is queued: the batch on the backend alone is no backlog, so a
client making one call at a time is never refused however slow a row is here. Bulk rows are
not counted: interactive rows go first, and the share kept for bulk makes the estimate low by
at most `bulk_share`. A batch of bulk rows alone is not counted either: it delays a player by
at most one batch, once, and counting it would refuse the first preview of every player who
arrives while a content build streams.

Under a render bound (`render_bound_s`, the admission rule's), an interactive batch holds at
most a CAP_SHARE-th of the bound's worth of rows, or the oldest job's rows if it has more (one
call's 64 seeds are its own: splitting them only delays it). Otherwise a call admitted with the
queue at the bound would then wait for a batch as long again (the rows that arrived behind it),
so accepted calls would take twice the bound; on a CPU, where a row costs about the same in any
batch, a smaller batch loses little throughput. `time_small_batch` times a batch of
SMALL_BATCH_ROWS (a few players editing at once) on this backend at load: the server's
automatic bound is a multiple of it, and the cap is counted by it.

Every batch is recorded in `stats` and, when given, in Prometheus `ServingMetrics`.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import math
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Callable

import numpy as np

from .errors import BackendFailed
from .render_priority import lower_this_thread

log = logging.getLogger(__name__)

ROW_TIME_WEIGHT = 0.25  # of the newest batch in the seconds-per-row average: a few batches follow a change of load
SMALL_BATCH_ROWS = 4  # "a few players editing at once": the batch time_small_batch times
CAP_SHARE = 4  # under a render bound an interactive batch holds 1/CAP_SHARE of its worth of rows


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

    batches_started: int = 0  # batches handed to the backend thread (batches_run counts those that returned)
    batches_run: int = 0  # backend.synthesize calls made
    rows_run: int = 0  # W+ rows synthesized
    jobs_skipped: int = 0  # queued requests dropped because their caller was cancelled
    map_calls: int = 0
    delayed_batches: int = 0  # batches that waited for more work (max_delay) before starting
    bulk_waits: int = 0  # bulk submissions that waited for queue room (backpressure)


@dataclass
class _Job:
    priority: Priority
    seq: int
    ws: np.ndarray | None  # float32 [n, num_ws, w_dim]; None for a seed job (z mapped in the batch)
    future: asyncio.Future
    enqueued: float
    z: np.ndarray | None = None  # float32 [n, z_dim] for synthesize_seeds
    to_ws: Callable[[np.ndarray], np.ndarray] | None = None
    taken: int = 0  # rows handed to batches so far (a job may span several)
    parts: list = field(default_factory=list)  # (first row, images, ws) of each finished slice
    started: float | None = None  # when its first slice's backend call began
    compute_s: float = 0.0  # backend time of the calls its slices ran in
    batch_size: int = 0  # the largest batch it ran in

    @property
    def rows(self) -> int:
        return len(self.z) if self.ws is None else len(self.ws)

    @property
    def untaken(self) -> int:
        return self.rows - self.taken


@dataclass(frozen=True)
class QueuedJob:
    priority: Priority
    rows: int  # rows not yet handed to the backend
    caller_gone: bool  # its caller was cancelled: dropped before it reaches the backend


@dataclass
class _Slice:
    job: _Job
    start: int
    stop: int


class MicroBatcher:
    def __init__(
        self,
        backend,  # a server.backends.base.Backend
        max_batch: int,  # rows per backend call
        name: str = "model",  # model name: thread name and metrics label
        max_delay_s: float = 0.0,  # longest a partial batch waits for work that is on its way
        max_queued_rows: int | None = None,  # bulk rows queued before bulk callers wait; None = 4 x max_batch
        metrics=None,  # server.metrics.ServingMetrics, or None
        bulk_share: float = 0.25,  # fraction of each batch's rows kept for bulk while bulk is queued
        # rows of a bulk-only batch while interactive traffic is live; None = max_batch // 4
        bulk_rows_when_interactive: int | None = None,
        interactive_window_s: float = 0.5,  # interactive traffic counts as live this long after a request
        render_bound_s: float = 0.0,  # the admission bound on render_wait_s; 0 = none (batches uncapped)
        render_nice: int = 0,  # how much lower the worker thread's CPU priority is (render_priority.py)
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
        if not 0 <= bulk_share < 1:
            raise ValueError(f"bulk_share must be in [0, 1), got {bulk_share}")
        self.bulk_reserve = math.ceil(bulk_share * max_batch)
        self.bulk_rows_when_interactive = max(1, min(max_batch, bulk_rows_when_interactive or max_batch // 4))
        self.interactive_window_s = interactive_window_s
        if render_bound_s < 0:
            raise ValueError(f"render_bound_s must be >= 0, got {render_bound_s}")
        self.render_bound_s = render_bound_s
        self.small_batch_seconds: float | None = None  # time_small_batch's measurement
        self._last_interactive = -math.inf
        self._row_s: float | None = None  # backend seconds per row, moving average; None until a batch ran
        self._running: tuple[float, int] | None = None  # (start, rows) of a batch on the backend with interactive rows
        self.stats = BatcherStats()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"backend-{name}",
                                            initializer=lower_this_thread, initargs=(render_nice,))
        self._queues: dict[Priority, deque[_Job]] = {p: deque() for p in Priority}
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
        now = time.perf_counter()
        if priority == Priority.INTERACTIVE:
            self._last_interactive = now
        self._queues[priority].append(_Job(priority, next(self._seq), ws, fut, now, z, to_ws))
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

    def queued_jobs(self) -> list[QueuedJob]:
        """What waits for the backend, interactive first, each queue oldest first (call it on
        the server's event loop: the queues live there)."""
        return [QueuedJob(p, j.untaken, j.future.done()) for p in Priority for j in self._queues[p]]

    def interactive_wait_s(self, now: float | None = None) -> float:
        """Seconds a new interactive row would wait before its backend call starts (module doc);
        0 until a batch has been timed. Call it on the server's event loop."""
        return self._wait_s(self.interactive_rows_queued(), now)

    def render_wait_s(self, rows: int = 1, now: float | None = None) -> float:
        """Seconds until a new interactive job of `rows` rows would be back, while interactive
        rows are queued; else 0 (module doc). What the admission rule bounds."""
        queued = self.interactive_rows_queued()
        return self._wait_s(queued + rows, now) if queued else 0.0

    def _interactive_cap(self) -> int:
        """Interactive rows a batch may hold under a render bound: half the bound's worth, by the
        small batch's time measured at load (not by the running average, which a capped batch
        inflates with its fixed costs, capping the next one harder); max_batch otherwise."""
        if self.render_bound_s and self.small_batch_seconds:
            rows = int(SMALL_BATCH_ROWS * self.render_bound_s / CAP_SHARE / self.small_batch_seconds)
            return max(1, min(self.max_batch, rows))
        return self.max_batch

    def time_small_batch(self, ws_row: np.ndarray, repeats: int = 3) -> float:
        """small_batch_seconds: the median seconds of a backend call of SMALL_BATCH_ROWS copies
        of `ws_row` [num_ws, w_dim], after one untimed call. Call it before serving: it runs on
        the calling thread."""
        ws = np.ascontiguousarray(np.repeat(ws_row[None], SMALL_BATCH_ROWS, axis=0), np.float32)
        self.backend.synthesize(ws)
        times = []
        for _ in range(repeats):
            began = time.perf_counter()
            self.backend.synthesize(ws)
            times.append(time.perf_counter() - began)
        self.small_batch_seconds = float(np.median(times))
        return self.small_batch_seconds

    def _wait_s(self, queued_rows: int, now: float | None) -> float:
        if self._row_s is None:
            return 0.0
        now = time.perf_counter() if now is None else now
        running = 0.0
        if self._running is not None:
            start, rows = self._running
            running = max(0.0, start + rows * self._row_s - now)
        return running + queued_rows * self._row_s

    def interactive_rows_queued(self) -> int:
        """Interactive rows waiting for the backend whose callers still wait: a cancelled call, or
        one past its deadline, leaves its job queued until the dispatcher drops it."""
        return sum(j.untaken for j in self._queues[Priority.INTERACTIVE] if not j.future.done())

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
        for queue in self._queues.values():
            for job in queue:
                job.future.cancel()
            queue.clear()
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
        for priority, queue in self._queues.items():
            if any(j.future.done() for j in queue):
                for j in queue:
                    if j.future.done():  # caller cancelled while queued (or part-way through its rows)
                        self.stats.jobs_skipped += 1
                        self._count_queued(priority, -j.untaken)
                self._queues[priority] = deque(j for j in queue if not j.future.done())

    def _queued(self) -> bool:
        return any(self._queues.values())

    def _delay_left(self) -> float:
        """Seconds the next batch should still wait for more work; 0 = start it now."""
        queued = sum(self._queued_rows.values())
        if self.max_delay_s <= 0 or queued >= self.max_batch or self._mapping == 0:
            return 0.0
        oldest = min(q[0].enqueued for q in self._queues.values() if q)
        return max(0.0, oldest + self.max_delay_s - time.perf_counter())

    def _batch_shape(self) -> tuple[int, int]:
        """(rows of the next batch, of which at most this many interactive). See the module doc."""
        interactive = self._queued_rows[Priority.INTERACTIVE]
        bulk = self._queued_rows[Priority.BULK]
        if not interactive:
            live = time.perf_counter() - self._last_interactive < self.interactive_window_s
            return (self.bulk_rows_when_interactive if live else self.max_batch), 0
        reserve = min(bulk, self.bulk_reserve)
        # the oldest job's own rows always go together: the cap keeps out rows that came later
        cap = max(self._interactive_cap(), self._queues[Priority.INTERACTIVE][0].untaken)
        if cap < self.max_batch - reserve:
            return cap + reserve, cap
        return self.max_batch, self.max_batch - reserve

    def _take(self, priority: Priority, room: int) -> list[_Slice]:
        """Up to `room` rows from the front of one queue, splitting the last job if it is larger."""
        slices, queue = [], self._queues[priority]
        while queue and room > 0:
            job = queue[0]
            n = min(room, job.untaken)
            slices.append(_Slice(job, job.taken, job.taken + n))
            job.taken += n
            room -= n
            self._count_queued(priority, -n)
            if not job.untaken:
                queue.popleft()
        return slices

    def _take_batch(self) -> list[_Slice]:
        """Interactive rows (up to their limit), then bulk, then interactive again if room is left."""
        size, interactive_limit = self._batch_shape()
        batch = self._take(Priority.INTERACTIVE, interactive_limit)
        taken = sum(s.stop - s.start for s in batch)
        batch += self._take(Priority.BULK, size - taken)
        taken = sum(s.stop - s.start for s in batch)
        return batch + self._take(Priority.INTERACTIVE, size - taken)

    def _run(self, batch: list[_Slice]) -> tuple[np.ndarray, list[np.ndarray], float]:
        """Worker thread: map the slices that came as z, then one backend call.
        Returns (images, each slice's W+, when the thread began it)."""
        began = time.perf_counter()
        slice_ws = []
        for s in batch:
            j = s.job
            if j.ws is None:  # a seed job: mapped row by row here, so a face never depends on its batch
                slice_ws.append(np.ascontiguousarray(j.to_ws(self._map_rows(j.z[s.start:s.stop])), np.float32))
            else:
                slice_ws.append(j.ws[s.start:s.stop])
        ws = slice_ws[0] if len(slice_ws) == 1 else np.concatenate(slice_ws)
        images = self.backend.synthesize(ws)
        self.stats.batches_run += 1
        self.stats.rows_run += len(ws)
        return images, slice_ws, began

    def _finish(self, batch: list[_Slice], images: np.ndarray, slice_ws: list[np.ndarray], start: float,
                end: float) -> None:
        """Hand each slice's rows to its job; a job whose rows are all back resolves its caller."""
        rows = len(images)
        offset = 0
        for s, ws in zip(batch, slice_ws):
            j, n = s.job, s.stop - s.start
            j.parts.append((s.start, images[offset:offset + n], ws))
            offset += n
            j.started = start if j.started is None else j.started
            j.compute_s += end - start
            j.batch_size = max(j.batch_size, rows)
            if j.future.done() or sum(len(p[1]) for p in j.parts) < j.rows:
                continue
            j.parts.sort(key=lambda p: p[0])
            out = j.parts[0][1] if len(j.parts) == 1 else np.concatenate([p[1] for p in j.parts])
            job_ws = j.parts[0][2] if len(j.parts) == 1 else np.concatenate([p[2] for p in j.parts])
            timing = BatchTiming(queue_us=int((j.started - j.enqueued) * 1e6), compute_us=int(j.compute_s * 1e6),
                                 batch_size=j.batch_size)
            j.future.set_result((out, job_ws, timing))

    async def _dispatch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._drop_cancelled()
            if not self._queued():
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
            batch = self._take_batch()
            rows = sum(s.stop - s.start for s in batch)
            start = time.perf_counter()
            if any(s.job.priority == Priority.INTERACTIVE for s in batch):
                self._running = (start, rows)
            self.stats.batches_started += 1
            try:
                images, slice_ws, began = await loop.run_in_executor(self._executor, self._run, batch)
            except Exception as e:  # a backend failure fails these jobs, not the dispatcher
                log.exception("backend %s failed on a batch of %d", self.name, rows)
                if self.metrics is not None:
                    self.metrics.count_error("compute", "INTERNAL")
                failure = BackendFailed(f"the {self.backend_name} backend of model {self.name!r} failed on the batch of "
                                        f"{rows} faces this request was in ({type(e).__name__}: {e}); the server is "
                                        "still up: retry, and report it if it happens again")
                failure.__cause__ = e
                for s in batch:
                    if not s.job.future.done():
                        s.job.future.set_exception(failure)
                continue
            finally:
                self._running = None
            end = time.perf_counter()
            # From the thread starting the batch to this loop holding its images: waiting for the
            # thread (a map call ahead, a parked thread) is not the backend's speed, but a busy
            # event loop's delay in taking the images back is part of what a row costs here.
            row_s = (end - began) / rows
            self._row_s = row_s if self._row_s is None else (1 - ROW_TIME_WEIGHT) * self._row_s + ROW_TIME_WEIGHT * row_s
            if self.metrics is not None:
                waits = [(s.job.priority.label, start - s.job.enqueued) for s in batch for _ in range(s.stop - s.start)]
                self.metrics.observe_batch(self.name, self.backend_name, waits, end - start)
            self._finish(batch, images, slice_ws, start, end)
