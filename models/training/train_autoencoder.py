"""Stage 1 of the default-model recipe: train encoder + StyleGAN2 synthesis as an autoencoder.

Why reconstruction first: on a 2-core CPU an adversarial StyleGAN2 run from scratch is still
blurry and mode-collapsed after 20 minutes, while the same synthesis network trained as a
decoder learns every face's colours within minutes (shared/research/cpu-training-notes.md).
The encoder's W codes are later given a prior by the mapping network (train_mapping.py).

Losses, each for a reason:
- L1 on pixels: colours and layout.
- L1 on image gradients: edges (eyes, mouths, hair outlines) that pixel L1 leaves soft.
- cross-entropy of linear heads on w predicting every part label: W must name the parts, which
  speeds up learning and makes attribute directions in W linear (used by the editing feature).
- optional perceptual loss in a frozen attribute classifier (--feature-loss): pixel losses
  average away small parts; the classifier's activations keep eyes and mouths apart.
- optional L1 over each image's hardest pixels (--hard-pixel-weight): a detail a few pixels wide
  (a hoodie's hood and strings) that every mean-based loss lets the decoder leave out.

Progressive: the first `--steps-low` steps train at half resolution (cheap); then the last
block joins with its ToRGB scaled down, so the skip architecture fades it in smoothly.
Growing (--grow-from, growing.py): a trained checkpoint at half the dataset's resolution gets a
new top block in the synthesis network and the encoder, faded in over --fade-steps (ProGAN's
alpha); training continues the step count, phases and seconds of the grown checkpoint.

Sharpening (--adv-weight > 0, after the reconstruction has converged): a discriminator on
real vs reconstructed images adds the detail that L1 averages away, still anchored to each
input (as in VAE-GAN and VQGAN), so it cannot mode-collapse.

Checkpoints (`state.pt`, with optimizer states) go to --run every --checkpoint-every steps and on
Ctrl-C; `--resume` continues from it. `weights.safetensors` is the small weights-only copy that
can be committed and resumed from (optimizer states restart).
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import signal
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from . import dataset
from .classifier import masked_cross_entropy
from .growing import EncoderFade, Growth, grow_encoder, grow_synthesis
from ..encoder import Encoder, to_float
from ..networks import FullyConnectedLayer, Generator, SynthesisNetwork
from ..architectures import STAGE1_BY_RESOLUTION
from ..bundle import sha256_file
from ..latents import broadcast

DISC_ALONE_STEPS = 300  # a discriminator resumed from nothing trains this long before the generator feels it


def checkpoint_part(flat: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The state dict of one module (e.g. "ema_encoder") out of a flat stage-1 checkpoint."""
    return {k[len(prefix) + 1:]: v for k, v in flat.items() if k.startswith(prefix + ".")}


def gradient_l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    dx = lambda t: t[..., :, 1:] - t[..., :, :-1]  # noqa: E731
    dy = lambda t: t[..., 1:, :] - t[..., :-1, :]  # noqa: E731
    return (dx(a) - dx(b)).abs().mean() + (dy(a) - dy(b)).abs().mean()


def hardest_pixels_l1(a: torch.Tensor, b: torch.Tensor, share: float) -> torch.Tensor:
    """Mean L1 over each image's worst `share` of pixels. Thin, high-contrast details (a hoodie's
    strings, a pupil) are a few dozen of 4,096 pixels: plain L1 barely feels them missing, and the
    decoder learns to leave them out. Here the same pixels carry the whole loss until drawn."""
    err = (a - b).abs().mean(1).flatten(1)  # [N, H*W], averaged over colour channels
    k = max(1, round(share * err.shape[1]))
    return err.topk(k, dim=1).values.mean()


