"""The subcommands the client distribution (`avatarforge-client`) adds to the `avatarforge`
command: rows of (name, module, one-line help), registered under the `avatarforge.commands`
entry-point group in clients/python/pyproject.toml. Nothing is imported to list them."""

COMMANDS: list[tuple[str, str, str]] = [
    ("generate", "avatarforge.commands.generate", "generate faces from seeds into a folder (resumable)"),
    ("encode", "avatarforge.commands.encode_pictures", "encode pictures of a character into DNA; side-by-side PNG with edits"),
    ("edit", "avatarforge.commands.edit", "move a face's edit slider through strengths over an EditSession; PNGs, strip, DNA"),
]
