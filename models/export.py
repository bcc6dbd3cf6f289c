"""Export a bundle's generator to ONNX: mapping and synthesis as two separate graphs.

    mapping.onnx    z  float32 [N, z_dim]          -> w      float32 [N, w_dim]
    synthesis.onnx  ws float32 [N, num_ws, w_dim]  -> images uint8   [N, H, W, 3]

N is a dynamic axis ("batch") in both. Why two graphs: truncation, edits and style mixing are
latent arithmetic on W+ between them, so an edit never runs the mapping MLP and never changes a
graph. The synthesis graph ends with `to_uint8_images` (x*127.5+128, clamp, cast, NCHW->NHWC),
so ONNX Runtime, TensorRT and torch all quantise the same way.

What makes the graphs portable (shared/research/models.md §6): modulation is applied to
activations (the generator already does this, so conv weights are static initializers and the
batch stays dynamic), noise is the constant buffer baked in as an initializer, and every op is a
standard ONNX op (Gemm/MatMul, Conv, Resize, LeakyRelu, Clip, Cast): no custom ops.

Cache: `<bundle>/generator.onnx.cache/<key>/` (or `$AVATARFORGE_CACHE_DIR/onnx/<key>/`, default
`~/.cache/avatarforge`, when the bundle folder is read-only), where the key is the generator's
content hash, the opset, the precision and this exporter's format version. `export.json` there
records the sha256 of each graph, which the TensorRT engine cache keys on.

    python -m avatarforge.models.export --model PATH_OR_NAME [--opset 17] [--precision fp32|fp16]
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import tempfile
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from .bundle import Bundle, load_bundle, sha256_file

DEFAULT_OPSET = 17  # Supported by TensorRT 8.6-11 and every onnxruntime we pin.
# Bump when the graphs change for the same weights (e.g. new post-processing): old caches then miss.
EXPORT_FORMAT = 2
CACHE_DIR_NAME = "generator.onnx.cache"  # matches `*.onnx.cache/` in .gitignore
PRECISIONS = ("fp32", "fp16")


def to_uint8_nhwc(img: torch.Tensor) -> torch.Tensor:
    """float [N, 3, H, W] in [-1, 1] -> uint8 [N, H, W, 3].

    NVlabs' convention: x*127.5+128, clamp, truncating cast. The single definition: the server's
    `backends.base.to_uint8_images` calls this (models never import the server, STYLE.md).
    """
    return (img * 127.5 + 128).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)


class MappingGraph(nn.Module):
    """z float32 [N, z_dim] -> w float32 [N, w_dim]."""

    def __init__(self, generator):
        super().__init__()
        self.mapping = generator.mapping

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.mapping(z)


class SynthesisGraph(nn.Module):
    """ws float32 [N, num_ws, w_dim] -> images uint8 [N, H, W, 3], constant noise.

    With `half=True` the network runs in float16 between float32 I/O: the "converted ONNX" that
    TensorRT 11 needs for FP16 (strong typing takes precision from the graph's types, not from
    builder flags). The uint8 post-processing stays in float32 so rounding matches fp32 graphs.
    """

    def __init__(self, generator, half: bool = False):
        super().__init__()
        self.half_precision = half
        self.synthesis = generator.synthesis.half() if half else generator.synthesis

    def forward(self, ws: torch.Tensor) -> torch.Tensor:
        if self.half_precision:
            img = self.synthesis(ws.half(), noise_mode="const").float()
        else:
            img = self.synthesis(ws, noise_mode="const")
        return to_uint8_nhwc(img)


@dataclass(frozen=True)
class OnnxExport:
    """Where one bundle's exported graphs live, and their identities."""

    mapping: Path
    synthesis: Path
    key: str  # cache key: <generator sha256[:16]>_opset<k>_<precision>_f<EXPORT_FORMAT>
    mapping_sha256: str
    synthesis_sha256: str
    opset: int
    precision: str
    reused: bool  # True when the cache already held valid graphs (nothing was exported)

    @property
    def directory(self) -> Path:
        return self.mapping.parent


