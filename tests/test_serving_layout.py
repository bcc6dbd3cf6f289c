"""The serving path stands apart from training and has no import cycle: the server starts and
serves the shipped model with avatarforge.models.training made unimportable, and the import
graph of server/ and the serving half of models/ is acyclic."""
from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Folder -> dotted package, as pyproject.toml maps them.
PACKAGES = {ROOT / "server": "avatarforge.server", ROOT / "server" / "backends": "avatarforge.server.backends",
            ROOT / "models": "avatarforge.models", ROOT / "models" / "importers": "avatarforge.models.importers"}

SERVE_WITHOUT_TRAINING = textwrap.dedent("""
    import asyncio, sys
    import importlib.abc

    class NoTraining(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "avatarforge.models.training" or name.startswith("avatarforge.models.training."):
                raise ImportError(f"{name} is training code: the server must not import it")
            return None

    sys.meta_path.insert(0, NoTraining())

    import grpc
    from avatarforge.server.app import start_server
    from avatarforge.server.config import ServerConfig
    from avatarforge.v1 import avatarforge_pb2 as pb, avatarforge_pb2_grpc as pb_grpc

    async def main():
        running = await start_server(ServerConfig(address="127.0.0.1:0", backend="torch", device="cpu"))
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as ch:
                stub = pb_grpc.AvatarForgeStub(ch)
                info = await stub.GetModel(pb.GetModelRequest())
                reply = await stub.Generate(pb.GenerateRequest(characters=[pb.CharacterSource(seed=7)]))
                dna = reply.results[0].dna
                again = await stub.Generate(pb.GenerateRequest(characters=[pb.CharacterSource(dna=dna)]))
        finally:
            await running.stop(1.0)
        assert reply.results[0].image.data[:8] == b"\\x89PNG\\r\\n\\x1a\\n", reply
        assert again.results[0].image.data == reply.results[0].image.data
        loaded = sorted(m for m in sys.modules if m.startswith("avatarforge.models.training"))
        assert not loaded, loaded
        print(info.name, info.resolution, len(info.directions), info.default_truncation_psi)

    asyncio.run(main())
""")


def test_server_serves_the_default_model_with_training_unimportable():
    proc = subprocess.run([sys.executable, "-c", SERVE_WITHOUT_TRAINING], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    name, resolution, directions, psi = proc.stdout.split()
    assert (name, resolution, psi) == ("avatars128", "128", "1.0") and int(directions) > 10


def _imports(path: Path, package: str) -> set[str]:
    """Dotted avatarforge modules a file imports, at any depth (function-level imports too)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            names = [f"{mod}.{a.name}" for a in node.names]
            out.update([mod, *names])
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {m for m in out if m.startswith("avatarforge.")}


def serving_graph() -> dict[str, set[str]]:
    modules = {f"{pkg}.{p.stem}": (p, pkg) for folder, pkg in PACKAGES.items() for p in folder.glob("*.py")
               if p.stem not in ("__init__", "__main__")}
    return {m: {i for i in _imports(p, pkg) if i in modules} for m, (p, pkg) in modules.items()}


def test_serving_modules_never_import_training():
    offenders = {m: sorted(i for i in imps if ".training" in i)
                 for folder, pkg in PACKAGES.items() for p in folder.glob("*.py")
                 for m, imps in [(f"{pkg}.{p.stem}", _imports(p, pkg))] if any(".training" in i for i in imps)}
    assert offenders == {}


def test_serving_import_graph_has_no_cycle():
    graph = serving_graph()
    assert "avatarforge.server.edit_rpcs" in graph and graph["avatarforge.server.service"]  # the walk found them
    done: set[str] = set()

    def visit(m: str, stack: list[str]) -> None:
        for n in sorted(graph[m]):
            assert n not in stack + [m], "import cycle: " + " -> ".join((stack + [m])[(stack + [m]).index(n):] + [n])
            if n not in done:
                visit(n, stack + [m])
        done.add(m)

    for m in sorted(graph):
        visit(m, [])
