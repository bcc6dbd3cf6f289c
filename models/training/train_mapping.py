"""Stage 2 of the default-model recipe: the mapping network, z -> parts -> w.

After stage 1 (train_autoencoder.py) the synthesis network renders any face from the W code its
encoder gives. Our faces are composed of labelled parts drawn independently, and stage 1 made
W linear in those parts (linear part classifiers on w), so a face's code is, to ~1.4 % of W's
variance on held-out faces, a function of its parts alone. Stage 2 learns that function by
regression:

    w_real = E(image)                         the frozen EMA encoder, every training image
    w_fake = PartsMapping.from_parts(parts)   an MLP on the image's one-hot part labels
    loss   = mean squared error, on codes standardised per dimension

and stores each part's value shares, from which the served mapping draws the parts of z
(networks.PartsMapping). Parts hidden by others (hair colour under a hat) carry no label; each
step fills them with a random value, so the MLP learns that they do not matter, as the
served mapping draws every part.

Why not ALAE's latent GAN, which shipped before: on the same v1.18000 synthesis network,
`avatarforge eval`'s FD ratio was 2.894 with the latent GAN's codes and 1.566 with this mapping,
next to 1.544 for the encoder's own codes of held-out faces (the synthesis network's ceiling).
In an experiment, fine-tuning the MLP afterwards through the frozen synthesis with stage 1's
image losses moved the ratio from 1.515 to 1.529: the codes are not what limits the faces.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from . import dataset
from ..encoder import Encoder, encode_images
from ..networks import Generator, GeneratorConfig, PartsMapping, SynthesisNetwork
from ..architectures import AVATARS64, STAGE1_BY_RESOLUTION
from .train_autoencoder import checkpoint_part


def load_stage1_encoder(weights: str | Path, resolution: int = 64, part: str = "ema_encoder") -> Encoder:
    """The EMA encoder of a stage-1 weights.safetensors: stage 2 fits the mapping to its codes
    (part "encoder": the trained weights themselves, which only weights.safetensors holds).
    A grown checkpoint must have finished fading in: before that its encoder still leans on
    the old block's input (training/growing.py), which the plain encoder does not have."""
    with safe_open(str(weights), "pt") as f:
        alpha = float((f.metadata() or {}).get("fade_alpha", "1"))
    if alpha < 1.0:
        raise ValueError(f"{weights} is mid-fade (alpha {alpha}): train it until the new block has faded in")
    cfg, channels = STAGE1_BY_RESOLUTION[resolution]
    encoder = Encoder(cfg.resolution, cfg.w_dim, channels)
    encoder.load_state_dict(checkpoint_part(load_file(str(weights)), part))
    return encoder.eval()


def load_stage1_synthesis(weights: str | Path, resolution: int = 64, part: str = "ema_synthesis") -> SynthesisNetwork:
    """The synthesis network of a stage-1 checkpoint (part "synthesis": the trained weights
    themselves, which only weights.safetensors holds), frozen."""
    synthesis = Generator(STAGE1_BY_RESOLUTION[resolution][0]).synthesis
    synthesis.load_state_dict(checkpoint_part(load_file(str(weights)), part))
    return synthesis.eval().requires_grad_(False)


def parts_config(vocab: dict[str, list[str]], base: GeneratorConfig = AVATARS64) -> GeneratorConfig:
    """The generator config whose mapping draws the dataset's parts."""
    return dataclasses.replace(base, mapping_parts={head: len(values) for head, values in vocab.items()})


def value_shares(labels: np.ndarray, vocab: dict[str, list[str]]) -> torch.Tensor:
    """Share of each value of each part among the faces that show the part, in column order
    (uniform for a part no face shows: it is hidden whatever its value)."""
    shares = []
    for i, values in enumerate(vocab.values()):
        shown = labels[:, i][labels[:, i] >= 0]
        counts = np.bincount(shown, minlength=len(values)) if len(shown) else np.ones(len(values))
        shares.append(counts / counts.sum())
    return torch.from_numpy(np.concatenate(shares)).float()


def one_hot_parts(labels: torch.Tensor, mapping: PartsMapping, generator: torch.Generator | None = None) -> torch.Tensor:
    """labels int64 [N, parts] (-1 = hidden) -> one-hot [N, num_values]. A hidden part gets the
    value the served mapping draws from a random z (with `generator`), or none (all zeros)."""
    hidden = labels < 0
    out = torch.zeros(len(labels), mapping.num_values)
    rows, parts = hidden.logical_not().nonzero(as_tuple=True)
    out[rows, mapping.part_offsets[parts] + labels[rows, parts]] = 1.0
    if generator is not None and hidden.any():
        drawn = mapping.parts_one_hot(torch.randn(len(labels), mapping.z_dim, generator=generator))
        out = torch.where(hidden[:, mapping.column_part], drawn, out)
    return out


