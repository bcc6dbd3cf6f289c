"""Encode as a player's upload meets it: a real server on loopback with the shipped avatars64
model, pictures made from faces the model renders (the clean render is the truth), through the
native door, the gRPC-Web door and the `avatarforge encode` command.

Floors (PSNR of the reconstruction against the clean face) sit below what was measured on 200
faces (README, "Personalisation": clean 35.0 dB mean, 31.8 dB 10th percentile; perturbed
28.5-33.8 dB mean after alignment, 22.9-29.9 dB 10th percentile), with room for a handful of
faces; the perturbed floor is lower because a shifted or rescaled picture loses pixels at the
edge, or detail to resampling.
"""
from __future__ import annotations

import io
import struct
import time
import zlib

import grpc
import numpy as np
import pytest
from PIL import Image

from avatarforge import cli
from avatarforge.server.dna import dna_checksum
from avatarforge.v1 import avatarforge_pb2 as pb

from test_grpc_web import web_call

CLEAN_FLOOR_DB = 28.0  # every face
PERTURBED_FLOOR_DB = 22.0  # mean of the four faces, for each perturbation
WORST_FACE_FLOOR_DB = 16.0  # any one face (seed 200004's wide hat loses most when scaled down)
BACKGROUND = (220, 230, 240)  # avatars64's training background
SEEDS = [200_001, 200_002, 200_003, 200_004]  # not among the seeds the README's figures were measured on


@pytest.fixture(scope="module")
def faces(af) -> list[np.ndarray]:
    """Clean renders, uint8 [64, 64, 3]: the truth every encoding is compared with."""
    reply = af.generate(seeds=SEEDS, format="raw")
    return [np.frombuffer(r.image.data, np.uint8).reshape(64, 64, 4)[..., :3].copy() for r in reply.results]


def png(rgb: np.ndarray, **save) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG", **save)
    return buf.getvalue()


def jpeg(rgb: np.ndarray, quality: int = 50, **save) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality, **save)
    return buf.getvalue()


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0**2 / ((a.astype(float) - b.astype(float)) ** 2).mean()))


def pixels(image: pb.FaceImage) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(image.data)).convert("RGB"))


def background_of(rgb: np.ndarray) -> np.ndarray:
    return (np.abs(rgb.astype(int) - BACKGROUND).max(-1) <= 6)


# Issue 14's perturbations, and what real uploads add: a big, non-square picture with the avatar
# off-centre on white; a transparent background; a phone photo stored sideways with EXIF.
def shifted(rgb):
    out = np.empty_like(rgb)
    out[:] = BACKGROUND
    out[:-3, 4:] = rgb[3:, :-4]
    return png(out)


def scaled(rgb):
    canvas = Image.new("RGB", (64, 64), BACKGROUND)
    canvas.paste(Image.fromarray(rgb).resize((54, 54), Image.Resampling.LANCZOS), (5, 5))
    return png(np.asarray(canvas))


def white(rgb):
    out = rgb.copy()
    out[background_of(rgb)] = 255
    return png(out)


def large_off_centre(rgb):
    canvas = Image.new("RGB", (700, 420), "white")
    face = Image.fromarray(np.where(background_of(rgb)[..., None], 255, rgb).astype(np.uint8))
    canvas.paste(face.resize((320, 320), Image.Resampling.BICUBIC), (300, 100))
    return png(np.asarray(canvas))


def transparent(rgb):
    rgba = np.dstack([rgb, np.where(background_of(rgb), 0, 255).astype(np.uint8)])
    return png(rgba)


def webp(rgb):
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "WEBP", quality=80)
    return buf.getvalue()


def exif_sideways(rgb):
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: the stored pixels must be turned 90 degrees clockwise to view
    return jpeg(np.rot90(rgb, 1).copy(), quality=95, exif=exif.tobytes())


PERTURBED = {"shifted 4 right 3 up": shifted, "scaled 85 %": scaled, "white background": white,
             "JPEG q50": lambda rgb: jpeg(rgb), "700x420, off-centre on white": large_off_centre,
             "transparent background": transparent, "EXIF orientation 6": exif_sideways, "WebP q80": webp}