def export_key(generator_sha256: str, opset: int = DEFAULT_OPSET, precision: str = "fp32") -> str:
    return f"{generator_sha256[:16]}_opset{opset}_{precision}_f{EXPORT_FORMAT}"


def default_cache_root() -> Path:
    return Path(os.environ.get("AVATARFORGE_CACHE_DIR", Path.home() / ".cache" / "avatarforge"))


def _is_writable_dir(path: Path) -> bool:
    """True if we can create files in `path` (os.access lies on some mounts, so try it)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path):
            pass
        return True
    except OSError:
        return False


def cache_dir_for(bundle: Bundle, key: str, cache_root: Path | None = None) -> Path:
    """`<bundle>/generator.onnx.cache/<key>`, else `<cache_root>/onnx/<key>` if the bundle is read-only."""
    if cache_root is None:
        beside = Path(bundle.path) / CACHE_DIR_NAME
        if _is_writable_dir(beside):
            return beside / key
        cache_root = default_cache_root()
    return Path(cache_root) / "onnx" / key


def _trace_to_onnx(module: nn.Module, example: torch.Tensor, input_name: str, output_name: str, opset: int) -> bytes:
    """Serialize `module` with a dynamic axis 0. Deterministic: same weights -> same bytes.

    The TorchScript exporter (dynamo=False) is used because the torch.export-based one needs
    onnxscript, which is not a dependency; it gives byte-identical files run after run.
    """
    buf = io.BytesIO()
    with warnings.catch_warnings():
        # Deprecation notice of the TorchScript exporter, and tracer notes about the shape
        # assertions in forward() (shapes other than the batch are fixed by design).
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module, (example,), buf,
            input_names=[input_name], output_names=[output_name],
            dynamic_axes={input_name: {0: "batch"}, output_name: {0: "batch"}},
            opset_version=opset, do_constant_folding=True, dynamo=False,
        )
    return buf.getvalue()


def _declare_output_shape(onnx_bytes: bytes, dims: list) -> bytes:
    """Write the known output shape into the graph (the tracer leaves H and W symbolic after
    Resize), so consumers such as TensorRT and the checker see [batch, H, W, 3], not [batch, ?, ?, 3]."""
    import onnx

    model = onnx.load_from_string(onnx_bytes)
    shape = model.graph.output[0].type.tensor_type.shape
    for dim, value in zip(shape.dim, dims):
        if isinstance(value, str):
            dim.dim_param = value
        else:
            dim.dim_value = value
    return model.SerializeToString()


def _check(onnx_bytes: bytes, name: str) -> None:
    import onnx

    model = onnx.load_from_string(onnx_bytes)
    onnx.checker.check_model(model, full_check=True)  # full_check also runs shape inference
    ops = {n.op_type for n in model.graph.node}
    domains = {n.domain for n in model.graph.node} - {"", "ai.onnx"}
    if domains:
        raise RuntimeError(f"{name}: custom-op domains {sorted(domains)} in {sorted(ops)}")


def _read_cached(directory: Path, key: str) -> dict | None:
    """The cache's export.json if both graphs are present and match their recorded hashes."""
    meta_path = directory / "export.json"
    try:
        meta = json.loads(meta_path.read_text())
        if meta.get("key") != key:
            return None
        for graph in ("mapping", "synthesis"):
            if sha256_file(directory / f"{graph}.onnx") != meta[f"{graph}_sha256"]:
                return None
        return meta
    except (OSError, ValueError, KeyError):
        return None


