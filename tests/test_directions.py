"""Edit directions: SeFa from the weights, supervised boundaries, the bundle format, the
`directions` command, and (when the default model ships directions) their measured quality.

The tiny seeded bundle (32 px, random weights) checks arithmetic and file handling; the quality
floor needs the trained bundle and skips with the reason when it or its directions are absent.
"""
from __future__ import annotations

import json

import pytest
import torch

from avatarforge.models.training import dataset, direction_fitting, directions_command
from avatarforge.models.training.attributes import ATTRIBUTES, LabelReader
from avatarforge.models.bundle import MANIFEST, ZOO_DIR, BundleError, create_seeded_bundle, load_bundle
from avatarforge.models.directions import (
    DIRECTIONS_FILE, Direction, apply_edits, get_direction, load_directions, save_directions, w_statistics,
)
from avatarforge.models.latent_ops import layer_indices
from avatarforge.models.networks import FullyConnectedLayer
from avatarforge.models.sefa import affine_weight, affines_by_ws_index, sefa_components

CLASSIFIER = ZOO_DIR / "avatars64" / "classifier.safetensors"  # trained on real renders, committed


@pytest.fixture()
def tiny_path(tmp_path):
    return create_seeded_bundle(tmp_path / "tiny", seed=5)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return load_bundle(create_seeded_bundle(tmp_path_factory.mktemp("directions") / "tiny", seed=5))


def unit(seed: int, dim: int) -> torch.Tensor:
    v = torch.randn(dim, generator=torch.Generator().manual_seed(seed))
    return v / v.norm()


# --- SeFa ------------------------------------------------------------------------------------


def test_every_affine_layer_is_read_by_exactly_one_ws_index(tiny):
    readers = affines_by_ws_index(tiny.generator.synthesis)
    assert len(readers) == tiny.generator.num_ws and all(readers)
    listed = [id(layer) for group in readers for layer in group]
    all_affines = [m for name, m in tiny.generator.synthesis.named_modules() if name.endswith("affine")]
    assert sorted(listed) == sorted(id(m) for m in all_affines) and all(isinstance(m, FullyConnectedLayer) for m in all_affines)


@pytest.mark.parametrize("layers", [None, "coarse", "fine", range(2, 5)])
def test_sefa_components_are_unit_orthogonal_and_strongest_first(tiny, layers):
    vectors, eigenvalues = sefa_components(tiny.generator.synthesis, layers, k=6)
    assert vectors.shape == (6, tiny.config.w_dim) and vectors.dtype == torch.float32
    assert torch.allclose(vectors @ vectors.t(), torch.eye(6), atol=1e-5)
    assert (eigenvalues[:-1] >= eigenvalues[1:]).all()
    # They are what SeFa promises: the first moves the (normalised) styles of those layers more
    # than any random unit direction does.
    readers = affines_by_ws_index(tiny.generator.synthesis)
    a = torch.cat([affine_weight(m) for i in layer_indices(layers, tiny.generator.num_ws) for m in readers[i]]).float()
    a = a / a.norm(dim=1, keepdim=True)
    random_gain = max(float((a @ unit(s, tiny.config.w_dim)).norm()) for s in range(50))
    assert float((a @ vectors[0]).norm()) > random_gain
    # Deterministic, sign included.
    assert torch.equal(vectors, sefa_components(tiny.generator.synthesis, layers, k=6)[0])


def test_sefa_components_of_different_layers_differ_and_bad_arguments_raise(tiny):
    coarse, _ = sefa_components(tiny.generator.synthesis, "coarse", k=3)
    fine, _ = sefa_components(tiny.generator.synthesis, "fine", k=3)
    assert abs(float(coarse[0] @ fine[0])) < 0.99
    with pytest.raises(ValueError, match="k must be in"):
        sefa_components(tiny.generator.synthesis, None, k=0)
    with pytest.raises(ValueError, match="unknown layer range"):
        sefa_components(tiny.generator.synthesis, "upper", k=3)


def test_load_directions_offers_sefa_with_its_layer_range(tiny):
    found = load_directions(tiny, sefa_k=4, sefa_layers="fine")
    assert list(found) == ["sefa/0", "sefa/1", "sefa/2", "sefa/3"]  # the tiny bundle stores none
    d = found["sefa/1"]
    assert d.kind == "sefa" and d.layers == range(6, 8) and d.success is None
    lo, hi = d.strength_range
    assert lo == -hi and 0 < d.default_strength < hi
    ws = torch.zeros(2, tiny.generator.num_ws, tiny.config.w_dim)
    moved = d.apply(ws)
    assert torch.equal(moved[:, :6], ws[:, :6]) and torch.allclose(moved[:, 6:].norm(dim=-1), torch.full((2, 2), d.default_strength))
    with pytest.raises(ValueError, match=r"unknown direction 'smile'; this model has: sefa/0, sefa/1"):
        get_direction(found, "smile")


