"""The scaling benchmark in CI mode: one run on the tiny bundle measures generate against one
server and bulk with one and two workers, and reports each as positive faces/s (how fast is not
asserted: this machine is shared)."""
from __future__ import annotations

from avatarforge.benchmarks import ray_scaling

ROWS = ["generate, one server", "bulk --workers 1", "bulk --workers 2"]


def test_one_run_measures_generate_and_bulk_with_one_and_two_workers(tiny_bundle, tmp_path, capsys):
    results = ray_scaling.main(["--model", str(tiny_bundle), "--seeds", "0-15", "--batch-size", "4",
                                "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    rows = [line for line in printed.splitlines() if line.startswith("| ")][2:]  # after the header and its rule
    assert [r.split("|")[1].strip().split(" (")[0] for r in rows] == ROWS, printed
    for row in rows:
        faces, *rates = (float(cell) for cell in row.split("|")[2:-1])
        assert faces == 16 and all(x > 0 for x in rates), row
    assert "efficiency, 2 workers" in printed and "load average" in printed
    # Same seeds, batch size and backend on both paths: the files agree to the byte.
    assert results["identical_files"] == [32, 32]
