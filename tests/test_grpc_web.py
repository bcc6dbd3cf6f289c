"""The gRPC-Web door as a browser, Unity WebGL or Mono client meets it: plain HTTP/1.1 POSTs with
gRPC-Web binary framing (written here from the spec, independent of the server's library),
against the same loopback server the native tests use."""
from __future__ import annotations

import http.client
import struct
import time
import urllib.parse

import pytest

from avatarforge.v1 import avatarforge_pb2 as pb

SERVICE = "/avatarforge.v1.AvatarForge/"


class WebReply:
    def __init__(self, status: int, headers: dict, messages: list[bytes], trailers: dict, arrivals: list[float]):
        self.http_status, self.headers, self.messages, self.trailers, self.arrivals = status, headers, messages, trailers, arrivals

    @property
    def grpc_status(self) -> int:  # trailer frame, or headers for a trailers-only reply
        return int(self.trailers.get("grpc-status", self.headers.get("grpc-status", "-1")))

    @property
    def grpc_message(self) -> str:
        return urllib.parse.unquote(self.trailers.get("grpc-message", self.headers.get("grpc-message", "")))


def web_call(address: str, method: str, request, headers: dict | None = None, timeout: float = 60,
             tls=None) -> WebReply:
    """One gRPC-Web call: a 5-byte frame header (flag 0, big-endian length) + the message; the
    reply is data frames (flag 0) then one trailer frame (flag 0x80, `key: value` lines).
    tls: an ssl.SSLContext to call over HTTPS."""
    host, port = address.rsplit(":", 1)
    conn = (http.client.HTTPSConnection(host, int(port), timeout=timeout, context=tls) if tls else
            http.client.HTTPConnection(host, int(port), timeout=timeout))
    body = request.SerializeToString()
    conn.request("POST", SERVICE + method, struct.pack(">BI", 0, len(body)) + body,
                 {"Content-Type": "application/grpc-web+proto", "X-Grpc-Web": "1", **(headers or {})})
    resp = conn.getresponse()
    t0, messages, trailers, arrivals = time.perf_counter(), [], {}, []
    while len(head := resp.read(5)) == 5:
        flag, length = struct.unpack(">BI", head)
        payload = resp.read(length)
        if flag & 0x80:
            for line in payload.decode().split("\r\n"):
                if line:
                    k, v = line.split(":", 1)
                    trailers[k.strip().lower()] = v.strip()
        else:
            messages.append(payload)
            arrivals.append(time.perf_counter() - t0)
    conn.close()
    return WebReply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, messages, trailers, arrivals)


def test_generate_over_web_is_byte_identical_to_native(server, client):
    native = client.generate(seeds=[3, 99], format="raw", size=64)
    req = pb.GenerateRequest(characters=[pb.CharacterSource(seed=3), pb.CharacterSource(seed=99)],
                             output=pb.OutputSpec(format=pb.IMAGE_FORMAT_RAW_RGBA8, size=64))
    reply = web_call(server.web_address, "Generate", req)
    assert reply.http_status == 200 and reply.grpc_status == 0
    web = pb.GenerateResponse.FromString(reply.messages[0])
    for a, b in zip(native.results, web.results):
        assert a.image.data == b.image.data and len(a.image.data) == 64 * 64 * 4
        assert a.dna.SerializeToString() == b.dna.SerializeToString()


def test_generate_batch_streams_items_then_the_summary(server):
    reply = web_call(server.web_address, "GenerateBatch",
                     pb.GenerateBatchRequest(range=pb.SeedRange(base_seed=10, count=40)))
    assert reply.grpc_status == 0
    events = [pb.GenerateBatchEvent.FromString(m) for m in reply.messages]
    items = [e.item for e in events if e.HasField("item")]
    assert [i.seed for i in items] == list(range(10, 50))
    assert events[-1].HasField("summary") and events[-1].summary.produced == 40
    assert len(reply.messages) == len(events) > 40  # one frame per event, not one buffered blob


def test_errors_arrive_as_status_and_message(server):
    reply = web_call(server.web_address, "Generate",
                     pb.GenerateRequest(model="nope", characters=[pb.CharacterSource(seed=1)]))
    assert (reply.http_status, reply.grpc_status) == (200, 5)  # NOT_FOUND
    assert "unknown model 'nope'" in reply.grpc_message and "tiny" in reply.grpc_message
    reply = web_call(server.web_address, "Generate",
                     pb.GenerateRequest(characters=[pb.CharacterSource(seed=1)], output=pb.OutputSpec(size=33)))
    assert reply.grpc_status == 3 and "size" in reply.grpc_message  # INVALID_ARGUMENT says what to fix


def test_edit_session_is_refused_naming_render_preview(server, client):
    reply = web_call(server.web_address, "EditSession", pb.EditRequest())
    assert reply.grpc_status == 12 and "RenderPreview" in reply.grpc_message  # UNIMPLEMENTED
    dna = client.generate(seeds=[5]).results[0].dna
    req = pb.RenderPreviewRequest(dna=dna, edits=[pb.DirectionEdit(direction="sefa/0", strength=1.0)])
    reply = web_call(server.web_address, "RenderPreview", req)
    assert reply.grpc_status == 0
    web = pb.RenderPreviewResponse.FromString(reply.messages[0])
    assert web.image.data == client.render_preview(dna, {"sefa/0": 1.0}).image.data


def test_deadline_ends_a_long_stream(server):
    reply = web_call(server.web_address, "GenerateBatch",
                     pb.GenerateBatchRequest(range=pb.SeedRange(count=100_000)), headers={"grpc-timeout": "300m"})
    assert reply.grpc_status == 4  # DEADLINE_EXCEEDED
    assert len(reply.messages) < 100_000


@pytest.mark.parametrize("origin, allowed", [("http://game.example", True), ("http://evil.example", False)])
def test_cors_preflight_allows_only_the_configured_origin(server, origin, allowed):
    host, port = server.web_address.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request("OPTIONS", SERVICE + "Generate", headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-grpc-web,grpc-timeout"})
    resp = conn.getresponse()
    resp.read()
    conn.close()
    assert (resp.getheader("access-control-allow-origin") == origin) is allowed
    reply = web_call(server.web_address, "GetModel", pb.GetModelRequest(), headers={"Origin": origin})
    assert reply.grpc_status == 0  # the server answers; a browser shows the page the reply only if:
    assert (reply.headers.get("access-control-allow-origin") == origin) is allowed
    exposed = reply.headers.get("access-control-expose-headers", "")
    assert "grpc-status" in exposed and "grpc-message" in exposed
