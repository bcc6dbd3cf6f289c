"""`avatarforge demo`: the whole product in one command, for a fresh checkout.

Starts a server subprocess on a free loopback port, waits until its health check says SERVING,
generates NPC faces into a folder with a contact sheet, then stops the server with SIGTERM
(the same graceful drain a deployment gets).
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DESCRIPTION = """Start a server on a free port with the default model (or --model NAME|PATH), stream
NPC faces for --seeds into --out with their DNA and a contact_sheet.png, then stop the server."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    a = parser.add_argument
    a("--model", default="avatars128", help="bundle name or path to serve (default avatars128; avatars64 is the fast one)")
    a("--seeds", default="0-63", help="seeds to generate (default 0-63)")
    a("--out", type=Path, default=Path("out/npcs"), help="output folder (default out/npcs)")
    a("--size", type=int, default=0, help="image edge in pixels (default: native)")
    a("--format", default="png", choices=["png", "jpeg", "webp", "raw"], help="image format (default png)")
    a("--backend", default="auto", help="server backend (default auto)")
    a("--startup-timeout", type=float, default=180.0, help="seconds to wait for the server (default 180)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(args: argparse.Namespace) -> int:
    import grpc

    from avatarforge.client import AvatarForgeClient
    from avatarforge.commands import generate

    address = f"127.0.0.1:{free_port()}"
    log = tempfile.NamedTemporaryFile("w+", prefix="avatarforge-server-", suffix=".log", delete=False)
    cmd = [sys.executable, "-m", "avatarforge.server", "--address", address, "--model", args.model,
           "--backend", args.backend]
    print(f"starting server: {' '.join(cmd)} (log: {log.name})", flush=True)
    server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        with AvatarForgeClient(address) as client:
            deadline = time.monotonic() + args.startup_timeout
            while True:
                if server.poll() is not None:
                    log.seek(0)
                    print(f"the server exited with status {server.returncode}:\n{log.read()}", file=sys.stderr)
                    return 3
                try:
                    client.wait_until_serving(timeout=1.0)
                    break
                except (grpc.FutureTimeoutError, grpc.RpcError, RuntimeError):
                    if time.monotonic() > deadline:
                        print(f"the server did not become SERVING within {args.startup_timeout:.0f} s", file=sys.stderr)
                        return 3
            info = client.get_model()
            print(f"server up: model {info.name} v{info.version}, {info.resolution} px, "
                  f"backend {info.backend.backend} on {info.backend.device}", flush=True)
        gen_args = argparse.Namespace(server=address, seeds=generate.parse_seeds(args.seeds), out=args.out,
                                      size=args.size, format=args.format, quality=0, psi=None, model="",
                                      no_progress=not sys.stderr.isatty())
        return generate.run(gen_args)
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        log.close()
        os.unlink(log.name)
