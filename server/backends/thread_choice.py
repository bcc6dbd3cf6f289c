"""`--threads auto`: how many CPU threads a backend's synthesis gets, measured at start.

    candidate_counts(cores)           1, 2, 4, ... and `cores` itself
    choose_threads(run, ws1, wsb)     the count whose synthesize was fastest here, and why

The right count is a property of this machine at this moment, not of the model: on an idle
machine all cores usually win, while on a CPU shared with other work an OpenMP team that waits for a descheduled thread can be
several times *slower* than one thread (README, stage 1 training). So the backend measures: a
few synthesize calls at batch 1 (interactive) and at the server's max_batch (bulk) for each
count, interleaved round by round so that load which comes or goes hits every count alike.

The choice minimises the product of the two slowdowns against the best count at each batch
(so a count that is best for bulk but 3x slower for a single preview does not win), and
prefers fewer threads on a tie within 3 %: they leave the rest of the CPU to image encoding and
gRPC. The reason string, with the medians, is reported by GetModel (BackendInfo.threads_reason).
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

TIE = 1.03  # scores within 3 % count as equal: the fewer threads win


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, e.g. a container's cpuset)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def candidate_counts(cores: int) -> list[int]:
    """1, 2, 4, ... up to `cores`, plus `cores` itself (a 16-core machine is probed at 5 counts)."""
    counts, n = [], 1
    while n < cores:
        counts.append(n)
        n *= 2
    return counts + [cores]


@dataclass(frozen=True)
class ThreadChoice:
    threads: int
    reason: str  # one line for GetModel: the counts tried, the medians, what won
    median_ms: dict  # {threads: {batch: median ms of synthesize}}

    def to_dict(self) -> dict:
        return {"threads": self.threads, "reason": self.reason,
                "median_ms": {str(t): {str(b): ms for b, ms in by_b.items()} for t, by_b in self.median_ms.items()}}


def choose_threads(
    run: Callable[[int, np.ndarray], object],  # run(threads, ws): one synthesize on that many threads
    ws_batches: list[np.ndarray],  # float32 [n, num_ws, w_dim] per probed batch size (1 and max_batch)
    counts: list[int] | None = None,  # thread counts to try; default candidate_counts(available_cores())
    budget_s: float = 1.5,  # wall-clock for the timed rounds; at most 4x this even if min_rounds are not done
    min_rounds: int = 3,
) -> ThreadChoice:
    counts = counts or candidate_counts(available_cores())
    if len(counts) == 1:
        return ThreadChoice(counts[0], f"{counts[0]} thread: the only core this process may use", {})
    for t in counts:  # warm-up: each count's thread pool and first-call allocations
        for ws in ws_batches:
            run(t, ws)
    samples = {(t, len(ws)): [] for t in counts for ws in ws_batches}
    start = time.perf_counter()
    rounds = 0
    while rounds < min_rounds or time.perf_counter() - start < budget_s:
        for t in counts:
            for ws in ws_batches:
                t0 = time.perf_counter()
                run(t, ws)
                samples[(t, len(ws))].append(time.perf_counter() - t0)
        rounds += 1
        if time.perf_counter() - start > 4 * budget_s:  # a slow model or a busy CPU: a start must not hang
            break
    batches = sorted({len(ws) for ws in ws_batches})
    median = {t: {b: float(np.median(samples[(t, b)])) * 1e3 for b in batches} for t in counts}
    threads = pick_threads(median)
    tried = "; ".join(f"{t}: " + ", ".join(f"{median[t][b]:.1f} ms @{b}" for b in batches) for t in counts)
    reason = (f"{threads} of {max(counts)} cores: fastest synthesize at batch {' and '.join(map(str, batches))} "
              f"at start ({rounds} rounds, median by thread count: {tried})")
    return ThreadChoice(threads, reason, median)


def pick_threads(median_ms: dict[int, dict[int, float]]) -> int:
    """{threads: {batch: median ms}} -> the count with the smallest product of slowdowns against
    the best count at each batch; among counts within TIE of it, the fewest."""
    batches = next(iter(median_ms.values())).keys()
    best = {b: min(by_b[b] for by_b in median_ms.values()) for b in batches}
    score = {t: math.prod(by_b[b] / best[b] for b in batches) for t, by_b in median_ms.items()}
    lowest = min(score.values())
    return min(t for t in score if score[t] <= lowest * TIE)
