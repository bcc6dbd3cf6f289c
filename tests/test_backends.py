"""Export and backends: ONNX graphs are valid and reproducible, every backend renders the same
faces as the torch reference on fixed seeds, and `auto` says why it picked what it picked.

Uses the tiny seeded bundle (32 px, random weights): parity is about arithmetic, not quality.
"""
from __future__ import annotations

import json
import os

import numpy as np
import onnx
import pytest
import torch

from avatarforge.models.bundle import create_seeded_bundle, load_bundle
from avatarforge.models.export import export_onnx, export_key, main as export_main
from avatarforge.server import config
from avatarforge.server.backends import BACKEND_NAMES, BackendUnavailable, create_backend, to_uint8_images
from avatarforge.server.backends.parity import broadcast_ws, check_parity, compare_images, parity_latents
from avatarforge.server.backends.path_split import PathSplitBackend
from avatarforge.server.backends.selection import auto_candidates, cpu_engines, create_auto_backend
from avatarforge.server.backends.thread_choice import available_cores, candidate_counts, pick_threads
from avatarforge.server.backends.tensorrt_backend import (
    DEFAULT_PROFILES, BatchProfile, engine_cache_key, pick_profile, tensorrt_unavailable_reason,
)


@pytest.fixture(scope="module")
def backend_bundle(tmp_path_factory):
    """A tiny bundle in its own writable folder (the ONNX cache goes beside it)."""
    path = create_seeded_bundle(tmp_path_factory.mktemp("bundle") / "tiny", seed=7)
    return load_bundle(path)


@pytest.fixture(scope="module")
def torch_cpu(backend_bundle):
    return create_backend("torch", backend_bundle, device="cpu", threads=1)


@pytest.fixture(scope="module")
def ort_cpu(backend_bundle):
    return create_backend("onnxruntime", backend_bundle, device="cpu", threads=1)


@pytest.fixture(scope="module")
def ov_cpu(backend_bundle):
    pytest.importorskip("openvino", reason="the openvino extra (make install installs it)")
    return create_backend("openvino", backend_bundle, device="cpu", threads=1)


# --- export ---------------------------------------------------------------------------------


def test_export_graphs_are_valid_with_a_dynamic_batch(backend_bundle, ort_cpu):
    exp = ort_cpu.export
    cfg = backend_bundle.config
    for path, inp, out in ((exp.mapping, "z", "w"), (exp.synthesis, "ws", "images")):
        model = onnx.load(str(path))
        onnx.checker.check_model(model, full_check=True)
        assert [i.name for i in model.graph.input] == [inp]
        assert [o.name for o in model.graph.output] == [out]
        assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
        assert {n.domain for n in model.graph.node} <= {"", "ai.onnx"}, "no custom ops"
    images = onnx.load(str(exp.synthesis)).graph.output[0].type.tensor_type
    assert images.elem_type == onnx.TensorProto.UINT8
    assert [d.dim_value for d in images.shape.dim[1:]] == [cfg.resolution, cfg.resolution, 3]
    # The dynamic axis really is dynamic: odd batch sizes run.
    for n in (1, 3):
        assert ort_cpu.synthesize(np.zeros((n, cfg.num_ws, cfg.w_dim), np.float32)).shape[0] == n


def test_export_is_reproducible_and_the_cache_is_reused(backend_bundle, tmp_path):
    first = export_onnx(backend_bundle, cache_root=tmp_path / "a")
    second = export_onnx(backend_bundle, cache_root=tmp_path / "b")  # a fresh export elsewhere
    assert not first.reused and not second.reused
    assert (first.mapping_sha256, first.synthesis_sha256) == (second.mapping_sha256, second.synthesis_sha256)
    mtime = first.synthesis.stat().st_mtime_ns
    again = export_onnx(backend_bundle, cache_root=tmp_path / "a")
    assert again.reused and again.synthesis.stat().st_mtime_ns == mtime
    assert again.key == export_key(backend_bundle.generator_sha256) and again.key.endswith("_opset17_fp32_f2")
    # A corrupted cached graph is detected by its recorded hash and re-exported.
    first.synthesis.write_bytes(b"garbage")
    repaired = export_onnx(backend_bundle, cache_root=tmp_path / "a")
    assert not repaired.reused and repaired.synthesis_sha256 == first.synthesis_sha256


