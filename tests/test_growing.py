"""Progressive growing (avatars64 -> avatars128): a grown network starts as the network it grew
from, the new block fades in with alpha, and a grown run resumes exactly where it stopped."""
import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file

from avatarforge.models.encoder import Encoder
from avatarforge.models.networks import GeneratorConfig, seeded_generator, upsample2x
from avatarforge.models.training.growing import Growth, grow_encoder, grow_synthesis

LOW = GeneratorConfig(z_dim=32, w_dim=32, resolution=32, channels={4: 16, 8: 16, 16: 8, 32: 8})
HIGH = GeneratorConfig(z_dim=32, w_dim=32, resolution=64, channels=LOW.channels | {64: 4})
LOW_ENCODER = {32: 4, 16: 8, 8: 8, 4: 8}
COMMITTED_64 = Path("models/checkpoints/avatars64-stage1.safetensors")


def _grown_synthesis():
    low = seeded_generator(LOW, seed=0).synthesis
    torch.manual_seed(1)
    return low, grow_synthesis(low, HIGH).eval().requires_grad_(False)


def test_grown_synthesis_draws_the_upsampled_low_image_at_alpha_0():
    low, high = _grown_synthesis()
    ws = torch.randn(3, HIGH.num_ws, HIGH.w_dim, generator=torch.Generator().manual_seed(2))
    expected = upsample2x(low(ws[:, : LOW.num_ws]))  # the low network's ws are a prefix of the grown one's
    grown = high(ws, top_alpha=0.0)
    assert grown.shape == (3, 3, 64, 64)
    assert (grown - expected).abs().max() < 1e-6


def test_new_synthesis_block_fades_in_linearly_with_alpha():
    low, high = _grown_synthesis()
    ws = torch.randn(3, HIGH.num_ws, HIGH.w_dim, generator=torch.Generator().manual_seed(2))
    base = upsample2x(low(ws[:, : LOW.num_ws]))
    full = high(ws, top_alpha=1.0) - base  # the new block's own ToRGB output
    assert full.abs().mean() > 0.05, "the new block must contribute something to fade in"
    for alpha in (0.25, 0.5, 0.75):
        assert (high(ws, top_alpha=alpha) - base - alpha * full).abs().max() < 1e-5, alpha
    assert torch.equal(high(ws), high(ws, top_alpha=1.0)), "serving (no alpha) is the fully grown network"


