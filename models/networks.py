"""StyleGAN2 generator: mapping network (z -> w) and synthesis network (ws -> image).

Reads top to bottom: equalized-lr layers, the modulated convolution as a plain function,
then the modules that own parameters and call it. Parameter names follow NVlabs'
stylegan2-ada-pytorch (`mapping.fc0.weight`, `synthesis.b8.conv0.affine.bias`, ...) so their
checkpoints map onto ours by name.

Differences from NVlabs, on purpose:
- Modulation is always applied to activations (x * s -> conv with the shared weight -> * demod),
  NVlabs' non-fused path. It batches on CPU and exports to ONNX/TensorRT with a dynamic batch.
- 2x upsampling is bilinear (`align_corners=False`) by default, which is the [1,3,3,1] FIR
  filter of StyleGAN2 with replicated instead of zero borders; one standard op, no custom
  kernels. Imported NVlabs/rosinality checkpoints were trained with the zero-border FIR
  resampling and render differently without it, so `resampling="fir"` reproduces that exactly
  (a transposed conv plus a depthwise FIR conv: still standard ONNX ops).
- The mapping network returns one w per sample; broadcasting to `num_ws` and truncation are
  separate latent operations (`avatarforge.models.latents`), never hidden switches in forward().

AdaIN (StyleGAN1) normalises each feature map and rescales it with a style; weight
demodulation is the same idea moved onto the weights: scaling input channels by s and
dividing each output channel by its expected std gives unit-variance outputs without looking
at the activations' statistics (which is what caused StyleGAN1's droplet artefacts).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2.0)  # keeps activations' second moment constant through lrelu
RESAMPLING_MODES = ("bilinear", "fir")
FIR_TAPS = (1.0, 3.0, 3.0, 1.0)  # StyleGAN2's resampling filter, separable and symmetric


@dataclass(frozen=True)
class GeneratorConfig:
    """Architecture of a generator; stored verbatim in a bundle's manifest."""

    z_dim: int = 256  # Input latent size.
    w_dim: int = 256  # Intermediate latent size (W space).
    resolution: int = 64  # Output size, a power of two in [32, 1024].
    img_channels: int = 3  # RGB.
    mapping_layers: int = 4  # Depth of the mapping MLP (NVlabs uses 8 for FFHQ, 2 for --cfg=auto).
    mapping_lr_multiplier: float = 0.01  # Equalized-lr multiplier of the mapping MLP.
    channel_base: int = 4096  # Channels at resolution r are min(channel_base // r, channel_max).
    channel_max: int = 256
    channels: dict[int, int] | None = None  # Explicit {resolution: channels}; overrides the formula.
    w_avg_beta: float = 0.995  # EMA decay of w_avg while training.
    # {part: number of values} makes the mapping a PartsMapping (z -> parts -> w) instead of the MLP.
    mapping_parts: dict[str, int] | None = None
    mapping_hidden: int = 512  # Width of the PartsMapping's hidden layers.
    # 2x upsampling: "bilinear" (our own bundles) or "fir" (NVlabs' zero-padded [1,3,3,1] FIR
    # with a transposed conv, which imported checkpoints need to render what they were trained to).
    resampling: str = "bilinear"
    conv_clamp: float | None = None  # Clamp of every conv/ToRGB output (NVlabs uses 256 with fp16 layers).

    def __post_init__(self) -> None:
        r = self.resolution
        if self.resampling not in RESAMPLING_MODES:
            raise ValueError(f"resampling must be one of {RESAMPLING_MODES}, got {self.resampling!r}")
        if self.mapping_parts is not None and len(self.mapping_parts) > self.z_dim:
            raise ValueError(f"mapping_parts has {len(self.mapping_parts)} parts; z_dim {self.z_dim} must be at least that")
        if r < 4 or r & (r - 1) or r > 1024:
            raise ValueError(f"resolution must be a power of two between 4 and 1024, got {r}")
        if self.channels is not None:  # JSON turns int keys into strings; normalise.
            object.__setattr__(self, "channels", {int(k): int(v) for k, v in self.channels.items()})
            missing = [res for res in self.block_resolutions if res not in self.channels]
            if missing:
                raise ValueError(f"channels has no entry for resolutions {missing}")

    @property
    def block_resolutions(self) -> list[int]:
        return [2**i for i in range(2, int(math.log2(self.resolution)) + 1)]

    def channels_at(self, res: int) -> int:
        if self.channels is not None:
            return self.channels[res]
        return min(self.channel_base // res, self.channel_max)

    @property
    def num_ws(self) -> int:
        """Number of per-layer w codes: one per conv plus the last ToRGB (18 at 1024 px)."""
        return 2 * int(math.log2(self.resolution)) - 2

    def to_dict(self) -> dict:
        d = asdict(self)
        if d["channels"] is not None:
            d["channels"] = {str(k): v for k, v in d["channels"].items()}
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "GeneratorConfig":
        return cls(**d)


# ---------------------------------------------------------------------------------------------
# Layers with equalized learning rate (weights stored at unit scale, scaled at runtime).


class FullyConnectedLayer(nn.Module):
    def __init__(
        self,
        in_features: int,  # Input size.
        out_features: int,  # Output size.
        activation: str = "linear",  # "linear" or "lrelu".
        lr_multiplier: float = 1.0,  # Learning-rate multiplier (0.01 in the mapping MLP).
        bias_init: float = 0.0,  # Initial bias (1 for style affines, so styles start at 1).
    ):
        super().__init__()
        self.activation = activation
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init)))
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [N, in] -> [N, out]
        x = torch.addmm(self.bias * self.bias_gain, x, (self.weight * self.weight_gain).t())
        if self.activation == "lrelu":
            x = F.leaky_relu(x, LRELU_SLOPE) * LRELU_GAIN
        return x

    def extra_repr(self) -> str:
        return f"in={self.weight.shape[1]}, out={self.weight.shape[0]}, act={self.activation}"


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


