"""`avatarforge import-nvlabs network.pkl --out BUNDLE`: an NVlabs StyleGAN2-ADA pickle -> a bundle.

The pickle is read by the allow-list unpickler (safe_unpickle.py), so nothing in it runs. Its
`G_ema` is a tree of inert records, one per NVlabs module, each with its `__dict__`: tensors
under `_parameters`/`_buffers`, children under `_modules`, and plain attributes (`conv_clamp`,
`use_fp16`, `architecture`, `bias_gain`...). The config is read from those attributes and from
tensor shapes, not from `_init_kwargs`, so it describes the modules as they were built. NVlabs'
parameter names are ours, so the weights load by name; the synthesis is switched to
`resampling="fir"` and the source's `conv_clamp`, which render what NVlabs' own forward renders
(force_fp32, noise_mode="const"): fp16 blocks are rendered in float32, as force_fp32 does.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch

from ..networks import GeneratorConfig
from .imported_bundle import (W_AVG_ESTIMATED, UnsupportedCheckpoint, build_generator, check_filter, describe_import,
                              estimate_w_avg, fir_filter_2d, prepare_out_dir, write_imported_bundle)
from .safe_unpickle import PersistentRecord, UnsafePickleError, load_network_pickle

FORMAT = "nvlabs-stylegan2-ada-pickle"
DESCRIPTION = __doc__
_MISSING = object()


def attr(record: PersistentRecord, name: str, default=_MISSING):
    if name in record.state:
        return record.state[name]
    if default is _MISSING:
        raise UnsupportedCheckpoint(f"{record.class_name} has no attribute {name!r}: not a StyleGAN2-ADA module")
    return default


def child(record: PersistentRecord, name: str) -> PersistentRecord:
    sub = record.state.get("_modules", {}).get(name)
    if not isinstance(sub, PersistentRecord):
        raise UnsupportedCheckpoint(f"{record.class_name} has no persistent submodule {name!r}")
    return sub


def flatten(record: PersistentRecord, prefix: str = "") -> dict[str, torch.Tensor]:
    """The record tree's persistent tensors by dotted name, as `state_dict()` would list them."""
    out = {}
    skip = record.state.get("_non_persistent_buffers_set") or set()
    for group in ("_parameters", "_buffers"):
        for name, t in (record.state.get(group) or {}).items():
            if t is None or (group == "_buffers" and name in skip):
                continue
            if not isinstance(t, torch.Tensor):
                raise UnsupportedCheckpoint(f"{prefix}{name} is a {type(t).__name__}, not a tensor")
            out[prefix + name] = t
    for name, sub in (record.state.get("_modules") or {}).items():
        if sub is None:
            continue
        if not isinstance(sub, PersistentRecord):
            raise UnsupportedCheckpoint(f"{prefix}{name} is a {type(sub).__name__}, not an NVlabs module record")
        out.update(flatten(sub, f"{prefix}{name}."))
    return out


