"""API keys: who may call, with which scopes and quotas. The keys file stores only hashes.

    avatarforge keys add build-farm --scopes generate --images-per-s 200 --file keys.json
    -> prints af_3Jk...  (once; the file keeps its SHA-256)

    keys.json
    {"format": "avatarforge-keys/1",
     "keys": [{"name": "build-farm", "sha256": "9f2c...", "scopes": ["generate"],
               "requests_per_s": 0, "images_per_s": 200, "max_concurrent": 0, "created": "2026-..."}]}

Why a plain SHA-256 and not a password hash (bcrypt, argon2): a key is 256 random bits made by
`new_key`, not a person's password, so there is no dictionary to try and a slow hash would only
slow every RPC; inverting SHA-256 of a 256-bit secret is out of reach. Whoever reads the file
learns names, scopes and quotas, never a usable key. A key is found by the hash of what the
client sent (a dict lookup), so no key is compared character by character.

Scopes: generate (Generate, GenerateBatch), edit (EditSession, RenderPreview, GetParts, Interpolate, Mix,
Mutate), encode (Encode), admin (every scope). Quotas of 0 mean unlimited.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

SCOPES = ("generate", "edit", "encode", "admin")
FORMAT = "avatarforge-keys/1"
KEY_PREFIX = "af_"  # makes a leaked key easy to spot in logs and secret scanners
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class KeysFileError(ValueError):
    """The keys file is missing, malformed, or an edit to it is refused."""


@dataclass(frozen=True)
class ApiKey:
    name: str  # who holds it, shown in logs and in PERMISSION_DENIED / quota messages
    sha256: str  # hex SHA-256 of the key's UTF-8 text
    scopes: tuple[str, ...]
    requests_per_s: float = 0.0  # token bucket refill, calls per second; 0 = unlimited
    images_per_s: float = 0.0  # token bucket refill, images per second; 0 = unlimited
    max_concurrent: int = 0  # calls of this key in flight at once; 0 = unlimited
    created: str = field(default="", compare=False)

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes


def new_key() -> str:
    """A fresh key: 32 random bytes from the OS, URL-safe (fits an HTTP header as is)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def parse_scopes(text: str) -> tuple[str, ...]:
    scopes = tuple(dict.fromkeys(s.strip() for s in text.split(",") if s.strip()))
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise KeysFileError(f"scopes must be a comma list of {', '.join(SCOPES)}, got {text!r}")
    return scopes


class KeyStore:
    """The keys of one file, looked up by the hash of the presented key."""

    def __init__(self, keys: list[ApiKey]):
        self.keys = list(keys)
        self._by_hash = {k.sha256: k for k in keys}

    def find(self, presented: str) -> ApiKey | None:
        return self._by_hash.get(hash_key(presented))

    @classmethod
    def load(cls, path: str | Path) -> "KeyStore":
        path = Path(path)
        try:
            doc = json.loads(path.read_text())
        except FileNotFoundError:
            raise KeysFileError(f"keys file {path} does not exist: make one with `avatarforge keys add NAME "
                                f"--scopes generate --file {path}`") from None
        except json.JSONDecodeError as e:
            raise KeysFileError(f"keys file {path} is not JSON: {e}") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("keys"), list):
            raise KeysFileError(f"keys file {path} is not an {FORMAT} file (made by `avatarforge keys add`)")
        keys = []
        for i, row in enumerate(doc["keys"]):
            try:
                key = ApiKey(name=row["name"], sha256=row["sha256"], scopes=parse_scopes(",".join(row["scopes"])),
                             requests_per_s=float(row.get("requests_per_s", 0)),
                             images_per_s=float(row.get("images_per_s", 0)),
                             max_concurrent=int(row.get("max_concurrent", 0)), created=row.get("created", ""))
            except (KeyError, TypeError, ValueError) as e:
                raise KeysFileError(f"keys file {path}: key {i} is malformed ({type(e).__name__}: {e})") from None
            if not re.fullmatch(r"[0-9a-f]{64}", key.sha256):
                raise KeysFileError(f"keys file {path}: key {key.name!r} has no 64-digit hex sha256")
            if min(key.requests_per_s, key.images_per_s, key.max_concurrent) < 0:
                raise KeysFileError(f"keys file {path}: key {key.name!r} has a negative quota")
            keys.append(key)
        return cls(keys)

    def save(self, path: str | Path) -> None:
        """Write atomically (temporary file, then rename), readable by the owner only."""
        path = Path(path)
        tmp = path.with_name(path.name + ".part")
        rows = [{**asdict(k), "scopes": list(k.scopes)} for k in self.keys]
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"format": FORMAT, "keys": rows}, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)

    def add(self, name: str, scopes: tuple[str, ...], requests_per_s: float = 0, images_per_s: float = 0,
            max_concurrent: int = 0) -> str:
        """Make a key named `name`, keep its hash, and return the key itself (shown once)."""
        if not _NAME.match(name):
            raise KeysFileError(f"key name {name!r}: use letters, digits, '.', '_' or '-' (at most 64)")
        if any(k.name == name for k in self.keys):
            raise KeysFileError(f"a key named {name!r} exists: remove it first (`avatarforge keys remove {name}`) "
                                "or pick another name")
        if min(requests_per_s, images_per_s, max_concurrent) < 0:
            raise KeysFileError("quotas must be >= 0 (0 = unlimited)")
        key = new_key()
        record = ApiKey(name, hash_key(key), scopes, float(requests_per_s), float(images_per_s), int(max_concurrent),
                        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        self.keys.append(record)
        self._by_hash[record.sha256] = record
        return key

    def remove(self, name: str) -> None:
        kept = [k for k in self.keys if k.name != name]
        if len(kept) == len(self.keys):
            raise KeysFileError(f"no key named {name!r}")
        self.__init__(kept)