def test_export_falls_back_to_the_cache_dir_when_the_bundle_is_read_only(backend_bundle, tmp_path, monkeypatch):
    import avatarforge.models.export as export

    # Root ignores directory permissions, so make the bundle folder "read-only" at the check.
    bundle_dir = backend_bundle.path / export.CACHE_DIR_NAME
    real = export._is_writable_dir
    monkeypatch.setattr(export, "_is_writable_dir", lambda p: False if p == bundle_dir else real(p))
    monkeypatch.setenv("AVATARFORGE_CACHE_DIR", str(tmp_path / "cache"))
    exp = export_onnx(backend_bundle)
    assert exp.mapping.is_relative_to(tmp_path / "cache" / "onnx") and exp.synthesis.is_file()


def test_export_command_prints_the_paths(backend_bundle, capsys):
    export_main(["--model", str(backend_bundle.path)])
    out = json.loads(capsys.readouterr().out)
    assert out["reused"] is True and out["synthesis"].endswith("synthesis.onnx")


def quantisation_tail(graph: os.PathLike, out: os.PathLike) -> str:
    """Cut the exported synthesis graph's post-processing out of it: from the synthesis
    network's float image (the last tensor in its `/synthesis/` scope) to `images`."""
    producer = {o: n for n in onnx.load(str(graph)).graph.node for o in n.output}
    tensor = "images"
    while not tensor.startswith("/synthesis/"):
        tensor = producer[tensor].input[0]  # the data input; the others are the constants
    onnx.utils.extract_model(str(graph), str(out), [tensor], ["images"])
    return tensor


def test_graph_quantisation_matches_the_backend_contract(backend_bundle, ort_cpu, tmp_path):
    # Float images that hit every edge: clamped on both sides, exact levels, and fractions
    # just under and over a level, where a rounding cast would differ from the truncating one.
    n = 3 * backend_bundle.config.resolution ** 2  # the graph takes images at native resolution
    img = torch.cat([torch.linspace(-1.2, 1.2, n), (torch.arange(n) % 256 - 127.999) / 127.5])
    img = img.reshape(2, 3, backend_bundle.config.resolution, -1).float()
    # The contract, written out independently of the code under test (NVlabs' convention).
    expected = np.clip(img.numpy() * np.float32(127.5) + np.float32(128), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)
    assert expected.min() == 0 and expected.max() == 255
    np.testing.assert_array_equal(to_uint8_images(img).numpy(), expected)  # torch backend
    # The exported graph's own quantisation tail, run by ONNX Runtime on the same floats.
    import onnxruntime as ort

    tail = tmp_path / "quantise.onnx"
    name = quantisation_tail(ort_cpu.export.synthesis, tail)
    graph_out = ort.InferenceSession(str(tail), providers=["CPUExecutionProvider"]).run(["images"], {name: img.numpy()})[0]
    assert graph_out.dtype == np.uint8
    np.testing.assert_array_equal(graph_out, expected)


# --- parity ---------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["ort_cpu", "ov_cpu"])
def test_cpu_engines_match_torch_on_fixed_seeds(backend_bundle, torch_cpu, engine, request):
    cfg = backend_bundle.config
    candidate = request.getfixturevalue(engine)
    report = check_parity(torch_cpu, candidate, cfg.z_dim, cfg.num_ws)
    print(f"{candidate.name} vs torch:", json.dumps(report))  # quoted in the report (pytest -s)
    assert report["map_max_abs_error"] < 1e-4
    assert report["images"]["max_abs"] <= 2 and report["ok"], report


