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


def test_resolution_cost_measures_both_architectures_in_one_run(tmp_path, capsys):
    """The 128-vs-64 serving-cost benchmark runs both architectures side by side and reports a
    ratio per batch size and kind of work (the figures themselves are the benchmark's, not a test's)."""
    from avatarforge.benchmarks import resolution_cost

    resolution_cost.main(["--threads", "1", "--seconds", "0.01", "--batch-sizes", "1,2", "--out", str(tmp_path)])
    result = json.loads((tmp_path / "result.json").read_text())
    assert [(r["batch"], r["work"]) for r in result["rows"]] == [(1, "synthesis"), (1, "served PNG"),
                                                                (2, "synthesis"), (2, "served PNG")]
    for r in result["rows"]:
        assert set(r["images_per_s"]) == {"avatars64", "avatars128"} and r["ratio_128_to_64"] > 0
    assert "| 2 | served PNG |" in capsys.readouterr().out
