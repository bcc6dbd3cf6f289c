"""API keys, quotas and admission as a studio meets them: a real server on loopback, both doors,
the blocking Python client and plain gRPC-Web POSTs."""
from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import logging
import time

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status
from test_generate_batch import hold_backend
from test_grpc_web import web_call

from avatarforge.client import AvatarForgeClient
from avatarforge.server.api_keys import KeyStore
from avatarforge.v1 import avatarforge_pb2 as pb

HOW = "send 'authorization: Bearer <key>'; keys are made with `avatarforge keys add`"


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """name -> key; the file keeps their hashes."""
    path = tmp_path_factory.mktemp("keys") / "keys.json"
    store = KeyStore([])
    made = {"gen": store.add("gen", ("generate",)), "ed": store.add("ed", ("edit",)),
            "slow": store.add("slow", ("generate",), requests_per_s=1),
            "pix": store.add("pix", ("generate",), images_per_s=4),
            "one": store.add("one", ("generate",), max_concurrent=1)}
    store.save(path)
    return path, made


@pytest.fixture(scope="module")
def keyed(start_own_server, keys):
    return start_own_server(keys_file=str(keys[0]), web_address="127.0.0.1:0", edit_idle_timeout_s=0.5)


def client(server, key=None) -> AvatarForgeClient:
    return AvatarForgeClient(server.address, timeout=30, token=key)


def retry_delay(details: list) -> float | None:
    for any_ in details:
        if any_.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            any_.Unpack(info)
            return info.retry_delay.ToNanoseconds() / 1e9
    return None


def refusal(call) -> tuple[grpc.StatusCode, str, float | None]:
    with pytest.raises(grpc.RpcError) as err:
        call()
    status = rpc_status.from_call(err.value)
    return err.value.code(), err.value.details(), retry_delay(status.details) if status else None


def test_native_door_needs_a_known_key_with_the_rpcs_scope(keyed, keys):
    _, k = keys
    dna = client(keyed, k["gen"]).generate(seeds=[7]).results[0].dna  # the right key: served
    for who in (None, "af_not-a-key"):
        with client(keyed, who) as c:
            code, message, _ = refusal(lambda: c.generate(seeds=[1]))
            assert code == grpc.StatusCode.UNAUTHENTICATED and HOW in message
            code, _, _ = refusal(lambda: list(c.generate_batch(range(3))))  # streams too
            assert code == grpc.StatusCode.UNAUTHENTICATED
            assert c.health() == "SERVING"  # health stays open for load balancers
    with client(keyed, k["gen"]) as c:
        code, message, _ = refusal(lambda: c.mix([pb.MixParent(dna=dna, weight=1), pb.MixParent(dna=dna, weight=1)]))
        assert code == grpc.StatusCode.PERMISSION_DENIED and "key 'gen' lacks the 'edit' scope" in message
        assert c.get_model().name == "tiny"  # any key reads model info
        assert [e.WhichOneof("event") for e in c.generate_batch(range(2))][-1] == "summary"
    with client(keyed, k["ed"]) as c:
        assert c.render_preview(dna, {"sefa/0": 1.0}).image.data
        assert refusal(lambda: c.generate(seeds=[1]))[0] == grpc.StatusCode.PERMISSION_DENIED


def test_reflection_needs_a_key(keyed, keys):
    ask = lambda c: list(reflection_pb2_grpc.ServerReflectionStub(c.channel).ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=30))
    with client(keyed) as c:
        assert refusal(lambda: ask(c))[0] == grpc.StatusCode.UNAUTHENTICATED
    with client(keyed, keys[1]["ed"]) as c:
        assert "avatarforge.v1.AvatarForge" in {s.name for s in ask(c)[0].list_services_response.service}


def bearer(key):
    return {"Authorization": f"Bearer {key}"} if key else {}


