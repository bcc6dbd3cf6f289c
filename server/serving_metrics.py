"""Prometheus metrics of the serving path: where a request's time goes, and how big batches get.

The split mirrors Triton's ModelStatistics (research/serving.md §1): time waiting in the
scheduler's queue, time in the backend (one batch), time encoding images, plus the batch sizes
the micro-batcher actually forms (are we batching at all?) and counts of items and errors.

Each `ServingMetrics` owns its registry rather than using prometheus-client's global one, so
several servers (tests, one per GPU in one process) never collide on metric names; expose it
with `serve_http(port)` or `exposition()`.

Labels are few and bounded (model name, backend, priority, image format, error stage and
code): never a request id or seed, which would grow the series without limit.
"""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, start_http_server

# Seconds: 0.5 ms (a tiny model on GPU) to 10 s (a bulk batch of 1024 px on CPU).
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Powers of two up to the largest TensorRT profile and beyond.
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
PRIORITIES = ("interactive", "bulk")


class ServingMetrics:
    def __init__(self, registry: CollectorRegistry | None = None, namespace: str = "avatarforge"):
        self.registry = registry or CollectorRegistry()
        r, ns = self.registry, namespace
        self.queue_seconds = Histogram(
            "queue_seconds", "Time an item waited in the scheduler before its batch started.",
            ["model", "backend", "priority"], buckets=LATENCY_BUCKETS, namespace=ns, registry=r)
        self.compute_seconds = Histogram(
            "compute_seconds", "Backend time of one batch (map + synthesize, host copies included).",
            ["model", "backend"], buckets=LATENCY_BUCKETS, namespace=ns, registry=r)
        self.encode_seconds = Histogram(
            "encode_seconds", "Time to encode one image (PNG/JPEG/WebP/raw).",
            ["format"], buckets=LATENCY_BUCKETS, namespace=ns, registry=r)
        self.batch_size = Histogram(
            "batch_size", "Items per backend call, as formed by the micro-batcher.",
            ["model", "backend"], buckets=BATCH_BUCKETS, namespace=ns, registry=r)
        self.items = Counter(
            "items", "Images rendered, by priority.", ["model", "backend", "priority"], namespace=ns, registry=r)
        self.errors = Counter(
            "errors", "Failed items, by stage (validate, queue, compute, encode) and gRPC status code.",
            ["stage", "code"], namespace=ns, registry=r)
        self.queue_depth = Gauge(
            "queue_depth", "Items waiting in the scheduler now.", ["model", "backend", "priority"],
            namespace=ns, registry=r)

    def observe_batch(self, model: str, backend: str, queue_seconds: list[tuple[str, float]], compute_seconds: float) -> None:
        """Record one backend call. queue_seconds: (priority, seconds waited) for each item in the batch."""
        self.batch_size.labels(model, backend).observe(len(queue_seconds))
        self.compute_seconds.labels(model, backend).observe(compute_seconds)
        for priority, waited in queue_seconds:
            if priority not in PRIORITIES:
                raise ValueError(f"priority must be one of {PRIORITIES}, got {priority!r}")
            self.queue_seconds.labels(model, backend, priority).observe(waited)
            self.items.labels(model, backend, priority).inc()

    def observe_encode(self, image_format: str, seconds: float) -> None:
        self.encode_seconds.labels(image_format).observe(seconds)

    def count_error(self, stage: str, code: str) -> None:
        self.errors.labels(stage, code).inc()

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)

    def serve_http(self, port: int, addr: str = "0.0.0.0"):
        """Serve /metrics on its own port (a daemon thread); returns (server, thread)."""
        return start_http_server(port, addr=addr, registry=self.registry)
