"""`avatarforge bulk` on a local two-CPU Ray: the same files as `avatarforge generate` from a
real server, resumed without rewriting, and whole after an actor is killed mid-job."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import ray
from PIL import Image

from avatarforge import cli
from avatarforge.server.bulk_command import start_local_ray
from avatarforge.v1 import avatarforge_pb2 as pb

SEEDS = "0-39"
EXPECTED = {f"seed{s:06d}.{ext}" for s in range(40) for ext in ("png", "dna")}


@pytest.fixture(scope="module")
def local_ray():
    start_local_ray(ray, num_cpus=2)  # our own Ray, never a cluster another user started here
    yield
    ray.shutdown()


def bulk(tiny_bundle, out: Path | str, *extra: str) -> int:
    # torch, one thread: what the test server runs, so the bytes can match.
    return cli.main(["bulk", "--model", str(tiny_bundle), "--backend", "torch", "--threads", "1", "--seeds", SEEDS,
                     "--out", str(out), "--no-progress", *extra])


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.name != "contact_sheet.png"}


@pytest.mark.parametrize("fmt, psi", [("png", None), ("raw", "0.7")])
def test_bulk_writes_the_bytes_generate_writes(local_ray, start_own_server, tiny_bundle, tmp_path, capsys, fmt, psi):
    server = start_own_server()  # torch on CPU, max_batch 16: bulk's default --batch-size
    psi_args = ["--psi", psi] if psi else []
    generated, bulked = tmp_path / "generate", tmp_path / "bulk"
    assert cli.main(["generate", "--server", server.address, "--seeds", SEEDS, "--out", str(generated), "--format", fmt,
                     "--no-progress", *psi_args]) == 0
    assert bulk(tiny_bundle, bulked, "--format", fmt, "--workers", "2", *psi_args) == 0
    assert "40 generated, 0 already on disk, 0 missing" in capsys.readouterr().out
    want, got = files(generated), files(bulked)
    assert len(want) == 80 and sorted(got) == sorted(want)
    assert [n for n in want if got[n] != want[n]] == []
    if fmt == "png":  # one Ray job fewer: the resume checks reuse this folder
        check_rerun_skips_what_is_on_disk(tiny_bundle, bulked, capsys)


def check_rerun_skips_what_is_on_disk(tiny_bundle, out: Path, capsys) -> None:
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert bulk(tiny_bundle, out) == 0
    assert "0 generated, 40 already on disk, 0 missing" in capsys.readouterr().out
    lost = out / "seed000007.png"
    kept = lost.read_bytes()
    lost.unlink()
    assert bulk(tiny_bundle, out) == 0
    assert "1 generated, 39 already on disk, 0 missing" in capsys.readouterr().out
    assert lost.read_bytes() == kept
    untouched = {n: t for n, t in stamps.items() if n != lost.name}  # its DNA too: it was already right
    assert {n: (out / n).stat().st_mtime_ns for n in untouched} == untouched


@pytest.fixture(scope="module")
def folder_run(local_ray, tiny_bundle, tmp_path_factory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("folder")
    assert bulk(tiny_bundle, out, "--workers", "2") == 0
    return files(out)


# file:// is fsspec's LocalFileSystem by URL; simplecache:: wraps it in another filesystem class
# (writes staged in a local cache and uploaded, as for remote stores). Both reach the same disk
# from every Ray worker process, which memory:// cannot.
@pytest.mark.parametrize("scheme", ["file://", "simplecache::file://"])
def test_bulk_to_an_fsspec_url_writes_the_folder_runs_bytes(folder_run, tiny_bundle, tmp_path, capsys, scheme):
    out = tmp_path / "npcs"  # not made yet: bulk creates it through the filesystem
    assert bulk(tiny_bundle, f"{scheme}{out}", "--workers", "2") == 0
    assert "40 generated, 0 already on disk, 0 missing" in capsys.readouterr().out
    got = files(out)
    assert sorted(got) == sorted(folder_run)  # no temporary file left either
    assert [n for n in folder_run if got[n] != folder_run[n]] == []
    assert bulk(tiny_bundle, f"{scheme}{out}") == 0
    assert "0 generated, 40 already on disk, 0 missing" in capsys.readouterr().out


def test_a_folder_another_model_drew_is_refused_before_any_work(server, tiny_bundle, tmp_path, capsys):
    """Resuming trusts the folder's listing, so faces of another model (a new default, a
    retrained one) must not pass for done: bulk says so and starts nothing."""
    out = tmp_path / "npcs"
    assert cli.main(["generate", "--server", server.address, "--model", "other", "--seeds", "0-3", "--out", str(out),
                     "--no-progress"]) == 0
    capsys.readouterr()
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("seed*")}
    assert bulk(tiny_bundle, out) == 2
    err = capsys.readouterr().err
    assert "holds faces another model drew (seed 0's DNA names generator" in err and "another folder" in err
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("seed*")} == before  # nothing drawn, nothing replaced


def test_memory_urls_are_refused_before_any_work(tiny_bundle, capsys):
    assert bulk(tiny_bundle, "memory://npcs") == 2
    assert "memory:// is private to one process" in capsys.readouterr().err


def _face_writer_pids() -> list[int]:
    """Processes of Ray Data's FaceWriter actors started under this test process (its local Ray)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"FaceWriter" in title and _descends_from_me(int(entry.name)):
            pids.append(int(entry.name))
    return pids


