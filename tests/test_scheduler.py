"""MicroBatcher on the real torch backend of the tiny bundle: grouping, priority, cancellation."""
from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from avatarforge.models.bundle import load_bundle
from avatarforge.server.backends import create_backend
from avatarforge.server.scheduler import ROW_TIME_WEIGHT, MicroBatcher, Priority


@pytest.fixture(scope="module")
def backend(tiny_bundle):
    return create_backend("torch", load_bundle(tiny_bundle), device="cpu")


def codes(n: int, seed: int = 0) -> np.ndarray:  # float32 [n, num_ws=8, w_dim=32]
    return np.random.default_rng(seed).standard_normal((n, 8, 32)).astype(np.float32)


def test_queued_requests_share_one_backend_call(backend):
    async def scenario():
        mb = MicroBatcher(backend, max_batch=8)
        parts = [codes(2, s) for s in range(3)]
        out = await asyncio.gather(*[mb.synthesize(p) for p in parts])
        await mb.close()
        return mb.stats, out, parts

    stats, out, parts = asyncio.run(scenario())
    assert stats.batches_run == 1 and stats.rows_run == 6
    for (images, timing), p in zip(out, parts):
        assert images.shape == (2, 32, 32, 3) and timing.batch_size == 6
        assert np.abs(images.astype(int) - backend.synthesize(p).astype(int)).max() <= 1


def test_interactive_goes_before_bulk_and_large_jobs_are_chunked(backend):
    async def scenario():
        # interactive_window_s=0: bulk batches stay full-size after the interactive request
        # (test_bulk_batches_shrink_while_interactive_traffic_is_live covers the other case).
        mb = MicroBatcher(backend, max_batch=4, interactive_window_s=0)
        order = []

        async def run(ws, prio, tag):
            await mb.synthesize(ws, prio)
            order.append(tag)

        await asyncio.gather(run(codes(10), Priority.BULK, "bulk"), run(codes(1), Priority.INTERACTIVE, "edit"))
        await mb.close()
        return mb.stats, order

    stats, order = asyncio.run(scenario())
    # Both were queued before the dispatcher ran: the interactive row goes first and bulk rows
    # fill its batch; the bulk job of 10 rows is split over calls of 1 + 3, 4 and 3 rows.
    assert order == ["edit", "bulk"]
    assert stats.batches_run == 3 and stats.rows_run == 11


def test_cancelled_requests_never_reach_the_backend(backend):
    async def scenario():
        mb = MicroBatcher(backend, max_batch=4)
        doomed = asyncio.ensure_future(mb.synthesize(codes(4)))
        await asyncio.sleep(0)  # queued, dispatcher not yet run
        doomed.cancel()
        kept = await mb.synthesize(codes(1))
        await mb.close()
        return mb.stats, kept

    stats, (images, _) = asyncio.run(scenario())
    assert images.shape == (1, 32, 32, 3)
    assert stats.jobs_skipped == 1 and stats.rows_run == 1


def test_a_lone_request_never_waits_for_company(backend):
    # max_delay is long, but nothing else is on its way (no mapping in flight): start at once.
    async def scenario():
        mb = MicroBatcher(backend, max_batch=8, max_delay_s=30.0, interactive_window_s=0)  # bulk batches stay full
        out = await asyncio.wait_for(mb.synthesize(codes(1), Priority.INTERACTIVE), 20)
        await mb.close()
        return mb.stats, out

    stats, (images, timing) = asyncio.run(scenario())
    assert images.shape == (1, 32, 32, 3) and timing.batch_size == 1
    assert stats.delayed_batches == 0


def test_work_on_its_way_joins_the_batch_and_a_full_batch_never_waits(backend):
    # Request A is queued while B is still mapping its seed: the batch waits for B (not for
    # max_delay), and both run in one backend call. Then 8 rows fill max_batch: no wait at all.
    async def scenario():
        mb = MicroBatcher(backend, max_batch=8, max_delay_s=30.0, interactive_window_s=0)  # bulk batches stay full
        z = np.random.default_rng(0).standard_normal((1, 32)).astype(np.float32)

        async def mapped_request():
            w = await mb.map(z)
            return await mb.synthesize(np.repeat(w[:, None, :], 8, axis=1), Priority.INTERACTIVE)

        b = asyncio.ensure_future(mapped_request())
        await asyncio.sleep(0)  # B's mapping is in flight
        a = await asyncio.wait_for(mb.synthesize(codes(1), Priority.INTERACTIVE), 20)
        b = await b
        full = await asyncio.wait_for(asyncio.gather(*[mb.synthesize(codes(4, s)) for s in range(2)]), 20)
        await mb.close()
        return mb.stats, a, b, full

    stats, (_, ta), (_, tb), full = asyncio.run(scenario())
    assert ta.batch_size == tb.batch_size == 2
    assert [t.batch_size for _, t in full] == [8, 8]
    assert stats.batches_run == 2 and stats.delayed_batches == 0


