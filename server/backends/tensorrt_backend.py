"""TensorRT backend: engines built from our ONNX graphs, cached per GPU and version.

    map(z: float32 [N, z_dim]) -> float32 [N, w_dim]                mapping engine
    synthesize(ws: float32 [N, num_ws, w_dim]) -> uint8 [N, H, W, 3]   synthesis engine

Written against the TensorRT 10/11 Python API (shared/research/serving.md §3); it needs an NVIDIA
GPU and the `tensorrt` package, neither of which CI has, so only the pure parts (cache key,
profile choice, availability reason) are unit-tested there. Import-guarded: importing this
module never imports tensorrt.

Decisions:
- Optimization profiles: "interactive" (batch 1..4, tuned for 1: slider previews) and "bulk"
  (1..64, tuned for 16: NPC builds). Batches above the largest max are split.
- Concurrency: a profile can be active in only one execution context at a time, so the engine
  holds `streams` copies of the profile set and each (stream slot, profile) pair owns a context
  bound to its own profile index: no profile switching, no sharing. A call takes a free slot,
  runs on that slot's torch CUDA stream with torch-allocated input and output, and gives it back.
- Precision: fp32 clears TF32 so results match the torch reference. fp16 on TensorRT 10 sets
  BuilderFlag.FP16 (weak typing) on the fp32 graph; TensorRT 11 removed that flag and is always
  strongly typed, so fp16 there builds from the fp16 graph (models.export precision="fp16"),
  whose types carry the precision. Either way fp16 is kept only if it passes the parity check
  against torch fp32 on fixed seeds; otherwise the synthesis engine is rebuilt in fp32.
- Cache: `<onnx cache>/../tensorrt/<key>/{engine.plan,timing.cache}` with key
  `{onnx_sha}/{gpu}_sm{XY}/trt{ver}_cuda{ver}/{precision}_s{streams}_{profiles}`. Plans are not
  portable across GPUs or TensorRT versions, so every one of those is in the key; a cached plan
  that fails to deserialize (null engine) is rebuilt, never trusted.
"""
from __future__ import annotations

import os
import queue
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .base import BackendUnavailable

WORKSPACE_BYTES = 2 << 30  # builder scratch memory; StyleGAN2 at 1024 px needs well under this


@dataclass(frozen=True)
class BatchProfile:
    """One TensorRT optimization profile over the batch axis: kernels are tuned for `opt`."""

    name: str
    min: int
    opt: int
    max: int

    def label(self) -> str:
        return f"{self.name}{self.min}-{self.opt}-{self.max}"


DEFAULT_PROFILES = (BatchProfile("interactive", 1, 1, 4), BatchProfile("bulk", 1, 16, 64))


def tensorrt_unavailable_reason() -> str | None:
    """None if TensorRT can run here, else a sentence saying why not (for describe())."""
    try:
        import tensorrt  # noqa: F401
    except Exception as e:  # ImportError, or OSError when the bindings miss their .so files
        return f"tensorrt is not importable ({type(e).__name__}: {e})"
    if not torch.cuda.is_available():
        return "tensorrt is installed but torch sees no CUDA GPU"
    return None


def engine_cache_key(
    onnx_sha256: str,  # sha256 of the ONNX graph the engine is built from
    gpu_name: str,  # torch.cuda.get_device_name()
    compute_capability: tuple[int, int],  # torch.cuda.get_device_capability()
    trt_version: str,  # tensorrt.__version__
    cuda_version: str,  # torch.version.cuda
    precision: str,  # "fp32" | "fp16"
    profiles: tuple[BatchProfile, ...],
    streams: int,  # copies of the profile set (one execution context each)
) -> str:
    """Path-like key; two builds with the same key are interchangeable plans."""
    gpu = re.sub(r"[^a-z0-9]+", "-", gpu_name.lower()).strip("-") or "gpu"
    major, minor = compute_capability
    prof = "_".join(p.label() for p in profiles)
    return f"{onnx_sha256[:16]}/{gpu}_sm{major}{minor}/trt{trt_version}_cuda{cuda_version}/{precision}_s{streams}_{prof}"


def pick_profile(batch: int, profiles: tuple[BatchProfile, ...]) -> int:
    """Index of the narrowest profile whose [min, max] holds `batch` (interactive before bulk)."""
    fitting = [i for i, p in enumerate(profiles) if p.min <= batch <= p.max]
    if not fitting:
        raise ValueError(f"batch {batch} fits no profile {[p.label() for p in profiles]}")
    return min(fitting, key=lambda i: profiles[i].max - profiles[i].min)


def trt_major(trt) -> int:
    return int(trt.__version__.split(".")[0])


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _make_logger(trt):
    class CapturingLogger(trt.ILogger):
        """Keeps warnings and errors so a failed build or load can say why."""

        def __init__(self):
            trt.ILogger.__init__(self)
            self.messages: list[str] = []

        def log(self, severity, msg):
            if severity <= trt.ILogger.Severity.WARNING:
                self.messages.append(f"{severity.name}: {msg}")

    return CapturingLogger()


