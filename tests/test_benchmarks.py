"""The benchmark harness runs end to end on the tiny bundle and writes what its README promises."""
from __future__ import annotations

import json

import pytest

from avatarforge.benchmarks import run as bench_run
from avatarforge.benchmarks.inprocess import percentiles_ms, speed_ratios


def test_percentiles_are_in_milliseconds_and_ordered():
    stats = percentiles_ms([0.001 * i for i in range(1, 101)])
    assert stats["n"] == 100 and stats["p50"] == pytest.approx(50.5)
    assert stats["p50"] <= stats["p90"] <= stats["p95"] <= stats["p99"] <= 100


def test_ratios_say_how_many_times_faster_than_torch():
    latency = {"torch": {"p50": 4.0}, "onnxruntime": {"p50": 2.0}}
    throughput = {"torch": [{"batch": 1, "images_per_s": 100.0}], "onnxruntime": [{"batch": 1, "images_per_s": 300.0}]}
    r = speed_ratios(latency, throughput)["onnxruntime_vs_torch"]
    assert r["latency_p50"] == 2.0 and r["throughput"] == {"1": 3.0}


def test_run_writes_json_markdown_and_plots(tmp_path):
    out = tmp_path / "bench"
    results = bench_run.main([
        "--random-config", "tiny", "--threads", "1", "--out", str(out), "--batch-sizes", "1,4",
        "--latency-seconds", "0.2", "--throughput-seconds", "0.1",
    ])
    saved = json.loads((out / "results.json").read_text())
    assert saved == json.loads(json.dumps(results))
    assert saved["schema"] == "avatarforge-bench/1" and saved["model"]["resolution"] == 32
    suite = saved["suites"]["inprocess"]
    for name in ("torch", "onnxruntime"):
        b = suite["backends"][name]
        assert b["latency_ms"]["n"] >= 20 and b["latency_ms"]["p99"] >= b["latency_ms"]["p50"] > 0
        assert [t["batch"] for t in b["throughput"]] == [1, 4] and all(t["images_per_s"] > 0 for t in b["throughput"])
        assert b["describe"]["backend"] == name
    assert set(suite["ratios"]["onnxruntime_vs_torch"]["throughput"]) == {"1", "4"}
    md = (out / "results.md").read_text()
    assert "| torch |" in md and "| onnxruntime |" in md and "onnxruntime_vs_torch" in md
    for png in ("latency.png", "throughput.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
