"""Quotas and admission, as plain objects with the time passed in (tests use a fake clock).

Per API key (its row in the keys file, api_keys.py):
- requests/s: a token bucket holding up to one second of calls (at least 1). A call takes one
  token or is refused with the time until the next token: that time is the RetryInfo delay.
- images/s: a second bucket, one token per image. A unary call (Generate, Mix, Mutate,
  RenderPreview) takes all its images up front or is refused, with the time until that many
  tokens exist; a call asking for more than the bucket can ever hold is refused for good (split
  it, or use GenerateBatch). Streams are paced instead of refused: each image event takes its
  token even into debt, and the stream waits out the debt before sending it. A content build
  therefore runs at its key's rate, and the debt makes the key's unary calls wait their turn.
- max_concurrent: calls of the key in flight at once; over it, a call is refused at once.
Server-wide, two rules; past either a call is refused at once instead of queueing, so overload
turns into fast RESOURCE_EXHAUSTED answers that a client can back off from, while the calls
already admitted keep their latency:
- --max-inflight: calls in flight across all keys, streams and idle EditSessions included. It
  bounds what the server holds (sockets, sessions, memory), not how long a call waits: 256
  previews in flight on a backend that renders 40 a second wait 6 s.
- --max-render-wait-ms: an interactive call that renders (Generate, RenderPreview, Mix, Mutate,
  GetParts of a DNA) is refused while its model's backend would not bring it back within that
  bound: the interactive rows ahead of it and its own, while interactive rows are queued
  (ModelRegistry.render_wait: the batch on the backend alone is no backlog, so one call at a
  time is never refused). This is the rule that keeps admitted latency: what waits past the
  bound only adds delay to everyone queued behind it. auto (the default) bounds it at twice
  the backend's own time for a few players' batch, so the bound follows the hardware and the
  model. For OVERLOAD_WINDOW_S after a call finds the queue past its bound, the queue is held to
  OVERLOAD_BOUND_SHARE of it (the constants say why). The RetryInfo delay is the time until the
  queue is back under the bound, and at least half the bound (the callers refused together
  would otherwise come back together). Streams are not held to it: GenerateBatch is bulk (paced
  by the scheduler's backpressure), and an EditSession is admitted once and renders one preview
  at a time, latest wins.

Concurrency refusals have no bucket to read a delay from: a slot frees whenever any call ends,
and interactive calls take milliseconds, so they suggest CONCURRENCY_RETRY_S and leave the
spreading to the client's jittered backoff.
"""
from __future__ import annotations

import math
import time

from .api_keys import ApiKey
from .errors import Throttled

CONCURRENCY_RETRY_S = 0.1
MIN_QUEUE_RETRY_S = 0.01  # a queue just over its bound drains in a few ms; no retry sooner than this
# While a model's queue is overloaded (a call found it past its bound within OVERLOAD_WINDOW_S),
# the bound is OVERLOAD_BOUND_SHARE of itself. An admitted call waits up to the bound and then
# for its own batch, which the renders of the refusals slow down, so at the full bound its p99
# came to 1.6-2.4x the unloaded p99 under 4x overload (issue 15 asks <= 2x); held to 0.75 of
# it, 1.56-2.05x (3 of 14 runs over), and to 0.6, 1.28-1.67x in 8 of 8 runs of the same
# sitting, with as many calls accepted (README, "The overload window"). The full bound stays for
# loads that are not overloading: three quarters of it all the time refused 96-171 calls of four
# players editing at once in a 10 s sweep step. Only calls over the full bound open the window,
# so the tighter bound's own refusals never keep it open.
OVERLOAD_WINDOW_S = 1.0
OVERLOAD_BOUND_SHARE = 0.6


class TokenBucket:
    """`rate` tokens a second, holding at most `capacity`; full at the start."""

    def __init__(self, rate: float, capacity: float, now: float):
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.stamp = now

    def _refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def try_take(self, n: float, now: float) -> float:
        """Take `n` tokens and return 0, or take none and return the seconds until `n` exist
        (math.inf if `n` is more than the bucket holds)."""
        self._refill(now)
        if self.tokens >= n:
            self.tokens -= n
            return 0.0
        if n > self.capacity:
            return math.inf
        return (n - self.tokens) / self.rate

    def take_paced(self, n: float, now: float) -> float:
        """Take `n` tokens even into debt; return the seconds until the debt is repaid (0 if none)."""
        self._refill(now)
        self.tokens -= n
        return max(0.0, -self.tokens / self.rate)


