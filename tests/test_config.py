"""Server configuration: defaults < AVATARFORGE_* environment < command-line flags."""
from __future__ import annotations

import argparse

import pytest

from avatarforge.server.config import ServerConfig, add_arguments


def test_environment_then_flags():
    env = {"AVATARFORGE_MAX_BATCH": "8", "AVATARFORGE_DEFAULT_PSI": "0.5", "AVATARFORGE_MODEL": "a,b"}
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--max-batch", "4", "--address", "0.0.0.0:1"])
    overrides = {k: v for k, v in vars(args).items() if v is not None}
    cfg = ServerConfig.from_env(env, **overrides)
    assert (cfg.max_batch, cfg.default_psi, cfg.address, cfg.models) == (4, 0.5, "0.0.0.0:1", ["a", "b"])
    assert ServerConfig.from_env({}).model == "avatars128"


@pytest.mark.parametrize("env, message", [
    ({"AVATARFORGE_MAX_BATCH": "lots"}, "AVATARFORGE_MAX_BATCH='lots' is not a valid int"),
    ({"AVATARFORGE_BACKEND": "cuda"}, "backend must be one of auto, torch, onnxruntime, openvino, tensorrt"),
    ({"AVATARFORGE_MAX_BATCH": "0"}, "max_batch must be >= 1"),
    ({"AVATARFORGE_DEFAULT_PSI": "3"}, "default_psi must be in [0, 2]"),
    ({"AVATARFORGE_THREADS": "lots"}, "threads must be auto or a number of threads >= 0, got 'lots'"),
    ({"AVATARFORGE_PRECISION": "bf16"}, "precision must be one of exact, fast, got 'bf16'"),
    ({"AVATARFORGE_TLS_CERT": "s.pem"}, "tls_cert and tls_key go together"),
    ({"AVATARFORGE_TLS_CLIENT_CA": "ca.pem"}, "tls_client_ca (mutual TLS) needs tls_cert and tls_key too"),
    ({"AVATARFORGE_REFLECTION": "yes"}, "reflection must be one of keyed, open, off"),
    ({"AVATARFORGE_MAX_INFLIGHT": "-1"}, "max_inflight must be >= 0 (0 = no limit)"),
    ({"AVATARFORGE_MAX_RENDER_WAIT_MS": "-5"}, "max_render_wait_ms must be auto or a number of ms >= 0"),
    ({"AVATARFORGE_MAX_RENDER_WAIT_MS": "soon"}, "max_render_wait_ms must be auto or a number of ms >= 0"),
    ({"AVATARFORGE_RENDER_NICE": "25"}, "render_nice must be in [0, 19]"),
])
def test_bad_values_say_what_is_wrong(env, message):
    with pytest.raises(ValueError) as err:
        ServerConfig.from_env(env)
    assert message in str(err.value)


def test_default_truncation_is_the_models_own_unless_the_server_overrides_it(tiny_bundle, tmp_path):
    import json
    import shutil

    from avatarforge.server.model_runtime import load_models

    assert ServerConfig().default_psi is None
    assert load_models(ServerConfig(model=str(tiny_bundle), backend="torch")).get("").default_psi == 1.0
    tuned = shutil.copytree(tiny_bundle, tmp_path / "tuned")
    manifest = json.loads((tuned / "manifest.json").read_text())
    (tuned / "manifest.json").write_text(json.dumps({**manifest, "default_truncation_psi": 0.6}))
    assert load_models(ServerConfig(model=str(tuned), backend="torch")).get("").default_psi == 0.6
    assert load_models(ServerConfig(model=str(tuned), backend="torch", default_psi=0.9)).get("").default_psi == 0.9
    assert ServerConfig.from_env({"AVATARFORGE_DEFAULT_PSI": "0.8"}).default_psi == 0.8


def test_served_seeds_use_the_reported_default_truncation(client):
    info = client.get_model()
    assert info.default_truncation_psi == 1.0  # the tiny bundle names none: untruncated
    implicit = client.generate(seeds=[5]).results[0]
    explicit = client.generate(seeds=[5], psi=1.0).results[0]
    assert implicit.dna.truncation_psi == 1.0 and implicit.image.data == explicit.image.data


def test_threads_default_to_auto_and_take_a_count_from_the_environment_or_a_flag():
    assert ServerConfig.from_env({}).backend_threads == "auto"
    assert ServerConfig.from_env({"AVATARFORGE_THREADS": "2"}).backend_threads == 2
    assert ServerConfig.from_env({"AVATARFORGE_THREADS": "0"}).backend_threads is None  # the library's default
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    flag = parser.parse_args(["--threads", "AUTO"]).threads
    assert ServerConfig.from_env({"AVATARFORGE_THREADS": "1"}, threads=flag).backend_threads == "auto"


def test_security_settings_come_from_the_environment_too():
    env = {"AVATARFORGE_KEYS_FILE": "/etc/af/keys.json", "AVATARFORGE_TLS_CERT": "s.pem", "AVATARFORGE_TLS_KEY": "s.key",
           "AVATARFORGE_TLS_CLIENT_CA": "ca.pem", "AVATARFORGE_MAX_INFLIGHT": "64", "AVATARFORGE_MAX_STREAM_S": "3600",
           "AVATARFORGE_EDIT_IDLE_TIMEOUT_S": "120", "AVATARFORGE_HEALTH": "keyed", "AVATARFORGE_REFLECTION": "off",
           "AVATARFORGE_MAX_RENDER_WAIT_MS": "250"}
    cfg = ServerConfig.from_env(env)
    assert (cfg.keys_file, cfg.max_inflight, cfg.max_stream_s, cfg.edit_idle_timeout_s, cfg.health, cfg.reflection) == \
        ("/etc/af/keys.json", 64, 3600.0, 120.0, "keyed", "off")
    assert cfg.render_bound_s == 0.25
    assert (cfg.tls.cert, cfg.tls.key, cfg.tls.client_ca) == ("s.pem", "s.key", "ca.pem")
    default = ServerConfig.from_env({})
    assert (default.keys_file, default.tls, default.max_inflight) == ("", None, 256)  # make demo: keys and TLS off
    assert default.render_bound_s is None  # auto: twice the backend's time for a few players' batch, per model
