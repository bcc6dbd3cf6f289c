"""Image encoder: image [N, 3, R, R] in [-1, 1] -> one w [N, w_dim] in the generator's W space.

It is trained together with the synthesis network (the synthesis network is its decoder, as in
ALAE), and later serves personalisation: a photo or drawing becomes an editable latent.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .networks import LRELU_GAIN, LRELU_SLOPE, FullyConnectedLayer


def to_float(images_u8: torch.Tensor) -> torch.Tensor:
    """uint8 [N, H, W, 3] -> float [N, 3, H, W] in [-1, 1]: what the encoder (and synthesis) use."""
    return images_u8.permute(0, 3, 1, 2).float() / 127.5 - 1.0


@torch.no_grad()
def encode_images(encoder: "Encoder", images_u8, batch: int = 500, desc: str | None = None) -> torch.Tensor:
    """uint8 [N, H, W, 3] (numpy) -> w [N, w_dim], a batch at a time (a progress bar when desc is given)."""
    starts = range(0, len(images_u8), batch)
    if desc:
        from tqdm import tqdm

        starts = tqdm(starts, desc=desc, unit=f"x{batch} images", leave=False)
    return torch.cat([encoder(to_float(torch.from_numpy(images_u8[i : i + batch]))) for i in starts])


class EqualConv2d(nn.Module):
    """3x3 conv with equalized learning rate (unit-scale weights, runtime gain)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 3):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.gain = 1.0 / math.sqrt(in_channels * kernel * kernel)

    def forward(self, x):
        return F.conv2d(x, self.weight * self.gain, self.bias, padding=self.weight.shape[-1] // 2)


class DownBlock(nn.Module):
    """conv -> lrelu -> conv -> lrelu -> 2x average pool, plus a pooled 1x1 residual path."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv0 = EqualConv2d(in_channels, in_channels)
        self.conv1 = EqualConv2d(in_channels, out_channels)
        self.skip = EqualConv2d(in_channels, out_channels, kernel=1)

    def forward(self, x):
        y = F.leaky_relu(self.conv0(x), LRELU_SLOPE) * LRELU_GAIN
        y = F.leaky_relu(self.conv1(y), LRELU_SLOPE) * LRELU_GAIN
        y = F.avg_pool2d(y, 2)
        return (y + self.skip(F.avg_pool2d(x, 2))) / math.sqrt(2)


class Encoder(nn.Module):
    def __init__(self, resolution: int, w_dim: int, channels: dict[int, int]):
        super().__init__()
        self.resolution, self.w_dim = resolution, w_dim
        self.channels = {int(k): int(v) for k, v in channels.items()}
        self.fromrgb = EqualConv2d(3, self.channels[resolution], kernel=1)
        res = resolution
        blocks = []
        while res > 4:
            blocks.append(DownBlock(self.channels[res], self.channels[res // 2]))
            res //= 2
        self.blocks = nn.ModuleList(blocks)
        self.fc = FullyConnectedLayer(self.channels[4] * 16, w_dim, activation="lrelu")
        self.out = FullyConnectedLayer(w_dim, w_dim)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        assert img.ndim == 4 and img.shape[1:] == (3, self.resolution, self.resolution), (
            f"img must be [N, 3, {self.resolution}, {self.resolution}], got {list(img.shape)}"
        )
        x = F.leaky_relu(self.fromrgb(img), LRELU_SLOPE) * LRELU_GAIN
        for block in self.blocks:
            x = block(x)
        return self.out(self.fc(x.flatten(1)))

    def config(self) -> dict:
        return {"resolution": self.resolution, "w_dim": self.w_dim, "channels": {str(k): v for k, v in self.channels.items()}}


ENCODER_FILE = "encoder.safetensors"


def load_bundle_encoder(bundle) -> Encoder | None:
    """The encoder shipped in a bundle (manifest key "encoder"), or None if it has none."""
    info = bundle.manifest.get("encoder")
    if not info or ENCODER_FILE not in bundle.manifest["files"]:
        return None
    enc = Encoder(info["resolution"], info["w_dim"], info["channels"])
    enc.load_state_dict({k: v.float() for k, v in bundle.load_tensors(ENCODER_FILE).items()})
    return enc.eval().requires_grad_(False)
