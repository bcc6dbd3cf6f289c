"""Training and held-out accuracy of the attribute classifier. The network itself, and its
loader, are models/attribute_classifier.py: the server reads the shipped classifier too, and
must not import training code."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import safe_open

from . import dataset
from ..attribute_classifier import FEATURE_DIM, AttributeClassifier, load_classifier  # noqa: F401 (re-exported)


def masked_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over samples where the part applies; 0 (not NaN) when none does."""
    loss = F.cross_entropy(logits, target.long(), ignore_index=dataset.NOT_APPLICABLE, reduction="sum")
    return loss / (target != dataset.NOT_APPLICABLE).sum().clamp(min=1)


def accuracy_per_head(model: AttributeClassifier, images: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Share of correct predictions per head, over images where the part applies."""
    pred, _ = model.predict(images)
    out = {}
    for i, head in enumerate(model.vocab):
        mask = labels[:, i] != dataset.NOT_APPLICABLE
        out[head] = float((pred[mask, i] == labels[mask, i]).mean()) if mask.any() else float("nan")
    return out


def fit_heads(model: AttributeClassifier, draw_batch, heads: dict[str, int], steps: int, lr: float,
              gen: torch.Generator, desc: str) -> None:
    """Adam with a one-cycle schedule on the summed masked cross-entropy of `heads` (head -> its
    label column). draw_batch(gen) -> (images float [B, 3, R, R], labels int64 [B, heads])."""
    from tqdm import tqdm

    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    bar = tqdm(range(steps), desc=desc, unit="step")
    for step in bar:
        x, y = draw_batch(gen)
        logits = model(x)
        loss = sum(masked_cross_entropy(logits[h], y[:, i]) for h, i in heads.items())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % 50 == 0:
            bar.set_postfix(loss=f"{loss.item() / len(heads):.3f}")


def train_classifier(data: str | Path, out: str | Path, epochs: float = 4, batch: int = 64, lr: float = 2e-3, seed: int = 0, width: int = 24, init: str | None = None, grow_from: str | None = None) -> dict:
    torch.manual_seed(seed)
    images, labels = dataset.load_split(data, "train")
    held_images, held_labels = dataset.load_split(data, "heldout")
    vocab = json.loads((Path(data) / "attributes.json").read_text())["heads"]
    # The classifier reads the data's own resolution: at 128 px eyes, mouths and eyebrows (the
    # heads it confuses at 64) have four times the pixels.
    model = AttributeClassifier(vocab, resolution=images.shape[1], width=width)
    if init:  # continue from an earlier classifier (same width and resolution) instead of from scratch
        model = load_classifier(init).train().requires_grad_(True)
        if model.resolution != images.shape[1]:
            raise ValueError(f"{init} reads {model.resolution} px, the data in {data} are {images.shape[1]} px")
    if grow_from:  # a trained classifier at half the data's resolution, one block added in front
        from .growing import grow_classifier

        model = grow_classifier(load_classifier(grow_from)).train().requires_grad_(True)
        if model.resolution != images.shape[1]:
            raise ValueError(f"{grow_from} grown reads {model.resolution} px, the data in {data} are {images.shape[1]} px")
    steps = int(epochs * (len(images) // batch))

    def draw_batch(gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.randint(len(images), (batch,), generator=gen)
        x = torch.from_numpy(images[idx.numpy()]).permute(0, 3, 1, 2).float() / 127.5 - 1
        y = torch.from_numpy(labels[idx.numpy()]).long()
        # Light augmentation so the classifier judges generated faces by content, not by
        # render-exact pixels: small shifts and blur (generated faces are slightly soft).
        if torch.rand(1, generator=gen).item() < 0.25:
            x = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
        shift = torch.randint(-2, 3, (2,), generator=gen).tolist()
        return torch.roll(x, shifts=shift, dims=(2, 3)), y

    t0 = time.time()
    fit_heads(model, draw_batch, {h: i for i, h in enumerate(vocab)}, steps, lr, torch.Generator().manual_seed(seed), "classifier")
    model.eval()
    acc = accuracy_per_head(model, held_images, held_labels)
    earlier = {"train_seconds": 0, "steps": 0}
    if init or grow_from:  # report the whole training, not just this continuation
        with safe_open(str(init or grow_from), "pt") as f:
            earlier = json.loads(f.metadata()["metrics"])
    metrics = {"heldout_accuracy": acc, "train_seconds": round(time.time() - t0) + earlier["train_seconds"],
               "steps": steps + earlier["steps"], "batch": batch}
    model.save(out, metrics)
    return metrics


def report(path: str | Path, data: str | Path) -> dict:
    """A trained classifier on the held-out split of `data` (at its own resolution): accuracy per
    head, and the balanced accuracy of each binary attribute an edit direction is fitted for
    (attributes.py), which must reach direction_fitting.ATTRIBUTE_ACCURACY for the edit to ship."""
    from .attributes import ATTRIBUTES, LabelReader
    from .direction_fitting import ATTRIBUTE_ACCURACY, attribute_accuracy

    model = load_classifier(path)
    images, labels = dataset.load_split(data, "heldout")
    attrs = attribute_accuracy(model, LabelReader(model.vocab), data, ATTRIBUTES)
    return {"resolution": model.resolution, "heldout_accuracy": accuracy_per_head(model, images, labels),
            "attribute_balanced_accuracy": attrs, "attributes_below_bar": sorted(a for a, v in attrs.items() if v < ATTRIBUTE_ACCURACY)}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description="Train the attribute classifier on real renders")
    p.add_argument("--report", default=None, metavar="CLASSIFIER",
                   help="train nothing: measure this classifier on --data's held-out renders (per head, and the "
                        "binary attributes edit directions need) and print the report as JSON")
    p.add_argument("--data", default="data/avatars64", help="its image size is the classifier's resolution (data/avatars128: 128 px)")
    p.add_argument("--out", default="runs/classifier.safetensors")
    p.add_argument("--width", type=int, default=24, help="channels at full resolution (doubles per halving, max 128)")
    p.add_argument("--epochs", type=float, default=4)
    p.add_argument("--init", default=None, help="start from this classifier file instead of from scratch")
    p.add_argument("--grow-from", default=None, help="grow this classifier (half the data's resolution) by one block in front and fine-tune it")
    p.add_argument("--lr", type=float, default=2e-3, help="peak of the one-cycle schedule")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    if a.report:
        print(json.dumps(report(a.report, a.data), indent=1))
        return
    metrics = train_classifier(a.data, a.out, a.epochs, lr=a.lr, width=a.width, init=a.init, grow_from=a.grow_from)
    print(json.dumps(metrics["heldout_accuracy"], indent=1))


if __name__ == "__main__":
    main()