def export_onnx(
    bundle: Bundle,
    opset: int = DEFAULT_OPSET,
    precision: str = "fp32",  # "fp16": synthesis in float16 inside (for TensorRT 11); mapping stays fp32
    cache_root: str | Path | None = None,  # force the cache under <cache_root>/onnx instead of the bundle
    force: bool = False,  # re-export even if the cache is valid
) -> OnnxExport:
    """Export (or reuse) mapping.onnx and synthesis.onnx for `bundle`; both checked by onnx.checker."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    key = export_key(bundle.generator_sha256, opset, precision)
    directory = cache_dir_for(bundle, key, Path(cache_root) if cache_root else None)
    meta = None if force else _read_cached(directory, key)
    reused = meta is not None
    if meta is None:
        meta = _export_into(bundle, directory, key, opset, precision)
    return OnnxExport(
        mapping=directory / "mapping.onnx", synthesis=directory / "synthesis.onnx", key=key,
        mapping_sha256=meta["mapping_sha256"], synthesis_sha256=meta["synthesis_sha256"],
        opset=opset, precision=precision, reused=reused,
    )


def _export_into(bundle: Bundle, directory: Path, key: str, opset: int, precision: str) -> dict:
    import copy

    cfg = bundle.config
    # A copy, because SynthesisGraph(half=True) converts in place and the bundle is shared.
    generator = copy.deepcopy(bundle.generator).cpu().eval().requires_grad_(False)
    graphs = {
        # Batch 2 when tracing so no size-1 dimension gets specialised away.
        "mapping": _declare_output_shape(
            _trace_to_onnx(MappingGraph(generator), torch.zeros(2, cfg.z_dim), "z", "w", opset),
            ["batch", cfg.w_dim],
        ),
        "synthesis": _declare_output_shape(
            _trace_to_onnx(SynthesisGraph(generator, half=precision == "fp16"),
                           torch.zeros(2, cfg.num_ws, cfg.w_dim), "ws", "images", opset),
            ["batch", cfg.resolution, cfg.resolution, cfg.img_channels],
        ),
    }
    for name, data in graphs.items():
        _check(data, f"{name}.onnx")
    meta = {
        "key": key,
        "bundle": {"name": bundle.name, "version": bundle.version, "generator_sha256": bundle.generator_sha256},
        "opset": opset,
        "precision": precision,
        "export_format": EXPORT_FORMAT,
        "torch": torch.__version__,
        "io": {
            "mapping": {"z": ["batch", cfg.z_dim], "w": ["batch", cfg.w_dim]},
            "synthesis": {"ws": ["batch", cfg.num_ws, cfg.w_dim],
                          "images": ["batch", cfg.resolution, cfg.resolution, cfg.img_channels]},
        },
        **{f"{n}_sha256": hashlib.sha256(d).hexdigest() for n, d in graphs.items()},
    }
    # Write into a sibling temp folder, then rename: a concurrent reader (another server process)
    # sees either no cache or a complete one, never half a file.
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=directory.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; the cache is shared by every server process
        for name, data in graphs.items():
            (tmp / f"{name}.onnx").write_bytes(data)
        (tmp / "export.json").write_text(json.dumps(meta, indent=2) + "\n")
        if directory.exists():
            shutil.rmtree(directory)  # stale or corrupt cache for this key
        os.replace(tmp, directory)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if _read_cached(directory, key) is None:  # lost a race to a process that wrote a valid copy?
            raise
    return meta


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="bundle folder or zoo name")
    ap.add_argument("--model-dir", default=None, help="folder to look names up in before the zoo")
    ap.add_argument("--opset", type=int, default=DEFAULT_OPSET)
    ap.add_argument("--precision", choices=PRECISIONS, default="fp32")
    ap.add_argument("--cache-dir", default=None, help="cache root to use instead of the bundle folder")
    ap.add_argument("--force", action="store_true", help="re-export even if a valid cache exists")
    args = ap.parse_args(argv)
    bundle = load_bundle(args.model, args.model_dir)
    result = export_onnx(bundle, opset=args.opset, precision=args.precision, cache_root=args.cache_dir, force=args.force)
    out = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(result).items()}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
