"""Model bundles: one folder per model, `manifest.json` + safetensors weights.

    <bundle>/manifest.json          name, version, generator config, sha256 of every file, data, metrics
    <bundle>/generator.safetensors  mapping.* and synthesis.* tensors (NVlabs names)
    <bundle>/*.safetensors          optional: classifier, encoder, directions

Loading verifies every listed file's sha256 before any tensor is read and never unpickles
anything. Every failure raises `BundleError` with the offending file in the message.

Paths: a manifest lists plain file names inside its folder (no separators, no "..", no links
out), and a model *name* (from --model or a request) resolves only to a folder directly inside
the model directory or the zoo, so neither can make the server read files elsewhere. A *path*
(anything with a separator) on the command line is the operator's explicit choice.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .networks import Generator, GeneratorConfig, seeded_generator

FORMAT = "avatarforge-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
GENERATOR_FILE = "generator.safetensors"
ZOO_DIR = Path(__file__).resolve().parent / "zoo"
DEFAULT_MODEL = "avatars128"  # avatars64 stays in the zoo as the fast model


def generator_sha256(manifest: dict) -> str:
    """A bundle's identity, the one every DNA it draws names, read from its manifest alone
    (without loading the weights)."""
    return manifest["files"][GENERATOR_FILE]["sha256"]


class BundleError(Exception):
    """A bundle is missing, corrupt or does not match its manifest."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class Bundle:
    path: Path
    manifest: dict
    generator: Generator = field(repr=False)

    @property
    def name(self) -> str:
        return self.manifest["name"]

    @property
    def version(self) -> str:
        return self.manifest["version"]

    @property
    def config(self) -> GeneratorConfig:
        return self.generator.cfg

    @property
    def default_truncation_psi(self) -> float:
        """The psi the model's trainer recommends for faces whose request sets none. A model
        trained to cover its data (avatars64) wants 1.0: truncation toward the average face
        buys nothing there and costs diversity. Bundles that say nothing get 1.0, the
        untruncated distribution (NVlabs' default too)."""
        return float(self.manifest.get("default_truncation_psi", 1.0))

    @property
    def generator_sha256(self) -> str:
        """Identity of the weights: DNA made with one model is refused by another."""
        return generator_sha256(self.manifest)

    def file_path(self, name: str) -> Path:
        """Path of an optional, already-verified file of the bundle (KeyError if absent)."""
        if name not in self.manifest["files"]:
            raise KeyError(f"bundle {self.name} has no {name}")
        return self.path / name

    def load_tensors(self, name: str) -> dict[str, torch.Tensor]:
        return load_file(str(self.file_path(name)))


def is_plain_name(name: str) -> bool:
    """One path component that names something inside a folder: no separators, not "." or "..",
    not hidden, no NUL."""
    return bool(name) and name not in (".", "..") and not name.startswith(".") and \
        not any(c in name for c in ("/", "\\", "\x00"))


def _inside(root: Path, name: str) -> Path:
    """root/name, refused when it resolves (links included) outside root."""
    candidate = root / name
    if not candidate.resolve().is_relative_to(root.resolve()):
        raise BundleError(f"{name!r} resolves outside {root}: a model name cannot leave the model directory")
    return candidate


def resolve_bundle_path(name_or_path: str | Path, model_dir: str | Path | None = None) -> Path:
    """A path to a bundle folder, or a bundle name looked up in `model_dir` then the zoo."""
    text = str(name_or_path)
    p = Path(text)
    if p.parent != Path(".") or p.is_absolute():
        return p  # an explicit path
    if not is_plain_name(text):
        raise BundleError(f"{text!r} is not a model name (a name is one plain folder name) nor a path to a bundle")
    if p.is_dir():
        return p  # a bundle folder in the working directory, named without ./
    for root in [Path(model_dir)] if model_dir else []:
        if (root / text).is_dir():
            return _inside(root, text)
    return _inside(ZOO_DIR, text)


def read_manifest(path: Path) -> dict:
    mpath = path / MANIFEST
    if not path.is_dir():
        raise BundleError(f"model bundle folder {path} does not exist")
    if not mpath.is_file():
        raise BundleError(f"{mpath} is missing: a bundle folder needs a manifest.json")
    try:
        manifest = json.loads(mpath.read_text())
    except json.JSONDecodeError as e:
        raise BundleError(f"{mpath} is not valid JSON: {e}") from e
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise BundleError(
            f"{mpath}: expected format {FORMAT!r} version {FORMAT_VERSION}, "
            f"got {manifest.get('format')!r} version {manifest.get('format_version')!r}"
        )
    for key in ("name", "version", "generator", "files"):
        if key not in manifest:
            raise BundleError(f"{mpath} has no {key!r} entry")
    for name in manifest["files"]:
        if not isinstance(name, str) or not is_plain_name(name):
            raise BundleError(f"{mpath} lists {name!r}: bundle files must be plain names inside the bundle folder")
        _check_inside_bundle(path, name, mpath)
    return manifest


def _check_inside_bundle(path: Path, name: str, mpath: Path) -> None:
    if (path / name).exists() and not (path / name).resolve().is_relative_to(path.resolve()):
        raise BundleError(f"{mpath} lists {name!r}, which links outside the bundle folder")


