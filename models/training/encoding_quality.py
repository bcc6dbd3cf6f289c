"""Measure Encode's quality offline: what alignment and refinement buy on issue 14's perturbations.

    python -m avatarforge.models.training.encoding_quality --faces 200 --threads 1 --out runs/encoding_quality.json
    python -m avatarforge.models.training.encoding_quality --timing-only --threads 2   # idle machine
    python -m avatarforge.models.training.encoding_quality --encoder runs/encoder-ft/encoder.safetensors

1. The training framing (where the shoulders sit, models/alignment.py) is measured on training
   renders (the dataset renderer, held-out seed 1); --write-framing stores it in the bundle's
   manifest, where the server reads it.
2. Faces the model generates from seeds 100000.. are the ground truth (a generated face is
   exactly representable, so a perfect encoder would give 99 dB). Each is perturbed (shifted 4 px
   right / 3 px up, scaled to 85 % on the same background, background made white, JPEG q50),
   encoded without and with alignment, rendered, and compared with the clean original: PSNR, and
   the attribute agreement of the classifier's reliable heads (models/encoding_scores.py).
3. Refinement (models/refinement.py) on the first --refine-faces clean faces, within 1 s each.
4. Several pictures (--spread-only measures just this): the spread (models/encoding_scores.py)
   of three pictures of one face (clean, shifted, JPEG q50) against three different faces.
"""
from __future__ import annotations

import argparse
import io
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from . import dataset
from ..alignment import Framing, background_mask, candidates, choose, measure_framing
from ..attribute_classifier import load_bundle_classifier
from ..bundle import load_bundle, update_manifest
from ..directions import w_statistics
from ..encoder import encode_images, load_bundle_encoder, to_float
from ..encoding_scores import attribute_agreement, psnr, reliable_heads, spread
from ..latents import broadcast, zs_from_seeds
from ..refinement import refine

FIRST_SEED = 100_000


def shifted(img: np.ndarray, bg) -> np.ndarray:
    out = np.empty_like(img)
    out[:] = bg
    out[:-3, 4:] = img[3:, :-4]  # 4 px right, 3 px up
    return out


