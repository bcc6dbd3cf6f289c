"""Fine-tune a bundle's encoder on pictures like real uploads: generated faces, whose true w is
known, perturbed as uploads are, aligned as Encode aligns them, and encoded back.

    python -m avatarforge.models.training.encoder_finetune --model avatars64 --run runs/encoder-ft \\
        --steps 3000 --threads 2            # resumes from the run's state.pt when it exists
    python -m avatarforge.models.training.encoding_quality --encoder runs/encoder-ft/encoder.safetensors
    python -m avatarforge.models.training.encoder_finetune --model avatars64 --run runs/encoder-ft --install

The encoder was trained with the synthesis network on clean, exactly framed renders (ALAE), so
a shifted, rescaled, recoloured or compressed upload falls outside what it has seen; alignment
(models/alignment.py) undoes most of the framing, not the rest. Each step here:
1. z -> w (the mapping, at the truncation PSI_RANGE allows: none) -> the clean face;
2. perturb: each of shift, scale, rotation, background colour, a partial occluder and JPEG
   with probability PERTURB_P (`perturb`), then `alignment.align` as Encode's first candidate;
3. loss = latent (ALAE's: (E(x') - w) / w_std, squared, on the pictures alignment restores:
   as rendered, shifted, scaled, recoloured, compressed) + pixel (L1 of G(E(x')) against the
   clean face, on every picture) + optionally the classifier's perceptual distance, through the
   frozen synthesis.
Everything random at a step comes from (seed, step), so a resumed run is the run it continues.
--install puts the encoder into the bundle, keeping its manifest entry (framing included) and
recording the fine-tune; measure it with encoding_quality --encoder first.
"""
from __future__ import annotations

import argparse
import io
import json
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import save_file
from tqdm import tqdm

from ..alignment import Framing, align, background_mask
from ..attribute_classifier import load_bundle_classifier
from ..bundle import load_bundle, register_file
from ..directions import w_statistics
from ..encoder import ENCODER_FILE, Encoder, load_bundle_encoder, to_float
from ..latents import broadcast
from .train_autoencoder import perceptual_distance

# Half the pictures come as rendered. With every picture perturbed (a clean one 1 time in 64),
# the codes of occluded or rotated faces, which the picture cannot pin down, taught the encoder
# to hedge toward w_avg on every face: clean faces lost 8 dB.
CLEAN_SHARE = 0.5
PERTURB_P = 0.5
# Untruncated faces only. An upload can be any face the data holds, and ψ = 1 draws them at the
# data's spread; a first run on ψ in [0.5, 1] taught the encoder to shrink every code toward
# w_avg (regression slope 0.75 on ψ = 1 faces, latent error 0.03 -> 0.12, clean PSNR 35 -> 25 dB).
PSI_RANGE = (1.0, 1.0)
SHIFT_PX = 6 / 64  # of the image side
SCALE_RANGE = (0.75, 1.1)
ROTATE_DEG = 8.0
OCCLUDER_SIDE = (0.15, 0.35)  # of the image side
JPEG_QUALITY = (30, 90)


