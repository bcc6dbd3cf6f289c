#!/usr/bin/env bash
# Builds what CI can build of the Unity package, from the package exactly as a studio receives it:
#   engine_plugins/unity/build-unity-core.sh CSHARP_BUILD OUT_DIR
# 1. assemble-unity-package.sh OUT_DIR/package (the client copied in, messages generated)
# 2. OUT_DIR/AvatarForge.Core.dll: every .cs under the package's Runtime/Core (the AvatarForge.Core
#    assembly: our engine-free helpers + the client + messages), mcs -langversion:7.2 -warnaserror
# 3. OUT_DIR/AvatarForgeUnityCoreTests.exe: engine_plugins/unity/tests (run against a live server)
# 4. the UnityEngine-side scripts (Runtime, Editor, Samples~) parsed only: syntax, not types, since
#    there is no UnityEngine.dll here
# CSHARP_BUILD is clients/csharp's build folder (its deps/Google.Protobuf.dll).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
csharp=$(cd "$1" && pwd)
out=$(mkdir -p "$2" && cd "$2" && pwd)
[[ -f $csharp/deps/Google.Protobuf.dll ]] || { echo "build-unity-core.sh: run make csharp-build first" >&2; exit 1; }

"$here/assemble-unity-package.sh" "$out/package" >/dev/null
pkg=$out/package/com.avatarforge.client
MCS=(mcs -langversion:7.2 -warnaserror+ -nologo -debug)
mapfile -t core < <(find "$pkg/Runtime/Core" -name '*.cs' | LC_ALL=C sort)
"${MCS[@]}" -target:library -out:"$out/AvatarForge.Core.dll" -r:System.Net.Http -r:"$csharp/deps/Google.Protobuf.dll" "${core[@]}"
"${MCS[@]}" -target:exe -out:"$out/AvatarForgeUnityCoreTests.exe" -r:System.Net.Http -r:"$csharp/deps/Google.Protobuf.dll" \
  -r:"$out/AvatarForge.Core.dll" "$here"/tests/*.cs
mapfile -t engine < <(find "$pkg/Runtime" "$pkg/Editor" "$pkg/Samples~" -name '*.cs' -not -path "$pkg/Runtime/Core/*" | LC_ALL=C sort)
mcs -langversion:7.2 --parse "${engine[@]}"
cp "$csharp/deps/Google.Protobuf.dll" "$csharp/deps/Google.Protobuf.UnsafeShim.dll" "$out/"
echo "unity core: ${#core[@]} files -> AvatarForge.Core.dll; ${#engine[@]} UnityEngine scripts parsed (not compiled)"