def _descends_from_me(pid: int) -> bool:
    while pid > 1:
        if pid == os.getpid():
            return True
        try:
            pid = int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            return False
    return False


def test_killed_actor_leaves_every_seed_whole_and_none_twice(local_ray, tiny_bundle, tmp_path):
    result = {}
    job = threading.Thread(target=lambda: result.setdefault("rc", bulk(tiny_bundle, tmp_path, "--workers", "2",
                                                                        "--batch-size", "2")))
    job.start()
    deadline = time.monotonic() + 60
    while not any(tmp_path.glob("*.dna")) and time.monotonic() < deadline:
        time.sleep(0.005)
    victims = _face_writer_pids()
    assert victims, "no FaceWriter actor process found"
    os.kill(victims[0], signal.SIGKILL)
    # Files already whole when the actor died must never be written again (same inode).
    before = {p.name: p.stat().st_ino for p in tmp_path.iterdir() if p.suffix in (".png", ".dna")}
    assert len(before) < len(EXPECTED), "the job ended before the kill: nothing was tested"
    seen = set(victims)
    while job.is_alive() and time.monotonic() < deadline + 60:
        seen.update(_face_writer_pids())
        job.join(0.05)
    assert not job.is_alive() and result["rc"] == 0
    assert len(seen) > 2, "two workers and no third process: Ray never replaced the killed actor"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(EXPECTED)  # no .part left, none missing
    assert {n: (tmp_path / n).stat().st_ino for n in before} == before
    for s in range(40):
        dna = pb.CharacterDna.FromString((tmp_path / f"seed{s:06d}.dna").read_bytes())
        assert dna.seed == s
        Image.open(tmp_path / f"seed{s:06d}.png").load()  # a truncated PNG raises here


def test_ray_is_imported_only_when_bulk_runs():
    probe = ("import sys\nfrom avatarforge import cli\nfor argv in (['--help'], ['bulk', '--help']):\n    try:\n"
             "        cli.main(argv)\n    except SystemExit:\n        pass\nprint('ray' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("False"), proc.stdout


class _SlowRaylet:
    """Ray's surface that start_local_ray uses, whose raylet misses its 30 s `fails` times."""

    def __init__(self, fails: int, error: str = "The current node timed out during startup. ..."):
        self.fails, self.error, self.inits, self.shutdowns = fails, error, [], 0

    def init(self, **kwargs):
        self.inits.append(kwargs)
        if len(self.inits) <= self.fails:
            raise Exception(self.error)  # what ray/_private/node.py raises

    def shutdown(self):
        self.shutdowns += 1


def test_a_ray_startup_timeout_is_retried_once_and_other_failures_are_not():
    once = _SlowRaylet(fails=1)
    start_local_ray(once, num_cpus=3)
    assert len(once.inits) == 2 and once.shutdowns == 1
    assert once.inits[1]["address"] == "local" and once.inits[1]["num_cpus"] == 3
    twice = _SlowRaylet(fails=2)
    with pytest.raises(Exception, match="timed out during startup"):
        start_local_ray(twice, num_cpus=2)
    assert len(twice.inits) == 2
    other = _SlowRaylet(fails=1, error="Ray version mismatch")
    with pytest.raises(Exception, match="version mismatch"):
        start_local_ray(other, num_cpus=2)
    assert len(other.inits) == 1 and other.shutdowns == 0
