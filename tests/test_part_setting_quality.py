"""The set-part measurement command on a handful of faces: every head of the issue's list is
measured on both sets, and --write fills the README's blocks and the manifest of a bundle copy."""
from __future__ import annotations

import json
import shutil

from avatarforge.models.bundle import resolve_bundle_path
from avatarforge.models.training import part_setting_quality as psq


def test_measurement_fills_readme_and_manifest(tmp_path):
    bundle = tmp_path / "avatars64"
    shutil.copytree(resolve_bundle_path("avatars64"), bundle)
    readme = tmp_path / "README.md"
    readme.write_text("# x\n<!-- avatars64 part-setting-heads -->\n<!-- /avatars64 part-setting-heads -->\n"
                      "<!-- avatars64 part-setting-table -->\n<!-- /avatars64 part-setting-table -->\n")
    out = tmp_path / "r.json"
    psq.main(["--model", str(bundle), "--faces", "3", "--values-per-face", "1", "--ceiling-renders", "20",
              "--out", str(out), "--write", str(readme)])
    result = json.loads(out.read_text())
    assert list(result["per_head"]) == list(psq.HEADS)
    for head, rows in result["per_value"].items():
        assert sum(r["generated"]["n"] + r["encoded"]["n"] for r in rows.values()) > 0, head
        assert all(0 <= r["all"]["success"] <= 1 for r in rows.values() if r["all"]["n"])
    text = readme.read_text()
    assert "| `hair_color` | `RED` |" in text and "| `facial_hair` | 8 |" in text
    assert json.loads((bundle / "manifest.json").read_text())["part_setting"]["faces"] == 3


def test_a_set_part_is_measured_as_the_direction_it_stands_in_for(tmp_path, capsys):
    """--control smile=mouth:SMILE: the share of non-smiling faces that smile once their mouth
    is set, kept in the manifest beside (not instead of) the part-setting figures, and shown in
    the README's controls block of that model."""
    bundle = tmp_path / "avatars64"
    shutil.copytree(resolve_bundle_path("avatars64"), bundle)
    readme = tmp_path / "README.md"
    readme.write_text("# x\n<!-- avatars64 part-setting-controls -->\n<!-- /avatars64 part-setting-controls -->\n")
    psq.main(["--model", str(bundle), "--control", "smile=mouth:SMILE", "--threads", "2", "--write", str(readme)])
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["set"] == "mouth=SMILE" and printed["faces"] > 100 and 0.3 < printed["success"] <= 1
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["part_setting"]["controls"] == [printed] and manifest["part_setting"]["faces"] == 256
    row = f"| `smile` | mouth = `SMILE` | {printed['faces']} | **{100 * printed['success']:.0f} %** |"
    assert row in readme.read_text()
