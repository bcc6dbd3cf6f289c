"""Both distributions as a studio installs them: wheels into fresh virtual environments, run
from a folder outside the checkout.

- The client wheel alone: no torch, `avatarforge --help` lists the client commands only, and
  `avatarforge generate` streams faces from a server (this test session's, on loopback).
- torch + both wheels: `avatarforge serve` serves the default model from inside the wheel and
  a client gets a face back; `avatarforge --help` lists the server commands too, and
  `avatarforge directions` runs without the training extras.

The wheels are built from a clean copy of the checkout without build isolation (the test extra
brings setuptools and wheel); the environments install their dependencies from the package
index (the pip cache makes a rerun fast). Each step's seconds are printed (`pytest -s`).
"""
from __future__ import annotations

import email.message
import email.parser
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from avatarforge.client import AvatarForgeClient
from avatarforge.models.bundle import DEFAULT_MODEL, GENERATOR_FILE, MANIFEST
from avatarforge.server.demo_command import free_port
from avatarforge.v1 import avatarforge_pb2 as pb

ROOT = Path(__file__).resolve().parents[1]
CLIENT_COMMANDS = {"generate", "encode", "edit"}
SERVER_COMMANDS = {"serve", "keys", "demo", "bulk", "bench", "soak", "train", "eval", "directions", "import-nvlabs",
                   "import-rosinality"}
INSTALL_TIMEOUT_S = 900  # torch from an empty pip cache is a large download

pytestmark = pytest.mark.timeout(1800)


def timed(label: str, cmd: list, **kwargs) -> subprocess.CompletedProcess:
    start = time.monotonic()
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)
    print(f"[test_wheels] {label}: {time.monotonic() - start:.1f} s")
    assert proc.returncode == 0, f"{label} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def outside_env() -> dict[str, str]:
    """The environment of a shell that knows nothing of this checkout or its venv."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if not p.startswith(str(ROOT)))
    return env


def fresh_venv(path: Path, *requirements) -> Path:
    """A venv without pip of its own; the test's pip installs into it (`pip --python`), without
    compiling every module to bytecode (most of the install time with torch; Python compiles what runs)."""
    start = time.monotonic()
    venv.EnvBuilder(with_pip=False).create(path)
    print(f"[test_wheels] create venv {path.name}: {time.monotonic() - start:.1f} s")
    python = path / "bin" / "python"
    timed(f"pip install into {path.name}", [sys.executable, "-m", "pip", "--python", python, "install",
                                            "--disable-pip-version-check", "--no-compile", *requirements],
          timeout=INSTALL_TIMEOUT_S, env=outside_env())
    return path


def listed_commands(help_text: str) -> set[str]:
    """Subcommand names in `avatarforge --help` (argparse indents each by four spaces)."""
    return set(re.findall(r"^ {4}(\S+)", help_text, re.MULTILINE))


def wheel_metadata(wheel: Path) -> tuple[list[str], email.message.Message]:
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
        return names, email.parser.Parser().parsestr(z.read(meta).decode())


def clean_copy(dest: Path) -> Path:
    """The checkout's files as a clone would have them (tracked and new, not ignored), so the
    build neither reuses a stale build/ folder (setuptools packs all of build/lib) nor writes one."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True).stdout.decode()
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():  # not deleted in the working tree
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    return dest


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> dict[str, Path]:
    src, out = clean_copy(tmp_path_factory.mktemp("source")), tmp_path_factory.mktemp("wheels")
    timed("pip wheel client + server", [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                                        "--disable-pip-version-check", "-w", out, src / "clients/python", src],
          timeout=600)
    shutil.rmtree(src)
    found = {"client": list(out.glob("avatarforge_client-*.whl")), "server": list(out.glob("avatarforge-*.whl"))}
    assert all(len(v) == 1 for v in found.values()), found
    for kind, [wheel] in found.items():
        print(f"[test_wheels] {wheel.name}: {wheel.stat().st_size / 1e6:.2f} MB")
    return {kind: wheel for kind, [wheel] in found.items()}


def test_wheels_split_the_namespace_and_ship_the_default_model(wheels):
    client_files, client_meta = wheel_metadata(wheels["client"])
    server_files, server_meta = wheel_metadata(wheels["server"])
    client_code = {n for n in client_files if not n.startswith("avatarforge_client-")}
    server_code = {n for n in server_files if not n.startswith("avatarforge-")}
    # One package, two owners: no file in both wheels, and only the client owns the top level.
    assert not client_code & server_code
    assert {"avatarforge/__init__.py", "avatarforge/cli.py", "avatarforge/client.py",
            "avatarforge/v1/avatarforge_pb2.py", "avatarforge/v1/avatarforge_pb2_grpc.py"} <= client_code
    client_top = {"__init__.py", "cli.py", "client.py", "contact_sheet.py", "replicas.py", "commands", "v1"}
    assert all(n.split("/")[1] in client_top for n in client_code), sorted(client_code)
    assert all(n.split("/")[1] in {"server", "models", "benchmarks"} for n in server_code), sorted(server_code)
    # The server is built against exactly this client.
    assert f"avatarforge-client=={client_meta['Version']}" in server_meta.get_all("Requires-Dist")
    assert not {r for r in client_meta.get_all("Requires-Dist") if re.match(r"(torch|numpy|grpcio-tools)\b", r)}
    # Every file the default model's manifest lists (the server verifies them all at load).
    manifest = json.loads((ROOT / "models/zoo" / DEFAULT_MODEL / MANIFEST).read_text())
    zoo = f"avatarforge/models/zoo/{DEFAULT_MODEL}/"
    assert {zoo + MANIFEST, *(zoo + name for name in manifest["files"])} <= server_code
    assert not [n for n in server_code if "checkpoints" in n]
    # The browser creator that `avatarforge serve --web` serves from inside the package.
    assert {f"avatarforge/server/web_static/{n}" for n in ("index.html", "app.js", "creator.css")} <= server_code


