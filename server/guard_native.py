"""The native door's adapter over call_guard: a grpc.aio server interceptor, so every service on
the port (AvatarForge, health, reflection) goes through the same check.

The key is checked before the request is read: a refused call gets a handler that ends it with
the status and never parses its request. Admission is counted inside the handler, where a
try/finally is sure to release it however the call ends (a call cancelled before its handler
runs has nothing to release).
"""
from __future__ import annotations

import inspect

import grpc

from .api import abort
from .call_guard import CallGuard, Caller, images_requested
from .errors import AvatarForgeError


def _metadata(details: grpc.HandlerCallDetails, name: str) -> str | None:
    return next((v for k, v in details.invocation_metadata or () if k == name), None)


class GuardInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, guard: CallGuard):
        self.guard = guard

    async def intercept_service(self, continuation, details: grpc.HandlerCallDetails):
        handler = await continuation(details)
        if handler is None:  # no such method: gRPC answers UNIMPLEMENTED
            return None
        try:
            caller = self.guard.authenticate(details.method, _metadata(details, "authorization"))
        except AvatarForgeError as e:
            return _refused(handler, e)
        return _guarded(handler, self.guard, caller)


def _kind(handler: grpc.RpcMethodHandler) -> str:
    return (("stream_" if handler.request_streaming else "unary_")
            + ("stream" if handler.response_streaming else "unary"))


def _refused(handler: grpc.RpcMethodHandler, exc: AvatarForgeError) -> grpc.RpcMethodHandler:
    async def refuse(request, context):
        await abort(context, exc)

    return handler._replace(**{_kind(handler): refuse, "request_deserializer": lambda _: None})


def _guarded(handler: grpc.RpcMethodHandler, guard: CallGuard, caller: Caller) -> grpc.RpcMethodHandler:
    kind = _kind(handler)
    inner = getattr(handler, kind)

    async def admit(request, context):
        try:
            return guard.admit(caller, 0 if handler.request_streaming else images_requested(caller.method, request))
        except AvatarForgeError as e:
            await abort(context, e)

    async def call(request, context):
        ticket = await admit(request, context)
        try:
            return await inner(request, context)
        finally:
            ticket.release()

    async def stream(request, context):
        ticket = await admit(request, context)
        try:
            async for event in guard.relay(ticket, inner(request, context)):
                yield event
        except AvatarForgeError as e:  # the stream cap (relay); the service maps its own errors
            await abort(context, e)
        finally:
            ticket.release()

    wrapped = stream if handler.response_streaming and inspect.isasyncgenfunction(inner) else call
    return handler._replace(**{kind: wrapped})
