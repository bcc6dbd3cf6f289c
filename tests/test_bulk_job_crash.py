"""A bulk job killed half-way, as a build farm meets it: `avatarforge generate` SIGKILLed, then
the server SIGKILLed under the next run, then a restart and a re-run. The folder must end with
exactly the requested seeds, each image and DNA whole and the same as a fresh render, and no
temporary file; a half-written leftover is never taken for a finished seed."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from PIL import Image

from avatarforge.client import AvatarForgeClient
from avatarforge.server.demo_command import free_port
from avatarforge.server.dna import dna_checksum
from avatarforge.v1 import avatarforge_pb2 as pb

SEEDS = 1000  # seeds 0..999 at 128 px: seconds of work, so a kill lands mid-way


def start_server(bundle: Path, address: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "avatarforge.server", "--address", address, "--model", str(bundle),
                             "--backend", "torch", "--device", "cpu", "--threads", "1", "--log-level", "WARNING"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with AvatarForgeClient(address) as client:
        deadline = time.monotonic() + 120
        while True:
            try:
                client.wait_until_serving(timeout=1)
                return proc
            except (grpc.FutureTimeoutError, grpc.RpcError):
                assert proc.poll() is None and time.monotonic() < deadline, "server did not start"


def generate(address: str, out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "avatarforge.cli", "generate", "--server", address,
                             "--seeds", f"0-{SEEDS - 1}", "--size", "128", "--out", str(out), "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_files(out: Path, more_than: int, proc: subprocess.Popen) -> int:
    """Poll until over `more_than` DNA files are in `out` (the job is mid-way); returns the count."""
    deadline = time.monotonic() + 120
    while (n := len(list(out.glob("seed*.dna")))) <= more_than:
        assert proc.poll() is None, f"the job ended before it was killed: {proc.communicate()}"
        assert time.monotonic() < deadline, "the job made no progress"
        time.sleep(0.02)
    return n


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)


def check_whole(out: Path) -> set[int]:
    """Every finished-looking seed in `out` is whole: its image decodes at 128 px and its DNA
    parses with a right checksum and names the seed. Returns those seeds."""
    seeds = set()
    for dna_path in out.glob("seed*.dna"):
        seed = int(dna_path.stem.removeprefix("seed"))
        dna = pb.CharacterDna.FromString(dna_path.read_bytes())
        assert dna.seed == seed and dna.checksum == dna_checksum(dna), dna_path
        assert Image.open(out / f"seed{seed:06d}.png").size == (128, 128)
        seeds.add(seed)
    return seeds


@pytest.fixture
def two_servers_in_turn(tiny_bundle):
    """start() a server on one address, again after it was killed; all are stopped at the end."""
    address, procs = f"127.0.0.1:{free_port()}", []

    def start() -> subprocess.Popen:
        procs.append(start_server(tiny_bundle, address))
        return procs[-1]

    start.address = address
    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_killed_job_and_killed_server_then_rerun_leave_exactly_the_requested_seeds(two_servers_in_turn, tmp_path):
    out, address = tmp_path / "npcs", two_servers_in_turn.address
    server = two_servers_in_turn()

    job = generate(address, out)  # 1. the CLI is SIGKILLed mid-way
    wait_for_files(out, 150, job)
    kill(job)
    first = check_whole(out)
    assert 150 <= len(first) < SEEDS

    job = generate(address, out)  # 2. the server is SIGKILLed under the re-run
    wait_for_files(out, len(first) + 150, job)
    kill(server)
    _, err = job.communicate(timeout=60)
    assert job.returncode == 2 and "UNAVAILABLE" in err, err  # the job says the server went away
    second = check_whole(out)
    assert first < second and len(second) < SEEDS

    # Half-written leftovers as a crash of another writer leaves them: a .part of a seed that
    # is otherwise missing, and a final-named DNA cut short. Neither may count as done.
    cut, stub = sorted(second)[:2]
    image = out / f"seed{cut:06d}.png"
    (out / "seed{:06d}.png.part".format(cut)).write_bytes(image.read_bytes()[:50])
    image.unlink()
    (out / f"seed{cut:06d}.dna").unlink()
    stub_dna = out / f"seed{stub:06d}.dna"
    stub_dna.write_bytes(stub_dna.read_bytes()[:40])

    two_servers_in_turn()  # 3. restart and re-run to the end
    job = generate(address, out)
    stdout, stderr = job.communicate(timeout=300)
    assert job.returncode == 0, stderr
    done = len(second) - 2
    assert f"{SEEDS - done} generated, {done} already on disk, 0 failed" in stdout

    expected = {f"seed{s:06d}.{ext}" for s in range(SEEDS) for ext in ("png", "dna")} | {"contact_sheet.png"}
    assert {p.name for p in out.iterdir()} == expected  # none lost, none extra, no .part left
    assert check_whole(out) == set(range(SEEDS))
    with AvatarForgeClient(address) as client:  # the files are what the server renders for those seeds
        sample = [0, cut, stub, max(first), min(set(range(SEEDS)) - second), SEEDS - 1]
        for seed, result in zip(sample, client.generate(seeds=sample, size=128).results):
            assert (out / f"seed{seed:06d}.png").read_bytes() == result.image.data, seed
            assert (out / f"seed{seed:06d}.dna").read_bytes() == result.dna.SerializeToString(), seed
