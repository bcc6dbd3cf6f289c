"""The Unity package as Unity's Package Manager will read it. Unity cannot be installed here, so
this checks what Unity checks before compiling anything: a valid package.json, asmdefs whose
names and references agree (the engine-free Core really declared engine-free), a .meta with a
stable GUID beside every asset (a package from git or a tarball is read-only, and Unity ignores
assets without one), and that the assembled package carries exactly this repository's C# client
and freshly generated messages. The Core's behaviour is tested against a live server by
`make unity-test`.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UNITY = ROOT / "engine_plugins/unity"
PACKAGE = UNITY / "com.avatarforge.client"
CLIENT_SRC = ROOT / "clients/csharp/src"
# Assemblies Unity itself provides that our asmdefs may reference.
UNITY_ASSEMBLIES = {"UnityEngine.UI"}

needs_protoc = pytest.mark.skipif(not shutil.which("protoc"), reason="needs protoc (clients/csharp/install-csharp-deps.sh)")


def assets(package: Path) -> list[Path]:
    """What Unity imports: every file and folder except .meta files, dot files and "~" folders."""
    found = []
    for path in sorted(package.rglob("*")):
        rel = path.relative_to(package)
        if any(part.endswith("~") or part.startswith(".") for part in rel.parts) or path.suffix == ".meta":
            continue
        found.append(path)
    return found


def meta_problems(package: Path) -> list[str]:
    """Every asset needs a .meta whose GUID is MD5("<package name>/<path>"); no .meta without its asset."""
    problems, guids = [], {}
    for path in assets(package):
        rel = path.relative_to(package).as_posix()
        meta = path.with_name(path.name + ".meta")
        if not meta.exists():
            problems.append(f"{rel}: no .meta")
            continue
        text = meta.read_text()
        guid = re.search(r"^guid: ([0-9a-f]{32})$", text, re.M)
        expected = hashlib.md5(f"{package.name}/{rel}".encode()).hexdigest()
        if not guid or guid.group(1) != expected:
            problems.append(f"{rel}: guid {guid.group(1) if guid else None}, expected {expected}")
        elif guid.group(1) in guids:
            problems.append(f"{rel}: guid also used by {guids[guid.group(1)]}")
        else:
            guids[guid.group(1)] = rel
        if path.is_dir() != ("folderAsset: yes" in text):
            problems.append(f"{rel}: folderAsset does not match")
    for meta in package.rglob("*.meta"):
        asset = meta.with_name(meta.name[: -len(".meta")])
        if not asset.exists():
            problems.append(f"{meta.relative_to(package)}: no asset")
    return problems


def asmdefs(package: Path) -> dict[str, tuple[Path, dict]]:
    found = {}
    for path in package.rglob("*.asmdef"):
        data = json.loads(path.read_text())
        assert data["name"] not in found, f"two asmdefs named {data['name']}"
        found[data["name"]] = (path, data)
    return found


def test_package_json():
    manifest = json.loads((PACKAGE / "package.json").read_text())
    assert manifest["name"] == PACKAGE.name == "com.avatarforge.client"
    assert re.fullmatch(r"\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?", manifest["version"])
    assert re.fullmatch(r"20\d\d\.\d", manifest["unity"]) and manifest["unity"] >= "2021.3"
    assert manifest["displayName"] and manifest["description"]
    assert all(re.fullmatch(r"com\.unity\.[a-z.]+", d) for d in manifest["dependencies"]), "only Unity's own packages resolve by name"
    for sample in manifest["samples"]:
        folder = PACKAGE / sample["path"]
        assert sample["path"].startswith("Samples~/") and list(folder.glob("*.cs")), sample
    changelog = (PACKAGE / "CHANGELOG.md").read_text()
    assert f"## {manifest['version']}" in changelog
    assert (PACKAGE / "Documentation~/index.md").is_file() and (PACKAGE / "LICENSE.md").is_file()


def test_asmdefs_agree():
    defs = asmdefs(PACKAGE)
    assert set(defs) == {"AvatarForge.Core", "AvatarForge.Runtime", "AvatarForge.Editor"}
    for name, (path, data) in defs.items():
        assert path.stem == name, f"{path}: file and assembly name differ"
        for ref in data["references"]:
            assert ref in defs or ref in UNITY_ASSEMBLIES, f"{name} references unknown {ref}"
        if data.get("overrideReferences"):
            assert "Google.Protobuf.dll" in data["precompiledReferences"], name
    core, runtime, editor = (defs[n][1] for n in ("AvatarForge.Core", "AvatarForge.Runtime", "AvatarForge.Editor"))
    assert core["noEngineReferences"] is True and core["references"] == []
    assert "AvatarForge.Core" in runtime["references"] and "UnityEngine.UI" in runtime["references"]
    assert editor["includePlatforms"] == ["Editor"] and "AvatarForge.Runtime" in editor["references"]
    # Core is what CI compiles without UnityEngine: nothing in it may name the engine.
    for source in (PACKAGE / "Runtime/Core").rglob("*.cs"):
        assert not re.search(r"\bUnity(Engine|Editor)\b", source.read_text()), source


def test_every_asset_has_a_stable_meta():
    assert meta_problems(PACKAGE) == []


def test_meta_check_catches_a_missing_or_changed_meta(tmp_path):
    copy = tmp_path / PACKAGE.name
    shutil.copytree(PACKAGE, copy)
    (copy / "Runtime/FaceTextures.cs.meta").unlink()
    meta = copy / "Runtime/AvatarEditor.cs.meta"
    meta.write_text(re.sub(r"guid: \w+", "guid: " + "0" * 32, meta.read_text()))
    (copy / "Runtime/Gone.cs.meta").write_text("fileFormatVersion: 2\nguid: " + "1" * 32 + "\n")
    problems = meta_problems(copy)
    assert len(problems) == 3 and "Runtime/FaceTextures.cs: no .meta" in problems, problems
    subprocess.run([str(UNITY / "unity-meta.sh"), str(copy)], check=True, capture_output=True)
    assert meta_problems(copy) == [p for p in problems if "FaceTextures" not in p]


@pytest.fixture(scope="module")
def assembled(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("unity")
    subprocess.run([str(UNITY / "assemble-unity-package.sh"), str(out), "--tgz"], check=True, capture_output=True, text=True)
    return out


@needs_protoc
def test_assembled_package_carries_this_client(assembled, tmp_path):
    client = assembled / PACKAGE.name / "Runtime/Core/Client"
    sources = sorted(p.name for p in CLIENT_SRC.glob("*.cs"))
    assert sources and sorted(p.name for p in client.glob("*.cs")) == sorted(sources + ["Avatarforge.cs"])
    for name in sources:
        assert (client / name).read_bytes() == (CLIENT_SRC / name).read_bytes(), name
    subprocess.run(["protoc", "-I", str(ROOT / "proto"), f"--csharp_out={tmp_path}",
                    *map(str, (ROOT / "proto/avatarforge/v1").glob("*.proto"))], check=True)
    assert (client / "Avatarforge.cs").read_bytes() == (tmp_path / "Avatarforge.cs").read_bytes()
    manifest = (client / "MANIFEST.txt").read_text()
    for line in manifest.splitlines():
        if not line.startswith("#"):
            digest, name = line.split()
            assert hashlib.sha256((client / name).read_bytes()).hexdigest() == digest, name
    assert len([l for l in manifest.splitlines() if not l.startswith("#")]) == len(sources) + 1


@needs_protoc
def test_assembled_package_is_complete_for_unity(assembled):
    package = assembled / PACKAGE.name
    assert meta_problems(package) == []
    assert {p.name for p in package.rglob("*.asmdef")} == {p.name for p in PACKAGE.rglob("*.asmdef")}
    with tarfile.open(next(assembled.glob("com.avatarforge.client-*.tgz"))) as tgz:
        names = tgz.getnames()
    assert "package/package.json" in names and "package/Runtime/Core/Client/Avatarforge.cs.meta" in names
    assert all(n == "package" or n.startswith("package/") for n in names)