def test_round_trip_on_generated_faces_is_above_the_floor(af, faces):
    agreement = []
    for seed, face in zip(SEEDS, faces):
        reply = af.encode([png(face)])
        got = pixels(reply.image)
        assert psnr(got, face) >= CLEAN_FLOOR_DB, seed
        assert reply.scores.psnr_db >= CLEAN_FLOOR_DB
        agreement.append(reply.scores.attribute_agreement)
        assert reply.pictures[0].psnr_db == reply.scores.psnr_db and reply.scores.refine_steps == 0
        # The DNA says it was encoded (no seed), and renders the same face again.
        dna = reply.dna
        assert not dna.HasField("seed") and [e.direction[:7] for e in dna.edits] == ["encode/"]
        assert dna.checksum == dna_checksum(dna)
        again = af.generate(dnas=[dna]).results[0]
        assert again.image.data == reply.image.data
    # Per face it moves in sevenths (7 reliable heads) and one misread skin tone costs one.
    assert np.mean(agreement) >= 0.6, agreement


@pytest.mark.parametrize("name", list(PERTURBED))
def test_perturbed_pictures_stay_above_a_lower_floor(af, faces, name):
    quality = []
    for seed, face in zip(SEEDS, faces):
        reply = af.encode([PERTURBED[name](face)], return_aligned=True)
        quality.append(psnr(pixels(reply.image), face))
        assert pixels(reply.pictures[0].aligned).shape == (64, 64, 3)
    # Unaligned, the issue measured 14.9 dB (shifted) and 18.6 dB (scaled) on average.
    assert np.mean(quality) >= PERTURBED_FLOOR_DB and min(quality) >= WORST_FACE_FLOOR_DB, quality


def test_raw_rgba_bottom_up_reads_as_the_png_does(af, faces):
    face = faces[0]
    rgba = np.dstack([face, np.full(face.shape[:2], 255, np.uint8)])[::-1]
    raw = pb.FaceImage(data=rgba.tobytes(), format=pb.IMAGE_FORMAT_RAW_RGBA8, width=64, height=64, bottom_up=True)
    assert af.encode([raw]).dna.w_plus == af.encode([png(face)]).dna.w_plus


def test_several_pictures_of_one_character_agree_more_than_different_characters(af, faces):
    same = af.encode([png(faces[0]), jpeg(faces[0]), shifted(faces[0])])
    different = af.encode([png(faces[0]), png(faces[1]), png(faces[2])])
    assert same.scores.spread < different.scores.spread
    assert [round(e.strength, 4) for e in same.dna.edits] == [0.3333] * 3
    assert len(same.pictures) == 3 and all(p.distance <= same.scores.spread * 2 for p in same.pictures)


def test_refinement_respects_its_time_budget(af, faces):
    t = time.perf_counter()
    reply = af.encode([png(faces[1])], refine_steps=10_000, refine_budget_ms=300)
    wall = time.perf_counter() - t
    s = reply.scores
    # 10,000 steps would take over a thousand seconds here (a step is 0.1-1 s on a shared 2-core
    # machine); the budget stops it within about one step, hence the generous margin.
    assert 0 <= s.refine_steps < 100 and s.refine_us < 300_000 + 5_000_000 and wall < 60
    if s.refine_steps:
        assert reply.dna.edits[-1].direction == "refine" and reply.dna.edits[-1].strength == s.refine_steps


def test_refinement_improves_the_reconstruction(af, faces):
    plain = af.encode([png(faces[2])])
    refined = af.encode([png(faces[2])], refine_steps=8, refine_budget_ms=5000)
    assert 1 <= refined.scores.refine_steps <= 8  # how many fit in 5 s depends on the machine's load
    assert refined.scores.psnr_db > plain.scores.psnr_db
    assert psnr(pixels(refined.image), faces[2]) > psnr(pixels(plain.image), faces[2])


def _png_header_only(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))  # noqa: E731
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def _animated_png() -> bytes:
    frames = [Image.new("RGB", (16, 16), c) for c in ("red", "blue")]
    buf = io.BytesIO()
    frames[0].save(buf, "PNG", save_all=True, append_images=frames[1:])
    return buf.getvalue()


def _sixteen_bit_png() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((8, 8), 40000, np.uint16)).save(buf, "PNG")
    return buf.getvalue()


