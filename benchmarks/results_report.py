"""Turn benchmark results (the dict `run.py` writes as results.json) into a Markdown table and
PNG plots. Works on whatever suites the results hold ("inprocess", "server").
"""
from __future__ import annotations

import json
from pathlib import Path


def inprocess_markdown(results: dict) -> str:
    """Markdown for one in-process run: latency percentiles, throughput by batch, ratios."""
    suite = results["suites"]["inprocess"]
    model = results["model"]
    env = suite["environment"]
    lines = [
        f"### {model['name']} ({model['resolution']} px, generator {model['generator_sha256'][:12]})",
        "",
        f"{env.get('cpu', env['machine'])}, {env['cpu_count']} cores, threads={suite['settings']['threads']}, "
        f"torch {env['torch']}, onnxruntime {env.get('onnxruntime', '-')}; "
        f"load average {env['loadavg_start']:.2f} -> {env['loadavg_end']:.2f}",
        "",
        "| backend | p50 ms | p90 ms | p95 ms | p99 ms | "
        + " | ".join(f"img/s @{n}" for n in suite["settings"]["batch_sizes"]) + " |",
        "|---|---:|---:|---:|---:|" + "---:|" * len(suite["settings"]["batch_sizes"]),
    ]
    for name, b in suite["backends"].items():
        lat = b["latency_ms"]
        thr = " | ".join(f"{t['images_per_s']:.1f}" for t in b["throughput"])
        lines.append(f"| {name} | {lat['p50']:.2f} | {lat['p90']:.2f} | {lat['p95']:.2f} | {lat['p99']:.2f} | {thr} |")
    for pair, r in suite["ratios"].items():
        thr = ", ".join(f"@{n}: {v:.2f}x" for n, v in r["throughput"].items())
        lines += ["", f"**{pair}**: latency p50 {r['latency_p50']:.2f}x; throughput {thr}"]
    return "\n".join(lines) + "\n"


def plot_inprocess(results: dict, out_dir: Path) -> list[Path]:
    """latency.png (percentiles per backend) and throughput.png (images/s vs batch size)."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and CI
    import matplotlib.pyplot as plt

    suite = results["suites"]["inprocess"]
    title = f"{results['model']['name']} ({results['model']['resolution']} px)"
    paths = []

    fig, ax = plt.subplots(figsize=(6, 4))
    qs = ["p50", "p90", "p95", "p99"]
    width = 0.8 / max(1, len(suite["backends"]))
    for i, (name, b) in enumerate(suite["backends"].items()):
        ax.bar([x + i * width for x in range(len(qs))], [b["latency_ms"][q] for q in qs], width, label=name)
    ax.set_xticks([x + width * (len(suite["backends"]) - 1) / 2 for x in range(len(qs))], qs)
    ax.set_ylabel("single-image synthesize, ms")
    ax.set_title(f"Latency: {title}")
    ax.legend()
    fig.tight_layout()
    paths.append(out_dir / "latency.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, b in suite["backends"].items():
        ax.plot([t["batch"] for t in b["throughput"]], [t["images_per_s"] for t in b["throughput"]], marker="o", label=name)
    ax.set_xscale("log", base=2)
    batches = [t["batch"] for t in next(iter(suite["backends"].values()))["throughput"]]
    ax.set_xticks(batches, [str(n) for n in batches])
    ax.set_xlabel("batch size")
    ax.set_ylabel("images / s")
    ax.set_title(f"Throughput: {title}")
    ax.legend()
    fig.tight_layout()
    paths.append(out_dir / "throughput.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)
    return paths


def write_report(results: dict, out_dir: str | Path) -> dict[str, Path]:
    """results.json, results.md and the plots in `out_dir`; returns their paths by kind."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "results.json", "markdown": out_dir / "results.md"}
    paths["json"].write_text(json.dumps(results, indent=2) + "\n")
    sections = []
    if "inprocess" in results["suites"]:
        sections.append(inprocess_markdown(results))
        for p in plot_inprocess(results, out_dir):
            paths[p.stem] = p
    if "server" in results["suites"]:
        from . import server_report

        sections.append(server_report.server_markdown({**results, "mode": "run.py"}))
        for p in server_report.plot_server(results, out_dir):
            paths[p.stem] = p
    paths["markdown"].write_text("\n".join(sections))
    return paths