def test_w_statistics_are_deterministic_and_positive(tiny):
    mean, std = w_statistics(tiny.generator)
    mean2, std2 = w_statistics(tiny.generator)
    assert torch.equal(mean, mean2) and torch.equal(std, std2)
    assert mean.shape == std.shape == (tiny.config.w_dim,) and (std > 0).all()


# --- fitting ---------------------------------------------------------------------------------


@pytest.mark.parametrize("positive_share, noise, floor", [(0.5, 0.05, 0.97), (0.1, 0.01, 0.93)])
def test_logistic_boundary_recovers_a_planted_direction(positive_share, noise, floor):
    """Anisotropic, correlated x (like W), a balanced or rare attribute, randomly wrong labels
    (like a classifier's mistakes): the boundary's normal is found."""
    gen = torch.Generator().manual_seed(0)
    d = 64
    rotation, _ = torch.linalg.qr(torch.randn(d, d, generator=gen))
    x = 5.0 + (torch.randn(3000, d, generator=gen) * torch.linspace(0.3, 3.0, d)) @ rotation  # std 0.3..3, rotated
    normal = unit(1, d)
    score = x @ normal
    y = score > torch.quantile(score, 1 - positive_share)
    y_seen = y ^ (torch.rand(3000, generator=gen) < noise)
    fitted = direction_fitting.fit_linear_boundary(x, y_seen)
    assert abs(float(fitted.norm()) - 1) < 1e-5
    assert float(fitted @ normal) > floor
    if positive_share < 0.5:  # trimming confidently-wrong labels is what gets a rare attribute there
        assert float(direction_fitting.fit_linear_boundary(x, y_seen, trim=0) @ normal) < floor


def test_mean_difference_finds_an_attribute_among_independent_parts():
    """Real renders draw every part independently: in W each part adds its own displacement.
    The class-mean difference recovers the attribute's displacement, even when it is not the
    direction along which the classes separate best (an anisotropic, correlated W)."""
    gen = torch.Generator().manual_seed(0)
    d, n = 64, 6000
    rotation, _ = torch.linalg.qr(torch.randn(d, d, generator=gen))
    x = (torch.randn(n, d, generator=gen) * torch.linspace(0.3, 3.0, d)) @ rotation
    parts = torch.randn(5, d, generator=gen)  # five independent binary parts, each its displacement
    present = torch.rand(n, 5, generator=gen) < 0.3
    x = x + present.float() @ parts
    fitted = direction_fitting.fit_mean_difference(x, present[:, 0])
    assert abs(float(fitted.norm()) - 1) < 1e-5
    assert float(fitted @ parts[0] / parts[0].norm()) > 0.95
    assert all(abs(float(fitted @ p / p.norm())) < 0.4 for p in parts[1:])


def test_unchanged_counts_other_attributes_not_every_part():
    """A hair-colour edit that also makes the mouth read SERIOUS instead of DEFAULT changes a part
    but no attribute; one that also adds sunglasses changes an attribute."""
    vocab = dataset.attribute_values()
    reader = LabelReader(vocab)
    idx = reader.index
    base = dataset.sample_labels(0, 0).clip(min=0)
    base[idx["top"]] = vocab["top"].index("LONG_NOT_TOO_LONG")
    base[idx["mouth"]] = vocab["mouth"].index("DEFAULT")
    base[idx["accessory"]] = vocab["accessory"].index("NONE")
    mouth = base.copy()
    mouth[idx["mouth"]] = vocab["mouth"].index("SERIOUS")
    glasses = base.copy()
    glasses[idx["accessory"]] = vocab["accessory"].index("SUNGLASSES")
    red = next(a for a in ATTRIBUTES if a.name == "hair_red")
    others = [a for a in ATTRIBUTES if a.head != "hair_color"]
    for after, attributes_changed in ((mouth, 0), (glasses, 1)):
        b, a = base[None], after[None]
        same, compared = reader.attributes_unchanged_counts(red, ATTRIBUTES, b, reader.visible(b), a, reader.visible(a))
        assert compared == len(others) and compared - same == attributes_changed
        same_parts, compared_parts = reader.unchanged_counts(red, b, reader.visible(b), a, reader.visible(a))
        assert compared_parts - same_parts == 1  # the stricter count sees the part either way


