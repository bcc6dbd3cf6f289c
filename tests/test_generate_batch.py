"""GenerateBatch: the bulk NPC stream, as a content build uses it."""
from __future__ import annotations

import asyncio
import itertools
import threading
import time

import grpc
import pytest

from avatarforge.models.latents import MAX_SEED
from avatarforge.server.service import BULK_LOOKAHEAD


def kinds(events):
    return [e.WhichOneof("event") for e in events]


def test_stream_order_counts_progress_and_summary(client):
    events = list(client.generate_batch(range(100, 140), request_id="build-7"))
    k = kinds(events)
    assert k[0] == "progress" and k[-1] == "summary" and k.count("summary") == 1
    items = [e.item for e in events if e.HasField("item")]
    assert [i.index for i in items] == list(range(40))
    assert [i.seed for i in items] == list(range(100, 140))
    assert all(i.request_id == "build-7" and i.image.data and i.dna.w_plus for i in items)
    progress = [e.progress for e in events if e.HasField("progress")]
    assert progress[0].completed == 0 and progress[-1].completed == 40
    assert all(p.total == 40 for p in progress)
    assert [p.completed for p in progress] == sorted(p.completed for p in progress)
    assert len(progress) >= 3  # interleaved, one per micro-batch of 16: 16, 32, 40
    s = events[-1].summary
    assert (s.total, s.produced, s.failed, s.skipped, s.request_id) == (40, 40, 0, 0, "build-7")
    assert s.timing.compute_us > 0 and s.timing.encode_us > 0 and s.wall_us > 0


def test_explicit_seed_list_keeps_request_order(client):
    seeds = [7, 3, 99, 3]
    items = list(client.generate_batch(seeds).items())
    assert [(i.index, i.seed) for i in items] == list(enumerate(seeds))
    assert items[1].image.data == items[3].image.data


def test_progress_every(client):
    events = list(client.generate_batch(range(0, 20), progress_every=5))
    assert [e.progress.completed for e in events if e.HasField("progress")] == [0, 16, 20]


def test_resume_from_start_index_gives_exactly_the_missing_items(client):
    full = {i.index: i for i in client.generate_batch(range(0, 30)).items()}
    stream = client.generate_batch(range(0, 30), start_index=17)
    resumed = list(stream.items())
    assert [i.index for i in resumed] == list(range(17, 30))
    assert all(i.image.data == full[i.index].image.data for i in resumed)
    assert (stream.summary.skipped, stream.summary.produced, stream.summary.total) == (17, 13, 30)
    # start_index == total: nothing left, but still a clean summary.
    done = client.generate_batch(range(0, 30), start_index=30)
    assert list(done.items()) == [] and done.summary.produced == 0


def test_a_bad_item_does_not_end_the_stream(client):
    stream = client.generate_batch(base_seed=MAX_SEED - 1, count=4)
    items = list(stream.items())
    assert [i.seed for i in items] == [MAX_SEED - 1, MAX_SEED, MAX_SEED + 1, MAX_SEED + 2]
    assert [i.HasField("error") for i in items] == [False, False, True, True]
    assert items[2].error.code == grpc.StatusCode.OUT_OF_RANGE.value[0]
    assert str(MAX_SEED + 1) in items[2].error.message
    assert (stream.summary.produced, stream.summary.failed) == (2, 2)


def hold_backend(batcher) -> tuple[threading.Event, threading.Event]:
    """(held, release): park the batcher's one backend worker thread once the call it is
    running has finished, until `release` is set. Reaches into the scheduler's executor: the
    server has no public hook for this."""
    held, release = threading.Event(), threading.Event()
    batcher._executor.submit(lambda: (held.set(), release.wait(60)))
    return held, release


def queued_work_cancelled(server, batcher) -> bool:
    """Whether work is queued in the scheduler and all of it belongs to cancelled callers
    (read on the server's loop, where the scheduler lives)."""
    async def check():
        jobs = batcher.queued_jobs()
        return bool(jobs) and all(job.caller_gone for job in jobs)

    return asyncio.run_coroutine_threadsafe(check(), server.loop).result(10)


def test_cancel_mid_stream_stops_generation(client, server):
    batcher = server.batcher()
    stats, max_batch = batcher.stats, batcher.max_batch
    before, rows_before, skipped_before = stats.batches_run, stats.rows_run, stats.jobs_skipped
    stream = client.generate_batch(base_seed=0, count=100_000)
    it = iter(stream.items())
    for _ in range(3):
        next(it)
    held, release = hold_backend(batcher)
    try:
        assert held.wait(30)
        ran = stats.batches_run - before  # this stream's backend calls so far; no more run while held
        ran_rows = stats.rows_run - rows_before
        # Everything computed reaches the client. Then the stream waits for the micro-batch
        # already handed to the held backend, with its other BULK_LOOKAHEAD - 1 queued behind.
        assert ran_rows % max_batch == 0, "a stream's micro-batch is answered whole"
        assert 3 + sum(1 for _ in itertools.islice(it, ran_rows - 3)) == ran_rows
        stream.cancel()
        with pytest.raises(grpc.RpcError) as err:
            for _ in it:
                pass
        assert err.value.code() == grpc.StatusCode.CANCELLED
        deadline = time.monotonic() + 20
        while not queued_work_cancelled(server, batcher):
            assert time.monotonic() < deadline, "the cancelled stream's queued work was never cancelled"
            time.sleep(0.05)
    finally:
        release.set()
    # A bulk call queued after the stream's work: once it is answered, that work ran or was dropped.
    assert len(list(client.generate_batch([0]).items())) == 1
    assert stats.jobs_skipped - skipped_before == BULK_LOOKAHEAD - 1, "queued lookahead was not dropped"
    assert stats.batches_run - before == ran + 1 + 1, "only the batch on the backend (and the fence's) may run"
    time.sleep(1.0)
    assert stats.batches_run - before == ran + 2, "batches kept running after the client cancelled"
