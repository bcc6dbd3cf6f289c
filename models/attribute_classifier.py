"""Attribute classifier network: one head per Avataaars part, trained on real renders only
(models/training/classifier.py trains it).

It is our stand-in for Inception (which we cannot download): its penultimate features are the
space of our Fréchet distance and diversity metrics, its heads label generated faces for
attribute coverage, for fitting edit directions, and for Encode's attribute agreement.

The saved file is self-describing: `classifier.safetensors` holds the weights and, in its
metadata, the architecture and the vocabulary of every head.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from .encoder import DownBlock, EqualConv2d
from .networks import LRELU_GAIN, LRELU_SLOPE

CLASSIFIER_FILE = "classifier.safetensors"
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


def load_bundle_classifier(bundle) -> AttributeClassifier | None:
    """The classifier shipped in a bundle (its sha256 already verified), or None if it has none."""
    if CLASSIFIER_FILE not in bundle.manifest["files"]:
        return None
    return load_classifier(bundle.file_path(CLASSIFIER_FILE))
