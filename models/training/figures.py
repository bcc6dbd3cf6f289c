"""README pictures from a bundle: a contact sheet of random faces and a truncation sweep.

    python -m avatarforge.models.training.figures --model avatars64 --out docs/
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from ..bundle import DEFAULT_MODEL, load_bundle
from .evaluate import generate_images


def grid(images: np.ndarray, columns: int, scale: int = 2, pad: int = 2) -> Image.Image:
    """uint8 [N, H, W, 3] -> one image, `columns` wide, each tile upscaled (nearest) by `scale`."""
    n, h, w, _ = images.shape
    rows = -(-n // columns)
    th, tw = h * scale + pad, w * scale + pad
    sheet = Image.new("RGB", (columns * tw + pad, rows * th + pad), "white")
    for i, img in enumerate(images):
        tile = Image.fromarray(img).resize((w * scale, h * scale), Image.Resampling.NEAREST)
        sheet.paste(tile, (pad + (i % columns) * tw, pad + (i // columns) * th))
    return sheet


def _scale(generator) -> int:
    """Tiles are shown at 128 px or more: a 64 px face is doubled (nearest), a 128 px one not."""
    return max(1, 128 // generator.cfg.resolution)


def contact_sheet(generator, seeds=range(64), psi: float = 1.0, columns: int = 8) -> Image.Image:
    return grid(generate_images(generator, list(seeds), psi), columns, scale=_scale(generator))


def truncation_sweep(generator, seeds=range(8), psis=(0.5, 0.6, 0.7, 0.8, 0.9, 1.0)) -> Image.Image:
    """One row per seed, one column per psi (left: closest to the average face)."""
    rows = [generate_images(generator, list(seeds), psi) for psi in psis]  # [P][S]
    images = np.stack(rows, 1).reshape(-1, *rows[0].shape[1:])  # seed-major
    return grid(images, columns=len(psis), scale=_scale(generator))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--out", default="docs")
    a = p.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    bundle = load_bundle(a.model)
    sheet, sweep = out / f"{bundle.name}_seeds_0-63.png", out / f"{bundle.name}_truncation.png"
    contact_sheet(bundle.generator).save(sheet)
    truncation_sweep(bundle.generator).save(sweep)
    print(f"wrote {sheet} and {sweep}")


if __name__ == "__main__":
    main()
