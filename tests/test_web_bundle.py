"""The committed browser bundle (server/web_static/app.js) matches its sources: the stamp that
web/build-web.sh wrote still names every input's hash, and the check catches a stale one. CI
checks the stamp, not a rebuild, so it needs neither Node nor npm (README, "The browser creator")."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAMPER = ROOT / "web" / "bundle_stamp.py"


def check(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(STAMPER), "check", "--root", str(root)],
                          capture_output=True, text=True, timeout=60)


def test_committed_bundle_is_fresh():
    proc = check(ROOT)
    assert proc.returncode == 0, proc.stdout


def test_a_changed_source_or_edited_bundle_is_named(tmp_path):
    for part in ("proto", "web/src", "server/web_static"):
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("node_modules"))
    for name in ("build-web.sh", "bundle_stamp.py", "package.json", "package-lock.json", "tsconfig.json"):
        shutil.copy2(ROOT / "web" / name, tmp_path / "web" / name)
    assert check(tmp_path).returncode == 0
    source = tmp_path / "web/src/preview_loop.ts"
    source.write_text(source.read_text() + "\n// a change\n")
    (tmp_path / "web/src/extra.ts").write_text("export {};\n")
    proc = check(tmp_path)
    assert proc.returncode == 1
    assert "input changed: web/src/preview_loop.ts" in proc.stdout and "input added: web/src/extra.ts" in proc.stdout
    assert "make web" in proc.stdout
    bundle = tmp_path / "server/web_static/app.js"
    bundle.write_text(bundle.read_text().replace("RenderPreview", "RenderPreviev", 1))
    assert "bundle changed: server/web_static/app.js" in check(tmp_path).stdout
