"""Bring your own StyleGAN2: checkpoints written in NVlabs' and rosinality's exact layouts (by
tests/stylegan2_reference.py, our own code) are converted with the `avatarforge import-*`
commands and must render what an independent NVlabs-math forward renders, to PSNR >= 40 dB and
at most 2 levels of difference; hostile pickles are refused and their payloads never run."""
from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch

from avatarforge.cli import main as avatarforge
from avatarforge.models import latents
from avatarforge.models.bundle import load_bundle
from avatarforge.models.networks import Generator as OurGenerator

from stylegan2_reference import Generator, reference_images, reference_ws, to_uint8, write_nvlabs_pickle, \
    write_rosinality_checkpoint

MIN_PSNR, MAX_LEVELS = 40.0, 2
SEEDS = range(6)

# (name, Generator kwargs): NVlabs' --cfg=auto-like 2-layer mapping; the paper's 8 layers with
# z != w, fp16 blocks and conv_clamp 256; a 128 px net whose clamp (0.8) really clips.
CONFIGS = {
    "32px-map2": dict(z_dim=32, w_dim=32, img_resolution=32, channels={4: 64, 8: 64, 16: 32, 32: 32},
                      mapping_layers=2, seed=1),
    "64px-map8-fp16-clamp256": dict(z_dim=48, w_dim=64, img_resolution=64,
                                    channels={4: 64, 8: 64, 16: 32, 32: 32, 64: 16}, mapping_layers=8,
                                    num_fp16_res=2, conv_clamp=256, seed=2),
    "128px-fp16-clamp0.8": dict(z_dim=32, w_dim=32, img_resolution=128,
                                channels={4: 32, 8: 32, 16: 32, 32: 16, 64: 16, 128: 8}, mapping_layers=4,
                                num_fp16_res=4, conv_clamp=0.8, seed=3),
}


def compare(ours: torch.Tensor, ref: torch.Tensor) -> tuple[float, int]:
    """(PSNR in dB, max difference in levels) of the uint8 renders (inf when identical)."""
    a, b = to_uint8(ours).int(), to_uint8(ref).int()
    mse = (a - b).double().square().mean().item()
    return (math.inf if mse == 0 else 10 * math.log10(255**2 / mse)), int((a - b).abs().max())


def our_render(g: OurGenerator, z: torch.Tensor, psi: float) -> torch.Tensor:
    """What the server does: mapping, broadcast, truncate toward w_avg, synthesis (const noise)."""
    with torch.no_grad():
        ws = latents.truncate(latents.broadcast(g.mapping(z), g.num_ws), g.mapping.w_avg, psi)
        return g.synthesis(ws)


def render_table(G: Generator, g: OurGenerator, label: str) -> list[tuple]:
    """PSNR / max diff at psi 1.0 and 0.7 from seeds, and for per-layer (style-mixed) ws."""
    z = torch.from_numpy(latents.zs_from_seeds(SEEDS, G.z_dim))
    rows = []
    for psi in (1.0, 0.7):
        ref = reference_images(G, reference_ws(G, z, psi))
        inside = float((ref.abs() < 1).double().mean())
        assert inside > 0.8, f"only {inside:.0%} of the test image lies inside [-1, 1]: a saturated image proves little"
        rows.append((label, f"psi {psi}", *compare(our_render(g, z, psi), ref)))
    mixed = reference_ws(G, torch.randn(len(SEEDS) * G.num_ws, G.z_dim, generator=torch.Generator().manual_seed(9)), 0.7)
    mixed = mixed[:, 0].reshape(len(SEEDS), G.num_ws, -1)  # a different w for every layer
    with torch.no_grad():
        ours = g.synthesis(mixed.float())
    rows.append((label, "per-layer ws", *compare(ours, reference_images(G, mixed))))
    for row in rows:
        print("import-table", *row)
    return rows


@pytest.mark.parametrize("config", list(CONFIGS))
def test_nvlabs_pickle_imports_and_renders_what_nvlabs_renders(config, tmp_path, capsys):
    G = Generator(**CONFIGS[config])
    write_nvlabs_pickle(G, tmp_path / "network-snapshot.pkl")
    assert avatarforge(["import-nvlabs", str(tmp_path / "network-snapshot.pkl"), "--out", str(tmp_path / "b")]) == 0
    assert "resampling fir" in capsys.readouterr().out
    bundle = load_bundle(tmp_path / "b")
    cfg, source = bundle.config, bundle.manifest["source"]
    assert (cfg.resampling, cfg.resolution, cfg.num_ws, cfg.mapping_layers) == \
        ("fir", G.img_resolution, G.num_ws, G.mapping.num_layers)
    assert cfg.conv_clamp == CONFIGS[config].get("conv_clamp")
    assert source["format"] == "nvlabs-stylegan2-ada-pickle" and source["w_avg"] == "mapping.w_avg"
    fp16 = [r for r in G.synthesis.block_resolutions if getattr(G.synthesis, f"b{r}").use_fp16]
    assert source["fp16_resolutions"] == fp16 and bool(fp16) == ("fp16" in config)
    for label, what, psnr, levels in render_table(G, bundle.generator, f"nvlabs {config}"):
        assert psnr >= MIN_PSNR and levels <= MAX_LEVELS, (what, psnr, levels)

    # The comparison can fail: our own bilinear resampling on the same weights misses the target.
    bilinear = OurGenerator(dataclasses.replace(cfg, resampling="bilinear"))
    bilinear.load_state_dict(bundle.generator.state_dict())
    z = torch.from_numpy(latents.zs_from_seeds(SEEDS, G.z_dim))
    psnr, levels = compare(our_render(bilinear.eval(), z, 1.0), reference_images(G, reference_ws(G, z, 1.0)))
    assert levels > MAX_LEVELS, (psnr, levels)


