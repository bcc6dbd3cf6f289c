"""Benchmark entry point: run the suites for one model, write JSON, Markdown and plots.

    python -m avatarforge.benchmarks.run --model avatars64 --backends torch,onnxruntime --out out/bench
    python -m avatarforge.benchmarks.run --random-config avatars64 --threads 1 --out out/bench-64

Suites: "inprocess" (benchmarks/inprocess.py) and "server" (benchmarks/server_suite.py: a
concurrency sweep 1/4/16/64 of interactive previews and bulk streams against a server
subprocess, with server vs in-process ratios), under results["suites"][name]. The `avatarforge
bench` command (benchmarks/cli.py) runs the server suite with headline keys and CI gates.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from avatarforge.models.bundle import Bundle, create_seeded_bundle, load_bundle

from . import inprocess, results_report

SCHEMA = "avatarforge-bench/1"


def random_config(name: str):
    """Generator configs benchmarked with random weights (speed does not depend on training)."""
    from avatarforge.models.bundle import TINY_CONFIG

    if name == "tiny":
        return TINY_CONFIG
    from avatarforge.models.architectures import AVATARS64, AVATARS128

    configs = {"avatars64": AVATARS64, "avatars128": AVATARS128}
    if name not in configs:
        raise ValueError(f"unknown random config {name!r}; choose tiny, {' or '.join(configs)}")
    return configs[name]


def random_bundle(name: str, folder: Path, seed: int = 0) -> Bundle:
    """A seeded random-weight bundle of config `name`, kept in `folder` so its ONNX cache persists."""
    path = folder / f"{name}-random-seed{seed}"
    if not (path / "manifest.json").is_file():
        create_seeded_bundle(path, seed=seed, cfg=random_config(name), name=f"{name}-random")
    return load_bundle(path)


def suite_inprocess(bundle: Bundle, args) -> dict:
    return inprocess.run_inprocess(
        bundle, backend_names=args.backends, device=args.device, threads=args.threads,
        batch_sizes=args.batch_sizes, latency_seconds=args.latency_seconds,
        throughput_seconds=args.throughput_seconds,
    )


def suite_server(bundle: Bundle, args) -> dict:
    """One server per backend (a subprocess), swept against the in-process baseline
    (server_suite.py); `avatarforge bench` is the fuller front end with gates."""
    from . import server_suite

    return {name: server_suite.run_server_suite(bundle, backend=name, threads=args.threads,
                                                seconds=args.latency_seconds,
                                                batch_sizes=args.batch_sizes, baseline_latency_s=args.latency_seconds,
                                                baseline_throughput_s=args.throughput_seconds)
            for name in args.backends}


SUITES = {"inprocess": suite_inprocess, "server": suite_server}


def run(bundle: Bundle, args) -> dict:
    cfg = bundle.config
    results = {
        "schema": SCHEMA,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "model": {"name": bundle.name, "version": bundle.version, "resolution": cfg.resolution,
                  "num_ws": cfg.num_ws, "w_dim": cfg.w_dim, "generator_sha256": bundle.generator_sha256},
        "suites": {},
    }
    for name in args.suites:
        results["suites"][name] = SUITES[name](bundle, args)
    return results


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", help="bundle folder or zoo name")
    src.add_argument("--random-config", choices=["tiny", "avatars64", "avatars128"], help="random weights of this architecture")
    ap.add_argument("--suites", default="inprocess", type=lambda s: s.split(","), help=f"comma list of {list(SUITES)}")
    ap.add_argument("--backends", default="torch,onnxruntime", type=lambda s: s.split(","))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads per backend (default: library default)")
    ap.add_argument("--batch-sizes", default=list(inprocess.DEFAULT_BATCH_SIZES),
                    type=lambda s: [int(x) for x in s.split(",")])
    ap.add_argument("--latency-seconds", type=float, default=3.0)
    ap.add_argument("--throughput-seconds", type=float, default=2.0, help="per batch size")
    ap.add_argument("--out", default="out/bench", help="folder for results.json, results.md, *.png")
    return ap.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    unknown = set(args.suites) - set(SUITES)
    if unknown:
        raise SystemExit(f"unknown suites {sorted(unknown)}; available: {list(SUITES)}")
    out = Path(args.out)
    bundle = load_bundle(args.model) if args.model else random_bundle(args.random_config, out / "bundles")
    results = run(bundle, args)
    paths = results_report.write_report(results, out)
    print(paths["markdown"].read_text())
    print(json.dumps({k: str(v) for k, v in paths.items()}))
    return results


if __name__ == "__main__":
    main()
