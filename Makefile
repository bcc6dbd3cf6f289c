# AvatarForge: `make demo` and `make test` work on a fresh machine (CPU only).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# The CPU wheel (what this project's package index serves), installed first so that the
# `torch>=2.3` dependency is already satisfied and pip never pulls the multi-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0
MODEL ?= avatars128
SEEDS ?= 0-63

.PHONY: demo test python-test proto install clean-out cpp-test csharp-build csharp-test unity-test cross-client-check web web-test gpu-wheels gpu-check gpu-train-wheels gpu-train

$(PY):
	$(PYTHON) -m venv $(VENV)

# Two distributions, both editable: the client (clients/python) and the server (the root), which
# depends on that exact client version; pip takes the client from its folder, never from an index.
$(VENV)/.installed: $(PY) pyproject.toml clients/python/pyproject.toml
	$(PIP) install $(TORCH_SPEC)
	@# A venv from before the split has an `avatarforge` that owns bin/avatarforge: replacing it
	@# after the client is installed would delete the client's command, so it goes first.
	$(PIP) uninstall -y avatarforge
	$(PIP) install -e clients/python -e '.[train,export,openvino,bench,metrics,ray,test]'
	touch $@

install: $(VENV)/.installed

# Start a server on the default model, stream NPC faces to out/npcs with a contact sheet, stop it.
demo: install
	$(VENV)/bin/avatarforge demo --model $(MODEL) --seeds $(SEEDS) --out out/npcs

# Every test (what .ci/run runs): the C++ and C# clients and the Unity package's core against a
# live server (installing Debian's gRPC, Mono and protobuf source on a clean machine), the three
# clients' byte-for-byte agreement, the browser creator in Debian's headless Chromium, then the
# Python suite. Each step installs what it needs and stops the run when it fails.
test: cpp-test csharp-test unity-test cross-client-check web-test python-test

# The Python suite alone (the browser tests are web-test's: they need Chromium).
python-test: install
	$(PY) -m pytest tests/ -m "not browser" --durations=15