def perceptual_distance(net, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """LPIPS-style distance in the classifier: per-position unit-normalised activations of every
    block (where eyes and mouths are still resolved), plus the final features (the FD space)."""
    unit = lambda t: t / (t.square().sum(1, keepdim=True).sqrt() + 1e-6)  # noqa: E731
    total = 0.0
    maps_a, maps_b = net.feature_maps(a), net.feature_maps(b)
    for fa, fb in zip(maps_a[:-1], maps_b[:-1]):
        total = total + (unit(fa) - unit(fb)).square().sum(1).mean()
    return total + (maps_a[-1] - maps_b[-1]).square().mean()


class LabelHeads(nn.Module):
    """One linear classifier per part, reading w."""

    def __init__(self, w_dim: int, vocab: dict[str, list[str]]):
        super().__init__()
        self.heads = nn.ModuleDict({h: nn.Linear(w_dim, len(v)) for h, v in vocab.items()})

    def loss(self, w: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        total = 0.0
        for i, head in enumerate(self.heads.values()):
            total = total + masked_cross_entropy(head(w), labels[:, i])
        return total / len(self.heads)


class Discriminator(nn.Module):
    """Real/fake critic for the sharpening phase: the encoder's conv trunk and a scalar head."""

    def __init__(self, resolution: int, channels: dict[int, int]):  # channels: the encoder's, {res: channels}
        super().__init__()
        self.trunk = Encoder(resolution, 128, channels)
        self.head = FullyConnectedLayer(128, 1)

    def forward(self, img: torch.Tensor) -> torch.Tensor:  # [N, 3, R, R] -> logits [N]
        return self.head(F.leaky_relu(self.trunk(img), 0.2)).squeeze(1)


class AutoencoderTrainer:
    def __init__(self, args):
        self.args = args
        self.run = Path(args.run)
        self.run.mkdir(parents=True, exist_ok=True)
        images, labels = dataset.load_split(args.data, "train")
        self.images = torch.from_numpy(images)
        self.labels = torch.from_numpy(labels)
        held_images, _ = dataset.load_split(args.data, "heldout")
        self.preview = torch.from_numpy(held_images[:16])
        vocab = json.loads((Path(args.data) / "attributes.json").read_text())["heads"]
        cfg, self.encoder_channels = STAGE1_BY_RESOLUTION[self.images.shape[1]]  # the data decide the architecture
        self.generator = Generator(cfg)
        self.encoder = Encoder(cfg.resolution, cfg.w_dim, self.encoder_channels)
        self.heads = LabelHeads(cfg.w_dim, vocab)
        self.ema = copy.deepcopy(self.generator.synthesis).requires_grad_(False)
        self.ema_encoder = copy.deepcopy(self.encoder).requires_grad_(False)
        params = list(self.generator.synthesis.parameters()) + list(self.encoder.parameters()) + list(self.heads.parameters())
        self.opt = torch.optim.Adam(params, lr=args.lr, betas=(0.9, 0.99))
        self.threads_tuned = False  # --threads auto measures at the first step, then every 300
        self.disc = None
        if args.adv_weight > 0:  # sharpening phase (see train_step)
            self.disc = Discriminator(cfg.resolution, self.encoder_channels)
            self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=args.lr, betas=(0.0, 0.99))
        self.step = 0
        self.warmup_until = 0  # set when resuming without optimizer state (see load)
        self.disc_born = 0  # step the discriminator started training (later when a checkpoint had none)
        self.seconds = 0.0  # training wall time accumulated over all runs (for the manifest)
        # Which losses trained which steps, across resumes with different flags (for the manifest).
        self.phases: list[dict] = []
        # Set when this run was grown from a lower resolution (start_growth): the fade-in schedule
        # and the old encoder input that fades out (raw and EMA).
        self.growth: Growth | None = None
        self.encoder_fade: EncoderFade | None = None
        self.ema_encoder_fade: EncoderFade | None = None
        self.feature_net = None
        if args.feature_loss:
            from .classifier import load_classifier

            self.feature_net = load_classifier(args.feature_loss).eval().requires_grad_(False)

    # -- checkpoints ---------------------------------------------------------------------------
    def modules(self) -> dict[str, nn.Module]:
        mods = {"synthesis": self.generator.synthesis, "encoder": self.encoder, "heads": self.heads,
                "ema_synthesis": self.ema, "ema_encoder": self.ema_encoder}
        if self.growth is not None:
            mods |= {"encoder_fade": self.encoder_fade, "ema_encoder_fade": self.ema_encoder_fade}
        return mods | ({"disc": self.disc} if self.disc is not None else {})

    def save(self) -> None:
        state = {k: m.state_dict() for k, m in self.modules().items()}
        state |= {"opt": self.opt.state_dict(), "step": self.step, "seconds": self.seconds, "warmup_until": self.warmup_until,
                  "disc_born": self.disc_born,
                  "phases": json.dumps(self.phases)}
        if self.growth is not None:
            state["growth"] = self.growth.to_json()
        if self.disc is not None:
            state["opt_d"] = self.opt_d.state_dict()
        torch.save(state, self.run / "state.tmp")
        (self.run / "state.tmp").replace(self.run / "state.pt")  # atomic: a crash never leaves half a file
        flat = {f"{k}.{n}": t.cpu().contiguous() for k, m in self.modules().items() for n, t in m.state_dict().items()}
        save_file(flat, str(self.run / "weights.safetensors"), metadata=self.metadata())

    def save_compact(self, path: Path) -> None:
        """EMA weights + label heads only (~half the size): enough to resume, small enough to commit.

        Resuming from it restarts the raw weights from the EMA ones and the optimizer from zero.
        """
        keep = ("ema_synthesis", "ema_encoder", "ema_encoder_fade", "heads")
        flat = {f"{k}.{n}": t.cpu().contiguous() for k, m in self.modules().items() if k in keep for n, t in m.state_dict().items()}
        save_file(flat, str(path), metadata=self.metadata())

    def metadata(self) -> dict[str, str]:
        meta = {"step": str(self.step), "seconds": str(self.seconds), "phases": json.dumps(self.phases)}
        if self.growth is not None:  # the fade-in schedule; alpha is a function of it and the step
            meta |= {"growth": self.growth.to_json(), "fade_alpha": str(self.growth.alpha(self.step))}
        return meta

    def phase(self) -> dict:
        """The losses and schedule these flags train with."""
        a = self.args
        losses = {"l1": 1.0, "image_gradient_l1": a.grad_weight, "part_labels_on_w": a.label_weight}
        if a.hard_pixel_weight > 0:
            losses["hardest_pixels_l1"] = a.hard_pixel_weight
            losses["hardest_pixels_share"] = a.hard_pixel_share
        if a.feature_loss:
            losses["classifier_perceptual"] = a.feature_weight
        if a.adv_weight > 0:
            losses["adversarial_balanced"] = a.adv_weight
            losses["adversarial_from_step"] = a.adv_start
        phase = {"losses": losses, "lr": a.lr, "decay_start": a.decay_start, "until": a.steps, "batch": a.batch}
        if a.feature_loss:  # which classifier: a run may switch to a better one mid-phase
            phase["perceptual_network_sha256"] = sha256_file(a.feature_loss)[:16]
        if self.growth is not None:  # a grown run says at which resolution its phases trained
            phase["resolution"] = self.generator.cfg.resolution
        if a.device != "cpu":  # steps on a GPU are not the CPU's steps, nor its seconds
            phase["device"] = torch.cuda.get_device_name(a.device)
        return phase

    def record_phase(self) -> None:
        current = self.phase()
        same = lambda p: {k: v for k, v in p.items() if k not in ("from_step", "until")}  # noqa: E731
        if self.phases and same(self.phases[-1]) == same(current):  # the same recipe, maybe run longer
            self.phases[-1]["until"] = current["until"]
            return
        if not self.phases and self.step > 0:  # a checkpoint from before phases were recorded
            self.phases.append({"from_step": 0, "losses": {"l1": 1.0, "image_gradient_l1": 1.0, "part_labels_on_w": 0.05},
                                "lr": 2e-3, "decay_start": None, "until": self.step, "batch": 16})
        if self.phases:
            self.phases[-1]["until"] = self.step  # where the previous phase actually ended
        self.phases.append({"from_step": self.step, **current})

    def load(self, path: Path) -> None:
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            flat = load_file(str(path))
            with safe_open(str(path), "pt") as f:
                meta = f.metadata()
            if meta.get("growth"):
                self.start_growth(Growth.from_json(meta["growth"]))
            for k, m in self.modules().items():
                part = checkpoint_part(flat, k)
                if not part and k in ("synthesis", "encoder", "encoder_fade"):  # a compact checkpoint: EMA only
                    part = checkpoint_part(flat, f"ema_{k}")
                if part or k != "disc":
                    m.load_state_dict(part)
                else:  # a discriminator starts fresh when the checkpoint has none
                    self.disc_born = int(meta["step"])
            self.step, self.seconds = int(meta["step"]), float(meta["seconds"])
            self.phases = json.loads(meta.get("phases", "[]"))
            # Adam restarts from zero moments here: its first steps move every weight by ~lr,
            # which undoes hours of training unless the rate ramps up again.
            self.warmup_until = self.step + self.args.resume_warmup
        else:
            state = torch.load(path, weights_only=True, map_location="cpu")
            if state.get("growth"):
                self.start_growth(Growth.from_json(state["growth"]))
            for k, m in self.modules().items():
                if k in state or k != "disc":
                    m.load_state_dict(state[k])
            self.opt.load_state_dict(state["opt"])
            if self.disc is not None and "opt_d" in state:
                self.opt_d.load_state_dict(state["opt_d"])
            self.step, self.seconds = state["step"], state["seconds"]
            self.warmup_until = state.get("warmup_until", 0)
            self.disc_born = state.get("disc_born", 0) if "disc" in state else state["step"]
            self.phases = json.loads(state.get("phases", "[]"))
        print(f"resumed from {path} at step {self.step}")

    def start_growth(self, growth: Growth) -> None:
        """Make this a grown run: the old encoder input (raw and EMA) joins the modules and the optimizer."""
        self.growth = growth
        self.encoder_fade = EncoderFade(self.encoder_channels[growth.from_resolution])
        self.ema_encoder_fade = copy.deepcopy(self.encoder_fade).requires_grad_(False)
        self.opt.add_param_group({"params": list(self.encoder_fade.parameters())})

    def grow_from(self, path: Path) -> None:
        """Start from a stage-1 checkpoint at half the data's resolution (growing.py). Its EMA
        weights start both the raw and the EMA networks (as resuming from a compact checkpoint
        does), the new top blocks are fresh, and the optimizer ramps up as after any resume."""
        from safetensors import safe_open

        cfg = self.generator.cfg
        low_cfg, low_channels = STAGE1_BY_RESOLUTION[cfg.resolution // 2]
        flat = load_file(str(path))
        with safe_open(str(path), "pt") as f:
            meta = f.metadata()
        if meta.get("growth") and Growth.from_json(meta["growth"]).alpha(int(meta["step"])) < 1:
            raise ValueError(f"{path} is still fading in its own top block: finish that before growing again")
        low_synthesis = SynthesisNetwork(low_cfg)
        low_synthesis.load_state_dict(checkpoint_part(flat, "ema_synthesis"))
        low_encoder = Encoder(low_cfg.resolution, low_cfg.w_dim, low_channels)
        low_encoder.load_state_dict(checkpoint_part(flat, "ema_encoder"))
        self.step, self.seconds = int(meta["step"]), float(meta["seconds"])
        self.phases = json.loads(meta.get("phases", "[]"))
        self.warmup_until = self.step + self.args.resume_warmup  # Adam restarts from zero moments
        self.start_growth(Growth(low_cfg.resolution, self.step, self.args.fade_steps))
        synthesis = grow_synthesis(low_synthesis, cfg)
        encoder, fade = grow_encoder(low_encoder, self.encoder_channels)
        # Into the modules the optimizer already holds: copy, never replace.
        for raw, ema, grown in ((self.generator.synthesis, self.ema, synthesis), (self.encoder, self.ema_encoder, encoder),
                                (self.encoder_fade, self.ema_encoder_fade, fade)):
            raw.load_state_dict(grown.state_dict())
            ema.load_state_dict(grown.state_dict())
        self.heads.load_state_dict(checkpoint_part(flat, "heads"))
        print(f"grew {path} ({low_cfg.resolution} px, step {self.step}) to {cfg.resolution} px; "
              f"top block fades in over {self.args.fade_steps} steps")

    def to_device(self) -> None:
        """Move every network, the perceptual one and the optimizers' moments to --device (after
        loading: a checkpoint is read on the CPU, and growth adds modules while it loads). The
        data stay on the CPU; each step's batch is picked there, so the batches match a CPU run."""
        device = torch.device(self.args.device)
        for m in [*self.modules().values(), *([self.feature_net] if self.feature_net is not None else [])]:
            m.to(device)  # in place: the optimizers keep holding the same parameters
        for opt in [self.opt, *([self.opt_d] if self.disc is not None else [])]:
            for state in opt.state.values():
                for k, v in state.items():
                    if torch.is_tensor(v) and k != "step":  # Adam keeps its step count on the CPU
                        state[k] = v.to(device)
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed shapes: pick each conv's fastest kernel once

    def top_alpha(self) -> float:
        """Weight of the grown top block now (1 when this run was not grown)."""
        return 1.0 if self.growth is None else self.growth.alpha(self.step)

    def encode(self, img: torch.Tensor, ema: bool = False) -> torch.Tensor:
        """img [N, 3, R, R] -> w [N, w_dim], through the fading encoder input while growing."""
        encoder, fade = (self.ema_encoder, self.ema_encoder_fade) if ema else (self.encoder, self.encoder_fade)
        return encoder(img) if fade is None else fade(encoder, img, self.top_alpha())

    # -- training ------------------------------------------------------------------------------
    def resolution(self) -> int:
        low = self.growth is None and self.step < self.args.steps_low  # a grown run is past its low steps
        return self.generator.cfg.resolution // 2 if low else self.generator.cfg.resolution

    def learning_rate(self) -> float:
        """A pure function of the step (so resume stays exact): constant, a linear ramp after a
        resume without optimizer state, and a linear decay to 0 from --decay-start to --steps."""
        a, lr = self.args, self.args.lr
        if self.step < self.warmup_until:
            lr *= 1 - (self.warmup_until - self.step) / (a.resume_warmup + 1)
        if a.decay_start is not None and self.step >= a.decay_start:
            lr *= max(0.0, (a.steps - self.step) / max(1, a.steps - a.decay_start))
        return lr

    def adversarial_weight(self) -> float:
        """0 until --adv-start (the discriminator trains alone first: an untrained one's gradient
        is noise that wrecks the reconstruction), then ramping to --adv-weight over 500 steps."""
        a = self.args
        start = a.adv_start
        if self.disc_born > 0:  # resumed without one: the new discriminator trains alone first
            start = max(start, self.disc_born + DISC_ALONE_STEPS)
        if self.disc is None or self.step < start:
            return 0.0
        return a.adv_weight * min(1.0, (self.step - start + 1) / 500)

    def train_step(self) -> dict[str, float]:
        a = self.args
        for group in self.opt.param_groups:
            group["lr"] = self.learning_rate()
        # Batch and noise are pure functions of (seed, step): a resumed run takes exactly the
        # steps an uninterrupted one would have taken.
        torch.manual_seed(a.seed * 1_000_003 + self.step)
        if self.step == a.steps_low and a.steps_low > 0 and self.growth is None:
            self.fade_in_last_block()
        idx = torch.randint(len(self.images), (a.batch,))
        real = to_float(self.images[idx]).to(a.device)
        labels = self.labels[idx].to(a.device)
        res = self.resolution()
        w = self.encode(real)
        ws = broadcast(w, self.generator.num_ws)
        fake = self.generator.synthesis(ws, noise_mode="random", max_resolution=res, top_alpha=self.top_alpha())
        target = F.avg_pool2d(real, real.shape[-1] // res) if res < real.shape[-1] else real
        l1 = (fake - target).abs().mean()
        grad = gradient_l1(fake, target)
        label = self.heads.loss(w, labels)
        loss = l1 + a.grad_weight * grad + a.label_weight * label
        logs = {"l1": l1.item(), "grad": grad.item(), "label": label.item()}
        if a.hard_pixel_weight > 0:
            hard = hardest_pixels_l1(fake, target, a.hard_pixel_share)
            loss = loss + a.hard_pixel_weight * hard
            logs["hard"] = hard.item()
        if self.feature_net is not None and res == real.shape[-1]:
            feat = perceptual_distance(self.feature_net, fake, real)
            loss = loss + a.feature_weight * feat
            logs["feature"] = feat.item()
        adv_weight = self.adversarial_weight()
        if adv_weight > 0 and res == real.shape[-1]:
            adv = F.softplus(-self.disc(fake)).mean()
            # VQGAN's adaptive weight: scale the adversarial gradient to the reconstruction
            # gradient at the last layer, so neither swamps the other as their sizes drift.
            last = getattr(self.generator.synthesis, f"b{res}").torgb.weight
            g_rec = torch.autograd.grad(loss, last, retain_graph=True)[0].norm()
            g_adv = torch.autograd.grad(adv, last, retain_graph=True)[0].norm()
            loss = loss + adv_weight * (g_rec / (g_adv + 1e-6)).clamp(max=100.0).detach() * adv
            logs["adv"] = adv.item()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        if self.disc is not None and res == real.shape[-1]:
            logs["d"] = self.discriminator_step(real, fake.detach())
        with torch.no_grad():  # EMA weights are what ships: smoother than the raw iterate
            pairs = [(self.ema, self.generator.synthesis), (self.ema_encoder, self.encoder)]
            if self.growth is not None:
                pairs.append((self.ema_encoder_fade, self.encoder_fade))
            for ema, raw in pairs:
                for pe, pr in zip(ema.parameters(), raw.parameters()):
                    pe.lerp_(pr, 1 - a.ema)
                for be, br in zip(ema.buffers(), raw.buffers()):
                    be.copy_(br)
        return logs

    def discriminator_step(self, real: torch.Tensor, fake: torch.Tensor) -> float:
        """Logistic loss; R1 penalty on reals every 8 steps (lazy regularisation, as StyleGAN2)."""
        loss = F.softplus(self.disc(fake)).mean() + F.softplus(-self.disc(real)).mean()
        if self.step % 8 == 0:
            real = real.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(self.disc(real).sum(), real, create_graph=True)
            loss = loss + self.args.r1 / 2 * grad.square().sum([1, 2, 3]).mean() * 8
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        return loss.item()

    def tune_threads(self) -> None:
        """--threads auto: time a few steps with 1 thread and with every core, keep the faster.

        Steps are functions of (seed, step), so the probe steps are ordinary training steps.
        """
        if self.args.threads != "auto" or (self.step % 300 != 0 and self.threads_tuned):
            return
        self.threads_tuned = True
        timings = {}
        for n in sorted({1, os.cpu_count() or 1}):
            torch.set_num_threads(n)
            t = time.perf_counter()
            for _ in range(3):
                self.train_step()
                self.step += 1
            timings[n] = time.perf_counter() - t
        best = min(timings, key=timings.get)
        torch.set_num_threads(best)
        print(f"step {self.step}: {best} thread(s) ({', '.join(f'{n}: {t / 3:.2f}s/step' for n, t in timings.items())})")

    def fade_in_last_block(self) -> None:
        last = getattr(self.generator.synthesis, f"b{self.generator.cfg.resolution}")
        last.torgb.weight.data.mul_(0.1)
        print(f"step {self.step}: growing to {self.generator.cfg.resolution} px")

    @torch.no_grad()
    def write_samples(self) -> None:
        from PIL import Image

        real = to_float(self.preview).to(self.args.device)
        ws = broadcast(self.encode(real, ema=True), self.generator.num_ws)
        fake = self.ema(ws, noise_mode="const", max_resolution=self.resolution(), top_alpha=self.top_alpha())
        fake = F.interpolate(fake, size=real.shape[-1], mode="nearest")
        rows = torch.cat([real, fake.clamp(-1, 1)], dim=2)  # real above, reconstruction below
        grid = ((rows + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()
        grid = np.concatenate(list(grid), axis=1)
        Image.fromarray(grid).save(self.run / f"samples_{self.step:06d}.png")
        Image.fromarray(grid).save(self.run / "samples_latest.png")

    def train(self) -> None:
        from tqdm import tqdm

        a = self.args
        if a.resume:
            self.load(Path(a.resume))
        elif a.grow_from:
            self.grow_from(Path(a.grow_from))
        self.to_device()
        self.record_phase()
        stop = {"now": False}
        signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
        # Others pause long runs (SIGSTOP/SIGCONT) while they measure: the step a pause fell in
        # is not counted in `seconds`, the training time the manifest reports.
        paused = {"during_step": False}
        signal.signal(signal.SIGCONT, lambda *_: paused.update(during_step=True))
        log = open(self.run / "log.jsonl", "a")
        bar = tqdm(total=a.steps, initial=self.step, unit="step", desc="autoencoder")
        t_last = time.time()
        budget_end = self.seconds + a.budget_seconds if a.budget_seconds else float("inf")
        try:
            while self.step < a.steps and not stop["now"] and self.seconds < budget_end:
                self.tune_threads()
                logs = self.train_step()
                self.step += 1
                now = time.time()
                if not paused["during_step"]:
                    self.seconds += now - t_last
                paused["during_step"] = False
                t_last = now
                bar.update(1)
                if self.step % 50 == 0:
                    bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()})
                    alpha = {"alpha": round(self.top_alpha(), 4)} if self.growth is not None else {}
                    log.write(json.dumps({"step": self.step, "seconds": round(self.seconds, 1), "res": self.resolution(),
                                          **alpha, **logs}) + "\n")
                    log.flush()
                if self.step % a.sample_every == 0:
                    self.write_samples()
                if self.step % a.checkpoint_every == 0:
                    self.save()
        except KeyboardInterrupt:
            print("interrupted: saving a checkpoint")
        self.save()
        self.save_compact(self.run / "compact.safetensors")
        self.write_samples()
        bar.close()


def checkpoint_step(run: Path) -> int:
    """The step a run's checkpoint reached (0 when it has none), from the weights file's metadata
    (written with state.pt at every checkpoint), without loading the 75 MB state. `run` may also
    be a checkpoint .safetensors file itself (a committed compact checkpoint)."""
    weights = Path(run) if str(run).endswith(".safetensors") else Path(run) / "weights.safetensors"
    if not weights.is_file():
        return 0
    from safetensors import safe_open

    with safe_open(str(weights), "pt") as f:
        return int(f.metadata()["step"])


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", default="data/avatars64", help="dataset folder from `avatarforge dataset`")
    p.add_argument("--run", default="runs/avatars64-ae", help="folder for checkpoints, samples and log")
    p.add_argument("--steps", type=int, default=30000, help="total steps (including --steps-low)")
    p.add_argument("--steps-low", type=int, default=4000, help="steps at half resolution first")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--decay-start", type=int, default=None,
                   help="step from which the learning rate falls linearly to 0 at --steps (default: constant)")
    p.add_argument("--resume-warmup", type=int, default=200,
                   help="learning-rate ramp (steps) after resuming from weights without optimizer state")
    p.add_argument("--ema", type=float, default=0.999, help="EMA decay of the shipped weights")
    p.add_argument("--grad-weight", type=float, default=1.0)
    p.add_argument("--label-weight", type=float, default=0.05)
    p.add_argument("--hard-pixel-weight", type=float, default=0.0,
                   help="weight of an L1 over each image's worst pixels (thin details); 0 = off")
    p.add_argument("--hard-pixel-share", type=float, default=0.02,
                   help="share of each image's pixels that --hard-pixel-weight averages over")
    p.add_argument("--adv-weight", type=float, default=0.0,
                   help="sharpening phase: weight of a (gradient-balanced) adversarial loss; 0 = off")
    p.add_argument("--adv-start", type=int, default=0,
                   help="step from which the generator feels the adversarial loss (the discriminator trains from the first step)")
    p.add_argument("--r1", type=float, default=1.0, help="R1 penalty of the sharpening discriminator")
    p.add_argument("--feature-loss", default=None, help="classifier bundle file for a feature loss")
    p.add_argument("--feature-weight", type=float, default=0.1)
    p.add_argument("--sample-every", type=int, default=500)
    p.add_argument("--checkpoint-every", type=int, default=500)
    p.add_argument("--threads", default="auto",
                   help="torch threads, or 'auto': re-measure 1 vs all cores every 300 steps and keep the faster "
                        "(on a shared machine two threads can be several times slower than one)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu",
                   help="cpu or cuda[:N]. Steps on a GPU differ from the CPU's in the last bits; the "
                        "checkpoint's phase record names the GPU, so its steps and seconds stay apart")
    p.add_argument("--budget-seconds", type=float, default=None,
                   help="stop (and checkpoint) after this many seconds of training in this invocation, "
                        "pauses not counted: equal budgets for compared runs")
    p.add_argument("--resume", default=None, help="state.pt or weights.safetensors to continue from")
    p.add_argument("--grow-from", default=None,
                   help="stage-1 checkpoint (.safetensors) at half the data's resolution to grow from (ignored with --resume, "
                        "whose checkpoint already records its growth)")
    p.add_argument("--fade-steps", type=int, default=2000,
                   help="with --grow-from: steps over which the new top block fades in (alpha 0 -> 1)")
    return p


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    if args.threads != "auto":
        torch.set_num_threads(int(args.threads))
    torch.manual_seed(args.seed)
    AutoencoderTrainer(args).train()


if __name__ == "__main__":
    main()