def relative_error(mapping: PartsMapping, parts: torch.Tensor, w: torch.Tensor) -> float:
    """Mean squared error of the predicted codes as a share of W's variance (0 = exact)."""
    with torch.no_grad():
        return float(F.mse_loss(mapping.from_parts(parts), w) / w.var(0).mean())


def train_mapping(args) -> dict:
    from tqdm import tqdm

    torch.manual_seed(args.seed)
    run = Path(args.run)
    run.mkdir(parents=True, exist_ok=True)
    vocab = json.loads((Path(args.data) / "attributes.json").read_text())["heads"]
    images, labels = dataset.load_split(args.data, "train")
    resolution = images.shape[1]  # the data's size picks the architecture (architectures.py)
    encoder = load_stage1_encoder(args.stage1, resolution)
    held_images, held_labels = dataset.load_split(args.data, "heldout")
    t0 = time.time()
    w_train = encode_images(encoder, images, desc="encode training set")
    w_held = encode_images(encoder, held_images, desc="encode held-out set")
    cfg = parts_config(vocab, STAGE1_BY_RESOLUTION[resolution][0])
    mapping = PartsMapping(cfg)
    mapping.set_value_shares(value_shares(labels, vocab))
    mapping.w_mean.copy_(w_train.mean(0))
    mapping.w_std.copy_(w_train.std(0))
    labels_t = torch.from_numpy(labels.astype(np.int64))
    held_parts = one_hot_parts(torch.from_numpy(held_labels.astype(np.int64)), mapping,
                               torch.Generator().manual_seed(args.seed + 1))
    opt = torch.optim.Adam(mapping.parameters(), lr=args.lr)
    gen = torch.Generator().manual_seed(args.seed)
    log = open(run / "log.jsonl", "w")
    entry = {}
    for step in tqdm(range(args.steps), desc="mapping (parts -> w)", unit="step"):
        for group in opt.param_groups:  # constant, then linear decay to 0 over the second half
            group["lr"] = args.lr * min(1.0, 2.0 * (1.0 - step / args.steps))
        idx = torch.randint(len(w_train), (args.batch,), generator=gen)
        parts = one_hot_parts(labels_t[idx], mapping, gen)
        loss = ((mapping.from_parts(parts) - w_train[idx]) / mapping.w_std).square().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if (step + 1) % args.check_every == 0 or step + 1 == args.steps:
            entry = {"step": step + 1, "loss": round(loss.item(), 5),
                     "heldout_relative_error": round(relative_error(mapping, held_parts, w_held), 5)}
            log.write(json.dumps(entry) + "\n")
            log.flush()
            tqdm.write(json.dumps(entry))
    with torch.no_grad():
        mapping.w_avg.copy_(mapping(torch.randn(20000, cfg.z_dim, generator=gen)).mean(0))
    seconds = round(time.time() - t0, 1)
    save_file({k: v.contiguous() for k, v in mapping.state_dict().items()}, str(run / "mapping.safetensors"),
              metadata={"kind": "parts", "parts": json.dumps(cfg.mapping_parts), "steps": str(args.steps),
                        "seconds": str(seconds), "lr": str(args.lr), "batch": str(args.batch),
                        "codes": str(len(w_train)), "heldout_relative_error": str(entry.get("heldout_relative_error"))})
    return {"steps": args.steps, "seconds": seconds, **entry}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Stage 2: fit the mapping network (parts -> w) to the encoder's codes",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", default="data/avatars64", help="its image size picks the architecture (data/avatars128: 128 px)")
    p.add_argument("--stage1", default="runs/avatars64-ae/weights.safetensors", help="stage-1 weights")
    p.add_argument("--run", default="runs/avatars64-mapping")
    p.add_argument("--steps", type=int, default=10000)
    p.add_argument("--batch", type=int, default=256)
    # The layers carry equalized lr (unit-scale weights), so Adam's step is relative to 1, not to
    # 1/sqrt(fan_in): 1e-2 here moves them as 1e-3 moves a plain nn.Linear.
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--check-every", type=int, default=1000, help="steps between held-out checks (log.jsonl)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    return p


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    print(json.dumps(train_mapping(args)))


if __name__ == "__main__":
    main()