def test_conv_clamp_of_the_test_config_really_clips():
    G = Generator(**CONFIGS["128px-fp16-clamp0.8"])
    ws = reference_ws(G, torch.from_numpy(latents.zs_from_seeds(SEEDS, G.z_dim)), 1.0)
    _, levels = compare(reference_images(G, ws, clamp=None), reference_images(G, ws))
    assert levels > 20


@pytest.mark.parametrize("latent_avg", [True, False], ids=["convert_weight-latent_avg", "train-no-latent_avg"])
def test_rosinality_checkpoint_imports_and_renders_the_same(latent_avg, tmp_path):
    G = Generator(z_dim=64, w_dim=64, img_resolution=64, channels={4: 64, 8: 64, 16: 64, 32: 32, 64: 16},
                  mapping_layers=8, seed=4)
    write_rosinality_checkpoint(G, tmp_path / "550000.pt", latent_avg=latent_avg)
    assert avatarforge(["import-rosinality", str(tmp_path / "550000.pt"), "--out", str(tmp_path / "b")]) == 0
    bundle = load_bundle(tmp_path / "b")
    assert bundle.config.resampling == "fir" and bundle.manifest["source"]["format"] == "rosinality-stylegan2-pytorch"
    if not latent_avg:  # estimated from the mapping; the reference must truncate toward the same centre
        z = torch.from_numpy(latents.zs_from_seeds(range(10_000), G.z_dim))
        assert torch.allclose(bundle.generator.mapping.w_avg.double(), reference_ws(G, z, 1.0)[:, 0].mean(0), atol=0.05)
        G.mapping.w_avg.copy_(bundle.generator.mapping.w_avg)
    else:
        assert torch.equal(bundle.generator.mapping.w_avg, G.mapping.w_avg)
    for label, what, psnr, levels in render_table(G, bundle.generator, f"rosinality latent_avg={latent_avg}"):
        assert psnr >= MIN_PSNR and levels <= MAX_LEVELS, (what, psnr, levels)


def test_imported_bundle_exports_to_onnx_and_matches_torch(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    import onnx

    from avatarforge.models.export import SynthesisGraph, export_onnx

    G = Generator(**CONFIGS["32px-map2"] | {"conv_clamp": 0.8})
    write_nvlabs_pickle(G, tmp_path / "net.pkl")
    assert avatarforge(["import-nvlabs", str(tmp_path / "net.pkl"), "--out", str(tmp_path / "b")]) == 0
    bundle = load_bundle(tmp_path / "b")
    export = export_onnx(bundle)
    ops = {n.op_type for n in onnx.load(str(export.synthesis)).graph.node}
    assert {"ConvTranspose", "Clip"} <= ops and "Resize" not in ops, ops
    ws = latents.broadcast(torch.randn(3, G.w_dim), G.num_ws)  # a batch size other than the traced 2
    session = ort.InferenceSession(str(export.synthesis), providers=["CPUExecutionProvider"])
    got = torch.from_numpy(session.run(["images"], {"ws": ws.numpy()})[0])
    with torch.no_grad():
        want = SynthesisGraph(bundle.generator)(ws)
    assert got.shape == want.shape and (got.int() - want.int()).abs().max() <= 1


def test_rosinality_import_refuses_pickled_code(tmp_path):
    """weights_only=True: a .pt whose pickle names any other global is refused by torch itself."""
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (exec, (f"open({str(marker)!r}, 'w').write('x')",))

    torch.save({"g_ema": {}, "args": Payload()}, tmp_path / "evil.pt")
    assert avatarforge(["import-rosinality", str(tmp_path / "evil.pt"), "--out", str(tmp_path / "b")]) == 2
    assert not marker.exists() and not (tmp_path / "b").exists()


def test_manifest_of_an_import_records_the_source_file(tmp_path):
    G = Generator(**CONFIGS["32px-map2"])
    write_nvlabs_pickle(G, tmp_path / "net.pkl")
    avatarforge(["import-nvlabs", str(tmp_path / "net.pkl"), "--out", str(tmp_path / "b"), "--name", "studio-faces"])
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["name"] == "studio-faces"
    assert manifest["generator"]["config"]["resampling"] == "fir"
    assert manifest["source"]["file"] == "net.pkl" and len(manifest["source"]["sha256"]) == 64
    assert set(manifest["source"]["module_sources_not_executed"]) >= {"Generator", "SynthesisLayer", "MappingNetwork"}
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["generator.safetensors", "manifest.json"]
    # An import never writes into a folder that already holds something.
    assert avatarforge(["import-nvlabs", str(tmp_path / "net.pkl"), "--out", str(tmp_path / "b")]) == 2
