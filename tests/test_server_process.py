"""The server as a process: startup errors that name the problem, and SIGTERM draining."""
from __future__ import annotations

import concurrent.futures
import shutil
import signal
import subprocess
import sys
import time

import grpc
import pytest

from avatarforge.client import AvatarForgeClient
from avatarforge.server.demo_command import free_port
from avatarforge.models.bundle import BundleError
from avatarforge.server.config import ServerConfig
from avatarforge.server.model_runtime import load_models


def serve_cmd(*args):
    return [sys.executable, "-m", "avatarforge.server", "--backend", "torch", "--device", "cpu", *args]


def test_corrupt_bundle_fails_startup_naming_the_file(tiny_bundle, tmp_path):
    bad = shutil.copytree(tiny_bundle, tmp_path / "corrupt")
    gen = bad / "generator.safetensors"
    data = bytearray(gen.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 8] = b"\xff" * 8
    gen.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="generator.safetensors is corrupt"):
        load_models(ServerConfig(model=str(bad), backend="torch", device="cpu"))
    proc = subprocess.run(serve_cmd("--address", "127.0.0.1:0", "--model", str(bad)),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3
    assert f"{gen} is corrupt" in proc.stderr


def test_missing_bundle_names_the_path(tmp_path):
    with pytest.raises(BundleError, match=str(tmp_path / "nothing-here")):
        load_models(ServerConfig(model=str(tmp_path / "nothing-here"), backend="torch"))


def test_sigterm_drains_in_flight_streams_then_exits(tiny_bundle):
    address = f"127.0.0.1:{free_port()}"
    proc = subprocess.Popen(serve_cmd("--address", address, "--model", str(tiny_bundle), "--grace", "20"),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        with AvatarForgeClient(address) as client:
            deadline = time.monotonic() + 120
            while True:
                try:
                    client.wait_until_serving(timeout=1)
                    break
                except (grpc.FutureTimeoutError, grpc.RpcError):
                    assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
            stream = client.generate_batch(range(200), size=64)
            items = stream.items()
            first = next(items)
            proc.send_signal(signal.SIGTERM)
            rest = list(items)  # the in-flight stream finishes
            assert first.index == 0 and len(rest) == 199
            assert stream.summary.produced == 200
            with pytest.raises(grpc.RpcError):  # and nothing new is accepted
                client.generate(seeds=[1])
        assert proc.wait(timeout=30) == 0
        assert "draining" in proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("preset, expected", [
    ({}, "PASSIVE"), ({"OMP_WAIT_POLICY": "ACTIVE"}, "ACTIVE"), ({"GOMP_SPINCOUNT": "1000"}, None),
])
@pytest.mark.parametrize("command", ["avatarforge.server.serve_command", "avatarforge.benchmarks.bench_command"])
def test_serving_processes_let_openmp_threads_sleep_unless_the_environment_says_otherwise(command, preset, expected):
    # The policy is in the environment before torch loads libgomp, which reads it only then.
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")} | preset
    code = (f"import os, sys; import {command}; assert 'torch' not in sys.modules, 'torch loaded before the policy'; "
            "import torch; print(os.environ.get('OMP_WAIT_POLICY'))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == str(expected)


def start_serving(*args) -> tuple[subprocess.Popen, str]:
    """A server process on a free port, once it answers health checks."""
    address = f"127.0.0.1:{free_port()}"
    proc = subprocess.Popen(serve_cmd("--address", address, "--threads", "1", *args),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with AvatarForgeClient(address) as client:
        deadline = time.monotonic() + 120
        while True:
            try:
                client.wait_until_serving(timeout=1)
                return proc, address
            except (grpc.FutureTimeoutError, grpc.RpcError):
                assert proc.poll() is None and time.monotonic() < deadline, "server did not start"


def encode_in_flight(client: AvatarForgeClient, budget_ms: int) -> concurrent.futures.Future:
    """A unary Encode that refines for `budget_ms` (avatars64's own render as the picture), in a
    thread; returns once it has been running for half a second."""
    picture = client.generate(seeds=[5]).results[0].image.data
    pool = concurrent.futures.ThreadPoolExecutor(1)
    call = pool.submit(client.encode, [picture], refine_steps=10_000, refine_budget_ms=budget_ms)
    pool.shutdown(wait=False)
    time.sleep(0.5)
    assert not call.done(), call.result()
    return call


@pytest.mark.parametrize("grace_s, budget_ms", [(10, 2500), (1, 5000)], ids=["call-within-grace", "call-past-grace"])
def test_sigterm_drains_a_unary_call_refuses_new_ones_and_exits_within_grace(grace_s, budget_ms):
    proc, address = start_serving("--model", "avatars64", "--grace", str(grace_s), "--max-refine-ms", "5000")
    try:
        with AvatarForgeClient(address, timeout=60) as client:
            call = encode_in_flight(client, budget_ms)
            proc.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            with pytest.raises(grpc.RpcError) as refused:  # new calls are refused at once
                while time.monotonic() - signalled < 2:
                    client.generate(seeds=[1])
                    time.sleep(0.05)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
            if budget_ms / 1e3 < grace_s:  # the call in flight ends as it would have
                reply = call.result(30)
                assert reply.dna.w_plus and reply.scores.refine_steps > 0
            else:  # cut at the end of the grace period
                with pytest.raises(grpc.RpcError):
                    call.result(30)
        assert proc.wait(timeout=30) == 0
        took = time.monotonic() - signalled
        assert took <= grace_s + 1.5, f"the process exited {took:.1f} s after SIGTERM with --grace {grace_s}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
