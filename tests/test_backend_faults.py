"""A backend that raises mid-batch: the items of that batch fail (ItemError in a stream, a status
naming the backend for a unary call), every other batch is served, and the server stays up.

The failure is injected: a thin wrapper around the server's real torch backend (conftest's
start_own_server(wrap_backend=...)) that raises, as a driver error or an out-of-memory would,
when a batch holds a poisoned seed (while mapping it, inside the batch's backend call) or a
poisoned W+ code (in synthesis). Everything else is the real backend on a real server.
"""
from __future__ import annotations

import grpc
import numpy as np
import pytest

from avatarforge.client import AvatarForgeClient
from avatarforge.models.latents import zs_from_seeds
from avatarforge.v1 import avatarforge_pb2 as pb

from test_grpc_web import web_call

POISONED_SEED = 20


class FailsOnPoison:
    """The backend contract (server/backends/base.py) over a real backend, raising RuntimeError
    for poisoned inputs."""

    def __init__(self, backend, z_dim: int):
        self.backend = backend
        self.name, self.device, self.precision = backend.name, backend.device, backend.precision
        self.poisoned_z = zs_from_seeds([POISONED_SEED], z_dim)
        self.poisoned_ws: list[np.ndarray] = []  # float32 [num_ws, w_dim] codes that fail synthesis

    def map(self, z: np.ndarray) -> np.ndarray:
        if any((row == self.poisoned_z[0]).all() for row in z):
            raise RuntimeError(f"injected fault: mapping seed {POISONED_SEED}")
        return self.backend.map(z)

    def synthesize(self, ws: np.ndarray) -> np.ndarray:
        if any((row == p).all() for row in ws for p in self.poisoned_ws):
            raise RuntimeError("injected fault: synthesizing a poisoned code")
        return self.backend.synthesize(ws)

    def describe(self) -> dict:
        return self.backend.describe()


@pytest.fixture(scope="module")
def faulty(start_own_server):
    backends = []

    def wrap(backend, bundle):
        backends.append(FailsOnPoison(backend, bundle.config.z_dim))
        return backends[-1]

    server = start_own_server(wrap_backend=wrap, web_address="127.0.0.1:0")
    server.faulty_backend = backends[0]
    return server


@pytest.fixture(scope="module")
def af(faulty):
    with AvatarForgeClient(faulty.address, timeout=60) as client:
        yield client


def serves_normally(af) -> None:
    assert af.health() == "SERVING"
    assert not af.generate(seeds=[1]).results[0].HasField("error")
    items = list(af.generate_batch(range(100, 140)).items())
    assert len(items) == 40 and not any(i.HasField("error") for i in items)


def test_a_batch_that_raises_fails_its_items_and_the_stream_goes_on(faulty, af):
    stream = af.generate_batch(range(64))  # micro-batches of 16: seeds 16..31 share the poisoned one's batch
    items = list(stream.items())
    failed = [i.index for i in items if i.HasField("error")]
    assert [i.index for i in items] == list(range(64)) and failed == list(range(16, 32))
    err = items[20].error
    assert err.code == grpc.StatusCode.INTERNAL.value[0]
    assert "torch backend" in err.message and f"seed {POISONED_SEED}" in err.message and "still up" in err.message
    assert (stream.summary.produced, stream.summary.failed) == (48, 16)
    serves_normally(af)


def test_a_unary_call_on_a_failing_batch_gets_a_status_naming_the_backend(faulty, af):
    dna = af.generate(seeds=[99]).results[0].dna
    faulty.faulty_backend.poisoned_ws.append(np.frombuffer(dna.w_plus, "<f4").reshape(dna.num_ws, dna.w_dim))
    try:
        with pytest.raises(grpc.RpcError) as failed:
            af.render_preview(dna)
        assert failed.value.code() == grpc.StatusCode.INTERNAL
        assert "torch backend" in failed.value.details() and "injected fault" in failed.value.details()
        reply = af.generate(seeds=[1], dnas=[dna])  # Generate reports it per item; the call itself is OK
        assert [r.HasField("error") for r in reply.results] == [True, True]
    finally:
        faulty.faulty_backend.poisoned_ws.clear()
    serves_normally(af)


def test_the_web_door_reports_the_same_failure(faulty, af):
    reply = web_call(faulty.web_address, "GenerateBatch",
                     pb.GenerateBatchRequest(list=pb.SeedList(seeds=[POISONED_SEED, 1])))
    events = [pb.GenerateBatchEvent.FromString(m) for m in reply.messages]
    items = [e.item for e in events if e.HasField("item")]
    assert reply.grpc_status == 0 and [i.HasField("error") for i in items] == [True, True]
    assert events[-1].summary.failed == 2
    serves_normally(af)
