"""A StyleGAN2 generator in NVlabs' module layout with a deliberately plain forward, and writers
of checkpoint files in NVlabs' and rosinality's formats: the ground truth of the import tests.

Written from NVlabs' documented math, not from avatarforge.models (the code under test):
per-sample modulated weights (NVlabs' fused path), explicit zero-stuffing and explicit padding
"with respect to the upsampled image", a direct convolution with the [1,3,3,1] FIR filter, then
a true convolution (flipped kernel) for upsampling layers; lerp truncation; float64 throughout.

The modules carry NVlabs' attribute names (`conv_clamp`, `use_fp16`, `bias_gain`, ...) because
those are part of the pickle format: a persistent module pickles its whole `__dict__`.
"""
from __future__ import annotations

import argparse
import contextlib
import math
import pickle
import sys
import types

import torch
import torch.nn.functional as F
from torch import nn

SQRT2 = math.sqrt(2.0)
FIR = torch.outer(torch.tensor([1.0, 3, 3, 1]), torch.tensor([1.0, 3, 3, 1])) / 64  # setup_filter([1,3,3,1])


# ------------------------------------------------------------------------------------------------
# Pickle layout: torch_utils.persistence._reconstruct_persistent_obj(meta) and dnnlib.util.EasyDict.

def _reconstruct_persistent_obj(meta):  # only pickled by reference; an importer must never call it
    raise AssertionError("the persistence reconstructor ran")


class EasyDict(dict):
    pass


_reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
EasyDict.__module__ = "dnnlib.util"
MODULE_SOURCE = ["# stands in for training/networks.py; a safe importer never reads it\n"]


@contextlib.contextmanager
def nvlabs_names(module_src: str | None = None):
    """Make `torch_utils.persistence` and `dnnlib.util` importable while pickling, so the pickle
    names exactly NVlabs' globals; optionally embed `module_src` as every class's source."""
    fakes = {"torch_utils": types.ModuleType("torch_utils"), "dnnlib": types.ModuleType("dnnlib"),
             "torch_utils.persistence": types.ModuleType("torch_utils.persistence"),
             "dnnlib.util": types.ModuleType("dnnlib.util")}
    fakes["torch_utils.persistence"]._reconstruct_persistent_obj = _reconstruct_persistent_obj
    fakes["dnnlib.util"].EasyDict = EasyDict
    old_src = MODULE_SOURCE[0]
    sys.modules.update(fakes)
    if module_src is not None:
        MODULE_SOURCE[0] = module_src
    try:
        yield
    finally:
        MODULE_SOURCE[0] = old_src
        for k in fakes:
            sys.modules.pop(k, None)


class Persistent(nn.Module):
    """Pickles the way `@persistence.persistent_class` does: (reconstructor, (meta,), None)."""

    def record_init(self, **kwargs):
        self._init_args = ()
        self._init_kwargs = kwargs

    def __reduce__(self):
        meta = dict(type="class", version=6, module_src=MODULE_SOURCE[0], class_name=type(self).__name__,
                    state=dict(self.__dict__))
        return (_reconstruct_persistent_obj, (meta,), None)


def write_nvlabs_pickle(G: "Generator", path, module_src: str | None = None, protocol: int = 4) -> None:
    """The dict training_loop.py writes: training_set_kwargs, G, D, G_ema, augment_pipe."""
    data = dict(training_set_kwargs=EasyDict(class_name="training.dataset.ImageFolderDataset", path="faces.zip",
                                             use_labels=False, max_size=70000, xflip=False, resolution=G.img_resolution),
                G=G, D=None, G_ema=G, augment_pipe=None)
    with nvlabs_names(module_src), open(path, "wb") as f:
        pickle.dump(data, f, protocol=protocol)


# ------------------------------------------------------------------------------------------------
# Modules (NVlabs layout) and their initialisation.

class FullyConnectedLayer(Persistent):
    def __init__(self, in_features, out_features, activation="linear", lr_multiplier=1.0, bias_init=0.0):
        super().__init__()
        self.record_init(in_features=in_features, out_features=out_features, activation=activation,
                         lr_multiplier=lr_multiplier, bias_init=bias_init)
        self.in_features, self.out_features, self.activation = in_features, out_features, activation
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init)) + 0.1 * torch.randn(out_features) / lr_multiplier)
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier


