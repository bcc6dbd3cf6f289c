#!/usr/bin/env bash
# Builds the C# client with Mono's mcs (C# 7.2) into OUT_DIR (default build/csharp):
#   gen/Avatarforge.cs           messages generated from proto/ by Debian's protoc (namespace AvatarForge.V1)
#   AvatarForge.Client.dll       the generated messages + src/ (transport, client, plain types)
#   AvatarForgeClientTests.exe   tests/ (run against a live server by tests/with_web_server.sh)
#   AvatarForgeDump.exe          tools/: faces' raw pixels and DNA to files (cross-client checks)
# Needs install-csharp-deps.sh first (Mono, protoc, OUT_DIR/deps/Google.Protobuf.dll). Our code and the
# generated code compile with -warnaserror: a warning fails the build.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$(mkdir -p "${1:-$root/build/csharp}" && cd "${1:-$root/build/csharp}" && pwd)"
deps="$out/deps"
[[ -f "$deps/Google.Protobuf.dll" ]] || { echo "build-csharp.sh: run clients/csharp/install-csharp-deps.sh $deps first" >&2; exit 1; }

mkdir -p "$out/gen"
protoc -I "$root/proto" --csharp_out="$out/gen" "$root"/proto/avatarforge/v1/*.proto

MCS=(mcs -langversion:7.2 -warnaserror+ -nologo -debug)
"${MCS[@]}" -target:library -out:"$out/AvatarForge.Client.dll" -doc:"$out/AvatarForge.Client.xml" -nowarn:1591 \
  -r:System.Net.Http -r:"$deps/Google.Protobuf.dll" "$out"/gen/*.cs "$here"/src/*.cs
"${MCS[@]}" -target:exe -out:"$out/AvatarForgeClientTests.exe" \
  -r:System.Net.Http -r:"$deps/Google.Protobuf.dll" -r:"$out/AvatarForge.Client.dll" "$here"/tests/*.cs
"${MCS[@]}" -target:exe -out:"$out/AvatarForgeDump.exe" \
  -r:"$deps/Google.Protobuf.dll" -r:"$out/AvatarForge.Client.dll" "$here"/tools/*.cs
# Mono finds referenced assemblies beside the exe.
cp "$deps/Google.Protobuf.dll" "$deps/Google.Protobuf.UnsafeShim.dll" "$out/"
