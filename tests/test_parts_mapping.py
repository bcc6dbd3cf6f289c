"""The parts mapping (z -> parts -> w): it draws every part with the shares it was given, and it
exports to ONNX and serves from onnxruntime exactly as the torch reference does."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from avatarforge.models.bundle import TINY_CONFIG, create_seeded_bundle, load_bundle
from avatarforge.models.networks import Generator, PartsMapping
from avatarforge.server.backends import create_backend
from avatarforge.server.backends.parity import check_parity

PARTS_CONFIG = dataclasses.replace(TINY_CONFIG, mapping_parts={"hair": 3, "skin": 5, "hat": 2}, mapping_hidden=32)


def test_z_draws_each_part_with_its_shares():
    mapping = PartsMapping(PARTS_CONFIG)
    shares = torch.tensor([0.5, 0.3, 0.2, 0.1, 0.1, 0.1, 0.1, 0.6, 0.95, 0.05])
    mapping.set_value_shares(shares)
    one_hot = mapping.parts_one_hot(torch.randn(40000, PARTS_CONFIG.z_dim, generator=torch.Generator().manual_seed(0)))
    for part in range(3):
        cols = mapping.column_part == part
        assert (one_hot[:, cols].sum(1) == 1).all(), "every face gets exactly one value of every part"
        drawn = one_hot[:, cols].mean(0)
        assert (drawn - shares[cols]).abs().max() < 0.01, (part, drawn, shares[cols])
    # Extreme z (where Phi(z) rounds to exactly 0 or 1) still picks a value.
    edge = torch.zeros(2, PARTS_CONFIG.z_dim)
    edge[0, :3], edge[1, :3] = -40.0, 40.0
    assert (mapping.parts_one_hot(edge).sum(1) == 3).all()


def test_a_face_is_its_parts():
    """Two z with the same parts give the same w; z beyond the parts plays no role."""
    g = Generator(PARTS_CONFIG).eval()
    z = torch.randn(2, PARTS_CONFIG.z_dim)
    z[1, :3] = z[0, :3]
    w = g.mapping(z)
    torch.testing.assert_close(w[0], w[1], rtol=0, atol=1e-5)


@pytest.fixture(scope="module")
def parts_bundle(tmp_path_factory):
    return load_bundle(create_seeded_bundle(tmp_path_factory.mktemp("parts") / "tiny", seed=3, cfg=PARTS_CONFIG))


def test_bundle_round_trip_keeps_the_shares(parts_bundle):
    assert isinstance(parts_bundle.generator.mapping, PartsMapping)
    assert parts_bundle.config.mapping_parts == {"hair": 3, "skin": 5, "hat": 2}
    high = parts_bundle.generator.mapping.value_high
    np.testing.assert_allclose(high[:3].numpy(), [1 / 3, 2 / 3, 2.0], atol=1e-3)


def test_onnxruntime_matches_torch_with_a_parts_mapping(parts_bundle):
    cfg = parts_bundle.config
    report = check_parity(create_backend("torch", parts_bundle, device="cpu", threads=1),
                          create_backend("onnxruntime", parts_bundle, device="cpu", threads=1), cfg.z_dim, cfg.num_ws)
    assert report["map_max_abs_error"] < 1e-4
    assert report["images"]["max_abs"] <= 2 and report["ok"], report
