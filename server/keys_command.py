"""`avatarforge keys`: make, list and remove API keys in a keys file (server/api_keys.py)."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

DESCRIPTION = """Manage the API keys a server started with --keys-file accepts. The file keeps only
each key's SHA-256, name, scopes and quotas; `add` prints the new key once, so store it where
the client will read it (AVATARFORGE_TOKEN, a secret store). A running server reads the file
at start: restart it after a change.

scopes: generate (Generate, GenerateBatch), edit (EditSession, RenderPreview, Interpolate,
Mix, Mutate), encode (Encode), admin (all); any key may call ListModels, GetModel, reflection.

examples:
  avatarforge keys add build-farm --scopes generate --images-per-s 200 --file keys.json
  avatarforge keys add unity-editor --scopes generate,edit --requests-per-s 30 --max-concurrent 4
  avatarforge keys list --file keys.json
  avatarforge keys remove build-farm --file keys.json"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    default = os.environ.get("AVATARFORGE_KEYS_FILE", "keys.json")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="make a key, print it once, store its hash")
    add.add_argument("name", help="who holds the key (letters, digits, . _ -), shown in logs and refusals")
    add.add_argument("--scopes", required=True, help="comma list of generate, edit, encode, admin")
    add.add_argument("--requests-per-s", type=float, default=0, help="calls per second (default 0 = unlimited)")
    add.add_argument("--images-per-s", type=float, default=0, help="images per second (default 0 = unlimited)")
    add.add_argument("--max-concurrent", type=int, default=0, help="calls in flight at once (default 0 = unlimited)")
    lst = sub.add_parser("list", help="names, scopes and quotas (never keys)")
    rm = sub.add_parser("remove", help="revoke a key by name")
    rm.add_argument("name")
    for p in (add, lst, rm):
        p.add_argument("--file", type=Path, default=Path(default),
                       help=f"the keys file (default $AVATARFORGE_KEYS_FILE or keys.json; now {default})")


def run(args: argparse.Namespace) -> int:
    from avatarforge.server.api_keys import KeysFileError, KeyStore, parse_scopes

    try:
        if args.action == "add":
            store = KeyStore.load(args.file) if args.file.exists() else KeyStore([])
            key = store.add(args.name, parse_scopes(args.scopes), args.requests_per_s, args.images_per_s,
                            args.max_concurrent)
            store.save(args.file)
            print(key)
            print(f"key {args.name!r} added to {args.file}; it is shown only now. Clients send it as "
                  "'authorization: Bearer <key>' (avatarforge --token / AVATARFORGE_TOKEN).", file=sys.stderr)
        elif args.action == "list":
            for k in KeyStore.load(args.file).keys:
                quota = ", ".join(f"{n} {v:g}" for n, v in (("requests/s", k.requests_per_s),
                                  ("images/s", k.images_per_s), ("concurrent", k.max_concurrent)) if v) or "no quota"
                print(f"{k.name}\t{','.join(k.scopes)}\t{quota}\t{k.created}")
        else:
            store = KeyStore.load(args.file)
            store.remove(args.name)
            store.save(args.file)
            print(f"key {args.name!r} removed from {args.file}", file=sys.stderr)
    except KeysFileError as e:
        print(f"avatarforge keys: {e}", file=sys.stderr)
        return 2
    return 0
