"""Character DNA: a face's W+ code plus the identity of the model that made it.

The wire form is the `avatarforge.v1.CharacterDna` protobuf message (clients store its
serialized bytes, e.g. `seed000042.dna`). Its checksum covers every other field in a canonical
byte layout defined here, not the protobuf encoding (which is not canonical), so any language
can recompute it:

    "AFDNA" | u32 schema_version | str model_name | str model_version | str generator_sha256
    | u32 num_ws | u32 w_dim | bytes w_plus | opt i64 seed | opt f32 truncation_psi
    | u32 n_edits | n * (str direction | f32 strength)

where u32/i64/f32 are little-endian, `str`/`bytes` are a u32 length then the bytes (UTF-8),
and `opt` is a 0/1 byte then the value when 1. checksum = "sha256:" + hex digest.
"""
from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

import numpy as np

from avatarforge.v1 import avatarforge_pb2 as pb

from .errors import InvalidDna

SCHEMA_VERSION = 1
CHECKSUM_PREFIX = "sha256:"
# The largest |value| a W+ code may hold. Faces of real models stay within about ±10 (avatars64
# 3.3, the test models 7, StyleGAN2 FFHQ a few tens), so this leaves three orders of magnitude to
# hand-made codes. Far beyond it float32 overflows: truncation at psi 2 doubles a value into
# infinity, spherical interpolation squares it into one, and synthesis turns them into NaN, so the
# server would render noise and hand out DNA it then refuses to read.
MAX_ABS_W = 1.0e4


@dataclass(frozen=True)
class ModelIdentity:
    """What a DNA must match to render on a model."""

    name: str
    version: str
    generator_sha256: str
    num_ws: int
    w_dim: int


def _lp(data: bytes) -> bytes:
    return struct.pack("<I", len(data)) + data


def canonical_bytes(dna: pb.CharacterDna) -> bytes:
    parts = [
        b"AFDNA",
        struct.pack("<I", dna.schema_version),
        _lp(dna.model_name.encode()),
        _lp(dna.model_version.encode()),
        _lp(dna.generator_sha256.encode()),
        struct.pack("<II", dna.num_ws, dna.w_dim),
        _lp(dna.w_plus),
        b"\x01" + struct.pack("<q", dna.seed) if dna.HasField("seed") else b"\x00",
        b"\x01" + struct.pack("<f", dna.truncation_psi) if dna.HasField("truncation_psi") else b"\x00",
        struct.pack("<I", len(dna.edits)),
    ]
    for e in dna.edits:
        parts += [_lp(e.direction.encode()), struct.pack("<f", e.strength)]
    return b"".join(parts)


def dna_checksum(dna: pb.CharacterDna) -> str:
    return CHECKSUM_PREFIX + hashlib.sha256(canonical_bytes(dna)).hexdigest()


def make_dna(
    model: ModelIdentity,
    w_plus: np.ndarray,  # float32 [num_ws, w_dim]: the code that renders
    seed: int | None = None,
    psi: float | None = None,
    edits: list[tuple[str, float]] = (),
) -> pb.CharacterDna:
    if w_plus.shape != (model.num_ws, model.w_dim):
        raise ValueError(f"w_plus must be [{model.num_ws}, {model.w_dim}], got {list(w_plus.shape)}")
    check_made_code(w_plus)
    dna = pb.CharacterDna(
        schema_version=SCHEMA_VERSION,
        model_name=model.name,
        model_version=model.version,
        generator_sha256=model.generator_sha256,
        w_plus=np.ascontiguousarray(w_plus, dtype="<f4").tobytes(),
        num_ws=model.num_ws,
        w_dim=model.w_dim,
        edits=[pb.DirectionEdit(direction=d, strength=s) for d, s in edits],
    )
    if seed is not None:
        dna.seed = int(seed)
    if psi is not None:
        dna.truncation_psi = float(psi)
    dna.checksum = dna_checksum(dna)
    return dna


def read_dna(dna: pb.CharacterDna, model: ModelIdentity, where: str = "dna") -> np.ndarray:
    """Verify a DNA against `model`; return its W+ code, float32 [num_ws, w_dim].

    Raises InvalidDna (-> INVALID_ARGUMENT) naming the field `where` and what is wrong.
    """
    if dna.schema_version != SCHEMA_VERSION:
        raise InvalidDna(f"{where}: schema_version {dna.schema_version} is not supported (this server reads {SCHEMA_VERSION})")
    if dna.checksum != dna_checksum(dna):
        raise InvalidDna(f"{where}: checksum mismatch: the DNA is corrupt or was modified after it was made")
    if dna.generator_sha256 != model.generator_sha256:
        raise InvalidDna(
            f"{where}: made by model {dna.model_name!r} (generator sha256 {dna.generator_sha256[:12]}...), "
            f"but this request renders with {model.name!r} (sha256 {model.generator_sha256[:12]}...); "
            "a DNA only renders on the exact model that made it"
        )
    if (dna.num_ws, dna.w_dim) != (model.num_ws, model.w_dim):
        raise InvalidDna(f"{where}: W+ shape [{dna.num_ws}, {dna.w_dim}] does not match the model's [{model.num_ws}, {model.w_dim}]")
    expected = model.num_ws * model.w_dim * 4
    if len(dna.w_plus) != expected:
        raise InvalidDna(f"{where}: w_plus has {len(dna.w_plus)} bytes, expected {expected} (float32 [{model.num_ws}, {model.w_dim}])")
    w = np.frombuffer(dna.w_plus, dtype="<f4").reshape(model.num_ws, model.w_dim).astype(np.float32)
    if not np.isfinite(w).all():
        raise InvalidDna(f"{where}: w_plus contains NaN or infinity", f"{where}.w_plus")
    peak = float(np.abs(w).max())
    if peak > MAX_ABS_W:
        raise InvalidDna(f"{where}: w_plus holds a value of magnitude {peak:.3g}; codes of faces stay within "
                         f"±{MAX_ABS_W:g} (real models' within about ±10): the DNA was edited by hand or corrupted",
                         f"{where}.w_plus")
    return w


def check_made_code(w_plus: np.ndarray) -> None:
    """A code the server computed from requested ones (an edit, a mix, a path) must be one it
    reads back: raises InvalidDna when it is not finite or leaves ±MAX_ABS_W."""
    if not np.isfinite(w_plus).all() or float(np.abs(w_plus).max()) > MAX_ABS_W:
        raise InvalidDna(f"the requested edit takes the face's code beyond ±{MAX_ABS_W:g} (largest magnitude "
                         f"{float(np.nanmax(np.abs(w_plus))):.3g}), where no face lies: start from a face nearer the "
                         "model's average, or edit less")
