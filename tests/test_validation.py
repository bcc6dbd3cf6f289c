"""Every request rule: the status code, and a message that says what to fix."""
from __future__ import annotations

import grpc
import pytest

from avatarforge.server.api import AvatarForgeServicer
from avatarforge.v1 import avatarforge_pb2 as pb

INVALID = grpc.StatusCode.INVALID_ARGUMENT


def batch(**fields):
    return pb.GenerateBatchRequest(**fields)


def unary(**fields):
    return pb.GenerateRequest(**fields)


def seeds(*s):
    return [pb.CharacterSource(seed=x) for x in s]


CASES = [
    # (name, rpc, request, code, words the message must contain)
    ("zero count", "GenerateBatch", batch(range=pb.SeedRange(base_seed=0, count=0)), INVALID, ["range.count = 0", "at least one"]),
    ("negative count", "GenerateBatch", batch(range=pb.SeedRange(base_seed=0, count=-5)), INVALID, ["range.count = -5"]),
    ("too many items", "GenerateBatch", batch(range=pb.SeedRange(base_seed=0, count=100_001)), INVALID, ["100001", "limit of 100000"]),
    ("no seeds", "GenerateBatch", batch(), INVALID, ["range", "list"]),
    ("empty list", "GenerateBatch", batch(list=pb.SeedList()), INVALID, ["at least one"]),
    ("negative seed in list", "GenerateBatch", batch(list=pb.SeedList(seeds=[1, -3])), INVALID, ["list.seeds[1] = -3", "[0, 4294967295]"]),
    ("seed past 2^32-1", "GenerateBatch", batch(list=pb.SeedList(seeds=[2**32])), INVALID, ["4294967296", "2^32-1"]),
    ("base seed negative", "GenerateBatch", batch(range=pb.SeedRange(base_seed=-1, count=2)), INVALID, ["range.base_seed = -1"]),
    ("start_index past the end", "GenerateBatch", batch(range=pb.SeedRange(count=4), start_index=5), INVALID, ["start_index = 5", "0..4"]),
    ("negative start_index", "GenerateBatch", batch(range=pb.SeedRange(count=4), start_index=-1), INVALID, ["start_index = -1"]),
    ("unsupported size", "GenerateBatch", batch(range=pb.SeedRange(count=1), output=pb.OutputSpec(size=48)), INVALID,
     ["output.size = 48", "native resolution 32", "16, 32, 64, 128"]),
    ("unknown format", "GenerateBatch", batch(range=pb.SeedRange(count=1), output=pb.OutputSpec(format=42)), INVALID,
     ["output.format = 42", "IMAGE_FORMAT_PNG", "IMAGE_FORMAT_WEBP"]),
    ("quality too high", "Generate", unary(characters=seeds(1), output=pb.OutputSpec(quality=101)), INVALID, ["output.quality = 101", "1..100"]),
    ("psi above 2", "GenerateBatch", batch(range=pb.SeedRange(count=1), truncation_psi=2.5), INVALID, ["truncation_psi = 2.5", "[0, 2]"]),
    ("psi negative", "Generate", unary(characters=seeds(1), truncation_psi=-0.1), INVALID, ["truncation_psi = -0.1", "[0, 2]"]),
    ("psi NaN", "Generate", unary(characters=seeds(1), truncation_psi=float("nan")), INVALID, ["truncation_psi = nan"]),
    ("unknown model", "GetModel", pb.GetModelRequest(model="nope"), grpc.StatusCode.NOT_FOUND, ["'nope'", "tiny", "other"]),
    ("unknown model in Generate", "Generate", unary(model="nope", characters=seeds(1)), grpc.StatusCode.NOT_FOUND, ["'nope'"]),
    ("unknown model in stream", "GenerateBatch", batch(model="nope", range=pb.SeedRange(count=1)), grpc.StatusCode.NOT_FOUND, ["'nope'"]),
    ("no characters", "Generate", unary(), INVALID, ["number of characters = 0"]),
    ("too many characters", "Generate", unary(characters=seeds(*range(65))), INVALID, ["65", "limit of 64", "GenerateBatch"]),
    ("empty character", "Generate", unary(characters=[pb.CharacterSource(), *seeds(1)]), INVALID, ["characters[0]", "seed or its dna"]),
    ("negative unary seed", "Generate", unary(characters=seeds(1, -2)), INVALID, ["characters[1].seed = -2"]),
    ("request_id too long", "Generate", unary(request_id="x" * 129, characters=seeds(1)), INVALID, ["request_id", "128"]),
]


@pytest.mark.parametrize("name, rpc, req, code, words", CASES, ids=[c[0] for c in CASES])
def test_rule(client, name, rpc, req, code, words):
    call = getattr(client.stub, rpc)
    with pytest.raises(grpc.RpcError) as err:
        reply = call(req, timeout=30)
        if rpc == "GenerateBatch":
            list(reply)
    assert err.value.code() == code, err.value.details()
    for w in words:
        assert w in err.value.details(), f"{w!r} not in {err.value.details()!r}"


def test_encode_on_a_model_without_an_encoder_names_the_model(client):
    # The tiny test bundle ships no encoder.safetensors: Encode says so, and which field to change.
    with pytest.raises(grpc.RpcError) as err:
        client.stub.Encode(pb.EncodeRequest(images=[pb.FaceImage(data=b"x")]), timeout=30)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "ships no encoder" in err.value.details() and "tiny" in err.value.details()


def test_every_rpc_of_the_contract_has_its_own_handler():
    # An RPC the servicer does not define falls to the generated base class, which answers a
    # nameless "Method not implemented!": every RPC, landed or later, must be defined here.
    service = pb.DESCRIPTOR.services_by_name["AvatarForge"]
    missing = [m for m in service.methods_by_name if m not in vars(AvatarForgeServicer)]
    assert not missing, f"no handler for {missing}"
