"""Image encoding: uint8 RGB arrays -> PNG | JPEG | WebP | raw RGBA8 bytes, with resizing.

Plain functions, CPU-bound: the API runs them in a thread pool, never on the event loop
(Pillow releases the GIL while it compresses).
"""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

from avatarforge.v1 import avatarforge_pb2 as pb

DEFAULT_QUALITY = 90
FORMAT_NAMES = {
    pb.IMAGE_FORMAT_PNG: "png",
    pb.IMAGE_FORMAT_JPEG: "jpeg",
    pb.IMAGE_FORMAT_WEBP: "webp",
    pb.IMAGE_FORMAT_RAW_RGBA8: "raw",
}


def resize(rgb: np.ndarray, size: int) -> Image.Image:
    """uint8 [H, W, 3] -> a PIL image of size x size (LANCZOS; unchanged when already that size)."""
    img = Image.fromarray(rgb, "RGB")
    if img.size != (size, size):
        img = img.resize((size, size), Image.Resampling.LANCZOS)
    return img


def encode_image(rgb: np.ndarray, fmt: int, size: int, quality: int = 0) -> pb.Image:
    """uint8 [H, W, 3] -> an Image message of `fmt` (an ImageFormat value, never UNSPECIFIED)."""
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3, f"expected uint8 [H, W, 3], got {rgb.dtype} {rgb.shape}"
    img = resize(rgb, size)
    quality = quality or DEFAULT_QUALITY
    if fmt == pb.IMAGE_FORMAT_RAW_RGBA8:
        data = img.convert("RGBA").tobytes()
    else:
        buf = io.BytesIO()
        if fmt == pb.IMAGE_FORMAT_PNG:
            img.save(buf, "PNG", compress_level=6)
        elif fmt == pb.IMAGE_FORMAT_JPEG:
            img.save(buf, "JPEG", quality=quality)
        elif fmt == pb.IMAGE_FORMAT_WEBP:
            img.save(buf, "WEBP", quality=quality, method=4)
        else:
            raise ValueError(f"unknown image format {fmt}")
        data = buf.getvalue()
    return pb.Image(data=data, format=fmt, width=img.width, height=img.height)
