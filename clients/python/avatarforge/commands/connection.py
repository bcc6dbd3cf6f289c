"""The connection flags every client subcommand takes, and the client they make.

    avatarforge generate --server avatars.lan:50051 --ca-file ca.pem --seeds 0-99 --out out/x
    avatarforge generate --server 10.0.0.5:50051,10.0.0.6:50051 ...   (replicas, round-robin)
    AVATARFORGE_TOKEN=af_... avatarforge edit ...        (the key, kept out of the process list)
"""
from __future__ import annotations

import argparse
import os
import sys

SERVER_HELP = ("server address HOST:PORT, or replicas as IP:PORT,IP:PORT or a gRPC target such as "
               "dns:///avatars.lan:50051, calls spread round-robin (default $AVATARFORGE_SERVER or localhost:50051)")


def server_address(text: str) -> str:
    """--server as given, once checked that the client can make a channel of it (a bad list of
    replicas is a usage error, not a traceback)."""
    from avatarforge.replicas import channel_target

    try:
        channel_target(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    env = os.environ.get
    a = parser.add_argument
    a("--server", default=env("AVATARFORGE_SERVER", "localhost:50051"), type=server_address, help=SERVER_HELP)
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
    from avatarforge.replicas import is_loopback, target_hosts

    flag = lambda name: getattr(args, name, None)  # a caller's hand-made Namespace may set only --server
    tls = bool(flag("tls") or flag("ca_file") or flag("client_cert"))
    if flag("token") and not tls and not all(is_loopback(h) for h in target_hosts(args.server)):
        print(f"avatarforge: warning: sending the API key to {args.server} without TLS; anyone on the path can "
              "read it (use --ca-file or --tls)", file=sys.stderr)
    try:
        return AvatarForgeClient(args.server, token=flag("token"), tls=tls, ca_file=flag("ca_file"),
                                 client_cert=flag("client_cert"), client_key=flag("client_key"), **options)
    except ValueError as e:  # a list of replicas with TLS, or a certificate without its key
        raise SystemExit(f"avatarforge: {e}") from None
