"""What 128 px costs to serve next to 64 px: one benchmark, both architectures, one run.

    python -m avatarforge.benchmarks.resolution_cost --threads 2 --seconds 5 --out out/bench-resolution

Each architecture (avatars64, avatars128) runs with seeded random weights (speed does not depend
on training) on the same backend, A/B interleaved round after round (benchmarks/inprocess.py),
so a background job slows both alike and the ratio holds. For each batch size it times:
- synthesis: the backend's synthesize() of W+ codes, uint8 pixels out;
- served PNG: synthesis plus each face encoded as a PNG at its native size, the work the server
  does for a RenderPreview or a Generate item (its other costs do not depend on the resolution).
Reported as images/s and the 128 / 64 ratio.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

from avatarforge.server.imaging import encode_image
from avatarforge.v1 import avatarforge_pb2 as pb

from .inprocess import interleaved, benchmark_ws, environment
from .run import random_bundle

ARCHITECTURES = ("avatars64", "avatars128")


def measure(backend_name: str, threads: int | None, seconds: float, batch_sizes: tuple[int, ...], folder: Path) -> dict:
    from avatarforge.server.backends import create_backend

    backends, codes, size_of = {}, {}, {}
    for name in ARCHITECTURES:
        bundle = random_bundle(name, folder)
        backends[name] = create_backend(backend_name, bundle, device="cpu", threads=threads)
        cfg = bundle.config
        codes[name] = benchmark_ws(backends[name], cfg.z_dim, cfg.num_ws, max(batch_sizes))
        size_of[name] = cfg.resolution
    name_of = {id(b): n for n, b in backends.items()}

    def synthesis(n):
        return lambda b: b.synthesize(codes[name_of[id(b)]][:n])

    def served_png(n):
        def call(b):
            name = name_of[id(b)]
            for face in b.synthesize(codes[name][:n]):
                encode_image(face, pb.IMAGE_FORMAT_PNG, size_of[name])
        return call

    rows = []
    for n in batch_sizes:
        for work, make in (("synthesis", synthesis), ("served PNG", served_png)):
            samples = interleaved(backends, make(n), seconds, min_samples=3, calls_per_turn=1)
            per_s = {name: n / float(np.median(s)) for name, s in samples.items()}
            rows.append({"batch": n, "work": work, "images_per_s": {k: round(v, 1) for k, v in per_s.items()},
                         "ratio_128_to_64": round(per_s["avatars128"] / per_s["avatars64"], 3)})
    return {"backend": backend_name, "threads": threads, "rows": rows}


def table(result: dict) -> str:
    lines = ["| batch | work | avatars64 img/s | avatars128 img/s | 128 / 64 |", "| ---: | --- | ---: | ---: | ---: |"]
    for r in result["rows"]:
        ips = r["images_per_s"]
        lines.append(f"| {r['batch']} | {r['work']} | {ips['avatars64']} | {ips['avatars128']} | {r['ratio_128_to_64']} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--backend", default="torch")
    p.add_argument("--threads", type=int, default=None, help="backend threads (default: the backend's own choice)")
    p.add_argument("--seconds", type=float, default=5.0, help="per batch size and kind of work")
    p.add_argument("--batch-sizes", default="1,16")
    p.add_argument("--out", default="out/bench-resolution", help="folder for result.json (and the random bundles)")
    a = p.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    env = environment()
    result = measure(a.backend, a.threads, a.seconds, tuple(int(b) for b in a.batch_sizes.split(",")), out)
    result["environment"] = env | {"loadavg_end": os.getloadavg()[0]}
    (out / "result.json").write_text(json.dumps(result, indent=1) + "\n")
    print(table(result))
    print(f"load average: {env.get('loadavg_start', '?')} at the start, {result['environment']['loadavg_end']:.1f} at the end")


if __name__ == "__main__":
    main()
