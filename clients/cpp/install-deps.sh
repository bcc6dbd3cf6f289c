#!/usr/bin/env bash
# Debian packages the C++ client core needs to build and test (Debian 12: gRPC 1.51, protobuf 3.21).
# Idempotent and quiet: when everything is installed it prints nothing and touches no index;
# `apt-get update` runs only when something is missing. CI runs it as root on a clean machine.
# apt waits up to 10 min for a lock another apt holds (an unattended upgrade, a parallel build).
set -euo pipefail

PACKAGES=(
  g++ cmake make pkg-config
  openssl                                # the throwaway PKI of the TLS test (tests/with_secure_server.sh)
  protobuf-compiler libprotobuf-dev      # protoc + the C++ runtime its generated code needs
  protobuf-compiler-grpc libgrpc++-dev   # grpc_cpp_plugin + libgrpc++
)

missing=()
for p in "${PACKAGES[@]}"; do
  # "install ok installed" is dpkg's status for a fully installed package.
  if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]]; then
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

SUDO=()
[[ "$(id -u)" -ne 0 ]] && SUDO=(sudo)
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq
"${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