def verify_files(path: Path, manifest: dict) -> None:
    for name, info in manifest["files"].items():
        fpath = path / name
        if not fpath.is_file():
            raise BundleError(f"{fpath} is listed in the manifest but missing")
        actual = sha256_file(fpath)
        if actual != info["sha256"]:
            raise BundleError(
                f"{fpath} is corrupt or was replaced: sha256 {actual[:16]}... does not match "
                f"the manifest's {info['sha256'][:16]}... (re-copy the bundle)"
            )


def load_bundle(name_or_path: str | Path, model_dir: str | Path | None = None) -> Bundle:
    path = resolve_bundle_path(name_or_path, model_dir)
    manifest = read_manifest(path)
    verify_files(path, manifest)
    gen_file = path / GENERATOR_FILE
    if GENERATOR_FILE not in manifest["files"]:
        raise BundleError(f"{path / MANIFEST} does not list {GENERATOR_FILE}")
    try:
        cfg = GeneratorConfig.from_dict(manifest["generator"]["config"])
    except (TypeError, ValueError, KeyError) as e:
        raise BundleError(f"{path / MANIFEST}: bad generator config: {e}") from e
    try:
        state = load_file(str(gen_file))
    except Exception as e:  # safetensors raises its own error types for truncated headers
        raise BundleError(f"{gen_file} cannot be read as safetensors: {e}") from e
    generator = Generator(cfg)
    state = {k: v.float() for k, v in state.items()}
    missing, unexpected = generator.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise BundleError(
            f"{gen_file} does not match the manifest's generator config: "
            f"missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    try:
        generator.load_state_dict(state, strict=True)
    except RuntimeError as e:  # shape mismatches
        raise BundleError(f"{gen_file} does not match the manifest's generator config: {e}") from e
    return Bundle(path=path, manifest=manifest, generator=generator.eval().requires_grad_(False))


def write_manifest(path: Path, manifest: dict) -> None:
    """Recompute every listed file's sha256 and write manifest.json."""
    for name in list(manifest["files"]):
        f = path / name
        manifest["files"][name] = {"sha256": sha256_file(f), "bytes": f.stat().st_size}
    (path / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")


def update_manifest(path: Path, change) -> dict:
    """Read a bundle's manifest, let `change` edit the dict in place, write it back (checksums
    recomputed): how measurements made after the bundle was built are stored in it."""
    manifest = json.loads((path / MANIFEST).read_text())
    change(manifest)
    write_manifest(path, manifest)
    return manifest


def save_bundle(
    path: str | Path,
    generator: Generator,
    name: str,
    version: str = "1",
    description: str = "",
    dtype: torch.dtype = torch.float32,
    extra: dict | None = None,
) -> Path:
    """Write generator weights and a manifest; `extra` is merged into the manifest."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(dtype).contiguous() for k, v in generator.state_dict().items()}
    save_file(state, str(path / GENERATOR_FILE))
    old = json.loads((path / MANIFEST).read_text()) if (path / MANIFEST).is_file() else {}
    files = {k: {} for k in old.get("files", {}) if (path / k).is_file()}
    files[GENERATOR_FILE] = {}
    manifest = {
        **old,
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": name,
        "version": version,
        "description": description or old.get("description", ""),
        "generator": {"config": generator.cfg.to_dict(), "dtype": str(dtype).replace("torch.", "")},
        "files": files,
        **(extra or {}),
    }
    write_manifest(path, manifest)
    return path


def register_file(path: str | Path, name: str, key: str | None = None, manifest_entry: dict | None = None) -> None:
    """List a file already written into a bundle (checksummed) and, optionally, describe it under `key`."""
    path = Path(path)
    manifest = json.loads((path / MANIFEST).read_text())
    manifest["files"][name] = {}
    if key is not None:
        manifest[key] = manifest_entry
    write_manifest(path, manifest)


def add_file(path: str | Path, name: str, tensors: dict[str, torch.Tensor], key: str | None = None, manifest_entry: dict | None = None) -> None:
    """Write a safetensors file into a bundle and list it in the manifest."""
    save_file({k: v.detach().contiguous() for k, v in tensors.items()}, str(Path(path) / name))
    register_file(path, name, key, manifest_entry)


TINY_CONFIG = GeneratorConfig(
    z_dim=32, w_dim=32, resolution=32, mapping_layers=2, channels={4: 32, 8: 32, 16: 16, 32: 16}
)


def create_seeded_bundle(path: str | Path, seed: int = 0, cfg: GeneratorConfig = TINY_CONFIG, name: str = "tiny") -> Path:
    """A small untrained bundle whose weights are a pure function of the seed (tests, demos)."""
    g = seeded_generator(cfg, seed)
    with torch.no_grad():  # give truncation a non-trivial centre
        z = torch.from_numpy(__import__("numpy").random.RandomState(seed).randn(256, cfg.z_dim)).float()
        g.mapping.w_avg.copy_(g.mapping(z).mean(0))
    return save_bundle(
        path, g, name=name, version=f"seed{seed}",
        description=f"untrained StyleGAN2 from torch.manual_seed({seed}); for tests",
        extra={"data": {"source": "none (random weights)", "licence": "Apache-2.0"}},
    )
