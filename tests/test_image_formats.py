"""Every output format decodes at the requested size."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from avatarforge.v1 import avatarforge_pb2 as pb


@pytest.mark.parametrize("fmt, pil_format", [("png", "PNG"), ("jpeg", "JPEG"), ("webp", "WEBP")])
@pytest.mark.parametrize("size", [16, 32, 128])
def test_encoded_formats_decode_at_size(client, fmt, pil_format, size):
    r = client.generate(seeds=[5], format=fmt, size=size, quality=80).results[0]
    assert (r.image.width, r.image.height) == (size, size)
    with Image.open(io.BytesIO(r.image.data)) as im:
        assert im.format == pil_format and im.size == (size, size)


def test_raw_rgba8(client):
    r = client.generate(seeds=[5], format="raw", size=64).results[0]
    assert r.image.format == pb.IMAGE_FORMAT_RAW_RGBA8 and (r.image.width, r.image.height) == (64, 64)
    assert len(r.image.data) == 64 * 64 * 4
    im = Image.frombytes("RGBA", (64, 64), r.image.data)
    assert im.getextrema()[3] == (255, 255)  # opaque
    png = client.generate(seeds=[5], size=64).results[0]
    with Image.open(io.BytesIO(png.image.data)) as p:
        assert p.convert("RGBA").tobytes() == r.image.data  # same pixels, other container


def test_default_output_is_native_png(client):
    r = client.generate(seeds=[5]).results[0]
    assert r.image.format == pb.IMAGE_FORMAT_PNG and r.image.width == 32
    assert r.timing.encode_us > 0 and r.timing.batch_size == 1