def test_grown_encoder_reads_the_pooled_image_at_alpha_0_and_its_new_block_at_1():
    torch.manual_seed(3)
    low = Encoder(32, 32, LOW_ENCODER).eval()
    high, fade = grow_encoder(low, LOW_ENCODER | {64: 4})
    img = torch.rand(4, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        at_0 = fade(high, img, 0.0)
        assert (at_0 - low(F.avg_pool2d(img, 2))).abs().max() < 1e-6
        assert torch.equal(fade(high, img, 1.0), high(img))
        halfway = fade(high, img, 0.5)
        assert (halfway - at_0).abs().mean() > 1e-3 and (halfway - high(img)).abs().mean() > 1e-3
    with pytest.raises(ValueError):  # growing must keep the trained blocks' channels
        grow_encoder(low, {64: 4, 32: 8, 16: 8, 8: 8, 4: 8})


def test_growth_schedule():
    g = Growth(from_resolution=64, from_step=100, fade_steps=40)
    assert [g.alpha(s) for s in (0, 100, 110, 140, 1000)] == [0.0, 0.0, 0.25, 1.0, 1.0]
    assert Growth.from_json(g.to_json()) == g and Growth.from_json(None) is None


# -- the trainer, grown from the committed avatars64 checkpoint on a tiny 128 px dataset ----------

pytest.importorskip("python_avatars")
from avatarforge.models.training import dataset, train_autoencoder  # noqa: E402

START = int(safe_open(str(COMMITTED_64), "pt").metadata()["step"])


@pytest.fixture(scope="module")
def data128(tmp_path_factory):
    return dataset.write_dataset(tmp_path_factory.mktemp("data") / "d128", n_train=24, n_heldout=16, size=128, workers=2)


def _grow(data, run, steps, resume=None):
    """`steps` steps after the growth; the top block fades in over the first 3."""
    argv = ["--data", str(data), "--run", str(run), "--steps", str(START + steps), "--batch", "2",
            "--checkpoint-every", "2", "--sample-every", "3", "--threads", "1",
            "--grow-from", str(COMMITTED_64), "--fade-steps", "3"]
    train_autoencoder.main(argv + (["--resume", str(resume)] if resume else []))


def test_grown_trainer_starts_as_avatars64_on_pooled_images(data128, tmp_path):
    """At the growth step the grown autoencoder reconstructs a 128 px face exactly as the
    committed avatars64 reconstructs it pooled to 64, upsampled."""
    from avatarforge.models.architectures import AVATARS64, ENCODER_CHANNELS
    from avatarforge.models.latents import broadcast
    from avatarforge.models.networks import SynthesisNetwork

    args = train_autoencoder.build_parser().parse_args(["--data", str(data128), "--run", str(tmp_path / "r"),
                                                        "--grow-from", str(COMMITTED_64)])
    t = train_autoencoder.AutoencoderTrainer(args)
    t.grow_from(COMMITTED_64)
    assert t.step == START and t.top_alpha() == 0.0 and t.generator.cfg.resolution == 128
    flat = load_file(str(COMMITTED_64))
    syn64 = SynthesisNetwork(AVATARS64)
    syn64.load_state_dict(train_autoencoder.checkpoint_part(flat, "ema_synthesis"))
    enc64 = Encoder(64, AVATARS64.w_dim, ENCODER_CHANNELS)
    enc64.load_state_dict(train_autoencoder.checkpoint_part(flat, "ema_encoder"))
    real = t.preview[:4].permute(0, 3, 1, 2).float() / 127.5 - 1
    with torch.no_grad():
        w = t.encode(real, ema=True)
        assert (w - enc64(F.avg_pool2d(real, 2))).abs().max() < 1e-4
        grown = t.ema(broadcast(w, t.generator.num_ws), top_alpha=t.top_alpha())
        expected = upsample2x(syn64(broadcast(w, AVATARS64.num_ws)))
    assert (grown - expected).abs().max() < 1e-5


def test_grown_run_resumes_bit_exactly_and_stays_small(data128, tmp_path):
    _grow(data128, tmp_path / "straight", 5)
    _grow(data128, tmp_path / "interrupted", 2)  # stops mid-fade (alpha 2/3)
    _grow(data128, tmp_path / "interrupted", 5, resume=tmp_path / "interrupted" / "state.pt")
    a = load_file(str(tmp_path / "straight" / "weights.safetensors"))
    b = load_file(str(tmp_path / "interrupted" / "weights.safetensors"))
    assert a.keys() == b.keys() and any(k.startswith("ema_synthesis.b128.") for k in a)
    for k in a:
        assert torch.equal(a[k], b[k]), k

    with safe_open(str(tmp_path / "interrupted" / "compact.safetensors"), "pt") as f:
        meta = f.metadata()
    assert Growth.from_json(meta["growth"]) == Growth(64, START, 3) and meta["fade_alpha"] == "1.0"
    assert meta["step"] == str(START + 5)
    phases = json.loads(meta["phases"])
    assert phases[-1]["from_step"] == START and phases[-1]["resolution"] == 128 and len(phases) > 1

    # The compact checkpoint (what gets committed) resumes the grown run, fade state included.
    args = train_autoencoder.build_parser().parse_args(["--data", str(data128), "--run", str(tmp_path / "r")])
    t = train_autoencoder.AutoencoderTrainer(args)
    t.load(tmp_path / "interrupted" / "compact.safetensors")
    assert t.growth == Growth(64, START, 3) and t.top_alpha() == 1.0 and t.step == START + 5

    # Small: the 128 px blocks add little to avatars64's committed checkpoint.
    sizes = {p: (tmp_path / "straight" / p).stat().st_size for p in ("compact.safetensors", "weights.safetensors", "state.pt")}
    print(f"avatars64 compact {COMMITTED_64.stat().st_size / 1e6:.1f} MB; grown: "
          + ", ".join(f"{p} {s / 1e6:.1f} MB" for p, s in sizes.items()))
    assert sizes["compact.safetensors"] < 1.05 * COMMITTED_64.stat().st_size


def test_classifier_trains_at_the_datas_resolution(data128, tmp_path):
    """The 128 px classifier path (the real one is trained later): a few steps on 128 px renders
    give a classifier that reads 128 px, and it cannot continue from a 64 px one."""
    from avatarforge.models.training import classifier

    classifier.train_classifier(data128, tmp_path / "c128.safetensors", epochs=1, batch=8, width=8)
    clf = classifier.load_classifier(tmp_path / "c128.safetensors")
    assert clf.resolution == 128 and clf.fromrgb.weight.shape[0] == 8
    _, labels = dataset.load_split(data128, "heldout")
    images, _ = dataset.load_split(data128, "heldout")
    pred, feats = clf.predict(images)
    assert pred.shape == labels.shape and feats.shape == (len(images), classifier.FEATURE_DIM)
    with pytest.raises(ValueError):
        classifier.train_classifier(data128, tmp_path / "c.safetensors", epochs=1, batch=8,
                                    init="models/zoo/avatars64/classifier.safetensors")


def test_grown_classifier_keeps_every_trained_block_and_fine_tunes_at_128(data128, tmp_path):
    """Growing the shipped 64 px classifier adds one block in front; every trained weight moves
    one block down unchanged, and fine-tuning it on 128 px renders gives a 128 px classifier that
    reports its whole training time (the 64 px part included)."""
    from avatarforge.models.training import classifier
    from avatarforge.models.training.growing import grow_classifier

    shipped = Path("models/zoo/avatars64/classifier.safetensors")
    low = classifier.load_classifier(shipped)
    grown = grow_classifier(low)
    assert (grown.resolution, grown.width) == (128, low.width // 2)
    for i, block in enumerate(low.blocks):
        for (k, v), (k2, v2) in zip(block.state_dict().items(), grown.blocks[i + 1].state_dict().items()):
            assert k == k2 and torch.equal(v, v2)
    assert torch.equal(grown.heads["mouth"].weight, low.heads["mouth"].weight)

    metrics = classifier.train_classifier(data128, tmp_path / "g.safetensors", epochs=1, batch=8, grow_from=str(shipped))
    clf = classifier.load_classifier(tmp_path / "g.safetensors")
    assert clf.resolution == 128
    with safe_open(str(shipped), "pt") as f:
        assert metrics["train_seconds"] >= json.loads(f.metadata()["metrics"])["train_seconds"]
    r = classifier.report(tmp_path / "g.safetensors", data128)  # what the README's classifier table shows
    assert r["resolution"] == 128 and set(r["heldout_accuracy"]) == set(clf.vocab)
    assert all(0 <= v <= 1 for v in r["attribute_balanced_accuracy"].values())
    with pytest.raises(ValueError, match="px"):  # grown to 128, it cannot grow again from 128 px data
        classifier.train_classifier(data128, tmp_path / "x.safetensors", epochs=1, batch=8, grow_from=str(tmp_path / "g.safetensors"))


def test_grown_checkpoint_becomes_a_128_px_bundle(data128, face_classifier128, tmp_path):
    """Stage 2 and the bundle builder pick the architecture from the data's size: a grown
    checkpoint (faded in) becomes a bundle that loads and draws 128 px faces, records how it
    grew, and a checkpoint still fading in is refused by stage 2. Its classifier can then be
    replaced by one with a face trunk, and the metrics are measured again in its features."""
    from avatarforge.models.bundle import load_bundle
    from avatarforge.models.training import build_bundle, train_mapping

    _grow(data128, tmp_path / "ae", 2)  # alpha 2/3: mid-fade
    mapping_args = ["--data", str(data128), "--run", str(tmp_path / "m"), "--steps", "20", "--batch", "8",
                    "--check-every", "10", "--threads", "1"]
    with pytest.raises(ValueError, match="mid-fade"):
        train_mapping.main(mapping_args + ["--stage1", str(tmp_path / "ae" / "weights.safetensors")])
    _grow(data128, tmp_path / "ae", 4, resume=tmp_path / "ae" / "state.pt")
    train_mapping.main(mapping_args + ["--stage1", str(tmp_path / "ae" / "compact.safetensors")])
    build_bundle.main(["--stage1", str(tmp_path / "ae" / "compact.safetensors"),
                       "--mapping", str(tmp_path / "m" / "mapping.safetensors"),
                       "--classifier", "models/zoo/avatars64/classifier.safetensors",  # reads 128 px pooled: enough here
                       "--data", str(data128), "--out", str(tmp_path / "b"), "--n", "8"])
    bundle = load_bundle(str(tmp_path / "b"))
    assert bundle.name == "avatars128" and bundle.config.resolution == 128
    training = bundle.manifest["training"]
    assert training["growth"]["from_resolution"] == 64 and "grown from 64 px to 128 px" in training["recipe"]
    # What growing cost is recorded apart from the 64 px training the checkpoint carries on.
    since = training["since_growth"]
    assert since["stage1_steps"] == 4 and 0 < since["stage1_seconds"] < training["stage1_seconds"]
    assert training["machine"].endswith("no GPU")
    assert bundle.manifest["encoder"]["resolution"] == 128
    assert 0.3 < bundle.manifest["encoder"]["framing"]["shoulder_width"] < 1  # what Encode aligns uploads to
    from avatarforge.models.training.evaluate import generate_images

    faces = generate_images(bundle.generator, [0, 1])
    assert faces.shape == (2, 128, 128, 3) and faces.std() > 5

    from avatarforge.models.attribute_classifier import load_bundle_classifier

    fd_before = bundle.manifest["metrics"]["fd"]
    build_bundle.main(["--replace-classifier", "--classifier", str(face_classifier128[1]), "--data", str(data128),
                       "--out", str(tmp_path / "b"), "--n", "8"])
    bundle = load_bundle(str(tmp_path / "b"))  # checksums verified: the manifest lists the new file
    assert bundle.manifest["classifier"]["face_trunk"] == {"box_top_left_size": [34, 32, 64], "read_at": 64,
                                                          "heads": ["eyes", "eyebrows", "mouth", "nose", "facial_hair"]}
    assert load_bundle_classifier(bundle).face_box == (34, 32, 64)
    assert bundle.manifest["metrics"]["fd"] != fd_before and bundle.manifest["metrics"]["n_generated"] == 8

    # The growing-vs-scratch comparison reads the same checkpoint, counting only its own training.
    from avatarforge.models.training import growing_comparison

    report = growing_comparison.compare({"grown": str(tmp_path / "ae" / "compact.safetensors")},
                                        "models/zoo/avatars64/classifier.safetensors", str(data128), 8, str(COMMITTED_64))
    run = report["runs"]["grown"]
    assert run["grown"] and run["steps"] == 4 and 0 < run["seconds"] < 3600
    assert 5 < run["psnr_p10"] <= run["psnr_mean"] < 60 and run["fd_ratio"] > 0
    raw = growing_comparison.compare({"grown": str(tmp_path / "ae" / "weights.safetensors")},
                                     "models/zoo/avatars64/classifier.safetensors", str(data128), 8, str(COMMITTED_64), "raw")
    assert raw["weights"] == "raw" and raw["runs"]["grown"]["psnr_mean"] != run["psnr_mean"]  # not the EMA


@pytest.fixture(scope="module")
def face_classifier128(data128, tmp_path_factory):
    """A small 128 px classifier and the same with a face trunk (a few steps each): (whole, face, metrics)."""
    from avatarforge.models.training import classifier

    folder = tmp_path_factory.mktemp("face")
    classifier.train_classifier(data128, folder / "whole.safetensors", epochs=1, batch=8, width=8)
    metrics = classifier.train_face_trunk(data128, folder / "f.safetensors", str(folder / "whole.safetensors"),
                                          "models/zoo/avatars64/classifier.safetensors", epochs=1, batch=8)
    return folder / "whole.safetensors", folder / "f.safetensors", metrics


def test_face_trunk_reads_only_the_face_box_and_keeps_the_whole_classifier(data128, face_classifier128, tmp_path):
    """`classifier --face-from`: the 128 px classifier gains a second trunk that reads the face
    box alone. The face heads read it and nothing outside the box reaches them; every other
    head and the whole-image features are the old classifier's, bit for bit; the saved file
    loads back to the same network, and its report covers smile and open mouth."""
    from avatarforge.models.training import classifier

    whole_path, face_path, metrics = face_classifier128
    assert metrics["face_trunk"]["steps"] == 3 and set(metrics["heldout_accuracy"]) == set(json.loads(
        (data128 / "attributes.json").read_text())["heads"])
    whole, clf = classifier.load_classifier(whole_path), classifier.load_classifier(face_path)
    assert clf.face_box == classifier.FACE_BOX_128 and clf.face_heads == classifier.FACE_HEADS
    images, _ = dataset.load_split(data128, "heldout")
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1
    f, f_whole = clf.features(x), whole.features(x)
    assert f.shape == (len(images), 2 * classifier.FEATURE_DIM) and torch.equal(f[:, : classifier.FEATURE_DIM], f_whole)
    out, out_whole = clf(x), whole(x)
    assert torch.equal(out["hair_color"], out_whole["hair_color"]) and not torch.equal(out["mouth"], out_whole["mouth"])
    top, left, size = clf.face_box
    outside = x.clone()
    outside[..., :top, :], outside[..., top + size :, :] = 1.0, 1.0  # white out everything around the box
    outside[..., :left], outside[..., left + size :] = 1.0, 1.0
    assert torch.allclose(clf(outside)["mouth"], out["mouth"], atol=1e-5)
    assert not torch.allclose(clf(outside)["hair_color"], out["hair_color"])
    assert len(clf.feature_maps(x)) == len(whole.feature_maps(x)) + len(clf.face.blocks)  # the perceptual loss sees the face
    r = classifier.report(face_path, data128)
    assert {"smile", "open_mouth"} <= set(r["attribute_balanced_accuracy"])
    with pytest.raises(ValueError, match="px"):  # the whole-image classifier must read the data's resolution
        classifier.train_face_trunk(data128, tmp_path / "x.safetensors", "models/zoo/avatars64/classifier.safetensors",
                                    "models/zoo/avatars64/classifier.safetensors", epochs=1, batch=8)


def test_face_box_of_a_64_px_render_is_read_enlarged_and_alone():
    """At 64 px the face box is (17, 16, 32), read by a 64 px face trunk at twice its size:
    the face heads see that box and nothing else, and the file keeps the trunk's resolution."""
    from avatarforge.models.training import classifier

    assert classifier.face_box(64) == (17, 16, 32) and classifier.face_box(128) == classifier.FACE_BOX_128
    torch.manual_seed(0)
    vocab = {"mouth": ["A", "B", "C"], "hair_color": ["X", "Y"]}
    clf = classifier.AttributeClassifier(vocab, 64, 8, classifier.face_box(64), ("mouth",), 8, 64).eval()
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    box = x[..., 17:49, 16:48]
    framed = -torch.ones_like(x)
    framed[..., 17:49, 16:48] = box
    with torch.no_grad():
        assert torch.allclose(clf(framed)["mouth"], clf(x)["mouth"], atol=1e-5)
        assert not torch.allclose(clf(framed)["hair_color"], clf(x)["hair_color"])
        enlarged = torch.nn.functional.interpolate(box, size=64, mode="bilinear", align_corners=False, antialias=True)
        assert torch.allclose(clf.face.features(enlarged), clf.features(x)[:, classifier.FEATURE_DIM:], atol=1e-5)
