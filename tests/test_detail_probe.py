"""The detail probe on the committed avatars128 stage-1 checkpoint and real 128 px renders."""
import json

import numpy as np
import torch
from PIL import Image

from avatarforge.models.training import dataset, detail_probe

COMMITTED_128 = "models/checkpoints/avatars128-stage1.safetensors"
COMMITTED_64 = "models/checkpoints/avatars64-stage1.safetensors"


def test_faces_showing_renders_held_out_faces_with_that_part():
    faces, labels = detail_probe.faces_showing("accessory", "SUNGLASSES", 2, 64)
    assert faces.shape == (2, 64, 64, 3) and faces.dtype == np.uint8
    col = dataset.heads().index("accessory")
    want = dataset.attribute_values()["accessory"].index("SUNGLASSES")
    first = next(i for i in range(2000) if dataset.sample_labels(detail_probe.HELDOUT_SEED, i)[col] == want)
    np.testing.assert_array_equal(labels[0], dataset.sample_labels(detail_probe.HELDOUT_SEED, first))
    np.testing.assert_array_equal(faces[0], dataset.render_labels(labels[0], 64))


def test_scores_count_detail_above_half_resolution():
    picture = torch.rand(2, 3, 32, 32) * 2 - 1
    exact = detail_probe.scores(picture, picture)
    assert exact["detail"] == 1.0 and exact["psnr"] > 100
    blurred = detail_probe.scores(detail_probe._coarse(picture), picture)
    assert blurred["detail"] < 0.5 and blurred["psnr_half"] > blurred["psnr"]


def test_checkpoint_resolution_is_its_top_block():
    assert detail_probe.checkpoint_resolution(COMMITTED_128) == 128
    assert detail_probe.checkpoint_resolution(COMMITTED_64) == 64


def test_freer_fits_draw_more_of_a_hoodie_and_the_cli_writes_them(tmp_path, capsys):
    detail_probe.main([COMMITTED_128, "--bundle", "avatars128", "--faces", "2", "--steps", "30", "--threads", "2",
                       "--out", str(tmp_path)])
    levels = json.loads((tmp_path / "probe.json").read_text())["levels"]
    assert list(levels) == ["half resolution, exact", "mapping", *detail_probe.LEVELS]
    assert levels["mapping"]["psnr"] > 20  # the shipped bundle draws these parts as a face like the render
    assert levels["w"]["psnr"] > levels["encoder"]["psnr"]  # optimising w starts from the encoder's
    assert levels["top input"]["psnr"] > levels["w+"]["psnr"]  # and the top block's input from w+'s
    assert levels["top input"]["detail"] > levels["encoder"]["detail"] + 0.2
    with Image.open(tmp_path / "sheet.png") as sheet:
        assert sheet.size == (2 * 128, (2 + len(detail_probe.LEVELS)) * 128)
    assert "top input" in capsys.readouterr().out
