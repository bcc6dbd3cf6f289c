"""Render threads at a lower CPU priority than the event loop, and the automatic render bound,
on a real loaded model (the tiny bundle)."""
from __future__ import annotations

import os
import sys
import threading

import pytest

from avatarforge.server.config import ServerConfig
from avatarforge.server.model_runtime import AUTO_BOUND_BATCHES, AUTO_BOUND_FLOOR_S, load_models
from avatarforge.server.render_priority import lower_priority_of_new_threads, lower_this_thread

from conftest import TEST_CONFIG

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")


def nice_of(tid: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, tid)


def started_thread(run=None) -> tuple[threading.Thread, threading.Event, list[int]]:
    """A thread that records its native id, runs `run` and waits until released."""
    release, tid = threading.Event(), []

    def body():
        tid.append(threading.get_native_id())
        if run:
            run()
        release.wait(30)

    t = threading.Thread(target=body)
    t.start()
    while not tid:
        pass
    return t, release, tid


def test_threads_started_inside_are_lowered_and_the_creator_is_not():
    me = threading.get_native_id()
    before = nice_of(me)
    with lower_priority_of_new_threads(5):
        inside, release_inside, inside_tid = started_thread()
    outside, release_outside, outside_tid = started_thread()
    try:
        assert nice_of(inside_tid[0]) == min(19, before + 5)
        assert nice_of(outside_tid[0]) == before and nice_of(me) == before
    finally:
        release_inside.set()
        release_outside.set()
        inside.join()
        outside.join()


def test_a_thread_lowers_itself_and_zero_leaves_it():
    base = nice_of(threading.get_native_id())
    lowered, release, tid = started_thread(lambda: lower_this_thread(3))
    same, release_same, same_tid = started_thread(lambda: lower_this_thread(0))
    try:
        assert nice_of(tid[0]) == min(19, base + 3) and nice_of(same_tid[0]) == base
    finally:
        release.set()
        release_same.set()
        lowered.join()
        same.join()


def test_a_loaded_model_renders_on_a_lowered_thread_under_its_measured_bound(tiny_bundle):
    config = ServerConfig(model=str(tiny_bundle), threads="1", render_nice=7, **TEST_CONFIG)
    registry = load_models(config)
    batcher = next(iter(registry.runtimes.values())).batcher
    try:
        small = batcher.small_batch_seconds
        assert small and batcher.render_bound_s == pytest.approx(max(AUTO_BOUND_FLOOR_S, AUTO_BOUND_BATCHES * small))
        worker_nice = batcher._executor.submit(lambda: nice_of(threading.get_native_id())).result(30)
        assert worker_nice == min(19, nice_of(threading.get_native_id()) + 7)
        assert registry.render_wait("", 1) == (0.0, batcher.render_bound_s)  # nothing queued: no backlog
    finally:
        batcher._executor.shutdown()
    fixed = load_models(ServerConfig(model=str(tiny_bundle), threads="1", max_render_wait_ms="250", **TEST_CONFIG))
    assert next(iter(fixed.runtimes.values())).batcher.render_bound_s == 0.25