def test_bulk_backpressure_bounds_the_queue_and_interactive_overtakes(backend):
    async def scenario():
        mb = MicroBatcher(backend, max_batch=4, max_queued_rows=8)
        peak = 0
        done = []

        async def bulk(s):
            nonlocal peak
            r = await mb.synthesize(codes(4, s), Priority.BULK)
            done.append("bulk")
            return r

        async def watch():
            nonlocal peak
            while len(done) < 6:
                peak = max(peak, mb._queued_rows[Priority.BULK])
                await asyncio.sleep(0)

        async def interactive():
            await asyncio.sleep(0)
            await mb.synthesize(codes(1), Priority.INTERACTIVE)
            done.append("edit")

        watcher = asyncio.ensure_future(watch())
        await asyncio.gather(*[bulk(s) for s in range(5)], interactive())
        await watcher
        await mb.close()
        return mb.stats, peak, done

    stats, peak, done = asyncio.run(scenario())
    assert peak <= 8 and stats.bulk_waits >= 1  # 5 jobs of 4 rows, at most 8 rows queued
    assert stats.rows_run == 21
    assert done.index("edit") < 3  # queued behind the full bulk queue, served before most of it


def test_batches_are_recorded_as_prometheus_metrics(backend):
    from test_metrics import samples

    from avatarforge.server.serving_metrics import ServingMetrics

    async def scenario():
        m = ServingMetrics()
        mb = MicroBatcher(backend, max_batch=8, name="tiny", metrics=m)
        await asyncio.gather(mb.synthesize(codes(2), Priority.BULK), mb.synthesize(codes(1), Priority.INTERACTIVE))
        await mb.close()
        return m

    s = samples(asyncio.run(scenario()))
    mb = (("backend", "torch"), ("model", "tiny"))
    assert s[("avatarforge_batch_size_count", mb)] == 1 and s[("avatarforge_batch_size_sum", mb)] == 3
    assert s[("avatarforge_items_total", tuple(sorted((*mb, ("priority", "bulk")))))] == 2
    assert s[("avatarforge_items_total", tuple(sorted((*mb, ("priority", "interactive")))))] == 1
    assert s[("avatarforge_queue_depth", tuple(sorted((*mb, ("priority", "bulk")))))] == 0


def test_batched_seed_to_z_is_bit_identical_to_one_generator_per_seed():
    from avatarforge.models.latents import MAX_SEED, z_from_seed, zs_from_seeds

    seeds = [0, 1, 2, 42, 12345, 2**31, MAX_SEED - 1, MAX_SEED, *range(1000, 1100)]
    assert np.array_equal(zs_from_seeds(seeds, 512), np.stack([z_from_seed(s, 512) for s in seeds]))
    with pytest.raises(ValueError):
        zs_from_seeds([MAX_SEED + 1], 8)


def test_seeds_mapped_inside_the_batch_give_the_same_codes_and_images(backend):
    # synthesize_seeds maps z row by row inside the batch's one backend call; the W+ it returns
    # is bit-identical to map() + the same to_ws outside, and the images to synthesize(ws).
    z = np.random.default_rng(3).standard_normal((3, 32)).astype(np.float32)
    to_ws = lambda w: np.repeat(w[:, None, :], 8, axis=1) * 0.7  # broadcast + a stand-in truncation

    async def scenario():
        mb = MicroBatcher(backend, max_batch=8, interactive_window_s=0)  # bulk batches stay full
        fused = await asyncio.gather(mb.synthesize_seeds(z[:2], to_ws, Priority.INTERACTIVE),
                                     mb.synthesize_seeds(z[2:], to_ws, Priority.BULK))
        ws = to_ws(await mb.map(z))
        images, _ = await mb.synthesize(ws)
        await mb.close()
        return mb.stats, fused, ws, images

    stats, fused, ws, images = asyncio.run(scenario())
    (im_a, ws_a, ta), (im_b, ws_b, tb) = fused
    assert ta.batch_size == tb.batch_size == 3 and stats.batches_run == 2
    assert np.array_equal(np.concatenate([ws_a, ws_b]), ws)
    assert np.abs(np.concatenate([im_a, im_b]).astype(int) - images.astype(int)).max() <= 1


