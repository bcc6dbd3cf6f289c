"""Hypothesis strategies for the fuzz suites: any request message of the contract, built from
its protobuf descriptor, and uploaded pictures that decoders choke on.

Requests are drawn field by field from the descriptor, so a field added to the proto is fuzzed
without touching this file. Each scalar mixes uniformly random values with the edges that break
code (int32/int64 extremes, the seed range's ends, NaN and infinities, unknown enum numbers,
over-long strings), and a repeated field is sometimes one element copied tens of thousands of
times. CharacterDna gets its own strategy, because random bytes never pass the checksum and a
fuzzer stopped there tests one `if`: it draws real DNA from the server, real DNA with one field
changed and the checksum recomputed (so the W+ bytes reach the renderer), or random fields.
"""
from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from hypothesis import strategies as st
from PIL import Image

from avatarforge.server.dna import dna_checksum
from avatarforge.v1 import avatarforge_pb2 as pb

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
EDGE_INTS = [0, 1, -1, 2, 3, 7, 8, 15, 16, 17, 63, 64, 65, 128, 2**31 - 1, -(2**31), 2**32 - 1, 2**32, 2**62,
             2**63 - 1, -(2**63)]
EDGE_FLOATS = [0.0, -0.0, 0.5, 1.0, 2.0, 2.0000002, -1.0, 1e-45, 3.4e38, -3.4e38, float("nan"), float("inf"),
               float("-inf")]
HUGE_REPEAT = 20_000  # copies of one element in a "huge repeated field" case


def _fits(value: int, field: FieldDescriptor) -> int:
    """Wrap an edge value into the field's own integer range (what the wire could carry)."""
    lo, hi = {FieldDescriptor.CPPTYPE_INT32: INT32, FieldDescriptor.CPPTYPE_INT64: INT64,
              FieldDescriptor.CPPTYPE_UINT32: (0, 2**32 - 1), FieldDescriptor.CPPTYPE_UINT64: (0, 2**64 - 1)}[field.cpp_type]
    return lo + (value - lo) % (hi - lo + 1)