def test_label_reader_compares_only_visible_parts():
    vocab = dataset.attribute_values()
    reader = LabelReader(vocab, ignore=["eyes"])
    idx = reader.index
    base = dataset.sample_labels(0, 0).clip(min=0)
    base[idx["top"]] = vocab["top"].index("LONG_NOT_TOO_LONG")
    base[idx["hair_color"]] = vocab["hair_color"].index("BLONDE")
    hatted = base.copy()
    hatted[idx["top"]] = vocab["top"].index("HAT_WINTER_HAT_1")
    hatted[idx["hair_color"]] = vocab["hair_color"].index("RED")  # hidden under the hat: not comparable
    hatted[idx["eyes"]] = (base[idx["eyes"]] + 1) % len(vocab["eyes"])  # ignored head
    before, after = base[None], hatted[None]
    vb, va = reader.visible(before), reader.visible(after)
    blonde = next(a for a in ATTRIBUTES if a.name == "hair_blonde")
    hat = next(a for a in ATTRIBUTES if a.name == "hat")
    assert reader.present(blonde, before, vb).tolist() == [True] and reader.present(blonde, after, va).tolist() == [False]
    assert reader.eligible(hat, before, vb).tolist() == [True] and reader.present(hat, after, va).tolist() == [True]
    same, compared = reader.unchanged_counts(hat, before, vb, after, va)
    assert same == compared > 0  # top/hair/hat are the hat edit's own; eyes are ignored
    same, compared = reader.unchanged_counts(blonde, before, vb, after, va)
    assert compared - same == 1  # for a hair-colour edit, the new hat is a side effect


def test_every_attribute_names_real_values():
    vocab = dataset.attribute_values()
    for a in ATTRIBUTES:
        assert a.head in vocab and set(a.values) <= set(vocab[a.head]) and a.head in a.touches, a.name
    assert len({a.name for a in ATTRIBUTES}) == len(ATTRIBUTES)


def test_derive_on_an_untrained_model_drops_everything_and_says_why(tiny_path, monkeypatch, capsys):
    """An untrained generator's faces all look alike to the classifier: nothing may ship, and the
    manifest must say why for each attribute (the pipeline runs end to end on real tensors)."""
    from avatarforge.models.training.classifier import load_classifier

    torch.set_num_threads(2)
    monkeypatch.setattr(direction_fitting, "STRENGTH_GRID", (1.0, 4.0))  # a shorter search: same code path
    monkeypatch.setattr(direction_fitting, "CANDIDATE_LAYERS", ("all", "fine"))
    b = load_bundle(tiny_path)
    attrs = [a for a in ATTRIBUTES if a.name in ("skin_dark", "hair_pink", "hat")]
    shipped, dropped, derivation = direction_fitting.derive(
        b, load_classifier(CLASSIFIER), CLASSIFIER, attributes=attrs, fit_seeds=range(200),
        calibration_seeds=range(10**6, 10**6 + 30), evaluation_seeds=range(2 * 10**6, 2 * 10**6 + 40))
    assert shipped == [] and sorted(d["name"] for d in dropped) == ["hair_pink", "hat", "skin_dark"]
    assert all(d["reason"] for d in dropped), dropped
    assert derivation["generator_sha256"] == b.generator_sha256 and derivation["fit_seeds"] == [0, 200]
    # No encoder and no dataset: fitted on generated faces, and the user is told why and what to do.
    assert derivation["fit_on"] == "generated"
    said = capsys.readouterr().err
    assert "fitted on generated faces" in said and "write_dataset" in said
    save_directions(tiny_path, shipped, dropped, derivation)
    again = load_bundle(tiny_path)  # checksums still verify
    assert again.manifest["directions"] == [] and len(again.manifest["dropped_directions"]) == 3
    assert list(load_directions(again, sefa_k=2)) == ["sefa/0", "sefa/1"]


