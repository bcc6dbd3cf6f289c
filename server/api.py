"""grpc.aio adapter: each RPC calls the service and maps its errors to status codes
(errors.status_of, over the one table errors.grpc_code)."""
from __future__ import annotations

from contextlib import aclosing

import grpc
from google.protobuf import any_pb2
from google.rpc import status_pb2
from grpc_status import rpc_status

from avatarforge.v1 import avatarforge_pb2 as pb
from avatarforge.v1 import avatarforge_pb2_grpc as pb_grpc

from .errors import status_details, status_of
from .service import AvatarForgeService


SERVICE_NAME = pb.DESCRIPTOR.services_by_name["AvatarForge"].full_name  # "avatarforge.v1.AvatarForge"


async def abort(context: grpc.aio.ServicerContext, exc: BaseException) -> None:
    """End the call with the status of `exc` (errors.status_of), plus its google.rpc details."""
    code, message = status_of(exc)
    details = status_details(exc)
    if details:  # the status message as usual, plus google.rpc details for UIs and retry policies
        packed = [any_pb2.Any() for _ in details]
        for a, d in zip(packed, details):
            a.Pack(d)
        await context.abort_with_status(rpc_status.to_status(
            status_pb2.Status(code=code.value[0], message=message, details=packed)))
    await context.abort(code, message)


def _unary(call):
    """An RPC handler that awaits `call(service, request)` and maps its errors to a status."""
    async def handler(self, request, context):
        try:
            return await call(self.service, request)
        except Exception as e:  # CancelledError is a BaseException and passes through
            await abort(context, e)

    return handler


def _streaming(events):
    """An RPC handler that relays the async generator `events(service, request)`.

    grpc.aio cancels the handler's task when the client cancels or disconnects. aclosing()
    closes the service's generator at once (not at garbage collection), even when the cancel
    lands on our own `yield`, so its queued and lookahead work is dropped right away. The
    handler itself must be the generator that holds aclosing(): one more generator layer in
    between would leave the service's generator suspended until garbage collection.
    """
    async def handler(self, request, context):
        try:
            async with aclosing(events(self.service, request)) as it:
                async for event in it:
                    yield event
        except Exception as e:
            await abort(context, e)

    return handler


class AvatarForgeServicer(pb_grpc.AvatarForgeServicer):
    """Each RPC is one service call; _unary/_streaming turn its errors into statuses."""

    def __init__(self, service: AvatarForgeService):
        self.service = service

    ListModels = _unary(AvatarForgeService.list_models)
    GetModel = _unary(AvatarForgeService.get_model)
    Generate = _unary(AvatarForgeService.generate)
    GenerateBatch = _streaming(AvatarForgeService.generate_batch)
    # Errors of single states come back as events (the session stays open); only a broken
    # request stream or an internal failure ends the call.
    EditSession = _streaming(AvatarForgeService.edit_session)
    Interpolate = _streaming(AvatarForgeService.interpolate)
    Mix = _unary(AvatarForgeService.mix)
    Mutate = _unary(AvatarForgeService.mutate)
    RenderPreview = _unary(AvatarForgeService.render_preview)
    Encode = _unary(AvatarForgeService.encode)
    GetParts = _unary(AvatarForgeService.get_parts)
