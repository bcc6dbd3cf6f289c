#!/usr/bin/env bash
# What the C# client needs to build and test on Debian 12, installed by the project itself:
#   install-csharp-deps.sh [OUT_DIR]        (default: build/csharp/deps at the repository root)
# 1. apt: Mono (mcs, C# 7.2; ilasm; System.Net.Http) and protoc 3.21 (its --csharp_out).
# 2. Google.Protobuf.dll 3.21.12 built from Debian's own protobuf source package (no NuGet feed is
#    reachable here), the runtime that matches the installed protoc, with two edits mcs needs.
# Idempotent and quiet: when the packages are installed and OUT_DIR holds the assemblies for the
# installed protoc's version, it prints nothing and touches neither apt nor the network.
# CI runs it as root on a clean machine; elsewhere apt goes through sudo.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$(mkdir -p "${1:-$root/build/csharp/deps}" && cd "${1:-$root/build/csharp/deps}" && pwd)"

SUDO=()
[[ "$(id -u)" -ne 0 ]] && SUDO=(sudo)
export DEBIAN_FRONTEND=noninteractive

"$root/tools/apt-ensure.sh" install-csharp-deps mono-devel protobuf-compiler

# The runtime must be the protoc's own version: protoc 3.21 code calls 3.21 runtime APIs.
version="$(dpkg-query -W -f='${Version}' protobuf-compiler)"
stamp="$out/google-protobuf.version"
if [[ -f "$out/Google.Protobuf.dll" && -f "$out/Google.Protobuf.UnsafeShim.dll" && -f "$stamp" &&
      "$(cat "$stamp")" == "$version" ]]; then
  exit 0
fi

echo "install-csharp-deps: building Google.Protobuf.dll from Debian's protobuf $version source"
# `apt-get source` needs a deb-src entry; Debian 12 images have none. This one mirrors the
# machine's own deb822 sources (same mirror, same snapshot), so the source matches the binaries.
if ! grep -rqs '^Types:.*deb-src\|^deb-src ' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources |
    "${SUDO[@]}" tee /etc/apt/sources.list.d/avatarforge-csharp-src.sources >/dev/null
  "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq
fi
src="$out/src"
rm -rf "$src" && mkdir -p "$src"
# --download-only: the signed .dsc checks the tarball; only the C# runtime is unpacked from it.
# (Debian's own patches to this package touch C++, Java, Python and PHP, none of csharp/.)
# As root, apt warns that it downloads unsandboxed into a folder _apt cannot write: expected here.
if ! (cd "$src" && apt-get source --download-only -qq "protobuf=$version" >"$src/apt.log" 2>&1); then
  cat "$src/apt.log" >&2
  exit 1
fi
upstream="${version%%-*}"
tar -xzf "$src/protobuf_${upstream}.orig.tar.gz" -C "$src" "protobuf-${upstream}/csharp/src/Google.Protobuf"
lib="$src/protobuf-${upstream}/csharp/src/Google.Protobuf"

# Edit 1, an mcs bug: `using static ...SourceCodeInfo.Types;` makes mcs lose the `pb` alias
# elsewhere in the assembly (CS0432). Drop the using and spell the one type it brings in.
for f in Reflection/DescriptorDeclaration.cs Reflection/FileDescriptor.cs; do
  sed -i -e '/^using static Google.Protobuf.Reflection.SourceCodeInfo.Types;/d' \
         -e 's/\bLocation location\b/SourceCodeInfo.Types.Location location/g' \
         -e 's/Enumerable.Empty<Location>()/Enumerable.Empty<SourceCodeInfo.Types.Location>()/g' "$lib/$f"
done
# Edit 2: Mono's System.Runtime.CompilerServices.Unsafe is internal (CS0122), so the five methods
# used come from our IL shim (deps/ProtobufUnsafeShim.il) instead.
sed -i -E 's/\bUnsafe\.(ReadUnaligned|WriteUnaligned|AddByteOffset|Add|As)\b/UnsafeShim.\1/g' \
  "$lib/WritingPrimitives.cs" "$lib/ParsingPrimitives.cs"

ilasm /dll /quiet "/output:$out/Google.Protobuf.UnsafeShim.dll" "$here/deps/ProtobufUnsafeShim.il" >/dev/null
# -nowarn: 1591 (undocumented public members) and 436 (a type in both mscorlib and the sources,
# e.g. Span helpers) are upstream's to fix, not ours; our own code builds with -warnaserror.
(cd "$lib" && mcs -langversion:7.2 -unsafe -optimize+ -target:library -nowarn:1591,436 \
   "-out:$out/Google.Protobuf.dll" -recurse:'*.cs' -r:System.Core -r:System.Numerics \
   "-r:$out/Google.Protobuf.UnsafeShim.dll" >/dev/null)
rm -rf "$src"
echo "$version" >"$stamp"
