"""Training the default model: a resumed run continues exactly where an interrupted one stopped."""
import pytest
from safetensors.torch import load_file

pytest.importorskip("python_avatars")
from avatarforge.models import dataset, train_autoencoder  # noqa: E402


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return dataset.write_dataset(tmp_path_factory.mktemp("data") / "d", n_train=24, n_heldout=8, size=64, workers=2)


def _train(data, run, steps, resume=None):
    argv = ["--data", str(data), "--run", str(run), "--steps", str(steps), "--steps-low", "2", "--batch", "2",
            "--checkpoint-every", "2", "--sample-every", "3", "--threads", "1"]
    train_autoencoder.main(argv + (["--resume", str(resume)] if resume else []))


def test_resume_after_interruption_matches_an_uninterrupted_run(data, tmp_path):
    _train(data, tmp_path / "straight", 4)
    _train(data, tmp_path / "interrupted", 2)
    _train(data, tmp_path / "interrupted", 4, resume=tmp_path / "interrupted" / "state.pt")
    a = load_file(str(tmp_path / "straight" / "weights.safetensors"))
    b = load_file(str(tmp_path / "interrupted" / "weights.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert (a[k] - b[k]).abs().max() < 1e-5, k
    assert (tmp_path / "straight" / "samples_latest.png").is_file()


def test_resume_from_committed_weights_only(data, tmp_path):
    _train(data, tmp_path / "r", 2)
    _train(data, tmp_path / "r2", 3, resume=tmp_path / "r" / "weights.safetensors")
    from safetensors import safe_open

    with safe_open(str(tmp_path / "r2" / "weights.safetensors"), "pt") as f:
        assert f.metadata()["step"] == "3"
