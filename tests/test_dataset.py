"""The labelled avatar renderer: labels fully determine the image, seeds fully determine labels."""
import numpy as np
import pytest

pytest.importorskip("python_avatars")
from avatarforge.models.training import dataset  # noqa: E402


def test_label_set_rerenders_the_same_image():
    images, labels = dataset.render_split(12, seed=7, size=32, workers=2, progress=False)
    assert images.shape == (12, 32, 32, 3) and images.dtype == np.uint8
    for img, lab in zip(images, labels):
        assert np.array_equal(dataset.render_labels(lab, 32), img)


def test_labels_depend_only_on_seed_and_index():
    a = [dataset.sample_labels(3, i) for i in range(20)]
    b = [dataset.sample_labels(3, i) for i in reversed(range(20))][::-1]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, [dataset.sample_labels(4, i) for i in range(20)]))


def test_different_parts_draw_different_images():
    lab = dataset.sample_labels(0, 0)
    heads = dataset.heads()
    other = lab.copy()
    other[heads.index("skin_color")] = (lab[heads.index("skin_color")] + 1) % len(dataset.attribute_values()["skin_color"])
    assert not np.array_equal(dataset.render_labels(lab, 32), dataset.render_labels(other, 32))


def test_inapplicable_parts_are_masked():
    heads = dataset.heads()
    vocab = dataset.attribute_values()
    lab = np.zeros(len(heads), np.int16)
    lab[heads.index("top")] = vocab["top"].index("HAT_WINTER_HAT_1")
    lab[heads.index("clothing")] = vocab["clothing"].index("HOODIE")
    masked = dataset.mask_inapplicable(lab)
    assert masked[heads.index("hair_color")] == dataset.NOT_APPLICABLE  # hidden under the hat
    assert masked[heads.index("hat_color")] != dataset.NOT_APPLICABLE
    assert masked[heads.index("graphic")] == dataset.NOT_APPLICABLE  # only graphic shirts have one
    assert masked[heads.index("facial_hair_color")] == dataset.NOT_APPLICABLE  # facial_hair NONE
