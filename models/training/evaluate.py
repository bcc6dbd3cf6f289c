"""`avatarforge eval`: how good is a model, in numbers that repeat.

Everything is measured in the bundle's attribute classifier (trained on real renders only):
- Fréchet distance (FID's formula) between generated and held-out real features, next to the
  same distance between two disjoint halves of the real set (the floor), and their ratio;
- attribute coverage: per part, how often the classifier sees each value in generated vs real
  faces, the total-variation distance, and the values generated at < 50 % of their real share;
- diversity: mean pairwise feature distance, generated vs real;
- when the bundle ships an encoder, the Fréchet distance of its reconstructions of held-out
  faces (encoder -> w -> synthesis): what the synthesis network can draw at best, so the gap
  between it and the generated FD is the mapping network's share.
Seeds are fixed (generated: seeds 0..N-1; real: the held-out split), so reruns give the same numbers.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

from . import dataset, quality_metrics
from ..bundle import DEFAULT_MODEL, load_bundle, sha256_file
from .classifier import FEATURE_DIM, load_classifier
from ..encoder import encode_images, load_bundle_encoder
from ..export import to_uint8_nhwc
from ..latents import broadcast, truncate, zs_from_seeds

CLASSIFIER_FILE = "classifier.safetensors"
COVERAGE_TARGET_HEADS = ("hair_color", "skin_color", "clothing", "accessory")


@torch.no_grad()
def generate_images(generator, seeds, psi: float = 1.0, batch: int = 100) -> np.ndarray:
    """uint8 [N, H, W, 3] for the given seeds (const noise), the same convention as serving."""
    out = []
    for i in range(0, len(seeds), batch):
        z = torch.from_numpy(zs_from_seeds(seeds[i : i + batch], generator.cfg.z_dim))
        ws = truncate(broadcast(generator.mapping(z), generator.num_ws), generator.mapping.w_avg, psi)
        img = generator.synthesis(ws, noise_mode="const")
        out.append(to_uint8_nhwc(img).numpy())
    return np.concatenate(out)


@torch.no_grad()
def reconstruct_images(encoder, generator, images_u8: np.ndarray, batch: int = 100) -> np.ndarray:
    """uint8 [N, H, W, 3] -> the generator's drawing of each image's encoded w, uint8 alike."""
    ws = broadcast(encode_images(encoder, images_u8, batch), generator.num_ws)
    out = [to_uint8_nhwc(generator.synthesis(ws[i : i + batch], noise_mode="const")).numpy() for i in range(0, len(ws), batch)]
    return np.concatenate(out)


def real_heldout(data: str | Path | None, n: int, size: int) -> np.ndarray:
    """Held-out real renders: from the dataset folder if present, else rendered now (deterministic)."""
    if data and (Path(data) / "heldout.npz").is_file():
        images, _ = dataset.load_split(data, "heldout")
        if len(images) >= n and images.shape[1] == size:
            return images[:n]
    return dataset.render_split(n, seed=1, size=size)[0]


def coverage(pred_gen: np.ndarray, pred_real: np.ndarray, vocab: dict[str, list[str]]) -> dict:
    out = {}
    for i, (head, values) in enumerate(vocab.items()):
        p_real = quality_metrics.value_shares(pred_real[:, i], len(values))
        p_gen = quality_metrics.value_shares(pred_gen[:, i], len(values))
        per_value = {v: {"real": round(float(r), 4), "generated": round(float(g), 4),
                         "ratio": round(float(g / r), 3) if r > 0 else None}
                     for v, r, g in zip(values, p_real, p_gen)}
        below = [v for v, s in per_value.items() if s["real"] >= 0.005 and s["ratio"] < 0.5]
        out[head] = {"tv": round(quality_metrics.total_variation(p_real, p_gen), 4), "below_half": below, "values": per_value}
    return out


def frechet_report(f_gen: np.ndarray, f_real: np.ndarray, f_rec: np.ndarray | None) -> dict:
    """FD of generated faces (and of reconstructions of the second real half) to the first real
    half, and the floor: the second real half to the first. f_real holds 2n faces."""
    n = len(f_real) // 2
    floor = quality_metrics.frechet_distance(f_real[n:], f_real[:n])
    fd_gen = quality_metrics.frechet_distance(f_gen, f_real[:n])
    out = {"generated_vs_real": round(fd_gen, 3), "real_vs_real": round(floor, 3), "ratio": round(fd_gen / floor, 3)}
    if f_rec is not None:
        fd_rec = quality_metrics.frechet_distance(f_rec, f_real[:n])
        out |= {"reconstruction_vs_real": round(fd_rec, 3), "reconstruction_ratio": round(fd_rec / floor, 3)}
    return out


def evaluate(model: str, n: int = 2000, psi: float = 1.0, data: str | None = None, classifier: str | None = None) -> dict:
    """data: the dataset folder whose held-out renders are the real faces (default
    data/avatars<resolution>; rendered now where it is absent). classifier: measure in this
    classifier's features instead of the bundle's own (to compare two models, e.g. before and
    after re-training, in one feature space)."""
    bundle = load_bundle(model)
    data = data or dataset.default_folder(bundle.config.resolution)
    classifier_path = classifier or bundle.file_path(CLASSIFIER_FILE)
    classifier = load_classifier(classifier_path)
    gen_images = generate_images(bundle.generator, list(range(n)), psi)
    real = real_heldout(data, 2 * n, bundle.config.resolution)
    pred_gen, f_gen = classifier.predict(gen_images)
    pred_real, f_real = classifier.predict(real)
    cov = coverage(pred_gen, pred_real[:n], classifier.vocab)
    div_gen, div_real = quality_metrics.mean_pairwise_distance(f_gen), quality_metrics.mean_pairwise_distance(f_real[:n])
    encoder = load_bundle_encoder(bundle)
    # the encoder reconstructs the second real half, compared with the first (as the floor is)
    f_rec = None if encoder is None else classifier.predict(reconstruct_images(encoder, bundle.generator, real[n:]))[1]
    fd = frechet_report(f_gen, f_real, f_rec)
    if classifier.face_box:  # each trunk's features alone: the whole image as a face-less classifier sees it, the face
        parts = {"whole_image": slice(0, FEATURE_DIM), "face": slice(FEATURE_DIM, None)}
        fd |= {name: frechet_report(f_gen[:, cut], f_real[:, cut], None if f_rec is None else f_rec[:, cut])
               for name, cut in parts.items()}
    return {
        "model": bundle.name,
        "model_version": bundle.version,
        "generator_sha256": bundle.generator_sha256,
        "classifier_sha256": sha256_file(Path(classifier_path)),
        "n_generated": n,
        "n_real": 2 * n,
        "generated_seeds": f"0-{n - 1}",
        "psi": psi,
        "fd": fd,
        "coverage": cov,
        "coverage_targets": {h: {"below_half": cov[h]["below_half"], "met": not cov[h]["below_half"]}
                             for h in COVERAGE_TARGET_HEADS if h in cov},
        "diversity": {"generated": round(div_gen, 4), "real": round(div_real, 4), "ratio": round(div_gen / div_real, 3)},
    }


def summary_lines(r: dict) -> list[str]:
    lines = [f"model {r['model']} ({r['model_version']}), {r['n_generated']} generated vs {r['n_real']} real",
             f"FD generated-vs-real {r['fd']['generated_vs_real']}, real-vs-real {r['fd']['real_vs_real']}, ratio {r['fd']['ratio']}",
             *([f"FD of the encoder's reconstructions vs real {r['fd']['reconstruction_vs_real']} "
                f"(ratio {r['fd']['reconstruction_ratio']}: the synthesis network's ceiling)"] if "reconstruction_vs_real" in r["fd"] else []),
             *([f"  in the whole-image trunk's features alone: ratio {r['fd']['whole_image']['ratio']}; in the face "
                f"trunk's alone: {r['fd']['face']['ratio']}"] if "face" in r["fd"] else []),
             f"diversity generated {r['diversity']['generated']} vs real {r['diversity']['real']} (ratio {r['diversity']['ratio']})"]
    for head, c in r["coverage"].items():
        flag = "" if not c["below_half"] else f"  below half: {', '.join(c['below_half'])}"
        lines.append(f"  {head:18s} TV {c['tv']:.3f}{flag}")
    return lines


DESCRIPTION = __doc__


def add_arguments(p) -> None:
    p.add_argument("--model", default=DEFAULT_MODEL, help="bundle name (in models/zoo) or path")
    p.add_argument("--n", type=int, default=2000, help="generated faces (and real faces per half)")
    p.add_argument("--psi", type=float, default=1.0, help="truncation of the generated faces")
    p.add_argument("--data", default=None, help="dataset folder with heldout.npz (default: data/avatars<the model's "
                   "resolution>; its held-out faces are rendered if absent)")
    p.add_argument("--classifier", default=None, metavar="PATH",
                   help="measure in this classifier's features (default: the bundle's own); compares models in one space")
    p.add_argument("--json", default=None, metavar="OUT", help="write the full report here ('-' for stdout)")
    p.add_argument("--threads", type=int, default=None)


def run(args) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    report = evaluate(args.model, args.n, args.psi, args.data, args.classifier)
    if args.json == "-":
        json.dump(report, sys.stdout, indent=1)
        print()
    else:
        print("\n".join(summary_lines(report)))
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    return 0
