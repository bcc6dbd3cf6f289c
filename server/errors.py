"""Domain errors and their gRPC status codes, in one place.

The domain layer (validation, DNA, generation) and the call guard (keys, quotas) raise these;
the two doors (api.py and guard_native.py for grpc.aio, grpc_web.py) turn them into statuses
through `status_of` and `status_details`. Adding an error kind means adding one row to `_CODES`.
"""
from __future__ import annotations

import logging

import grpc

log = logging.getLogger(__name__)


class AvatarForgeError(Exception):
    """Base class: the message is shown to the client as is, so it must say what to fix."""


class InvalidRequest(AvatarForgeError):
    """A request field is malformed or out of range. `field` names it (e.g. "edits[1].strength")
    where one field is at fault, so a creator UI can mark the rejected slider."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


class InvalidDna(InvalidRequest):
    """DNA that is corrupt, hand-edited or made by another model."""


class ModelNotFound(AvatarForgeError):
    """The request names a model this server has not loaded."""


class TooLarge(InvalidRequest):
    """More items than the configured limit."""


class NotImplementedYet(AvatarForgeError):
    """An RPC of the v1 surface that a later release implements."""


class ItemOutOfRange(AvatarForgeError):
    """One item of a stream cannot be produced (e.g. a seed past 2^32-1); the stream goes on."""


class Unauthenticated(AvatarForgeError):
    """No API key, or one the server does not know."""


class PermissionDenied(AvatarForgeError):
    """A known API key without the scope the RPC needs."""


class Throttled(AvatarForgeError):
    """A quota or the server's admission limit refuses the call. `retry_after_s` is when a retry
    can succeed (sent as google.rpc.RetryInfo), or None when retrying the same call never will."""

    def __init__(self, message: str, retry_after_s: float | None = None):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class BackendFailed(AvatarForgeError):
    """The model backend raised on a batch (a driver error, memory, a bug): the requests in that
    batch fail with INTERNAL; the server, and every other batch, go on."""


class ShuttingDown(AvatarForgeError):
    """The server got SIGTERM: calls in flight finish, new ones go elsewhere (a retry can succeed
    on another instance, or on this one once restarted)."""


class StreamExpired(AvatarForgeError):
    """A stream ran past the server's duration cap, or an EditSession sat idle too long."""


_CODES: dict[type[AvatarForgeError], grpc.StatusCode] = {
    InvalidDna: grpc.StatusCode.INVALID_ARGUMENT,
    TooLarge: grpc.StatusCode.INVALID_ARGUMENT,
    InvalidRequest: grpc.StatusCode.INVALID_ARGUMENT,
    ModelNotFound: grpc.StatusCode.NOT_FOUND,
    NotImplementedYet: grpc.StatusCode.UNIMPLEMENTED,
    ItemOutOfRange: grpc.StatusCode.OUT_OF_RANGE,
    Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    Throttled: grpc.StatusCode.RESOURCE_EXHAUSTED,
    StreamExpired: grpc.StatusCode.DEADLINE_EXCEEDED,
    ShuttingDown: grpc.StatusCode.UNAVAILABLE,
    BackendFailed: grpc.StatusCode.INTERNAL,
}


def grpc_code(exc: BaseException) -> grpc.StatusCode:
    """The status for an exception; anything unexpected is INTERNAL."""
    for cls in type(exc).__mro__:
        if cls in _CODES:
            return _CODES[cls]
    return grpc.StatusCode.INTERNAL


def status_of(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """The status and message a failed call ends with, for either door. An unexpected failure
    is INTERNAL, logged with its traceback here, and named by type so a bug report says what."""
    code = grpc_code(exc)
    if isinstance(exc, BackendFailed):  # its message says what failed; the batcher logged the traceback
        return code, str(exc)
    if code == grpc.StatusCode.INTERNAL:
        log.error("internal error", exc_info=exc)
        return code, f"internal error: {type(exc).__name__}: {exc}"
    return code, str(exc)


def status_details(exc: BaseException) -> list:
    """The google.rpc error details of a failed call, for either door: the standard details that
    gRPC clients in every language decode (grpc-status-details-bin). BadRequest names the field
    at fault, so a creator UI can mark the rejected slider without parsing English; RetryInfo
    says when a throttled call may be retried, so client retry policies back off by the server's
    own measure instead of guessing."""
    from google.protobuf import duration_pb2
    from google.rpc import error_details_pb2

    details = []
    field = getattr(exc, "field", "")
    if field:
        details.append(error_details_pb2.BadRequest(field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=field, description=str(exc))]))
    retry = getattr(exc, "retry_after_s", None)
    if retry is not None:
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(max(1, round(retry * 1e9)))
        details.append(error_details_pb2.RetryInfo(retry_delay=delay))
    return details


def item_error_code(exc: BaseException) -> int:
    """The numeric code (google.rpc.Code) for a per-item ItemError."""
    return grpc_code(exc).value[0]
