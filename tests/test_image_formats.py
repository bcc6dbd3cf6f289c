"""Every output format decodes at the requested size."""
from __future__ import annotations

import io

import grpc
import numpy as np
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


def test_raw_layouts_for_engines(client):
    """BGRA8 (Unreal) and bottom-up rows (Unity's LoadRawTextureData) are the RGBA8 pixels
    reordered, with the layout stated in the reply."""
    def raw(fmt, bottom_up=False):
        req = pb.GenerateRequest(characters=[pb.CharacterSource(seed=5)],
                                 output=pb.OutputSpec(format=fmt, size=64, bottom_up=bottom_up))
        return client.stub.Generate(req).results[0].image

    rgba = raw(pb.IMAGE_FORMAT_RAW_RGBA8)
    assert (rgba.row_stride, rgba.bottom_up) == (64 * 4, False)
    top_down = np.frombuffer(rgba.data, np.uint8).reshape(64, 64, 4)
    bgra = raw(pb.IMAGE_FORMAT_RAW_BGRA8)
    assert bgra.format == pb.IMAGE_FORMAT_RAW_BGRA8 and bgra.row_stride == 256
    assert np.array_equal(np.frombuffer(bgra.data, np.uint8).reshape(64, 64, 4), top_down[..., [2, 1, 0, 3]])
    flipped = raw(pb.IMAGE_FORMAT_RAW_RGBA8, bottom_up=True)
    assert flipped.bottom_up and np.array_equal(np.frombuffer(flipped.data, np.uint8).reshape(64, 64, 4), top_down[::-1])
    assert not np.array_equal(top_down, top_down[::-1])  # the face is not symmetric top to bottom


def test_bad_output_names_the_field_in_google_rpc_details(client):
    """INVALID_ARGUMENT carries google.rpc.BadRequest with the field at fault, as every gRPC
    language's status helpers decode it."""
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    req = pb.GenerateRequest(characters=[pb.CharacterSource(seed=5)], output=pb.OutputSpec(bottom_up=True))
    with pytest.raises(grpc.RpcError) as info:
        client.stub.Generate(req)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "raw formats only" in info.value.details()
    status = rpc_status.from_call(info.value)
    bad = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad)
    assert [v.field for v in bad.field_violations] == ["output.bottom_up"]