def _bucket(rate: float, now: float) -> TokenBucket | None:
    return TokenBucket(rate, max(1.0, rate), now) if rate > 0 else None  # one second of burst


class KeyQuota:
    """The live quota state of one API key."""

    def __init__(self, key: ApiKey, now: float):
        self.key = key
        self.requests = _bucket(key.requests_per_s, now)
        self.images = _bucket(key.images_per_s, now)
        self.in_flight = 0

    def admit(self, images: int, now: float) -> None:
        """Count a new call of `images` images in, or raise Throttled (nothing is taken then)."""
        k = self.key
        if k.max_concurrent and self.in_flight >= k.max_concurrent:
            raise Throttled(f"key {k.name!r} already has {self.in_flight} calls in flight, its max_concurrent: "
                            f"retry when one ends (in about {CONCURRENCY_RETRY_S:g} s)", CONCURRENCY_RETRY_S)
        if self.requests is not None:
            wait = self.requests.try_take(1, now)
            if wait:
                raise Throttled(f"key {k.name!r} is over its {k.requests_per_s:g} requests/s: retry in {wait:.3f} s",
                                wait)
        if images and self.images is not None:
            wait = self.images.try_take(images, now)
            if wait:
                if self.requests is not None:
                    self.requests.tokens += 1  # the call was refused: give its request token back
                if math.isinf(wait):
                    raise Throttled(f"{images} images in one call is more than key {k.name!r} may make at once "
                                    f"({self.images.capacity:g}, its images/s): split the call, or use GenerateBatch, "
                                    "which is paced to the key's rate")
                raise Throttled(f"key {k.name!r} is over its {k.images_per_s:g} images/s: these {images} images "
                                f"can start in {wait:.3f} s", wait)
        self.in_flight += 1

    def release(self) -> None:
        self.in_flight -= 1

    def pace(self, images: int, now: float) -> float:
        """Seconds a stream waits before sending `images` more images (0 = send now)."""
        return self.images.take_paced(images, now) if self.images is not None and images else 0.0


class Admission:
    """At most `limit` calls in flight server-wide (0 = no limit), and no interactive render
    admitted that its backend would bring back later than its model's bound."""

    def __init__(self, limit: int):
        self.limit = limit
        self.in_flight = 0
        self._over_bound_at: dict[str, float] = {}  # queue (model) -> when a call last found it past its full bound

    def held_bound_s(self, queue: str, wait_s: float, bound_s: float, now: float) -> float:
        """The bound a call that would wait `wait_s` on `queue` is held to: `bound_s`, or
        OVERLOAD_BOUND_SHARE of it while the queue is overloaded (module constants)."""
        overloaded = now - self._over_bound_at.get(queue, -math.inf) < OVERLOAD_WINDOW_S
        if wait_s > bound_s:
            self._over_bound_at[queue] = now
        return bound_s * OVERLOAD_BOUND_SHARE if overloaded else bound_s

    def enter(self, wait_s: float = 0.0, bound_s: float = 0.0, queue: str = "", now: float | None = None) -> None:
        """Count a call in, or raise Throttled. wait_s: how long the backend would take to bring
        the call's renders back (0 for calls that render nothing unary); bound_s: its model's
        bound (0 = none); queue: the model whose queue it joins; now: the caller's monotonic
        clock (None = time.monotonic(), which the overload window is timed by)."""
        if self.limit and self.in_flight >= self.limit:
            raise Throttled(f"the server is at its limit of {self.limit} calls in flight (--max-inflight): "
                            f"retry in about {CONCURRENCY_RETRY_S:g} s, with backoff", CONCURRENCY_RETRY_S)
        if bound_s:
            held_to = self.held_bound_s(queue, wait_s, bound_s, time.monotonic() if now is None else now)
            if wait_s > held_to:
                # Not sooner than half the bound: the callers refused together come back together,
                # and a queue at its bound takes about that long to make room for them.
                retry = max(MIN_QUEUE_RETRY_S, wait_s - held_to, held_to / 2)
                which = ("" if held_to == bound_s
                         else f" ({OVERLOAD_BOUND_SHARE:.0%} of {bound_s * 1e3:.0f} ms while it is overloaded)")
                raise Throttled(f"the server's backend would take {wait_s * 1e3:.0f} ms to render this, past its bound "
                                f"of {held_to * 1e3:.0f} ms for interactive work{which} (--max-render-wait-ms): "
                                f"retry in about {retry:.3f} s, with backoff", retry)
        self.in_flight += 1

    def leave(self) -> None:
        self.in_flight -= 1
