"""`avatarforge encode`: pictures of one character -> its DNA, over the Encode RPC.

Files in --out: encoded.dna (the DNA), reconstruction.png, and side_by_side.png: each input,
each input as the encoder saw it (aligned), the reconstruction, then three edits of it (the
model's supervised directions with the best measured success, at their default strengths).
"""
from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path

from .connection import SERVER_HELP, server_address

DESCRIPTION = """Encode one to a few pictures of a character (PNG, JPEG or WebP) into DNA: the avatar is found in
each picture, aligned onto the model's framing, encoded, and the codes averaged; --refine-steps
refines the result within --refine-ms. Writes the DNA, the reconstruction and a side-by-side
figure with three edits of it, and prints the scores.

examples:
  avatarforge encode me.png --out out/me
  avatarforge encode front.jpg side.jpg --refine-steps 200 --refine-ms 2000 --out out/me"""

DNA_FILE = "encoded.dna"
RECONSTRUCTION = "reconstruction.png"
SIDE_BY_SIDE = "side_by_side.png"
EDITS_SHOWN = 3
TILE = 128


def add_arguments(parser: argparse.ArgumentParser) -> None:
    a = parser.add_argument
    a("pictures", nargs="+", type=Path, help="picture files of one character (PNG, JPEG or WebP)")
    a("--out", type=Path, required=True, help="output folder (created if missing)")
    a("--server", default=os.environ.get("AVATARFORGE_SERVER", "localhost:50051"), type=server_address,
      help=SERVER_HELP)
    a("--model", default="", help="model name on the server (default: the server's default)")
    a("--refine-steps", type=int, default=0, help="refinement steps after the encoder's guess (default 0: none)")
    a("--refine-ms", type=int, default=0, help="refinement time budget in ms (default 0: the server's)")
    a("--size", type=int, default=0, help="image edge in pixels (default: the model's native resolution)")
    a("--timeout", type=float, default=120.0, help="seconds to wait for the server (default 120)")


def _showcase_edits(info) -> list[tuple[str, float]]:
    """The supervised directions with the best measured success, at their default strengths."""
    ranked = sorted((d for d in info.directions if d.kind == "supervised"),
                    key=lambda d: (-(d.success if d.HasField("success") else 0), d.name))
    return [(d.name, d.default_strength) for d in ranked[:EDITS_SHOWN]]


def run(args: argparse.Namespace) -> int:
    import grpc
    from PIL import Image

    from avatarforge.client import AvatarForgeClient
    from avatarforge.contact_sheet import contact_sheet

    try:
        data = [p.read_bytes() for p in args.pictures]
    except OSError as e:
        print(f"avatarforge encode: cannot read {e.filename}: {e.strerror}", file=sys.stderr)
        return 2
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    with AvatarForgeClient(args.server, timeout=args.timeout) as client:
        try:
            reply = client.encode(data, refine_steps=args.refine_steps, refine_budget_ms=args.refine_ms,
                                  return_aligned=True, model=args.model, size=args.size)
            info = client.get_model(args.model)
            edits = [(name, client.render_preview(reply.dna, {name: s}, model=args.model, size=args.size).image.data)
                     for name, s in _showcase_edits(info)]
        except grpc.RpcError as e:
            print(f"avatarforge encode: {e.code().name}: {e.details()}", file=sys.stderr)
            return 2
    (out / DNA_FILE).write_bytes(reply.dna.SerializeToString())
    (out / RECONSTRUCTION).write_bytes(reply.image.data)
    picture = lambda b: Image.open(io.BytesIO(b)).convert("RGB")  # noqa: E731
    tiles = [(f"input {i}", _square(picture(b))) for i, b in enumerate(data)]
    tiles += [(f"aligned {p.index}", picture(p.aligned.data)) for p in reply.pictures]
    tiles += [("reconstruction", picture(reply.image.data))] + [(name, picture(png)) for name, png in edits]
    contact_sheet(tiles, tile=TILE, columns=len(tiles)).save(out / SIDE_BY_SIDE)
    s = reply.scores
    agreement = f"{s.attribute_agreement:.0%}" if s.HasField("attribute_agreement") else "n/a (the model ships no classifier)"
    print(f"encoded {len(data)} picture(s): PSNR {s.psnr_db:.1f} dB vs the aligned input, attribute agreement {agreement}, "
          f"spread {s.spread:.2f}, refinement {s.refine_steps} steps in {s.refine_us / 1e3:.0f} ms")
    print(f"DNA: {out / DNA_FILE}; figure: {out / SIDE_BY_SIDE}")
    return 0


def _square(img):
    """A picture padded to a square with white, so the figure shows it whole and undistorted."""
    from PIL import Image

    side = max(img.size)
    canvas = Image.new("RGB", (side, side), "white")
    canvas.paste(img, ((side - img.width) // 2, (side - img.height) // 2))
    return canvas
