"""Domain errors and their gRPC status codes, in one place.

The domain layer (validation, DNA, generation) raises these; only `api.py` turns them into gRPC
statuses, through `grpc_code`. Adding an error kind means adding one row to `_CODES`.
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


_CODES: dict[type[AvatarForgeError], grpc.StatusCode] = {
    InvalidDna: grpc.StatusCode.INVALID_ARGUMENT,
    TooLarge: grpc.StatusCode.INVALID_ARGUMENT,
    InvalidRequest: grpc.StatusCode.INVALID_ARGUMENT,
    ModelNotFound: grpc.StatusCode.NOT_FOUND,
    NotImplementedYet: grpc.StatusCode.UNIMPLEMENTED,
    ItemOutOfRange: grpc.StatusCode.OUT_OF_RANGE,
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
    if code == grpc.StatusCode.INTERNAL:
        log.error("internal error", exc_info=exc)
        return code, f"internal error: {type(exc).__name__}: {exc}"
    return code, str(exc)


def bad_request(exc: BaseException):
    """google.rpc.BadRequest naming the field at fault, or None: the standard error detail that
    gRPC clients in every language decode (grpc-status-details-bin), so a creator UI can mark
    the rejected slider without parsing English."""
    field = getattr(exc, "field", "")
    if not field:
        return None
    from google.rpc import error_details_pb2

    return error_details_pb2.BadRequest(field_violations=[
        error_details_pb2.BadRequest.FieldViolation(field=field, description=str(exc))])


def item_error_code(exc: BaseException) -> int:
    """The numeric code (google.rpc.Code) for a per-item ItemError."""
    return grpc_code(exc).value[0]
