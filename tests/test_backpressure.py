"""A slow client slows its own stream, not the server: a GenerateBatch stream that stops reading
stops generating (bounded work: HTTP/2 flow control, then the stream's two-batch lookahead,
then the bulk queue limit), while other callers are still answered."""
from __future__ import annotations

import time

import grpc
import pytest


def settle(stats, quiet_s: float = 1.0, limit_s: float = 20.0) -> int:
    """batches_run once it stopped changing for quiet_s."""
    last, since, deadline = stats.batches_run, time.monotonic(), time.monotonic() + limit_s
    while time.monotonic() < deadline:
        time.sleep(0.1)
        if stats.batches_run != last:
            last, since = stats.batches_run, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return last
    raise AssertionError("the server kept generating for a stream nobody reads")


def test_a_stream_nobody_reads_stops_generating_and_others_are_served(client, server):
    stats = server.batcher().stats
    before = stats.batches_run
    total = 100_000
    stream = client.generate_batch(base_seed=0, count=total, format="raw")
    it = iter(stream.items())
    next(it)  # started; now this client reads nothing more
    stalled_at = settle(stats)
    assert (stalled_at - before) * 16 < total / 10, "a stalled stream ran far ahead of its reader"
    reply = client.generate(seeds=[1, 2])  # the server still serves others
    assert len(reply.results) == 2 and all(r.image.data for r in reply.results)
    assert stats.batches_run - stalled_at <= 1  # only that Generate's batch ran
    stream.cancel()
    with pytest.raises(grpc.RpcError):
        for _ in it:
            pass