def test_boundaries_fitted_on_encoded_real_faces_separate_unseen_ones(tmp_path):
    """fit_on="real": the default model's encoder puts real renders into W, where their exact
    labels are linearly separable; a boundary fitted on some faces sorts faces it never saw."""
    torch.set_num_threads(2)
    data = dataset.write_dataset(tmp_path / "d", n_train=600, n_heldout=8, size=64, workers=2)
    b = load_bundle("avatars64")
    from avatarforge.models.training.classifier import load_classifier
    from avatarforge.models.encoder import load_bundle_encoder

    reader = LabelReader(load_classifier(CLASSIFIER).vocab)
    faces = direction_fitting.encode_real_faces(load_bundle_encoder(b), b.generator.num_ws, reader, data, 600)
    _, truth = dataset.load_split(data, "train")
    assert faces.ws.shape == (600, b.generator.num_ws, b.config.w_dim) and (faces.labels == truth).all()
    skin = next(a for a in ATTRIBUTES if a.name == "skin_dark")
    y = torch.from_numpy(reader.present(skin, faces.labels, faces.visible))
    w = faces.ws[:, 0]
    normal = direction_fitting.fit_linear_boundary(w[:400], y[:400])
    score = (w[400:] - w[:400].mean(0)) @ normal
    threshold = torch.quantile(score, 1 - y[400:].float().mean())  # as many positives as there are
    assert ((score > threshold) == y[400:]).float().mean() > 0.9


# --- bundle format and command ---------------------------------------------------------------


def _stored(b, names=("smile", "hat")) -> list[Direction]:
    return [Direction(name=n, vector=unit(i, b.config.w_dim), layers=range(i, i + 3), kind="supervised",
                      description=f"test {n}", strength_range=(-2.0, 2.0), default_strength=1.25,
                      success=0.95, unchanged=0.9, parts_unchanged=0.7, conditioned_on=("hat",) if n == "smile" else ())
            for i, n in enumerate(names)]


def test_directions_round_trip_through_the_bundle(tiny_path):
    b = load_bundle(tiny_path)
    save_directions(tiny_path, _stored(b), [{"name": "beard", "reason": "success 50% < 90%", "success": 0.5, "unchanged": 0.9}],
                    {"generator_sha256": b.generator_sha256})
    again = load_bundle(tiny_path)
    assert DIRECTIONS_FILE in again.manifest["files"]
    found = load_directions(again, sefa_k=2)
    assert list(found) == ["smile", "hat", "sefa/0", "sefa/1"]
    smile = found["smile"]
    assert torch.equal(smile.vector, unit(0, b.config.w_dim)) and smile.layers == range(0, 3)
    assert (smile.default_strength, smile.strength_range, smile.conditioned_on) == (1.25, (-2.0, 2.0), ("hat",))
    entry = again.manifest["directions"][1]
    assert entry == {"name": "hat", "description": "test hat", "kind": "supervised", "layers": [1, 4],
                     "strength_range": [-2.0, 2.0], "default_strength": 1.25, "success": 0.95, "unchanged": 0.9,
                     "parts_unchanged": 0.7, "conditioned_on": []}
    assert again.manifest["dropped_directions"][0]["name"] == "beard"
    assert found["hat"].parts_unchanged == 0.7


def test_several_edits_at_once_with_attributes_kept(tiny):
    found = {d.name: d for d in _stored(tiny, ("facial_hair", "skin_dark"))}
    found["facial_hair"] = Direction(**{**found["facial_hair"].__dict__, "layers": range(0, 8)})
    ws = torch.zeros(3, tiny.generator.num_ws, tiny.config.w_dim)
    both = apply_edits(ws, found, {"facial_hair": 1.0, "skin_dark": -0.5})
    expected = found["skin_dark"].apply(found["facial_hair"].apply(ws, 1.0), -0.5)
    assert torch.allclose(both, expected)
    # Keeping skin: the beard edit no longer moves along the skin direction at all.
    kept = apply_edits(ws, found, [("facial_hair", 1.5)], keep=["skin_dark"])
    assert float((kept[0, 0] @ found["skin_dark"].vector).abs()) < 1e-5
    assert float((apply_edits(ws, found, [("facial_hair", 1.5)])[0, 0] @ found["skin_dark"].vector).abs()) > 1e-3
    with pytest.raises(ValueError, match=r"strength 2.5 for 'skin_dark' is outside its range \[-2, 2\]"):
        apply_edits(ws, found, {"skin_dark": 2.5})
    with pytest.raises(ValueError, match="unknown direction 'smile'"):
        apply_edits(ws, found, {"facial_hair": 1.0}, keep=["smile"])


def test_directions_of_another_generator_or_bad_vectors_are_refused(tiny_path):
    b = load_bundle(tiny_path)
    save_directions(tiny_path, _stored(b), [], {"generator_sha256": "0" * 64})
    with pytest.raises(BundleError, match="derived for generator 000000000000"):
        load_directions(load_bundle(tiny_path))
    bad = _stored(b)
    bad[0] = Direction(**{**bad[0].__dict__, "vector": 2 * bad[0].vector})
    save_directions(tiny_path, bad, [], {"generator_sha256": b.generator_sha256})
    with pytest.raises(BundleError, match="'smile' is missing or not a unit"):
        load_directions(load_bundle(tiny_path))


