"""Can a classifier read eyes and mouths when it is shown only the face? A probe, for the README's
128 px classifier section and the next step of issues 14 (item 6) and 16 (smile).

    python -m avatarforge.models.training.face_crop_probe --data data/avatars128 --steps 1500 --threads 1

Every render draws the face in the same place: eyes, brows, mouth and nose vary only inside
x 42-84, y 36-82 of a 128 px render. The shipped 64 px classifier is fine-tuned, on the face
heads' losses only, on the 64 x 64 box FACE_BOX of the 128 px renders (the face at twice the size
it has in a 64 px render, nothing else in view). Then it reports each face head's held-out
accuracy, and the balanced accuracy of the mouth attributes edit directions need (smile, open
mouth; the bar is direction_fitting.ATTRIBUTE_ACCURACY). It writes the fine-tuned classifier,
which reads crops only: it is a measurement, not yet a shipped network.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from . import dataset
from .attributes import ATTRIBUTES
from .classifier import fit_heads, load_classifier
from .quality_metrics import balanced_accuracy

FACE_BOX = (34, 32, 64)  # top, left, size at 128 px: the eyes, brows, mouth, nose and beard
FACE_HEADS = ("eyes", "eyebrows", "mouth", "nose", "facial_hair")


def face_crops(images: np.ndarray) -> torch.Tensor:
    """uint8 [N, 128, 128, 3] -> float [N, 3, 64, 64] in [-1, 1]: the face box."""
    top, left, size = FACE_BOX
    return torch.from_numpy(images[:, top : top + size, left : left + size]).permute(0, 3, 1, 2).float() / 127.5 - 1


def probe(data: str, start: str, steps: int, lr: float, batch: int, seed: int = 0) -> tuple[torch.nn.Module, dict]:
    torch.manual_seed(seed)
    images, labels = dataset.load_split(data, "train")
    held_images, held_labels = dataset.load_split(data, "heldout")
    if images.shape[1] != 128:
        raise SystemExit(f"{data} holds {images.shape[1]} px renders; the face box is defined at 128 px")
    model = load_classifier(start).train().requires_grad_(True)
    heads = list(model.vocab)

    def draw_batch(gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.randint(len(images), (batch,), generator=gen).numpy()
        x = torch.roll(face_crops(images[idx]), torch.randint(-2, 3, (2,), generator=gen).tolist(), (2, 3))
        return x, torch.from_numpy(labels[idx]).long()

    t0 = time.time()
    fit_heads(model, draw_batch, {h: heads.index(h) for h in FACE_HEADS}, steps, lr, torch.Generator().manual_seed(seed),
              "face-crop probe")
    model.eval()
    with torch.no_grad():
        out = {h: torch.cat([model(face_crops(held_images[i : i + 500]))[h] for i in range(0, len(held_images), 500)])
               for h in FACE_HEADS}
    accuracy = {}
    for h in FACE_HEADS:
        truth = held_labels[:, heads.index(h)]
        shown = truth != dataset.NOT_APPLICABLE
        accuracy[h] = round(float((out[h].argmax(1).numpy()[shown] == truth[shown]).mean()), 4)
    mouth_truth, mouth_pred = held_labels[:, heads.index("mouth")], out["mouth"].argmax(1).numpy()
    attributes = {}
    for a in ATTRIBUTES:
        if a.head == "mouth":
            codes = [model.vocab["mouth"].index(v) for v in a.values]
            attributes[a.name] = round(balanced_accuracy(np.isin(mouth_pred, codes), np.isin(mouth_truth, codes)), 4)
    return model, {"steps": steps, "seconds": round(time.time() - t0), "face_box": FACE_BOX, "heldout": len(held_images),
                   "heldout_accuracy": accuracy, "mouth_attribute_balanced_accuracy": attributes}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", default="data/avatars128")
    p.add_argument("--start", default="models/zoo/avatars64/classifier.safetensors", help="classifier to fine-tune (64 px)")
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=Path("runs/face_crop_probe"))
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    model, report = probe(a.data, a.start, a.steps, a.lr, a.batch)
    a.out.mkdir(parents=True, exist_ok=True)
    model.save(a.out / "classifier_face_crop.safetensors", report)
    (a.out / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
