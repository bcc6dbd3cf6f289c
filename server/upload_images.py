"""Uploaded pictures (EncodeRequest.images) -> uint8 RGB arrays, or InvalidRequest naming the
field (`images[1].data`) and what to fix.

Policy: PNG, JPEG and WebP are decoded by content (FaceImage.format may be UNSPECIFIED or any
of them); RAW_RGBA8 / RAW_BGRA8 need width, height and (optionally) row_stride. The pixel
count is checked from the header before anything is decoded, so a decompression bomb (a small
file of huge dimensions) costs nothing; Pillow's own bomb guard is caught as well. Animated
pictures (APNG, animated WebP) are refused: which frame is the face is not ours to guess.
EXIF orientation is applied (phones store portraits sideways). Alpha is composited onto the
picture's own border colour, so transparency reads as background, not as black. Decoding is
CPU work: callers run decode() in a thread pool, never on the event loop.
"""
from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageOps

from avatarforge.v1 import avatarforge_pb2 as pb

from .errors import InvalidRequest, TooLarge

ENCODED_FORMATS = ("PNG", "JPEG", "WEBP")
# Modes Pillow converts to RGB without losing meaning; 16-bit and float ones would be clipped.
READABLE_MODES = {"1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr"}
_RAW = {pb.IMAGE_FORMAT_RAW_RGBA8: "RGBA", pb.IMAGE_FORMAT_RAW_BGRA8: "BGRA"}


def decode(image: pb.FaceImage, where: str, max_pixels: int, background: tuple[int, int, int] | None = None) -> np.ndarray:
    """One FaceImage -> uint8 [H, W, 3], upright, with transparency composited onto
    `background` (the model's training background; None = the picture's own opaque border
    colour, else white). Raises InvalidRequest."""
    if not image.data:
        raise InvalidRequest(f"{where}.data is empty: send the picture's file bytes (PNG, JPEG or WebP) "
                             "or raw RGBA8 pixels with width and height", f"{where}.data")
    if image.format in _RAW:
        return _raw(image, where, max_pixels, background)
    if image.format not in (pb.IMAGE_FORMAT_UNSPECIFIED, pb.IMAGE_FORMAT_PNG, pb.IMAGE_FORMAT_JPEG, pb.IMAGE_FORMAT_WEBP):
        raise InvalidRequest(f"{where}.format = {image.format} is not an image format this server reads: use PNG, "
                             "JPEG, WebP, RAW_RGBA8 or RAW_BGRA8", f"{where}.format")
    field = f"{where}.data"
    try:
        # Pillow refuses pictures of over twice its MAX_IMAGE_PIXELS at open (a DecompressionBombError);
        # ours, far lower, is checked next, from the header, before any pixel is decoded.
        img = Image.open(io.BytesIO(image.data), formats=ENCODED_FORMATS)
        _check_size(img.width, img.height, where, max_pixels)
        if getattr(img, "is_animated", False) or getattr(img, "n_frames", 1) > 1:
            raise InvalidRequest(f"{field} is an animated {img.format} of {img.n_frames} frames: send one still "
                                 "picture (PNG, JPEG or WebP)", field)
        if img.mode not in READABLE_MODES:
            raise InvalidRequest(f"{field}: pixel mode {img.mode!r} ({img.format}) is not supported: save the "
                                 "picture as 8-bit RGB, RGBA or greyscale", field)
        img.load()
        img = ImageOps.exif_transpose(img)
    except Image.DecompressionBombError:
        raise TooLarge(f"{field} declares more pixels than this server decodes ({max_pixels:,}): "
                       "scale the picture down", field) from None
    except Image.UnidentifiedImageError:
        kind = _signature(image.data)
        if kind:  # Pillow refuses e.g. a header of zero width or height without saying so
            raise InvalidRequest(f"{field} starts like a {kind} file but its header is unreadable: zero width or "
                                 "height, or a corrupt header; send a picture of at least one pixel", field) from None
        raise InvalidRequest(f"{field} ({len(image.data):,} bytes) is not a PNG, JPEG or WebP picture: send the file's "
                             "bytes, or raw pixels with format RAW_RGBA8 and width and height", field) from None
    except (OSError, SyntaxError, ValueError) as e:  # truncated or corrupt after a valid header
        raise InvalidRequest(f"{field} is truncated or corrupt ({e}): send the whole file", field) from None
    return _to_rgb(img, background)


def _signature(data: bytes) -> str:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    return ""


def _check_size(width: int, height: int, where: str, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise InvalidRequest(f"{where} is {width}x{height} pixels: a picture needs at least one pixel", f"{where}.data")
    if width * height > max_pixels:
        raise TooLarge(f"{where} is {width}x{height} = {width * height:,} pixels, more than this server decodes "
                       f"({max_pixels:,}): scale the picture down", f"{where}.data")


def _raw(image: pb.FaceImage, where: str, max_pixels: int, background) -> np.ndarray:
    w, h = image.width, image.height
    if w <= 0 or h <= 0:
        raise InvalidRequest(f"{where}: raw pixels need width and height (got {w}x{h})", f"{where}.width")
    _check_size(w, h, where, max_pixels)
    stride = image.row_stride or w * 4
    if stride < w * 4:
        raise InvalidRequest(f"{where}.row_stride = {stride} is less than width * 4 = {w * 4}", f"{where}.row_stride")
    need = stride * (h - 1) + w * 4
    if len(image.data) < need:
        raise InvalidRequest(f"{where}.data has {len(image.data):,} bytes; {w}x{h} raw pixels with row_stride {stride} "
                             f"need {need:,}", f"{where}.data")
    rows = np.zeros(stride * h, np.uint8)  # the last row may end at its pixels, without padding
    rows[:need] = np.frombuffer(image.data, np.uint8, count=need)
    px = rows.reshape(h, stride)[:, : w * 4].reshape(h, w, 4)
    if image.bottom_up:
        px = px[::-1]
    if _RAW[image.format] == "BGRA":
        px = px[..., [2, 1, 0, 3]]
    return _to_rgb(Image.fromarray(np.ascontiguousarray(px), "RGBA"), background)


def _to_rgb(img: Image.Image, background) -> np.ndarray:
    """Composite any transparency onto `background`, or the picture's opaque border colour,
    or white: a transparent background becomes one flat colour, never black."""
    if img.mode in ("P", "PA") or "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("LA", "La", "RGBA", "RGBa"):
        rgba = np.asarray(img.convert("RGBA"))
        alpha = rgba[..., 3:4].astype(np.float32) / 255
        ring = np.concatenate([rgba[0], rgba[-1], rgba[:, 0], rgba[:, -1]])
        opaque = ring[ring[:, 3] == 255, :3]
        if background is not None:
            colour = np.array(background, np.float32)
        else:
            colour = np.median(opaque, axis=0) if len(opaque) else np.array([255.0, 255.0, 255.0])
        rgb = rgba[..., :3].astype(np.float32) * alpha + colour * (1 - alpha)
        return np.clip(rgb.round(), 0, 255).astype(np.uint8)
    return np.asarray(img.convert("RGB"))
