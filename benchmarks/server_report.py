"""Markdown table and PNG plots of a server benchmark (the dict `avatarforge bench` writes).

    latency_vs_concurrency.png  interactive p50/p99 per concurrency level, per backend
    throughput_vs_batch.png     images/s against batch size: the in-process backend at fixed
                                batches, and the server at the mean batch its scheduler formed
    readme_rows / main          the top-level README's benchmark table from results JSONs:
                                python -m avatarforge.benchmarks.server_report a.json=LABEL b.json=LABEL
"""
from __future__ import annotations

from pathlib import Path

RATIO_LABELS = {
    "bulk_ratio_raw": "bulk raw: server / in-process best img/s (fastest threads and batch)",
    "bulk_ratio_png": "bulk PNG: server / in-process best img/s",
    "interactive_p99_c1_budget_ratio": "interactive p99 at c1 / (1.3 x in-process single forward p99 + 2 ms)",
    "interactive_p99_ratio_c1": "interactive p99 at c1 / in-process single forward p99",
    "batching_gain_c16": "interactive img/s at c16 / at c1",
    "p99_ratio_c16_c1": "interactive p99 at c16 / at c1",
}
TARGET_TEXT = {"bulk_ratio_raw": ">= 0.90", "bulk_ratio_png": ">= 0.80", "interactive_p99_c1_budget_ratio": "<= 1",
               "interactive_p99_ratio_c1": "(reported)", "batching_gain_c16": ">= 4", "p99_ratio_c16_c1": "<= 3"}


def _met(met: bool | None) -> str:
    return "-" if met is None else "yes" if met else "no"


def _f(x: float, digits: int = 2) -> str:
    return f"{x:.{digits}f}"


