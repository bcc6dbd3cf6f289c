"""Do edits still work on refined faces? Issue 14: "edits on refined faces still meet the
direction floors", measured rather than assumed.

    python -m avatarforge.models.training.refined_edits --model avatars64 --faces 100 --threads 1

Faces the model generates (seeds 3,000,000..) are the pictures. Each is encoded feed-forward and
then refined within the time budget (models/refinement.py, the server's Encode path; the anchor
keeps the refined W+ near the encoder's w). Every shipped supervised direction is then applied at
its default strength to three versions of each face, and measured as `avatarforge directions`
measures it (direction_fitting.measure: success = the classifier sees the attribute afterwards,
unchanged = the other attributes stay as they were):
- generated: the faces' own W (what the manifest's figures were measured on, other seeds);
- encoded: the encoder's w of their renders;
- refined: the refined W+.
The shipping targets are direction_fitting's SUCCESS_TARGET and UNCHANGED_TARGET.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .attributes import ATTRIBUTES, LabelReader
from ..attribute_classifier import load_bundle_classifier
from ..bundle import load_bundle
from ..directions import stored_directions, w_statistics
from .direction_fitting import SUCCESS_TARGET, UNCHANGED_TARGET, look, measure, render
from ..encoder import load_bundle_encoder, to_float
from ..encoding_scores import psnr
from ..latents import broadcast, zs_from_seeds
from ..refinement import refine

FIRST_SEED = 3_000_000


def refined_faces(g, clf, images: np.ndarray, w0: torch.Tensor, steps: int, seconds: float) -> tuple[torch.Tensor, dict]:
    """W+ [N, num_ws, w_dim] refined from w0 towards each image (clf: the feature loss's
    classifier, as Encode uses it), and what the refinement did."""
    _, w_std = w_statistics(g)
    out, taken, spent = [], [], []
    for img, ws0 in tqdm(zip(images, w0), total=len(images), desc="refine", unit="face"):
        r = refine(g.synthesis, ws0, to_float(torch.from_numpy(img[None])), w_std, steps, seconds, clf)
        out.append(r.ws.detach())
        taken.append(r.steps)
        spent.append(r.seconds)
    return torch.stack(out), {"steps_mean": round(float(np.mean(taken)), 1), "seconds_mean": round(float(np.mean(spent)), 3)}


def run(model: str, n: int, steps: int, seconds: float) -> dict:
    bundle = load_bundle(model)
    g, clf, enc = bundle.generator, load_bundle_classifier(bundle), load_bundle_encoder(bundle)
    if clf is None or enc is None:
        raise SystemExit(f"{model} needs a classifier and an encoder to measure this")
    reader = LabelReader(clf.vocab)
    seeds = list(range(FIRST_SEED, FIRST_SEED + n))
    with torch.no_grad():
        ws = broadcast(g.mapping(torch.from_numpy(zs_from_seeds(seeds, bundle.config.z_dim))), g.num_ws)
        images = render(g, ws)
        encoded = broadcast(enc(to_float(torch.from_numpy(images))), g.num_ws)
    refined, refinement = refined_faces(g, clf, images, encoded, steps, seconds)
    sets = {name: look(g, clf, reader, w) for name, w in (("generated", ws), ("encoded", encoded), ("refined", refined))}
    by_name = {a.name: a for a in ATTRIBUTES}
    rows = {}
    for d in stored_directions(bundle):
        attr = by_name.get(d.name)
        if attr is None:
            continue
        row = {}
        for name, faces in sets.items():
            m = measure(g, clf, reader, attr, faces, d.vector, d.layers, d.default_strength)
            row[name] = {"success": round(m.success, 3), "unchanged": round(m.unchanged, 3), "n": m.n,
                         "meets_targets": m.meets_targets() if m.n else None}
        rows[d.name] = row
        print(f"{d.name:14s} " + "  ".join(f"{k} {v['success']:.2f}/{v['unchanged']:.2f} (n {v['n']})" for k, v in row.items()))
    with torch.no_grad():
        quality = {name: float(np.mean(psnr(render(g, f.ws), images))) for name, f in sets.items() if name != "generated"}
    return {"model": f"{bundle.name} v{bundle.version}", "faces": n, "seeds": f"{seeds[0]}-{seeds[-1]}",
            "refinement": refinement | {"budget_s": seconds, "max_steps": steps},
            "psnr_db": {k: round(v, 2) for k, v in quality.items()},
            "targets": {"success": SUCCESS_TARGET, "unchanged": UNCHANGED_TARGET}, "directions": rows}


def table(report: dict) -> str:
    lines = ["| direction | generated: success / unchanged (n) | encoded | refined |", "| --- | --- | --- | --- |"]
    for name, row in report["directions"].items():
        cells = [f"{v['success']:.0%} / {v['unchanged']:.0%} ({v['n']})" + ("" if v["meets_targets"] in (True, None) else " ✗")
                 for v in row.values()]
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", default="avatars64")
    p.add_argument("--faces", type=int, default=100)
    p.add_argument("--refine-steps", type=int, default=200)
    p.add_argument("--refine-seconds", type=float, default=1.0, help="budget per face, as an Encode request's")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=Path("runs/refined_edits.json"))
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    t0 = time.time()
    report = run(a.model, a.faces, a.refine_steps, a.refine_seconds)
    report["seconds"] = round(time.time() - t0)
    print(table(report))
    print(json.dumps({"refinement": report["refinement"], "psnr_db": report["psnr_db"]}))
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
