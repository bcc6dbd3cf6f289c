"""Contact sheets: many faces tiled into one PNG, for a quick look at a batch."""
from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw

MAX_TILES = 256


def contact_sheet(tiles: list[tuple[str, Image.Image]], tile: int = 64, columns: int | None = None) -> Image.Image:
    """(label, image) pairs -> one RGB sheet of tile x tile thumbnails with their labels under them."""
    tiles = tiles[:MAX_TILES]
    columns = columns or max(1, math.ceil(math.sqrt(len(tiles))))
    rows = max(1, math.ceil(len(tiles) / columns))
    label_h = 12
    sheet = Image.new("RGB", (columns * tile, rows * (tile + label_h)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (label, img) in enumerate(tiles):
        x, y = (i % columns) * tile, (i // columns) * (tile + label_h)
        sheet.paste(img.convert("RGB").resize((tile, tile), Image.Resampling.LANCZOS), (x, y))
        draw.text((x + 2, y + tile), label, fill="black")
    return sheet


def load_face(path: Path) -> Image.Image | None:
    """An image file written by `avatarforge generate`: PNG/JPEG/WebP, or raw square RGBA8."""
    if path.suffix == ".rgba":
        data = path.read_bytes()
        side = math.isqrt(len(data) // 4)
        if side * side * 4 != len(data):
            return None
        return Image.frombytes("RGBA", (side, side), data)
    try:
        with Image.open(path) as im:
            return im.convert("RGB")
    except OSError:
        return None