def backend_markdown(name: str, s: dict) -> str:
    srv, base, best = s["server"], s["inprocess"]["mean"], s["inprocess"]["best"]
    comp = s["compute"]
    gf, frac = comp["gflops"], comp["fraction_of_peak"]
    lines = [f"#### {name} ({srv['device']}, {srv['precision']}, max_batch {srv['max_batch']}, "
             f"server threads {srv.get('threads') or 'default'}, window {s['settings']['window_s']} s, "
             f"load average {_f(s['loadavg'])})", "",
             f"Server threads: {srv.get('threads_reason') or '-'}.", "",
             "In-process, before the sweep: "
             + "; ".join(f"{t} threads " + ", ".join(f"{_f(x['images_per_s'], 0)} img/s @{x['batch']}" for x in curve)
                         for t, curve in s["inprocess"].get("curves", {}).items())
             + f"; best: {best['threads']} threads at batch {best['batch']}. Single forward at the server's threads: p50 "
             f"{_f(base['latency_ms']['p50'])} ms, p99 {_f(base['latency_ms']['p99'])} ms (mean of "
             f"{len(s['inprocess']['probes'])} probes). Ratio denominators, probed around the c1 windows: single p99 "
             f"{_f(s['ratios']['inprocess_single_p99_ms'])} ms, best {_f(s['ratios']['inprocess_best_images_per_s'], 0)} "
             f"img/s.", "",
             f"Compute: {comp['flops_per_image'] / 1e9:.3f} GFLOP an image ({comp['flops_method']}); matmul peak "
             f"{_f(comp['matmul_peak']['gflops'], 1)} GFLOP/s ({comp['matmul_peak']['threads']} threads, n = "
             f"{comp['matmul_peak'].get('n')}), i.e. at most {_f(comp['images_per_s_at_peak'], 0)} img/s. Achieved: "
             + ", ".join(f"{k.replace('_', ' ')} {_f(v, 1)} GFLOP/s ({_f(100 * frac[k], 0)} %)"
                         for k, v in gf.items() if v is not None) + ".", "",
             "| workload | c | img/s | p50 ms | p90 ms | p95 ms | p99 ms | queue ms | compute ms | encode ms | client ms | mean batch |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in s["interactive"]:
        lat, sv = r["latency_ms"], r["server"]
        lines.append(f"| interactive PNG | {r['concurrency']} | {_f(r['images_per_s'], 0)} | {_f(lat['p50'])} | {_f(lat['p90'])} | "
                     f"{_f(lat['p95'])} | {_f(lat['p99'])} | {_f(sv['queue_ms'])} | {_f(sv['compute_ms'])} | {_f(sv['encode_ms'])} | "
                     f"{_f(sv['client_ms'])} | {_f(sv['batch_size_mean'], 1)} |")
    for kind in ("bulk_raw", "bulk_png"):
        for r in s[kind]:
            gap, sv = r["item_gap_ms"], r["server"]
            lines.append(f"| {kind.replace('_', ' ')} (item gap) | {r['concurrency']} | {_f(r['images_per_s'], 0)} | {_f(gap['p50'])} | "
                         f"{_f(gap['p90'])} | {_f(gap['p95'])} | {_f(gap['p99'])} | {_f(sv['queue_ms'])} | {_f(sv['compute_ms'])} | "
                         f"{_f(sv['encode_ms'])} | - | {_f(sv['batch_size_mean'], 1)} |")
    rt = s["ratios"]
    lines += ["", "| ratio | value | target | met |", "|---|---:|---|---|"]
    for key, label in RATIO_LABELS.items():
        lines.append(f"| `{key}` ({label}) | {_f(rt[key])} | {TARGET_TEXT[key]} | {_met(rt['targets_met'].get(key))} |")
    lines.append(f"\nInteractive p99 at c1: {_f(rt['interactive_p99_c1_ms'])} ms against a budget of "
                 f"{_f(rt['interactive_p99_c1_budget_ms'])} ms (1.3 x {_f(rt['inprocess_single_p99_ms'])} + 2).")
    return "\n".join(lines) + "\n"


def server_markdown(results: dict) -> str:
    m = results["model"]
    head = [f"### Server benchmark: {m['name']} ({m['resolution']} px, generator {m['generator_sha256'][:12]}), "
            f"{results['mode']} mode, {results['started_at']}", ""]
    body = [backend_markdown(name, s) for name, s in results["suites"]["server"].items()]
    gate = results.get("gate", {})
    tail = [f"Gate: {'passed' if gate.get('passed') else 'FAILED: ' + '; '.join(gate.get('failed', []))}"] if gate else []
    return "\n".join(head + body + tail) + "\n"


def plot_server(results: dict, out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and CI
    import matplotlib.pyplot as plt

    suites = results["suites"]["server"]
    title = f"{results['model']['name']} ({results['model']['resolution']} px)"
    paths = []

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, s in suites.items():
        cs = [r["concurrency"] for r in s["interactive"]]
        for q, style in (("p50", "o-"), ("p99", "s--")):
            ax.plot(cs, [r["latency_ms"][q] for r in s["interactive"]], style, label=f"{name} {q}")
        ax.axhline(s["inprocess"]["mean"]["latency_ms"]["p99"], linestyle=":", color="grey")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(cs, [str(c) for c in cs])
    ax.set_xlabel("concurrent clients (unary Generate, 1 face, PNG)")
    ax.set_ylabel("client latency, ms (dotted: in-process p99)")
    ax.set_title(f"Interactive latency vs concurrency: {title}", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    paths.append(out_dir / "latency_vs_concurrency.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, s in suites.items():
        base = s["inprocess"]["mean"]["throughput"]
        ax.plot([t["batch"] for t in base], [t["images_per_s"] for t in base], "o-", label=f"{name} in-process, all cores")
        inter = s["interactive"]
        ax.plot([r["server"]["batch_size_mean"] for r in inter], [r["images_per_s"] for r in inter], "s--",
                label=f"{name} server, interactive (c = {', '.join(str(r['concurrency']) for r in inter)})")
        bulk = s["bulk_raw"]
        ax.plot([r["server"]["batch_size_mean"] for r in bulk], [r["images_per_s"] for r in bulk], "^:",
                label=f"{name} server, bulk raw")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("batch size (server: mean batch its scheduler formed)")
    ax.set_ylabel("images / s")
    ax.set_title(f"Throughput vs batch: {title}", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    paths.append(out_dir / "throughput_vs_batch.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)
    return paths


def write_server_report(results: dict, out_dir: str | Path) -> dict[str, Path]:
    """results.md and the plots in `out_dir` (the JSON is written by the caller)."""
    out_dir = Path(out_dir)
    paths = {"markdown": out_dir / "server-results.md"}
    paths["markdown"].write_text(server_markdown(results))
    for p in plot_server(results, out_dir):
        paths[p.stem] = p
    return paths


README_HEADER = ("| model | backend | bulk_ratio_raw (≥ 0.90) | bulk_ratio_png (≥ 0.80) | interactive p99 c1 (≤ 1.3× single + 2 ms) "
                 "| batching_gain_c16 (≥ 4) | p99_ratio_c16_c1 (≤ 3) | interactive img/s c1 / c16 "
                 "| bulk img/s raw / PNG / in-process best | GFLOP/s in-process best / bulk raw (matmul peak) |\n"
                 "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")


def readme_rows(results: dict, label: str = "") -> list[str]:
    """The top-level README's benchmark table rows for one results JSON (✓/✗ = target met)."""
    m = results["model"]
    label = label or f"{m['name']} ({m['resolution']} px)"
    rows = []
    for name, s in results["suites"]["server"].items():
        r, met, comp = s["ratios"], s["ratios"]["targets_met"], s["compute"]
        ok = lambda key: "✓" if met[key] else "✗"
        by_c = {x["concurrency"]: x for x in s["interactive"]}
        c16 = by_c.get(16, by_c[max(by_c)])
        png = s["bulk_png"][0]["images_per_s"] if s["bulk_png"] else float("nan")
        best = s["inprocess"]["best"]
        rows.append(
            f"| {label} | {name} | {_f(r['bulk_ratio_raw'])} {ok('bulk_ratio_raw')} | {_f(r['bulk_ratio_png'])} {ok('bulk_ratio_png')} "
            f"| {_f(r['interactive_p99_c1_ms'], 1)} vs budget {_f(r['interactive_p99_c1_budget_ms'], 1)} ms "
            f"{ok('interactive_p99_c1_budget_ratio')} | {_f(r['batching_gain_c16'])} {ok('batching_gain_c16')} "
            f"| {_f(r['p99_ratio_c16_c1'])} {ok('p99_ratio_c16_c1')} | {_f(by_c[1]['images_per_s'], 0)} / {_f(c16['images_per_s'], 0)} "
            f"| {_f(s['bulk_raw'][0]['images_per_s'], 0)} / {_f(png, 0)} / {_f(r['inprocess_best_images_per_s'], 0)} "
            f"({best['threads']} threads, batch {best['batch']}) "
            f"| {_f(comp['gflops']['inprocess_best'], 1)} / {_f(comp['gflops']['server_bulk_raw_c1'], 1)} "
            f"({_f(comp['matmul_peak']['gflops'], 1)}) |")
    return rows


def main(argv: list[str] | None = None) -> None:
    """python -m avatarforge.benchmarks.server_report RESULTS.json[=LABEL] ...: the README table."""
    import json
    import sys

    print(README_HEADER)
    for arg in (sys.argv[1:] if argv is None else argv):
        path, _, label = arg.partition("=")
        print("\n".join(readme_rows(json.loads(Path(path).read_text()), label)))


if __name__ == "__main__":
    main()
