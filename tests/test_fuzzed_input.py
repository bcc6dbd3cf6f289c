"""Fuzzed input: every RPC's request fields, undecodable request bytes and uploaded pictures,
drawn by hypothesis (tests/fuzz_strategies.py), against a real server on loopback.

The properties: every case ends with a status the server chose on purpose (OK, or a refusal that
says what to fix), never UNKNOWN or INTERNAL; no item of an OK reply fails with those either;
every DNA an OK reply carries is one the server reads back (checksum right, W+ finite and
within dna.MAX_ABS_W); after
the run the server still reports SERVING and renders a face. The native door takes every
kind of case, the gRPC-Web door a sample of each.

CI runs a few hundred cases with a fixed seed (derandomised, so a red run replays). The long
mode draws fresh ones: AVATARFORGE_FUZZ_CASES=10000 pytest -s tests/test_fuzzed_input.py runs
that many request cases plus a share of pictures, undecodable bytes and web-door cases. Counts
by status are printed either way (-s shows them).
"""
from __future__ import annotations

import collections
import os

import grpc
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from avatarforge.client import AvatarForgeClient
from avatarforge.server.dna import MAX_ABS_W, dna_checksum
from avatarforge.v1 import avatarforge_pb2 as pb

from fuzz_strategies import RequestStrategies, face_image
from test_grpc_web import web_call

LONG_CASES = int(os.environ.get("AVATARFORGE_FUZZ_CASES", "0"))
SERVICE = pb.DESCRIPTOR.services_by_name["AvatarForge"]
Code = grpc.StatusCode
# Refusals a client can act on. UNIMPLEMENTED: EditSession over gRPC-Web. RESOURCE_EXHAUSTED:
# gRPC's own message size limit.
DELIBERATE = {Code.OK, Code.INVALID_ARGUMENT, Code.NOT_FOUND, Code.OUT_OF_RANGE, Code.FAILED_PRECONDITION,
              Code.RESOURCE_EXHAUSTED, Code.UNIMPLEMENTED}
BY_NUMBER = {c.value[0]: c for c in Code}
CALL_TIMEOUT_S = 60  # a case that hangs fails as DEADLINE_EXCEEDED, which is not deliberate
pytestmark = pytest.mark.timeout(4 * 3600 if LONG_CASES else 300)  # the long mode outlasts pytest's usual cap


def cases(ci: int, share: float = 1.0) -> settings:
    """CI: `ci` derandomised cases; long mode: share x AVATARFORGE_FUZZ_CASES fresh ones."""
    return settings(max_examples=max(1, int(LONG_CASES * share)) if LONG_CASES else ci, derandomize=not LONG_CASES,
                    deadline=None, database=None, suppress_health_check=list(HealthCheck), print_blob=True)


@pytest.fixture(scope="module")
def fuzz_server(start_own_server, tiny_bundle):
    """tiny (the default) beside avatars64 (which has an encoder, so pictures reach the decoder),
    with limits small enough that an accepted case stays quick."""
    server = start_own_server(model=f"{tiny_bundle},avatars64", web_address="127.0.0.1:0", max_unary_items=8,
                              max_stream_items=64, max_encode_images=3, max_encode_pixels=256 * 256,
                              max_refine_ms=100, default_refine_ms=20, edit_idle_timeout_s=10)
    with AvatarForgeClient(server.address, timeout=CALL_TIMEOUT_S) as client:
        server.client = client
        yield server


@pytest.fixture(scope="module")
def strategies(fuzz_server) -> RequestStrategies:
    client = fuzz_server.client
    names = ["tiny", "avatars64", "other"]
    for model in ("tiny", "avatars64"):
        names += [d.name for d in client.get_model(model).directions]
    dnas = [r.dna for r in client.generate(seeds=[1, 2]).results] + [client.generate(seeds=[1], model="avatars64").results[0].dna]
    return RequestStrategies(names, dnas)


