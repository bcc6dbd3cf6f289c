"""Hostile inputs: pickles whose payload would run on a normal load are refused by import-nvlabs
(a marker file proves the payload never ran, and that it would have under plain pickle), bundles
stay safetensors-only, and neither a manifest's file names nor a model name can leave their
folder."""
from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import pickletools

import pytest
import torch

from avatarforge.cli import main as avatarforge
from avatarforge.models.bundle import BundleError, create_seeded_bundle, load_bundle, resolve_bundle_path, write_manifest
from avatarforge.models.importers.safe_unpickle import UnsafePickleError, load_network_pickle

from stylegan2_reference import Generator, write_nvlabs_pickle

TINY = dict(z_dim=16, w_dim=16, img_resolution=32, channels={4: 16, 8: 16, 16: 8, 32: 8}, mapping_layers=2)


class Call:
    """Pickles as a call of `fn(*args)`: what a malicious file's REDUCE opcode does."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


def payloads(marker):
    m = str(marker)
    return {
        "os.system": (Call(os.system, f"touch {m}"), "posix.system"),
        "open": (Call(open, m, "w"), "io.open"),
        "builtins.eval": (Call(eval, f"open({m!r}, 'w')"), "builtins.eval"),
    }


@pytest.mark.parametrize("kind", ["os.system", "open", "builtins.eval"])
@pytest.mark.parametrize("where", ["top-level", "inside G_ema"])
def test_a_reduce_payload_is_refused_naming_its_global_and_never_runs(kind, where, tmp_path, capsys):
    marker = tmp_path / "payload-ran"
    payload, global_name = payloads(marker)[kind]
    pkl = tmp_path / "network.pkl"
    if where == "top-level":
        pkl.write_bytes(pickle.dumps({"G_ema": payload}))
    else:  # an otherwise valid network whose noise buffer was swapped for the payload
        G = Generator(**TINY)
        G.synthesis.b8.conv0._buffers["noise_const"] = payload
        write_nvlabs_pickle(G, pkl)
    assert avatarforge(["import-nvlabs", str(pkl), "--out", str(tmp_path / "b")]) == 2
    assert f"refusing global {global_name}" in capsys.readouterr().err
    assert not marker.exists() and not (tmp_path / "b").exists()
    if where == "top-level":  # the payload is live: a plain pickle.load runs it
        pickle.loads(pkl.read_bytes())
        assert marker.exists()


def test_a_poisoned_module_source_is_never_executed(tmp_path):
    """NVlabs' own loader exec()s each record's module_src; ours only hashes it."""
    marker = tmp_path / "source-ran"
    poison = f"open({str(marker)!r}, 'w').write('ran')\n"
    write_nvlabs_pickle(Generator(**TINY), tmp_path / "network.pkl", module_src=poison)

    assert avatarforge(["import-nvlabs", str(tmp_path / "network.pkl"), "--out", str(tmp_path / "b")]) == 0
    assert not marker.exists()
    hashes = json.loads((tmp_path / "b" / "manifest.json").read_text())["source"]["module_sources_not_executed"]
    assert set(hashes.values()) == {hashlib.sha256(poison.encode()).hexdigest()}

    class ExecLoader(pickle.Unpickler):  # what persistence._reconstruct_persistent_obj does with the source
        def find_class(self, module, name):
            if (module, name) == ("torch_utils.persistence", "_reconstruct_persistent_obj"):
                return lambda meta: exec(meta["module_src"], {})
            if module == "dnnlib.util":
                return dict
            return super().find_class(module, name)

    ExecLoader(io.BytesIO((tmp_path / "network.pkl").read_bytes())).load()
    assert marker.exists()  # the poison was real


def test_torch_save_zip_files_and_garbage_are_refused(tmp_path):
    torch.save({"G_ema": torch.zeros(2)}, tmp_path / "zip.pkl")  # torch's zip layout, not a network pickle
    (tmp_path / "junk.pkl").write_bytes(b"\x80\x04not a pickle")
    for name in ("zip.pkl", "junk.pkl"):
        with pytest.raises(UnsafePickleError):
            load_network_pickle(tmp_path / name)


def test_protocol_2_bytes_decoding_is_the_only_codec_call_allowed(tmp_path):
    """_codecs.encode is allowed for protocol 2's latin1 bytes; any other codec is refused."""
    (tmp_path / "codec.pkl").write_bytes(b"\x80\x02c_codecs\nencode\nX\x03\x00\x00\x00abcX\x05\x00\x00\x00rot13\x86R.")
    with pytest.raises(UnsafePickleError, match="rot13"):
        load_network_pickle(tmp_path / "codec.pkl")


