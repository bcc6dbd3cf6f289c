"""`avatarforge bench --short`: a real server subprocess on the tiny bundle, the in-process
baseline in the same run, the headline ratios as top-level JSON keys, and the gate applied from
the thresholds it is given, with its exit status.

Speed itself is never asserted here: what the ratios are on this machine is the benchmark's own
business (its default gates, bench_command.GATES). The run is given one threshold it cannot meet
and the rest it cannot miss, so the test checks that the gate applies exactly what it was given.
"""
from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys

import pytest

from avatarforge.benchmarks.bench_command import GATES, add_arguments, check_baseline, check_gates, gate_and_report
from avatarforge.benchmarks.server_report import README_HEADER, readme_rows
from avatarforge.server.backends.thread_choice import available_cores, candidate_counts

HEADLINE = ["bulk_ratio_raw", "bulk_ratio_png", "interactive_p99_c1_budget_ratio", "batching_gain_c16",
            "p99_ratio_c16_c1"]
# Thresholds no finite, positive ratio can miss, and one (bulk raw) none can meet.
CANNOT_MISS = ["--min-bulk-ratio-png", "0", "--max-interactive-p99-c1-budget-ratio", "1e9",
               "--min-batching-gain-c16", "0", "--max-p99-ratio-c16-c1", "1e9"]
CANNOT_MEET = ["--min-bulk-ratio-raw", "1e9"]


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_arguments(p)
    return p.parse_args(argv)


@pytest.fixture(scope="module")
def short_run(tiny_bundle, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "ci.json"
    proc = subprocess.run([sys.executable, "-m", "avatarforge.cli", "bench", "--short", "--model", str(tiny_bundle),
                           "--backend", "torch", "--json", str(out), *CANNOT_MISS, *CANNOT_MEET],
                          capture_output=True, text=True, timeout=300)
    return proc, out


def test_short_benchmark_writes_its_results(short_run):
    proc, out = short_run
    assert out.is_file(), proc.stderr[-3000:]
    results = json.loads(out.read_text())
    assert results["backend"] == "torch" and results["mode"] == "short"
    for key in HEADLINE + ["interactive_p99_ratio_c1"]:
        assert math.isfinite(results[key]) and results[key] > 0, key
    suite = results["suites"]["server"]["torch"]
    assert [r["concurrency"] for r in suite["interactive"]] == [1, 4, 16, 64]
    assert [r["concurrency"] for r in suite["bulk_raw"]] == [1, 4, 16, 64]
    c1 = suite["interactive"][0]
    assert c1["requests"] > 0 and c1["latency_ms"]["p50"] <= c1["latency_ms"]["p99"]
    assert {"queue_ms", "compute_ms", "encode_ms", "client_ms", "batch_size_mean"} <= set(c1["server"])
    srv = suite["server"]
    assert srv["engine_key"] and srv["precision"] == "fp32"
    # The server ran --threads auto (its default) and said what it chose; the interactive
    # baseline ran at that count, the bulk one at the fastest thread count and batch it measured.
    assert srv["threads"] >= 1 and "cores" in srv["threads_reason"]
    assert suite["inprocess"]["single_threads"] == srv["threads"]
    curves, best = suite["inprocess"]["curves"], suite["inprocess"]["best"]
    assert set(curves) == {str(t) for t in candidate_counts(available_cores())}
    assert best["images_per_s"] == max(x["images_per_s"] for curve in curves.values() for x in curve)
    assert {"batch": best["batch"], "images_per_s": best["images_per_s"]} in curves[str(best["threads"])]
    ratios = suite["ratios"]
    assert results["bulk_ratio_raw"] == pytest.approx(suite["bulk_raw"][0]["images_per_s"]
                                                      / ratios["inprocess_best_images_per_s"])
    assert ratios["interactive_p99_c1_budget_ratio"] == pytest.approx(
        ratios["interactive_p99_c1_ms"] / (1.3 * ratios["inprocess_single_p99_ms"] + 2.0))
    comp = suite["compute"]
    assert comp["flops_per_image"] > 0 and "flop_counter" in comp["flops_method"]
    assert comp["matmul_peak"]["gflops"] > 0
    assert comp["gflops"]["inprocess_best"] == pytest.approx(
        ratios["inprocess_best_images_per_s"] * comp["flops_per_image"] / 1e9)
    md = (out.parent / "server-results.md").read_text()
    assert "GFLOP/s" in md and "Gate: FAILED" in md
    for f in ("latency_vs_concurrency.png", "throughput_vs_batch.png"):
        assert (out.parent / f).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The README's table row, one per backend, as many columns as its header.
    [row] = readme_rows(results, "tiny (32 px)")
    assert row.startswith("| tiny (32 px) | torch | ") and row.count("|") == README_HEADER.splitlines()[0].count("|")


def test_the_gate_applies_the_given_thresholds_and_sets_the_exit_status(short_run):
    proc, out = short_run
    results = json.loads(out.read_text())
    # Only the threshold that cannot be met failed, and the command said so with exit status 1.
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert not results["gate"]["passed"]
    assert [f.split(" ")[1] for f in results["gate"]["failed"]] == ["bulk_ratio_raw"]
    assert "bulk_ratio_raw" in proc.stderr
    assert results["gate"]["limits"]["min_bulk_ratio_raw"] == 1e9
    assert results["gate"]["limits"]["max_interactive_p99_c1_budget_ratio"] == 1e9


def test_regating_the_same_run(short_run, tmp_path):
    _, out = short_run
    results = json.loads(out.read_text())
    assert {name for name, _, _ in GATES} == set(HEADLINE)
    ratios = results["suites"]["server"]["torch"]["ratios"]
    assert check_gates(ratios, parse(CANNOT_MISS + ["--min-bulk-ratio-raw", "0"])) == []
    failed = check_gates(ratios, parse(["--min-bulk-ratio-raw", "1e9", "--max-p99-ratio-c16-c1", "1e-9"]))
    assert [f.split(" ")[0] for f in failed][:1] == ["bulk_ratio_raw"] and "p99_ratio_c16_c1" in failed[-1]
    # Exit status from the same results with thresholds it meets: 0, and the JSON says passed.
    again = tmp_path / "again.json"
    assert gate_and_report(dict(results), parse(CANNOT_MISS + ["--min-bulk-ratio-raw", "0"]), again) == 0
    assert json.loads(again.read_text())["gate"]["passed"]
    assert gate_and_report(dict(results), parse(CANNOT_MISS + CANNOT_MEET), again) == 1
    # --no-gate reports only.
    assert gate_and_report(dict(results), parse(CANNOT_MEET + ["--no-gate"]), again) == 0
    # A regression against a baseline run fails; the same run as its own baseline does not.
    better = {**results, "bulk_ratio_raw": results["bulk_ratio_raw"] * 2}
    assert check_baseline(results, better, 0.25) and not check_baseline(results, results, 0.25)
    older = {k: v for k, v in results.items() if k != "interactive_p99_c1_budget_ratio"}  # before that key
    assert not check_baseline(results, older, 0.25)