@pytest.fixture(scope="module")
def valid(fuzz_server, strategies) -> dict:
    """A request each RPC accepts (EditSession: its start and one state), for fuzzed fields to
    overwrite: what makes a case get past the first check."""
    d0, d1, _ = strategies.dnas
    sefa = fuzz_server.client.get_model("tiny").directions[0]
    edit = [pb.DirectionEdit(direction=sefa.name, strength=sefa.default_strength)]
    face = fuzz_server.client.generate(seeds=[3], model="avatars64").results[0].image
    return {
        "ListModels": pb.ListModelsRequest(),
        "GetModel": pb.GetModelRequest(model="tiny"),
        "Generate": pb.GenerateRequest(characters=[pb.CharacterSource(seed=1), pb.CharacterSource(dna=d0)]),
        "GenerateBatch": pb.GenerateBatchRequest(range=pb.SeedRange(base_seed=5, count=4)),
        "EditSession": (pb.EditRequest(start=pb.EditStart(dna=d0)), pb.EditRequest(state=pb.EditState(seq=1, edits=edit))),
        "Interpolate": pb.InterpolateRequest(source=d0, target=d1, frames=3),
        "Mix": pb.MixRequest(parents=[pb.MixParent(dna=d0, weight=1.0), pb.MixParent(dna=d1, weight=2.0)]),
        "Mutate": pb.MutateRequest(dna=d0, count=2, strength=0.3, seed=4),
        "RenderPreview": pb.RenderPreviewRequest(dna=d0, edits=edit),
        "Encode": pb.EncodeRequest(model="avatars64", images=[face]),
        "GetParts": pb.GetPartsRequest(model="avatars64", characters=[pb.CharacterSource(seed=2), pb.CharacterSource(seed=9)]),
    }


class Tally:
    """Statuses seen, by RPC: printed at the end of a test, so a run shows what it covered."""

    def __init__(self, name: str):
        self.name = name
        self.counts: collections.Counter = collections.Counter()

    def add(self, rpc: str, code: Code) -> None:
        self.counts[(rpc, code.name)] += 1

    def report(self, capsys) -> None:
        total = sum(self.counts.values())
        by_code = collections.Counter()
        for (_, code), n in self.counts.items():
            by_code[code] += n
        with capsys.disabled():
            print(f"\n{self.name}: {total} cases, {len({r for r, _ in self.counts})} RPCs; "
                  + ", ".join(f"{c} {n}" for c, n in by_code.most_common()))


def nested(message, kind) -> list:
    """Every message of type `kind` set anywhere inside a reply."""
    found = []
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        for m in (value if field.is_repeated else [value]):
            found += [m] if isinstance(m, kind) else nested(m, kind)
    return found


def check_reply(rpc: str, code: Code, details: str, replies: list, tally: Tally) -> None:
    tally.add(rpc, code)
    assert code in DELIBERATE, f"{rpc} ended with {code.name}: {details}"
    for reply in replies:
        for err in nested(reply, pb.ItemError):
            assert BY_NUMBER.get(err.code) in DELIBERATE, f"{rpc}: an item failed with {err.code}: {err.message}"
        for dna in nested(reply, pb.CharacterDna):  # what the server hands out, it must read back
            w = np.frombuffer(dna.w_plus, "<f4")
            readable = dna.checksum == dna_checksum(dna) and np.isfinite(w).all() and np.abs(w).max() <= MAX_ABS_W
            assert readable, f"{rpc} returned a DNA it cannot read: {w}"


