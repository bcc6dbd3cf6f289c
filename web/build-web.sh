#!/usr/bin/env bash
# Builds the browser creator's bundle, server/web_static/app.js, from proto/ and web/src:
# npm ci (exact versions from package-lock.json), TypeScript messages and client generated
# from the proto (protoc from grpcio-tools, plugin protoc-gen-es), a type check, one esbuild
# bundle, then the stamp of its inputs that tests/test_web_bundle.py checks.
# Usage: web/build-web.sh PYTHON (a Python with grpcio-tools: the project's .venv/bin/python)
set -euo pipefail
PY="$(cd "$(dirname "${1:?usage: web/build-web.sh PYTHON}")" && pwd)/$(basename "$1")"
cd "$(dirname "$0")"

npm ci --no-fund --no-audit --loglevel=error
rm -rf src/gen && mkdir -p src/gen
"$PY" -m grpc_tools.protoc -I../proto --plugin=protoc-gen-es=node_modules/.bin/protoc-gen-es \
  --es_out=src/gen --es_opt=target=ts ../proto/avatarforge/v1/avatarforge.proto
node_modules/.bin/tsc --noEmit -p .
# The bundle carries @bufbuild/protobuf and @connectrpc/connect(-web): Apache-2.0, kept in view.
node_modules/.bin/esbuild src/page.ts --bundle --minify --format=esm --target=es2020 --log-level=warning \
  --legal-comments=none --outfile=../server/web_static/app.js \
  --banner:js="/* AvatarForge character creator, built by web/build-web.sh. Includes @bufbuild/protobuf and @connectrpc/connect(-web) (c) Buf Technologies, Apache-2.0. */"
"$PY" bundle_stamp.py write
