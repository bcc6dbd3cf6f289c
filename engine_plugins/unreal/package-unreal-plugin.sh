#!/usr/bin/env bash
# Assembles the Unreal plugin a studio copies into <Project>/Plugins/:
#
#   engine_plugins/unreal/package-unreal-plugin.sh OUT_DIR      -> OUT_DIR/AvatarForge/
#
# The adapter (engine_plugins/unreal/AvatarForge) plus, in Source/AvatarForge/Core/, the C++ client
# core (clients/cpp/include, clients/cpp/src) and the protobuf/gRPC code generated from proto/, and
# Core/MANIFEST.txt with the hash of every file. Copies, not references: the plugin folder must
# build with nothing else of this repository next to it.
#
# The generated code must come from the protoc of the protobuf the game links (its headers check
# the version): PROTOC and GRPC_CPP_PLUGIN point at that install's tools, e.g. a vcpkg tree's
# installed/<triplet>/tools/protobuf/protoc and tools/grpc/grpc_cpp_plugin. The defaults are the
# ones on PATH (Debian's protoc 3.21 / gRPC 1.51 in CI).
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: $0 OUT_DIR" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
protoc=${PROTOC:-$(command -v protoc || true)}
plugin=${GRPC_CPP_PLUGIN:-$(command -v grpc_cpp_plugin || true)}
[[ -x "$protoc" && -x "$plugin" ]] || {
  echo "needs protoc and grpc_cpp_plugin (set PROTOC / GRPC_CPP_PLUGIN, or clients/cpp/install-deps.sh)" >&2; exit 1; }

out=$1/AvatarForge
rm -rf "$out"
mkdir -p "$1"
cp -R "$here/AvatarForge" "$out"
core=$out/Source/AvatarForge/Core
mkdir -p "$core/include" "$core/src" "$core/gen"
cp -R "$repo/clients/cpp/include/avatarforge" "$core/include/"
cp "$repo/clients/cpp/src/"*.cc "$repo/clients/cpp/src/"*.h "$core/src/"
"$protoc" -I "$repo/proto" --cpp_out="$core/gen" --grpc_out="$core/gen" \
  --plugin=protoc-gen-grpc="$plugin" "$repo/proto/avatarforge/v1/avatarforge.proto"

commit=$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)
git -C "$repo" diff --quiet HEAD -- clients/cpp proto engine_plugins/unreal 2>/dev/null || commit="$commit (with local changes)"
{
  echo "# AvatarForge Unreal plugin core, assembled by package-unreal-plugin.sh"
  echo "# commit: $commit"
  echo "# protoc: $("$protoc" --version)"
  echo "# proto sha256: $(sha256sum "$repo/proto/avatarforge/v1/avatarforge.proto" | cut -d' ' -f1)"
  (cd "$core" && find include src gen -type f | LC_ALL=C sort | xargs sha256sum)
} >"$core/MANIFEST.txt"
echo "plugin: $out ($(find "$core" -type f | wc -l) core files, $("$protoc" --version))"
