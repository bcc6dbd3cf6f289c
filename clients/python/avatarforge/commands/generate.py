"""`avatarforge generate`: faces for a set of seeds, written to a folder with their DNA.

Files: seed000042.png (or .jpg/.webp/.rgba) and seed000042.dna (a serialized CharacterDna).
Re-running after a crash resumes: a seed counts as done when its image is on disk and its DNA
parses, names that seed and was drawn by the served model (a face of another model, or of an
earlier training of this one, is drawn again and replaced). Each file is written under a temporary name (`<name>.part`) and
renamed, the image before the DNA, so a killed run leaves whole files or `.part` leftovers, which
the next run deletes. (A rename is atomic against a killed process; surviving a power cut would
also need an fsync per file, which a bulk run of small files pays for dearly.) One run per
folder at a time.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .connection import add_connection_arguments, connect

DESCRIPTION = """Generate faces for seeds from a running server into a folder, with a DNA file
beside each image and a contact_sheet.png. Seeds already on disk are skipped (resume).

examples:
  avatarforge generate --seeds 0-999 --out out/npcs
  avatarforge generate --server host:50051 --seeds 1,5,10-20 --size 128 --format webp --out out/x"""

CONTACT_SHEET = "contact_sheet.png"


def parse_seeds(text: str) -> list[int]:
    """'0-9,20,30-32' -> [0..9, 20, 30, 31, 32]; order kept, duplicates dropped."""
    seeds: list[int] = []
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        try:
            a, b = (int(lo), int(hi)) if sep else (int(part), int(part))
        except ValueError:
            raise argparse.ArgumentTypeError(f"bad seed range {part!r}: use N, A-B or a comma list of those") from None
        if b < a:
            raise argparse.ArgumentTypeError(f"bad seed range {part!r}: the end is before the start")
        seeds.extend(range(a, b + 1))
    if not seeds:
        raise argparse.ArgumentTypeError("no seeds given")
    return list(dict.fromkeys(seeds))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    a = parser.add_argument
    add_connection_arguments(parser)
    a("--seeds", required=True, type=parse_seeds, help="seeds: ranges and comma lists, e.g. 0-999 or 1,5,10-20")
    a("--out", required=True, type=Path, help="output folder (created if missing)")
    a("--size", type=int, default=0, help="image edge in pixels (default: the model's native resolution)")
    a("--format", default="png", choices=["png", "jpeg", "webp", "raw", "raw_bgra"], help="image format (default png)")
    a("--quality", type=int, default=0, help="JPEG/WebP quality 1-100 (default: server's)")
    a("--psi", type=float, default=None, help="truncation psi in [0, 2] (default: the model's)")
    a("--model", default="", help="model name on the server (default: the server's default)")
    a("--no-progress", action="store_true", help="no progress bar")


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + PART)
    tmp.write_bytes(data)
    os.replace(tmp, path)


PART = ".part"


def _stored(seed: int, image: Path, dna: Path):
    """The DNA of a seed whose files are whole (the image there, the DNA one that parses and
    names the seed; a DNA is renamed into place last, so it vouches for the image before it),
    else None."""
    from avatarforge.v1 import avatarforge_pb2 as pb

    if not (image.exists() and dna.exists()):
        return None
    try:
        stored = pb.CharacterDna.FromString(dna.read_bytes())
    except Exception:  # noqa: BLE001 - a DecodeError, or any damage the parser reports otherwise
        return None
    return stored if stored.HasField("seed") and stored.seed == seed else None


def _other_model(stored, generator_sha256: str) -> bool:
    """A whole face drawn by another model (or another training of it): the folder was made
    for that one, so the seed is drawn again rather than kept."""
    return bool(stored.generator_sha256) and stored.generator_sha256 != generator_sha256


def run(args: argparse.Namespace) -> int:
    import grpc
    from tqdm import tqdm

    from avatarforge.client import FILE_EXTENSIONS, FORMATS
    from avatarforge.contact_sheet import contact_sheet, load_face

    ext = FILE_EXTENSIONS[FORMATS[args.format]]
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    paths = {s: (out / f"seed{s:06d}.{ext}", out / f"seed{s:06d}.dna") for s in args.seeds}
    for img, dna in paths.values():  # leftovers of a killed run
        for part in (img.with_name(img.name + PART), dna.with_name(dna.name + PART)):
            part.unlink(missing_ok=True)
    stored = {s: _stored(s, img, dna) for s, (img, dna) in paths.items()}
    failed = redone = 0
    with connect(args) as client:
        try:
            info = client.get_model(args.model)
            stale = {s for s, d in stored.items() if d is not None and _other_model(d, info.generator_sha256)}
            redone = len(stale)
            todo = [s for s, d in stored.items() if d is None or s in stale]
            limit = info.limits.max_stream_items or len(todo) or 1
            bar = tqdm(total=len(paths), initial=len(paths) - len(todo), unit="face", disable=args.no_progress,
                       desc=f"generate -> {out}")
            for i in range(0, len(todo), limit):
                stream = client.generate_batch(todo[i : i + limit], model=args.model, psi=args.psi,
                                               format=args.format, size=args.size, quality=args.quality,
                                               request_id=f"cli-{os.getpid()}-{i}")
                for item in stream.items():
                    if item.HasField("error"):
                        failed += 1
                        tqdm.write(f"seed {item.seed}: {item.error.message}", file=sys.stderr)
                    else:
                        img_path, dna_path = paths[item.seed]
                        _write_atomic(img_path, item.image.data)
                        _write_atomic(dna_path, item.dna.SerializeToString())
                    bar.update(1)
            bar.close()
        except grpc.RpcError as e:
            print(f"avatarforge generate: {e.code().name}: {e.details()}", file=sys.stderr)
            return 2
    tiles = [(str(s), face) for s, (img, _) in paths.items() if img.exists() and (face := load_face(img))]
    if tiles:
        contact_sheet(tiles).save(out / CONTACT_SHEET)
    again = f" ({redone} of them drawn before by another model: replaced)" if redone else ""
    print(f"{len(todo) - failed} generated{again}, {len(paths) - len(todo)} already on disk, {failed} failed; "
          f"contact sheet: {out / CONTACT_SHEET}")
    return 1 if failed else 0
