"""Progressive growing of a trained stage-1 autoencoder to twice its resolution (as ProGAN).

Growing keeps every trained weight and adds one block at each end:
- synthesis: a new top block (conv0 up, conv1, ToRGB) at 2R. The skip architecture already sums
  each block's ToRGB output onto the upsampled image of the blocks below, so fading in is one
  scale on the new ToRGB: image = upsample(image_R) + alpha * torgb_2R(x). At alpha = 0 the grown
  network draws exactly the upsampled image it drew before growing; no weight has to be damped.
- encoder: a new fromrgb + down block at 2R in front of the trained ones. While it fades in, the
  old fromrgb keeps reading the image average-pooled to R (`EncoderFade`), and the two paths are
  mixed at R: features = alpha * block_2R(fromrgb_2R(img)) + (1 - alpha) * fromrgb_R(pool(img)).
  At alpha = 0 the grown encoder gives exactly the old encoder's code of the pooled image.

alpha is a pure function of the step and of `Growth` (where the fade started and how long it
lasts), which the checkpoint stores: a resumed run fades exactly as an uninterrupted one.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import safe_open
from torch import nn

from ..attribute_classifier import AttributeClassifier
from ..encoder import EqualConv2d, Encoder
from ..networks import LRELU_GAIN, LRELU_SLOPE, GeneratorConfig, SynthesisNetwork


@dataclass(frozen=True)
class Growth:
    """Where a grown checkpoint came from and how its new top block fades in."""

    from_resolution: int  # Resolution of the checkpoint it was grown from (64 for avatars128).
    from_step: int  # Training step at which it was grown: alpha is 0 there.
    fade_steps: int  # Steps over which alpha rises linearly from 0 to 1.

    def alpha(self, step: int) -> float:
        """Weight of the new top block at `step`: 0 when grown, 1 from from_step + fade_steps on."""
        if self.fade_steps <= 0:
            return 1.0
        return min(1.0, max(0.0, (step - self.from_step) / self.fade_steps))

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str | None) -> "Growth | None":
        return cls(**json.loads(text)) if text else None


def training_since_growth(meta: dict, parent: str | Path) -> tuple[int, float]:
    """(steps, seconds) a grown stage-1 checkpoint trained after it grew. Its metadata (`meta`:
    step, seconds, growth) carries on the counts of the checkpoint it grew from, `parent`."""
    with safe_open(str(parent), "pt") as f:
        parent_seconds = float((f.metadata() or {}).get("seconds", 0))
    return int(meta["step"]) - json.loads(meta["growth"])["from_step"], float(meta["seconds"]) - parent_seconds


def grow_synthesis(low: SynthesisNetwork, cfg: GeneratorConfig) -> SynthesisNetwork:
    """A synthesis network for `cfg` (twice low's resolution) whose blocks up to low's resolution
    are copies of low's, and whose top block is freshly initialised (from torch's global RNG)."""
    if cfg.resolution != 2 * low.resolution:
        raise ValueError(f"can only grow {low.resolution} px to {2 * low.resolution} px, not to {cfg.resolution}")
    for res in low.block_resolutions:  # a changed channel count would leave trained weights behind
        block = getattr(low, f"b{res}")
        if block.conv1.weight.shape[0] != cfg.channels_at(res):
            raise ValueError(f"{res} px block has {block.conv1.weight.shape[0]} channels, cfg says {cfg.channels_at(res)}")
    grown = SynthesisNetwork(cfg)
    missing, unexpected = grown.load_state_dict(low.state_dict(), strict=False)
    new_block = f"b{cfg.resolution}."
    assert not unexpected and all(k.startswith(new_block) for k in missing), (missing, unexpected)
    return grown


class EncoderFade(nn.Module):
    """The grown encoder's input while its new top block fades in: the old fromrgb, reading the
    image pooled to the old resolution, mixed with the new block's output (see module doc)."""

    def __init__(self, low_channels: int):  # Channels of the old encoder's fromrgb (16 in avatars64).
        super().__init__()
        self.fromrgb_low = EqualConv2d(3, low_channels, kernel=1)

    def forward(
        self,
        encoder: Encoder,  # The grown encoder (resolution 2R).
        img: torch.Tensor,  # [N, 3, 2R, 2R] in [-1, 1].
        alpha: float,  # Weight of the new top block, in [0, 1].
    ) -> torch.Tensor:  # w [N, w_dim]
        if alpha >= 1.0:  # faded in: the plain encoder (and no cost for the old path)
            return encoder(img)
        assert img.ndim == 4 and img.shape[1:] == (3, encoder.resolution, encoder.resolution), list(img.shape)
        low = F.leaky_relu(self.fromrgb_low(F.avg_pool2d(img, 2)), LRELU_SLOPE) * LRELU_GAIN  # [N, C_R, R, R]
        if alpha <= 0.0:
            x = low
        else:  # alpha * top + (1 - alpha) * low, not a lerp: exact at both ends
            top = encoder.blocks[0](F.leaky_relu(encoder.fromrgb(img), LRELU_SLOPE) * LRELU_GAIN)  # [N, C_R, R, R]
            x = alpha * top + (1 - alpha) * low
        for block in encoder.blocks[1:]:
            x = block(x)
        return encoder.out(encoder.fc(x.flatten(1)))


def grow_encoder(low: Encoder, channels: dict[int, int]) -> tuple[Encoder, EncoderFade]:
    """An encoder at twice low's resolution: a new fromrgb and down block at the top (fresh
    weights from torch's global RNG), then low's blocks and heads; and the `EncoderFade` that holds
    low's fromrgb for the fade-in."""
    res = 2 * low.resolution
    if any(channels[r] != c for r, c in low.channels.items()):
        raise ValueError(f"channels {channels} change the trained encoder's {low.channels}")
    grown = Encoder(res, low.w_dim, channels)
    _load_below_new_block(grown, low)
    fade = EncoderFade(low.channels[low.resolution])
    fade.fromrgb_low.load_state_dict(low.fromrgb.state_dict())
    return grown, fade


def grow_classifier(low: AttributeClassifier) -> AttributeClassifier:
    """An attribute classifier at twice low's resolution: a new fromrgb and down block in front
    (fresh weights, half low's width so every trained block keeps its channel count), then low's
    blocks, features and heads. Fine-tuning it costs a fraction of training one from scratch:
    only the new block has to learn what the trained ones already expect."""
    if low.width % 2:
        raise ValueError(f"a classifier of odd width {low.width} cannot be grown (the new block has half its width)")
    # A face trunk keeps its weights and reads the same face, in a box twice the size.
    face = low.face_config()
    if face:
        face["face_box"] = [2 * v for v in face["face_box"]]
    grown = AttributeClassifier(low.vocab, resolution=2 * low.resolution, width=low.width // 2, **face)
    _load_below_new_block(grown, low)
    return grown


def _load_below_new_block(grown: nn.Module, low: nn.Module) -> None:
    """Copy a down-sampling network's trained weights into its grown copy: low's blocks[i] is
    grown's blocks[i + 1] (the new block from 2R to R comes first), heads as they were; only
    the new fromrgb and blocks[0] keep their fresh weights."""
    state = {}
    for k, v in low.state_dict().items():
        if k.startswith("blocks."):
            _, i, rest = k.split(".", 2)
            state[f"blocks.{int(i) + 1}.{rest}"] = v
        elif not k.startswith("fromrgb."):
            state[k] = v
    missing, unexpected = grown.load_state_dict(state, strict=False)
    assert not unexpected and all(k.startswith(("fromrgb.", "blocks.0.")) for k in missing), (missing, unexpected)
