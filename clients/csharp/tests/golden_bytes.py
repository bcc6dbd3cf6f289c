"""Golden bytes between Python and C#: the same message values, built on each side from code
generated from the same proto (grpcio-tools' protoc for Python, Debian's protoc 3.21 for C#).

    golden_bytes.py write DIR   Python serialises every message into DIR/py/NAME.bin
    (AvatarForgeClientTests.exe golden DIR: C# parses those, compares them with its own values,
     and writes its own serialisation to DIR/cs/NAME.bin)
    golden_bytes.py check DIR   the C# bytes must equal Python's, byte for byte, and parse back

The values mirror GoldenMessages.cs one for one; they cover what differs between runtimes:
non-ASCII strings, int64 past 2^32 and negative, uint32, packed repeated int64/int32, floats
(including -0.0 and 3e10), proto3 `optional` fields set to their zero value, oneofs, nested
messages and bytes. rpc_status.bin (google.rpc.Status with a BadRequest, as the native door sends
in grpc-status-details-bin) goes one way: C# only decodes it.
"""
from __future__ import annotations

import struct
import sys
from pathlib import Path

from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from avatarforge.v1 import avatarforge_pb2 as pb


def dna() -> pb.CharacterDna:
    return pb.CharacterDna(
        schema_version=1, model_name="avatars64", model_version="v1.2", generator_sha256="0123456789abcdef" * 4,
        w_plus=struct.pack("<4f", 1.5, -2.25, 3e10, -0.0), num_ws=2, w_dim=2, seed=42, truncation_psi=0.0,
        edits=[pb.DirectionEdit(direction="smile", strength=1.25), pb.DirectionEdit(direction="sefa/0", strength=-3.5)],
        checksum="sha256:" + "ab" * 32)


def messages() -> dict[str, object]:
    return {
        "character_dna": dna(),
        "generate_request": pb.GenerateRequest(
            request_id="npc-\u00fc-\u20ac-42", model="tiny",
            characters=[pb.CharacterSource(seed=0), pb.CharacterSource(seed=4294967295), pb.CharacterSource(dna=dna())],
            truncation_psi=0.7, output=pb.OutputSpec(format=pb.IMAGE_FORMAT_RAW_BGRA8, size=128, bottom_up=True)),
        "batch_request": pb.GenerateBatchRequest(
            request_id="b", list=pb.SeedList(seeds=[0, 7, 1 << 40, -5]), start_index=3, progress_every=10),
        "batch_item": pb.GenerateBatchEvent(item=pb.FaceResult(
            index=5, seed=0, request_id="b", dna=dna(),
            image=pb.FaceImage(data=bytes(range(256)), format=pb.IMAGE_FORMAT_RAW_RGBA8, width=8, height=8,
                               row_stride=32, bottom_up=True),
            timing=pb.RenderTiming(queue_us=1, compute_us=1 << 33, encode_us=3, batch_size=16))),
        "batch_error": pb.GenerateBatchEvent(item=pb.FaceResult(
            index=6, seed=4294967296,
            error=pb.ItemError(code=11, message="seed 4294967296 is past 2^32-1", field="range.count"))),
        "batch_summary": pb.GenerateBatchEvent(summary=pb.BatchSummary(
            request_id="b", total=40, skipped=25, produced=14, failed=1, wall_us=123456789012)),
        "preview_request": pb.RenderPreviewRequest(
            request_id="p", model="tiny", dna=dna(), edits=[pb.DirectionEdit(direction="smile", strength=-0.5)],
            mix=pb.MixSpec(other=dna(), weight=0.0, layer_start=2, layer_end=4),
            output=pb.OutputSpec(format=pb.IMAGE_FORMAT_PNG, quality=95)),
        "mutate_request": pb.MutateRequest(dna=dna(), count=3, strength=0.5, seed=-1, output=pb.OutputSpec()),
        "model_info": pb.ModelInfo(
            name="tiny", version="seed0", generator_sha256="ff" * 32, description="untrained", resolution=32, z_dim=32,
            w_dim=32, num_ws=8, supported_sizes=[16, 32, 64, 128],
            backend=pb.BackendInfo(backend="torch", device="cpu", precision="fp32", threads=1, threads_reason="fixed"),
            directions=[pb.DirectionInfo(name="smile", description="Smile", layer_start=0, layer_end=4, kind="supervised",
                                         strength_min=-3, strength_max=3, default_strength=1.5, success=0.75),
                        pb.DirectionInfo(name="sefa/0", kind="sefa", strength_min=-5, strength_max=5, default_strength=2)],
            default_truncation_psi=0.7,
            limits=pb.ServerLimits(max_batch=16, max_unary_items=64, max_stream_items=1000000, max_message_bytes=1 << 36),
            data_licence="Apache-2.0"),
    }


def rpc_status() -> status_pb2.Status:
    bad = error_details_pb2.BadRequest(field_violations=[
        error_details_pb2.BadRequest.FieldViolation(field="output.size", description="use one of 16, 32, 64, 128"),
        error_details_pb2.BadRequest.FieldViolation(field="edits[1].strength", description="out of range")])
    retry = error_details_pb2.RetryInfo()
    retry.retry_delay.seconds = 1
    details = [any_pb2.Any(), any_pb2.Any()]
    details[0].Pack(retry)  # a detail of another type first: the decoder must skip it
    details[1].Pack(bad)
    return status_pb2.Status(code=3, message="size 33 is not supported", details=details)


def write(folder: Path) -> int:
    (folder / "py").mkdir(parents=True, exist_ok=True)
    for name, message in {**messages(), "rpc_status": rpc_status()}.items():
        (folder / "py" / f"{name}.bin").write_bytes(message.SerializeToString())
    return 0


def check(folder: Path) -> int:
    passed = failed = 0
    for name, message in messages().items():
        path = folder / "cs" / f"{name}.bin"
        theirs = path.read_bytes() if path.exists() else None
        ok = theirs == message.SerializeToString() and type(message).FromString(theirs) == message
        print(f"{'PASS' if ok else 'FAIL'} C# bytes of {name} equal Python's and parse back"
              + ("" if theirs is not None else f" (no {path})"))
        passed, failed = passed + ok, failed + (not ok)
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("write", "check"):
        sys.exit("usage: golden_bytes.py write|check DIR")
    sys.exit((write if sys.argv[1] == "write" else check)(Path(sys.argv[2])))
