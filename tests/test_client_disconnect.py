"""A client that vanishes mid-stream (its process killed: the kernel closes the connection, no
gRPC cancel is ever sent) stops its work within one batch, on either door. Measured with the
batcher's own counters: the backend is held while the client dies, so the batches that run
afterwards are exactly the ones the server still let through."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from test_generate_batch import hold_backend, queued_work_cancelled

NATIVE_READER = """
import sys
from avatarforge.client import AvatarForgeClient
client = AvatarForgeClient(sys.argv[1])
for i, item in enumerate(client.generate_batch(base_seed=0, count=100_000).items()):
    if i == 0:
        print("reading", flush=True)
"""

# gRPC-Web framing written out (as tests/test_grpc_web.py does): one POST, frames read for ever.
WEB_READER = """
import http.client, struct, sys
from avatarforge.v1 import avatarforge_pb2 as pb
host, port = sys.argv[1].rsplit(":", 1)
body = pb.GenerateBatchRequest(range=pb.SeedRange(base_seed=0, count=100_000)).SerializeToString()
conn = http.client.HTTPConnection(host, int(port))
conn.request("POST", "/avatarforge.v1.AvatarForge/GenerateBatch", struct.pack(">BI", 0, len(body)) + body,
             {"Content-Type": "application/grpc-web+proto", "X-Grpc-Web": "1"})
resp = conn.getresponse()
print("reading", flush=True)
while len(head := resp.read(5)) == 5:
    resp.read(struct.unpack(">BI", head)[1])
"""


def queued_and_live(server, batcher) -> bool:
    """Work is queued and all of it belongs to a caller still there (read on the server's loop)."""
    import asyncio

    async def check():
        jobs = batcher.queued_jobs()
        return bool(jobs) and not any(job.caller_gone for job in jobs)

    return asyncio.run_coroutine_threadsafe(check(), server.loop).result(10)


def wait_until(condition, what: str, limit_s: float = 20) -> None:
    deadline = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


@pytest.mark.parametrize("door", ["native", "web"])
def test_a_client_killed_mid_stream_stops_its_work_within_one_batch(server, client, door):
    batcher = server.batcher()
    stats = batcher.stats
    address, script = (server.address, NATIVE_READER) if door == "native" else (server.web_address, WEB_READER)
    reader = subprocess.Popen([sys.executable, "-c", script, address], stdout=subprocess.PIPE, text=True)
    held = None
    try:
        assert reader.stdout.readline().strip() == "reading"
        held, release = hold_backend(batcher)
        assert held.wait(30)
        # The stream now waits on the held backend: one micro-batch handed to it, the stream's
        # lookahead queued behind. Nothing runs until release.
        wait_until(lambda: queued_and_live(server, batcher), "the stream queued no work behind the held backend")
        ran_before, skipped_before = stats.batches_run, stats.jobs_skipped
        reader.kill()
        reader.wait(30)
        wait_until(lambda: queued_work_cancelled(server, batcher), "the server never noticed the client was gone")
    finally:
        if held is not None:
            release.set()
        if reader.poll() is None:
            reader.kill()
            reader.wait()
    # A call queued behind it: once answered, whatever the dead stream left has run or was dropped.
    assert len(list(client.generate_batch([0]).items())) == 1
    assert stats.jobs_skipped > skipped_before, "the dead stream's queued work was not dropped"
    after = stats.batches_run - ran_before - 1  # less the fence's own batch
    assert after <= 1, f"{after} batches ran for a client that was gone (at most the one on the backend)"
    time.sleep(0.5)
    assert stats.batches_run - ran_before - 1 == after, "batches kept running after the client was gone"