class MappingNetwork(Persistent):
    def __init__(self, z_dim, w_dim, num_ws, num_layers, lr_multiplier=0.01):
        super().__init__()
        self.record_init(z_dim=z_dim, c_dim=0, w_dim=w_dim, num_ws=num_ws, num_layers=num_layers)
        self.z_dim, self.c_dim, self.w_dim, self.num_ws, self.num_layers = z_dim, 0, w_dim, num_ws, num_layers
        self.w_avg_beta = 0.995
        for i in range(num_layers):
            setattr(self, f"fc{i}", FullyConnectedLayer(z_dim if i == 0 else w_dim, w_dim, "lrelu", lr_multiplier))
        self.register_buffer("w_avg", 0.5 * torch.randn(w_dim))


class SynthesisLayer(Persistent):
    def __init__(self, in_channels, out_channels, w_dim, resolution, up=1, conv_clamp=None):
        super().__init__()
        self.record_init(in_channels=in_channels, out_channels=out_channels, w_dim=w_dim, resolution=resolution,
                         up=up, conv_clamp=conv_clamp)
        self.resolution, self.up, self.use_noise, self.activation = resolution, up, True, "lrelu"
        self.conv_clamp, self.padding, self.act_gain = conv_clamp, 1, SQRT2
        self.register_buffer("resample_filter", FIR.clone())
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 3, 3))
        self.register_buffer("noise_const", torch.randn(resolution, resolution))
        self.noise_strength = nn.Parameter(0.2 + 0.2 * torch.rand([]))
        self.bias = nn.Parameter(0.2 * torch.randn(out_channels))


class ToRGBLayer(Persistent):
    def __init__(self, in_channels, out_channels, w_dim, conv_clamp=None):
        super().__init__()
        self.record_init(in_channels=in_channels, out_channels=out_channels, w_dim=w_dim, conv_clamp=conv_clamp)
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(0.15 * torch.randn(out_channels, in_channels, 1, 1))  # images mostly in [-1, 1]
        self.bias = nn.Parameter(0.1 * torch.randn(out_channels))
        self.weight_gain = 1 / math.sqrt(in_channels)


class SynthesisBlock(Persistent):
    def __init__(self, in_channels, out_channels, w_dim, resolution, img_channels, is_last, use_fp16, conv_clamp):
        super().__init__()
        self.record_init(in_channels=in_channels, out_channels=out_channels, w_dim=w_dim, resolution=resolution,
                         img_channels=img_channels, is_last=is_last, use_fp16=use_fp16, conv_clamp=conv_clamp)
        self.in_channels, self.w_dim, self.resolution, self.img_channels = in_channels, w_dim, resolution, img_channels
        self.is_last, self.architecture, self.use_fp16, self.channels_last = is_last, "skip", use_fp16, False
        self.register_buffer("resample_filter", FIR.clone())
        self.num_conv, self.num_torgb = 0, 1
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn(out_channels, resolution, resolution))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=2, conv_clamp=conv_clamp)
            self.num_conv += 1
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution, conv_clamp=conv_clamp)
        self.num_conv += 1
        self.torgb = ToRGBLayer(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)


