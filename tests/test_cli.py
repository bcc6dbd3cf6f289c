"""The `avatarforge` command as a user runs it."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest
from PIL import Image

from avatarforge import cli
from avatarforge.commands.generate import parse_seeds
from avatarforge.server.dna import dna_checksum
from avatarforge.v1 import avatarforge_pb2 as pb


def test_parse_seeds():
    assert parse_seeds("0-3,10,2,7-8") == [0, 1, 2, 3, 10, 7, 8]
    for bad in ("5-1", "a", ""):
        with pytest.raises(Exception):
            parse_seeds(bad)


@pytest.mark.parametrize("command, flag", [("serve", "--keys-file"), ("generate", "--ca-file"), ("demo", "--model"),
                                           ("keys", "ACTION")])
def test_every_subcommand_has_help(capsys, command, flag):
    with pytest.raises(SystemExit) as exit:
        cli.main([command, "--help"])
    assert exit.value.code == 0
    assert flag in capsys.readouterr().out


def test_help_lists_the_subcommands_of_both_installed_distributions(capsys):
    with pytest.raises(SystemExit) as exit:
        cli.main(["--help"])
    assert exit.value.code == 0
    listed = set(re.findall(r"^ {4}(\S+)", capsys.readouterr().out, re.MULTILINE))
    assert listed == {"generate", "encode", "edit", "serve", "keys", "demo", "bulk", "bench", "soak", "train", "directions", "eval",
                      "import-nvlabs", "import-rosinality"}


def test_client_commands_never_import_torch():
    probe = ("import sys\nfrom avatarforge import cli\ntry:\n    cli.main(['generate', '--help'])\n"
             "except SystemExit:\n    pass\nprint(sorted(m for m in ('torch', 'numpy') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("[]"), proc.stdout


def test_generate_writes_files_and_skips_existing(server, tmp_path, capsys):
    out = tmp_path / "npcs"
    args = ["generate", "--server", server.address, "--seeds", "0-9,20", "--out", str(out), "--no-progress"]
    assert cli.main(args) == 0
    seeds = [*range(10), 20]
    for s in seeds:
        assert Image.open(out / f"seed{s:06d}.png").size == (32, 32)
        dna = pb.CharacterDna.FromString((out / f"seed{s:06d}.dna").read_bytes())
        assert dna.seed == s and dna.checksum == dna_checksum(dna)
    sheet = Image.open(out / "contact_sheet.png")
    assert sheet.width >= 4 * 64
    assert "11 generated" in capsys.readouterr().out

    before = {p.name: p.stat().st_mtime_ns for p in out.glob("seed*")}
    lost = out / "seed000004.png"
    kept = lost.read_bytes()
    lost.unlink()
    assert cli.main(args) == 0
    assert "1 generated, 10 already on disk" in capsys.readouterr().out
    after = {p.name: p.stat().st_mtime_ns for p in out.glob("seed*")}
    changed = {n for n in after if after[n] != before.get(n)}
    assert changed == {"seed000004.png", "seed000004.dna"}
    assert lost.read_bytes() == kept  # the regenerated face is the same file


def test_generate_replaces_faces_another_model_drew(server, tmp_path, capsys):
    """A folder of one model's faces, generated again from another (a new default model, a
    retrained one): every face is drawn again, never kept as if it were done."""
    out = tmp_path / "npcs"
    base = ["generate", "--server", server.address, "--seeds", "0-3", "--out", str(out), "--no-progress"]
    assert cli.main(base) == 0  # the server's default model, tiny
    capsys.readouterr()
    assert cli.main(base + ["--model", "other"]) == 0
    assert "4 generated (4 of them drawn before by another model: replaced), 0 already on disk" in capsys.readouterr().out
    assert {pb.CharacterDna.FromString(p.read_bytes()).model_name for p in out.glob("*.dna")} == {"other"}
    assert cli.main(base + ["--model", "other"]) == 0
    assert "0 generated, 4 already on disk" in capsys.readouterr().out


def test_generate_reports_server_errors(server, tmp_path, capsys):
    args = ["generate", "--server", server.address, "--seeds", "1", "--size", "48", "--out", str(tmp_path), "--no-progress"]
    assert cli.main(args) == 2
    assert "INVALID_ARGUMENT" in capsys.readouterr().err


def test_demo_end_to_end(tiny_bundle, tmp_path):
    out = tmp_path / "npcs"
    proc = subprocess.run([sys.executable, "-m", "avatarforge.cli", "demo", "--model", str(tiny_bundle),
                           "--backend", "torch", "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert len(list(out.glob("seed*.png"))) == 64 and len(list(out.glob("seed*.dna"))) == 64
    assert (out / "contact_sheet.png").is_file()
