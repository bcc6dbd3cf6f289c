"""encoder_finetune on a copy of avatars64: perturbations, a resumed run equal to an unbroken
one, and installing into the bundle (which still loads, sha256-verified, with the new encoder)."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from avatarforge.models.bundle import load_bundle, resolve_bundle_path
from avatarforge.models.encoder import load_bundle_encoder
from avatarforge.models.training import encoder_finetune
from avatarforge.models.training.encoder_finetune import load_encoder_file, perturb


@pytest.fixture(scope="module")
def bundle_copy(tmp_path_factory):
    src = resolve_bundle_path("avatars64", None)
    out = tmp_path_factory.mktemp("bundles") / "avatars64"
    shutil.copytree(src, out, ignore=shutil.ignore_patterns("*.cache"))
    return out


def run(bundle, folder, steps: int, *extra: str) -> None:
    encoder_finetune.main(["--model", str(bundle), "--run", str(folder), "--steps", str(steps), "--batch", "2",
                           "--checkpoint-every", "2", "--log-every", "1", *extra])


def test_perturbations_change_the_picture_deterministically():
    img = np.full((64, 64, 3), (220, 230, 240), np.uint8)
    img[20:60, 16:48] = (90, 60, 40)  # a body on the training background
    seen = [perturb(img, (220, 230, 240), np.random.default_rng([0, step])) for step in range(64)]
    assert all(p.shape == img.shape and p.dtype == np.uint8 for p, _ in seen)
    # Half come as rendered (CLEAN_SHARE); of the rest, all but 1 in 64 get some perturbation.
    changed = sum(not np.array_equal(p, img) for p, _ in seen)
    assert 20 <= changed <= 44, changed
    # A picture as rendered always determines its code; a rotated or occluded one (each drawn for
    # half the perturbed pictures) does not, so some changed pictures do and some do not.
    assert all(d for p, d in seen if np.array_equal(p, img))
    undetermined = sum(not d for _, d in seen)
    assert 5 <= undetermined < changed, (undetermined, changed)
    again, determined = perturb(img, (220, 230, 240), np.random.default_rng([0, 3]))
    assert np.array_equal(seen[3][0], again) and determined == seen[3][1]


def test_a_resumed_run_is_the_run_it_continues_and_installs_into_the_bundle(bundle_copy, tmp_path):
    straight, broken = tmp_path / "straight", tmp_path / "broken"
    run(bundle_copy, straight, 4)
    run(bundle_copy, broken, 2)
    run(bundle_copy, broken, 4)  # resumes at step 2
    a, b = load_encoder_file(straight / "encoder.safetensors"), load_encoder_file(broken / "encoder.safetensors")
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
    log = [json.loads(line) for line in (straight / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3, 4] and all(np.isfinite(r["latent"]) and r["pixel"] > 0 for r in log)

    before = load_bundle_encoder(load_bundle(str(bundle_copy))).state_dict()
    encoder_finetune.main(["--model", str(bundle_copy), "--run", str(straight), "--install"])
    bundle = load_bundle(str(bundle_copy))  # verifies every file's sha256
    after = load_bundle_encoder(bundle).state_dict()
    assert all(torch.equal(after[k], a.state_dict()[k]) for k in after)
    assert any(not torch.equal(after[k], before[k]) for k in after)
    assert bundle.manifest["encoder"]["finetune"]["steps"] == 4 and "framing" in bundle.manifest["encoder"]
