"""The native door's adapter over call_guard: a grpc.aio server interceptor, so every service on
the port (AvatarForge, health, reflection) goes through the same check.

The key is checked before the request is read: a refused call gets a handler that ends it with
the status and never parses its request. Admission is counted inside the handler, where a
try/finally is sure to release it however the call ends (a call cancelled before its handler
runs has nothing to release).

Request bytes that do not parse as the method's message end the call with INVALID_ARGUMENT
naming the message type. grpc.aio would answer UNKNOWN ("Unexpected DecodeError"), which tells a
client author nothing and reads like a server fault; the parse runs inside grpc before any
handler, so the deserializer is wrapped to hand the failure to the handler instead of raising.
"""
from __future__ import annotations

import inspect
from contextlib import aclosing

import grpc

from .api import abort
from .call_guard import CallGuard, Caller, images_requested
from .errors import AvatarForgeError, InvalidRequest


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
        return _parsed_safely(_guarded(handler, self.guard, caller), details.method)


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
            if handler.request_streaming:
                return guard.admit(caller)
            return guard.admit(caller, images_requested(caller.method, request), getattr(request, "model", ""))
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


class _Undecodable:
    """What a request deserializer returns for bytes that are not the method's message."""

    def __init__(self, error: Exception):
        self.error = error


def _undecodable(method: str, request_type: str, error: Exception) -> InvalidRequest:
    return InvalidRequest(f"the request of {method} is not a valid {request_type} message "
                          f"({type(error).__name__}: {error}): send the bytes the generated client code serializes")


async def _checked_stream(requests, method: str, request_type: str):
    async for request in requests:
        if isinstance(request, _Undecodable):
            raise _undecodable(method, request_type, request.error)
        yield request


def _parsed_safely(handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
    """The handler with a deserializer that never raises, and a check in front of the call that
    ends one given an undecodable message (unary requests) or raises InvalidRequest where the
    service reads one from its request stream."""
    parse = handler.request_deserializer
    if parse is None:
        return handler
    request_type = getattr(getattr(parse, "__self__", None), "DESCRIPTOR", None)
    request_type = request_type.full_name if request_type is not None else "request"

    def tolerant(data: bytes):
        try:
            return parse(data)
        except Exception as e:  # any parse failure: DecodeError, or a deserializer's own error
            return _Undecodable(e)

    kind = _kind(handler)
    inner = getattr(handler, kind)

    async def checked(request, context):
        if handler.request_streaming:
            return _checked_stream(request, method, request_type)
        if isinstance(request, _Undecodable):
            await abort(context, _undecodable(method, request_type, request.error))
        return request

    async def call(request, context):
        return await inner(await checked(request, context), context)

    async def stream(request, context):
        async with aclosing(inner(await checked(request, context), context)) as events:  # as api._streaming
            async for event in events:
                yield event

    wrapped = stream if handler.response_streaming and inspect.isasyncgenfunction(inner) else call
    return handler._replace(**{kind: wrapped, "request_deserializer": tolerant})
