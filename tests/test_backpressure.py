"""A slow client slows its own stream, not the server: a GenerateBatch stream that stops reading
stops generating (bounded work: HTTP/2 flow control, then the stream's two-batch lookahead,
then the bulk queue limit), while other callers are still answered."""
from __future__ import annotations

import math
import time

import grpc
import pytest

from avatarforge.client import AvatarForgeClient
from avatarforge.server.service import BULK_LOOKAHEAD

HTTP2_WINDOW = 65_535  # RFC 7540's initial flow-control window, in bytes


def narrow_client(server) -> AvatarForgeClient:
    """A client whose HTTP/2 receive window stays at the protocol's initial 64 KiB. By default
    grpc's BDP probing grows it to what this machine's loopback sustains (megabytes: hundreds
    of small items), which would make how far a server may run ahead a property of the machine."""
    channel = grpc.insecure_channel(server.address, options=[("grpc.http2.bdp_probe", 0)])
    return AvatarForgeClient(server.address, timeout=60, channel=channel)


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
    stats, max_batch = server.batcher().stats, server.batcher().max_batch
    before = stats.batches_run
    total = 100_000
    size = max(client.get_model().supported_sizes)  # raw RGBA at 4x native: each item outgrows the window
    with narrow_client(server) as reader:
        stream = reader.generate_batch(base_seed=0, count=total, format="raw", size=size)
        it = iter(stream.items())
        item_bytes = next(it).ByteSize()  # started; now this client reads nothing more
        assert item_bytes > HTTP2_WINDOW
        stalled_at = settle(stats)
        # Past the one item read, flow control lets through at most what fills the client's
        # window and the server's write buffer (a window's worth each) plus the message each
        # side is part-way through; the stream then holds its micro-batch being sent and
        # BULK_LOOKAHEAD more. Here: 1 + 2 items, so 1 + BULK_LOOKAHEAD micro-batches.
        in_transport = 2 * (HTTP2_WINDOW // item_bytes + 1)
        most = math.ceil((1 + in_transport) / max_batch) + BULK_LOOKAHEAD
        assert stalled_at - before <= most, f"a stalled stream ran {stalled_at - before} micro-batches, at most {most}"
        reply = client.generate(seeds=[1, 2])  # the server still serves others
        assert len(reply.results) == 2 and all(r.image.data for r in reply.results)
        assert stats.batches_run - stalled_at <= 1  # only that Generate's batch ran
        stream.cancel()
        with pytest.raises(grpc.RpcError):
            for _ in it:
                pass
