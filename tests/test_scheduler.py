"""MicroBatcher on the real torch backend of the tiny bundle: grouping, priority, cancellation."""
from __future__ import annotations

import asyncio

import numpy as np
import pytest

from avatarforge.models.bundle import load_bundle
from avatarforge.server.backends import create_backend
from avatarforge.server.scheduler import MicroBatcher, Priority


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
        mb = MicroBatcher(backend, max_batch=4)
        order = []

        async def run(ws, prio, tag):
            await mb.synthesize(ws, prio)
            order.append(tag)

        await asyncio.gather(run(codes(10), Priority.BULK, "bulk"), run(codes(1), Priority.INTERACTIVE, "edit"))
        await mb.close()
        return mb.stats, order

    stats, order = asyncio.run(scenario())
    # Both were queued before the dispatcher ran: the interactive one is served first; the
    # bulk job of 10 rows runs as backend calls of 4, 4 and 2.
    assert order == ["edit", "bulk"]
    assert stats.batches_run == 4 and stats.rows_run == 11


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
