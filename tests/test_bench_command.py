"""`avatarforge bench --short` (what CI runs): a real server subprocess on the tiny bundle,
the in-process baseline in the same run, the headline ratios as top-level JSON keys and the
gate on them. Speed itself is never asserted here, only that the gate works both ways."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from avatarforge.benchmarks.bench_command import GATES, add_arguments, check_baseline, check_gates

HEADLINE = ["bulk_ratio_raw", "bulk_ratio_png", "interactive_p99_ratio_c1", "batching_gain_c16", "p99_ratio_c16_c1"]


@pytest.fixture(scope="module")
def short_run(tiny_bundle, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "ci.json"
    proc = subprocess.run([sys.executable, "-m", "avatarforge.cli", "bench", "--short", "--model", str(tiny_bundle),
                           "--backend", "torch", "--json", str(out)], capture_output=True, text=True, timeout=240)
    return proc, out


def test_short_benchmark_writes_the_headline_keys_and_passes_its_gate(short_run):
    proc, out = short_run
    results = json.loads(out.read_text())
    assert proc.returncode == 0, proc.stderr[-3000:] + json.dumps(results.get("gate"))
    assert results["backend"] == "torch" and results["gate"]["passed"]
    for key in HEADLINE:
        assert results[key] > 0, key
    suite = results["suites"]["server"]["torch"]
    assert [r["concurrency"] for r in suite["interactive"]] == [1, 4, 16, 64]
    assert [r["concurrency"] for r in suite["bulk_raw"]] == [1, 4, 16, 64]
    c1 = suite["interactive"][0]
    assert c1["requests"] > 0 and c1["latency_ms"]["p50"] <= c1["latency_ms"]["p99"]
    assert {"queue_ms", "compute_ms", "encode_ms", "client_ms", "batch_size_mean"} <= set(c1["server"])
    assert suite["server"]["engine_key"] and suite["server"]["precision"] == "fp32"
    for f in ("server-results.md", "latency_vs_concurrency.png", "throughput_vs_batch.png"):
        assert (out.parent / f).stat().st_size > 0


def test_the_gate_fails_when_a_ratio_misses_its_threshold(short_run):
    # Re-gating needs no second run: an impossible threshold on the same code path must fail.
    proc, out = short_run
    results = json.loads(out.read_text())
    worse = {**results, "bulk_ratio_raw": results["bulk_ratio_raw"] * 2}
    assert check_baseline(results, worse, 0.25) and not check_baseline(results, results, 0.25)
    assert {name for name, _, _ in GATES} == set(HEADLINE)
    import argparse

    p = argparse.ArgumentParser()
    add_arguments(p)
    assert check_gates(results, p.parse_args([])) == []
    failed = check_gates(results, p.parse_args(["--min-bulk-ratio-raw", "1000", "--max-p99-ratio-c16-c1", "0.001"]))
    assert [f.split(" ")[0] for f in failed] == ["bulk_ratio_raw", "p99_ratio_c16_c1"]