def test_parity_holds_at_bulk_batch_sizes(backend_bundle, torch_cpu, ort_cpu):
    cfg = backend_bundle.config
    z = parity_latents(cfg.z_dim, seeds=range(16))
    ws = broadcast_ws(torch_cpu.map(z), cfg.num_ws)
    assert compare_images(torch_cpu.synthesize(ws), ort_cpu.synthesize(ws)).ok
    # Batching never changes a face: seed 5 alone equals seed 5 inside the batch of 16.
    np.testing.assert_array_equal(ort_cpu.synthesize(ws[5:6])[0], ort_cpu.synthesize(ws)[5])


@pytest.mark.skipif(tensorrt_unavailable_reason() is not None, reason=f"{tensorrt_unavailable_reason()}")
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_tensorrt_matches_torch(backend_bundle, tmp_path, precision):
    trt_backend = create_backend("tensorrt", backend_bundle, device="cuda:0", precision=precision, cache_root=tmp_path)
    reference = create_backend("torch", backend_bundle, device="cuda:0")
    cfg = backend_bundle.config
    report = check_parity(reference, trt_backend, cfg.z_dim, cfg.num_ws)
    print(f"tensorrt {trt_backend.precision} vs torch:", json.dumps(report))
    assert report["ok"], report
    ws = broadcast_ws(reference.map(parity_latents(cfg.z_dim, range(70))), cfg.num_ws)  # > bulk max: split
    assert compare_images(reference.synthesize(ws), trt_backend.synthesize(ws)).ok
    # The second start loads the cached plan instead of building.
    again = create_backend("tensorrt", backend_bundle, device="cuda:0", precision=precision, cache_root=tmp_path)
    assert again.engine_key == trt_backend.engine_key


# --- describe() and selection ---------------------------------------------------------------


@pytest.mark.parametrize("backend", ["torch_cpu", "ort_cpu", "ov_cpu"])
def test_describe_reports_the_contract_fields(backend, request):
    info = request.getfixturevalue(backend).describe()
    assert {"backend", "device", "precision", "engine_key", "fallback_reason"} <= set(info)
    assert info["device"] == "cpu" and info["precision"] == "fp32" and info["engine_key"]


def test_explicit_backends_fail_loudly_instead_of_falling_back(backend_bundle):
    with pytest.raises(ValueError):
        create_backend("nope", backend_bundle)
    if tensorrt_unavailable_reason() is not None:
        with pytest.raises(BackendUnavailable, match="tensorrt"):
            create_backend("tensorrt", backend_bundle)
    if not torch.cuda.is_available():
        with pytest.raises(BackendUnavailable):
            create_backend("torch", backend_bundle, device="cuda:0")
    # Every backend named explicitly runs where it was asked to or refuses: none hands back
    # another backend or another device. (TensorRT on CUDA builds an engine:
    # test_tensorrt_matches_torch covers it.)
    for name in set(BACKEND_NAMES) - {"auto"}:
        for device in ("cpu", "cuda:0"):
            if name == "tensorrt" and device != "cpu":
                continue
            try:
                b = create_backend(name, backend_bundle, device=device, threads=1)
            except BackendUnavailable:
                continue
            assert (b.name, b.describe()["backend"], b.device) == (name, name, device)
    # What `serve --backend` accepts is what create_backend knows.
    assert set(config.BACKENDS) == set(BACKEND_NAMES)


def test_fp16_on_cpu_stays_fp32_and_says_why(backend_bundle):
    b = create_backend("torch", backend_bundle, device="cpu", precision="fp16")
    assert b.describe()["precision"] == "fp32" and "CUDA" in b.describe()["fallback_reason"]


