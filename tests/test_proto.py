"""The checked-in generated code (in the client package) matches the contract in proto/
(run `make proto` when this fails)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GENERATED_DIR = "clients/python/avatarforge/v1"
GENERATED = ["avatarforge_pb2.py", "avatarforge_pb2.pyi", "avatarforge_pb2_grpc.py"]


def test_generated_code_is_fresh(tmp_path):
    protos = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "proto/avatarforge/v1").glob("*.proto"))
    assert protos, "no .proto files in proto/avatarforge/v1"
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-Iproto", f"--python_out={tmp_path}",
                    f"--grpc_python_out={tmp_path}", f"--pyi_out={tmp_path}", *protos], cwd=ROOT, check=True)
    for name in GENERATED:
        fresh = (tmp_path / "avatarforge/v1" / name).read_text()
        checked_in = (ROOT / GENERATED_DIR / name).read_text()
        assert fresh == checked_in, f"{GENERATED_DIR}/{name} is stale: run `make proto` and commit it"