class RequestStrategies:
    """Strategies over the contract's messages. `names` are strings worth trying in string
    fields (model and direction names the server knows); `dnas` are real DNA from it."""

    def __init__(self, names: list[str], dnas: list[pb.CharacterDna], max_depth: int = 3):
        self.names = names
        self.dnas = dnas
        self.max_depth = max_depth

    def message(self, descriptor: Descriptor, depth: int = 0, sparse: bool = False) -> st.SearchStrategy:
        """Any message of this type. sparse: each field set with probability 1/4, not 1/2."""
        if descriptor.full_name == pb.CharacterDna.DESCRIPTOR.full_name:
            return self.dna()
        return st.composite(lambda draw: self._fill(draw, descriptor, depth, sparse))()

    def request(self, descriptor: Descriptor, valid=None) -> st.SearchStrategy:
        """A request: drawn from scratch, or (when `valid` is a request the server accepts) that
        request with a few fields overwritten by fuzzed ones (MergeFrom: a set scalar replaces,
        a repeated field grows). From scratch, most cases stop at the first check; from a valid
        request they reach the rendering, DNA and editing code behind it."""
        scratch = self.message(descriptor)
        if valid is None:
            return scratch

        def merged(fuzz):
            out = type(valid)()
            out.CopyFrom(valid)
            out.MergeFrom(fuzz)
            return out

        return st.one_of(scratch, self.message(descriptor, sparse=True).map(merged))

    def _fill(self, draw, descriptor: Descriptor, depth: int, sparse: bool = False):
        msg = getattr(pb, descriptor.name)()
        chosen_oneofs = {o.name: draw(st.sampled_from([None, *[f.name for f in o.fields]]))
                         for o in descriptor.oneofs if not o.name.startswith("_")}
        for field in descriptor.fields:
            oneof = field.containing_oneof
            if oneof is not None and not oneof.name.startswith("_") and chosen_oneofs[oneof.name] != field.name:
                continue
            if field.message_type is not None and depth >= self.max_depth:
                continue
            if draw(st.integers(0, 3 if sparse else 1)) != 0:
                continue
            if field.is_repeated:
                self._fill_repeated(draw, msg, field, depth)
            elif field.message_type is not None:
                getattr(msg, field.name).CopyFrom(draw(self.message(field.message_type, depth + 1)))
            else:
                setattr(msg, field.name, draw(self.scalar(field)))
        return msg

    def _fill_repeated(self, draw, msg, field: FieldDescriptor, depth: int) -> None:
        element = self.message(field.message_type, depth + 1) if field.message_type else self.scalar(field)
        target = getattr(msg, field.name)
        if draw(st.integers(0, 9)) == 0:  # one element copied many times: a huge repeated field
            one = draw(element)
            copies = HUGE_REPEAT if field.message_type is None else HUGE_REPEAT // 20
            target.extend([one] * copies)
            return
        target.extend(draw(st.lists(element, max_size=5)))

    def scalar(self, field: FieldDescriptor) -> st.SearchStrategy:
        t = field.cpp_type
        if t == FieldDescriptor.CPPTYPE_BOOL:
            return st.booleans()
        if t in (FieldDescriptor.CPPTYPE_FLOAT, FieldDescriptor.CPPTYPE_DOUBLE):
            return st.one_of(st.sampled_from(EDGE_FLOATS), st.floats(width=32), st.floats(-3.0, 3.0, width=32))
        if t == FieldDescriptor.CPPTYPE_ENUM:
            known = [v.number for v in field.enum_type.values]
            return st.one_of(st.sampled_from(known), st.integers(-3, 12), st.sampled_from([INT32[0], INT32[1]]))
        if t == FieldDescriptor.CPPTYPE_STRING:
            if field.type == FieldDescriptor.TYPE_BYTES:
                return st.binary(max_size=64)
            known = st.sampled_from(["", *self.names])
            return st.one_of(known, known, known, st.text(max_size=12),
                             st.text(min_size=120, max_size=300), st.just("\x00\u202e\ud7ff" * 50))
        wide = st.integers(*{FieldDescriptor.CPPTYPE_INT32: INT32, FieldDescriptor.CPPTYPE_INT64: INT64,
                             FieldDescriptor.CPPTYPE_UINT32: (0, 2**32 - 1), FieldDescriptor.CPPTYPE_UINT64: (0, 2**64 - 1)}[t])
        return st.one_of(st.integers(-2, 70), st.sampled_from(EDGE_INTS), wide).map(lambda v: _fits(v, field))

    def dna(self) -> st.SearchStrategy:
        """Mostly a real DNA with one field changed and the checksum recomputed: the cases that
        get past the checksum to the code that reads W+."""
        real = st.sampled_from(self.dnas).map(_copy)
        changed = st.builds(_changed, real, self._dna_change(), st.sampled_from([True, True, True, False]))
        return st.one_of(real, changed, changed, changed,
                         st.composite(lambda draw: self._fill(draw, pb.CharacterDna.DESCRIPTOR, self.max_depth))())

    def _dna_change(self) -> st.SearchStrategy:
        """(field, value) to set on a real DNA: W+ bytes of odd values or lengths, or any field."""
        n = len(self.dnas[0].w_plus) // 4
        w_values = st.one_of(st.floats(width=32), st.sampled_from(EDGE_FLOATS),
                             st.sampled_from([1e4, 1.00001e4, 1e6, 1e19, 1e30]))
        floats = st.lists(w_values, min_size=1, max_size=4).map(
            lambda vs: np.resize(np.array(vs, "<f4"), n).tobytes())
        return st.one_of(
            st.tuples(st.just("w_plus"), floats),
            st.tuples(st.just("w_plus"), floats),
            st.tuples(st.just("w_plus"), floats),
            st.tuples(st.just("w_plus"), st.binary(max_size=2 * n * 4)),
            *[st.tuples(st.just(f.name), self.scalar(f)) for f in pb.CharacterDna.DESCRIPTOR.fields
              if not f.is_repeated and f.message_type is None and f.name not in ("w_plus", "checksum")],
        )


def _copy(dna: pb.CharacterDna) -> pb.CharacterDna:
    out = pb.CharacterDna()
    out.CopyFrom(dna)
    return out


def _changed(dna: pb.CharacterDna, change: tuple[str, object], fix_checksum: bool) -> pb.CharacterDna:
    name, value = change
    setattr(dna, name, value)
    if fix_checksum:  # what a hand edit with the published layout does: it passes the checksum
        dna.checksum = dna_checksum(dna)
    return dna


# ---------------------------------------------------------------------------------- pictures

PIL_MODES = ["1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr", "LAB", "HSV", "I",
             "I;16", "I;16B", "F"]
SAVE_FORMATS = ["PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF"]


def _saved(img: Image.Image, fmt: str, **options) -> bytes | None:
    buf = io.BytesIO()
    try:
        img.save(buf, fmt, **options)
    except Exception:  # Pillow cannot write this mode in this format, or refuses the EXIF blob
        return None
    return buf.getvalue()


