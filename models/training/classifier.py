"""Attribute classifier: one head per Avataaars part, trained on real renders only.

It is our stand-in for Inception (which we cannot download): its penultimate features are the
space of our Fréchet distance and diversity metrics, its heads label generated faces for
attribute coverage and for fitting edit directions.

The saved file is self-describing: `classifier.safetensors` holds the weights and, in its
metadata, the architecture and the vocabulary of every head.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from . import dataset
from ..encoder import DownBlock, EqualConv2d
from ..networks import LRELU_GAIN, LRELU_SLOPE

FEATURE_DIM = 256


class AttributeClassifier(nn.Module):
    def __init__(self, vocab: dict[str, list[str]], resolution: int = 64, width: int = 16):
        super().__init__()
        self.vocab, self.resolution, self.width = vocab, resolution, width
        ch = {resolution >> i: min(width << i, 128) for i in range(8) if resolution >> i >= 4}
        self.fromrgb = EqualConv2d(3, ch[resolution], kernel=1)
        res, blocks = resolution, []
        while res > 4:
            blocks.append(DownBlock(ch[res], ch[res // 2]))
            res //= 2
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(ch[4] * 16, FEATURE_DIM)
        self.heads = nn.ModuleDict({h: nn.Linear(FEATURE_DIM, len(v)) for h, v in vocab.items()})

    def features(self, img: torch.Tensor) -> torch.Tensor:
        """img float [N, 3, R, R] in [-1, 1] (resized to R if needed) -> features [N, 256]."""
        return self.feature_maps(img)[-1]

    def feature_maps(self, img: torch.Tensor) -> list[torch.Tensor]:
        """Every block's activations [N, C, r, r], then the features [N, 256] (for perceptual losses)."""
        if img.shape[-1] != self.resolution:
            img = F.interpolate(img, size=self.resolution, mode="bilinear", align_corners=False, antialias=True)
        x = F.leaky_relu(self.fromrgb(img), LRELU_SLOPE) * LRELU_GAIN
        maps = []
        for block in self.blocks:
            x = block(x)
            maps.append(x)
        return maps + [F.leaky_relu(self.fc(x.flatten(1)), LRELU_SLOPE)]

    def forward(self, img: torch.Tensor) -> dict[str, torch.Tensor]:
        """-> {head: logits [N, values]}"""
        f = self.features(img)
        return {h: head(f) for h, head in self.heads.items()}

    @torch.no_grad()
    def predict(self, images_u8: np.ndarray, batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """uint8 [N, H, W, 3] -> (labels int16 [N, heads], features float32 [N, 256])."""
        labels, feats = [], []
        for i in range(0, len(images_u8), batch):
            x = torch.from_numpy(images_u8[i : i + batch]).permute(0, 3, 1, 2).float() / 127.5 - 1
            f = self.features(x)
            feats.append(f.numpy())
            labels.append(np.stack([head(f).argmax(1).numpy() for head in self.heads.values()], 1))
        return np.concatenate(labels).astype(np.int16), np.concatenate(feats).astype(np.float32)

    def save(self, path: str | Path, metrics: dict | None = None) -> None:
        meta = {"config": json.dumps({"resolution": self.resolution, "width": self.width}),
                "vocab": json.dumps(self.vocab), "metrics": json.dumps(metrics or {})}
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, str(path), metadata=meta)


def load_classifier(path: str | Path) -> AttributeClassifier:
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    cfg = json.loads(meta["config"])
    model = AttributeClassifier(json.loads(meta["vocab"]), **cfg)
    model.load_state_dict(load_file(str(path)))
    return model.eval().requires_grad_(False)


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


def train_classifier(data: str | Path, out: str | Path, epochs: float = 4, batch: int = 64, lr: float = 2e-3, seed: int = 0, width: int = 24, init: str | None = None) -> dict:
    from tqdm import tqdm

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
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = int(epochs * (len(images) // batch))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    gen = torch.Generator().manual_seed(seed)
    t0 = time.time()
    bar = tqdm(range(steps), desc="classifier", unit="step")
    for step in bar:
        idx = torch.randint(len(images), (batch,), generator=gen)
        x = torch.from_numpy(images[idx.numpy()]).permute(0, 3, 1, 2).float() / 127.5 - 1
        y = torch.from_numpy(labels[idx.numpy()]).long()
        # Light augmentation so the classifier judges generated faces by content, not by
        # render-exact pixels: small shifts and blur (generated faces are slightly soft).
        if torch.rand(1, generator=gen).item() < 0.25:
            x = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
        shift = torch.randint(-2, 3, (2,), generator=gen).tolist()
        x = torch.roll(x, shifts=shift, dims=(2, 3))
        logits = model(x)
        loss = sum(masked_cross_entropy(logits[h], y[:, i]) for i, h in enumerate(vocab))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % 50 == 0:
            bar.set_postfix(loss=f"{loss.item() / len(vocab):.3f}")
    model.eval()
    acc = accuracy_per_head(model, held_images, held_labels)
    earlier = {"train_seconds": 0, "steps": 0}
    if init:  # report the whole training, not just this continuation
        with safe_open(str(init), "pt") as f:
            earlier = json.loads(f.metadata()["metrics"])
    metrics = {"heldout_accuracy": acc, "train_seconds": round(time.time() - t0) + earlier["train_seconds"],
               "steps": steps + earlier["steps"], "batch": batch}
    model.save(out, metrics)
    return metrics


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description="Train the attribute classifier on real renders")
    p.add_argument("--data", default="data/avatars64", help="its image size is the classifier's resolution (data/avatars128: 128 px)")
    p.add_argument("--out", default="runs/classifier.safetensors")
    p.add_argument("--width", type=int, default=24, help="channels at full resolution (doubles per halving, max 128)")
    p.add_argument("--epochs", type=float, default=4)
    p.add_argument("--init", default=None, help="start from this classifier file instead of from scratch")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    metrics = train_classifier(a.data, a.out, a.epochs, width=a.width, init=a.init)
    print(json.dumps(metrics["heldout_accuracy"], indent=1))


if __name__ == "__main__":
    main()
