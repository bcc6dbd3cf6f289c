"""Alignment alone (models/alignment.py), on training renders drawn by the dataset renderer:
the framing shipped in avatars64's manifest is what those renders show, and a render moved,
shrunk and put on another background is found and put back where it was."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from avatarforge.models.alignment import Framing, candidates, measure_framing
from avatarforge.models.bundle import read_manifest, resolve_bundle_path

dataset = pytest.importorskip("avatarforge.models.training.dataset")  # needs the [train] extra (python-avatars)


@pytest.fixture(scope="module")
def renders() -> np.ndarray:
    return np.stack([dataset.render_labels(dataset.sample_labels(7, i), 64) for i in range(48)])


@pytest.fixture(scope="module")
def framing() -> Framing:
    return Framing.from_manifest(read_manifest(resolve_bundle_path("avatars64")))


def test_the_shipped_framing_is_what_training_renders_show(renders, framing):
    measured = measure_framing(renders, dataset.BACKGROUND)
    assert framing.background == tuple(dataset.BACKGROUND)
    for field in ("bottom", "centre_x", "shoulder_width"):
        assert abs(getattr(measured, field) - getattr(framing, field)) < 0.02, field


def test_a_moved_shrunk_render_on_white_is_put_back(renders, framing):
    """Each render drawn at 3x into a 400x300 white canvas at (150, 60): the first candidate's
    box must be that region (the picture pixels that became the model's 64x64)."""
    hits = 0
    for im in renders:
        face = np.where((np.abs(im.astype(int) - dataset.BACKGROUND).max(-1) <= 6)[..., None], 255, im).astype(np.uint8)
        canvas = Image.new("RGB", (400, 300), "white")
        canvas.paste(Image.fromarray(face).resize((192, 192), Image.Resampling.LANCZOS), (150, 60))
        first = candidates(np.asarray(canvas), 64, framing)[0]
        x0, y0, x1, y1 = first.box
        hits += first.realigned and abs(x0 - 150) < 12 and abs(y0 - 60) < 12 and abs((x1 - x0) - 192) < 16
    # A shirt as light as white cannot be told from the background: those few are allowed to miss.
    assert hits >= 0.85 * len(renders), hits


def test_the_picture_as_framed_is_always_a_candidate(renders, framing):
    options = candidates(renders[0], 64, framing)
    assert [o.realigned for o in options].count(False) == 1
    unaligned = next(o for o in options if not o.realigned)
    assert np.abs(unaligned.image.astype(int) - renders[0]).max() <= 2  # a training render is already framed