@st.composite
def still_picture(draw) -> bytes:
    """A small picture of any Pillow mode in any format Pillow writes (some refused by design)."""
    w, h = draw(st.integers(1, 48)), draw(st.integers(1, 48))
    mode = draw(st.sampled_from(PIL_MODES))
    seed = draw(st.integers(0, 2**16))
    rgb = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    try:
        img = Image.fromarray(rgb, "RGB").convert(mode)
    except ValueError:
        img = Image.fromarray(rgb[..., 0], "L").convert(mode) if mode in ("I", "F") else Image.new(mode, (w, h))
    options = {}
    fmt = draw(st.sampled_from(SAVE_FORMATS))
    if fmt in ("JPEG", "WEBP"):
        options["quality"] = draw(st.integers(1, 100))
    if draw(st.booleans()) and fmt in ("PNG", "JPEG", "WEBP", "TIFF"):
        options["exif"] = draw(exif_blob())
    if fmt == "PNG" and mode in ("RGB", "L", "P") and draw(st.booleans()):
        options["transparency"] = 0 if mode in ("L", "P") else (0, 0, 0)
    data = _saved(img, fmt, **options)
    return data if data is not None else _saved(Image.fromarray(rgb, "RGB"), fmt) or _saved(Image.fromarray(rgb, "RGB"), "PNG")


@st.composite
def exif_blob(draw) -> bytes:
    """EXIF with an orientation of any value (1..8 are defined), or garbage after the marker."""
    if draw(st.booleans()):
        exif = Image.Exif()
        exif[0x0112] = draw(st.one_of(st.integers(0, 9), st.just(65535)))  # a SHORT: 0..65535
        if draw(st.booleans()):
            exif[0x010F] = draw(st.text(max_size=40))  # camera maker: any text
        return exif.tobytes()
    return b"Exif\x00\x00" + draw(st.binary(max_size=64))


@st.composite
def animated_picture(draw) -> bytes:
    frames = [Image.new("RGB", (16, 16), (i * 40, 255 - i * 40, 0)) for i in range(draw(st.integers(2, 4)))]
    fmt = draw(st.sampled_from(["GIF", "WEBP", "PNG"]))  # PNG: APNG
    buf = io.BytesIO()
    frames[0].save(buf, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


@st.composite
def declared_dimensions_png(draw) -> bytes:
    """A valid PNG header that declares any width and height (up to 2^31-1, or 0), then a few
    bytes of pixels: a decompression bomb's header, or a zero-size picture."""
    w = draw(st.one_of(st.sampled_from([0, 1, 2**31 - 1, 100_000, 65_535]), st.integers(0, 2**31 - 1)))
    h = draw(st.one_of(st.sampled_from([0, 1, 2**31 - 1, 100_000, 65_535]), st.integers(0, 2**31 - 1)))
    depth, colour = draw(st.sampled_from([(8, 2), (8, 6), (8, 0), (1, 0), (16, 2), (8, 3)]))
    header = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, colour, 0, 0, 0))
    pixels = _png_chunk(b"IDAT", zlib.compress(b"\x00" * draw(st.integers(0, 256))))
    return b"\x89PNG\r\n\x1a\n" + header + pixels + _png_chunk(b"IEND", b"")


@st.composite
def truncated(draw) -> bytes:
    whole = draw(still_picture())
    return whole[: draw(st.integers(0, max(0, len(whole) - 1)))]


@st.composite
def polyglot(draw) -> bytes:
    """Bytes that start like one format and go on like another, or not at all."""
    heads = [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"RIFF\x00\x00\x00\x00WEBPVP8 ", b"GIF89a", b"PK\x03\x04",
             b"%PDF-1.4", b"<svg xmlns='http://www.w3.org/2000/svg'>", b""]
    tail = draw(st.one_of(still_picture(), st.binary(max_size=200)))
    return draw(st.sampled_from(heads)) + tail + draw(st.sampled_from([b"", b"PK\x05\x06" + b"\x00" * 18]))


def picture_bytes() -> st.SearchStrategy:
    return st.one_of(still_picture(), animated_picture(), declared_dimensions_png(), truncated(), polyglot(),
                     st.binary(max_size=300), st.just(b""))


@st.composite
def face_image(draw) -> pb.FaceImage:
    """An uploaded picture: file bytes under any format value, or raw pixels with any geometry."""
    if draw(st.integers(0, 4)) == 0:
        w, h = draw(st.integers(-2, 70)), draw(st.integers(-2, 70))
        stride = draw(st.one_of(st.just(0), st.integers(-8, 300), st.just(2**31 - 1)))
        size = max(0, w * h * 4) + draw(st.integers(-8, 8))
        return pb.FaceImage(data=draw(st.binary(min_size=max(0, size), max_size=max(0, size))),
                            format=draw(st.sampled_from([pb.IMAGE_FORMAT_RAW_RGBA8, pb.IMAGE_FORMAT_RAW_BGRA8])),
                            width=w, height=h, row_stride=stride, bottom_up=draw(st.booleans()))
    fmt = draw(st.one_of(st.sampled_from([0, 1, 2, 3]), st.integers(-2, 9)))
    return pb.FaceImage(data=draw(picture_bytes()), format=fmt)