def upsample2x(x: torch.Tensor) -> torch.Tensor:
    """[N, C, H, W] -> [N, C, 2H, 2W] with the [1,3,3,1] filter (bilinear, replicated borders)."""
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


def fir_kernel(channels: int) -> torch.Tensor:
    """The 2-D [1,3,3,1] filter as a depthwise conv weight [channels, 1, 4, 4], gain 4.

    Normalised to sum 1, times 4 because zero-stuffing a 2x upsample leaves one sample in four:
    the gain restores the signal's level. Symmetric, so convolution and correlation agree.
    Modules keep it as a non-persistent buffer: a constant of the exported graph, never stored.
    """
    taps = torch.tensor(FIR_TAPS)
    f = torch.outer(taps, taps)
    return (f * (4.0 / f.sum())).expand(channels, 1, 4, 4).contiguous()


def fir_upsample2x(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """[N, C, H, W] -> [N, C, 2H, 2W]: zero-stuff, pad (2, 1), convolve with `kernel` (fir_kernel(C)).

    A stride-2 transposed conv with the 4x4 filter is exactly zero-stuffing followed by a full
    convolution (2H + 2 samples); padding=1 crops one sample each side, which leaves NVlabs'
    (2, 1) padding of the zero-stuffed image.
    """
    return F.conv_transpose2d(x, kernel, stride=2, padding=1, groups=kernel.shape[0])


def fir_upsample_conv3x3(x: torch.Tensor, weight: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """NVlabs' upsampling 3x3 conv: [N, in, H, W] -> [N, out, 2H, 2W]; kernel = fir_kernel(out).

    Mathematically: zero-stuff, pad (3, 2), FIR filter, then a true convolution (not correlation)
    with `weight` [out, in, 3, 3]. Computed the cheap way: a stride-2 transposed conv with the
    weight ([in, out, 3, 3] for conv_transpose2d; 2H + 1 samples), then the FIR filter padded by
    1 each side (2H samples). The transposed conv needs no per-sample weights, so the batch stays
    dynamic in exported graphs.
    """
    assert weight.shape[-2:] == (3, 3), "only 3x3 upsampling convs exist in StyleGAN2"
    x = F.conv_transpose2d(x, weight.transpose(0, 1), stride=2)
    return F.conv2d(x, kernel, padding=1, groups=kernel.shape[0])


def modulated_conv2d(
    x: torch.Tensor,  # Input activations [N, in_channels, H, W].
    weight: torch.Tensor,  # Shared weight [out_channels, in_channels, k, k], already gain-scaled.
    styles: torch.Tensor,  # Per-sample input-channel scales [N, in_channels].
    demodulate: bool = True,  # Divide each output channel by its expected std.
    up: bool = False,  # Upsample 2x (2H x 2W output).
    fir: torch.Tensor | None = None,  # fir_kernel(out_channels): upsample NVlabs' way, not bilinearly.
) -> torch.Tensor:  # [N, out_channels, H', W']
    """StyleGAN2 modulated convolution, computed on activations (no per-sample weights)."""
    x = x * styles[:, :, None, None]
    if up and fir is not None:
        x = fir_upsample_conv3x3(x, weight, fir)
    else:
        if up:
            x = upsample2x(x)
        x = F.conv2d(x, weight, padding=weight.shape[-1] // 2)
    if demodulate:
        # Expected output std per (sample, out channel): sqrt(sum_{in,k} (w * s)^2).
        w_sq = weight.square().sum(dim=[2, 3])  # [out, in]
        dcoefs = (styles.square() @ w_sq.t() + 1e-8).rsqrt()  # [N, out]
        x = x * dcoefs[:, :, None, None]
    return x


# ---------------------------------------------------------------------------------------------
# Mapping network.


class MappingNetwork(nn.Module):
    """z [N, z_dim] -> w [N, w_dim]. Tracks w_avg (the truncation centre) while training."""

    def __init__(self, cfg: GeneratorConfig):
        super().__init__()
        self.z_dim, self.w_dim = cfg.z_dim, cfg.w_dim
        self.w_avg_beta = cfg.w_avg_beta
        self.num_layers = cfg.mapping_layers
        for i in range(cfg.mapping_layers):
            in_f = cfg.z_dim if i == 0 else cfg.w_dim
            layer = FullyConnectedLayer(in_f, cfg.w_dim, "lrelu", cfg.mapping_lr_multiplier)
            setattr(self, f"fc{i}", layer)
        self.register_buffer("w_avg", torch.zeros(cfg.w_dim))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        assert z.ndim == 2 and z.shape[1] == self.z_dim, f"z must be [N, {self.z_dim}], got {list(z.shape)}"
        x = normalize_2nd_moment(z.float())
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)
        if self.training:
            with torch.no_grad():
                self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        return x


class PartsMapping(nn.Module):
    """z [N, z_dim] -> the parts of a face -> w [N, w_dim], for faces composed of labelled parts.

    Our avatars are drawn from independent parts (hair, skin, mouth, ...), and W of the trained
    synthesis is, to ~1.4 % of its variance, a function of those parts. So instead of a GAN that
    must discover the parts (and blends between them), the mapping draws them:
    z[:, i] -> u = Phi(z[:, i]), uniform in (0, 1) -> value k of part i where u falls in
    [low_k, high_k), the cumulative shares of the values among the training faces. Then an MLP
    on the one-hot parts returns w. Parts hidden by others (hair colour under a hat) are drawn
    too; the MLP learned to ignore them. z beyond the first len(parts) entries is unused: a
    face is its parts, as in the data.
    """

    def __init__(self, cfg: GeneratorConfig):
        super().__init__()
        parts = cfg.mapping_parts
        self.z_dim, self.w_dim = cfg.z_dim, cfg.w_dim
        self.num_parts, self.num_values = len(parts), sum(parts.values())
        self.num_layers = cfg.mapping_layers
        # Which part each one-hot column belongs to: a function of the config, so not stored.
        column_part = torch.cat([torch.full([n], i) for i, n in enumerate(parts.values())])
        self.register_buffer("column_part", column_part, persistent=False)
        # First one-hot column of each part (and the total at the end), for label -> column.
        self.register_buffer("part_offsets", torch.tensor([0, *parts.values()]).cumsum(0), persistent=False)
        self.register_buffer("value_low", torch.zeros(self.num_values))
        self.register_buffer("value_high", torch.ones(self.num_values))
        self.set_value_shares(torch.ones(self.num_values))  # uniform until stage 2 sets the data's
        for i in range(self.num_layers):
            in_f = self.num_values if i == 0 else cfg.mapping_hidden
            out_f = cfg.w_dim if i == self.num_layers - 1 else cfg.mapping_hidden
            last = i == self.num_layers - 1
            setattr(self, f"fc{i}", FullyConnectedLayer(in_f, out_f, "linear" if last else "lrelu"))
        # The MLP regresses standardised codes; these bring them back to W's scale.
        self.register_buffer("w_mean", torch.zeros(cfg.w_dim))
        self.register_buffer("w_std", torch.ones(cfg.w_dim))
        self.register_buffer("w_avg", torch.zeros(cfg.w_dim))

    def set_value_shares(self, shares: torch.Tensor) -> None:
        """shares [num_values]: each part's values' shares (summing to 1 per part), in column order."""
        high = torch.zeros_like(shares)
        for i in range(self.num_parts):
            cols = self.column_part == i
            high[cols] = shares[cols].cumsum(0) / shares[cols].sum()
            high[cols.nonzero()[-1]] = 2.0  # u can round to exactly 1.0: the last value takes it
        low = torch.cat([torch.zeros(1), high[:-1]])
        low[torch.cat([torch.ones(1, dtype=torch.bool), self.column_part[1:] != self.column_part[:-1]])] = -1.0
        self.value_low.copy_(low)
        self.value_high.copy_(high)

    def parts_one_hot(self, z: torch.Tensor) -> torch.Tensor:
        """z [N, z_dim] -> one-hot parts [N, num_values] (float)."""
        assert z.ndim == 2 and z.shape[1] == self.z_dim, f"z must be [N, {self.z_dim}], got {list(z.shape)}"
        u = 0.5 * (1.0 + torch.erf(z[:, : self.num_parts].float() * (0.5**0.5)))
        u = u[:, self.column_part]
        return ((u >= self.value_low) & (u < self.value_high)).float()

    def from_parts(self, one_hot: torch.Tensor) -> torch.Tensor:
        """One-hot parts [N, num_values] -> w [N, w_dim] (what stage 2 trains)."""
        x = one_hot
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)
        return x * self.w_std + self.w_mean

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.from_parts(self.parts_one_hot(z))


# ---------------------------------------------------------------------------------------------
# Synthesis network.


class SynthesisLayer(nn.Module):
    """Modulated 3x3 conv + per-pixel noise + bias + lrelu."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: bool,
                 resampling: str = "bilinear", conv_clamp: float | None = None):
        super().__init__()
        self.up = up
        self.resolution = resolution
        self.resampling = resampling
        self.conv_clamp = conv_clamp
        self.register_buffer("fir", fir_kernel(out_channels) if up and resampling == "fir" else None, persistent=False)
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 3, 3))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.weight_gain = 1.0 / math.sqrt(in_channels * 9)
        # A fixed noise image makes output a pure function of ws ("const" noise mode).
        self.register_buffer("noise_const", torch.randn(resolution, resolution))
        self.noise_strength = nn.Parameter(torch.zeros([]))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        styles = self.affine(w)
        x = modulated_conv2d(x, self.weight * self.weight_gain, styles, demodulate=True, up=self.up,
                             fir=self.fir)
        if noise_mode == "random":
            noise = torch.randn(x.shape[0], 1, self.resolution, self.resolution, device=x.device)
            x = x + noise * self.noise_strength
        elif noise_mode == "const":
            x = x + self.noise_const * self.noise_strength
        x = x + self.bias[None, :, None, None]
        x = F.leaky_relu(x, LRELU_SLOPE) * LRELU_GAIN
        if self.conv_clamp is not None:
            x = x.clamp(-self.conv_clamp, self.conv_clamp)
        return x

    def extra_repr(self) -> str:
        o, i = self.weight.shape[:2]
        return f"{i}->{o}, res={self.resolution}, up={self.up}, resampling={self.resampling}"


class ToRGBLayer(nn.Module):
    """Modulated 1x1 conv to RGB, without demodulation (the skip path's per-block output)."""

    def __init__(self, in_channels: int, img_channels: int, w_dim: int, conv_clamp: float | None = None):
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(img_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(img_channels))
        self.weight_gain = 1.0 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(x, self.weight, styles, demodulate=False)
        x = x + self.bias[None, :, None, None]
        if self.conv_clamp is not None:
            x = x.clamp(-self.conv_clamp, self.conv_clamp)
        return x


class SynthesisBlock(nn.Module):
    """One resolution: (const | conv0 up) -> conv1 -> torgb, with the RGB skip path."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, img_channels: int,
                 resampling: str = "bilinear", conv_clamp: float | None = None):
        super().__init__()
        self.resolution = resolution
        self.is_first = resolution == 4
        fir = resampling == "fir" and not self.is_first
        self.register_buffer("fir", fir_kernel(img_channels) if fir else None, persistent=False)
        if self.is_first:
            self.const = nn.Parameter(torch.randn(out_channels, 4, 4))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=True,
                                        resampling=resampling, conv_clamp=conv_clamp)
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution, up=False, conv_clamp=conv_clamp)
        self.torgb = ToRGBLayer(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)
        self.num_conv = 1 if self.is_first else 2

    def forward(self, x, img, ws: torch.Tensor, noise_mode: str, rgb_alpha: float = 1.0):
        # ws: [N, num_conv + 1, w_dim]; the last one (torgb) is shared with the next block's conv0.
        # rgb_alpha < 1 fades a newly grown block in: at 0 the image is the upsampled one below.
        if self.is_first:
            x = self.const.unsqueeze(0).expand(ws.shape[0], -1, -1, -1)
            x = self.conv1(x, ws[:, 0], noise_mode)
        else:
            x = self.conv0(x, ws[:, 0], noise_mode)
            x = self.conv1(x, ws[:, 1], noise_mode)
        rgb = self.torgb(x, ws[:, self.num_conv])
        if rgb_alpha != 1.0:  # only while growing: served and exported graphs never scale
            rgb = rgb * rgb_alpha
        if img is not None:
            img = upsample2x(img) if self.fir is None else fir_upsample2x(img, self.fir)
        img = rgb if img is None else img + rgb
        return x, img


class SynthesisNetwork(nn.Module):
    """ws [N, num_ws, w_dim] -> image [N, img_channels, res, res], float, roughly in [-1, 1]."""

    def __init__(self, cfg: GeneratorConfig):
        super().__init__()
        self.w_dim, self.num_ws, self.resolution = cfg.w_dim, cfg.num_ws, cfg.resolution
        self.block_resolutions = cfg.block_resolutions
        for res in self.block_resolutions:
            in_ch = cfg.channels_at(res // 2) if res > 4 else 0
            block = SynthesisBlock(in_ch, cfg.channels_at(res), cfg.w_dim, res, cfg.img_channels,
                                   cfg.resampling, cfg.conv_clamp)
            setattr(self, f"b{res}", block)

    def forward(
        self,
        ws: torch.Tensor,  # [N, num_ws, w_dim]
        noise_mode: str = "const",  # "const" (a pure function of ws), "random" (training) or "none"
        max_resolution: int | None = None,  # stop early (progressive training at a lower resolution)
        top_alpha: float = 1.0,  # weight of the top block's ToRGB while it fades in (training/growing.py)
    ) -> torch.Tensor:  # [N, img_channels, res, res]
        assert ws.ndim == 3 and ws.shape[1:] == (self.num_ws, self.w_dim), (
            f"ws must be [N, {self.num_ws}, {self.w_dim}], got {list(ws.shape)}"
        )
        x = img = None
        w_idx = 0
        for res in self.block_resolutions:
            if max_resolution is not None and res > max_resolution:
                break
            block = getattr(self, f"b{res}")
            alpha = top_alpha if res == self.resolution else 1.0
            x, img = block(x, img, ws[:, w_idx : w_idx + block.num_conv + 1], noise_mode, alpha)
            w_idx += block.num_conv
        return img


class Generator(nn.Module):
    """Holds `mapping` and `synthesis` as separate steps; there is no all-in-one forward."""

    def __init__(self, cfg: GeneratorConfig):
        super().__init__()
        self.cfg = cfg
        self.mapping = PartsMapping(cfg) if cfg.mapping_parts else MappingNetwork(cfg)
        self.synthesis = SynthesisNetwork(cfg)

    @property
    def num_ws(self) -> int:
        return self.cfg.num_ws


def seeded_generator(cfg: GeneratorConfig, seed: int) -> Generator:
    """An untrained generator whose weights are a pure function of (cfg, seed): test fixtures."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        g = Generator(cfg)
        # Give noise a visible effect, as a trained model would have.
        for m in g.modules():
            if isinstance(m, SynthesisLayer):
                m.noise_strength.data.fill_(0.1)
    return g.eval().requires_grad_(False)
