"""What the fuzz suite (tests/test_fuzzed_input.py) found, one plain test per bug, on the shared
loopback server: request bytes that do not parse, and hand-edited DNA whose W+ values are finite
but far beyond any face."""
from __future__ import annotations

import grpc
import numpy as np
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from avatarforge.server.dna import MAX_ABS_W, dna_checksum
from avatarforge.v1 import avatarforge_pb2 as pb

SERVICE = "/avatarforge.v1.AvatarForge/"
Code = grpc.StatusCode


def raw(channel, method: str, kind: str = "unary_unary"):
    """A call of `method` that sends bytes as they are (messages are serialized first)."""
    serialize = lambda m: m if isinstance(m, bytes) else m.SerializeToString()  # noqa: E731
    return getattr(channel, kind)(method, request_serializer=serialize, response_deserializer=lambda b: b)


@pytest.mark.parametrize("method, kind, type_name", [
    (SERVICE + "Generate", "unary_unary", "avatarforge.v1.GenerateRequest"),
    (SERVICE + "GenerateBatch", "unary_stream", "avatarforge.v1.GenerateBatchRequest"),
    ("/grpc.health.v1.Health/Check", "unary_unary", "grpc.health.v1.HealthCheckRequest"),
])
def test_request_bytes_that_do_not_parse_are_invalid_argument_not_unknown(client, method, kind, type_name):
    call = raw(client.channel, method, kind)
    with pytest.raises(grpc.RpcError) as refused:
        reply = call(b"\xff", timeout=30)
        list(reply) if kind == "unary_stream" else reply
    assert refused.value.code() == Code.INVALID_ARGUMENT, refused.value.details()
    assert f"not a valid {type_name} message" in refused.value.details()
    assert client.health() == "SERVING"


def test_a_message_that_does_not_parse_inside_an_edit_session_ends_it_with_invalid_argument(client):
    dna = client.generate(seeds=[3]).results[0].dna
    call = raw(client.channel, SERVICE + "EditSession", "stream_stream")
    events = call(iter([pb.EditRequest(start=pb.EditStart(dna=dna)), b"\x0a\xff\xff"]), timeout=30)
    first = pb.EditEvent.FromString(next(events))
    assert first.HasField("started")
    with pytest.raises(grpc.RpcError) as refused:
        list(events)
    assert refused.value.code() == Code.INVALID_ARGUMENT
    assert "not a valid avatarforge.v1.EditRequest message" in refused.value.details()


def hand_edited(dna: pb.CharacterDna, w: np.ndarray) -> pb.CharacterDna:
    """`dna` with its W+ replaced and the checksum recomputed, as the published layout allows."""
    out = pb.CharacterDna()
    out.CopyFrom(dna)
    out.w_plus = np.ascontiguousarray(w, "<f4").tobytes()
    out.checksum = dna_checksum(out)
    return out


def bad_field(error: grpc.RpcError) -> str:
    status = rpc_status.from_call(error)
    for detail in status.details if status else ():
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            found = error_details_pb2.BadRequest()
            detail.Unpack(found)
            return found.field_violations[0].field
    return ""


@pytest.mark.parametrize("value", [3.4e38, 2.1e37, -1e19, np.nextafter(np.float32(MAX_ABS_W), np.float32(np.inf))])
def test_dna_beyond_any_face_is_refused_before_it_overflows(client, value):
    # Was: truncation at psi 2 doubled 3.4e38 into infinity, spherical interpolation squared
    # 2.1e37 into NaN, and both came back as DNA the server then refused to read.
    dna = client.generate(seeds=[4]).results[0].dna
    w = np.frombuffer(dna.w_plus, "<f4").reshape(dna.num_ws, dna.w_dim).copy()
    w[2] = value
    huge = hand_edited(dna, w)
    with pytest.raises(grpc.RpcError) as refused:
        client.render_preview(huge, psi=2.0)
    assert refused.value.code() == Code.INVALID_ARGUMENT and "within ±10000" in refused.value.details()
    assert bad_field(refused.value) == "dna.w_plus"
    with pytest.raises(grpc.RpcError) as refused:
        list(client.interpolate(huge, dna, 3, spherical=True))
    assert refused.value.code() == Code.INVALID_ARGUMENT and bad_field(refused.value) == "source.w_plus"


def test_an_edit_that_leaves_the_readable_range_is_refused_and_the_edge_itself_renders(client):
    dna = client.generate(seeds=[4]).results[0].dna
    edge = hand_edited(dna, np.full((dna.num_ws, dna.w_dim), MAX_ABS_W, np.float32))
    reply = client.render_preview(edge)  # at the edge: readable, rendered, and read back
    assert reply.image.data and client.render_preview(reply.dna).image.data
    with pytest.raises(grpc.RpcError) as refused:
        client.render_preview(edge, psi=2.0)  # pulled away from the average: past the edge
    assert refused.value.code() == Code.INVALID_ARGUMENT and "beyond ±10000" in refused.value.details()