# Regenerate the checked-in gRPC code from the contract in proto/ into the client package
# (clients/python/avatarforge/v1; tests/test_proto.py fails when it is stale).
GEN := clients/python
proto:
	$(PY) -m grpc_tools.protoc -Iproto --python_out=$(GEN) --grpc_python_out=$(GEN) --pyi_out=$(GEN) proto/avatarforge/v1/*.proto

# The C++ client core (clients/cpp) built with Debian's gRPC and tested against the real server:
# apt packages (only when missing), configure, build, ctest. CPP_SANITIZE=address|thread builds it
# under a sanitizer (use another CPP_BUILD folder for it). Debug (-O0) because it compiles in
# two thirds of the time of an optimised build and tests the same code.
CPP_BUILD ?= build/cpp
CPP_BUILD_TYPE ?= Debug
CPP_SANITIZE ?=
CPP_JOBS ?= 2
cpp-test: install
	clients/cpp/install-deps.sh
	cmake -S clients/cpp -B $(CPP_BUILD) -DAVATARFORGE_PYTHON=$(abspath $(PY)) -DAVATARFORGE_SANITIZE=$(CPP_SANITIZE) \
		-DCMAKE_BUILD_TYPE=$(CPP_BUILD_TYPE)
	cmake --build $(CPP_BUILD) -j$(CPP_JOBS)
	cd $(CPP_BUILD) && ctest -V -LE slow

# The C# client (clients/csharp) on Mono against the real server's gRPC-Web door: Mono, protoc and
# Google.Protobuf.dll built from Debian's source (cached in CSHARP_BUILD/deps), the client and its
# tests compiled with mcs, then the suites, each ending in "N passed, M failed": message bytes
# both ways with Python; then the client's checks against a live server.
CSHARP_BUILD ?= build/csharp
csharp-build: install
	clients/csharp/install-csharp-deps.sh $(CSHARP_BUILD)/deps
	clients/csharp/build-csharp.sh $(CSHARP_BUILD)

csharp-test: csharp-build
	rm -rf $(CSHARP_BUILD)/golden
	$(PY) clients/csharp/tests/golden_bytes.py write $(CSHARP_BUILD)/golden
	mono $(CSHARP_BUILD)/AvatarForgeClientTests.exe golden $(CSHARP_BUILD)/golden
	$(PY) clients/csharp/tests/golden_bytes.py check $(CSHARP_BUILD)/golden
	AVATARFORGE_EXTRA_MODELS=avatars64 clients/csharp/tests/with_web_server.sh $(PY) $(CSHARP_BUILD)/server \
		clients/csharp/tests/live_suites.sh $(CSHARP_BUILD)

# The Unity package (engine_plugins/unity): assembled with the C# client copied in, its
# engine-free Runtime/Core compiled by mcs as Unity's AvatarForge.Core assembly, then tested
# against a live server ("N passed, M failed"). Scripts that reference UnityEngine are only parsed.
UNITY_BUILD ?= build/unity
unity-test: csharp-build
	engine_plugins/unity/build-unity-core.sh $(CSHARP_BUILD) $(UNITY_BUILD)
	clients/csharp/tests/with_web_server.sh $(PY) $(CSHARP_BUILD)/server \
		mono $(UNITY_BUILD)/AvatarForgeUnityCoreTests.exe

# Python, C++ and C# clients must agree to the byte: the same seeds of the trained default
# model through each (the C++ and C# dump tools that cpp-test and csharp-test built) give
# identical raw RGBA/BGRA pixels and DNA files, and a seed's face with parts set the same PNG and
# DNA (Python through an EditSession, C++ and C# through RenderPreview).
cross-client-check: install
	AVATARFORGE_TEST_MODELS=avatars64 clients/csharp/tests/with_web_server.sh $(PY) build/cross-client \
		clients/cross_client_check.sh $(VENV)/bin/avatarforge $(CPP_BUILD)/avatarforge_dump \
		$(CSHARP_BUILD)/AvatarForgeDump.exe build/cross-client/out

# The GPU check, for the GPU machine the project is sometimes lent (bare, no network, Python 3.12
# with torch+CUDA): `make gpu-wheels` here, then carry build/gpu-wheels there and run
# `make gpu-check`: the CUDA/fp16 tests, the fp16 gate, eager vs CUDA graphs vs torch.compile and
# the batch 1-256 sweep at 64 and 128 px (out/gpu/results.json, throughput.png), then the server
# benchmark against a CUDA server (out/gpu/server.json, results.md).
GPU_PY ?= python3
gpu-wheels: install
	PY=$(PY) benchmarks/fetch_gpu_wheels.sh build/gpu-wheels
gpu-check:
	$(GPU_PY) -m pip install -q --no-index --no-deps build/gpu-wheels/*.whl
	$(GPU_PY) -m pytest -q -p no:cacheprovider tests/test_backends.py tests/test_precision_gate.py
	$(GPU_PY) -m avatarforge.benchmarks.gpu_check --out out/gpu
	$(GPU_PY) -m avatarforge.cli bench --model avatars64 --backend torch --no-gate --json out/gpu/server.json

# avatars128 training on that machine (models/training/gpu_train.sh says how, and what comes back).
gpu-train-wheels: install
	rm -rf build/gpu-train-wheels && $(PIP) download -q --no-deps --only-binary=:all: --python-version 3.12 \
		--implementation cp --platform manylinux2014_x86_64 -d build/gpu-train-wheels python-avatars==1.4.1 resvg-py==0.5.0
gpu-train:
	PY=$(GPU_PY) models/training/gpu_train.sh

# The browser creator's bundle (server/web_static/app.js) rebuilt from proto/ and web/src with
# Node and npm (web/build-web.sh); commit it: tests/test_web_bundle.py fails while it is stale.
web: install
	web/build-web.sh $(PY)

# The browser creator in Debian's headless Chromium (web/install-chromium.sh, only when missing),
# driven by Playwright against `avatarforge serve --web` on avatars64. WEB_SHOTS=docs/web writes
# the README's screenshots and latency figures there.
WEB_SHOTS ?=
web-test: install
	web/install-chromium.sh
	AVATARFORGE_WEB_SCREENSHOTS=$(WEB_SHOTS) $(PY) -m pytest -m browser tests/test_web_creator.py -rA --durations=5
