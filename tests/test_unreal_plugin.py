"""The Unreal plugin as a studio receives it: package-unreal-plugin.sh run for real, then the folder
checked for what UBT and Blueprint will need. Unreal itself cannot be installed here, so nothing
below compiles UE code; what is checked is that the folder is complete and self-consistent, that
its C++ core and generated code are exactly this repository's, that the core compiles from the
folder alone the way the module builds it, and that no Blueprint-facing signature uses a type
Blueprint cannot hold.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "engine_plugins/unreal/package-unreal-plugin.sh"
CPP = ROOT / "clients/cpp"
PROTO = ROOT / "proto/avatarforge/v1/avatarforge.proto"

needs_protoc = pytest.mark.skipif(
    not (shutil.which("protoc") and shutil.which("grpc_cpp_plugin")),
    reason="needs Debian's protoc and grpc_cpp_plugin (clients/cpp/install-deps.sh, run by make cpp-test)",
)


@pytest.fixture(scope="module")
def plugin(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("unreal")
    subprocess.run([str(SCRIPT), str(out)], check=True, capture_output=True, text=True)
    return out / "AvatarForge"


def core(plugin: Path) -> Path:
    return plugin / "Source/AvatarForge/Core"


def library_sources() -> list[str]:
    """The .cc files CMake builds into avatarforge_client (the generated ones aside)."""
    cmake = (CPP / "CMakeLists.txt").read_text()
    body = re.search(r"add_library\(avatarforge_client STATIC(.*?)\)", cmake, re.S).group(1)
    return [s for s in body.split() if s.startswith("src/")]


@needs_protoc
def test_core_sources_are_the_repository_s(plugin):
    sources = library_sources()
    assert len(sources) >= 6
    for rel in sources + [str(p.relative_to(CPP)) for p in (CPP / "src").glob("*.h")]:
        assert (core(plugin) / rel).read_bytes() == (CPP / rel).read_bytes(), rel
    for header in (CPP / "include/avatarforge").glob("*.h"):
        assert (core(plugin) / "include/avatarforge" / header.name).read_bytes() == header.read_bytes()


@needs_protoc
def test_generated_code_matches_proto(plugin, tmp_path):
    fresh = tmp_path / "gen"
    fresh.mkdir()
    subprocess.run(["protoc", f"-I{ROOT / 'proto'}", f"--cpp_out={fresh}", f"--grpc_out={fresh}",
                    f"--plugin=protoc-gen-grpc={shutil.which('grpc_cpp_plugin')}", str(PROTO)], check=True)
    names = ["avatarforge.pb.h", "avatarforge.pb.cc", "avatarforge.grpc.pb.h", "avatarforge.grpc.pb.cc"]
    for name in names:
        packaged = core(plugin) / "gen/avatarforge/v1" / name
        assert packaged.read_bytes() == (fresh / "avatarforge/v1" / name).read_bytes(), name
    # Every RPC of the contract has a stub method in the packaged code.
    rpcs = re.findall(r"^\s*rpc (\w+)\(", PROTO.read_text(), re.M)
    stubs = (core(plugin) / "gen/avatarforge/v1/avatarforge.grpc.pb.h").read_text()
    assert "Encode" in rpcs and all(f"::grpc::Status {rpc}(" in stubs for rpc in rpcs)


@needs_protoc
def test_manifest_lists_every_core_file_with_its_hash(plugin):
    manifest = (core(plugin) / "MANIFEST.txt").read_text().splitlines()
    header = {k: v for k, v in (line[2:].split(": ", 1) for line in manifest if line.startswith("# ") and ": " in line)}
    assert header["proto sha256"] == hashlib.sha256(PROTO.read_bytes()).hexdigest()
    assert header["protoc"].startswith("libprotoc ")
    listed = dict(reversed(line.split("  ", 1)) for line in manifest if not line.startswith("#"))
    on_disk = {str(p.relative_to(core(plugin))) for p in core(plugin).rglob("*") if p.is_file()} - {"MANIFEST.txt"}
    assert set(listed) == on_disk
    for rel, digest in listed.items():
        assert hashlib.sha256((core(plugin) / rel).read_bytes()).hexdigest() == digest, rel


@needs_protoc
def test_uplugin_and_modules_agree(plugin):
    descriptor = json.loads((plugin / "AvatarForge.uplugin").read_text())
    assert descriptor["FileVersion"] == 3
    modules = descriptor["Modules"]
    assert [m["Name"] for m in modules] == ["AvatarForge"] and modules[0]["Type"] == "Runtime"
    build_files = {p.stem.removesuffix(".Build"): p for p in (plugin / "Source").rglob("*.Build.cs")}
    assert set(build_files) == {"AvatarForge", "AvatarForgeGrpc"}
    for name, path in build_files.items():
        assert path.parent.name == name, f"{path}: a module's Build.cs lives in a folder of its name"
        assert re.search(rf"public class {name} : ModuleRules", path.read_text())
    runtime = build_files["AvatarForge"].read_text()
    # The module's own dependencies that are not engine modules must be modules of this plugin.
    assert 'PrivateDependencyModuleNames.Add("AvatarForgeGrpc")' in runtime
    assert "Type = ModuleType.External" in build_files["AvatarForgeGrpc"].read_text()
    # What the Build.cs requires of the folder exists.
    for rel in re.findall(r'Path\.Combine\(CoreDir, "([^"]+)"\)', runtime):
        assert (core(plugin) / rel).exists(), rel
    assert (plugin / "Source/AvatarForge/Public").is_dir() and (plugin / "Source/AvatarForge/Private").is_dir()


def module_files(plugin: Path) -> list[Path]:
    return [p for p in (plugin / "Source/AvatarForge").rglob("*") if p.suffix in (".h", ".cpp", ".cc")]


@needs_protoc
def test_every_plugin_include_resolves_and_object_names_are_unique(plugin):
    module = plugin / "Source/AvatarForge"
    search = [module / "Public", module / "Private", core(plugin) / "include", core(plugin) / "src", core(plugin) / "gen"]
    for path in module_files(plugin):
        for inc in re.findall(r'^#include "([^"]+)"', path.read_text(), re.M):
            if inc.endswith(".generated.h") or not re.match(r"(AvatarForge|avatarforge|client_impl|convert)", inc):
                continue  # engine headers: not checkable without Unreal
            assert any((d / inc).exists() for d in search), f"{path.name}: #include \"{inc}\" not in the plugin"
    # UBT writes one object file per source, named after it: two sources of one name collide.
    names = [p.name for p in module_files(plugin) if p.suffix in (".cpp", ".cc")]
    assert len(names) == len(set(names))


def reflected_declarations(text: str) -> list[str]:
    """Each UPROPERTY/UFUNCTION declaration (specifiers through `;` or `{`) and each dynamic delegate."""
    found = []
    for m in re.finditer(r"\b(UPROPERTY|UFUNCTION)\s*\(", text):
        depth, i = 1, m.end()
        while depth:
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        end = min(j for j in (text.find(";", i), text.find("{", i)) if j != -1)
        found.append(text[m.start():end])
    found += re.findall(r"DECLARE_DYNAMIC_\w+\s*\([^;]*\);", text)
    return found


BLUEPRINT_UNSAFE = re.compile(r"\b(uint16|uint32|uint64|int8|unsigned|size_t|std::\w+|avatarforge::\w+)\b")


def blueprint_violations(text: str) -> list[str]:
    return [d for d in reflected_declarations(text) if BLUEPRINT_UNSAFE.search(d)]


def test_blueprint_check_catches_an_unsigned_property():
    """The check below would fail if someone added one: shown on a made-up header."""
    bad = """
    UPROPERTY(BlueprintReadOnly, Category = "AvatarForge")
    uint32 Seed = 0;
    UFUNCTION(BlueprintCallable, Category = "AvatarForge")
    static void Make(const TArray<int64>& Seeds, uint64 Salt);
    DECLARE_DYNAMIC_MULTICAST_DELEGATE_OneParam(FBad, uint32, Count);
    UPROPERTY(BlueprintReadOnly)
    int64 Fine = 0;
    """
    assert len(blueprint_violations(bad)) == 3


def test_no_blueprint_signature_uses_a_type_blueprint_cannot_hold():
    public = ROOT / "engine_plugins/unreal/AvatarForge/Source/AvatarForge/Public"
    headers = sorted(public.glob("*.h"))
    assert len(headers) >= 5
    declarations = 0
    for header in headers:
        text = header.read_text()
        declarations += len(reflected_declarations(text))
        assert blueprint_violations(text) == [], header.name
    assert declarations > 40  # the check looked at the real declarations, not an empty list


def test_reflected_headers_include_their_generated_header_last():
    public = ROOT / "engine_plugins/unreal/AvatarForge/Source/AvatarForge/Public"
    for header in public.glob("*.h"):
        text = header.read_text()
        if not re.search(r"^\s*(UCLASS|USTRUCT|UENUM)\(", text, re.M):
            continue
        includes = re.findall(r'^#include [<"]([^">]+)[">]', text, re.M)
        assert includes[-1] == f"{header.stem}.generated.h", header.name


@needs_protoc
def test_packaged_core_compiles_alone_as_the_module_builds_it(plugin):
    """The core's sources and generated code, from the packaged folder only, with the include paths
    AvatarForge.Build.cs sets and without exceptions (bEnableExceptions = false), against Debian's
    gRPC: -fsyntax-only, so every header resolves and parses but nothing is linked."""
    flags = subprocess.run(["pkg-config", "--cflags", "grpc++", "protobuf"], capture_output=True, text=True)
    if flags.returncode != 0:
        pytest.skip("needs libgrpc++-dev (clients/cpp/install-deps.sh)")
    c = core(plugin)
    sources = sorted(c.rglob("*.cc"))
    assert len(sources) == len(library_sources()) + 2
    command = ["nice", "-n", "10", "g++", "-std=c++17", "-fsyntax-only", "-fno-exceptions", "-Wall", "-Wextra", "-Werror",
               f"-I{c / 'include'}", f"-I{c / 'src'}", f"-I{c / 'gen'}", *flags.stdout.split()]
    with ThreadPoolExecutor(2) as pool:  # two at a time: CI machines here have two cores
        results = list(pool.map(lambda s: subprocess.run([*command, str(s)], capture_output=True, text=True), sources))
    for source, result in zip(sources, results):
        assert result.returncode == 0, f"{source.name}:\n{result.stderr[-3000:]}"