def native_call(channel: grpc.Channel, method, request):
    """(status, details, replies) of one call of `method` (a MethodDescriptor) over the native door."""
    path = f"/{SERVICE.full_name}/{method.name}"
    out_type = getattr(pb, method.output_type.name)
    serialize, parse = (lambda m: m if isinstance(m, bytes) else m.SerializeToString()), out_type.FromString
    try:
        if method.client_streaming:
            call = channel.stream_stream(path, request_serializer=serialize, response_deserializer=parse)
            return Code.OK, "", list(call(iter(request), timeout=CALL_TIMEOUT_S))
        if method.server_streaming:
            call = channel.unary_stream(path, request_serializer=serialize, response_deserializer=parse)
            return Code.OK, "", list(call(request, timeout=CALL_TIMEOUT_S))
        call = channel.unary_unary(path, request_serializer=serialize, response_deserializer=parse)
        return Code.OK, "", [call(request, timeout=CALL_TIMEOUT_S)]
    except grpc.RpcError as e:
        return e.code(), e.details(), []


class _Bytes:
    """Request bytes as they are, for web_call (which sends request.SerializeToString())."""

    def __init__(self, data: bytes):
        self.data = data

    def SerializeToString(self) -> bytes:
        return self.data


def web(server, method, request) -> tuple[Code, str, list]:
    reply = web_call(server.web_address, method.name, request, timeout=CALL_TIMEOUT_S)
    out_type = getattr(pb, method.output_type.name)
    code = BY_NUMBER.get(reply.grpc_status, Code.UNKNOWN)
    return code, reply.grpc_message, [out_type.FromString(m) for m in reply.messages] if code == Code.OK else []


def requests_for(strategies: RequestStrategies, valid: dict, method) -> st.SearchStrategy:
    if method.client_streaming:  # EditSession: a few messages, often after a valid start
        start, state = valid[method.name]
        one = strategies.request(method.input_type, state)
        return st.tuples(st.sampled_from([[start], []]), st.lists(one, max_size=4)).map(lambda p: p[0] + p[1])
    return strategies.request(method.input_type, valid[method.name])


def still_healthy(server) -> None:
    client = server.client
    assert client.health() == "SERVING"
    reply = client.generate(seeds=[7])
    assert reply.results[0].image.data and not reply.results[0].HasField("error")


def test_every_rpc_answers_fuzzed_fields_deliberately(fuzz_server, strategies, valid, capsys):
    tally = Tally("native door, fuzzed request fields")
    method_and_request = st.sampled_from(list(SERVICE.methods)).flatmap(
        lambda m: st.tuples(st.just(m), requests_for(strategies, valid, m)))
    channel = fuzz_server.client.channel

    @cases(ci=250)
    @given(method_and_request)
    def case(mr):
        method, request = mr
        check_reply(method.name, *native_call(channel, method, request), tally)

    case()
    tally.report(capsys)
    assert len({rpc for rpc, _ in tally.counts}) == len(SERVICE.methods), "every RPC was fuzzed"
    still_healthy(fuzz_server)


def test_web_door_answers_fuzzed_fields_deliberately(fuzz_server, strategies, valid, capsys):
    tally = Tally("gRPC-Web door, fuzzed request fields")
    unary_or_stream = [m for m in SERVICE.methods if not m.client_streaming]
    method_and_request = st.sampled_from(unary_or_stream).flatmap(
        lambda m: st.tuples(st.just(m), strategies.request(m.input_type, valid[m.name])))

    @cases(ci=40, share=0.1)
    @given(method_and_request)
    def case(mr):
        method, request = mr
        check_reply(method.name, *web(fuzz_server, method, request), tally)

    case()
    tally.report(capsys)
    still_healthy(fuzz_server)


def test_undecodable_request_bytes_are_invalid_argument_on_both_doors(fuzz_server, capsys):
    tally = Tally("undecodable request bytes, both doors")
    channel = fuzz_server.client.channel
    unary_or_stream = [m for m in SERVICE.methods if not m.client_streaming]

    @cases(ci=60, share=0.1)
    @given(st.sampled_from(unary_or_stream), st.binary(min_size=1, max_size=200), st.booleans())
    def case(method, data, over_web):
        code, details, replies = web(fuzz_server, method, _Bytes(data)) if over_web else native_call(channel, method, data)
        check_reply(method.name, code, details, replies, tally)

    case()
    tally.report(capsys)
    still_healthy(fuzz_server)


