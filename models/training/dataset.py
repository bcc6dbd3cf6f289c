"""The labelled avatar dataset: Avataaars parts drawn by `python-avatars`, rasterised by `resvg-py`.

Every image is a pure function of its label vector (one integer per part), and the label vector
of image i is a pure function of (seed, i), so a dataset re-renders bit-identically on any
machine and any number of worker processes.

On disk a split is one `.npz` (images uint8 [N, H, W, 3], labels int16 [N, heads], -1 where a
part does not apply, e.g. hat colour without a hat) plus `attributes.json` naming every value.
"""
from __future__ import annotations

import io
import json
import multiprocessing as mp
from functools import lru_cache
from pathlib import Path

import numpy as np

BACKGROUND = (220, 230, 240)  # fixed pale blue-grey canvas behind every avatar
NOT_APPLICABLE = -1


def default_folder(resolution: int) -> str:
    """Where the dataset of a model of this resolution is written and looked for."""
    return f"data/avatars{resolution}"


def _pa():
    import python_avatars  # optional dependency ([train] extra): only the renderer needs it

    return python_avatars


@lru_cache(maxsize=1)
def attribute_values() -> dict[str, list[str]]:
    """Head name -> ordered value names. The order is the label encoding; never reorder."""
    pa = _pa()
    names = lambda enum: [m.name for m in enum]  # noqa: E731
    return {
        "top": names(pa.HairType) + ["HAT_" + m.name for m in pa.HatType],
        "hair_color": names(pa.HairColor),
        "hat_color": names(pa.ClothingColor),
        "skin_color": names(pa.SkinColor),
        "eyes": names(pa.EyeType),
        "eyebrows": names(pa.EyebrowType),
        "mouth": names(pa.MouthType),
        "nose": names(pa.NoseType),
        "facial_hair": names(pa.FacialHairType),
        "facial_hair_color": names(pa.HairColor),
        "accessory": names(pa.AccessoryType),
        "clothing": names(pa.ClothingType),
        "clothing_color": names(pa.ClothingColor),
        # CUSTOM_TEXT draws text with system fonts, which would differ between machines.
        "graphic": [m.name for m in pa.ClothingGraphic if m.name != "CUSTOM_TEXT"],
    }


def heads() -> list[str]:
    return list(attribute_values())


def _top_enum(name: str):
    pa = _pa()
    return pa.HatType[name[4:]] if name.startswith("HAT_") else pa.HairType[name]


def _avatar(values: dict[str, str]):
    pa = _pa()
    return pa.Avatar(
        style=pa.AvatarStyle.TRANSPARENT,
        top=_top_enum(values["top"]),
        hair_color=pa.HairColor[values["hair_color"]],
        hat_color=pa.ClothingColor[values["hat_color"]],
        skin_color=pa.SkinColor[values["skin_color"]],
        eyes=pa.EyeType[values["eyes"]],
        eyebrows=pa.EyebrowType[values["eyebrows"]],
        mouth=pa.MouthType[values["mouth"]],
        nose=pa.NoseType[values["nose"]],
        facial_hair=pa.FacialHairType[values["facial_hair"]],
        facial_hair_color=pa.HairColor[values["facial_hair_color"]],
        accessory=pa.AccessoryType[values["accessory"]],
        clothing=pa.ClothingType[values["clothing"]],
        clothing_color=pa.ClothingColor[values["clothing_color"]],
        shirt_graphic=pa.ClothingGraphic[values["graphic"]],
    )


