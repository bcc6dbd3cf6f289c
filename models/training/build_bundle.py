"""Assemble a shipped bundle (`models/zoo/avatars64`, `models/zoo/avatars128`) from the training
runs, then evaluate it. The data's image size picks the architecture (architectures.py):

    stage 1  runs/avatars64-ae/weights.safetensors       EMA synthesis + EMA encoder (train_autoencoder)
    stage 2  runs/avatars64-mapping/mapping.safetensors  parts mapping + w_avg      (train_mapping)
    labels   runs/classifier.safetensors                 attribute classifier       (classifier)

The manifest records the data, the recipe, how long each stage trained on this machine, and
the evaluation report, so `avatarforge eval --model avatars64` can be checked against it.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from .. import bundle as bundles
from ..bundle import ZOO_DIR, add_file, register_file, save_bundle
from .classifier import load_classifier
from .evaluate import CLASSIFIER_FILE, evaluate
from .growing import training_since_growth
from ..networks import Generator
from ..encoder import ENCODER_FILE
from ..architectures import STAGE1_BY_RESOLUTION
from .train_autoencoder import checkpoint_part


def _metadata(path: Path) -> dict:
    with safe_open(str(path), "pt") as f:
        return f.metadata() or {}


RECIPE = (
    "reconstruction-first (ALAE-style): stage 1 trains encoder + StyleGAN2 synthesis as an autoencoder (L1 + "
    "image-gradient L1 + linear part classifiers on w), 32 px then 64 px, then sharpens it (perceptual loss in the "
    "attribute classifier + a gradient-balanced adversarial loss, decaying lr), then adds an L1 on each image's "
    "hardest 2 % of pixels for thin details (see stage1_phases); stage 2 fits the mapping network, which draws a "
    "face's parts from z, to the encoder's codes of the training faces by regression from their part labels")
GROWN = ("; grown from {low} px to {high} px (ProGAN-style fade-in of a new top block, see stage1_phases and growth): "
         "stage1_steps and stage1_seconds include the {low} px training it grew from")


def machine(phases: list[dict]) -> str:
    """Where stage 1 trained: this CPU, and any phase a GPU ran (train_autoencoder --device
    records it), by its steps."""
    where = "2-core x86_64 CPU, PyTorch 2.13 CPU build"
    gpu = [f"steps {p['from_step']:,}-{p['until']:,} on an {p['device']}" for p in phases if p.get("device")]
    return f"{where}; {', '.join(gpu)}" if gpu else f"{where}, no GPU"


def since_growth(meta1: dict, grown_from: Path, s2: float) -> dict:
    """The stage-1 and stage-2 training a grown model cost on top of the model it grew from (whose
    steps and seconds the stage-1 checkpoint carries on). The classifier is left out: a grown
    classifier's seconds carry on its own ancestor's, which is not the stage-1 parent's."""
    steps, s1 = training_since_growth(meta1, grown_from)
    return {"grown_from": str(grown_from), "stage1_steps": steps, "stage1_seconds": round(s1),
            "stage1_and_2_hours": round((s1 + s2) / 3600, 2)}


def build(stage1: Path, mapping: Path, classifier: Path, data: Path, out: Path | None = None, evaluate_n: int = 2000,
          note: str = "", name: str | None = None, description: str | None = None,
          grown_from: Path = Path("models/checkpoints/avatars64-stage1.safetensors")) -> dict:
    """out: the bundle folder, models/zoo/<name> by default. grown_from: for a grown stage 1, the
    checkpoint it grew from (the training since then is recorded apart)."""
    flat = load_file(str(stage1))
    take = lambda prefix: checkpoint_part(flat, prefix)  # noqa: E731
    meta1, meta2, meta_c = _metadata(stage1), _metadata(mapping), _metadata(classifier)
    attrs = json.loads((data / "attributes.json").read_text())
    resolution = int(attrs["size"])
    arch, encoder_channels = STAGE1_BY_RESOLUTION[resolution]
    name = name or f"avatars{resolution}"
    out = out or ZOO_DIR / name
    g = Generator(dataclasses.replace(arch, mapping_parts=json.loads(meta2["parts"])))
    g.synthesis.load_state_dict(take("ema_synthesis"))
    g.mapping.load_state_dict(load_file(str(mapping)))
    growth = json.loads(meta1["growth"]) if meta1.get("growth") else None
    s1, s2 = float(meta1["seconds"]), float(meta2["seconds"])
    c_metrics = json.loads(meta_c["metrics"])
    phases = json.loads(meta1.get("phases", "[]"))
    classifier_s = c_metrics.get("train_seconds") or 0
    training = {
        "recipe": RECIPE + (GROWN.format(low=growth["from_resolution"], high=resolution) if growth else ""),
        "stage1_phases": phases,
        **({"growth": growth, "since_growth": since_growth(meta1, grown_from, s2)} if growth else {}),
        "machine": machine(phases),
        "stage1_steps": int(meta1["step"]), "stage1_seconds": round(s1), "stage1_batch": 16,
        "stage2_steps": int(meta2["steps"]), "stage2_seconds": round(s2), "stage2_lr": meta2.get("lr"),
        "stage2_heldout_relative_error": float(meta2["heldout_relative_error"]),
        "classifier_seconds": c_metrics.get("train_seconds"),
        "total_hours": round((s1 + s2 + classifier_s) / 3600, 2),
        "note": note,
    }
    if out.exists():
        shutil.rmtree(out)
    save_bundle(
        out, g, name=name, version=f"1.{int(meta1['step'])}", dtype=torch.float16,
        description=description or f"{resolution} px cartoon avatars (Avataaars parts), trained from scratch on a 2-core CPU",
        extra={
            "data": {"source": attrs["source"], "licence": "Avataaars artwork: free for personal and commercial use "
                     "(python-avatars is MIT)", "train_images": attrs["train"], "heldout_images": attrs["heldout"],
                     "resolution": attrs["size"], "seed": attrs["seed"]},
            "training": training,
            "licence": "Apache-2.0 (weights trained by AvatarForge)",
            # At psi 0.7, 1,000 served faces had 0.70 of the real set's diversity and recall
            # 0.52; at 1.0, 0.93 and 0.94 with precision 0.96: the model covers its data.
            "default_truncation_psi": 1.0,
        },
    )
    add_file(out, ENCODER_FILE, take("ema_encoder"), key="encoder",
             manifest_entry={"resolution": arch.resolution, "w_dim": arch.w_dim,
                             "channels": {str(k): v for k, v in encoder_channels.items()},
                             "output": "one w per image (broadcast to every layer)",
                             "framing": training_framing(data)})
    return install_classifier(out, classifier, data, evaluate_n)