def build_engine(trt, logger, onnx_path: Path, input_name: str, input_tail: tuple[int, ...],
                 precision: str, profiles: tuple[BatchProfile, ...], streams: int, timing_cache: Path) -> bytes:
    """Serialized plan for `onnx_path` with `streams` copies of `profiles`; updates `timing_cache`."""
    builder = trt.Builder(logger)
    flags = 0
    strongly_typed = trt_major(trt) >= 11
    if strongly_typed and hasattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED"):
        # Always on in 11.x; the flag is accepted there and states the intent.
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):  # from file: resolves external weight data too
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise RuntimeError(f"TensorRT could not parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
    if hasattr(trt.BuilderFlag, "TF32"):
        config.clear_flag(trt.BuilderFlag.TF32)  # fp32 must mean fp32: parity with torch's CPU reference
    if precision == "fp16" and not strongly_typed:
        config.set_flag(trt.BuilderFlag.FP16)  # TensorRT 10 weak typing; removed in 11
    for _ in range(streams):
        for p in profiles:
            profile = builder.create_optimization_profile()
            profile.set_shape(input_name, (p.min, *input_tail), (p.opt, *input_tail), (p.max, *input_tail))
            config.add_optimization_profile(profile)
    cache = config.create_timing_cache(timing_cache.read_bytes() if timing_cache.is_file() else b"")
    if not config.set_timing_cache(cache, ignore_mismatch=False):  # a cache from another device/version
        config.set_timing_cache(config.create_timing_cache(b""), ignore_mismatch=False)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise RuntimeError(f"TensorRT build of {onnx_path.name} failed: {logger.messages[-5:]}")
    _atomic_write(timing_cache, memoryview(config.get_timing_cache().serialize()).tobytes())
    return memoryview(plan).tobytes()


class EngineRunner:
    """One deserialized engine with an execution context per (stream slot, profile)."""

    def __init__(self, trt, engine, profiles: tuple[BatchProfile, ...], streams: list[torch.cuda.Stream]):
        self.engine, self.profiles = engine, profiles
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        inputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        outputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        if len(inputs) != 1 or len(outputs) != 1:
            raise RuntimeError(f"expected one input and one output, got {inputs} -> {outputs}")
        self.input_name, self.output_name = inputs[0], outputs[0]
        dtypes = {trt.float32: torch.float32, trt.float16: torch.float16, trt.uint8: torch.uint8, trt.int32: torch.int32}
        self.output_dtype = dtypes[engine.get_tensor_dtype(self.output_name)]
        self.contexts = []  # [slot][profile] -> IExecutionContext
        for slot, stream in enumerate(streams):
            row = []
            for j in range(len(profiles)):
                ctx = engine.create_execution_context()
                if ctx is None:
                    raise RuntimeError("TensorRT could not create an execution context (out of GPU memory?)")
                ctx.set_optimization_profile_async(slot * len(profiles) + j, stream.cuda_stream)
                row.append(ctx)
            self.contexts.append(row)
        for stream in streams:
            stream.synchronize()

    @property
    def max_batch(self) -> int:
        return max(p.max for p in self.profiles)

    def run(self, slot: int, x: torch.Tensor, stream: torch.cuda.Stream) -> torch.Tensor:
        """x: contiguous CUDA tensor [n, ...] with n within a profile; returns the output on `stream`."""
        ctx = self.contexts[slot][pick_profile(x.shape[0], self.profiles)]
        ctx.set_input_shape(self.input_name, tuple(x.shape))
        out = torch.empty(tuple(ctx.get_tensor_shape(self.output_name)), dtype=self.output_dtype, device=x.device)
        ctx.set_tensor_address(self.input_name, x.data_ptr())
        ctx.set_tensor_address(self.output_name, out.data_ptr())
        if not ctx.execute_async_v3(stream.cuda_stream):
            raise RuntimeError(f"TensorRT execute_async_v3 failed for batch {x.shape[0]}")
        return out


class TensorRTBackend:
    name = "tensorrt"

    def __init__(
        self,
        bundle,
        device: str = "auto",  # "auto" | "cuda" | "cuda:<i>"
        threads: int | None = None,  # unused (GPU); accepted for the common create_backend signature
        precision: str = "fp32",  # "fp32" | "fp16" (parity-gated)
        streams: int = 2,  # concurrent calls this backend can run (one context set each)
        profiles: tuple[BatchProfile, ...] = DEFAULT_PROFILES,
        cache_root=None,  # ONNX/engine cache root if the bundle folder is read-only
    ):
        reason = tensorrt_unavailable_reason()
        if reason:
            raise BackendUnavailable(reason)
        import tensorrt as trt

        from .parity import check_parity
        from .torch_backend import TorchBackend

        if precision not in ("fp32", "fp16"):
            raise ValueError(f"precision must be fp32 or fp16, got {precision!r}")
        if device == "auto":
            device = "cuda:0"
        if not device.startswith("cuda"):
            raise BackendUnavailable(f"tensorrt runs on CUDA devices only, not {device!r}")
        self.device = device if ":" in device else "cuda:0"
        self._trt, self.profiles, self.fallback_reason = trt, tuple(profiles), ""
        self._logger = _make_logger(trt)
        self._runtime = trt.Runtime(self._logger)
        self._cuda = torch.device(self.device)
        self._cache_root = cache_root
        self._bundle = bundle
        with torch.cuda.device(self._cuda):
            self._streams = [torch.cuda.Stream(self._cuda) for _ in range(streams)]
        self._free_slots: queue.Queue[int] = queue.Queue()
        for i in range(streams):
            self._free_slots.put(i)
        cfg = bundle.config
        self._mapping, self.mapping_key = self._load("mapping", "fp32", "z", (cfg.z_dim,))
        self.precision = precision
        self._synthesis, self.engine_key = self._load("synthesis", precision, "ws", (cfg.num_ws, cfg.w_dim))
        # Always check against the torch reference on the same GPU: it catches a wrong engine
        # (fp32 too) before it serves a single face; fp16 falls back to an fp32 engine.
        reference = TorchBackend(bundle, device=self.device, precision="fp32")
        self.parity = check_parity(reference, self, cfg.z_dim, cfg.num_ws)
        if not self.parity["ok"] and precision == "fp16":
            self.fallback_reason = f"fp16 engine failed parity against torch fp32 ({self.parity['images']}); rebuilt in fp32"
            self.precision = "fp32"
            self._synthesis, self.engine_key = self._load("synthesis", "fp32", "ws", (cfg.num_ws, cfg.w_dim))
            self.parity = check_parity(reference, self, cfg.z_dim, cfg.num_ws)
        if not self.parity["ok"]:
            raise BackendUnavailable(f"TensorRT {self.precision} engine disagrees with torch: {self.parity}")

    def _load(self, graph: str, precision: str, input_name: str, input_tail: tuple[int, ...]):
        """(EngineRunner, key) for one graph: the cached plan if it deserializes, else a fresh build."""
        from avatarforge.models.export import export_onnx

        trt = self._trt
        # TensorRT 11 takes fp16 from the graph's types; 10 takes it from a builder flag on fp32.
        onnx_precision = precision if trt_major(trt) >= 11 else "fp32"
        export = export_onnx(self._bundle, precision=onnx_precision, cache_root=self._cache_root)
        onnx_path = getattr(export, graph)
        key = engine_cache_key(
            getattr(export, f"{graph}_sha256"), torch.cuda.get_device_name(self._cuda),
            torch.cuda.get_device_capability(self._cuda), trt.__version__, str(torch.version.cuda),
            precision, self.profiles, len(self._streams),
        )
        folder = export.directory.parent / "tensorrt" / key
        plan_path = folder / "engine.plan"
        engine = None
        if plan_path.is_file():
            engine = self._runtime.deserialize_cuda_engine(plan_path.read_bytes())
            # A null engine (version tag mismatch, corrupt file) is rebuilt below, never used.
        if engine is None:
            with torch.cuda.device(self._cuda):
                plan = build_engine(trt, self._logger, onnx_path, input_name, input_tail, precision,
                                    self.profiles, len(self._streams), folder / "timing.cache")
            _atomic_write(plan_path, plan)
            engine = self._runtime.deserialize_cuda_engine(plan)
            if engine is None:
                raise RuntimeError(f"TensorRT built but could not load {plan_path}: {self._logger.messages[-5:]}")
        return EngineRunner(trt, engine, self.profiles, self._streams), key

    def _run(self, runner: EngineRunner, x: np.ndarray) -> np.ndarray:
        slot = self._free_slots.get()  # blocks while every stream is busy
        try:
            stream = self._streams[slot]
            with torch.cuda.device(self._cuda), torch.cuda.stream(stream):
                xt = torch.from_numpy(np.ascontiguousarray(x, np.float32)).to(self._cuda)
                outs = [runner.run(slot, chunk.contiguous(), stream) for chunk in xt.split(runner.max_batch)]
                out = outs[0] if len(outs) == 1 else torch.cat(outs)
                return out.cpu().numpy()  # a blocking copy on `stream`: the result is complete
        finally:
            self._free_slots.put(slot)

    def map(self, z: np.ndarray) -> np.ndarray:
        """z float32 [N, z_dim] -> w float32 [N, w_dim]."""
        return self._run(self._mapping, z)

    def synthesize(self, ws: np.ndarray) -> np.ndarray:
        """ws float32 [N, num_ws, w_dim] -> uint8 [N, H, W, 3]."""
        return self._run(self._synthesis, ws)

    def describe(self) -> dict:
        return {
            "backend": self.name,
            "device": self.device,
            "precision": self.precision,
            "engine_key": self.engine_key,
            "fallback_reason": self.fallback_reason,
            "tensorrt": self._trt.__version__,
            "streams": len(self._streams),
            "profiles": [p.label() for p in self.profiles],
            "mapping_engine_key": self.mapping_key,
            "parity": self.parity,
        }
