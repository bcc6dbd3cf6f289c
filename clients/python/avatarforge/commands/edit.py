"""`avatarforge edit`: set parts of a face and/or move one slider through a list of strengths,
over an EditSession.

Files in --out: <direction>_<strength>.png per strength (a "/" in the name becomes "-", e.g.
sefa-0_+1.png), or start.png and parts.png when only parts are set; strip.png (all of them side
by side, in order) and edited.dna (the committed DNA of the last state).
"""
from __future__ import annotations

import argparse
import io
import os
import re
import sys
from pathlib import Path

from .connection import add_connection_arguments, connect

DESCRIPTION = """Open an edit session on a face (a seed's, or a stored DNA such as `avatarforge encode`
writes), set parts exactly (--set, every state) and/or move one direction's slider through the given
strengths (one preview each), and write the previews, a strip and the committed DNA.

examples:
  avatarforge edit --seed 42 --set hair_color=RED --set accessory=ROUND --out out/red
  avatarforge edit --dna out/me/encoded.dna --set hair_color=BLONDE --out out/me-blonde
  avatarforge edit --seed 42 --direction smile --strengths -2,-1,0,1,2 --out out/smile
  avatarforge edit --server host:50051 --seed 7 --direction sefa/0 --strengths -3,0,3 --size 128 --out out/s0
  avatarforge directions --model avatars64     # the directions and their strength ranges
  (GetModel lists the parts and their values; a wrong one is answered with the valid ones)"""

STRIP = "strip.png"
DNA_FILE = "edited.dna"


def parse_strengths(text: str) -> list[float]:
    try:
        values = [float(x) for x in text.replace(" ", "").split(",") if x]
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad strengths {text!r}: use a comma list of numbers, e.g. -2,-1,0,1,2") from None
    if not values:
        raise argparse.ArgumentTypeError("no strengths given")
    return values


# argparse reads "-2,-1,0,1,2" as an option (only plain "-2" counts as a negative number), so
# `--strengths -2,-1,0,1,2` would fail; this parser has no options that look like numbers, so
# widening its (private, stable since 3.2) negative-number pattern to comma lists is safe.
_NEGATIVE_NUMBERS = re.compile(r"^-\d[\d.eE,+-]*$|^-\.\d[\d.eE,+-]*$")


def parse_part(text: str) -> tuple[str, str]:
    part, sep, value = text.partition("=")
    if not sep or not part.strip() or not value.strip():
        raise argparse.ArgumentTypeError(f"bad --set {text!r}: use PART=VALUE, e.g. hair_color=RED")
    return part.strip(), value.strip()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser._negative_number_matcher = _NEGATIVE_NUMBERS
    a = parser.add_argument
    add_connection_arguments(parser)
    face = parser.add_mutually_exclusive_group(required=True)
    face.add_argument("--seed", type=int, help="the face to edit (generated from this seed)")
    face.add_argument("--dna", type=Path, help="the face to edit: a stored DNA file (e.g. from `avatarforge encode`)")
    a("--set", dest="set_parts", type=parse_part, action="append", default=[], metavar="PART=VALUE",
      help="set a part exactly, e.g. hair_color=RED (repeatable; GetModel lists parts and values)")
    a("--direction", default=None, help="direction name (GetModel / `avatarforge directions` list them)")
    a("--strengths", type=parse_strengths, default=[-2.0, -1.0, 0.0, 1.0, 2.0],
      help="comma list of slider positions, in W units (default -2,-1,0,1,2)")
    a("--out", type=Path, required=True, help="output folder (created if missing)")
    a("--model", default="", help="model name on the server (default: the server's default)")
    a("--size", type=int, default=0, help="image edge in pixels (default: the model's native resolution)")
    a("--psi", type=float, default=None, help="truncation psi of the seed's face (default: the model's)")


def _label(direction: str, strength: float) -> str:
    return f"{direction.replace('/', '-')}_{strength:+g}"


def _states(args: argparse.Namespace) -> list[tuple[str, dict[str, float]]]:
    """(file label, direction edits) of each state to render, in order."""
    if args.direction is None:
        return [("parts", {})]
    return [(_label(args.direction, s), {args.direction: s}) for s in args.strengths]


def run(args: argparse.Namespace) -> int:
    import grpc
    from PIL import Image

    from avatarforge.client import EditRejected
    from avatarforge.v1 import avatarforge_pb2 as pb

    if args.direction is None and not args.set_parts:
        print("avatarforge edit: nothing to do: give --direction, --set PART=VALUE, or both", file=sys.stderr)
        return 2
    parts = dict(args.set_parts)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    frames = []
    with connect(args) as client:
        try:
            if args.dna is not None:
                start = pb.CharacterDna.FromString(args.dna.read_bytes())
            else:
                start = client.generate(seeds=[args.seed], model=args.model, psi=args.psi, size=args.size).results[0].dna
            with client.edit_session(start, model=args.model, size=args.size, request_id=f"cli-edit-{os.getpid()}") as session:
                if args.direction is None:  # parts only: show the face before and after
                    (out / "start.png").write_bytes(session.started.image.data)
                    frames.append(Image.open(io.BytesIO(session.started.image.data)).convert("RGB"))
                for label, edits in _states(args):
                    # One state at a time, waiting for its preview: latest wins would skip the
                    # intermediate strengths if they were sent at once.
                    seq = session.update(edits, set_parts=parts)
                    try:
                        preview = session.wait_preview(seq)
                    except EditRejected as e:  # an unknown direction, part or value: the message lists the valid ones
                        print(f"avatarforge edit: {e}", file=sys.stderr)
                        return 2
                    (out / f"{label}.png").write_bytes(preview.image.data)
                    frames.append(Image.open(io.BytesIO(preview.image.data)).convert("RGB"))
                dna = session.commit()
        except grpc.RpcError as e:
            print(f"avatarforge edit: {e.code().name}: {e.details()}", file=sys.stderr)
            return 2
    (out / DNA_FILE).write_bytes(dna.SerializeToString())
    w, h = frames[0].size
    strip = Image.new("RGB", (w * len(frames), h))
    for i, frame in enumerate(frames):
        strip.paste(frame, (i * w, 0))
    strip.save(out / STRIP)
    face = f"seed {args.seed}" if args.dna is None else str(args.dna)
    what = ", ".join([f"{p}={v}" for p, v in parts.items()] + ([f"{args.direction} {args.strengths[-1]:+g}"] if args.direction else []))
    print(f"{len(_states(args))} previews of {args.direction or 'the set parts'} on {face}: {out / STRIP}; "
          f"committed DNA ({what}): {out / DNA_FILE}")
    return 0
