"""What both importers share: load converted tensors into our Generator, fill w_avg when the
source has none, and write a bundle whose manifest says where it came from."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..bundle import load_bundle, save_bundle, sha256_file
from ..networks import FIR_TAPS, Generator, GeneratorConfig

W_AVG_SAMPLES = 10_000  # z draws averaged when a checkpoint carries no w_avg
W_AVG_SEED = 0
W_AVG_ESTIMATED = f"estimated: mean of the mapping over {W_AVG_SAMPLES} z from RandomState({W_AVG_SEED})"


class UnsupportedCheckpoint(ValueError):
    """The checkpoint is readable but is not a StyleGAN2 generator this importer can reproduce."""


def fir_filter_2d() -> torch.Tensor:
    """[4, 4] [1,3,3,1] outer product normalised to sum 1 (what NVlabs stores as resample_filter)."""
    taps = torch.tensor(FIR_TAPS)
    f = torch.outer(taps, taps)
    return f / f.sum()


def check_filter(name: str, tensor: torch.Tensor, expected: torch.Tensor) -> None:
    """Refuse checkpoints trained with another resampling filter: we would render them wrongly."""
    if tensor.shape != expected.shape or not torch.allclose(tensor.float(), expected, atol=1e-6):
        raise UnsupportedCheckpoint(f"{name} is not StyleGAN2's [1,3,3,1] filter {tuple(expected.shape)}; "
                           f"got {tuple(tensor.shape)} {tensor.flatten()[:4].tolist()}...")


def build_generator(cfg: GeneratorConfig, state: dict[str, torch.Tensor], source: str) -> Generator:
    """Our Generator holding exactly `state` (every tensor used, none missing)."""
    g = Generator(cfg)
    state = {k: v.detach().float().contiguous() for k, v in state.items()}
    expected = g.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise UnsupportedCheckpoint(f"{source}: tensors do not match a StyleGAN2 generator: missing {missing[:6]}, "
                           f"unexpected {unexpected[:6]}")
    wrong = [f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}" for k, v in expected.items() if state[k].shape != v.shape]
    if wrong:
        raise UnsupportedCheckpoint(f"{source}: tensor shapes do not match the derived config: {wrong[:4]}")
    g.load_state_dict(state, strict=True)
    return g.eval().requires_grad_(False)


def estimate_w_avg(g: Generator) -> torch.Tensor:
    """Mean of the mapping over fixed z draws (rosinality's `mean_latent`, made deterministic)."""
    z = torch.from_numpy(np.random.RandomState(W_AVG_SEED).randn(W_AVG_SAMPLES, g.cfg.z_dim).astype(np.float32))
    with torch.no_grad():
        return g.mapping(z).mean(0)


def write_imported_bundle(out: str | Path, g: Generator, source_path: Path, source: dict, name: str | None) -> Path:
    """Write `g` as a bundle; the manifest's `source` records the file, its format and its hash."""
    source_path = Path(source_path)
    entry = {"file": source_path.name, "sha256": sha256_file(source_path), **source}
    return save_bundle(
        out, g, name=name or Path(out).name, version="imported",
        description=f"imported from {source_path.name} ({source['format']})",
        extra={"source": entry, "data": {"source": f"imported checkpoint {source_path.name}",
                                          "licence": "the checkpoint's own (check before serving)"}},
    )


def prepare_out_dir(out: str | Path) -> None:
    """Refuse to write into a non-empty folder: an import never merges into another bundle."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"--out {out} exists and is not an empty folder")


def describe_import(path: Path) -> str:
    """One line for the command's output, read back from the written bundle (so it is loadable)."""
    c = load_bundle(path).config
    return (f"wrote {path}: {c.resolution} px, z {c.z_dim}, w {c.w_dim}, {c.num_ws} ws, "
            f"{c.mapping_layers} mapping layers, resampling {c.resampling}, conv_clamp {c.conv_clamp}")
