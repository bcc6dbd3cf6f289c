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
    """A down-sampling trunk (fromrgb, blocks to 4 x 4, a linear layer to FEATURE_DIM features)
    and one linear head per part.

    With a face box it has a second trunk, `face`, that reads only that box of the image
    (top, left, size at `resolution`): eyes, brows, mouth and nose are a few hundred pixels of
    a whole render and a whole-image trunk underfits them, while the same trunk shown the face
    alone reads them well (README, "The 128 px classifier"). The face trunk reads the box at
    `face_resolution` (resized if the box is another size: a 64 px render's 32 px face box is read
    at 64, twice enlarged). The `face_heads` read the face trunk's features, every other head the
    whole image's; `features` is both, concatenated.
    """

    def __init__(self, vocab: dict[str, list[str]], resolution: int = 64, width: int = 16,
                 face_box: tuple[int, int, int] | None = None, face_heads: tuple[str, ...] = (), face_width: int = 16,
                 face_resolution: int = 64):
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
        self.face_box, self.face_heads = (tuple(face_box) if face_box else None), tuple(face_heads)
        self.face_width, self.face_resolution = face_width, face_resolution
        if self.face_box:
            top, left, size = self.face_box
            if top < 0 or left < 0 or top + size > resolution or left + size > resolution:
                raise ValueError(f"face box {self.face_box} (top, left, size) does not fit in {resolution} px")
            if set(self.face_heads) - set(vocab):
                raise ValueError(f"face heads {sorted(set(self.face_heads) - set(vocab))} are not in the vocabulary")
            self.face = AttributeClassifier({}, resolution=face_resolution, width=face_width)
        self.feature_dim = FEATURE_DIM * (2 if self.face_box else 1)
        self.heads = nn.ModuleDict({h: nn.Linear(FEATURE_DIM, len(v)) for h, v in vocab.items()})

    def features(self, img: torch.Tensor) -> torch.Tensor:
        """img float [N, 3, R, R] in [-1, 1] (resized to R if needed) -> features [N, feature_dim]."""
        return self.feature_maps(img)[-1]

    def feature_maps(self, img: torch.Tensor) -> list[torch.Tensor]:
        """Every block's activations [N, C, r, r] (the face trunk's after the whole image's), then
        the features [N, feature_dim] (for perceptual losses)."""
        if img.shape[-1] != self.resolution:
            img = F.interpolate(img, size=self.resolution, mode="bilinear", align_corners=False, antialias=True)
        x = F.leaky_relu(self.fromrgb(img), LRELU_SLOPE) * LRELU_GAIN
        maps = []
        for block in self.blocks:
            x = block(x)
            maps.append(x)
        features = F.leaky_relu(self.fc(x.flatten(1)), LRELU_SLOPE)
        if not self.face_box:
            return maps + [features]
        top, left, size = self.face_box
        face = self.face.feature_maps(img[..., top : top + size, left : left + size])
        return maps + face[:-1] + [torch.cat([features, face[-1]], 1)]

    def logits(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        """features [N, feature_dim] -> {head: logits [N, values]}"""
        whole, face = features[:, :FEATURE_DIM], features[:, FEATURE_DIM:]
        return {h: head(face if h in self.face_heads else whole) for h, head in self.heads.items()}

    def forward(self, img: torch.Tensor) -> dict[str, torch.Tensor]:
        """-> {head: logits [N, values]}"""
        return self.logits(self.features(img))

    @torch.no_grad()
    def predict(self, images_u8: np.ndarray, batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """uint8 [N, H, W, 3] -> (labels int16 [N, heads], features float32 [N, feature_dim])."""
        labels, feats = [], []
        for i in range(0, len(images_u8), batch):
            x = torch.from_numpy(images_u8[i : i + batch]).permute(0, 3, 1, 2).float() / 127.5 - 1
            f = self.features(x)
            feats.append(f.numpy())
            labels.append(np.stack([out.argmax(1).numpy() for out in self.logits(f).values()], 1))
        return np.concatenate(labels).astype(np.int16), np.concatenate(feats).astype(np.float32)

    def face_config(self) -> dict:
        """The face trunk's constructor arguments ({} without one)."""
        if not self.face_box:
            return {}
        return {"face_box": list(self.face_box), "face_heads": list(self.face_heads), "face_width": self.face_width,
                "face_resolution": self.face_resolution}

    def save(self, path: str | Path, metrics: dict | None = None) -> None:
        config = {"resolution": self.resolution, "width": self.width, **self.face_config()}
        meta = {"config": json.dumps(config), "vocab": json.dumps(self.vocab), "metrics": json.dumps(metrics or {})}
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
