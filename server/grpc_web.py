"""The gRPC-Web front door: the same AvatarForgeService, over HTTP/1.1, for browsers, Unity WebGL
and clients without an HTTP/2 transport (Mono's HttpClient).

    HTTP/1.1 POST /avatarforge.v1.AvatarForge/<Method>
      application/grpc-web+proto (binary framing; also Connect and plain gRPC)
      -> Starlette CORSMiddleware (the game's or page's origins; grpc-status/-message exposed)
      -> connectrpc's ASGI application, served by hypercorn on --web-address
      -> _unary / _server_stream: call_guard's check (API key, scope, quotas; the same one the
         native door's interceptor runs), then the AvatarForgeService call; errors mapped by
         errors.status_of and status_details (as for the native door), as a trailer with the
         status, its message and its google.rpc details (BadRequest, RetryInfo)

Why connectrpc: research/csharp-grpc-web.md measured it against sonora (unmaintained, malformed
unary trailers, crashes on an error after the first streamed message): connectrpc passed every
binary-mode check (trailers, mid-stream errors, empty streams, deadlines, disconnects) and
streams incrementally. It does not speak grpc-web-text; browsers and Unity use binary.
With --web the same port also serves the browser creator's files (web_page.py), so the page
calls its RPCs same-origin. hypercorn, not uvicorn, because it runs inside our event loop with a shutdown trigger and
installs no signal handlers of its own (the server's SIGTERM drain stays ours).

The endpoints are built from the proto's service descriptor, so there is no second generated
file to keep fresh. EditSession is bidirectional, which gRPC-Web cannot carry: it answers
UNIMPLEMENTED naming RenderPreview, the one-shot edit a WebGL creator calls per slider move.
"""
from __future__ import annotations

import asyncio
import logging
import socket
from contextlib import aclosing

from connectrpc.code import Code
from connectrpc.compat import google_protobuf_codecs
from connectrpc.errors import ConnectError, ErrorDetail
from connectrpc.method import IdempotencyLevel, MethodInfo, StreamType
from connectrpc.server import ConnectASGIApplication, Endpoint
from protobuf.wkt import Any

from avatarforge.v1 import avatarforge_pb2 as pb

from .call_guard import CallGuard, images_requested
from .errors import NotImplementedYet, status_details, status_of
from .service import AvatarForgeService
from .transport_security import TlsFiles

log = logging.getLogger(__name__)

SERVICE = pb.DESCRIPTOR.services_by_name["AvatarForge"]
# Headers a browser page may read from a cross-origin reply (CORS hides the rest).
EXPOSED_HEADERS = ["grpc-status", "grpc-message", "grpc-status-details-bin"]


def connect_error(exc: BaseException) -> ConnectError:
    code, message = status_of(exc)
    # connectrpc's ErrorDetail takes an Any of its own protobuf runtime: the Google-protobuf
    # details go in as their type URL and bytes, which is all grpc-status-details-bin carries.
    details = [ErrorDetail(Any(type_url="type.googleapis.com/" + d.DESCRIPTOR.full_name, value=d.SerializeToString()))
               for d in status_details(exc)]
    return ConnectError(Code[code.name], message, details)


def _admit(guard: CallGuard, method: str, request, ctx):
    """call_guard's check for one call of this door; the caller releases the ticket."""
    try:
        caller = guard.authenticate(method, ctx.request_headers.get("authorization"))
        if request is None:
            return guard.admit(caller)
        return guard.admit(caller, images_requested(method, request), getattr(request, "model", ""))
    except Exception as e:
        raise connect_error(e) from e


def _unary(call, guard: CallGuard, method: str):
    async def handler(request, ctx):
        ticket = _admit(guard, method, request, ctx)
        try:
            return await call(request)
        except Exception as e:  # CancelledError (client gone, deadline) passes through
            raise connect_error(e) from e
        finally:
            ticket.release()

    return handler


def _server_stream(events, guard: CallGuard, method: str):
    """aclosing(): a client that disconnects mid-stream closes the guard's relay and through it
    the service's generator at once, so its queued and lookahead work is dropped (as in api.py)."""
    async def handler(request, ctx):
        ticket = _admit(guard, method, request, ctx)
        try:
            async with aclosing(guard.relay(ticket, events(request))) as it:
                async for event in it:
                    yield event
        except Exception as e:
            raise connect_error(e) from e
        finally:
            ticket.release()

    return handler