def test_auto_plan_orders_tensorrt_then_torch_cuda_then_cpu():
    assert auto_candidates("auto", None, True) == (["tensorrt", "torch-cuda", "cpu"], [])
    cands, why = auto_candidates("auto", "tensorrt is not importable (x)", True)
    assert cands == ["torch-cuda", "cpu"] and why == ["tensorrt is not importable (x)"]
    cands, why = auto_candidates("auto", "tensorrt is not importable (x)", False)
    assert cands == ["cpu"] and "torch sees no CUDA GPU" in why
    assert auto_candidates("cpu", None, True) == (["cpu"], ["device=cpu requested"])
    with pytest.raises(BackendUnavailable, match="no CUDA backend"):
        auto_candidates("cuda:0", "no tensorrt", False)


CPU_ENGINES = {"torch", "onnxruntime", "openvino"}


def test_auto_measures_each_path_once_then_reuses_the_measurement(backend_bundle, tmp_path):
    # device="cpu": the CPU choice is measured on every machine, GPU or not.
    first = create_auto_backend(backend_bundle, device="cpu", threads=1, cache_root=tmp_path, max_batch=8)
    info = first.describe()
    assert set(info["backend"].split("+")) <= CPU_ENGINES and info["device"] == "cpu", info
    # Both paths were raced by every CPU engine that imports, and the reason names each one's time.
    reason = info["fallback_reason"]
    assert "batch 1:" in reason and "batch 8:" in reason, reason
    for engine in cpu_engines():
        assert reason.count(f"{engine} ") >= 2, reason
    (entry,) = json.loads((tmp_path / "cpu_backend_choice.json").read_text()).values()
    assert info["backend"] in (entry["small"], f"{entry['small']}+{entry['large']}")
    second = create_auto_backend(backend_bundle, device="cpu", threads=1, cache_root=tmp_path, max_batch=8)
    assert second.name == first.name and "cached measurement" in second.describe()["fallback_reason"]


def test_a_path_split_sends_small_batches_to_one_engine_and_large_ones_to_the_other(backend_bundle, torch_cpu,
                                                                                   tmp_path):
    # Two different models make the routing visible in the pixels (in service both engines
    # run the same model and agree within one level).
    other = create_backend("onnxruntime", load_bundle(create_seeded_bundle(tmp_path / "other", seed=8)),
                           device="cpu", threads=1)
    split = PathSplitBackend(torch_cpu, other, small_rows=2)
    cfg = backend_bundle.config
    ws = broadcast_ws(torch_cpu.map(parity_latents(cfg.z_dim, seeds=range(4))), cfg.num_ws)
    np.testing.assert_array_equal(split.synthesize(ws[:2]), torch_cpu.synthesize(ws[:2]))
    np.testing.assert_array_equal(split.synthesize(ws), other.synthesize(ws))
    z = parity_latents(cfg.z_dim)
    np.testing.assert_array_equal(split.map(z), torch_cpu.map(z))  # W (the DNA) from one engine only
    info = split.describe()
    assert (info["backend"], info["small_batch_backend"], info["large_batch_backend"], info["small_batch_rows"]) == (
        "torch+onnxruntime", "torch", "onnxruntime", 2)


def test_auto_on_this_machine_takes_the_best_backend_that_runs_here(backend_bundle, tmp_path):
    info = create_auto_backend(backend_bundle, threads=1, cache_root=tmp_path).describe()
    trt_reason = tensorrt_unavailable_reason()
    if trt_reason is None:  # TensorRT and a CUDA GPU: nothing beats it
        assert info["backend"] == "tensorrt" and info["device"].startswith("cuda"), info
    elif torch.cuda.is_available():  # a GPU machine never falls back to a CPU backend
        assert (info["backend"], info["device"]) == ("torch", "cuda:0"), info
        assert trt_reason in info["fallback_reason"], info
    else:
        assert set(info["backend"].split("+")) <= CPU_ENGINES and info["device"] == "cpu", info
        assert trt_reason in info["fallback_reason"] and "torch sees no CUDA GPU" in info["fallback_reason"], info
        assert "batch 1:" in info["fallback_reason"], info


