"""Latent operations (models/latent_ops.py) on real W+ codes from a tiny seeded bundle: what a face
editor relies on. Interpolation starts and ends on the given faces, mixing and directions touch
exactly the layers asked for, mutation is a pure function of its seed, bad requests say why."""
from __future__ import annotations

import pytest
import torch

from avatarforge.models import latent_ops
from avatarforge.models.bundle import create_seeded_bundle, load_bundle
from avatarforge.models.latents import broadcast, zs_from_seeds


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return load_bundle(create_seeded_bundle(tmp_path_factory.mktemp("editing") / "tiny", seed=3))


@pytest.fixture(scope="module")
def faces(tiny):
    """W+ [4, num_ws, w_dim] of seeds 0..3, each layer made distinct so layer mix-ups show."""
    g = tiny.generator
    w = g.mapping(torch.from_numpy(zs_from_seeds([0, 1, 2, 3], g.cfg.z_dim)))
    return broadcast(w, g.num_ws) + 0.01 * torch.arange(g.num_ws).float()[None, :, None]


# --- interpolation and arithmetic ------------------------------------------------------------


@pytest.mark.parametrize("method", ["linear", "spherical"])
def test_interpolation_starts_and_ends_on_the_inputs(faces, tiny, method):
    a, b = faces[:2], faces[2:]
    frames = latent_ops.interpolate(a, b, [0.0, 0.25, 0.5, 1.0], method, center=tiny.generator.mapping.w_avg)
    assert frames.shape == (4, *a.shape)
    assert torch.equal(frames[0], a) and torch.equal(frames[-1], b)
    assert not torch.allclose(frames[1], a) and not torch.allclose(frames[2], b)
    assert torch.equal(latent_ops.interpolate(a, b, 0.0, method), a)  # scalar t keeps the shape


def test_slerp_keeps_distances_from_the_centre_between_the_endpoints(faces, tiny):
    centre = tiny.generator.mapping.w_avg
    a, b = faces[:2], faces[2:]
    ts = torch.linspace(0, 1, 11)
    frames = latent_ops.slerp(a, b, ts, center=centre)
    na, nb = (a - centre).norm(dim=-1), (b - centre).norm(dim=-1)
    norms = (frames - centre).norm(dim=-1)  # [11, 2, num_ws]
    assert (norms >= torch.minimum(na, nb) - 1e-4).all() and (norms <= torch.maximum(na, nb) + 1e-4).all()
    # Linear interpolation cuts through the middle, closer to the centre: slerp does not.
    mid_lerp = (latent_ops.lerp(a, b, 0.5) - centre).norm(dim=-1)
    assert (norms[5] > mid_lerp).all()
    # Equal lengths: classic slerp keeps the length exactly.
    u, v = torch.tensor([3.0, 0.0]), torch.tensor([0.0, 3.0])
    assert torch.allclose(latent_ops.slerp(u, v, ts).norm(dim=-1), torch.full((11,), 3.0), atol=1e-5)
    assert torch.allclose(latent_ops.slerp(u, v, 0.5), torch.tensor([3.0, 3.0]) / 2**0.5, atol=1e-5)


def test_slerp_of_parallel_codes_falls_back_to_lerp():
    u = torch.tensor([[1.0, 2.0]])
    assert torch.allclose(latent_ops.slerp(u, 3 * u, 0.5), 2 * u)


def test_add_difference_is_a_plus_b_minus_c(faces):
    a, b, c = faces[0:1], faces[1:2], faces[2:3]
    assert torch.allclose(latent_ops.add_difference(a, b, c), a + b - c)
    assert torch.allclose(latent_ops.add_difference(a, b, c, scale=0.5), a + 0.5 * (b - c))
    with pytest.raises(ValueError, match="broadcast"):
        latent_ops.add_difference(a, b[:, :3], c)


def test_interpolation_rejects_mismatched_shapes_and_methods(faces):
    with pytest.raises(ValueError, match="cannot interpolate"):
        latent_ops.lerp(faces[:1], faces[:2], 0.5)
    with pytest.raises(ValueError, match="unknown interpolation method 'cubic'"):
        latent_ops.interpolate(faces[:1], faces[1:2], 0.5, "cubic")


# --- layer ranges ----------------------------------------------------------------------------


def test_named_layer_ranges_follow_stylegan_for_every_size():
    r18 = latent_ops.named_layer_ranges(18)  # 1024 px: the split every StyleGAN paper uses
    assert (r18["coarse"], r18["middle"], r18["fine"]) == (range(0, 4), range(4, 8), range(8, 18))
    r10 = latent_ops.named_layer_ranges(10)  # avatars64
    assert (r10["coarse"], r10["middle"], r10["fine"]) == (range(0, 4), range(4, 8), range(8, 10))
    r8 = latent_ops.named_layer_ranges(8)  # the tiny 32 px test model
    assert (r8["coarse"], r8["middle"], r8["fine"]) == (range(0, 4), range(4, 6), range(6, 8))
    for n in (8, 10, 12, 14, 16, 18):  # the groups tile the layers
        r = latent_ops.named_layer_ranges(n)
        assert list(r["coarse"]) + list(r["middle"]) + list(r["fine"]) == list(range(n))


@pytest.mark.parametrize("spec, message", [
    ("medium", "unknown layer range 'medium'"),
    (range(3, 3), r"layer range \[3, 3\) must be non-empty"),
    (range(6, 12), r"must be non-empty, step 1, within \[0, 8\)"),
    ([1, 8], r"layer indices \[8\] are out of range: this model has layers 0..7"),
    ([2, 2], "repeat a layer"),
    ([], "layer list is empty"),
    (slice(0, 4, 2), "step 1"),
])
def test_bad_layer_ranges_raise_clear_errors(faces, spec, message):
    with pytest.raises(ValueError, match=message):
        latent_ops.apply_direction(faces, torch.ones(faces.shape[2]), 1.0, spec)