def test_web_door_runs_the_same_check(keyed, keys):
    _, k = keys
    gen = pb.GenerateRequest(characters=[pb.CharacterSource(seed=3)])
    for headers in ({}, bearer("af_wrong")):
        reply = web_call(keyed.web_address, "Generate", gen, headers)
        assert reply.grpc_status == grpc.StatusCode.UNAUTHENTICATED.value[0] and HOW in reply.grpc_message
        assert not reply.messages
    reply = web_call(keyed.web_address, "GenerateBatch", pb.GenerateBatchRequest(range=pb.SeedRange(count=2)))
    assert reply.grpc_status == grpc.StatusCode.UNAUTHENTICATED.value[0]
    reply = web_call(keyed.web_address, "Generate", gen, bearer(k["ed"]))
    assert reply.grpc_status == grpc.StatusCode.PERMISSION_DENIED.value[0]
    assert "key 'ed' lacks the 'generate' scope" in reply.grpc_message
    reply = web_call(keyed.web_address, "Generate", gen, bearer(k["gen"]))
    assert reply.grpc_status == 0 and pb.GenerateResponse.FromString(reply.messages[0]).results[0].seed == 3
    reply = web_call(keyed.web_address, "EditSession", pb.EditRequest())  # refused before it is explained
    assert reply.grpc_status == grpc.StatusCode.UNAUTHENTICATED.value[0]


def web_retry_delay(reply) -> float | None:
    raw = reply.trailers.get("grpc-status-details-bin", reply.headers.get("grpc-status-details-bin"))
    if raw is None:
        return None
    return retry_delay(status_pb2.Status.FromString(base64.b64decode(raw + "=" * (-len(raw) % 4))).details)


def test_request_rate_refusal_carries_a_retry_delay_that_works_on_either_door(keyed, keys):
    with client(keyed, keys[1]["slow"]) as c:  # 1 request/s
        c.get_model()
        code, message, delay = refusal(c.get_model)
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "key 'slow' is over its 1 requests/s: retry in" in message
        assert 0 < delay <= 1.0
        reply = web_call(keyed.web_address, "GetModel", pb.GetModelRequest(), bearer(keys[1]["slow"]))
        assert reply.grpc_status == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]  # one bucket for both doors
        web_delay = web_retry_delay(reply)
        assert web_delay is not None and 0 < web_delay <= delay
        time.sleep(web_delay + 0.02)
        assert c.get_model().name == "tiny"  # the hint was enough


def test_image_rate_refuses_unary_calls_and_paces_streams(keyed, keys):
    with client(keyed, keys[1]["pix"]) as c:  # 4 images/s, a bucket of 4
        assert len(c.generate(seeds=range(4)).results) == 4
        code, message, delay = refusal(lambda: c.generate(seeds=range(4)))
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "over its 4 images/s: these 4 images can start" in message
        assert 0 < delay <= 1.0
        code, message, delay = refusal(lambda: c.generate(seeds=range(5)))  # never fits
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and delay is None and "use GenerateBatch" in message
        t0 = time.monotonic()
        items = list(c.generate_batch(range(8)).items())
        assert [i.seed for i in items] == list(range(8))
        assert time.monotonic() - t0 >= 1.0  # 8 images at 4/s from a bucket that held at most 4


def test_key_concurrency_limit(keyed, keys):
    with client(keyed, keys[1]["one"]) as c:
        stream = c.generate_batch(range(100_000))
        next(iter(stream))  # the stream is in flight
        code, message, delay = refusal(lambda: c.generate(seeds=[1]))
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "key 'one' already has 1 calls in flight" in message
        assert delay is not None
        stream.cancel()
        deadline = time.monotonic() + 10
        while True:  # the slot is released once the server sees the cancel
            try:
                assert c.generate(seeds=[1]).results
                break
            except grpc.RpcError as e:
                assert e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and time.monotonic() < deadline
                time.sleep(0.05)


def test_idle_edit_session_ends(keyed, keys):
    dna = client(keyed, keys[1]["gen"]).generate(seeds=[2]).results[0].dna
    with client(keyed, keys[1]["ed"]) as c:
        session = c.edit_session(dna)
        time.sleep(1.0)  # --edit-idle-timeout-s 0.5
        with pytest.raises(grpc.RpcError) as err:
            session.next_event()
        assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert "no message for 0.5 s (--edit-idle-timeout-s)" in err.value.details()