def perturb(img: np.ndarray, background: tuple[int, int, int], rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    """uint8 [R, R, 3] -> (the same face as an upload might show it, whether its code is still
    determined). Unchanged with probability CLEAN_SHARE, else a random subset of the
    perturbations, each with probability PERTURB_P; the background is the training one.
    A rotation (alignment does not undo it) or an occluder (it hides what may be glasses or a
    beard) leaves the code undetermined: a squared latent loss on those pictures rewards a code
    near w_avg, and three runs that had one taught the encoder to hedge on every face."""
    if rng.random() < CLEAN_SHARE:
        return img, True
    determined = True
    r = img.shape[0]
    bg = tuple(int(c) for c in background)
    out = Image.fromarray(img)
    if rng.random() < PERTURB_P:  # shift
        d = int(round(SHIFT_PX * r))
        out = out.rotate(0, translate=tuple(int(v) for v in rng.integers(-d, d + 1, 2)), fillcolor=bg)
    if rng.random() < PERTURB_P:  # scale about the centre
        s = max(1, round(r * rng.uniform(*SCALE_RANGE)))
        canvas = Image.new("RGB", (r, r), bg)
        canvas.paste(out.resize((s, s), Image.Resampling.LANCZOS), ((r - s) // 2, (r - s) // 2))
        out = canvas
    if rng.random() < PERTURB_P:
        out = out.rotate(rng.uniform(-ROTATE_DEG, ROTATE_DEG), Image.Resampling.BILINEAR, fillcolor=bg)
        determined = False
    arr = np.array(out)
    if rng.random() < PERTURB_P:  # another background colour
        arr[background_mask(arr, np.array(bg))] = rng.integers(0, 256, 3)
    if rng.random() < PERTURB_P:  # a partial occluder: a sticker, a hand, a frame's edge
        h, w = (np.round(rng.uniform(*OCCLUDER_SIDE, 2) * r)).astype(int)
        y, x = rng.integers(0, r - h + 1), rng.integers(0, r - w + 1)
        arr[y:y + h, x:x + w] = rng.integers(0, 256, 3)
        determined = False
    if rng.random() < PERTURB_P:
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, "JPEG", quality=int(rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1)))
        arr = np.asarray(Image.open(buf).convert("RGB"))
    return arr, determined


def load_encoder_file(path: Path) -> Encoder:
    """An encoder written by this tool (its config in the file's metadata)."""
    with safe_open(str(path), "pt") as f:
        cfg = json.loads(f.metadata()["encoder_config"])
        enc = Encoder(cfg["resolution"], cfg["w_dim"], cfg["channels"])
        enc.load_state_dict({k: f.get_tensor(k) for k in f.keys()})
    return enc.eval().requires_grad_(False)


class EncoderFinetune:
    def __init__(self, a):
        self.a, self.run = a, Path(a.run)
        self.bundle = load_bundle(a.model)
        self.g = self.bundle.generator.eval().requires_grad_(False)
        self.encoder = load_bundle_encoder(self.bundle)
        if self.encoder is None:
            raise SystemExit(f"model {self.bundle.name!r} ships no encoder to fine-tune")
        self.encoder.train().requires_grad_(True)
        self.framing = Framing.from_manifest(self.bundle.manifest)
        self.classifier = load_bundle_classifier(self.bundle) if a.feature_weight else None
        _, self.w_std = w_statistics(self.g)
        self.w_avg = self.g.mapping.w_avg.detach().float()
        self.opt = torch.optim.Adam(self.encoder.parameters(), lr=a.lr, betas=(0.9, 0.99))
        self.step, self.seconds = 0, 0.0

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor, np.ndarray, torch.Tensor]:
        """(true w [B, w_dim], clean faces float [B, 3, R, R], aligned uploads uint8 [B, R, R, 3],
        1.0 where the upload still determines its code [B])."""
        rng = np.random.default_rng([self.a.seed, step])
        z = torch.from_numpy(rng.standard_normal((self.a.batch, self.g.mapping.z_dim)).astype(np.float32))
        psi = torch.from_numpy(rng.uniform(*PSI_RANGE, (self.a.batch, 1)).astype(np.float32))
        with torch.no_grad():
            w = self.w_avg + psi * (self.g.mapping(z) - self.w_avg)
            clean = self.g.synthesis(broadcast(w, self.g.num_ws)).clamp(-1, 1)
        clean_u8 = ((clean + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        res = self.bundle.config.resolution
        background = self.framing.background if self.framing else tuple(int(c) for c in clean_u8[0, 0, 0])
        perturbed = [perturb(im, background, rng) for im in clean_u8]
        uploads = np.stack([align(im, res, self.framing).image for im, _ in perturbed])
        determined = torch.tensor([float(d) for _, d in perturbed])
        return w, clean, uploads, determined

    def train_step(self) -> dict[str, float]:
        w, clean, uploads, determined = self.batch(self.step)
        w_hat = self.encoder(to_float(torch.from_numpy(uploads)))
        latent = (((w_hat - w) / self.w_std).pow(2).mean(1) * determined).mean()
        recon = self.g.synthesis(broadcast(w_hat, self.g.num_ws))
        pixel = (recon - clean).abs().mean()
        loss = self.a.latent_weight * latent + self.a.pixel_weight * pixel
        terms = {"latent": float(latent.detach()), "pixel": float(pixel.detach())}
        if self.classifier is not None:
            feature = perceptual_distance(self.classifier, recon, clean).mean()
            loss = loss + self.a.feature_weight * feature
            terms["feature"] = float(feature.detach())
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.step += 1
        return terms

    def save(self) -> None:
        state = {"encoder": self.encoder.state_dict(), "optimizer": self.opt.state_dict(), "step": self.step,
                 "seconds": self.seconds, "generator_sha256": self.bundle.generator_sha256}
        torch.save(state, self.run / "state.tmp")
        (self.run / "state.tmp").replace(self.run / "state.pt")  # atomic: a crash never leaves half a file
        meta = {"encoder_config": json.dumps(self.encoder.config()),
                "finetune": json.dumps({"steps": self.step, "seconds": round(self.seconds, 1), "batch": self.a.batch,
                                        "lr": self.a.lr, "from_bundle": f"{self.bundle.name} v{self.bundle.version}",
                                        "weights": {"latent": self.a.latent_weight, "pixel": self.a.pixel_weight,
                                                    "feature": self.a.feature_weight}})}
        save_file({k: v.detach().contiguous() for k, v in self.encoder.state_dict().items()},
                  str(self.run / "encoder.tmp"), metadata=meta)
        (self.run / "encoder.tmp").replace(self.run / ENCODER_FILE)

    def load(self, path: Path) -> None:
        state = torch.load(path, weights_only=True)
        if state["generator_sha256"] != self.bundle.generator_sha256:
            raise SystemExit(f"{path} fine-tunes another generator than {self.bundle.name!r}'s: start a new --run")
        self.encoder.load_state_dict(state["encoder"])
        self.opt.load_state_dict(state["optimizer"])
        self.step, self.seconds = state["step"], state["seconds"]

    def train(self) -> None:
        self.run.mkdir(parents=True, exist_ok=True)
        if (self.run / "state.pt").exists():
            self.load(self.run / "state.pt")
            print(f"resumed from {self.run / 'state.pt'} at step {self.step}")
        log = open(self.run / "log.jsonl", "a")
        bar = tqdm(total=self.a.steps, initial=self.step, desc="encoder fine-tune", unit="step")
        while self.step < self.a.steps:
            began = time.perf_counter()
            terms = self.train_step()
            self.seconds += time.perf_counter() - began
            bar.update(1)
            bar.set_postfix({k: f"{v:.4f}" for k, v in terms.items()})
            if self.step % self.a.log_every == 0 or self.step == self.a.steps:
                log.write(json.dumps({"step": self.step, "seconds": round(self.seconds, 1), **terms}) + "\n")
                log.flush()
            if self.step % self.a.checkpoint_every == 0 or self.step == self.a.steps:
                self.save()
        bar.close()


def install(run: Path, model: str) -> None:
    """The run's encoder into the bundle: its manifest entry kept (framing too), the fine-tune recorded."""
    bundle = load_bundle(model)
    with safe_open(str(run / ENCODER_FILE), "pt") as f:
        record = (f.metadata() or {}).get("finetune")
    if record is None:
        raise SystemExit(f"{run / ENCODER_FILE} is not an encoder this tool wrote (no fine-tune record)")
    finetune = json.loads(record)
    shutil.copy(run / ENCODER_FILE, bundle.path / ENCODER_FILE)
    register_file(bundle.path, ENCODER_FILE, key="encoder", manifest_entry=bundle.manifest["encoder"] | {"finetune": finetune})
    print(f"installed {run / ENCODER_FILE} into {bundle.path} ({finetune['steps']} steps)")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="avatars64", help="bundle path or zoo name whose encoder to fine-tune")
    p.add_argument("--run", default="runs/encoder-ft", help="folder for state.pt, encoder.safetensors and log.jsonl")
    p.add_argument("--steps", type=int, default=3000, help="total steps (a resumed run continues to this)")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--latent-weight", type=float, default=1.0)
    p.add_argument("--pixel-weight", type=float, default=1.0)
    p.add_argument("--feature-weight", type=float, default=0.02, help="the classifier's perceptual distance; 0 = off "
                   "(avatars64's face-trunk classifier measures about 4 on these pictures, so 0.02 keeps it near the "
                   "pixel term)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--checkpoint-every", type=int, default=250)
    p.add_argument("--install", action="store_true", help="put the run's encoder into the bundle and stop")
    a = p.parse_args(argv)
    if a.install:
        return install(Path(a.run), a.model)
    torch.set_num_threads(a.threads)
    EncoderFinetune(a).train()


if __name__ == "__main__":
    main()