def test_a_model_too_small_for_a_group_says_so():
    with pytest.raises(ValueError, match="has no 'middle' layers"):
        latent_ops.layer_indices("middle", 6)


# --- directions ------------------------------------------------------------------------------


@pytest.mark.parametrize("layers, touched", [
    ("fine", [6, 7]), ("coarse", [0, 1, 2, 3]), (range(2, 5), [2, 3, 4]), ([0, 7], [0, 7]),
    (slice(5, None), [5, 6, 7]), (None, list(range(8))), ("all", list(range(8))),
])
def test_a_direction_over_a_layer_range_touches_only_those_layers(faces, layers, touched):
    v = torch.nn.functional.normalize(torch.randn(faces.shape[2], generator=torch.Generator().manual_seed(0)), dim=0)
    edited = latent_ops.apply_direction(faces, v, 2.5, layers)
    changed = [i for i in range(faces.shape[1]) if not torch.equal(edited[:, i], faces[:, i])]
    assert changed == touched
    assert torch.allclose(edited[:, touched] - faces[:, touched], 2.5 * v.expand(4, len(touched), -1), atol=1e-5)


def test_per_face_strengths(faces):
    v = torch.zeros(faces.shape[2])
    v[0] = 1.0
    edited = latent_ops.apply_direction(faces, v, torch.tensor([0.0, 1.0, -1.0, 2.0]), "all")
    assert torch.allclose(edited[:, :, 0] - faces[:, :, 0], torch.tensor([0.0, 1.0, -1.0, 2.0])[:, None].expand(4, 8))
    with pytest.raises(ValueError, match="3 strengths for 4 faces"):
        latent_ops.apply_direction(faces, v, torch.ones(3))
    with pytest.raises(ValueError, match="direction must be"):
        latent_ops.apply_direction(faces, torch.ones(5), 1.0)


def test_conditional_direction_is_orthogonal_to_its_conditions():
    gen = torch.Generator().manual_seed(1)
    v, conditions = torch.randn(64, generator=gen), torch.randn(3, 64, generator=gen)
    conditions[2] = conditions[0] + conditions[1]  # a redundant condition is harmless
    c = latent_ops.condition_direction(v, conditions)
    assert abs(c.norm().item() - 1) < 1e-5
    assert (conditions @ c).abs().max() < 1e-4
    assert torch.dot(c, v / v.norm()) > 0.5  # still mostly the original direction
    with pytest.raises(ValueError, match="within the span of its conditions"):
        latent_ops.condition_direction(conditions[0] - 2 * conditions[1], conditions[:2])


# --- mixing and mutation ---------------------------------------------------------------------


@pytest.mark.parametrize("layers", ["coarse", "middle", "fine", range(1, 3), [0, 5]])
def test_mixing_copies_exactly_the_requested_layers_and_nothing_else(faces, layers):
    mixed = latent_ops.mix_styles(faces[:2], faces[2:4], layers)
    wanted = set(latent_ops.layer_indices(layers, faces.shape[1]))
    for i in range(faces.shape[1]):
        assert torch.equal(mixed[:, i], faces[2:4, i] if i in wanted else faces[:2, i]), f"layer {i}"
    with pytest.raises(ValueError, match="cannot mix"):
        latent_ops.mix_styles(faces[:2], faces[:3], "fine")


def test_mutate_is_deterministic_per_seed_and_scales_with_strength(faces):
    parent = faces[:1]
    w_std = torch.linspace(0.5, 1.5, faces.shape[2])
    children = latent_ops.mutate(parent, [11, 12, 13], 0.2, w_std)
    assert children.shape == (3, *parent.shape[1:])
    assert torch.equal(children, latent_ops.mutate(parent, [11, 12, 13], 0.2, w_std))  # same seeds, same children
    assert torch.equal(children[1:2], latent_ops.mutate(parent, 12, 0.2, w_std))  # independent of the batch
    assert not torch.allclose(children[0], children[1])
    # Displacement is strength * w_std * noise: doubling the strength doubles it, 0 is a no-op.
    twice = latent_ops.mutate(parent, [11, 12, 13], 0.4, w_std)
    assert torch.allclose(twice - parent, 2 * (children - parent), atol=1e-5)
    assert torch.equal(latent_ops.mutate(parent, 11, 0.0, w_std), parent)
    # The same perturbation on every chosen layer, nothing elsewhere.
    fine_only = latent_ops.mutate(parent, 11, 0.2, w_std, "fine")
    assert torch.equal(fine_only[:, :6], parent[:, :6])
    delta = fine_only[0, 6:] - parent[0, 6:]
    assert torch.allclose(delta[0], delta[1]) and delta.abs().sum() > 0
    # The noise has unit variance, so the mean squared displacement is about strength^2 * w_std^2.
    rel = ((latent_ops.mutate(parent, range(200), 1.0, w_std) - parent)[:, 0] / w_std).square().mean()
    assert 0.9 < rel < 1.1


def test_mutate_rejects_bad_arguments(faces):
    with pytest.raises(ValueError, match="strength must be a finite number >= 0"):
        latent_ops.mutate(faces, 1, -0.5, 1.0)
    with pytest.raises(ValueError, match="3 seeds for 4 faces"):
        latent_ops.mutate(faces, [1, 2, 3], 0.1, 1.0)
    with pytest.raises(ValueError, match="non-negative integer"):
        latent_ops.mutate(faces, -1, 0.1, 1.0)
