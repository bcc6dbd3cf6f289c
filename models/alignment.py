"""Alignment: an uploaded picture of an avatar -> the framing the encoder was trained on.

The encoder only ever saw training renders: the avatar's shoulders on the bottom edge, centred
where the renderer put them, at one scale, on one background colour (models/training/
dataset.py). A picture that is shifted, smaller, on white or bigger than the model is far
outside that, and encodes badly (issue 14's table). So, before encoding:

    picture (any size, RGB, alpha already composited onto its own border colour)
      -> background = the border's colour, flooded in from the edges, at each tolerance of
         TOLERANCES
      -> the avatar's shoulders: its lowest row and the width of the rows just above it; kept
         only when plausible (width / height as on training renders)
      -> a similarity transform (scale + shift, no rotation) that puts the shoulders where the
         training renders have them (Framing, measured on the training renders)
      -> crop + antialiased resize to the model's resolution, out-of-picture area filled with the
         border colour
      -> background pixels (flooded from the edges again, now at model resolution) moved to the
         training background colour

Why the shoulders: they are the one part every Avataaars face has at the same place and size.
The head's top varies with hair and hats (up to a third of the height), the sides with long hair.
The flood from the edges (not a colour key) keeps the inside of the face: the whites of the eyes
survive a white background. A part the colour of the background that touches the edge (a white
shirt on white) is lost with it; nothing in the picture tells the two apart.

Each tolerance that finds plausible shoulders gives a candidate; the picture merely fitted
into a square (no alignment) is always one more. The caller picks among them with the model
(choose(): the candidate the model reconstructs best, server/encode_rpc.py), because a shirt close to the
background colour (pastel blue or light grey on avatars64's pale blue-grey) is lost at a loose
tolerance and a JPEG's ringing at a tight one, and only the reconstruction tells which one held.

A bundle without a framing (a user's own StyleGAN) gets no alignment: the picture is padded
to a square with its border colour and resized.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

# Max |channel difference| from the border colour that still counts as background: loose
# (JPEG ringing, soft edges) to tight (a shirt a few levels off the background).
TOLERANCES = (28, 12, 5)
BACKGROUND_TOL = TOLERANCES[0]
# Shoulder width / avatar height on training renders is 0.73 (no hair above) .. 1.2 (a tall hat);
# outside this, what was measured is not the shoulders (a shirt flooded with the background).
PLAUSIBLE_RATIO = (0.62, 1.3)
FIT_PREFERENCE_DB = 1.0  # see choose()
FOREGROUND_TOL = 12  # choose(): a pixel this far from the training background is part of the avatar
WORK_SCALE = 2  # geometry is measured at this many times the model's resolution (sub-pixel at the model's)
SHOULDER_ROWS = (0.03, 0.06)  # rows measured for the shoulders' width: this far above the lowest row, in avatar heights


@dataclass(frozen=True)
class Framing:
    """Where the training renders put the shoulders, as fractions of the image edge."""

    background: tuple[int, int, int]  # training canvas colour, uint8 RGB
    bottom: float  # lowest avatar row's lower edge (1.0 = on the image's bottom edge)
    centre_x: float  # horizontal centre of the shoulders
    shoulder_width: float  # width of the shoulders at SHOULDER_ROWS above the bottom

    @classmethod
    def from_manifest(cls, manifest: dict) -> "Framing | None":
        f = (manifest.get("encoder") or {}).get("framing")
        if not f:
            return None
        return cls(tuple(int(c) for c in f["background"]), float(f["bottom"]), float(f["centre_x"]), float(f["shoulder_width"]))

    def to_manifest(self) -> dict:
        return {"background": list(self.background), "bottom": round(self.bottom, 4), "centre_x": round(self.centre_x, 4),
                "shoulder_width": round(self.shoulder_width, 4)}


@dataclass(frozen=True)
class Shoulders:
    """What was found in a picture, in its pixels."""

    bottom: float  # lower edge of the lowest avatar row
    centre_x: float
    width: float


@dataclass(frozen=True)
class Aligned:
    image: np.ndarray  # uint8 [R, R, 3] in the training framing
    realigned: bool  # False: the picture as framed (padded to a square), no avatar moved
    box: tuple[float, float, float, float]  # the picture's region that became the image (x0, y0, x1, y1)


def border_colour(rgb: np.ndarray) -> np.ndarray:
    """Median colour of the outermost pixel ring: uint8 [H, W, 3] -> int [3]."""
    ring = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    return np.median(ring, axis=0).round().astype(np.int32)


def background_mask(rgb: np.ndarray, colour: np.ndarray, tol: int = BACKGROUND_TOL) -> np.ndarray:
    """bool [H, W]: pixels within `tol` of `colour` that connect to the image edge through such
    pixels (a flood fill from the edges, by repeated 4-neighbour dilation)."""
    near = (np.abs(rgb.astype(np.int32) - colour).max(-1) <= tol)
    reached = np.zeros_like(near)
    reached[0], reached[-1], reached[:, 0], reached[:, -1] = near[0], near[-1], near[:, 0], near[:, -1]
    for _ in range(near.size):  # bounded; stops as soon as the flood stops growing
        grown = reached.copy()
        grown[1:] |= reached[:-1]
        grown[:-1] |= reached[1:]
        grown[:, 1:] |= reached[:, :-1]
        grown[:, :-1] |= reached[:, 1:]
        grown &= near
        if (grown == reached).all():
            break
        reached = grown
    return reached


def find_shoulders(foreground: np.ndarray) -> Shoulders | None:
    """The avatar's lowest row and its shoulders' centre and width (bool [H, W] foreground ->
    pixels), or None when there is no plausible avatar (empty, or a speck)."""
    counts = foreground.sum(1)
    rows = np.nonzero(counts >= 2)[0]
    if len(rows) < 4:
        return None
    top, bottom = rows[0], rows[-1] + 1
    height = bottom - top
    widths, centres = [], []
    for share in np.linspace(*SHOULDER_ROWS, 4):
        y = min(bottom - 1, max(top, int(round(bottom - 1 - share * height))))
        xs = np.nonzero(foreground[y])[0]
        if len(xs):
            widths.append(xs[-1] + 1 - xs[0])
            centres.append((xs[-1] + 1 + xs[0]) / 2)
    if not widths or max(widths) < 3:
        return None
    width = float(np.median(widths))
    if not PLAUSIBLE_RATIO[0] <= width / height <= PLAUSIBLE_RATIO[1]:
        return None
    return Shoulders(float(bottom), float(np.median(centres)), width)


def _crop(img: Image.Image, box: tuple[float, float, float, float], colour: tuple[int, int, int], size: int) -> Image.Image:
    """The region `box` of `img` (it may reach outside it: that part is `colour`), resized to
    size x size with an antialiasing filter."""
    x0, y0, x1, y1 = box
    pad = int(np.ceil(max(0.0, -x0, -y0, x1 - img.width, y1 - img.height))) + 1
    if pad > 1:
        canvas = Image.new("RGB", (img.width + 2 * pad, img.height + 2 * pad), colour)
        canvas.paste(img, (pad, pad))
        img, box = canvas, (x0 + pad, y0 + pad, x1 + pad, y1 + pad)
    return img.resize((size, size), Image.Resampling.LANCZOS, box=box)


def candidates(rgb: np.ndarray, resolution: int, framing: Framing | None) -> list[Aligned]:
    """uint8 [H, W, 3] (any size and aspect) -> the picture in the training framing, uint8
    [resolution, resolution, 3], once per distinct plausible alignment, then the picture as
    framed (padded to a square). Deterministic; cost
    bounded by the picture's pixels (one resize each) plus floods at WORK_SCALE x resolution."""
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3, f"expected uint8 [H, W, 3], got {rgb.dtype} {rgb.shape}"
    img = Image.fromarray(rgb, "RGB")
    colour = tuple(int(c) for c in border_colour(rgb))
    fill = framing.background if framing else colour
    out: list[Aligned] = []
    if framing is not None:
        # Measure at a working size: big pictures shrink (bounded work), small ones keep their pixels.
        k = min(1.0, WORK_SCALE * resolution / max(img.size))
        small = img if k == 1.0 else img.resize((max(1, round(img.width * k)), max(1, round(img.height * k))),
                                                Image.Resampling.BOX)
        small_rgb = np.asarray(small)
        sx, sy = img.width / small.width, img.height / small.height  # working pixels -> picture pixels
        for tol in TOLERANCES:
            s = find_shoulders(~background_mask(small_rgb, border_colour(small_rgb), tol))
            if s is None:
                continue
            side = s.width * sx / framing.shoulder_width  # picture pixels spanning the model's image
            x0, y0 = s.centre_x * sx - framing.centre_x * side, s.bottom * sy - framing.bottom * side
            box = (x0, y0, x0 + side, y0 + side)
            if all(_distinct(box, a.box, resolution) for a in out):
                out.append(Aligned(_with_background(np.array(_crop(img, box, colour, resolution)), colour, fill), True, box))
    # The picture as framed; an alignment that found it already framed is replaced by it (the
    # same box, without a sub-pixel resampling).
    fit_box = _fit_box(img)
    fitted = Aligned(_with_background(np.array(_crop(img, fit_box, colour, resolution)), colour, fill), False, fit_box)
    return [a for a in out if _distinct(fit_box, a.box, resolution)] + [fitted]