def derive_config(mapping: PersistentRecord, synthesis: PersistentRecord, state: dict) -> tuple[GeneratorConfig, dict]:
    """Our GeneratorConfig for this G_ema, and the facts about the source worth recording."""
    if attr(mapping, "c_dim", 0):
        raise UnsupportedCheckpoint("conditional generators (c_dim > 0) are not supported: our mapping takes z only")
    z_dim, w_dim, layers = int(attr(mapping, "z_dim")), int(attr(mapping, "w_dim")), int(attr(mapping, "num_layers"))
    lr_muls = set()
    for i in range(layers):
        fc = child(mapping, f"fc{i}")
        out_f, in_f = state[f"mapping.fc{i}.weight"].shape
        if attr(fc, "activation") != "lrelu" or out_f != w_dim:
            raise UnsupportedCheckpoint(f"mapping.fc{i} is {attr(fc, 'activation')} with {out_f} outputs; "
                                        f"only lrelu layers of width w_dim={w_dim} are supported")
        lr_mul = float(attr(fc, "bias_gain"))
        if not math.isclose(float(attr(fc, "weight_gain")), lr_mul / math.sqrt(in_f), rel_tol=1e-6):
            raise UnsupportedCheckpoint(f"mapping.fc{i}: weight_gain is not lr_multiplier/sqrt(in)")
        lr_muls.add(lr_mul)
    if len(lr_muls) != 1:
        raise UnsupportedCheckpoint(f"mapping layers have different lr multipliers {sorted(lr_muls)}")

    resolution = int(attr(synthesis, "img_resolution"))
    resolutions = [2**i for i in range(2, int(math.log2(resolution)) + 1)]
    clamps, fp16 = set(), []
    for res in resolutions:
        block = child(synthesis, f"b{res}")
        if attr(block, "architecture", "skip") != "skip":
            raise UnsupportedCheckpoint(f"b{res} uses the {attr(block, 'architecture')!r} architecture; only 'skip' is supported")
        if attr(block, "use_fp16", False):
            fp16.append(res)
        layers_here = ["conv1", "torgb"] if res == 4 else ["conv0", "conv1", "torgb"]
        for name in layers_here:
            layer = child(block, name)
            clamps.add(attr(layer, "conv_clamp", None))
            if name != "torgb" and (not attr(layer, "use_noise", True) or attr(layer, "activation", "lrelu") != "lrelu"):
                raise UnsupportedCheckpoint(f"b{res}.{name}: only lrelu layers with noise inputs are supported")
    if len(clamps) != 1:
        raise UnsupportedCheckpoint(f"layers have different conv_clamp values {sorted(map(str, clamps))}")
    conv_clamp = clamps.pop()
    cfg = GeneratorConfig(
        z_dim=z_dim, w_dim=w_dim, resolution=resolution, img_channels=int(attr(synthesis, "img_channels")),
        mapping_layers=layers, mapping_lr_multiplier=lr_muls.pop(),
        channels={r: int(state[f"synthesis.b{r}.conv1.weight"].shape[0]) for r in resolutions},
        w_avg_beta=float(attr(mapping, "w_avg_beta", None) or 0.995),
        resampling="fir", conv_clamp=None if conv_clamp is None else float(conv_clamp),
    )
    facts = {"fp16_resolutions": fp16, "conv_clamp": cfg.conv_clamp,
             "rendered_in": "float32 (as NVlabs' force_fp32=True)"}
    return cfg, facts


def source_hashes(record: PersistentRecord, out: dict | None = None) -> dict[str, str]:
    """class name -> sha256 of its embedded (never executed) module source."""
    out = {} if out is None else out
    out[record.class_name] = record.source_sha256
    for sub in (record.state.get("_modules") or {}).values():
        if isinstance(sub, PersistentRecord):
            source_hashes(sub, out)
    return out


def import_nvlabs(pkl: str | Path, out: str | Path, name: str | None = None, network: str = "G_ema") -> Path:
    pkl = Path(pkl)
    prepare_out_dir(out)
    data = load_network_pickle(pkl)
    if not isinstance(data, dict) or network not in data:
        keys = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise UnsupportedCheckpoint(f"{pkl.name} has no {network!r} network (found {keys})")
    G = data[network]
    if not isinstance(G, PersistentRecord) or G.class_name != "Generator":
        raise UnsupportedCheckpoint(f"{pkl.name}: {network} is not an NVlabs Generator record")
    mapping, synthesis = child(G, "mapping"), child(G, "synthesis")
    state = flatten(G)
    cfg, facts = derive_config(mapping, synthesis, state)
    # The resampling filters are fixed by resampling="fir"; refuse any other filter than [1,3,3,1].
    fir = fir_filter_2d()
    for key in [k for k in state if k.endswith("resample_filter")]:
        check_filter(key, state.pop(key), fir)
    has_w_avg = "mapping.w_avg" in state
    state.setdefault("mapping.w_avg", torch.zeros(cfg.w_dim))
    g = build_generator(cfg, state, pkl.name)
    if not has_w_avg:
        g.mapping.w_avg.copy_(estimate_w_avg(g))
    w_avg_from = "mapping.w_avg" if has_w_avg else W_AVG_ESTIMATED
    source = {"format": FORMAT, "network": network, "w_avg": w_avg_from, **facts,
              "noise": "noise_const buffers (NVlabs noise_mode='const')",
              "module_sources_not_executed": source_hashes(G)}
    return write_imported_bundle(out, g, pkl, source, name)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("pickle", help="NVlabs stylegan2-ada-pytorch network pickle (network-snapshot-*.pkl)")
    p.add_argument("--out", required=True, help="bundle folder to create (must not exist or be empty)")
    p.add_argument("--name", default=None, help="model name in the manifest (default: the folder's name)")
    p.add_argument("--network", default="G_ema", help="which network of the pickle to import (default G_ema)")


def run(args: argparse.Namespace) -> int:
    try:
        path = import_nvlabs(args.pickle, args.out, args.name, args.network)
    except (UnsafePickleError, UnsupportedCheckpoint, OSError) as e:
        print(f"import-nvlabs: {e}", file=sys.stderr)
        return 2
    print(describe_import(path))
    return 0

