"""The one-command GPU check (`make gpu-check` on the GPU machine the project is sometimes lent).

    python -m avatarforge.benchmarks.gpu_check --out out/gpu            # CUDA, < 8 minutes
    python -m avatarforge.benchmarks.gpu_check --device cpu --quick     # the same code on a CPU (CI)

In one run: the environment; the fp16 "fast" gate against fp32 (server/backends/precision_gate.py);
synthesis in eager mode vs a captured CUDA graph vs torch.compile at fixed batches; and the
throughput/latency sweep over batch 1..256 for the 64 px (avatars64) and 128 px architectures.
Writes results.json (and throughput.png when matplotlib imports).

TensorRT is not measured: it cannot be installed in this project's CI or on that machine (PyPI's
TensorRT packages are a placeholder that downloads from NVIDIA, and the GPU machine has no
network), so the TensorRT backend stays tested against the ONNX graph it consumes.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from avatarforge.models.architectures import AVATARS128
from avatarforge.models.bundle import load_bundle
from avatarforge.models.networks import seeded_generator
from avatarforge.server.backends.parity import parity_latents
from avatarforge.server.backends.precision_gate import create_serving_backend

BATCHES = (1, 4, 16, 64, 256)


def environment(device: str) -> dict:
    env = {"python": platform.python_version(), "torch": torch.__version__, "device": device}
    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(device)
        env.update(gpu=props.name, capability=f"{props.major}.{props.minor}",
                   memory_gib=round(props.total_memory / 2**30, 1), cuda=torch.version.cuda)
    return env


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def time_call(fn, device: str, budget_s: float, min_rounds: int = 3) -> list[float]:
    """Seconds of each call of fn() (after one warm-up), until budget_s and min_rounds are both met."""
    fn()
    _sync(device)
    times, start = [], time.perf_counter()
    while len(times) < min_rounds or time.perf_counter() - start < budget_s:
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return times


def real_ws(gen, n: int, device: str) -> torch.Tensor:
    """W+ from the model's own mapping: random normal W would put activations (and float
    subnormals) where real faces never go, and time something no request does."""
    with torch.inference_mode():
        w = gen.mapping.to(device)(torch.from_numpy(parity_latents(gen.cfg.z_dim, seeds=range(n))).to(device))
    return w[:, None, :].repeat(1, gen.cfg.num_ws, 1).contiguous()


def sweep(gen, synthesis, device: str, batches, budget_s: float) -> list[dict]:
    """img/s and latency per batch size of `synthesis(ws)` (a module on `device`)."""
    rows = []
    for n in batches:
        ws = real_ws(gen, n, device)
        with torch.inference_mode():
            t = time_call(lambda: synthesis(ws, noise_mode="const"), device, budget_s)
        rows.append({"batch": n, "images_per_s": n / float(np.median(t)),
                     "p50_ms": float(np.median(t) * 1e3), "p99_ms": float(np.percentile(t, 99) * 1e3)})
    return rows


def modes(gen, device: str, batches, budget_s: float) -> dict:
    """Eager vs a captured CUDA graph vs torch.compile, same inputs; a mode that cannot run says why."""
    synthesis = gen.synthesis
    out = {"eager": sweep(gen, synthesis, device, batches, budget_s)}
    if not device.startswith("cuda"):
        out["cuda_graph"] = out["torch_compile"] = "needs CUDA"
        return out
    graph_rows = []
    for n in batches:
        static_ws = real_ws(gen, n, device)
        with torch.inference_mode():
            stream = torch.cuda.Stream(device)
            stream.wait_stream(torch.cuda.current_stream(device))
            with torch.cuda.stream(stream):  # warm-up off the default stream, as capture requires
                synthesis(static_ws, noise_mode="const")
            torch.cuda.current_stream(device).wait_stream(stream)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                synthesis(static_ws, noise_mode="const")
            t = time_call(graph.replay, device, budget_s)
        graph_rows.append({"batch": n, "images_per_s": n / float(np.median(t)), "p50_ms": float(np.median(t) * 1e3)})
    out["cuda_graph"] = graph_rows
    try:
        compiled = torch.compile(synthesis)
        out["torch_compile"] = sweep(gen, compiled, device, batches, budget_s)
    except Exception as e:  # inductor needs a compiler toolchain the machine may lack: report, go on
        out["torch_compile"] = f"{type(e).__name__}: {e}"
    return out


def fast_gate(device: str) -> dict:
    backend = create_serving_backend("torch", load_bundle("avatars64"), "fast", device=device, threads=None)
    return {"precision": backend.precision, "gate": getattr(backend, "precision_gate", None),
            "fallback_reason": backend.describe()["fallback_reason"]}


def run(device: str, quick: bool, save=lambda results: None) -> dict:
    """`save(results)` after each model: a run stopped at the device's time limit keeps what it measured."""
    budget = 0.05 if quick else 1.0
    batches = (1, 4) if quick else BATCHES
    results = {"environment": environment(device), "started_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
               "fast_gate": fast_gate(device), "models": {}}
    avatars64 = load_bundle("avatars64").generator
    grown = seeded_generator(AVATARS128, seed=0)  # speed depends on the architecture, not the weights
    for name, gen in (("avatars64", avatars64), ("avatars128-architecture", grown)):
        gen = gen.to(device).eval()
        results["models"][name] = {"resolution": gen.cfg.resolution, "modes": modes(gen, device, batches, budget)}
        gen.to("cpu")
        save(results)
    return results


def plot(results: dict, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, m in results["models"].items():
        for mode, rows in m["modes"].items():
            if isinstance(rows, list):
                ax.plot([r["batch"] for r in rows], [r["images_per_s"] for r in rows], marker="o", label=f"{name} {mode}")
    ax.set(xscale="log", yscale="log", xlabel="batch", ylabel="images/s", title=results["environment"].get("gpu", "cpu"))
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return True


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda:0" if torch.cuda.is_available() else "cpu")
    p.add_argument("--quick", action="store_true", help="tiny budgets and batches 1 and 4: the CI run of this code")
    p.add_argument("--out", default="out/gpu", help="folder for results.json and throughput.png")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    save = lambda results: (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    results = run(args.device, args.quick, save)
    save(results)
    plotted = plot(results, out / "throughput.png")
    for name, m in results["models"].items():
        best = max(m["modes"]["eager"], key=lambda r: r["images_per_s"])
        print(f"{name}: eager best {best['images_per_s']:.0f} img/s at batch {best['batch']}")
    print(f"fast gate: {results['fast_gate']['precision']} ({results['fast_gate']['fallback_reason'] or 'kept'})")
    print(f"wrote {out / 'results.json'}" + (f" and {out / 'throughput.png'}" if plotted else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