def _edit_session_refused(guard: CallGuard, method: str):
    async def handler(requests, ctx):
        _admit(guard, method, None, ctx).release()  # a caller without a key learns nothing more
        raise ConnectError(Code.UNIMPLEMENTED, "EditSession is a bidirectional stream, which gRPC-Web cannot "
                                               "carry: call RenderPreview with the editor's state on each slider "
                                               "move instead")
        yield  # an async generator, as connectrpc expects for a bidi endpoint

    return handler


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


def endpoints(service: AvatarForgeService, guard: CallGuard) -> dict[str, Endpoint]:
    """One connectrpc Endpoint per RPC of the contract, each calling the service method of the
    same name (GenerateBatch -> generate_batch) behind `guard`; an RPC the service lacks answers
    UNIMPLEMENTED."""
    out = {}
    for m in SERVICE.methods:
        path = f"/{SERVICE.full_name}/{m.name}"
        info = MethodInfo(name=m.name, service_name=SERVICE.full_name, input=getattr(pb, m.input_type.name),
                          output=getattr(pb, m.output_type.name), idempotency_level=IdempotencyLevel.UNKNOWN,
                          stream_type=(StreamType.BIDI_STREAM if m.client_streaming else
                                       StreamType.SERVER_STREAM if m.server_streaming else StreamType.UNARY))
        call = getattr(service, _snake(m.name), None)
        if m.client_streaming:
            out[path] = Endpoint.bidi_stream(method=info, function=_edit_session_refused(guard, path))
        elif m.server_streaming:
            out[path] = Endpoint.server_stream(method=info, function=_server_stream(call, guard, path))
        else:
            out[path] = Endpoint.unary(method=info, function=_unary(call or _not_yet(m.name), guard, path))
    return out


def _not_yet(name: str):
    async def call(request):
        raise NotImplementedYet(f"{name} is part of the v1 API but not implemented by this server yet")

    return call


class _AvatarForgeApp(ConnectASGIApplication):
    @property
    def path(self) -> str:  # where to mount it beside other applications
        return f"/{SERVICE.full_name}"


def create_app(service: AvatarForgeService, guard: CallGuard, cors_origins: list[str], max_message_bytes: int,
               page: bool = False):
    """The ASGI application: CORS in front of connectrpc's gRPC-Web / Connect / gRPC handler;
    with `page`, the browser creator's files beside it (web_page.py). CORS lets a page send
    `authorization` (allow_headers mirrors what the preflight asks for)."""
    from starlette.middleware.cors import CORSMiddleware

    app = _AvatarForgeApp(service=service, endpoints=lambda _: endpoints(service, guard), read_max_bytes=max_message_bytes,
                          codecs=google_protobuf_codecs())  # our messages are Google protobuf's
    app = CORSMiddleware(app, allow_origins=cors_origins, allow_methods=["POST", "OPTIONS"], allow_headers=["*"],
                         expose_headers=EXPOSED_HEADERS, max_age=3600)
    if page:
        from .web_page import with_page

        app = with_page(app, f"/{SERVICE.full_name}/")
    return app


class WebDoor:
    """hypercorn serving the gRPC-Web app on the server's event loop until stop(). The socket
    is bound here, so a taken address fails start() at once and port 0 reports its port."""

    def __init__(self, app, address: str, tls: TlsFiles | None = None):
        self.app = app
        self.address = address
        self.tls = tls
        self.port = 0
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        from hypercorn.asyncio import serve
        from hypercorn.config import Config

        config = Config()
        if self.tls is not None:  # before binding: an unreadable file fails start() with nothing open
            self.tls.configure_hypercorn(config)
        host, _, port = self.address.rpartition(":")
        host = host.strip("[]") or "0.0.0.0"
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, int(port)))
        except OSError as e:
            sock.close()
            raise OSError(f"cannot listen for gRPC-Web on {self.address}: {e.strerror}") from e
        sock.listen(128)
        self.port = sock.getsockname()[1]
        config.bind = [f"fd://{sock.detach()}"]  # hypercorn owns and closes it from here
        config.accesslog = None
        config.errorlog = log  # through our logging setup, not its own stderr handler
        self._task = asyncio.ensure_future(serve(self.app, config, shutdown_trigger=self._stop.wait))

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