def test_a_pickle_with_persistent_ids_is_refused(tmp_path):
    class WithPid(pickle.Pickler):
        def persistent_id(self, obj):
            return "storage-0" if isinstance(obj, torch.Tensor) else None

    buf = io.BytesIO()
    WithPid(buf).dump({"G_ema": torch.zeros(2)})
    (tmp_path / "pid.pkl").write_bytes(buf.getvalue())
    with pytest.raises(UnsafePickleError, match="persistent id"):
        load_network_pickle(tmp_path / "pid.pkl")


@pytest.mark.parametrize("protocol", [2, 3])
def test_the_writer_names_exactly_nvlabs_globals(tmp_path, protocol):
    """The test pickles use the real format's globals (so the allow-list is exercised as in life);
    protocols 2 and 3 spell every global out, and go through the same allow-list as 4 and 5."""
    write_nvlabs_pickle(Generator(**TINY), tmp_path / "n.pkl", protocol=protocol)
    seen = {arg.replace(" ", ".") for op, arg, _ in pickletools.genops((tmp_path / "n.pkl").read_bytes())
            if op.name == "GLOBAL"}
    assert {"torch_utils.persistence._reconstruct_persistent_obj", "dnnlib.util.EasyDict",
            "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter", "torch.storage._load_from_bytes",
            "collections.OrderedDict"} <= seen
    assert load_network_pickle(tmp_path / "n.pkl")["G_ema"].class_name == "Generator"


# ------------------------------------------------------------------------------------------------
# Bundles: safetensors only, file names inside the folder, model names inside the model directory.

@pytest.fixture()
def bundle_dir(tmp_path):
    return create_seeded_bundle(tmp_path / "models" / "tiny", seed=3)


def _relist(bundle_dir, entries: dict) -> None:
    manifest = json.loads((bundle_dir / "manifest.json").read_text())
    manifest["files"] = entries
    (bundle_dir / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("name", ["../secret.safetensors", "/etc/passwd", "sub/../../x", ".hidden", "a\\..\\b"])
def test_manifest_file_names_cannot_leave_the_bundle(bundle_dir, name):
    files = json.loads((bundle_dir / "manifest.json").read_text())["files"]
    _relist(bundle_dir, {**files, name: {"sha256": "0" * 64}})
    with pytest.raises(BundleError, match="plain names inside the bundle"):
        load_bundle(bundle_dir)


def test_a_manifest_entry_linking_out_of_the_bundle_is_refused(bundle_dir, tmp_path):
    (tmp_path / "outside.safetensors").write_bytes(b"x")
    (bundle_dir / "extra.safetensors").symlink_to(tmp_path / "outside.safetensors")
    manifest = json.loads((bundle_dir / "manifest.json").read_text())
    manifest["files"]["extra.safetensors"] = {}
    write_manifest(bundle_dir, manifest)
    with pytest.raises(BundleError, match="links outside the bundle"):
        load_bundle(bundle_dir)


def test_a_pickle_in_place_of_the_weights_is_never_unpickled(bundle_dir, tmp_path):
    marker = tmp_path / "ran"
    (bundle_dir / "generator.safetensors").write_bytes(pickle.dumps(Call(os.system, f"touch {marker}")))
    manifest = json.loads((bundle_dir / "manifest.json").read_text())
    write_manifest(bundle_dir, manifest)  # checksums match the pickle: only the format can stop it
    with pytest.raises(BundleError, match="cannot be read as safetensors"):
        load_bundle(bundle_dir)
    assert not marker.exists()


@pytest.mark.parametrize("name", ["..", ".", "", ".git", "nul\x00byte"])
def test_a_model_name_that_is_not_a_plain_name_is_refused(bundle_dir, name):
    with pytest.raises(BundleError, match="not a model name"):
        resolve_bundle_path(name, bundle_dir.parent)


def test_a_model_name_linking_out_of_the_model_directory_is_refused(bundle_dir, tmp_path):
    elsewhere = create_seeded_bundle(tmp_path / "elsewhere" / "b", seed=4)
    (bundle_dir.parent / "sneaky").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(BundleError, match="cannot leave the model directory"):
        load_bundle("sneaky", bundle_dir.parent)
    assert load_bundle("tiny", bundle_dir.parent).path == bundle_dir.parent / "tiny"


def test_a_request_model_name_is_only_a_lookup_among_loaded_models(tiny_bundle):
    from avatarforge.server.errors import ModelNotFound
    from avatarforge.server.model_runtime import ModelRegistry

    class Runtime:
        bundle = load_bundle(tiny_bundle)

    registry = ModelRegistry([Runtime()])
    assert registry.get("tiny") is not None and registry.get("") is not None
    for name in ("../tiny", str(tiny_bundle), "avatars64"):
        with pytest.raises(ModelNotFound):
            registry.get(name)
