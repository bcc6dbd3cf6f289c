"""Render threads run at a lower CPU priority than the rest of the server (Linux nice).

    with lower_priority_of_new_threads(nice):   threads started inside (a backend's pools)
        backend = create_serving_backend(...)    end up `nice` steps lower
    lower_this_thread(nice)                      the calling thread (the batcher's worker)

Why: when rendering saturates the cores, the event loop must still answer at once: refusals
under overload (their point is to be fast), health checks, GetModel, the bytes of streams
already rendered. With every thread at one priority, a woken event loop waits for a core
behind the render threads, and a refusal that takes 2 ms of CPU arrives tens of ms late. A
nice render thread gives the core up whenever the event loop wakes and takes it back when it
sleeps, so rendering loses only what the event loop really uses.

A process may always lower its own threads' priority, never raise it back without
privileges: so the backend's pools are made lower (their threads start inside the `with`),
never the thread that creates them, which goes on to run the event loop. Linux only: /proc
lists a process's threads and setpriority(PRIO_PROCESS, tid) reaches one thread; elsewhere
both are no-ops.
"""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from pathlib import Path

TASKS = Path("/proc/self/task")


def _thread_ids() -> set[int]:
    try:
        return {int(name) for name in os.listdir(TASKS)}
    except OSError:  # not Linux
        return set()


def _lower(tid: int, nice: int) -> None:
    try:
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except (OSError, AttributeError):  # the thread ended meanwhile, or no setpriority here
        pass


def lower_this_thread(nice: int) -> None:
    if nice > 0:
        _lower(threading.get_native_id(), nice)


@contextmanager
def lower_priority_of_new_threads(nice: int):
    before = _thread_ids()
    try:
        yield
    finally:
        if nice > 0:
            for tid in _thread_ids() - before:
                _lower(tid, nice)
