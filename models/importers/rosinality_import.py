"""`avatarforge import-rosinality ckpt.pt --out BUNDLE`: a rosinality/stylegan2-pytorch checkpoint
-> a bundle.

The checkpoint is a torch.save dict (`g_ema` state dict, and from train.py also `g`, `d`,
optimiser states and `args`); it is read with `torch.load(weights_only=True)`, torch's own
allow-list, with argparse.Namespace added because train.py stores its arguments as one (a bag of
attributes; nothing in it is called). Same math as NVlabs under other names and shapes:

    style.{i}                    -> mapping.fc{i-1}           (style.0 is the parameter-free PixelNorm)
    input.input [1,C,4,4]        -> synthesis.b4.const [C,4,4]
    conv1 / to_rgb1              -> synthesis.b4.conv1 / .torgb
    convs.{2j}, convs.{2j+1}     -> synthesis.b{2^(j+3)}.conv0, .conv1
    to_rgbs.{j}                  -> synthesis.b{2^(j+3)}.torgb
    *.conv.weight [1,O,I,k,k]    -> *.weight [O,I,k,k];   *.conv.modulation -> *.affine
    *.noise.weight [1]           -> *.noise_strength [];   *.activate.bias -> *.bias
    to_rgb*.bias [1,3,1,1]       -> *.torgb.bias [3]
    noises.noise_{n} [1,1,r,r]   -> the n-th conv's noise_const [r,r] (b4.conv1 is n=0)

Blur kernels must be the [1,3,3,1] filter (times 4, the upsampling gain). The mapping's lr
multiplier is not stored in the checkpoint; rosinality's default is 0.01 (`--lr-mlp`). w_avg is
the checkpoint's `latent_avg` when present (convert_weight.py writes it), else estimated.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import torch

from ..networks import GeneratorConfig
from .imported_bundle import (W_AVG_ESTIMATED, UnsupportedCheckpoint, build_generator, check_filter, describe_import,
                              estimate_w_avg, fir_filter_2d, prepare_out_dir, write_imported_bundle)

FORMAT = "rosinality-stylegan2-pytorch"
DESCRIPTION = __doc__
DEFAULT_LR_MLP = 0.01


def load_checkpoint(path: Path) -> dict:
    with torch.serialization.safe_globals([argparse.Namespace]):
        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # torch raises UnpicklingError naming the refused global
            lines = str(e).splitlines()
            reason = next((ln.strip() for ln in lines if "Unsupported global" in ln), lines[0] if lines else repr(e))
            raise UnsupportedCheckpoint(f"{path.name} cannot be loaded with weights_only=True: {reason}") from e
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("g_ema"), dict):
        raise UnsupportedCheckpoint(f"{path.name} is not a rosinality checkpoint: no 'g_ema' state dict")
    return ckpt


def convert_layer(src: dict, prefix: str, dst: str, out: dict) -> None:
    """One StyledConv or ToRGB (`prefix`) -> our SynthesisLayer or ToRGBLayer (`dst`)."""
    out[f"{dst}.weight"] = src[f"{prefix}.conv.weight"][0]
    out[f"{dst}.affine.weight"] = src[f"{prefix}.conv.modulation.weight"]
    out[f"{dst}.affine.bias"] = src[f"{prefix}.conv.modulation.bias"]
    if f"{prefix}.activate.bias" in src:  # StyledConv
        out[f"{dst}.bias"] = src[f"{prefix}.activate.bias"]
        out[f"{dst}.noise_strength"] = src[f"{prefix}.noise.weight"].reshape([])
    else:  # ToRGB
        out[f"{dst}.bias"] = src[f"{prefix}.bias"].reshape(-1)


def convert_state(src: dict, lr_mlp: float) -> tuple[GeneratorConfig, dict]:
    n_mlp = len({m.group(1) for k in src if (m := re.fullmatch(r"style\.(\d+)\.weight", k))})
    n_up = len({m.group(1) for k in src if (m := re.fullmatch(r"to_rgbs\.(\d+)\.conv\.weight", k))})
    if n_mlp == 0 or "input.input" not in src:
        raise UnsupportedCheckpoint("g_ema has no style.* mapping layers or no input.input constant")
    resolution = 4 * 2**n_up
    out = {f"mapping.fc{i - 1}.{p}": src[f"style.{i}.{p}"] for i in range(1, n_mlp + 1) for p in ("weight", "bias")}
    out["synthesis.b4.const"] = src["input.input"][0]
    convert_layer(src, "conv1", "synthesis.b4.conv1", out)
    convert_layer(src, "to_rgb1", "synthesis.b4.torgb", out)
    out["synthesis.b4.conv1.noise_const"] = src["noises.noise_0"][0, 0]
    fir = fir_filter_2d()
    for j in range(n_up):
        res = 2 ** (j + 3)
        for k in (0, 1):
            convert_layer(src, f"convs.{2 * j + k}", f"synthesis.b{res}.conv{k}", out)
            out[f"synthesis.b{res}.conv{k}.noise_const"] = src[f"noises.noise_{2 * j + 1 + k}"][0, 0]
        convert_layer(src, f"to_rgbs.{j}", f"synthesis.b{res}.torgb", out)
        check_filter(f"convs.{2 * j}.conv.blur.kernel", src[f"convs.{2 * j}.conv.blur.kernel"] / 4, fir)
        check_filter(f"to_rgbs.{j}.upsample.kernel", src[f"to_rgbs.{j}.upsample.kernel"] / 4, fir)
    w_dim, z_dim = out["mapping.fc0.weight"].shape
    if any(out[f"mapping.fc{i}.weight"].shape[0] != w_dim for i in range(n_mlp)):
        raise UnsupportedCheckpoint("mapping layers of different widths are not supported")
    cfg = GeneratorConfig(
        z_dim=z_dim, w_dim=w_dim, resolution=resolution, img_channels=out["synthesis.b4.torgb.weight"].shape[0],
        mapping_layers=n_mlp, mapping_lr_multiplier=lr_mlp,
        channels={2 ** (i + 2): out[f"synthesis.b{2 ** (i + 2)}.conv1.weight"].shape[0] for i in range(n_up + 1)},
        resampling="fir", conv_clamp=None,
    )
    return cfg, out


def import_rosinality(ckpt_path: str | Path, out: str | Path, name: str | None = None,
                      lr_mlp: float = DEFAULT_LR_MLP) -> Path:
    ckpt_path = Path(ckpt_path)
    prepare_out_dir(out)
    ckpt = load_checkpoint(ckpt_path)
    try:
        cfg, state = convert_state(ckpt["g_ema"], lr_mlp)
    except KeyError as e:
        raise UnsupportedCheckpoint(f"{ckpt_path.name}: g_ema lacks {e}: not a rosinality StyleGAN2 generator") from e
    latent_avg = ckpt.get("latent_avg")
    if isinstance(latent_avg, torch.Tensor):
        state["mapping.w_avg"] = latent_avg.reshape(-1)
    else:
        state["mapping.w_avg"] = torch.zeros(cfg.w_dim)
    g = build_generator(cfg, state, ckpt_path.name)
    if not isinstance(latent_avg, torch.Tensor):
        g.mapping.w_avg.copy_(estimate_w_avg(g))
    source = {"format": FORMAT, "network": "g_ema", "mapping_lr_multiplier": lr_mlp,
              "w_avg": "latent_avg" if isinstance(latent_avg, torch.Tensor) else W_AVG_ESTIMATED,
              "noise": "noises.noise_* buffers (rosinality randomize_noise=False)"}
    return write_imported_bundle(out, g, ckpt_path, source, name)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="rosinality stylegan2-pytorch checkpoint (.pt with a g_ema state dict)")
    p.add_argument("--out", required=True, help="bundle folder to create (must not exist or be empty)")
    p.add_argument("--name", default=None, help="model name in the manifest (default: the folder's name)")
    p.add_argument("--lr-mlp", dest="lr_mlp", type=float, default=DEFAULT_LR_MLP,
                   help=f"the mapping's lr multiplier it was trained with (not stored in checkpoints; default {DEFAULT_LR_MLP})")


def run(args: argparse.Namespace) -> int:
    try:
        path = import_rosinality(args.checkpoint, args.out, args.name, args.lr_mlp)
    except (UnsupportedCheckpoint, OSError) as e:
        print(f"import-rosinality: {e}", file=sys.stderr)
        return 2
    print(describe_import(path))
    return 0