def test_bulk_batches_shrink_while_interactive_traffic_is_live(backend):
    # A bulk batch that is computing makes an arriving interactive request wait for it: while
    # interactive users are about, bulk runs in batches of bulk_rows_when_interactive rows.
    async def scenario(window_s):
        mb = MicroBatcher(backend, max_batch=16, bulk_rows_when_interactive=4, interactive_window_s=window_s)
        await mb.synthesize(codes(1), Priority.INTERACTIVE)
        before = mb.stats.batches_run
        images, timing = await mb.synthesize(codes(16, 5), Priority.BULK)
        await mb.close()
        return mb.stats.batches_run - before, images, timing

    calls, images, timing = asyncio.run(scenario(60.0))
    assert calls == 4 and timing.batch_size == 4
    # The job split over four calls comes back whole, in order, as one call would render it.
    assert np.abs(images.astype(int) - backend.synthesize(codes(16, 5)).astype(int)).max() <= 1
    calls, _, timing = asyncio.run(scenario(0.0))  # no interactive traffic live: one full batch
    assert calls == 1 and timing.batch_size == 16


def test_saturating_interactive_load_never_starves_bulk(backend):
    # 8 closed-loop interactive clients could fill every batch of 8 by themselves; bulk still
    # gets its share (a quarter of each batch's rows) and its 16 rows finish while they run.
    async def scenario():
        mb = MicroBatcher(backend, max_batch=8, bulk_share=0.25)
        stop, interactive_rows = False, 0

        async def player(seed):
            nonlocal interactive_rows
            while not stop:
                await mb.synthesize(codes(1, seed), Priority.INTERACTIVE)
                interactive_rows += 1

        players = [asyncio.ensure_future(player(s)) for s in range(8)]
        await asyncio.sleep(0.05)  # the players are saturating the batcher
        rows_before = mb.stats.rows_run
        _, timing = await asyncio.wait_for(mb.synthesize(codes(16, 9), Priority.BULK), 60)
        rows_during = mb.stats.rows_run - rows_before
        still_playing = not any(p.done() for p in players)
        stop = True
        await asyncio.gather(*players)
        await mb.close()
        return rows_during, still_playing, interactive_rows

    rows_during, still_playing, interactive_rows = asyncio.run(scenario())
    assert still_playing and interactive_rows > 16
    assert 16 / rows_during >= 0.25, f"bulk got {16 / rows_during:.0%} of the rows while it waited"


def test_a_seed_job_split_across_batches_maps_every_row_as_one_batch_would(backend):
    z = np.random.default_rng(4).standard_normal((10, 32)).astype(np.float32)
    to_ws = lambda w: np.repeat(w[:, None, :], 8, axis=1)

    async def scenario():
        mb = MicroBatcher(backend, max_batch=4, interactive_window_s=0)
        images, ws, _ = await mb.synthesize_seeds(z, to_ws, Priority.BULK)  # calls of 4, 4 and 2 rows
        whole = to_ws(await mb.map(z))
        await mb.close()
        return mb.stats, images, ws, whole

    stats, images, ws, whole = asyncio.run(scenario())
    assert stats.batches_run == 3 and np.array_equal(ws, whole)
    assert np.abs(images.astype(int) - backend.synthesize(whole).astype(int)).max() <= 1


PARKED_S = 1.0


