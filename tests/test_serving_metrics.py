"""A server started with --metrics-port serves Prometheus metrics of real requests; responses
carry their per-stage timings; GetModel says which backend, precision and engine run."""
from __future__ import annotations

import socket
import urllib.request

from conftest import TEST_CONFIG, _LoopThread

from avatarforge.client import AvatarForgeClient
from avatarforge.server.app import start_server
from avatarforge.server.config import ServerConfig, add_arguments


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_metrics_port_flag_is_off_by_default():
    import argparse

    p = argparse.ArgumentParser()
    add_arguments(p)
    assert ServerConfig.from_args(p.parse_args([])).metrics_port == 0
    assert ServerConfig.from_args(p.parse_args(["--metrics-port", "9100"])).metrics_port == 9100


def test_metrics_endpoint_counts_what_the_server_did(tiny_bundle):
    lt = _LoopThread()
    port = free_port()
    config = ServerConfig(address="127.0.0.1:0", model=str(tiny_bundle), metrics_port=port, **TEST_CONFIG)
    running = lt.run(start_server(config))
    try:
        with AvatarForgeClient(f"127.0.0.1:{running.port}", timeout=60) as c:
            reply = c.generate(seeds=[1, 2, 3])
            items = list(c.generate_batch(range(20), format="raw").items())
            info = c.get_model()
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    finally:
        lt.run(running.stop(1.0))
        lt.close()
    t = reply.timing
    assert t.batch_size == 3 and t.compute_us > 0 and t.encode_us > 0 and t.queue_us >= 0
    assert all(i.timing.compute_us > 0 and 1 <= i.timing.batch_size <= 16 for i in items)
    assert 'avatarforge_items_total{backend="torch",model="tiny",priority="interactive"} 3.0' in body
    assert 'avatarforge_items_total{backend="torch",model="tiny",priority="bulk"} 20.0' in body
    assert 'avatarforge_encode_seconds_count{format="png"} 3.0' in body
    assert 'avatarforge_encode_seconds_count{format="raw"} 20.0' in body
    assert "avatarforge_compute_seconds_bucket" in body and "avatarforge_queue_seconds_bucket" in body
    b = info.backend
    assert (b.backend, b.precision) == ("torch", "fp32") and b.engine_key.startswith("torch") and info.generator_sha256[:16] in b.engine_key
