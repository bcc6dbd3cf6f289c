"""`avatarforge serve`: run the gRPC server (also `python -m avatarforge.server`)."""
from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from .openmp_policy import use_passive_wait_policy

use_passive_wait_policy()  # before anything imports torch (openmp_policy.py says why)

HELP = "run the AvatarForge gRPC server"
DESCRIPTION = """Serve StyleGAN2 faces over gRPC (service avatarforge.v1.AvatarForge, plus
grpc.health.v1.Health and server reflection). Every flag can also be set with an
AVATARFORGE_<NAME> environment variable (e.g. AVATARFORGE_MAX_BATCH=32); flags win.
SIGTERM stops accepting calls and drains in-flight ones for --grace seconds."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from avatarforge.server.config import add_arguments as add_config_arguments

    add_config_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from avatarforge.models.bundle import BundleError
    from avatarforge.server.api_keys import KeysFileError
    from avatarforge.server.app import serve
    from avatarforge.server.backends import BackendUnavailable
    from avatarforge.server.config import ServerConfig

    try:
        config = ServerConfig.from_args(args)
    except ValueError as e:
        print(f"avatarforge serve: {e}", file=sys.stderr)
        return 2
    logging.basicConfig(level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(serve(config))
    except BundleError as e:
        logging.getLogger("avatarforge.server").error("cannot load model: %s", e)
        return 3
    except BackendUnavailable as e:
        logging.getLogger("avatarforge.server").error("cannot start backend: %s", e)
        return 3
    except KeysFileError as e:
        logging.getLogger("avatarforge.server").error("%s", e)
        return 2
    except OSError as e:
        logging.getLogger("avatarforge.server").error("%s", e)
        return 4
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="avatarforge serve", description=DESCRIPTION)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