def test_interactive_wait_counts_interactive_rows_ahead_at_the_measured_row_time(backend):
    async def scenario():
        mb = MicroBatcher(backend, max_batch=4)
        waits = {"before any batch": mb.interactive_wait_s()}
        await mb.synthesize(codes(4), Priority.INTERACTIVE)  # one batch timed
        waits["idle"] = mb.interactive_wait_s()
        held, release = threading.Event(), threading.Event()
        mb._executor.submit(lambda: (held.set(), release.wait(30)))  # park the backend thread
        later = time.perf_counter() + 3600  # by then the batch on the backend is done
        running = asyncio.ensure_future(mb.synthesize(codes(3), Priority.INTERACTIVE))
        await asyncio.sleep(0)  # queued
        while mb.queued_jobs():  # then handed to the (parked) backend by the dispatcher
            await asyncio.sleep(0.001)
        waits["running only"] = mb.interactive_wait_s(later)
        queued = [asyncio.ensure_future(mb.synthesize(codes(2), Priority.INTERACTIVE))]
        await asyncio.sleep(0)
        waits["2 rows queued"] = mb.interactive_wait_s(later)
        waits["2 rows, now"] = mb.interactive_wait_s()
        queued.append(asyncio.ensure_future(mb.synthesize(codes(4), Priority.BULK)))
        await asyncio.sleep(0)
        waits["and 4 bulk"] = mb.interactive_wait_s(later)
        queued.append(asyncio.ensure_future(mb.synthesize(codes(1), Priority.INTERACTIVE)))
        await asyncio.sleep(0)
        waits["3 rows queued"] = mb.interactive_wait_s(later)
        release.set()
        await asyncio.gather(running, *queued)
        waits["done"] = mb.interactive_wait_s()
        await mb.close()
        return waits

    w = asyncio.run(scenario())
    row = w["2 rows queued"] / 2
    assert w["before any batch"] == w["idle"] == w["running only"] == w["done"] == 0 and row > 0
    assert 2 * row <= w["2 rows, now"] <= 5 * row  # plus what is left of the 3 rows on the backend
    assert w["and 4 bulk"] == w["2 rows queued"]  # interactive rows go first: bulk is not ahead
    assert w["3 rows queued"] == pytest.approx(3 * row)


def test_a_wait_for_the_backend_thread_is_not_taken_for_backend_time(backend):
    async def parked_batch(mb):
        """(job, release): one interactive row handed to the backend thread, parked until release."""
        release = threading.Event()
        mb._executor.submit(release.wait, 30)
        job = asyncio.ensure_future(mb.synthesize(codes(1), Priority.INTERACTIVE))
        await asyncio.sleep(0)
        while mb.queued_jobs():
            await asyncio.sleep(0.001)
        return job, release

    async def scenario():
        mb = MicroBatcher(backend, max_batch=4)
        await mb.synthesize(codes(1), Priority.INTERACTIVE)  # warm
        job, release = await parked_batch(mb)
        await asyncio.sleep(PARKED_S)
        release.set()
        await job  # the one batch timed since: it waited PARKED_S for the thread
        on_backend, release = await parked_batch(mb)
        behind = asyncio.ensure_future(mb.synthesize(codes(1), Priority.INTERACTIVE))
        await asyncio.sleep(0)
        row = mb.interactive_wait_s(time.perf_counter() + 3600)  # one row queued: the average seconds a row
        release.set()
        await asyncio.gather(on_backend, behind)
        await mb.close()
        return row

    row = asyncio.run(scenario())
    # Had the park counted, the average would hold at least a quarter of it.
    assert 0 < row < ROW_TIME_WEIGHT * PARKED_S


def test_a_batch_of_bulk_rows_on_the_backend_is_not_counted_as_interactive_wait(backend):
    """A player who arrives while a content build's batch renders waits for it once; the
    admission rule must not refuse them for it (a 16-row avatars64 batch outlasts 100 ms)."""
    async def scenario():
        mb = MicroBatcher(backend, max_batch=4)
        await mb.synthesize(codes(4), Priority.INTERACTIVE)  # one batch timed
        release = threading.Event()
        mb._executor.submit(release.wait, 30)  # park the backend thread
        # one row: right after interactive work a bulk-only batch holds max_batch // 4 rows, and
        # a longer job would stay partly queued until the parked thread gave up
        bulk = asyncio.ensure_future(mb.synthesize(codes(1), Priority.BULK))
        await asyncio.sleep(0)
        while mb.queued_jobs():  # handed to the (parked) backend by the dispatcher
            await asyncio.sleep(0.001)
        waits = {"bulk on the backend": mb.interactive_wait_s(), "admission": mb.render_wait_s(1)}
        player = asyncio.ensure_future(mb.synthesize(codes(2), Priority.INTERACTIVE))
        await asyncio.sleep(0)
        waits["and 2 interactive rows queued"] = mb.interactive_wait_s()
        waits["admission, 2 rows queued"] = mb.render_wait_s(1)
        waits["a row"] = mb._row_s
        release.set()
        await asyncio.gather(bulk, player)
        await mb.close()
        return waits

    waits = asyncio.run(scenario())
    assert waits["bulk on the backend"] == waits["admission"] == 0
    assert waits["and 2 interactive rows queued"] > 0
    # the rows ahead, and the new call's own
    assert waits["admission, 2 rows queued"] == pytest.approx(waits["and 2 interactive rows queued"] + waits["a row"],
                                                              rel=0.05)


