"""Training the default model: a resumed run continues exactly where an interrupted one stopped."""
import pytest
from safetensors.torch import load_file

pytest.importorskip("python_avatars")
from avatarforge.models.training import dataset, train_autoencoder  # noqa: E402


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return dataset.write_dataset(tmp_path_factory.mktemp("data") / "d", n_train=24, n_heldout=8, size=64, workers=2)


CLASSIFIER = "models/zoo/avatars64/classifier.safetensors"
# The sharpening phase: perceptual loss, discriminator from the first step, the generator feeling
# it from step 3, learning rate decaying from step 1.
SHARPEN = ["--feature-loss", CLASSIFIER, "--adv-weight", "0.1", "--adv-start", "3", "--decay-start", "1"]


def _train(data, run, steps, resume=None, extra=()):
    argv = ["--data", str(data), "--run", str(run), "--steps", str(steps), "--steps-low", "2", "--batch", "2",
            "--checkpoint-every", "2", "--sample-every", "3", "--threads", "1", *extra]
    train_autoencoder.main(argv + (["--resume", str(resume)] if resume else []))


def _same_weights(a_path, b_path):
    a, b = load_file(str(a_path)), load_file(str(b_path))
    assert a.keys() == b.keys()
    for k in a:
        assert (a[k] - b[k]).abs().max() < 1e-5, k


def test_resume_after_interruption_matches_an_uninterrupted_run(data, tmp_path):
    _train(data, tmp_path / "straight", 4)
    _train(data, tmp_path / "interrupted", 2)
    assert train_autoencoder.checkpoint_step(tmp_path / "interrupted") == 2  # what `avatarforge train` resumes from
    assert train_autoencoder.checkpoint_step(tmp_path / "never-ran") == 0
    _train(data, tmp_path / "interrupted", 4, resume=tmp_path / "interrupted" / "state.pt")
    _same_weights(tmp_path / "straight" / "weights.safetensors", tmp_path / "interrupted" / "weights.safetensors")
    assert (tmp_path / "straight" / "samples_latest.png").is_file()


def test_resume_from_committed_weights_only(data, tmp_path):
    _train(data, tmp_path / "r", 2)
    _train(data, tmp_path / "r2", 3, resume=tmp_path / "r" / "weights.safetensors")
    from safetensors import safe_open

    with safe_open(str(tmp_path / "r2" / "weights.safetensors"), "pt") as f:
        assert f.metadata()["step"] == "3"


def test_sharpening_phase_resumes_exactly_and_is_recorded(data, tmp_path):
    _train(data, tmp_path / "straight", 5, extra=SHARPEN)
    _train(data, tmp_path / "interrupted", 2, extra=SHARPEN)
    _train(data, tmp_path / "interrupted", 5, resume=tmp_path / "interrupted" / "state.pt", extra=SHARPEN)
    _same_weights(tmp_path / "straight" / "weights.safetensors", tmp_path / "interrupted" / "weights.safetensors")
    from safetensors import safe_open
    import json

    with safe_open(str(tmp_path / "interrupted" / "weights.safetensors"), "pt") as f:
        phases = json.loads(f.metadata()["phases"])
    assert len(phases) == 1, "a resume with the same flags continues the same phase"
    assert phases[0]["from_step"] == 0
    assert phases[0]["losses"]["classifier_perceptual"] == 0.1
    assert phases[0]["losses"]["adversarial_balanced"] == 0.1
    assert any(k.startswith("disc.") for k in load_file(str(tmp_path / "straight" / "weights.safetensors")))

    # Resuming from the small committed checkpoint (no discriminator) mid-phase: the new
    # discriminator trains alone before the generator feels it.
    args = train_autoencoder.build_parser().parse_args(
        ["--data", str(data), "--run", str(tmp_path / "r"), "--steps", "9", "--batch", "2", *SHARPEN])
    t = train_autoencoder.AutoencoderTrainer(args)
    t.load(tmp_path / "interrupted" / "compact.safetensors")
    assert t.step == 5 and t.disc_born == 5 and t.adversarial_weight() == 0.0
    t.step = 5 + train_autoencoder.DISC_ALONE_STEPS
    assert t.adversarial_weight() > 0


def test_learning_rate_schedule():
    args = train_autoencoder.build_parser().parse_args(["--steps", "100", "--decay-start", "50", "--lr", "1e-3",
                                                        "--resume-warmup", "10"])
    t = train_autoencoder.AutoencoderTrainer.__new__(train_autoencoder.AutoencoderTrainer)
    t.args, t.warmup_until = args, 0
    for step, lr in ((0, 1e-3), (50, 1e-3), (75, 5e-4), (100, 0.0)):
        t.step = step
        assert abs(t.learning_rate() - lr) < 1e-12, step
    t.warmup_until, t.step = 20, 10  # just resumed without optimizer state at step 10
    assert t.learning_rate() < 1e-4
    t.step = 20
    assert t.learning_rate() == 1e-3


