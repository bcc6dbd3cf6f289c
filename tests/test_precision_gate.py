"""`--precision fast`: the gate a bf16/fp16 backend passes before it serves, the OpenVINO
backend it runs on for CPUs, and what GetModel tells an operator about it.

This VM's CPU may lack native bf16 (AVX2 only); then "fast" must serve fp32 and say why. On a
CPU with AVX512-BF16/AMX the same tests check the gate ran and passed.
"""
from __future__ import annotations

import numpy as np
import pytest

from avatarforge.client import AvatarForgeClient
from avatarforge.models.bundle import load_bundle
from avatarforge.models.latents import zs_from_seeds
from avatarforge.server.backends import create_backend
from avatarforge.server.backends.parity import broadcast_ws
from avatarforge.server.backends.precision_gate import (
    MIN_PSNR_DB, create_serving_backend, fast_cpu_engine, judge, psnr_db, run_gate,
)

ov = pytest.importorskip("openvino", reason="the openvino extra (make install installs it)")


def _faces(n=4, size=32, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_identical_faces_pass_and_report_no_difference():
    faces = _faces()
    verdict = judge("bf16", faces, faces.copy(), faces[:1], faces[:1].copy())
    assert verdict.ok and verdict.batch_max_levels == 0
    assert verdict.to_dict()["psnr_min_db"] is None  # +inf has no JSON form: "no difference at all"


def test_one_visibly_different_face_fails_the_gate_and_is_named():
    ref = _faces()
    cand = ref.copy()
    noise = np.random.default_rng(1).normal(0, 4, cand[2].shape)  # ~36 dB: a visible grain
    cand[2] = np.clip(cand[2] + noise, 0, 255).astype(np.uint8)
    assert psnr_db(ref, cand)[2] < MIN_PSNR_DB < psnr_db(ref, cand)[0]
    verdict = judge("bf16", ref, cand, ref[:1], ref[:1])
    assert not verdict.ok and "face 2" in verdict.reason


def test_a_face_that_depends_on_its_batch_fails_the_gate():
    ref = _faces()
    shifted = ref[:1].astype(np.int16)
    shifted[0, 0, 0, 0] = (shifted[0, 0, 0, 0] + 3) % 256
    verdict = judge("bf16", ref, ref, ref[:1], shifted.astype(np.uint8))
    assert not verdict.ok and "with its batch" in verdict.reason


@pytest.fixture(scope="module")
def avatars64():
    return load_bundle("avatars64")


def test_openvino_fp32_passes_the_gate_against_torch_on_the_real_model(avatars64):
    reference = create_backend("torch", avatars64, device="cpu", threads=1)
    candidate = create_backend("openvino", avatars64, device="cpu", threads=1)
    verdict = run_gate(reference, candidate, avatars64.config.z_dim, avatars64.config.num_ws)
    assert verdict.ok and verdict.psnr_min_db > 60 and verdict.batch_max_levels <= 1, verdict


def test_fast_uses_bf16_only_where_the_cpu_has_it_and_says_why(avatars64):
    backend = create_serving_backend("openvino", avatars64, "fast", device="cpu", threads=1)
    if "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        gate = backend.precision_gate
        assert gate["faces"] >= 16 and (backend.precision == "bf16") == gate["ok"], gate
    else:
        assert backend.precision == "fp32" and "no native bf16" in backend.describe()["fallback_reason"]
        auto = create_serving_backend("auto", avatars64, "fast", device="cpu", threads=1)
        assert auto.precision == "fp32" and "needs native bf16" in auto.describe()["fallback_reason"]
        assert fast_cpu_engine()[0] is None


def test_the_compiled_model_is_cached_on_disk(avatars64):
    backend = create_backend("openvino", avatars64, device="cpu", threads=1)
    assert any(backend.cache_dir.iterdir()), backend.cache_dir  # OpenVINO's blobs: a restart skips compiling


def test_a_server_asked_for_fast_reports_mode_precision_and_gate_over_grpc(tmp_path):
    from tests.conftest import _LoopThread
    from avatarforge.server.app import start_server
    from avatarforge.server.config import ServerConfig

    lt = _LoopThread()
    running = lt.run(start_server(ServerConfig(address="127.0.0.1:0", model="avatars64", backend="openvino",
                                               precision="fast", device="cpu", threads="1")), timeout=120)
    try:
        with AvatarForgeClient(f"127.0.0.1:{running.port}", timeout=60) as c:
            info = c.get_model().backend
            reply = c.generate([0, 1], format="raw")
        assert (info.backend, info.precision_mode) == ("openvino", "fast"), info
        assert info.precision in ("fp32", "bf16") and (info.precision == "bf16") == info.precision_gate.passed
        if info.precision == "fp32":
            assert info.fallback_reason, info  # an operator sees why fast is not on
        # The served faces are the torch reference's, within the gate's tolerance.
        bundle = load_bundle("avatars64")
        reference = create_backend("torch", bundle, device="cpu", threads=1)
        expected = reference.synthesize(broadcast_ws(reference.map(zs_from_seeds([0, 1], bundle.config.z_dim)),
                                                     bundle.config.num_ws))
        served = np.stack([np.frombuffer(r.image.data, np.uint8).reshape(r.image.height, r.image.width, 4)[..., :3]
                           for r in reply.results])
        assert psnr_db(expected, served).min() >= MIN_PSNR_DB
    finally:
        lt.run(running.stop(1.0))
        lt.close()