def test_rows_of_callers_that_have_gone_are_not_counted_as_interactive_wait(backend):
    """A cancelled call (or one past its deadline) leaves its job queued until the dispatcher
    drops it: counting it would refuse the next player for work nobody waits for."""
    async def scenario():
        mb = MicroBatcher(backend, max_batch=4)
        await mb.synthesize(codes(4), Priority.INTERACTIVE)  # one batch timed
        release = threading.Event()
        mb._executor.submit(release.wait, 30)  # park the backend thread
        later = time.perf_counter() + 3600  # by then the batch on the backend is done
        running = asyncio.ensure_future(mb.synthesize(codes(1), Priority.INTERACTIVE))
        await asyncio.sleep(0)
        while mb.queued_jobs():  # handed to the (parked) backend by the dispatcher
            await asyncio.sleep(0.001)
        gone = asyncio.ensure_future(mb.synthesize(codes(3), Priority.INTERACTIVE))
        waiting = asyncio.ensure_future(mb.synthesize(codes(2), Priority.INTERACTIVE))
        await asyncio.sleep(0)
        waits = {"5 rows queued": mb.interactive_wait_s(later)}
        gone.cancel()
        await asyncio.sleep(0)
        waits["3 of them cancelled"] = mb.interactive_wait_s(later)
        release.set()
        await asyncio.gather(running, waiting)
        await mb.close()
        return waits

    waits = asyncio.run(scenario())
    assert waits["3 of them cancelled"] == pytest.approx(waits["5 rows queued"] * 2 / 5)


def test_under_a_render_bound_interactive_batches_hold_a_share_of_it(backend):
    """A call admitted with the queue at the bound must not then wait for a batch as long again
    (the rows that arrived behind it): under a bound, an interactive batch holds CAP_SHARE-th of
    its worth of rows, counted by the small batch's time measured at load; bulk keeps its share."""
    async def batches(bound_s: float, small_s: float | None, bulk_rows: int = 0, job_rows: int = 1) -> list[int]:
        mb = MicroBatcher(backend, max_batch=16, render_bound_s=bound_s)
        mb.small_batch_seconds = small_s
        sizes = []
        run = mb._run
        mb._run = lambda batch: sizes.append(sum(s.stop - s.start for s in batch)) or run(batch)
        release = threading.Event()
        mb._executor.submit(release.wait, 30)  # park the thread while 12 rows queue
        jobs = [asyncio.ensure_future(mb.synthesize(codes(job_rows, i), Priority.INTERACTIVE))
                for i in range(12 // job_rows)]
        jobs += [asyncio.ensure_future(mb.synthesize(codes(bulk_rows), Priority.BULK))] if bulk_rows else []
        await asyncio.sleep(0.01)
        release.set()
        await asyncio.gather(*jobs)
        await mb.close()
        return sizes

    # cap = SMALL_BATCH_ROWS x bound / CAP_SHARE / small batch = 4 x 0.1 / 4 / 0.05 = 2 rows
    capped = asyncio.run(batches(0.1, 0.05))
    assert sum(capped) == 12 and max(capped) == 2
    assert max(asyncio.run(batches(0.0, 0.05))) > 2  # no bound: batches fill
    assert max(asyncio.run(batches(0.1, None))) > 2  # not measured: no cap
    one_call = asyncio.run(batches(0.1, 0.05, job_rows=12))
    assert one_call == [12]  # one call's rows are its own: never split by the cap
    with_bulk = asyncio.run(batches(0.1, 0.05, bulk_rows=8))
    assert max(with_bulk) == 2 + 4  # bulk keeps its share (a quarter of 16) beside the capped rows


def test_the_small_batch_time_is_measured_on_the_backend(backend):
    mb = MicroBatcher(backend, max_batch=16)
    seconds = mb.time_small_batch(codes(1)[0])
    assert mb.small_batch_seconds == seconds and 0 < seconds < 10
    asyncio.run(mb.close())
