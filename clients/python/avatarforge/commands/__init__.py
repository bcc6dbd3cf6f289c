"""Subcommand modules of the `avatarforge` CLI (registered in avatarforge.cli.COMMANDS)."""
