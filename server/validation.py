"""Request validation: every rule raises InvalidRequest with a message that says what to fix.

Pure functions over request fields, so the rules read in one place and test alone.
"""
from __future__ import annotations

from dataclasses import dataclass

from avatarforge.models.latents import MAX_SEED
from avatarforge.v1 import avatarforge_pb2 as pb

from .errors import InvalidRequest, TooLarge

PSI_MIN, PSI_MAX = 0.0, 2.0  # beyond 2 the extrapolated faces are garbage
MAX_REQUEST_ID = 128
_FORMATS = {
    pb.IMAGE_FORMAT_UNSPECIFIED: pb.IMAGE_FORMAT_PNG,
    pb.IMAGE_FORMAT_PNG: pb.IMAGE_FORMAT_PNG,
    pb.IMAGE_FORMAT_JPEG: pb.IMAGE_FORMAT_JPEG,
    pb.IMAGE_FORMAT_WEBP: pb.IMAGE_FORMAT_WEBP,
    pb.IMAGE_FORMAT_RAW_RGBA8: pb.IMAGE_FORMAT_RAW_RGBA8,
    pb.IMAGE_FORMAT_RAW_BGRA8: pb.IMAGE_FORMAT_RAW_BGRA8,
}
RAW_FORMATS = (pb.IMAGE_FORMAT_RAW_RGBA8, pb.IMAGE_FORMAT_RAW_BGRA8)


@dataclass(frozen=True)
class OutputPlan:
    format: int  # an ImageFormat value other than UNSPECIFIED
    size: int  # square edge in pixels
    quality: int  # 0 = encoder default
    bottom_up: bool = False  # raw formats: bottom row first


def request_id(value: str) -> str:
    if len(value) > MAX_REQUEST_ID:
        raise InvalidRequest(f"request_id is {len(value)} characters; keep it to {MAX_REQUEST_ID}")
    return value


def seed(value: int, where: str = "seed") -> int:
    if not 0 <= value <= MAX_SEED:
        raise InvalidRequest(f"{where} = {value} is out of range: seeds are integers in [0, {MAX_SEED}] (2^32-1)", where)
    return value


def psi(msg, field: str, default: float) -> float:
    """The truncation psi of `msg` (an optional float field), or `default` when unset."""
    if not msg.HasField(field):
        return default
    value = getattr(msg, field)
    if not PSI_MIN <= value <= PSI_MAX:  # also rejects NaN
        raise InvalidRequest(
            f"{field} = {value:g} is out of range: use a value in [{PSI_MIN:g}, {PSI_MAX:g}] "
            "(1 = no truncation, lower = closer to the average face), or leave it unset for the model default",
            field,
        )
    return value


def output(spec: pb.OutputSpec, native: int, sizes: list[int]) -> OutputPlan:
    fmt = _FORMATS.get(spec.format)
    if fmt is None:
        names = ", ".join(n for n in pb.ImageFormat.keys() if n != "IMAGE_FORMAT_UNSPECIFIED")
        raise InvalidRequest(f"output.format = {spec.format} is not a known image format; use one of {names}", "output.format")
    size = spec.size or native
    if size not in sizes:
        raise InvalidRequest(
            f"output.size = {size} is not supported by this model: use its native resolution {native} "
            f"or a power-of-two down/upscale of it: {', '.join(map(str, sizes))} (0 = native)",
            "output.size",
        )
    if not 0 <= spec.quality <= 100:
        raise InvalidRequest(f"output.quality = {spec.quality} is out of range: use 1..100, or 0 for the default", "output.quality")
    if spec.bottom_up and fmt not in RAW_FORMATS:
        raise InvalidRequest("output.bottom_up is for raw formats only (IMAGE_FORMAT_RAW_RGBA8 or _BGRA8): "
                             "PNG, JPEG and WebP always store the top row first", "output.bottom_up")
    return OutputPlan(fmt, size, spec.quality, spec.bottom_up)


def item_count(count: int, limit: int, what: str, hint: str = "") -> int:
    if count <= 0:
        raise InvalidRequest(f"{what} = {count}: ask for at least one item")
    if count > limit:
        raise TooLarge(f"{what} = {count} is more than this server's limit of {limit} per call{hint}")
    return count


def start_index(value: int, total: int) -> int:
    if not 0 <= value <= total:
        raise InvalidRequest(f"start_index = {value} is out of range: use 0..{total} (the number of items requested)")
    return value
