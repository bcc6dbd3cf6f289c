"""Shared fixtures: a tiny seeded bundle and a real server on loopback.

The server runs in this process on its own asyncio loop in a background thread, so tests use
the blocking AvatarForgeClient (as a user would) and can still read the server's counters.
"""
from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from avatarforge.client import AvatarForgeClient
from avatarforge.models.bundle import create_seeded_bundle
from avatarforge.server.app import RunningServer, start_server
from avatarforge.server.config import ServerConfig
from avatarforge.server.model_runtime import load_models

# Limits small enough to test quickly, large enough for the determinism checks.
WEB_ORIGIN = "http://game.example"
TEST_CONFIG = dict(backend="torch", device="cpu", max_batch=16, max_unary_items=64, max_stream_items=100_000)


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory) -> Path:
    """32 px untrained generator (8 ws x 32 dims), weights a pure function of seed 0."""
    return create_seeded_bundle(tmp_path_factory.mktemp("bundles") / "tiny", seed=0)


@pytest.fixture(scope="session")
def other_bundle(tmp_path_factory) -> Path:
    """Same architecture, different weights: DNA from one must be refused by the other."""
    return create_seeded_bundle(tmp_path_factory.mktemp("bundles") / "other", seed=1, name="other")


@dataclass
class ServerHandle:
    address: str
    running: RunningServer
    loop: asyncio.AbstractEventLoop

    @property
    def web_address(self) -> str:
        return f"127.0.0.1:{self.running.web_port}"

    def batcher(self, model: str = "tiny"):
        return self.running.registry.get(model).batcher


class _LoopThread:
    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="test-server-loop", daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float = 60):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture(scope="session")
def server(tiny_bundle, other_bundle) -> ServerHandle:
    """A server with two models: `tiny` (the default) and `other`, with its gRPC-Web door open
    to pages from http://game.example."""
    lt = _LoopThread()
    config = ServerConfig(address="127.0.0.1:0", model=f"{tiny_bundle},{other_bundle}", web_address="127.0.0.1:0",
                          web_cors_origins=WEB_ORIGIN, **TEST_CONFIG)
    running = lt.run(start_server(config))
    yield ServerHandle(f"127.0.0.1:{running.port}", running, lt.loop)
    lt.run(running.stop(1.0))
    lt.close()


@pytest.fixture(scope="session")
def client(server) -> AvatarForgeClient:
    with AvatarForgeClient(server.address, timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def start_own_server(tiny_bundle):
    """Start servers of the tiny model with this module's own settings (keys, TLS, limits):
    start_own_server(keys_file=..., web_address="127.0.0.1:0") -> ServerHandle; all stop at the
    module's end. wrap_backend(backend, bundle) -> backend, when given, replaces each model's
    loaded backend before the server starts (fault injection: the wrapper must keep the backend
    contract, server/backends/base.py)."""
    lt, started = _LoopThread(), []

    def start(wrap_backend=None, **settings) -> ServerHandle:
        config = ServerConfig(**{"address": "127.0.0.1:0", "model": str(tiny_bundle), "threads": "1",
                                 **TEST_CONFIG, **settings})
        registry = None
        if wrap_backend is not None:
            registry = load_models(config)
            for rt in registry.runtimes.values():
                rt.backend = rt.batcher.backend = wrap_backend(rt.backend, rt.bundle)
        running = lt.run(start_server(config, registry))
        started.append(running)
        return ServerHandle(f"127.0.0.1:{running.port}", running, lt.loop)

    yield start
    for running in started:
        lt.run(running.stop(0.5))
    lt.close()


@pytest.fixture(scope="module")
def af():
    """A client of a server on the shipped avatars64 model (one backend thread: the tests share the
    machine) with both doors; `af.web_address` is its gRPC-Web door."""
    lt = _LoopThread()
    running = lt.run(start_server(ServerConfig(address="127.0.0.1:0", model="avatars64", backend="torch", device="cpu",
                                               threads="1", web_address="127.0.0.1:0")), timeout=120)
    with AvatarForgeClient(f"127.0.0.1:{running.port}", timeout=120) as client:
        client.web_address = f"127.0.0.1:{running.web_port}"
        yield client
    lt.run(running.stop(1.0))
    lt.close()
