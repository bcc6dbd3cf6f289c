#!/usr/bin/env bash
# Wheels for `make gpu-check` on the GPU machine the project is sometimes lent: it has Python
# 3.12, torch (CUDA), numpy, pillow, safetensors, onnx and onnxruntime but no network, so
# everything else travels as wheels made here (the device tool's `carry` takes this folder):
#   benchmarks/fetch_gpu_wheels.sh [DEST]   (default build/gpu-wheels; about 36 MB)
# Versions are the ones this project pins and tests (the server pins grpcio/protobuf exactly).
set -euo pipefail
cd "$(dirname "$0")/.."
dest=${1:-build/gpu-wheels}
py=${PY:-.venv/bin/python}
rm -rf "$dest" && mkdir -p "$dest"
"$py" -m pip wheel -q --no-deps --no-build-isolation -w "$dest" clients/python .   # ours: pure Python
"$py" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d "$dest" \
  grpcio==1.85.1 grpcio-health-checking==1.85.1 grpcio-reflection==1.85.1 grpcio-status==1.85.1 \
  protobuf==7.36.2 googleapis-common-protos==1.76.0 \
  connectrpc==0.13.0 protobuf-py==0.7.0 protobuf-py-ext==0.7.0 protobuf-py-pure==0.7.0 pyqwest==0.12.0 \
  hypercorn==0.18.0 h11==0.16.0 h2==4.4.1 hpack==4.2.0 hyperframe==6.1.0 priority==2.0.0 wsproto==1.3.2 \
  starlette==1.10.0 anyio==4.16.0 idna==3.20 typing_extensions==4.16.0 tqdm==4.70.1 \
  pytest==9.2.0 pluggy==1.7.0 iniconfig==2.3.1 packaging==26.4 pytest-timeout==2.4.0
du -sh "$dest" | cut -f1 | xargs echo "gpu wheels:"