def test_directions_command_lists_stored_and_sefa_directions(tiny_path, capsys):
    b = load_bundle(tiny_path)
    save_directions(tiny_path, _stored(b), [{"name": "beard", "reason": "success 50% < 90%", "success": 0.5, "unchanged": 0.9}],
                    {"generator_sha256": b.generator_sha256})
    assert directions_command.main(["--model", str(tiny_path), "--sefa", "2", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "smile" in out and "95%" in out and "sefa/1" in out and "beard" in out and "success 50% < 90%" in out
    assert directions_command.main(["--model", str(tiny_path), "--sefa", "1", "--json", "--threads", "1"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [d["name"] for d in listed["directions"]] == ["smile", "hat", "sefa/0"]
    assert directions_command.main(["--model", str(tiny_path.parent / "nope"), "--threads", "1"]) == 2
    assert "does not exist" in capsys.readouterr().err


# --- quality of the shipped directions (trained model only) ----------------------------------

DEFAULT_BUNDLE = ZOO_DIR / "avatars64"
SUCCESS_FLOOR, UNCHANGED_FLOOR = 0.80, 0.75  # below the shipping targets (90/85 %): a smaller, different sample


def _shipped_directions_or_skip():
    if not (DEFAULT_BUNDLE / MANIFEST).is_file():
        pytest.skip(f"{DEFAULT_BUNDLE} is not built yet")
    manifest = json.loads((DEFAULT_BUNDLE / MANIFEST).read_text())
    if not manifest.get("directions"):
        pytest.skip(f"{DEFAULT_BUNDLE} has no directions yet (run `avatarforge directions --model avatars64 --derive`)")
    if "classifier.safetensors" not in manifest["files"]:
        pytest.skip(f"{DEFAULT_BUNDLE} has no classifier to measure with")


def test_shipped_directions_still_work_on_fresh_faces():
    """Each shipped direction, at its default strength, on 64 faces none of the derivation saw."""
    _shipped_directions_or_skip()
    from avatarforge.models.training.classifier import load_classifier

    torch.set_num_threads(2)
    b = load_bundle(DEFAULT_BUNDLE)
    path = b.file_path("classifier.safetensors")
    classifier = load_classifier(path)
    ignored = b.manifest.get("directions_derivation", {}).get("heads_ignored_in_unchanged") or {}
    reader = LabelReader(classifier.vocab, ignore=list(ignored))
    faces = direction_fitting.sample_faces(b.generator, classifier, reader, range(5_000_000, 5_000_240), "fresh faces")
    by_name = {a.name: a for a in ATTRIBUTES}
    failures = []
    for d in load_directions(b, sefa_k=0).values():
        m = direction_fitting.measure(b.generator, classifier, reader, by_name[d.name], faces, d.vector, d.layers,
                                      d.default_strength, limit=64)
        if m.n >= 32 and (m.success < SUCCESS_FLOOR or m.unchanged < UNCHANGED_FLOOR):
            failures.append(f"{d.name}: success {m.success:.0%}, unchanged {m.unchanged:.0%} on {m.n} faces")
    assert not failures, failures


def test_derive_reads_the_dataset_of_the_models_resolution(tmp_path, monkeypatch):
    """`directions --derive` on avatars128 fits on data/avatars128 unless told otherwise, and a
    dataset of another size is refused with the flag that fixes it, not fed to the encoder."""
    import numpy as np

    from avatarforge.models.encoder import load_bundle_encoder

    seen = {}
    monkeypatch.setattr(directions_command, "derive", lambda *a, **k: (seen.update(k), ([], [], {}))[1])
    monkeypatch.setattr(directions_command, "save_directions", lambda *a: None)
    monkeypatch.setattr(directions_command, "load_classifier", lambda path: None)
    directions_command.derive_into_bundle("avatars128")
    assert seen["data"] == "data/avatars128"

    np.savez(tmp_path / "train.npz", images=np.zeros((2, 64, 64, 3), np.uint8), labels=np.zeros((2, 14), np.int16))
    encoder = load_bundle_encoder(load_bundle("avatars128"))
    reader = LabelReader({h: list(v) for h, v in dataset.attribute_values().items()})
    with pytest.raises(ValueError, match="64 px renders and the model is 128 px: pass --data data/avatars128"):
        direction_fitting.encode_real_faces(encoder, 12, reader, tmp_path, 2)