def test_fuzzed_uploads_get_a_deliberate_status(fuzz_server, capsys):
    tally = Tally("Encode, fuzzed pictures")
    channel = fuzz_server.client.channel
    encode = SERVICE.methods_by_name["Encode"]
    requests = st.builds(lambda images, steps: pb.EncodeRequest(model="avatars64", images=images, refine_steps=steps,
                                                               refine_budget_ms=20 if steps else 0),
                         st.lists(face_image(), min_size=1, max_size=3), st.sampled_from([0, 0, 0, 3]))

    @cases(ci=80, share=0.2)
    @given(requests, st.integers(0, 9))
    def case(request, door):
        call = web if door == 0 else (lambda s, m, r: native_call(channel, m, r))  # one in ten over gRPC-Web
        check_reply("Encode", *call(fuzz_server, encode, request), tally)

    case()
    tally.report(capsys)
    still_healthy(fuzz_server)


def dna_requests(valid: dict, dna: pb.CharacterDna, psi: float, space: int) -> dict:
    """Each RPC that reads a DNA, given `dna` where it takes one and otherwise valid fields."""
    _, other = valid["Interpolate"].source, valid["Interpolate"].target
    start, state = valid["EditSession"]
    edited = pb.EditRequest(state=pb.EditState(seq=1, edits=state.state.edits, truncation_psi=psi))
    return {
        "Generate": pb.GenerateRequest(characters=[pb.CharacterSource(dna=dna)]),
        "RenderPreview": pb.RenderPreviewRequest(dna=dna, edits=valid["RenderPreview"].edits, truncation_psi=psi),
        "Interpolate": pb.InterpolateRequest(source=dna, target=other, via=[dna], frames=5, space=space),
        "Mix": pb.MixRequest(parents=[pb.MixParent(dna=dna, weight=psi), pb.MixParent(dna=other, weight=1.0)]),
        "Mutate": pb.MutateRequest(dna=dna, count=2, strength=psi, seed=1),
        "EditSession": [pb.EditRequest(start=pb.EditStart(dna=dna)), edited, pb.EditRequest(commit=pb.EditCommit(seq=1))],
    }


def test_fuzzed_dna_codes_are_refused_or_give_dna_that_reads_back(fuzz_server, strategies, valid, capsys):
    """A DNA's W+ bytes drawn at random (any float32, NaN and infinities, or random bytes) under a
    recomputed checksum, as a hand edit with the published layout makes it, through every RPC
    that reads one, with the other fields valid (psi and strengths anywhere in their ranges)."""
    tally = Tally("hand-edited DNA codes through every RPC that reads one")
    channel = fuzz_server.client.channel
    base = strategies.dnas[0]
    n = len(base.w_plus)
    values = st.one_of(st.floats(width=32), st.sampled_from([3.4e38, -3.4e38, 1e30, 1e19, 1e4, -1e4, 9999.0, 7.0]))
    w_plus = st.one_of(st.binary(min_size=n, max_size=n),
                       st.lists(values, min_size=1, max_size=8).map(lambda vs: np.resize(np.array(vs, "<f4"), n // 4).tobytes()))
    rpcs = ["Generate", "RenderPreview", "Interpolate", "Mix", "Mutate", "EditSession"]

    @cases(ci=60, share=0.1)
    @given(st.sampled_from(rpcs), w_plus, st.floats(0.0, 2.0, width=32), st.sampled_from([0, 1, 2]))
    def case(rpc, w, psi, space):
        dna = pb.CharacterDna()
        dna.CopyFrom(base)
        dna.w_plus = w
        dna.checksum = dna_checksum(dna)
        request = dna_requests(valid, dna, psi, space)[rpc]
        check_reply(rpc, *native_call(channel, SERVICE.methods_by_name[rpc], request), tally)

    case()
    tally.report(capsys)
    still_healthy(fuzz_server)