@pytest.fixture(scope="module")
def client_venv(wheels, tmp_path_factory) -> Iterator[Path]:
    path = fresh_venv(tmp_path_factory.mktemp("venvs") / "client", wheels["client"])
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_client_wheel_alone_generates_faces_without_torch(client_venv, server, tmp_path):
    python, avatarforge = client_venv / "bin/python", client_venv / "bin/avatarforge"
    env = outside_env()
    probe = timed("client venv: import probe", [python, "-c",
                  "import importlib.util as u, avatarforge.client, avatarforge.v1.avatarforge_pb2_grpc;"
                  "print([m for m in ('torch', 'numpy', 'grpc_tools', 'avatarforge.server') if u.find_spec(m)])"],
                  cwd=tmp_path, env=env)
    assert probe.stdout.strip() == "[]"
    no_torch = subprocess.run([python, "-c", "import torch"], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert no_torch.returncode != 0 and "No module named 'torch'" in no_torch.stderr

    assert listed_commands(timed("client venv: --help", [avatarforge, "--help"], cwd=tmp_path, env=env).stdout) \
        == CLIENT_COMMANDS
    refused = subprocess.run([avatarforge, "serve"], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert refused.returncode == 2 and "invalid choice: 'serve'" in refused.stderr

    out = tmp_path / "npcs"
    gen = timed("client venv: generate 10 faces", [avatarforge, "generate", "--server", server.address,
                                                   "--seeds", "0-9", "--out", out, "--no-progress"],
                cwd=tmp_path, env=env, timeout=300)
    assert "10 generated" in gen.stdout
    for seed in range(10):
        dna = pb.CharacterDna.FromString((out / f"seed{seed:06d}.dna").read_bytes())
        assert dna.seed == seed and dna.model_name == "tiny"
        assert (out / f"seed{seed:06d}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "contact_sheet.png").is_file()


def torch_spec() -> str:
    """The torch the Makefile installs first (the CPU build this project's index serves)."""
    return re.search(r"^TORCH_SPEC \?= (\S+)", (ROOT / "Makefile").read_text(), re.MULTILINE).group(1)


@pytest.fixture(scope="module")
def server_venv(wheels, tmp_path_factory) -> Iterator[Path]:
    path = fresh_venv(tmp_path_factory.mktemp("venvs") / "server", torch_spec(), wheels["client"], wheels["server"])
    yield path
    shutil.rmtree(path, ignore_errors=True)  # 0.9 GB; pytest keeps its last three temp folders


def test_server_wheel_serves_the_bundled_default_model(server_venv, tmp_path):
    python, avatarforge = server_venv / "bin/python", server_venv / "bin/avatarforge"
    env = outside_env()
    zoo = timed("server venv: ZOO_DIR", [python, "-c", "from avatarforge.models.bundle import ZOO_DIR; print(ZOO_DIR)"],
                cwd=tmp_path, env=env).stdout.strip()
    assert Path(zoo).resolve().is_relative_to(server_venv.resolve()), zoo  # the wheel's model, not the checkout's
    assert listed_commands(timed("server venv: --help", [avatarforge, "--help"], cwd=tmp_path, env=env).stdout) \
        == CLIENT_COMMANDS | SERVER_COMMANDS

    address = f"127.0.0.1:{free_port()}"
    log = tmp_path / "server.log"
    start = time.monotonic()
    with open(log, "w") as log_file:
        proc = subprocess.Popen([avatarforge, "serve", "--address", address, "--backend", "torch", "--device", "cpu"],
                                stdout=log_file, stderr=subprocess.STDOUT, cwd=tmp_path, env=env)
    try:
        with AvatarForgeClient(address, timeout=60) as client:
            deadline = time.monotonic() + 180
            while True:
                try:
                    client.wait_until_serving(timeout=1)
                    break
                except (grpc.FutureTimeoutError, grpc.RpcError):
                    assert proc.poll() is None, f"the server exited with {proc.returncode}:\n{log.read_text()}"
                    assert time.monotonic() < deadline, f"the server did not start:\n{log.read_text()}"
            print(f"[test_wheels] server venv: serve until SERVING: {time.monotonic() - start:.1f} s")
            info = client.get_model()
            manifest = json.loads((ROOT / "models/zoo" / DEFAULT_MODEL / MANIFEST).read_text())
            assert (info.name, info.generator_sha256) == (DEFAULT_MODEL, manifest["files"][GENERATOR_FILE]["sha256"])
            shipped = {d["name"] for d in manifest["directions"]}
            assert shipped <= {d.name for d in info.directions}  # directions.safetensors came along
            face = client.generate(seeds=[42]).results[0]
            assert (face.image.width, face.image.height) == (info.resolution, info.resolution)
            assert face.image.data[:8] == b"\x89PNG\r\n\x1a\n" and face.dna.seed == 42
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, log.read_text()
    # A server-side command other than serve, from the wheel without the training extras.
    listing = timed("server venv: directions", [avatarforge, "directions", "--model", DEFAULT_MODEL],
                    cwd=tmp_path, env=env, timeout=300).stdout
    assert shipped <= set(re.findall(r"^(\S+)\s+supervised", listing, re.MULTILINE)), listing
