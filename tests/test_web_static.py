"""`avatarforge serve --web`: the browser creator's files on the gRPC-Web port, beside its RPCs,
with the right content types and nothing outside server/web_static reachable."""
from __future__ import annotations

import http.client
import re
import subprocess
import sys

import pytest

from avatarforge.server.config import ServerConfig
from avatarforge.server.web_page import page_url
from avatarforge.v1 import avatarforge_pb2 as pb

from test_grpc_web import web_call


def get(address: str, path: str, method: str = "GET") -> tuple[int, dict, bytes]:
    host, port = address.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request(method, path)  # sent as written: no client-side normalising of ".."
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body


@pytest.fixture(scope="module")
def page_server(tiny_bundle):
    proc = subprocess.Popen([sys.executable, "-m", "avatarforge.server", "--backend", "torch", "--device", "cpu",
                             "--model", str(tiny_bundle), "--address", "127.0.0.1:0", "--web",
                             "--web-address", "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        match = re.fullmatch(r"Character creator: http://(127\.0\.0\.1:\d+)/\n", line)
        assert match, f"no URL printed: {line!r}"
        yield match[1]
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.mark.parametrize("path, kind", [("/", "text/html"), ("/index.html", "text/html"),
                                        ("/app.js", "javascript"), ("/creator.css", "text/css")])
def test_page_files_have_their_content_types_and_safety_headers(page_server, path, kind):
    status, headers, body = get(page_server, path)
    assert status == 200 and kind in headers["content-type"] and body
    assert headers["x-content-type-options"] == "nosniff"
    assert "default-src 'self'" in headers["content-security-policy"]
    assert get(page_server, path, "HEAD")[0] == 200


@pytest.mark.parametrize("path", ["/../server/config.py", "/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
                                  "/..%2f..%2fweb_page.py", "//etc/passwd", "/nothing.js", "/web_static/app.js"])
def test_nothing_outside_the_page_folder_is_served(page_server, path):
    status, _, body = get(page_server, path)
    assert status == 404 and b"root:" not in body and b"import" not in body


def test_rpcs_answer_on_the_same_port(page_server):
    reply = web_call(page_server, "GetModel", pb.GetModelRequest())
    assert reply.grpc_status == 0 and pb.ModelInfo.FromString(reply.messages[0]).name == "tiny"


def test_a_web_door_without_web_serves_no_page(server):
    assert get(server.web_address, "/")[0] != 200


def test_web_opens_the_door_on_this_machine_unless_told_otherwise():
    assert ServerConfig(web=True).web_address == "127.0.0.1:8080"
    assert ServerConfig(web=True, web_address="0.0.0.0:9000").web_address == "0.0.0.0:9000"
    assert ServerConfig.from_env({"AVATARFORGE_WEB": "yes"}).web
    assert not ServerConfig.from_env({"AVATARFORGE_WEB": "0"}).web
    with pytest.raises(ValueError, match="AVATARFORGE_WEB='maybe' is not a valid bool"):
        ServerConfig.from_env({"AVATARFORGE_WEB": "maybe"})


@pytest.mark.parametrize("address, url", [("127.0.0.1:0", "http://127.0.0.1:8123/"), ("0.0.0.0:80", "http://localhost:8123/"),
                                          ("[::]:80", "http://localhost:8123/"), ("[::1]:80", "http://[::1]:8123/")])
def test_the_printed_url(address, url):
    assert page_url(address, 8123) == url