def test_admission_limit_refuses_at_once_while_admitted_calls_go_on(start_own_server, tiny_bundle):
    server = start_own_server(max_inflight=2, edit_idle_timeout_s=0)
    with AvatarForgeClient(server.address, timeout=30) as c:
        dna = c.generate(seeds=[4]).results[0].dna
        sessions = [c.edit_session(dna) for _ in range(2)]  # two calls in flight, idle
        code, message, delay = refusal(lambda: c.generate(seeds=[1]))
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "limit of 2 calls in flight (--max-inflight)" in message
        assert delay is not None and 0 < delay <= 1
        for s in sessions:  # the admitted calls were running all along, and still are
            assert s.wait_preview(s.update({"sefa/0": 0.5})).image.data
            s.close()
        deadline = time.monotonic() + 10
        while True:
            try:
                assert c.generate(seeds=[1]).results
                break
            except grpc.RpcError as e:
                assert e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and time.monotonic() < deadline
                time.sleep(0.05)


def test_queue_bound_refuses_renders_while_the_backend_is_behind_on_either_door(start_own_server):
    server = start_own_server(max_render_wait_ms="0.001", web_address="127.0.0.1:0")  # any row queued is too many
    batcher = server.batcher()
    pool = concurrent.futures.ThreadPoolExecutor(2)
    with AvatarForgeClient(server.address, timeout=30) as c:
        dna = c.generate(seeds=[4]).results[0].dna  # a batch ran: the backend's row time is known
        held, release = hold_backend(batcher)
        try:
            assert held.wait(30)
            started = batcher.stats.batches_started
            first = pool.submit(c.generate, seeds=[5])  # handed to the parked backend
            wait_until(lambda: batcher.stats.batches_started == started + 1)
            # admitted though the backend is busy: nothing is queued, and one call at a time is never refused
            second = pool.submit(c.generate, seeds=[6])
            wait_until(lambda: queued_rows(server, batcher) == 1)
            code, message, delay = refusal(lambda: c.render_preview(dna, {"sefa/0": 0.5}))
            assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "(--max-render-wait-ms)" in message
            assert delay is not None and delay > 0
            reply = web_call(server.web_address, "Generate", pb.GenerateRequest(characters=[pb.CharacterSource(seed=7)]))
            assert reply.grpc_status == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0] and web_retry_delay(reply) > 0
            assert c.get_model().name == "tiny"  # a call that renders nothing is never held to the queue
        finally:
            release.set()
        assert first.result(30).results[0].seed == 5 and second.result(30).results[0].seed == 6
        assert c.generate(seeds=[7]).results[0].seed == 7  # the queue drained: admitted again


def queued_rows(server, batcher) -> int:
    async def rows():
        return sum(job.rows for job in batcher.queued_jobs())

    return asyncio.run_coroutine_threadsafe(rows(), server.loop).result(10)


def wait_until(condition, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_exposed_server_warns_caps_stream_duration_and_can_hide_reflection(start_own_server, caplog):
    with caplog.at_level(logging.WARNING, logger="avatarforge.server.app"):
        server = start_own_server(address="0.0.0.0:0", max_stream_s=1.0, reflection="off")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("listens beyond loopback WITHOUT API keys" in w and "--keys-file" in w for w in warnings)
    assert any("listens beyond loopback WITHOUT TLS" in w and "--tls-cert" in w for w in warnings)
    with AvatarForgeClient(f"127.0.0.1:{server.running.port}", timeout=30) as c:
        stub = reflection_pb2_grpc.ServerReflectionStub(c.channel)
        code, _, _ = refusal(lambda: list(stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=30)))
        assert code == grpc.StatusCode.UNIMPLEMENTED  # --reflection off
        with pytest.raises(grpc.RpcError) as err:
            for _ in c.generate_batch(range(100_000)):  # minutes of work, cut after 1 s
                pass
        assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED and "--max-stream-s" in err.value.details()
