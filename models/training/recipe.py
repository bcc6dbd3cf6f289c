"""`avatarforge train`: the whole default-model recipe, from nothing to a bundle, resumable.

    1. dataset      render labelled avatars               data/avatars64/{train,heldout}.npz
    2. classifier   attribute classifier on real renders  runs/classifier.safetensors
    3. autoencoder  encoder + synthesis (stage 1)         runs/avatars64-ae/
                    a) reconstruction: L1 + gradient L1 + part labels on w, constant lr
                    b) sharpening: + perceptual loss in the classifier + balanced adversarial
                       loss, lr decaying to 0
                    c) polish: the same losses again at half the lr, decaying to 0 (twice)
                    d) detail: + L1 on each image's hardest 2 % of pixels (thin strings, pupils)
    4. mapping      parts -> w regression (stage 2)       runs/avatars64-mapping/
    5. bundle       assemble + evaluate                   models/zoo/avatars64/

A stage whose output exists is skipped; the autoencoder resumes from its last checkpoint, so
after an interruption the same command continues where it stopped. Each stage is also a module
you can run alone (`python -m avatarforge.models.training.train_autoencoder --help`, ...).
"""
from __future__ import annotations

from pathlib import Path

import torch

DESCRIPTION = __doc__


def add_arguments(p) -> None:
    p.add_argument("--data", default="data/avatars64")
    p.add_argument("--runs", default="runs", help="folder for checkpoints, samples and logs")
    p.add_argument("--out", default=None, help="bundle folder (default: models/zoo/avatars64)")
    p.add_argument("--train-images", type=int, default=30000)
    p.add_argument("--heldout-images", type=int, default=4000)
    p.add_argument("--classifier-epochs", type=float, default=14,
                   help="the shipped classifier had 4 epochs, then 6 and 4 more, each run continuing the last (--init)")
    p.add_argument("--ae-steps", type=int, default=9261,
                   help="stage-1 reconstruction steps (the long part: ~2-2.5 steps/s here)")
    p.add_argument("--sharpen-steps", type=int, default=5709,
                   help="stage-1 sharpening steps after them (~1.2 steps/s here)")
    p.add_argument("--polish-steps", default="3030,5000",
                   help="comma-separated polish phases after sharpening: each restarts the same losses at lr 1e-3 "
                        "decaying to 0 (the shipped model's sharpening was cut by a session's end at lr 2.5e-4; "
                        "the first polish continued it, the second gave the sharper faces of v1.23000)")
    p.add_argument("--detail-steps", type=int, default=4000,
                   help="stage-1 steps after polish that add --hard-pixel-weight 0.25 (lr 1e-3 decaying to 0): "
                        "the decoder learns the thin details that plain L1 lets it leave out (v1.27000: hoodies 0.45 -> 0.69 "
                        "of their real share)")
    p.add_argument("--mapping-steps", type=int, default=10000)
    p.add_argument("--threads", default="auto", help="torch threads, or 'auto' (see train_autoencoder --help)")


def run(args) -> int:
    from . import build_bundle, classifier, dataset, train_autoencoder, train_mapping

    if args.threads != "auto":
        torch.set_num_threads(int(args.threads))
    data, runs = Path(args.data), Path(args.runs)
    if not (data / "heldout.npz").is_file():
        dataset.write_dataset(data, args.train_images, args.heldout_images, size=64)
    clf = runs / "classifier.safetensors"
    if not clf.is_file():
        classifier.train_classifier(data, clf, args.classifier_epochs)
    ae_run = runs / "avatars64-ae"
    base = ["--data", str(data), "--run", str(ae_run), "--threads", str(args.threads), "--steps-low", "2000"]
    total = args.ae_steps + args.sharpen_steps
    losses = ["--feature-loss", str(clf), "--feature-weight", "0.1", "--adv-weight", "0.1",
              "--adv-start", str(args.ae_steps + 600)]  # sharpening and polish train the same losses
    sharpen = ["--steps", str(total), "--decay-start", str(args.ae_steps), *losses]
    phases = [(["--steps", str(args.ae_steps)], args.ae_steps), (sharpen, total)]
    for length in (int(n) for n in args.polish_steps.split(",") if n.strip()):
        start, total = total, total + length
        phases.append((["--steps", str(total), "--lr", "1e-3", "--decay-start", str(start + 30), *losses], total))
    if args.detail_steps:
        start, total = total, total + args.detail_steps
        phases.append((["--steps", str(total), "--lr", "1e-3", "--decay-start", str(start), *losses,
                        "--hard-pixel-weight", "0.25"], total))
    for phase, until in phases:
        resume = ["--resume", str(ae_run / "state.pt")] if (ae_run / "state.pt").is_file() else []
        if train_autoencoder.checkpoint_step(ae_run) < until:
            train_autoencoder.main(base + phase + resume)
    mapping_file = runs / "avatars64-mapping" / "mapping.safetensors"
    if not mapping_file.is_file():
        train_mapping.main(["--data", str(data), "--stage1", str(ae_run / "weights.safetensors"),
                            "--run", str(mapping_file.parent), "--steps", str(args.mapping_steps)])
    out = Path(args.out) if args.out else build_bundle.ZOO_DIR / "avatars64"
    build_bundle.main(["--stage1", str(ae_run / "weights.safetensors"), "--mapping", str(mapping_file),
                        "--classifier", str(clf), "--data", str(data), "--out", str(out)])
    return 0