def choose(options: list[Aligned], recon: np.ndarray, background: tuple[int, int, int]) -> int:
    """Which candidate to keep, given the model's reconstruction of each (uint8 [K, R, R, 3]):
    the one reconstructed best on the avatar (PSNR over the pixels that are not background in
    the candidate or in its reconstruction: over the whole image a small avatar on a large
    background would win on background alone), with FIT_PREFERENCE_DB in hand for the picture
    as framed (a realignment a little off can reconstruct itself a little better and still be
    worse)."""
    scores = []
    for a, r in zip(options, recon):
        fg = (np.abs(a.image.astype(np.int32) - background).max(-1) > FOREGROUND_TOL) | \
             (np.abs(r.astype(np.int32) - background).max(-1) > FOREGROUND_TOL)
        err = ((a.image.astype(np.float64) - r) ** 2)[fg].mean() if fg.any() else 0.0
        q = 10 * np.log10(255.0**2 / max(err, 1e-6))
        scores.append(q + (FIT_PREFERENCE_DB if not a.realigned else 0.0))
    return int(np.argmax(scores))


def _fit_box(img: Image.Image) -> tuple[float, float, float, float]:
    """The square around the whole picture, centred (the picture as framed, padded)."""
    side = max(img.size)
    x0, y0 = (img.width - side) / 2, (img.height - side) / 2
    return (x0, y0, x0 + side, y0 + side)


