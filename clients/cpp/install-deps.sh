#!/usr/bin/env bash
# Debian packages the C++ client core needs to build and test (Debian 12: gRPC 1.51, protobuf 3.21).
# Quiet when everything is installed (tools/apt-ensure.sh).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"

PACKAGES=(
  g++ cmake make pkg-config
  openssl                                # the throwaway PKI of the TLS test (tests/with_secure_server.sh)
  protobuf-compiler libprotobuf-dev      # protoc + the C++ runtime its generated code needs
  protobuf-compiler-grpc libgrpc++-dev   # grpc_cpp_plugin + libgrpc++
)
"$root/tools/apt-ensure.sh" install-deps "${PACKAGES[@]}"
