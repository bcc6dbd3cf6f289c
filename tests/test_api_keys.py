"""`avatarforge keys` as an operator runs it, and what the keys file does and does not hold."""
from __future__ import annotations

import json
import stat
import subprocess
import sys

import pytest

from avatarforge import cli
from avatarforge.server.api_keys import KeysFileError, KeyStore, hash_key


def test_keys_add_prints_the_key_once_and_stores_only_its_hash(tmp_path, capsys):
    path = tmp_path / "keys.json"
    assert cli.main(["keys", "add", "unity-editor", "--scopes", "generate,edit", "--requests-per-s", "30",
                     "--max-concurrent", "4", "--file", str(path)]) == 0
    key = capsys.readouterr().out.strip()
    assert key.startswith("af_") and len(key) >= 40
    text = path.read_text()
    assert key not in text and hash_key(key) in text  # the file never holds a usable key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    found = KeyStore.load(path).find(key)
    assert (found.name, found.scopes, found.requests_per_s, found.max_concurrent) == \
        ("unity-editor", ("generate", "edit"), 30.0, 4)
    assert KeyStore.load(path).find(key + "x") is None

    assert cli.main(["keys", "add", "farm", "--scopes", "generate", "--images-per-s", "200", "--file", str(path)]) == 0
    second = capsys.readouterr().out.strip()
    assert second != key and len(KeyStore.load(path).keys) == 2
    assert cli.main(["keys", "list", "--file", str(path)]) == 0
    listing = capsys.readouterr().out
    assert "unity-editor\tgenerate,edit\trequests/s 30, concurrent 4" in listing and "farm\tgenerate\timages/s 200" in listing
    assert key not in listing and hash_key(key) not in listing

    assert cli.main(["keys", "add", "farm", "--scopes", "generate", "--file", str(path)]) == 2  # names are unique
    assert "a key named 'farm' exists" in capsys.readouterr().err
    assert cli.main(["keys", "add", "x", "--scopes", "root", "--file", str(path)]) == 2
    assert "scopes must be a comma list of generate, edit, encode, admin" in capsys.readouterr().err
    assert cli.main(["keys", "remove", "unity-editor", "--file", str(path)]) == 0
    assert KeyStore.load(path).find(key) is None and KeyStore.load(path).find(second).name == "farm"


def test_keys_command_reads_the_file_from_the_environment(tmp_path):
    path = tmp_path / "env-keys.json"
    proc = subprocess.run([sys.executable, "-m", "avatarforge.cli", "keys", "add", "ci", "--scopes", "admin"],
                          capture_output=True, text=True, env={"AVATARFORGE_KEYS_FILE": str(path), "PATH": ""},
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert KeyStore.load(path).find(proc.stdout.strip()).scopes == ("admin",)


@pytest.mark.parametrize("content, message", [
    (None, "does not exist: make one with `avatarforge keys add"),
    ("{not json", "is not JSON"),
    (json.dumps({"keys": []}), "is not an avatarforge-keys/1 file"),
    (json.dumps({"format": "avatarforge-keys/1", "keys": [{"name": "a", "sha256": "abc", "scopes": ["edit"]}]}),
     "key 'a' has no 64-digit hex sha256"),
    (json.dumps({"format": "avatarforge-keys/1", "keys": [{"name": "a", "sha256": "0" * 64, "scopes": ["god"]}]}),
     "key 0 is malformed"),
])
def test_a_bad_keys_file_says_what_is_wrong(tmp_path, content, message):
    path = tmp_path / "keys.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(KeysFileError) as err:
        KeyStore.load(path)
    assert message in str(err.value)