def _distinct(a: tuple, b: tuple, resolution: int) -> bool:
    """Two boxes differ by more than a quarter of an output pixel somewhere."""
    return max(abs(p - q) for p, q in zip(a, b)) > 0.25 * (a[2] - a[0]) / resolution


def _with_background(aligned: np.ndarray, colour: tuple, fill: tuple) -> np.ndarray:
    """Background pixels moved by (fill - colour): the background becomes the training one while
    its noise and the avatar's antialiased rim keep their shading (and nothing changes when the
    picture is already on the training background)."""
    mask = background_mask(aligned, np.array(colour))
    shift = np.array(fill, np.int32) - np.array(colour, np.int32)
    aligned[mask] = np.clip(aligned[mask].astype(np.int32) + shift, 0, 255).astype(np.uint8)
    return aligned


def align(rgb: np.ndarray, resolution: int, framing: Framing | None) -> Aligned:
    """The first candidate: the loosest tolerance that found plausible shoulders (no model needed)."""
    return candidates(rgb, resolution, framing)[0]


def measure_framing(renders: np.ndarray, background: tuple[int, int, int]) -> Framing:
    """The Framing of training renders (uint8 [N, R, R, 3] on `background`): medians over them
    of what find_shoulders sees, measured as align() measures uploads (at WORK_SCALE)."""
    res = renders.shape[1]
    found = []
    for im in renders:
        big = np.asarray(Image.fromarray(im).resize((WORK_SCALE * res,) * 2, Image.Resampling.NEAREST))
        s = find_shoulders(~background_mask(big, np.array(background)))
        if s is not None:
            found.append((s.bottom, s.centre_x, s.width))
    b, c, w = np.median(np.array(found), axis=0) / (WORK_SCALE * res)
    return Framing(tuple(background), float(b), float(c), float(w))