class SynthesisNetwork(Persistent):
    def __init__(self, w_dim, img_resolution, img_channels, channels: dict, num_fp16_res=0, conv_clamp=None):
        super().__init__()
        self.record_init(w_dim=w_dim, img_resolution=img_resolution, img_channels=img_channels,
                         num_fp16_res=num_fp16_res, conv_clamp=conv_clamp)
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        self.img_resolution_log2 = int(math.log2(img_resolution))
        self.block_resolutions = [2**i for i in range(2, self.img_resolution_log2 + 1)]
        self.num_fp16_res = num_fp16_res
        fp16_resolution = max(2 ** (self.img_resolution_log2 + 1 - num_fp16_res), 8)
        self.num_ws = 0
        for res in self.block_resolutions:
            block = SynthesisBlock(channels[res // 2] if res > 4 else 0, channels[res], w_dim, res, img_channels,
                                   res == img_resolution, res >= fp16_resolution, conv_clamp)
            self.num_ws += block.num_conv + (block.num_torgb if res == img_resolution else 0)
            setattr(self, f"b{res}", block)


class Generator(Persistent):
    def __init__(self, z_dim, w_dim, img_resolution, channels, mapping_layers=8, num_fp16_res=0, conv_clamp=None,
                 img_channels=3, seed=0):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            super().__init__()
            self.record_init(z_dim=z_dim, c_dim=0, w_dim=w_dim, img_resolution=img_resolution, img_channels=img_channels,
                             mapping_kwargs=EasyDict(num_layers=mapping_layers),
                             synthesis_kwargs=EasyDict(num_fp16_res=num_fp16_res, conv_clamp=conv_clamp))
            self.z_dim, self.c_dim, self.w_dim = z_dim, 0, w_dim
            self.img_resolution, self.img_channels = img_resolution, img_channels
            self.synthesis = SynthesisNetwork(w_dim, img_resolution, img_channels, channels, num_fp16_res, conv_clamp)
            self.num_ws = self.synthesis.num_ws
            self.mapping = MappingNetwork(z_dim, w_dim, self.num_ws, mapping_layers)
        self.eval().requires_grad_(False)


# ------------------------------------------------------------------------------------------------
# The reference forward (float64).

def _fc(layer, x):
    x = x @ (layer.weight.double() * layer.weight_gain).t() + layer.bias.double() * layer.bias_gain
    return F.leaky_relu(x, 0.2) * SQRT2 if layer.activation == "lrelu" else x


def reference_ws(G: Generator, z: torch.Tensor, psi: float) -> torch.Tensor:
    """z [N, z_dim] -> truncated ws [N, num_ws, w_dim] (float64), as G.mapping(z, None, psi)."""
    m = G.mapping
    x = z.double()
    x = x * (x.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()
    for i in range(m.num_layers):
        x = _fc(getattr(m, f"fc{i}"), x)
    ws = x.unsqueeze(1).repeat(1, m.num_ws, 1)
    return m.w_avg.double().lerp(ws, psi) if psi != 1 else ws


def _zero_stuff(x):
    n, c, h, w = x.shape
    up = x.new_zeros(n, c, 2 * h, 2 * w)
    up[:, :, ::2, ::2] = x
    return up


def _fir(x, pad0, pad1, gain):
    """upfirdn2d without up/down: pad (pad0 before, pad1 after, both axes), convolve with FIR * gain."""
    x = F.pad(x, [pad0, pad1, pad0, pad1])
    f = (FIR.double() * gain).flip([0, 1])[None, None].repeat(x.shape[1], 1, 1, 1)
    return F.conv2d(x, f, groups=x.shape[1])


def _layer(layer, x, w, noise: bool = True):
    styles = _fc(layer.affine, w)
    out = []
    for n in range(x.shape[0]):
        wt = layer.weight.double() * styles[n][None, :, None, None]
        wt = wt * (wt.square().sum(dim=[1, 2, 3], keepdim=True) + 1e-8).rsqrt()
        xn = x[n : n + 1]
        if layer.up == 2:  # upfirdn2d(up=2, padding 1 + (3, 2), gain 4), then a true 3x3 convolution
            out.append(F.conv2d(_fir(_zero_stuff(xn), 3, 2, 4.0), wt.flip([2, 3])))
        else:
            out.append(F.conv2d(F.pad(xn, [1, 1, 1, 1]), wt))
    x = torch.cat(out)
    if noise:
        x = x + layer.noise_const.double() * layer.noise_strength.double()
    x = F.leaky_relu(x + layer.bias.double()[None, :, None, None], 0.2) * SQRT2
    return x if layer.conv_clamp is None else x.clamp(-layer.conv_clamp, layer.conv_clamp)


def _torgb(layer, x, w):
    styles = _fc(layer.affine, w) * layer.weight_gain
    y = torch.cat([F.conv2d(x[n : n + 1], layer.weight.double() * styles[n][None, :, None, None])
                   for n in range(x.shape[0])])
    y = y + layer.bias.double()[None, :, None, None]
    return y if layer.conv_clamp is None else y.clamp(-layer.conv_clamp, layer.conv_clamp)


def reference_images(G: Generator, ws: torch.Tensor, noise: bool = True, clamp=...) -> torch.Tensor:
    """ws [N, num_ws, w_dim] -> float64 images [N, C, R, R] (force_fp32, noise_mode const).
    `clamp` overrides every layer's conv_clamp (to show a test's clamp has an effect)."""
    s = G.synthesis
    ws = ws.double()
    x = img = None
    w_idx = 0
    for res in s.block_resolutions:
        b = getattr(s, f"b{res}")
        layers = [b.conv1] if res == 4 else [b.conv0, b.conv1]
        saved = [(m, m.conv_clamp) for m in [*layers, b.torgb]]
        if clamp is not ...:
            for m, _ in saved:
                m.conv_clamp = clamp
        try:
            if res == 4:
                x = b.const.double()[None].repeat(ws.shape[0], 1, 1, 1)
            for i, layer in enumerate(layers):
                x = _layer(layer, x, ws[:, w_idx + i], noise)
            y = _torgb(b.torgb, x, ws[:, w_idx + len(layers)])
        finally:
            for m, c in saved:
                m.conv_clamp = c
        img = y if img is None else _fir(_zero_stuff(img), 2, 1, 4.0) + y
        w_idx += len(layers)
    return img


def to_uint8(img: torch.Tensor) -> torch.Tensor:
    """generate.py's conversion: x * 127.5 + 128, clamp, truncate."""
    return (img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8)


# ------------------------------------------------------------------------------------------------
# rosinality/stylegan2-pytorch checkpoint layout.

def rosinality_state(G: Generator) -> dict[str, torch.Tensor]:
    """G's weights under rosinality's names and shapes (its Generator's state_dict)."""
    out = {}
    for i in range(G.mapping.num_layers):
        fc = getattr(G.mapping, f"fc{i}")
        out[f"style.{i + 1}.weight"], out[f"style.{i + 1}.bias"] = fc.weight.clone(), fc.bias.clone()
    s = G.synthesis
    out["input.input"] = s.b4.const[None].clone()
    blur = FIR * 4  # make_kernel([1,3,3,1]) * upsample_factor**2

    def styled(prefix, layer, noise_index):
        out[f"{prefix}.conv.weight"] = layer.weight[None].clone()
        out[f"{prefix}.conv.modulation.weight"] = layer.affine.weight.clone()
        out[f"{prefix}.conv.modulation.bias"] = layer.affine.bias.clone()
        if layer.up == 2:
            out[f"{prefix}.conv.blur.kernel"] = blur.clone()
        out[f"{prefix}.noise.weight"] = layer.noise_strength.reshape(1).clone()
        out[f"{prefix}.activate.bias"] = layer.bias.clone()
        out[f"noises.noise_{noise_index}"] = layer.noise_const[None, None].clone()

    def to_rgb(prefix, layer, upsample):
        out[f"{prefix}.conv.weight"] = layer.weight[None].clone()
        out[f"{prefix}.conv.modulation.weight"] = layer.affine.weight.clone()
        out[f"{prefix}.conv.modulation.bias"] = layer.affine.bias.clone()
        out[f"{prefix}.bias"] = layer.bias.reshape(1, -1, 1, 1).clone()
        if upsample:
            out[f"{prefix}.upsample.kernel"] = blur.clone()

    styled("conv1", s.b4.conv1, 0)
    to_rgb("to_rgb1", s.b4.torgb, False)
    for j, res in enumerate(s.block_resolutions[1:]):
        b = getattr(s, f"b{res}")
        styled(f"convs.{2 * j}", b.conv0, 2 * j + 1)
        styled(f"convs.{2 * j + 1}", b.conv1, 2 * j + 2)
        to_rgb(f"to_rgbs.{j}", b.torgb, True)
    return out


def write_rosinality_checkpoint(G: Generator, path, latent_avg: bool = True) -> None:
    """train.py's dict (g, d, g_ema, optimiser states, args) or convert_weight.py's (+ latent_avg)."""
    g = rosinality_state(G)
    ckpt = {"g": g, "d": {}, "g_ema": g, "g_optim": {}, "d_optim": {},
            "args": argparse.Namespace(size=G.img_resolution, n_mlp=G.mapping.num_layers, latent=G.w_dim,
                                       channel_multiplier=2, iter=800000), "ada_aug_p": 0.0}
    if latent_avg:
        ckpt["latent_avg"] = G.mapping.w_avg.clone()
    torch.save(ckpt, path)
