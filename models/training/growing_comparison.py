"""Growing from 64 px vs training 128 px from scratch: stage-1 checkpoints compared on what they
can draw, in numbers that repeat.

    python -m avatarforge.models.training.growing_comparison \
        grown=runs/cmp-grown/compact.safetensors scratch=runs/cmp-scratch/compact.safetensors \
        --classifier runs/classifier128.safetensors --data data/avatars128

For each checkpoint, its EMA encoder and synthesis reconstruct held-out real faces (encoder -> w
-> synthesis, as `avatarforge eval` measures a bundle's ceiling), then:
- reconstruction PSNR against the input, mean and 10th percentile;
- Fréchet distance of the reconstructions to the other half of the held-out faces, in the
  128 px classifier's features, over the floor (real half vs real half): the FD ratio;
- the training each run had of its own (steps, seconds), read from the checkpoint: a grown run's
  count starts where it grew.
Only stage 1 is compared: a generated face's quality is this ceiling plus the mapping's share,
which stage 2 fits the same way for both.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open

from . import quality_metrics
from ..architectures import STAGE1_BY_RESOLUTION
from .classifier import load_classifier
from ..encoding_scores import psnr
from .evaluate import real_heldout, reconstruct_images
from .growing import training_since_growth
from ..networks import Generator
from .train_mapping import load_stage1_encoder, load_stage1_synthesis


def measure(checkpoint: str, real: np.ndarray, f_real_a: np.ndarray, fd_floor: float, classifier, grown_from: str,
            weights: str = "ema") -> dict:
    """real: 2n held-out faces; the second half is reconstructed and compared with the first.
    grown_from: the checkpoint a grown run started from, whose seconds are not this run's.
    weights: "ema" (what ships) or "raw" (the trained weights themselves, in weights.safetensors:
    after a short run the EMA still lags them, most for a block that started from scratch)."""
    resolution = real.shape[1]
    with safe_open(checkpoint, "pt") as f:
        meta = f.metadata() or {}
    prefix = "ema_" if weights == "ema" else ""
    encoder = load_stage1_encoder(checkpoint, resolution, f"{prefix}encoder")  # checks the fade-in is over
    generator = Generator(STAGE1_BY_RESOLUTION[resolution][0])
    generator.synthesis = load_stage1_synthesis(checkpoint, resolution, f"{prefix}synthesis")
    n = len(f_real_a)
    inputs = real[n:]
    recon = reconstruct_images(encoder, generator.eval(), inputs)
    db = psnr(recon, inputs)
    _, f_rec = classifier.predict(recon)
    fd = quality_metrics.frechet_distance(f_rec, f_real_a)
    growth = json.loads(meta["growth"]) if meta.get("growth") else None
    step, seconds = int(meta.get("step", 0)), float(meta.get("seconds", 0))
    if growth:  # count only this run's own training, not the lower-resolution one it grew from
        step, seconds = training_since_growth(meta, grown_from)
    return {"checkpoint": checkpoint, "steps": step, "seconds": round(seconds), "grown": growth is not None,
            "psnr_mean": round(float(db.mean()), 2), "psnr_p10": round(float(np.percentile(db, 10)), 2),
            "fd": round(fd, 3), "fd_ratio": round(fd / fd_floor, 3)}


def compare(runs: dict[str, str], classifier_path: str, data: str, n: int, grown_from: str, weights: str = "ema") -> dict:
    classifier = load_classifier(classifier_path)
    size = json.loads((Path(data) / "attributes.json").read_text())["size"]
    real = real_heldout(data, 2 * n, size)
    _, f_real = classifier.predict(real)
    fd_floor = quality_metrics.frechet_distance(f_real[n:], f_real[:n])
    return {"n": n, "fd_floor": round(fd_floor, 3), "classifier": classifier_path, "weights": weights,
            "runs": {name: measure(path, real, f_real[:n], fd_floor, classifier, grown_from, weights) for name, path in runs.items()}}


def table(report: dict) -> str:
    rows = ["| run | its own steps | its own seconds | reconstruction PSNR mean / 10th pct | FD ratio of reconstructions |",
            "| --- | ---: | ---: | ---: | ---: |"]
    for name, r in report["runs"].items():
        rows.append(f"| {name} | {r['steps']:,} | {r['seconds']:,} | {r['psnr_mean']} / {r['psnr_p10']} dB | {r['fd_ratio']} |")
    return "\n".join(rows)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("runs", nargs="+", metavar="NAME=CHECKPOINT", help="stage-1 checkpoints (compact or weights safetensors)")
    p.add_argument("--classifier", required=True, help="the classifier whose features the FD is measured in")
    p.add_argument("--data", default="data/avatars128", help="dataset folder with heldout.npz")
    p.add_argument("--n", type=int, default=1000, help="held-out faces reconstructed (and as many as the reference half)")
    p.add_argument("--grown-from", default="models/checkpoints/avatars64-stage1.safetensors",
                   help="the checkpoint grown runs started from: its steps and seconds are not theirs")
    p.add_argument("--weights", choices=["ema", "raw"], default="ema",
                   help="ema: the shipped (averaged) weights; raw: the trained ones (weights.safetensors only)")
    p.add_argument("--json", default=None, metavar="OUT", help="also write the report here")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    runs = {}
    for item in a.runs:
        name, sep, path = item.partition("=")
        if not sep:
            p.error(f"{item!r}: give NAME=CHECKPOINT")
        runs[name] = path
    report = compare(runs, a.classifier, a.data, a.n, a.grown_from, a.weights)
    print(table(report))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    sys.exit(main())
