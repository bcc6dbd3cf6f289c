"""The one `avatarforge` command. Subcommands are registered in COMMANDS as
(name, module, one-line help); each module exposes

    add_arguments(parser: argparse.ArgumentParser) -> None
    run(args: argparse.Namespace) -> int          # the exit status

and optionally DESCRIPTION (the long --help text). Modules are imported only when their
subcommand runs (or its --help is shown), so `avatarforge generate` never imports torch.
To add a subcommand, add one row.
"""
from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS: list[tuple[str, str, str]] = [
    ("serve", "avatarforge.server.serve_command", "run the gRPC server"),
    ("generate", "avatarforge.commands.generate", "generate faces from seeds into a folder (resumable)"),
    ("edit", "avatarforge.commands.edit", "move a face's edit slider through strengths over an EditSession; PNGs, strip, DNA"),
    ("demo", "avatarforge.server.demo_command", "start a server, generate 64 NPC faces and a contact sheet, stop"),
    ("bench", "avatarforge.benchmarks.bench_command", "benchmark a server against the in-process backend; gate on ratios"),
    ("train", "avatarforge.models.training.recipe", "train the default model from scratch (dataset .. bundle), resumable"),
    ("directions", "avatarforge.models.training.directions_command", "list a model's edit directions, or derive the supervised ones"),
    ("eval", "avatarforge.models.training.evaluate", "measure a model: Fréchet distance, attribute coverage, diversity"),
]


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="avatarforge", description="AvatarForge: StyleGAN2 character faces over gRPC.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, module, help_text in COMMANDS:
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
