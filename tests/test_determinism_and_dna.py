"""A seed is the same face alone, in a batch of 64, unary or streamed; DNA re-renders it."""
from __future__ import annotations

import grpc
import numpy as np
import pytest
from PIL import Image
import io

from avatarforge.models.bundle import load_bundle
from avatarforge.models.latents import broadcast, truncate, zs_from_seeds
from avatarforge.server.backends import create_backend
from avatarforge.server.dna import dna_checksum
from avatarforge.v1 import avatarforge_pb2 as pb

SEEDS = list(range(64))


def pixels(image: pb.FaceImage) -> np.ndarray:  # uint8 [H, W, 3]
    return np.asarray(Image.open(io.BytesIO(image.data)).convert("RGB"), dtype=np.int16)


def max_diff(a, b) -> int:
    return int(np.abs(a.astype(np.int16) - b.astype(np.int16)).max())


def test_backend_batch_of_64_vs_alone(tiny_bundle):
    """Direct on the torch backend, CPU: batch size may change float rounding by at most one
    intensity level (torch's CPU GEMM blocking depends on the batch; not bit-identical)."""
    bundle = load_bundle(tiny_bundle)
    be = create_backend("torch", bundle, device="cpu")
    cfg = bundle.config
    w = np.concatenate([be.map(z[None]) for z in zs_from_seeds(SEEDS, cfg.z_dim)])
    import torch

    ws = truncate(broadcast(torch.from_numpy(w), cfg.num_ws), bundle.generator.mapping.w_avg, 0.7).numpy()
    batch = be.synthesize(ws)
    alone = np.concatenate([be.synthesize(ws[i : i + 1]) for i in range(64)])
    assert batch.shape == (64, 32, 32, 3) and batch.dtype == np.uint8
    assert max_diff(batch, alone) <= 1


def test_unary_alone_vs_unary_64_vs_stream(client, server):
    alone = {s: pixels(client.generate(seeds=[s]).results[0].image) for s in (0, 17, 63)}
    batcher = server.batcher()
    batcher.max_batch = 64  # let this one call reach the backend as a single batch of 64
    try:
        reply = client.generate(seeds=SEEDS)
    finally:
        batcher.max_batch = 16
    assert reply.timing.batch_size == 64
    together = reply.results
    streamed = list(client.generate_batch(SEEDS).items())
    for s, img in alone.items():
        assert max_diff(img, pixels(together[s].image)) <= 1
        assert max_diff(img, pixels(streamed[s].image)) <= 1
    # The mapping runs per row, so a seed's DNA is bit-identical however it was batched.
    assert together[17].dna == streamed[17].dna == client.generate(seeds=[17]).results[0].dna


def test_dna_round_trip_renders_the_same_pixels(client):
    first = client.generate(seeds=[42], psi=0.5, size=64).results[0]
    assert first.dna.seed == 42 and first.dna.truncation_psi == pytest.approx(0.5)
    assert first.dna.model_name == "tiny" and first.dna.num_ws == 8 and first.dna.w_dim == 32
    assert len(first.dna.w_plus) == 8 * 32 * 4 and first.dna.checksum.startswith("sha256:")
    stored = first.dna.SerializeToString()  # what a client keeps on disk
    again = client.generate(dnas=[pb.CharacterDna.FromString(stored)], size=64).results[0]
    assert max_diff(pixels(first.image), pixels(again.image)) <= 1
    assert again.dna == first.dna
    # Mixed seeds and DNA in one call, in request order.
    mixed = client.generate(seeds=[42], dnas=[first.dna], psi=0.5, size=64).results
    assert [r.index for r in mixed] == [0, 1]
    assert max_diff(pixels(mixed[0].image), pixels(mixed[1].image)) <= 1


def _tampered(dna: pb.CharacterDna) -> pb.CharacterDna:
    bad = pb.CharacterDna()
    bad.CopyFrom(dna)
    w = bytearray(bad.w_plus)
    w[5] ^= 0x40
    bad.w_plus = bytes(w)
    return bad


def test_tampered_dna_is_rejected(client):
    dna = client.generate(seeds=[3]).results[0].dna
    with pytest.raises(grpc.RpcError) as err:
        client.generate(dnas=[_tampered(dna)])
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "characters[0].dna" in err.value.details() and "checksum" in err.value.details()


def test_dna_from_another_model_is_rejected(client):
    dna = client.generate(seeds=[3], model="other").results[0].dna
    with pytest.raises(grpc.RpcError) as err:
        client.generate(dnas=[dna])  # the default model, tiny
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "'other'" in err.value.details() and "'tiny'" in err.value.details()


def test_dna_with_a_recomputed_checksum_but_wrong_shape_is_rejected(client):
    dna = client.generate(seeds=[3]).results[0].dna
    dna.w_plus = dna.w_plus[:-4]
    dna.checksum = dna_checksum(dna)
    with pytest.raises(grpc.RpcError) as err:
        client.generate(dnas=[dna])
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "bytes" in err.value.details()
