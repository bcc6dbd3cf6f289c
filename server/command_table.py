"""The subcommands the server distribution (`avatarforge`) adds to the `avatarforge` command:
rows of (name, module, one-line help), registered under the `avatarforge.commands` entry-point
group in the root pyproject.toml. Listing them imports nothing else, so `avatarforge --help`
and `avatarforge generate` stay free of torch."""

COMMANDS: list[tuple[str, str, str]] = [
    ("serve", "avatarforge.server.serve_command", "run the gRPC server"),
    ("keys", "avatarforge.server.keys_command", "make, list and remove API keys (the file keeps only their hashes)"),
    ("demo", "avatarforge.server.demo_command", "start a server, generate 64 NPC faces and a contact sheet, stop"),
    ("bulk", "avatarforge.server.bulk_command", "render faces for many seeds as a Ray Data job (the [ray] extra), resumable"),
    ("bench", "avatarforge.benchmarks.bench_command", "benchmark a server against the in-process backend; gate on ratios"),
    ("soak", "avatarforge.benchmarks.soak_command", "mixed players + bulk load on a real server: p99, bulk share, errors, RSS"),
    ("train", "avatarforge.models.training.recipe", "train the default model from scratch (dataset .. bundle), resumable"),
    ("directions", "avatarforge.models.training.directions_command", "list a model's edit directions, or derive the supervised ones"),
    ("eval", "avatarforge.models.training.evaluate", "measure a model: Fréchet distance, attribute coverage, diversity"),
    ("import-nvlabs", "avatarforge.models.importers.nvlabs_import", "convert an NVlabs StyleGAN2-ADA .pkl to a bundle without running its code"),
    ("import-rosinality", "avatarforge.models.importers.rosinality_import", "convert a rosinality stylegan2-pytorch .pt (weights_only) to a bundle"),
]