def _rasterise(svg: str, size: int) -> np.ndarray:
    """SVG -> uint8 [size, size, 3], centred on the fixed background."""
    import resvg_py
    from PIL import Image

    png = resvg_py.svg_to_bytes(svg_string=svg, height=size)  # keeps the 264x280 aspect
    fg = Image.open(io.BytesIO(bytes(png))).convert("RGBA")
    canvas = Image.new("RGBA", (size, size), BACKGROUND + (255,))
    canvas.alpha_composite(fg, ((size - fg.width) // 2, (size - fg.height) // 2))
    return np.asarray(canvas.convert("RGB"))


def _values_from_labels(labels: np.ndarray) -> dict[str, str]:
    vocab = attribute_values()
    # A part that does not apply still needs some value to draw with; use its first one.
    return {h: vocab[h][max(int(v), 0)] for h, v in zip(vocab, labels)}


def render_labels(labels: np.ndarray, size: int = 64) -> np.ndarray:
    """Label vector (int per head) -> uint8 image [size, size, 3]."""
    return _rasterise(_avatar(_values_from_labels(labels)).render(), size)


@lru_cache(maxsize=None)
def _tops_showing(part: str) -> frozenset[str]:
    """Tops for which `part` ('hair_color' or 'hat_color') changes the drawing (measured once)."""
    vocab = attribute_values()
    shown = set()
    for top in vocab["top"]:
        base = {h: vocab[h][0] for h in vocab} | {"top": top}
        a = _avatar(base | {part: vocab[part][0]}).render()
        b = _avatar(base | {part: vocab[part][1]}).render()
        if a != b:
            shown.add(top)
    return frozenset(shown)


# Share of faces drawn with the part's first value ("NONE"); the other values share the rest
# uniformly. Without this, 7 of 8 faces would wear a beard and 9 of 10 glasses or a patch.
NONE_SHARE = {"accessory": 0.5, "facial_hair": 0.5}


def sample_labels(seed: int, index: int) -> np.ndarray:
    """Labels of image `index` in a dataset with `seed`: uniform per part, except NONE_SHARE."""
    vocab = attribute_values()
    rng = np.random.default_rng([seed, index])
    labels = []
    for head, values in vocab.items():
        none_share = NONE_SHARE.get(head)
        if none_share is not None and rng.random() < none_share:
            labels.append(0)
        elif none_share is not None:
            labels.append(1 + rng.integers(len(values) - 1))
        else:
            labels.append(rng.integers(len(values)))
    return mask_inapplicable(np.array(labels, dtype=np.int16))


def mask_inapplicable(labels: np.ndarray) -> np.ndarray:
    """Set parts that cannot be seen to NOT_APPLICABLE, so no classifier is asked to guess them."""
    vocab = attribute_values()
    idx = {h: i for i, h in enumerate(vocab)}
    top = vocab["top"][labels[idx["top"]]]
    out = labels.copy()
    if top not in _tops_showing("hair_color"):
        out[idx["hair_color"]] = NOT_APPLICABLE
    if top not in _tops_showing("hat_color"):
        out[idx["hat_color"]] = NOT_APPLICABLE
    if vocab["facial_hair"][labels[idx["facial_hair"]]] == "NONE":
        out[idx["facial_hair_color"]] = NOT_APPLICABLE
    if vocab["clothing"][labels[idx["clothing"]]] != "GRAPHIC_SHIRT":
        out[idx["graphic"]] = NOT_APPLICABLE
    return out


def _render_one(args) -> tuple[np.ndarray, np.ndarray]:
    seed, index, size = args
    labels = sample_labels(seed, index)
    return render_labels(labels, size), labels


def render_split(n: int, seed: int, size: int = 64, workers: int | None = None, progress: bool = True):
    """Render n avatars; returns (images uint8 [n, size, size, 3], labels int16 [n, heads])."""
    from tqdm import tqdm

    workers = workers or mp.cpu_count()
    jobs = [(seed, i, size) for i in range(n)]
    images = np.zeros((n, size, size, 3), np.uint8)
    labels = np.zeros((n, len(heads())), np.int16)
    # forkserver, not fork: a caller that already ran torch holds OpenMP threads, and a child
    # forked from it can deadlock on their locks (seen when tests grow a network first).
    with mp.get_context("forkserver").Pool(workers) as pool:
        results = pool.imap(_render_one, jobs, chunksize=64)
        for i, (img, lab) in enumerate(tqdm(results, total=n, desc=f"render seed={seed}", disable=not progress, unit="img")):
            images[i], labels[i] = img, lab
    return images, labels


def write_dataset(out: str | Path, n_train: int, n_heldout: int, size: int = 64, seed: int = 0, workers: int | None = None) -> Path:
    """Render train (seed) and held-out (seed + 1) splits into `out/`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for split, n, s in (("train", n_train, seed), ("heldout", n_heldout, seed + 1)):
        images, labels = render_split(n, s, size, workers)
        np.savez(out / f"{split}.npz", images=images, labels=labels)
    meta = {"heads": attribute_values(), "size": size, "seed": seed, "train": n_train, "heldout": n_heldout,
            "background": BACKGROUND, "not_applicable": NOT_APPLICABLE,
            "source": "python-avatars 1.4.1 (Avataaars by Pablo Stanley, free for personal and commercial use) rendered with resvg-py 0.5.0"}
    (out / "attributes.json").write_text(json.dumps(meta, indent=1))
    return out


def load_split(root: str | Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    with np.load(Path(root) / f"{split}.npz") as f:
        return f["images"], f["labels"]
