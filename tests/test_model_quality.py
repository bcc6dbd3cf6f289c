"""The shipped default model: its classifier, its evaluation CLI, its manifest's claims."""
import json
from pathlib import Path
import subprocess
import sys

import numpy as np
import pytest

from avatarforge.models.bundle import ZOO_DIR, load_bundle

BUNDLE = ZOO_DIR / "avatars64"


@pytest.fixture(scope="module")
def bundle():
    return load_bundle(BUNDLE)


def test_bundle_lists_its_data_recipe_and_metrics(bundle):
    m = bundle.manifest
    assert "python-avatars" in m["data"]["source"] and m["data"]["licence"]
    assert m["training"]["total_hours"] > 0 and m["training"]["stage1_steps"] > 0
    assert {"fd", "diversity", "coverage_targets"} <= set(m["metrics"])
    assert {"classifier.safetensors", "encoder.safetensors"} <= set(m["files"])


def test_the_mapping_draws_parts_as_the_dataset_does(bundle):
    """Seeds 0..19999 get their parts in the shares the renderer draws them (uniform per part,
    half the faces without accessory or facial hair), so every value appears in generated faces."""
    import torch

    from avatarforge.models.training import dataset
    from avatarforge.models.latents import zs_from_seeds
    from avatarforge.models.networks import PartsMapping

    mapping = bundle.generator.mapping
    assert isinstance(mapping, PartsMapping)
    assert list(bundle.config.mapping_parts) == dataset.heads()
    drawn = mapping.parts_one_hot(torch.from_numpy(zs_from_seeds(list(range(20000)), bundle.config.z_dim)))
    for i, head in enumerate(dataset.heads()):
        cols = (mapping.column_part == i).numpy()
        n = int(cols.sum())
        expected = np.full(n, 1 / n)
        if head in dataset.NONE_SHARE:
            none = dataset.NONE_SHARE[head]
            expected = np.array([none] + [(1 - none) / (n - 1)] * (n - 1))
        got = drawn[:, cols].mean(0).numpy()
        # The shares are the training set's: hat colour and graphic show on a few thousand faces,
        # so they differ from the renderer's by up to ~0.04 in total variation.
        assert 0.5 * np.abs(got - expected).sum() < 0.08, (head, got.round(3), expected.round(3))
        assert (got > 0).all(), f"{head}: a value is never drawn"


def test_classifier_accuracy_on_fresh_renders(bundle):
    pytest.importorskip("python_avatars")
    from avatarforge.models.training import dataset
    from avatarforge.models.training.classifier import accuracy_per_head, load_classifier

    clf = load_classifier(bundle.file_path("classifier.safetensors"))
    # A seed the classifier never saw (train used 0, held-out 1).
    images, labels = dataset.render_split(300, seed=12345, size=64, workers=2, progress=False)
    acc = accuracy_per_head(clf, images, labels)
    # Floors well under the held-out accuracy recorded in the manifest, so only a broken
    # classifier (or renderer) fails; the recorded values are in the manifest and README.
    for head in ("skin_color", "hair_color", "clothing", "accessory", "top"):
        assert acc[head] > 0.6, (head, acc[head])
    recorded = bundle.manifest["classifier"]["heldout_accuracy"]
    assert abs(np.nanmean(list(acc.values())) - np.nanmean(list(recorded.values()))) < 0.1


def test_eval_cli_schema(tmp_path):
    out = tmp_path / "eval.json"
    cmd = [sys.executable, "-m", "avatarforge.cli", "eval", "--model", str(BUNDLE), "--n", "200", "--json", str(out), "--threads", "2"]
    subprocess.run(cmd, check=True, timeout=600, capture_output=True)
    r = json.loads(out.read_text())
    assert r["n_generated"] == 200 and r["n_real"] == 400
    figures = {"generated_vs_real", "real_vs_real", "ratio", "reconstruction_vs_real", "reconstruction_ratio"}
    # The classifier reads the face with a trunk of its own: FD in all its features, then in each trunk's alone.
    assert set(r["fd"]) == figures | {"whole_image", "face"}
    assert set(r["fd"]["whole_image"]) == set(r["fd"]["face"]) == figures
    # The encoder's reconstructions are drawings of real faces' codes: near the real floor and
    # the generated faces (a wrongly wired encoder draws noise, far above both). At 200 faces
    # FD's small-sample bias (~200) dwarfs the model's gap (~7 at 2,000), so the three are near
    # equal and their order is noise: bound them, don't order them.
    assert 0.9 * r["fd"]["real_vs_real"] < r["fd"]["reconstruction_vs_real"] < 1.5 * r["fd"]["generated_vs_real"]
    assert r["fd"]["ratio"] == pytest.approx(r["fd"]["generated_vs_real"] / r["fd"]["real_vs_real"], rel=1e-2)
    for head in ("hair_color", "skin_color", "clothing", "accessory"):
        cov = r["coverage"][head]
        assert 0 <= cov["tv"] <= 1
        shares = [v["generated"] for v in cov["values"].values()]
        assert sum(shares) == pytest.approx(1, abs=1e-3)
    assert r["diversity"]["generated"] > 0 and r["diversity"]["real"] > 0


@pytest.mark.parametrize("name", sorted(p.name for p in ZOO_DIR.iterdir() if (p / "manifest.json").is_file()))
def test_readme_tables_come_from_the_committed_manifest(name):
    """Each shipped model's classifier, quality and directions tables in the README are made by
    models/training/readme_tables.py from its manifest; after re-training, `python -m
    avatarforge.models.training.readme_tables --model NAME --write README.md` refreshes them, and
    this test fails until someone does (or while a shipped model has no tables in the README)."""
    from avatarforge.models.training import readme_tables

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    blocks = readme_tables.render_blocks(readme_tables.read_manifest(ZOO_DIR / name))
    assert readme_tables.replace_blocks(readme, blocks) == readme