def scaled(img: np.ndarray, bg, factor: float = 0.85) -> np.ndarray:
    r = img.shape[0]
    s = round(r * factor)
    canvas = Image.new("RGB", (r, r), tuple(bg))
    canvas.paste(Image.fromarray(img).resize((s, s), Image.Resampling.LANCZOS), ((r - s) // 2, (r - s) // 2))
    return np.asarray(canvas)


def white_background(img: np.ndarray, bg) -> np.ndarray:
    out = img.copy()
    out[background_mask(img, np.array(bg))] = 255
    return out


def jpeg(img: np.ndarray, quality: int = 50) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(buf).convert("RGB"))


PERTURBATIONS = {
    "clean render": lambda img, bg: img,
    "shifted 4 px right / 3 px up": shifted,
    "scaled to 85 % on the same background": scaled,
    "background made white": white_background,
    "JPEG quality 50": lambda img, bg: jpeg(img),
}


@torch.no_grad()
def render(generator, ws: torch.Tensor) -> np.ndarray:
    img = generator.synthesis(ws)
    return ((img.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def best_alignment(g, enc, picture: np.ndarray, framing: Framing) -> np.ndarray:
    """The alignment candidate the model reconstructs best, as the server picks it (server/encode_rpc.py)."""
    found = candidates(picture, g.cfg.resolution, framing)
    options = np.stack([a.image for a in found])
    recon = render(g, broadcast(encode_images(enc, options), g.num_ws))
    return options[choose(found, recon, framing.background)]


@torch.no_grad()
def feed_forward_ms(g, enc, pictures: np.ndarray, framing: Framing) -> dict:
    """Mean ms an image at batch 1: choosing the alignment (candidates, each an encoder and a
    synthesis pass: what Encode adds for uploads that are not framed like the training renders),
    and the feed-forward itself (encoder and synthesis of the chosen picture)."""
    align_s = forward_s = 0.0
    for im in pictures:
        t = time.perf_counter()
        x = best_alignment(g, enc, im, framing)
        t1 = time.perf_counter()
        render(g, broadcast(enc(to_float(torch.from_numpy(x[None]))), g.num_ws))
        align_s, forward_s = align_s + t1 - t, forward_s + time.perf_counter() - t1
    n = len(pictures)
    return {"alignment": round(align_s / n * 1e3, 1), "encoder_and_synthesis": round(forward_s / n * 1e3, 1)}


def spread_margin(g, enc, clean: np.ndarray, framing: Framing, w_std: torch.Tensor) -> dict:
    """Spread of {clean, shifted, JPEG} of each face vs of {face i, i+1, i+2}, over the faces."""
    bg = framing.background
    codes = lambda pics: broadcast(encode_images(enc, np.stack([best_alignment(g, enc, p, framing) for p in pics])), g.num_ws)  # noqa: E731
    same = [spread(codes([im, shifted(im, bg), jpeg(im)]), w_std) for im in clean]
    different = [spread(codes(clean[i : i + 3]), w_std) for i in range(0, len(clean) - 2, 3)]
    return {"same_face": round(float(np.mean(same)), 3), "same_face_max": round(float(np.max(same)), 3),
            "different_faces": round(float(np.mean(different)), 3), "different_faces_min": round(float(np.min(different)), 3),
            "faces": len(clean)}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="avatars64")
    p.add_argument("--faces", type=int, default=200)
    p.add_argument("--framing-renders", type=int, default=400)
    p.add_argument("--refine-faces", type=int, default=20)
    p.add_argument("--refine-steps", type=int, default=200)
    p.add_argument("--refine-seconds", type=float, default=1.0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--spread-only", action="store_true", help="measure only the spread of several pictures")
    p.add_argument("--encoder", type=Path, help="measure this encoder (encoder_finetune's encoder.safetensors) "
                                               "instead of the bundle's")
    p.add_argument("--timing-only", action="store_true", help="measure only the feed-forward cost at batch 1 "
                                                             "(an idle machine's figure)")
    p.add_argument("--write-framing", action="store_true", help="store the measured framing in the bundle's manifest")
    p.add_argument("--out", type=Path, default=Path("runs/encoding_quality.json"))
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    bundle = load_bundle(a.model)
    g, enc, clf = bundle.generator, load_bundle_encoder(bundle), load_bundle_classifier(bundle)
    if a.encoder:
        from .encoder_finetune import load_encoder_file

        enc = load_encoder_file(a.encoder)
    heads = reliable_heads(bundle.manifest)
    res = bundle.config.resolution

    renders = np.stack([dataset.render_labels(dataset.sample_labels(1, i), res) for i in range(a.framing_renders)])
    measured = measure_framing(renders, dataset.BACKGROUND)
    print("framing measured", measured, "shipped", Framing.from_manifest(bundle.manifest))
    if a.write_framing:
        framing_record = measured.to_manifest() | {"measured_on": f"{a.framing_renders} training renders (seed 1)"}
        bundle.manifest = update_manifest(bundle.path, lambda m: m["encoder"].update(framing=framing_record))
    framing = Framing.from_manifest(bundle.manifest)  # what the server uses

    seeds = list(range(FIRST_SEED, FIRST_SEED + a.faces))
    with torch.no_grad():
        ws_true = broadcast(g.mapping(torch.from_numpy(zs_from_seeds(seeds, bundle.config.z_dim))), g.num_ws)
    clean = render(g, ws_true)
    _, w_std = w_statistics(g)
    if a.spread_only:
        result = spread_margin(g, enc, clean, framing, w_std)
        print(json.dumps(result))
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(result, indent=1) + "\n")
        return
    if a.timing_only:
        ms = feed_forward_ms(g, enc, clean[:50], framing)
        print(json.dumps({"threads": a.threads, "feed_forward_ms_batch1": ms}))
        return
    bg = framing.background
    rows = {}
    for name, perturb in PERTURBATIONS.items():
        pictures = np.stack([perturb(im, bg) for im in clean])
        aligned = np.stack([best_alignment(g, enc, im, framing) for im in pictures])
        row = {}
        for label, inputs in (("raw", pictures), ("aligned", aligned)):
            recon = render(g, broadcast(encode_images(enc, inputs, batch=50), g.num_ws))
            q = psnr(recon, clean)
            row[label] = {"psnr_db": round(float(q.mean()), 2), "psnr_db_p10": round(float(np.percentile(q, 10)), 2),
                          "agreement": round(float(attribute_agreement(clf, heads, clean, recon).mean()), 4)}
        rows[name] = row
        print(f"{name:40s} raw {row['raw']}  aligned {row['aligned']}")

    ms = feed_forward_ms(g, enc, clean[:50], framing)  # batch 1, and refinement
    refined = []
    for im in clean[: a.refine_faces]:
        x = best_alignment(g, enc, im, framing)
        with torch.no_grad():
            w0 = broadcast(enc(to_float(torch.from_numpy(x[None]))), g.num_ws)[0]
        r = refine(g.synthesis, w0, to_float(torch.from_numpy(x[None])), w_std, a.refine_steps, a.refine_seconds, clf)
        before = psnr(render(g, w0[None]), im[None])[0]
        after = psnr(render(g, r.ws[None]), im[None])[0]
        refined.append((before, after, r.steps, r.seconds))
    ref = np.array(refined).reshape(-1, 4)  # --refine-faces 0 measures no refinement
    summary = {
        "model": f"{bundle.name} v{bundle.version}", "faces": a.faces, "threads": a.threads, "framing": framing.to_manifest(),
        "encoder": str(a.encoder) if a.encoder else "the bundle's",
        "reliable_heads": heads, "rows": rows, "feed_forward_ms_batch1": ms,
        "refinement": {"faces": len(ref), "budget_s": a.refine_seconds, "max_steps": a.refine_steps} | ({
            "psnr_before_db": round(float(ref[:, 0].mean()), 2), "psnr_after_db": round(float(ref[:, 1].mean()), 2),
            "steps_mean": round(float(ref[:, 2].mean()), 1), "seconds_mean": round(float(ref[:, 3].mean()), 3)}
            if len(ref) else {}),
    }
    print(json.dumps(summary["refinement"]), f"feed-forward ms an image at batch 1: {ms}")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()
