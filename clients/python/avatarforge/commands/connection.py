"""The connection flags every client subcommand takes, and the client they make.

    avatarforge generate --server avatars.lan:50051 --ca-file ca.pem --seeds 0-99 --out out/x
    AVATARFORGE_TOKEN=af_... avatarforge edit ...        (the key, kept out of the process list)
"""
from __future__ import annotations

import argparse
import os
import sys


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    env = os.environ.get
    a = parser.add_argument
    a("--server", default=env("AVATARFORGE_SERVER", "localhost:50051"),
      help="server address HOST:PORT (default $AVATARFORGE_SERVER or localhost:50051)")
    a("--token", default=env("AVATARFORGE_TOKEN"),
      help="API key, sent as 'authorization: Bearer <key>' (default $AVATARFORGE_TOKEN; prefer the variable: "
           "a flag shows in the process list)")
    a("--tls", action="store_true", default=bool(env("AVATARFORGE_TLS")),
      help="connect over TLS, trusting the system's CAs (implied by --ca-file and --client-cert)")
    a("--ca-file", default=env("AVATARFORGE_CA_FILE"),
      help="PEM CA that signed the server's certificate: connect over TLS (default $AVATARFORGE_CA_FILE)")
    a("--client-cert", default=env("AVATARFORGE_CLIENT_CERT"),
      help="PEM client certificate for a server with mutual TLS (with --client-key)")
    a("--client-key", default=env("AVATARFORGE_CLIENT_KEY"), help="PEM private key of --client-cert")


def connect(args: argparse.Namespace, **options):
    """An AvatarForgeClient from the connection flags (`options` go to its constructor)."""
    from avatarforge.client import AvatarForgeClient

    flag = lambda name: getattr(args, name, None)  # a caller's hand-made Namespace may set only --server
    tls = bool(flag("tls") or flag("ca_file") or flag("client_cert"))
    host = args.server.rpartition(":")[0].strip("[]")
    if flag("token") and not tls and host not in ("localhost", "127.0.0.1", "::1"):
        print(f"avatarforge: warning: sending the API key to {args.server} without TLS; anyone on the path can "
              "read it (use --ca-file or --tls)", file=sys.stderr)
    return AvatarForgeClient(args.server, token=flag("token"), tls=tls, ca_file=flag("ca_file"),
                             client_cert=flag("client_cert"), client_key=flag("client_key"), **options)
