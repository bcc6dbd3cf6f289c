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


# Every render draws the face in the same place: eyes, brows, mouth and nose vary only inside
# x 42-84, y 36-82 of a 128 px render. This 64 x 64 box (top, left, size) holds them and the beard.
FACE_BOX_128 = (34, 32, 64)
FACE_HEADS = ("eyes", "eyebrows", "mouth", "nose", "facial_hair")


def face_box(resolution: int) -> tuple[int, int, int]:
    """FACE_BOX_128 scaled to a render of `resolution` px: (17, 16, 32) at 64."""
    return tuple(v * resolution // 128 for v in FACE_BOX_128)


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Light augmentation so the classifier judges generated faces by content, not by
    render-exact pixels: small shifts and blur (generated faces are slightly soft)."""
    if torch.rand(1, generator=gen).item() < 0.25:
        x = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    shift = torch.randint(-2, 3, (2,), generator=gen).tolist()
    return torch.roll(x, shifts=shift, dims=(2, 3))


def add_face_trunk(whole: AttributeClassifier, face: AttributeClassifier, box: tuple[int, int, int],
                   heads: tuple[str, ...] = FACE_HEADS) -> AttributeClassifier:
    """One classifier from two: whole's trunk and its other heads, and `face` (a classifier
    trained on the box, read at its own resolution) as the face trunk with its `heads`."""
    if face.vocab != whole.vocab or face.face_box:
        raise ValueError("the face trunk must be a plain classifier with the same vocabulary as the whole-image one")
    model = AttributeClassifier(whole.vocab, whole.resolution, whole.width, box, heads, face.width, face.resolution)
    own = tuple(f"heads.{h}." for h in heads)
    state = {k: v for k, v in whole.state_dict().items() if not k.startswith(own)}
    state.update({k if k.startswith("heads.") else f"face.{k}": v for k, v in face.state_dict().items()
                  if not k.startswith("heads.") or k.startswith(own)})
    model.load_state_dict(state)
    return model


def starting_face_trunk(clf: AttributeClassifier) -> AttributeClassifier:
    """What a face trunk is fine-tuned from: a plain classifier as it is, or, when `clf` has a
    face trunk already (the shipped avatars64 classifier), that trunk with clf's heads."""
    if not clf.face_box:
        return clf
    plain = AttributeClassifier(clf.vocab, clf.face_resolution, clf.face_width)
    state = clf.state_dict()
    plain.load_state_dict({k.removeprefix("face."): v for k, v in state.items() if k.startswith(("face.", "heads."))})
    return plain


def train_face_trunk(data: str | Path, out: str | Path, whole: str, face_from: str, epochs: float = 6,
                     batch: int = 64, lr: float = 1e-3, seed: int = 0) -> dict:
    """Give the whole-image classifier `whole` (at the data's resolution) a face trunk: the
    classifier `face_from` (e.g. the shipped 64 px one) fine-tuned on the face box of the
    renders (face_box), read at its own resolution, on the face heads' losses only; the whole
    trunk is not touched."""
    torch.manual_seed(seed)
    images, labels = dataset.load_split(data, "train")
    held_images, held_labels = dataset.load_split(data, "heldout")
    base = load_classifier(whole)
    if base.resolution != images.shape[1]:
        raise ValueError(f"{whole} reads {base.resolution} px, the data in {data} are {images.shape[1]} px")
    face = starting_face_trunk(load_classifier(face_from)).train().requires_grad_(True)
    box = face_box(images.shape[1])
    top, left, size = box
    if face.resolution < size:
        raise ValueError(f"{face_from} reads {face.resolution} px, less than the {size} px face box: it would discard detail")

    def draw_batch(gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.randint(len(images), (batch,), generator=gen).numpy()
        x = augment(torch.from_numpy(images[idx]).permute(0, 3, 1, 2).float() / 127.5 - 1, gen)[..., top : top + size, left : left + size]
        if size != face.resolution:  # resized once here rather than in every forward pass
            x = F.interpolate(x, size=face.resolution, mode="bilinear", align_corners=False, antialias=True)
        return x, torch.from_numpy(labels[idx]).long()

    steps = int(epochs * (len(images) // batch))
    t0 = time.time()
    heads = list(base.vocab)
    fit_heads(face, draw_batch, {h: heads.index(h) for h in FACE_HEADS}, steps, lr, torch.Generator().manual_seed(seed), "face trunk")
    seconds = round(time.time() - t0)
    model = add_face_trunk(base, face.eval(), box).eval().requires_grad_(False)
    with safe_open(str(whole), "pt") as f:
        earlier = json.loads(f.metadata()["metrics"])
    metrics = {"heldout_accuracy": accuracy_per_head(model, held_images, held_labels),
               "train_seconds": seconds + earlier["train_seconds"], "steps": earlier["steps"],
               "batch": batch, "face_trunk": {"from": str(face_from), "steps": steps, "seconds": seconds}}
    model.save(out, metrics)
    return metrics


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
        return augment(x, gen), torch.from_numpy(labels[idx.numpy()]).long()

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
    p.add_argument("--face-from", default=None, metavar="CLASSIFIER",
                   help="with --init (a classifier at the data's resolution): add a face trunk, this classifier fine-tuned on "
                        f"the face box of the renders ({FACE_BOX_128} top, left, size at 128 px, half that at 64 px), read at "
                        f"its own resolution, for the heads {', '.join(FACE_HEADS)}; the --init classifier is not changed")
    p.add_argument("--lr", type=float, default=2e-3, help="peak of the one-cycle schedule")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    if a.report:
        print(json.dumps(report(a.report, a.data), indent=1))
        return
    if a.face_from:
        if not a.init:
            raise SystemExit("--face-from needs --init: the whole-image classifier the face trunk is added to")
        metrics = train_face_trunk(a.data, a.out, a.init, a.face_from, a.epochs, lr=a.lr)
    else:
        metrics = train_classifier(a.data, a.out, a.epochs, lr=a.lr, width=a.width, init=a.init, grow_from=a.grow_from)
    print(json.dumps(metrics["heldout_accuracy"], indent=1))


if __name__ == "__main__":
    main()