def test_mapping_stage_fits_the_codes_from_the_parts(data, tmp_path):
    """Stage 2 runs end to end on a stage-1 checkpoint: the regression's error falls, and the
    mapping it writes loads into the served generator, draws the data's parts and has a w_avg."""
    import json

    import numpy as np
    import torch

    from avatarforge.models.training import build_bundle, train_mapping
    from avatarforge.models.networks import Generator

    _train(data, tmp_path / "ae", 2)
    train_mapping.main(["--data", str(data), "--stage1", str(tmp_path / "ae" / "weights.safetensors"),
                        "--run", str(tmp_path / "m"), "--steps", "300", "--batch", "8", "--check-every", "50",
                        "--threads", "1"])
    checks = [json.loads(line) for line in (tmp_path / "m" / "log.jsonl").read_text().splitlines()]
    assert [c["step"] for c in checks] == list(range(50, 301, 50))
    assert checks[-1]["loss"] < 0.5 * checks[0]["loss"], checks
    meta = build_bundle._metadata(tmp_path / "m" / "mapping.safetensors")
    assert meta["kind"] == "parts" and float(meta["heldout_relative_error"]) >= 0
    vocab = json.loads((data / "attributes.json").read_text())["heads"]
    g = Generator(train_mapping.parts_config(vocab))
    g.mapping.load_state_dict(load_file(str(tmp_path / "m" / "mapping.safetensors")))
    assert json.loads(meta["parts"]) == g.cfg.mapping_parts
    assert torch.isfinite(g.mapping.w_avg).all() and g.mapping.w_avg.abs().sum() > 0
    # Every value the 24 training faces show is drawn; none they never show is.
    _, labels = dataset.load_split(data, "train")
    drawn = g.mapping.parts_one_hot(torch.randn(4000, g.cfg.z_dim)).sum(0) > 0
    shown = torch.cat([torch.from_numpy(np.bincount(labels[:, i][labels[:, i] >= 0], minlength=len(v)) > 0)
                       if (labels[:, i] >= 0).any() else torch.ones(len(v), dtype=torch.bool)
                       for i, v in enumerate(vocab.values())])
    assert torch.equal(drawn, shown)


def test_hardest_pixels_loss_weighs_a_missing_thin_line():
    """A 1-pixel white line missing from a 64x64 face moves plain L1 by ~1/64 of its error, but
    fills the hardest 2 % of pixels: that loss sees the whole error."""
    import torch

    real = torch.zeros(2, 3, 64, 64)
    real[:, :, 40:56, 20] = 1.0  # a hoodie string: 16 pixels
    drawn_without = torch.zeros_like(real)
    plain = (drawn_without - real).abs().mean().item()
    hard = train_autoencoder.hardest_pixels_l1(drawn_without, real, share=0.02).item()
    assert plain < 0.005
    assert hard > 0.19  # 16 of the 82 hardest pixels are the line
    assert train_autoencoder.hardest_pixels_l1(real, real, share=0.02).item() == 0.0
    # Its gradient lands on the line only.
    fake = drawn_without.clone().requires_grad_(True)
    train_autoencoder.hardest_pixels_l1(fake, real, share=0.02).backward()
    assert fake.grad[:, :, 40:56, 20].abs().min() > 0
    assert fake.grad.abs().sum() == fake.grad[:, :, 40:56, 20].abs().sum()


def test_hardest_pixels_phase_is_recorded(data, tmp_path):
    _train(data, tmp_path / "h", 3, extra=["--hard-pixel-weight", "0.25"])
    from safetensors import safe_open
    import json

    with safe_open(str(tmp_path / "h" / "weights.safetensors"), "pt") as f:
        losses = json.loads(f.metadata()["phases"])[0]["losses"]
    assert losses["hardest_pixels_l1"] == 0.25 and losses["hardest_pixels_share"] == 0.02


def test_time_budget_stops_and_checkpoints(data, tmp_path):
    """--budget-seconds (equal budgets for compared runs): the run stops at the first step that
    uses it up, with its checkpoint written, well before --steps."""
    _train(data, tmp_path / "r", 50, extra=["--budget-seconds", "1e-6"])
    assert train_autoencoder.checkpoint_step(tmp_path / "r") == 1
    assert (tmp_path / "r" / "compact.safetensors").is_file()
