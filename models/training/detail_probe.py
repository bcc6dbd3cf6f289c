"""Where a stage-1 generator loses fine detail: fit real renders with more and more of it set
free, and measure how much of the detail comes back at each step.

    python -m avatarforge.models.training.detail_probe models/checkpoints/avatars128-stage1.safetensors \
        --part clothing=HOODIE --faces 8

For held-out renders showing the part (the held-out split's own seed, rendered here), fits of
the frozen EMA synthesis with, in turn:
- mapping:   (with --bundle) the bundle's parts mapping given the pictures' own parts: the face a
             seed with those parts is drawn as, through the bundle's own synthesis;
- encoder:   the EMA encoder's w (what encoded and, through stage 2, generated faces get);
- w:         one w, optimised: the best any code of the served latent space can draw;
- w+:        one w per layer, optimised (Abdal et al.'s W+);
- top input: everything below the top block set free (its input features and the skip image
             from below): what the top block alone can draw at best.
If `top input` reaches the picture and `w` does not, the top block's width is not the limit:
the path from one w to the features below it is.

Each fit is scored by PSNR against the picture, PSNR at half resolution (both pooled: the
coarse content), and `detail`: the share of the picture's detail above half resolution
(image minus its pooled-and-upsampled self) that the fit reproduces, 1 - |d(fit) - d(pic)|^2 / |d(pic)|^2.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors import safe_open

from ..architectures import STAGE1_BY_RESOLUTION
from ..bundle import load_bundle
from ..encoder import to_float
from ..export import to_uint8_nhwc
from ..latents import broadcast
from . import dataset
from .train_mapping import load_stage1_encoder, load_stage1_synthesis, one_hot_parts

HELDOUT_SEED = 1  # write_dataset's held-out split: the faces no stage-1 step has seen
LEVELS = ("encoder", "w", "w+", "top input")
MAPPING = "mapping"  # the level --bundle adds, drawn first


def faces_showing(head: str, value: str, n: int, size: int, search: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """The first n held-out faces whose `head` is `value`: (images uint8 [n, size, size, 3], labels [n, heads])."""
    vocab = dataset.attribute_values()
    col, want = dataset.heads().index(head), vocab[head].index(value)
    picked = [lab for lab in (dataset.sample_labels(HELDOUT_SEED, i) for i in range(search)) if lab[col] == want][:n]
    if len(picked) < n:
        raise ValueError(f"only {len(picked)} of the first {search} held-out faces show {head}={value}")
    return np.stack([dataset.render_labels(lab, size) for lab in picked]), np.stack(picked)


def checkpoint_resolution(checkpoint: str | Path) -> int:
    """The resolution of a stage-1 checkpoint: that of its top synthesis block."""
    with safe_open(str(checkpoint), "pt") as f:
        keys = list(f.keys())
    return max(r for r in STAGE1_BY_RESOLUTION if any(k.startswith(f"ema_synthesis.b{r}.") for k in keys))


def _coarse(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="bilinear", align_corners=False)


def scores(fit: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    def db(a, b):
        return round(10 * math.log10(4 / max(F.mse_loss(a, b).item(), 1e-12)), 2)  # range [-1, 1]: peak-to-peak 2

    d_fit, d_target = fit - _coarse(fit), target - _coarse(target)
    detail = 1 - ((d_fit - d_target) ** 2).sum().item() / (d_target**2).sum().item()
    return {"psnr": db(fit, target), "psnr_half": db(F.avg_pool2d(fit, 2), F.avg_pool2d(target, 2)),
            "detail": round(detail, 3)}


def _fit(params: list[torch.Tensor], draw, target: torch.Tensor, steps: int, lr: float) -> torch.Tensor:
    opt = torch.optim.Adam(params, lr=lr)
    for _ in range(steps):
        y = draw()
        loss = F.l1_loss(y, target) + F.mse_loss(y, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return draw()


@torch.no_grad()
def _top_block_inputs(synthesis, ws: torch.Tensor):
    """The top block and what the synthesis hands it for these ws: (block, features, skip image, its ws)."""
    top = getattr(synthesis, f"b{synthesis.block_resolutions[-1]}")
    seen = {}
    hook = top.register_forward_pre_hook(lambda _module, args: seen.update(args=args))
    try:
        synthesis(ws)
    finally:
        hook.remove()
    x, img, top_ws = seen["args"][:3]
    return top, x, img, top_ws


def probe(checkpoint: str | Path, images_u8: np.ndarray, steps: int = 500, lr: float = 0.02) -> dict[str, torch.Tensor]:
    """-> {level: fitted images [N, 3, R, R] in [-1, 1]} for LEVELS, plus "picture"."""
    resolution = images_u8.shape[1]
    encoder = load_stage1_encoder(checkpoint, resolution, "ema_encoder")
    synthesis = load_stage1_synthesis(checkpoint, resolution)
    target = to_float(torch.from_numpy(images_u8))
    out = {"picture": target}
    with torch.no_grad():
        w0 = encoder(target)
        out["encoder"] = synthesis(w0[:, None].expand(-1, synthesis.num_ws, -1))
    w = w0.clone().requires_grad_(True)
    out["w"] = _fit([w], lambda: synthesis(w[:, None].expand(-1, synthesis.num_ws, -1)), target, steps, lr)
    ws = w0[:, None].repeat(1, synthesis.num_ws, 1).requires_grad_(True)
    out["w+"] = _fit([ws], lambda: synthesis(ws), target, steps, lr)
    top, *inputs = _top_block_inputs(synthesis, ws)
    x, img, ws_top = (t.detach().clone().requires_grad_(True) for t in inputs)
    out["top input"] = _fit([x, img, ws_top], lambda: top(x, img, ws_top, "const")[1], target, steps, lr)
    return out


@torch.no_grad()
def mapping_faces(bundle: str | Path, labels: np.ndarray) -> torch.Tensor:
    """The bundle's faces for these parts ([N, 3, R, R] in [-1, 1]); hidden parts (a hair colour
    under a hat) get a drawn value, as the served mapping gives them."""
    generator = load_bundle(bundle).generator.eval()
    one_hot = one_hot_parts(torch.from_numpy(labels.astype(np.int64)), generator.mapping, torch.Generator().manual_seed(0))
    return generator.synthesis(broadcast(generator.mapping.from_parts(one_hot), generator.num_ws))


def levels(fits: dict[str, torch.Tensor]) -> list[str]:
    return [k for k in (MAPPING, *LEVELS) if k in fits]


def report(fits: dict[str, torch.Tensor]) -> dict:
    target = fits["picture"]
    half = scores(_coarse(target), target)
    return {"half resolution, exact": {"psnr": half["psnr"]}, **{k: scores(fits[k], target) for k in levels(fits)}}


def sheet(fits: dict[str, torch.Tensor]) -> Image.Image:
    """Rows: the pictures, then each level's fit."""
    rows = [np.concatenate(list(to_uint8_nhwc(fits[k]).numpy()), axis=1) for k in ("picture", *levels(fits))]
    return Image.fromarray(np.concatenate(rows, axis=0))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("checkpoint", help="a stage-1 checkpoint (compact or weights.safetensors) with EMA encoder and synthesis")
    p.add_argument("--part", default="clothing=HOODIE", help="HEAD=VALUE the probed faces show (default: hoodies, whose strings are thin)")
    p.add_argument("--faces", type=int, default=8)
    p.add_argument("--bundle", default=None, help="a bundle built from this checkpoint (e.g. avatars128): adds the "
                   "faces its parts mapping draws for the pictures' parts, what generated faces look like")
    p.add_argument("--steps", type=int, default=500, help="Adam steps of each fit")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=Path("runs/detail_probe"), help="folder for probe.json and sheet.png")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    head, _, value = a.part.partition("=")
    images, labels = faces_showing(head, value, a.faces, checkpoint_resolution(a.checkpoint))
    fits = probe(a.checkpoint, images, a.steps)
    if a.bundle:
        fits[MAPPING] = mapping_faces(a.bundle, labels)
    result = {"checkpoint": str(a.checkpoint), "bundle": a.bundle, "part": a.part, "faces": a.faces, "steps": a.steps, "levels": report(fits)}
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "probe.json").write_text(json.dumps(result, indent=1))
    sheet(fits).save(a.out / "sheet.png")
    for level, s in result["levels"].items():
        print(f"{level:24s} " + "  ".join(f"{k} {v}" for k, v in s.items()))


if __name__ == "__main__":
    main()
