#!/usr/bin/env bash
# Assembles the Unity package a studio installs:
#
#   engine_plugins/unity/assemble-unity-package.sh OUT_DIR [--protobuf-dir DIR] [--tgz]
#     -> OUT_DIR/com.avatarforge.client/   (Package Manager: "Add package from disk", its package.json)
#     -> OUT_DIR/com.avatarforge.client-VERSION.tgz with --tgz ("Add package from tarball")
#
# The folder in the repository holds only what is Unity's (components, settings, the engine-free
# helpers under Runtime/Core); the C# client itself stays in clients/csharp, its one source. This
# script adds, in Runtime/Core/Client/, a copy of clients/csharp/src and the messages generated
# from proto/ by protoc (PROTOC, default the one on PATH: Debian's 3.21 in CI), and MANIFEST.txt
# with the commit and a hash per copied file. Those compile into the same assembly as Runtime/Core
# (AvatarForge.Core, no UnityEngine), exactly as build-unity-core.sh compiles them in CI.
#
# Google.Protobuf: --protobuf-dir DIR copies every .dll in DIR into Runtime/Plugins/ (e.g. NuGet's
# lib/netstandard2.0 Google.Protobuf.dll with its System.Memory / System.Runtime.CompilerServices
# .Unsafe / System.Buffers, or CI's Mono build in build/csharp/deps). Without it the project must
# already have a Google.Protobuf.dll (3.21 or newer): a Unity project may hold only one.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out="" protobuf="" tgz=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --protobuf-dir) protobuf=$(cd "$2" && pwd); shift 2 ;;
    --tgz) tgz=1; shift ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) out=$1; shift ;;
  esac
done
[[ -n $out ]] || { echo "usage: $0 OUT_DIR [--protobuf-dir DIR] [--tgz]" >&2; exit 2; }
protoc=${PROTOC:-$(command -v protoc || true)}
[[ -x $protoc ]] || { echo "needs protoc (set PROTOC, or clients/csharp/install-csharp-deps.sh)" >&2; exit 1; }

pkg=$out/com.avatarforge.client
rm -rf "$pkg"
mkdir -p "$out"
cp -R "$here/com.avatarforge.client" "$pkg"
client=$pkg/Runtime/Core/Client
mkdir -p "$client"
cp "$repo"/clients/csharp/src/*.cs "$client/"
"$protoc" -I "$repo/proto" --csharp_out="$client" "$repo"/proto/avatarforge/v1/*.proto
if [[ -n $protobuf ]]; then
  mkdir -p "$pkg/Runtime/Plugins"
  cp "$protobuf"/*.dll "$pkg/Runtime/Plugins/"
fi

commit=$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)
git -C "$repo" diff --quiet HEAD -- clients/csharp/src proto engine_plugins/unity 2>/dev/null || commit="$commit (with local changes)"
{
  echo "# C# client copied into the AvatarForge Unity package by assemble-unity-package.sh"
  echo "# commit: $commit"
  echo "# protoc: $("$protoc" --version)"
  (cd "$client" && find . -name '*.cs' | LC_ALL=C sort | xargs sha256sum)
} >"$client/MANIFEST.txt"
"$here/unity-meta.sh" "$pkg" >/dev/null

if [[ $tgz -eq 1 ]]; then
  version=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$pkg/package.json" | head -1)
  # Unity reads npm-style tarballs: everything under a top folder named "package".
  tar -C "$out" --transform 's|^com.avatarforge.client|package|' --owner=0 --group=0 --sort=name \
    -czf "$out/com.avatarforge.client-$version.tgz" com.avatarforge.client
fi
echo "package: $pkg ($(find "$client" -name '*.cs' | wc -l) client files, $("$protoc" --version)${protobuf:+, protobuf DLLs from $protobuf})"
