"""The one `avatarforge` command. Its subcommands are whatever the installed distributions
register: each lists rows of (name, module, one-line help) under the entry-point group
`avatarforge.commands` (the client's table is avatarforge.commands.COMMANDS, the server's
avatarforge.server.command_table.COMMANDS), so `avatarforge --help` shows exactly what is installed
and a client-only install has no `serve`. Each module exposes

    add_arguments(parser: argparse.ArgumentParser) -> None
    run(args: argparse.Namespace) -> int          # the exit status

and optionally DESCRIPTION (the long --help text). Modules are imported only when their
subcommand runs (or its --help is shown), so `avatarforge generate` never imports torch.
To add a subcommand, add a row to the table of the distribution it belongs to.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from importlib.metadata import entry_points

ENTRY_POINT_GROUP = "avatarforge.commands"


def installed_commands() -> list[tuple[str, str, str]]:
    """Every installed distribution's rows, tables in entry-point name order. A table that fails
    to load is reported and skipped, so one broken install does not take the others down; the
    first row of a name wins."""
    rows: dict[str, tuple[str, str, str]] = {}
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name):
        try:
            table = ep.load()
        except Exception as e:  # noqa: BLE001 - any failure of someone else's table
            print(f"avatarforge: skipping the subcommands of {ep.value}: {type(e).__name__}: {e}", file=sys.stderr)
            continue
        for name, module, help_text in table:
            rows.setdefault(name, (name, module, help_text))
    return list(rows.values())


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="avatarforge", description="AvatarForge: StyleGAN2 character faces over gRPC.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, module, help_text in installed_commands():
        if name == chosen:  # lazy: only the subcommand being run is imported
            mod = importlib.import_module(module)
            p = sub.add_parser(name, help=help_text, description=getattr(mod, "DESCRIPTION", help_text),
                               formatter_class=argparse.RawDescriptionHelpFormatter)
            mod.add_arguments(p)
            p.set_defaults(_run=mod.run)
        else:
            sub.add_parser(name, help=help_text)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    try:
        return args._run(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
