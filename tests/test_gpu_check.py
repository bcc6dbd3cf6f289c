"""The GPU check's code, run on this CPU in its quick mode: the same functions that run on the
GPU machine (environment, fast gate, per-mode sweeps, report) produce a complete report, and the
CUDA-only modes say why they did not run instead of failing."""
from __future__ import annotations

import json

from avatarforge.benchmarks.gpu_check import main


def test_quick_cpu_run_writes_a_complete_report(tmp_path, capsys):
    assert main(["--device", "cpu", "--quick", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "results.json").read_text())
    assert report["environment"]["device"] == "cpu"
    assert report["fast_gate"]["precision"] == "fp32" and "CUDA" in report["fast_gate"]["fallback_reason"]
    assert set(report["models"]) == {"avatars64", "avatars128-architecture"}
    for model in report["models"].values():
        eager = model["modes"]["eager"]
        assert [r["batch"] for r in eager] == [1, 4] and all(r["images_per_s"] > 0 for r in eager)
        assert model["modes"]["cuda_graph"] == model["modes"]["torch_compile"] == "needs CUDA"
    assert report["models"]["avatars128-architecture"]["resolution"] == 128
    assert "eager best" in capsys.readouterr().out
