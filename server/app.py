"""Server assembly: the AvatarForge service plus grpc.health.v1 and reflection on one grpc.aio
server behind the call guard (keys, quotas, admission), TLS when configured, the optional
gRPC-Web door, and the process lifecycle (SIGTERM: stop accepting, drain in-flight calls, exit)."""
from __future__ import annotations

import asyncio
import gc
import logging
import signal
import time
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from avatarforge.v1 import avatarforge_pb2_grpc as pb_grpc

from .api import SERVICE_NAME, AvatarForgeServicer
from .api_keys import KeyStore
from .call_guard import ANY_KEY, OPEN, CallGuard
from .config import ServerConfig
from .guard_native import GuardInterceptor
from .model_runtime import ModelRegistry, load_models
from .service import AvatarForgeService
from .transport_security import exposure_warnings

log = logging.getLogger(__name__)


@dataclass
class RunningServer:
    server: grpc.aio.Server
    port: int
    service: AvatarForgeService
    registry: ModelRegistry
    health: health.aio.HealthServicer
    metrics_http: object = None  # the /metrics HTTP server when --metrics-port is set
    metrics_port: int = 0
    web: object = None  # grpc_web.WebDoor when --web-address is set
    web_port: int = 0
    page_url: str = ""  # the browser creator's address when --web is set
    guard: CallGuard | None = None

    async def stop(self, grace: float | None) -> None:
        """Refuse new calls (UNAVAILABLE, call_guard.drain), let in-flight ones finish for
        `grace` seconds, cancel what is left, then release models."""
        started = time.monotonic()
        await self.health.enter_graceful_shutdown()  # health checks now answer NOT_SERVING
        if self.guard is not None and grace:
            await self.guard.drain(grace)
        left = None if grace is None else max(0.0, grace - (time.monotonic() - started))
        if self.web is not None:
            await self.web.stop()
        await self.server.stop(left)
        await self.registry.close()
        self.service.close()
        if self.metrics_http is not None:
            self.metrics_http.shutdown()


def call_guard(config: ServerConfig) -> CallGuard:
    """The check both doors run (call_guard.py): keys from --keys-file, if any, and the limits."""
    keys = KeyStore.load(config.keys_file) if config.keys_file else None
    mode = {"open": OPEN, "keyed": ANY_KEY, "off": ANY_KEY}  # "off": reflection is not served at all
    return CallGuard(keys, config.max_inflight, config.max_stream_s, mode[config.health], mode[config.reflection])


async def start_server(config: ServerConfig, registry: ModelRegistry | None = None,
                       guard: CallGuard | None = None) -> RunningServer:
    """Load the models and the keys (unless given), bind `config.address` and start serving."""
    guard = guard or call_guard(config)  # before the models: a bad keys file fails fast
    registry = registry or load_models(config)
    if guard.render_wait is None:
        guard.render_wait = registry.render_wait
    opts = [
        ("grpc.max_send_message_length", config.max_message_bytes),
        ("grpc.max_receive_message_length", config.max_message_bytes),
    ]
    server = grpc.aio.server(options=opts, interceptors=[GuardInterceptor(guard)])
    service = AvatarForgeService(registry, config)
    pb_grpc.add_AvatarForgeServicer_to_server(AvatarForgeServicer(service), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    if config.reflection != "off":
        reflection.enable_server_reflection(
            (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME), server
        )
    tls = config.tls
    port = server.add_secure_port(config.address, tls.grpc_credentials()) if tls else server.add_insecure_port(config.address)
    if not port:
        raise OSError(f"cannot listen on {config.address}")
    await server.start()
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info("AvatarForge serving %s on port %d (%s, %s)", ", ".join(registry.runtimes), port,
             "mutual TLS" if tls and tls.client_ca else "TLS" if tls else "plaintext",
             f"{len(guard.keys.keys)} API keys" if guard.keys else "no API keys")
    for warning in exposure_warnings([config.address, config.web_address], guard.keys is not None, tls is not None):
        log.warning("%s", warning)
    running = RunningServer(server, port, service, registry, health_servicer, guard=guard)
    if config.web_address:
        from .grpc_web import WebDoor, create_app

        origins = [o.strip() for o in config.web_cors_origins.split(",") if o.strip()]
        running.web = WebDoor(create_app(service, guard, origins, config.max_message_bytes, page=config.web),
                              config.web_address, tls)
        await running.web.start()
        running.web_port = running.web.port
        log.info("gRPC-Web on %s (port %d), CORS origins: %s", config.web_address, running.web_port,
                 ", ".join(origins) or "none")
        if config.web:
            from .web_page import page_url

            running.page_url = page_url(config.web_address, running.web_port)
    if config.metrics_port and registry.metrics is not None:
        # prometheus-client's own HTTP server, on a daemon thread: scrapes never touch the event loop.
        running.metrics_http, _ = registry.metrics.serve_http(config.metrics_port)
        running.metrics_port = running.metrics_http.server_port
        log.info("Prometheus metrics on http://0.0.0.0:%d/metrics", running.metrics_port)
    return running


async def serve(config: ServerConfig) -> None:
    """Run until SIGTERM or SIGINT, then drain for `config.grace_s` seconds."""
    guard = call_guard(config)  # a bad keys file fails before minutes of model loading
    registry = load_models(config)  # before binding, so a bad bundle fails fast
    running = await start_server(config, registry, guard)
    # What startup made (torch, the models, the backends: some 200,000 objects) lives as long
    # as the process. Left to the collector, every full collection walks it again: about 100 ms
    # with the GIL held, a stall every call in flight pays. Frozen, a full collection walks
    # only what serving made.
    gc.collect()
    gc.freeze()
    if running.page_url:  # on stdout, for the person who typed `avatarforge serve --web`
        print(f"Character creator: {running.page_url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down: draining in-flight calls for up to %.1f s", config.grace_s)
    await running.stop(config.grace_s)
    log.info("stopped")
