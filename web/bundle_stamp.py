"""Ties the committed bundle (server/web_static/app.js) to what it was built from, so a stale
bundle fails CI without CI needing Node or npm: build-web.sh writes the sha256 of every build
input (the proto, web/'s sources, lockfile, config and build script) and of the bundle itself
into server/web_static/bundle-stamp.json; `check` recomputes them and names what differs.

    python web/bundle_stamp.py write|check [--root REPO]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

FIXED_INPUTS = ["proto/avatarforge/v1/avatarforge.proto", "web/build-web.sh", "web/bundle_stamp.py",
                "web/package.json", "web/package-lock.json", "web/tsconfig.json"]
SOURCES = "web/src"  # every .ts under it, generated code included
BUNDLE = "server/web_static/app.js"
STAMP = "server/web_static/bundle-stamp.json"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def compute(root: Path) -> dict:
    inputs = [*FIXED_INPUTS, *sorted(p.relative_to(root).as_posix() for p in (root / SOURCES).rglob("*.ts"))]
    return {"inputs": {name: _sha(root / name) for name in inputs}, "bundle": {BUNDLE: _sha(root / BUNDLE)}}


def differences(root: Path) -> list[str]:
    """What changed since the stamp was written; empty when the bundle is fresh."""
    stamp, now = json.loads((root / STAMP).read_text()), compute(root)
    out = []
    for part, what in (("inputs", "input"), ("bundle", "bundle")):
        old, new = stamp[part], now[part]
        out += [f"{what} changed: {n}" for n in sorted(old.keys() & new.keys()) if old[n] != new[n]]
        out += [f"{what} added: {n}" for n in sorted(new.keys() - old.keys())]
        out += [f"{what} removed: {n}" for n in sorted(old.keys() - new.keys())]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["write", "check"])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args(argv)
    if args.mode == "write":
        (args.root / STAMP).write_text(json.dumps(compute(args.root), indent=1, sort_keys=True) + "\n")
        return 0
    diff = differences(args.root)
    for line in diff:
        print(line)
    if diff:
        print(f"{BUNDLE} is stale against its sources: rebuild it with `make web` and commit the result")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
