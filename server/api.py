"""grpc.aio adapter: each RPC calls the service and maps its errors to status codes
(errors.grpc_code is the one table). RPCs of later issues (Encode) answer UNIMPLEMENTED by name."""
from __future__ import annotations

import logging
from contextlib import aclosing

import grpc

from avatarforge.v1 import avatarforge_pb2 as pb
from avatarforge.v1 import avatarforge_pb2_grpc as pb_grpc

from .errors import NotImplementedYet, grpc_code
from .service import AvatarForgeService

log = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["AvatarForge"].full_name  # "avatarforge.v1.AvatarForge"


async def _abort(context: grpc.aio.ServicerContext, exc: BaseException) -> None:
    code = grpc_code(exc)
    if code == grpc.StatusCode.INTERNAL:
        log.exception("internal error")
        await context.abort(code, f"internal error: {type(exc).__name__}: {exc}")
    await context.abort(code, str(exc))


def _later(feature: str, issue: str) -> NotImplementedYet:
    return NotImplementedYet(f"{feature} is part of the v1 API but not implemented by this server yet ({issue})")


class AvatarForgeServicer(pb_grpc.AvatarForgeServicer):
    def __init__(self, service: AvatarForgeService):
        self.service = service

    async def ListModels(self, request, context):
        try:
            return await self.service.list_models(request)
        except Exception as e:
            await _abort(context, e)

    async def GetModel(self, request, context):
        try:
            return await self.service.get_model(request)
        except Exception as e:
            await _abort(context, e)

    async def Generate(self, request, context):
        try:
            return await self.service.generate(request)
        except Exception as e:
            await _abort(context, e)

    async def GenerateBatch(self, request, context):
        # grpc.aio cancels this task when the client cancels or disconnects. aclosing() closes
        # service.generate_batch at once (not at garbage collection), even when the cancel lands
        # on our own `yield`, so its queued and lookahead work is dropped right away.
        try:
            async with aclosing(self.service.generate_batch(request)) as events:
                async for event in events:
                    yield event
        except Exception as e:  # CancelledError is a BaseException and passes through
            await _abort(context, e)

    async def EditSession(self, request_iterator, context):
        # Errors of single states come back as events (the session stays open); only a broken
        # request stream or an internal failure ends the call.
        try:
            async with aclosing(self.service.edit_session(request_iterator)) as events:
                async for event in events:
                    yield event
        except Exception as e:
            await _abort(context, e)

    async def Interpolate(self, request, context):
        try:
            async with aclosing(self.service.interpolate(request)) as frames:
                async for frame in frames:
                    yield frame
        except Exception as e:
            await _abort(context, e)

    async def Mix(self, request, context):
        try:
            return await self.service.mix(request)
        except Exception as e:
            await _abort(context, e)

    async def Mutate(self, request, context):
        try:
            return await self.service.mutate(request)
        except Exception as e:
            await _abort(context, e)

    async def RenderPreview(self, request, context):
        try:
            return await self.service.render_preview(request)
        except Exception as e:
            await _abort(context, e)

    async def Encode(self, request, context):
        await _abort(context, _later("Encode (personalisation: images to DNA)", "encoder issue"))
