"""gRPC load generators, perf_analyzer-style: C concurrent clients in closed loop over a fixed
time window, one asyncio client process (grpc.aio), counting only what completes in the window.

    interactive_level  C workers, each sending unary Generate of one face, back to back
    bulk_level         C GenerateBatch streams, read for the window, then cancelled

Both return client-side latency percentiles and images/s plus the server's own split from the
Timing fields of the replies (queue, compute, encode, batch size), so time can be attributed:
client/transport = client latency - (queue + compute + encode).
"""
from __future__ import annotations

import asyncio
import time

import grpc
import numpy as np

from avatarforge.v1 import avatarforge_pb2 as pb
from avatarforge.v1 import avatarforge_pb2_grpc as pb_grpc

from .inprocess import percentiles_ms

CHANNEL_OPTIONS = [("grpc.max_receive_message_length", 64 * 1024 * 1024),
                   ("grpc.max_send_message_length", 64 * 1024 * 1024)]
WARMUP_S = 0.3  # per level: connections, first batches and thread pools settle before timing


def _server_split(timings: list, latencies_s: list[float] | None = None) -> dict:
    """Means of the replies' Timing fields in ms (and the client-side remainder)."""
    if not timings:
        return {}
    q = np.mean([t.queue_us for t in timings]) / 1e3
    c = np.mean([t.compute_us for t in timings]) / 1e3
    e = np.mean([t.encode_us for t in timings]) / 1e3
    out = {"queue_ms": float(q), "compute_ms": float(c), "encode_ms": float(e),
           "batch_size_mean": float(np.mean([t.batch_size for t in timings])),
           "batch_size_max": int(max(t.batch_size for t in timings))}
    if latencies_s:
        out["client_ms"] = float(np.mean(latencies_s) * 1e3 - (q + c + e))  # transport + both Python stacks
    return out


class _Window:
    """The timed window opens WARMUP_S after every client got its first reply (so a level's
    first wave, which all arrives at once, is never timed) and lasts `seconds`. Completions
    inside it are counted (perf_analyzer's throughput), whenever their request started."""

    def __init__(self, clients: int, seconds: float):
        self.start = self.end = float("inf")
        self.seconds = seconds
        self._waiting = clients
        self._warm = asyncio.Event()

    def first_reply(self) -> None:
        self._waiting -= 1
        if self._waiting == 0:
            self._warm.set()

    def open(self) -> bool:
        return time.perf_counter() < self.end

    def counts(self, t: float) -> bool:
        return self.start <= t <= self.end

    async def run(self) -> None:
        await self._warm.wait()
        await asyncio.sleep(WARMUP_S)
        self.start = time.perf_counter()
        self.end = self.start + self.seconds


async def interactive_level(address: str, concurrency: int, seconds: float, model: str = "",
                            image_format: int = pb.IMAGE_FORMAT_PNG, first_seed: int = 0,
                            rate_hz: float = 0.0) -> dict:
    """C clients, each a loop of unary Generate(one seed); every request a different seed.
    rate_hz > 0 paces each client (a slider dragged at that rate: the next request leaves at
    the next tick, or at once if the reply came late); 0 = closed loop, back to back."""
    async with grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS) as channel:
        stub = pb_grpc.AvatarForgeStub(channel)
        latencies: list[float] = []
        timings: list = []
        window = _Window(concurrency, seconds)

        async def client(k: int) -> None:
            seed = first_seed + k * 1_000_000
            first = True
            next_at = time.perf_counter()
            while window.open():
                if rate_hz:
                    await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
                    next_at = max(next_at + 1 / rate_hz, time.perf_counter())
                seed += 1
                req = pb.GenerateRequest(model=model, characters=[pb.CharacterSource(seed=seed)],
                                         output=pb.OutputSpec(format=image_format))
                t0 = time.perf_counter()
                reply = await stub.Generate(req, timeout=120)
                t1 = time.perf_counter()
                if first:
                    first = False
                    window.first_reply()
                elif window.counts(t1):
                    latencies.append(t1 - t0)
                    timings.append(reply.results[0].timing)

        await asyncio.gather(window.run(), *[client(k) for k in range(concurrency)])
    return {"concurrency": concurrency, "requests": len(latencies), "window_s": seconds,
            "images_per_s": len(latencies) / seconds, "latency_ms": percentiles_ms(latencies or [float("nan")]),
            "server": _server_split(timings, latencies)}


async def bulk_level(address: str, concurrency: int, seconds: float, model: str = "",
                     image_format: int = pb.IMAGE_FORMAT_RAW_RGBA8, first_seed: int = 0,
                     count: int = 100_000) -> dict:
    """C GenerateBatch streams of `count` seeds (the server's limit: far more than the window holds); images received inside
    the window are counted, then every stream is cancelled (which also tests that the server
    drops their queued work)."""
    async with grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS) as channel:
        stub = pb_grpc.AvatarForgeStub(channel)
        per_stream = [0] * concurrency
        timings: list = []
        gaps: list[float] = []  # time between consecutive items of one stream
        window = _Window(concurrency, seconds)

        async def stream(k: int) -> None:
            req = pb.GenerateBatchRequest(model=model, output=pb.OutputSpec(format=image_format),
                                          range=pb.SeedRange(base_seed=first_seed + k * 1_000_000, count=count))
            call = stub.GenerateBatch(req)
            last = None
            first = True
            try:
                async for event in call:
                    now = time.perf_counter()
                    if not window.open():
                        break
                    if event.WhichOneof("event") != "item":
                        continue
                    if first:
                        first = False
                        window.first_reply()
                    if not window.counts(now):
                        continue
                    per_stream[k] += 1
                    timings.append(event.item.timing)
                    if last is not None:
                        gaps.append(now - last)
                    last = now
            finally:
                call.cancel()

        await asyncio.gather(window.run(), *[stream(k) for k in range(concurrency)])
    total = sum(per_stream)
    return {"concurrency": concurrency, "images": total, "window_s": seconds, "images_per_s": total / seconds,
            "per_stream_images_per_s": [n / seconds for n in per_stream],  # fairness across streams
            "item_gap_ms": percentiles_ms(gaps or [float("nan")]), "server": _server_split(timings)}


async def wait_until_serving(address: str, timeout: float = 120.0) -> pb.ModelInfo:
    """Poll GetModel until the server answers (it may still be loading its models)."""
    deadline = time.monotonic() + timeout
    async with grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS) as channel:
        stub = pb_grpc.AvatarForgeStub(channel)
        while True:
            try:
                return await stub.GetModel(pb.GetModelRequest(), timeout=5)
            except grpc.aio.AioRpcError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