def training_framing(data: Path, n: int = 400) -> dict:
    """Where the avatar sits in the training renders (alignment.Framing), which Encode moves an
    upload's avatar to: measured on `n` held-out renders (the same drawing as the training ones)."""
    from ..alignment import measure_framing
    from .dataset import BACKGROUND

    with np.load(data / "heldout.npz") as split:
        renders = split["images"][:n]
    return measure_framing(renders, BACKGROUND).to_manifest() | {"measured_on": f"{len(renders)} held-out renders (seed 1)"}


def install_classifier(out: Path, classifier: Path, data: Path, evaluate_n: int = 2000) -> dict:
    """Put `classifier` into the bundle at `out` and measure the bundle in its features: the
    classifier is the space of the manifest's metrics, so they are measured again whenever it
    changes. The directions and part-setting figures were measured with the classifier too:
    re-derive them (`avatarforge directions --derive`, part_setting_quality) after a swap."""
    c_metrics, clf = json.loads(_metadata(classifier)["metrics"]), load_classifier(classifier)
    shutil.copy(classifier, out / CLASSIFIER_FILE)  # keeps its self-describing metadata
    entry = {"heldout_accuracy": c_metrics["heldout_accuracy"], "heads": list(clf.vocab)}
    if clf.face_box:
        entry["face_trunk"] = {"box_top_left_size": list(clf.face_box), "heads": list(clf.face_heads),
                               "read_at": clf.face_resolution}
    register_file(out, CLASSIFIER_FILE, key="classifier", manifest_entry=entry)
    report = evaluate(str(out), n=evaluate_n, data=str(data))
    manifest = json.loads((out / bundles.MANIFEST).read_text())
    manifest["metrics"] = {k: report[k] for k in ("fd", "diversity", "coverage_targets", "n_generated", "n_real", "psi")}
    manifest["metrics"]["coverage_tv"] = {h: c["tv"] for h, c in report["coverage"].items()}
    training = manifest["training"]
    old_seconds = training.get("classifier_seconds") or 0
    training["classifier_seconds"] = c_metrics.get("train_seconds")
    training["total_hours"] = round(training["total_hours"] + ((c_metrics.get("train_seconds") or 0) - old_seconds) / 3600, 2)
    bundles.write_manifest(out, manifest)
    return report


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--stage1", default="runs/avatars64-ae/weights.safetensors")
    p.add_argument("--mapping", default="runs/avatars64-mapping/mapping.safetensors")
    p.add_argument("--classifier", default="runs/classifier.safetensors")
    p.add_argument("--data", default="data/avatars64", help="its image size picks the architecture and the name (avatars128 from 128 px data)")
    p.add_argument("--out", default=None, help="bundle folder (default: models/zoo/<name>)")
    p.add_argument("--name", default=None, help="bundle name (default: avatars<resolution>)")
    p.add_argument("--description", default=None)
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--grown-from", default="models/checkpoints/avatars64-stage1.safetensors",
                   help="a grown stage 1's starting checkpoint: the training since it is recorded apart")
    p.add_argument("--note", default="", help="free text for the manifest's training section (e.g. how the run was interrupted)")
    p.add_argument("--replace-classifier", action="store_true",
                   help="build nothing: put --classifier into the existing bundle --out and measure its metrics again")
    a = p.parse_args(argv)
    if a.replace_classifier:
        if not a.out:
            raise SystemExit("--replace-classifier needs --out: the bundle folder whose classifier to replace")
        report = install_classifier(Path(a.out), Path(a.classifier), Path(a.data), a.n)
    else:
        report = build(Path(a.stage1), Path(a.mapping), Path(a.classifier), Path(a.data), Path(a.out) if a.out else None,
                       a.n, a.note, a.name, a.description, Path(a.grown_from))
    from .evaluate import summary_lines

    print("\n".join(summary_lines(report)))


if __name__ == "__main__":
    main()