def _big_png() -> bytes:  # 5000 x 4000 = 20 M pixels > the default 16.7 M; compresses to a few KB
    buf = io.BytesIO()
    Image.new("L", (5000, 4000), 200).save(buf, "PNG")
    return buf.getvalue()


BAD = [  # (case, the second picture, the field at fault, words of the message)
    ("empty", pb.FaceImage(), "images[1].data", ["empty"]),
    ("not an image", pb.FaceImage(data=b"hello, this is text"), "images[1].data", ["not a PNG, JPEG or WebP"]),
    ("truncated", None, "images[1].data", ["truncated"]),
    ("zero-size", pb.FaceImage(data=_png_header_only(0, 64)), "images[1].data", ["zero width or height"]),
    ("decompression bomb", pb.FaceImage(data=_png_header_only(100_000, 100_000)), "images[1].data", ["more pixels", "scale"]),
    ("too large", pb.FaceImage(data=_big_png()), "images[1].data", ["20,000,000 pixels", "scale the picture down"]),
    ("animated", pb.FaceImage(data=_animated_png()), "images[1].data", ["animated", "2 frames"]),
    ("16-bit", pb.FaceImage(data=_sixteen_bit_png()), "images[1].data", ["mode", "8-bit"]),
    ("raw without size", pb.FaceImage(data=b"\0" * 64, format=pb.IMAGE_FORMAT_RAW_RGBA8), "images[1].width", ["width and height"]),
    ("raw too short", pb.FaceImage(data=b"\0" * 64, format=pb.IMAGE_FORMAT_RAW_RGBA8, width=8, height=8), "images[1].data", ["need 256"]),
]


@pytest.mark.parametrize("case, bad, field, words", BAD, ids=[b[0] for b in BAD])
def test_bad_pictures_are_invalid_argument_naming_the_field(af, faces, case, bad, field, words):
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    good = png(faces[0])
    bad = bad or pb.FaceImage(data=good[: len(good) // 2])
    with pytest.raises(grpc.RpcError) as info:
        af.encode([pb.FaceImage(data=good), bad])
    err = info.value
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err.details()
    for w in words:
        assert w in err.details(), (w, err.details())
    detail = error_details_pb2.BadRequest()
    assert rpc_status.from_call(err).details[0].Unpack(detail)
    assert [v.field for v in detail.field_violations] == [field]


def test_too_many_pictures_and_bad_refinement_are_refused(af, faces):
    with pytest.raises(grpc.RpcError) as info:
        af.encode([png(faces[0])] * 4)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "limit of 3" in info.value.details()
    with pytest.raises(grpc.RpcError) as info:
        af.encode([png(faces[0])], refine_steps=5, refine_budget_ms=60_000)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "refine_budget_ms" in info.value.details()


def test_encode_over_grpc_web(af, faces):
    req = pb.EncodeRequest(images=[pb.FaceImage(data=png(faces[3]))],
                           output=pb.OutputSpec(format=pb.IMAGE_FORMAT_JPEG, size=128))
    reply = web_call(af.web_address, "Encode", req, timeout=120)
    assert reply.grpc_status == 0, reply.grpc_message
    web = pb.EncodeResponse.FromString(reply.messages[0])
    assert web.dna.w_plus == af.encode([png(faces[3])]).dna.w_plus
    assert web.image.data[:3] == b"\xff\xd8\xff" and (web.image.width, web.image.height) == (128, 128)
    bad = web_call(af.web_address, "Encode", pb.EncodeRequest(images=[pb.FaceImage(data=b"GIF89a")]))
    assert bad.grpc_status == 3 and "images[0].data" in bad.grpc_message  # INVALID_ARGUMENT


def test_cli_encode_writes_the_dna_and_a_side_by_side(af, faces, tmp_path, capsys):
    picture = tmp_path / "me.png"
    picture.write_bytes(shifted(faces[0]))
    assert cli.main(["encode", str(picture), "--server", af.address, "--out", str(tmp_path / "out")]) == 0
    dna = pb.CharacterDna.FromString((tmp_path / "out" / "encoded.dna").read_bytes())
    assert dna.checksum == dna_checksum(dna) and dna.edits[0].direction.startswith("encode/")
    figure = Image.open(tmp_path / "out" / "side_by_side.png")
    assert figure.width == 6 * 128  # input, aligned, reconstruction, three edits
    assert "PSNR" in capsys.readouterr().out
