"""Standard gRPC plumbing a studio's tooling expects: health checks and reflection."""
from __future__ import annotations

from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from avatarforge.server.backends.thread_choice import available_cores


def test_health_is_serving(client):
    assert client.health() == "SERVING"
    assert client.health("avatarforge.v1.AvatarForge") == "SERVING"


def test_reflection_lists_services_and_describes_the_api(client):
    stub = reflection_pb2_grpc.ServerReflectionStub(client.channel)
    replies = list(stub.ServerReflectionInfo(iter([
        reflection_pb2.ServerReflectionRequest(list_services=""),
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="avatarforge.v1.AvatarForge"),
    ]), timeout=30))
    names = {s.name for s in replies[0].list_services_response.service}
    assert {"avatarforge.v1.AvatarForge", "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= names
    assert replies[1].file_descriptor_response.file_descriptor_proto  # clients can build stubs from it


def test_list_and_get_models(client):
    listing = client.list_models()
    assert listing.default_model == "tiny"
    assert [m.name for m in listing.models] == ["tiny", "other"]
    info = client.get_model()
    assert (info.name, info.resolution, info.z_dim, info.w_dim, info.num_ws) == ("tiny", 32, 32, 32, 8)
    assert list(info.supported_sizes) == [16, 32, 64, 128]
    assert info.backend.backend == "torch" and info.backend.device == "cpu" and info.backend.precision == "fp32"
    # --threads auto (the default): how many threads synthesis runs on, and what was measured.
    assert 1 <= info.backend.threads <= available_cores() and "core" in info.backend.threads_reason
    assert len(info.generator_sha256) == 64 and info.version == "seed0"
    assert [d.name for d in info.directions] == [f"sefa/{i}" for i in range(10)]  # no supervised ones in tiny
    assert info.limits.max_batch == 16 and info.limits.max_unary_items == 64
    assert client.get_model("other").name == "other"