# --- TensorRT pieces that need no GPU -------------------------------------------------------


def test_engine_cache_key_names_everything_a_plan_depends_on():
    key = engine_cache_key("ab" * 32, "NVIDIA H100 80GB HBM3", (9, 0), "10.16.1", "12.8", "fp16", DEFAULT_PROFILES, 2)
    assert key == "abababababababab/nvidia-h100-80gb-hbm3_sm90/trt10.16.1_cuda12.8/fp16_s2_interactive1-1-4_bulk1-16-64"
    base = ("ab" * 32, "NVIDIA H100", (9, 0), "10.16.1", "12.8", "fp32", DEFAULT_PROFILES, 2)
    variants = [
        ("cd" * 32, *base[1:]), (base[0], base[1], (8, 9), *base[3:]), (*base[:3], "11.4.0", *base[4:]),
        (*base[:4], "13.0", *base[5:]), (*base[:5], "fp16", *base[6:]),
        (*base[:6], (BatchProfile("bulk", 1, 32, 64),), 2), (*base[:7], 4),
    ]
    keys = {engine_cache_key(*v) for v in variants} | {engine_cache_key(*base)}
    assert len(keys) == len(variants) + 1, "every input changes the key"


def test_profile_choice_prefers_interactive_for_small_batches():
    assert pick_profile(1, DEFAULT_PROFILES) == 0
    assert pick_profile(4, DEFAULT_PROFILES) == 0
    assert pick_profile(5, DEFAULT_PROFILES) == 1
    assert pick_profile(64, DEFAULT_PROFILES) == 1
    with pytest.raises(ValueError):
        pick_profile(65, DEFAULT_PROFILES)


# --- --threads auto -------------------------------------------------------------------------


def test_thread_choice_weighs_batch_1_and_max_batch_and_prefers_fewer_threads_on_a_tie():
    idle = {1: {1: 17.0, 16: 170.0}, 2: {1: 9.0, 16: 90.0}}
    assert pick_threads(idle) == 2
    shared = {1: {1: 33.0, 16: 64.0}, 2: {1: 445.0, 16: 1183.0}}  # OpenMP waiting on a busy core
    assert pick_threads(shared) == 1
    assert pick_threads({1: {1: 10.0, 16: 100.0}, 2: {1: 10.1, 16: 100.5}}) == 1  # within 3 %: fewer wins
    # Best for bulk but 3x slower for a single preview loses to 2x slower bulk.
    assert pick_threads({1: {1: 10.0, 16: 200.0}, 2: {1: 30.0, 16: 100.0}}) == 1
    assert candidate_counts(1) == [1] and candidate_counts(2) == [1, 2] and candidate_counts(6) == [1, 2, 4, 6]


@pytest.mark.parametrize("name", ["torch", "onnxruntime"])
def test_threads_auto_measures_every_count_and_runs_the_one_it_reports(backend_bundle, torch_cpu, name):
    b = create_backend(name, backend_bundle, device="cpu", threads="auto", max_batch=4)
    choice, info = b.thread_choice, b.describe()
    counts = candidate_counts(available_cores())
    if len(counts) > 1:
        assert set(choice.median_ms) == set(counts) and all(set(m) == {1, 4} for m in choice.median_ms.values())
    assert info["threads"] == choice.threads and info["threads_reason"] == choice.reason
    assert f"{choice.threads} of {available_cores()} cores" in choice.reason or len(counts) == 1
    if name == "torch":
        assert torch.get_num_threads() == choice.threads
    # Same faces as the reference at whatever count it chose.
    cfg = backend_bundle.config
    ws = broadcast_ws(torch_cpu.map(parity_latents(cfg.z_dim, seeds=range(4))), cfg.num_ws)
    torch.set_num_threads(1)
    reference = torch_cpu.synthesize(ws)
    torch.set_num_threads(choice.threads)
    assert compare_images(reference, b.synthesize(ws)).ok
