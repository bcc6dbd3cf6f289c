#!/usr/bin/env bash
# The same seeds through every client must give identical raw pixels and identical DNA files:
# the Python CLI and the C++ core over native gRPC, the C# client over gRPC-Web. Run under
# clients/csharp/tests/with_web_server.sh (AVATARFORGE_SERVER = the native door):
#   cross_client_check.sh PYTHON_CLI CPP_DUMP CSHARP_DUMP_EXE OUT_DIR http://127.0.0.1:WEBPORT
# Prints one line per comparison and "N passed, M failed"; exits non-zero on any difference.
set -uo pipefail
cli=$1 cpp=$2 csharp=$3 out=$4 web=$5
seeds=0-11,4294967295  # the largest seed too: the seed's full 32 bits reach every client
passed=0 failed=0
rm -rf "$out" && mkdir -p "$out"

for format in raw raw_bgra; do
  dir="$out/$format"
  mkdir -p "$dir/python" "$dir/cpp" "$dir/csharp"
  "$cli" generate --server "$AVATARFORGE_SERVER" --seeds "$seeds" --format "$format" --out "$dir/python" \
    --no-progress >/dev/null && rm -f "$dir/python/contact_sheet.png"
  "$cpp" --seeds "$seeds" --format "$format" --out "$dir/cpp" "$AVATARFORGE_SERVER" >/dev/null
  mono "$csharp" --seeds "$seeds" --format "$format" --out "$dir/csharp" "$web" >/dev/null
  n=$(find "$dir/python" -type f | wc -l)
  for other in cpp csharp; do
    if [[ "$n" -eq 26 ]] && diff -r "$dir/python" "$dir/$other" >/dev/null; then
      echo "PASS $format: Python and $other give identical pixels and DNA for 13 faces"
      passed=$((passed + 1))
    else
      echo "FAIL $format: Python ($n files) and $other differ:"; diff -rq "$dir/python" "$dir/$other"
      failed=$((failed + 1))
    fi
  done
done
# Parts set on a seed's face (hair_color and accessory, in that order): Python commits them in an
# EditSession (`avatarforge edit`), C++ and C# ask RenderPreview; the PNG and the DNA, which
# records each part, must be the same bytes.
dir="$out/set_parts" seed=42
mkdir -p "$dir/python" "$dir/cpp" "$dir/csharp"
"$cli" edit --server "$AVATARFORGE_SERVER" --seed $seed --set hair_color=RED --set accessory=ROUND --out "$dir/python" >/dev/null
"$cpp" --seeds $seed --format png --set hair_color=RED,accessory=ROUND --out "$dir/cpp" "$AVATARFORGE_SERVER" >/dev/null
mono "$csharp" --seeds $seed --format png --set hair_color=RED,accessory=ROUND --out "$dir/csharp" "$web" >/dev/null
for other in cpp csharp; do
  stem="$dir/$other/$(printf seed%06d $seed)"
  if cmp -s "$dir/python/parts.png" "$stem.png" && cmp -s "$dir/python/edited.dna" "$stem.dna"; then
    echo "PASS set_parts: Python and $other give the same PNG and DNA for seed $seed with hair_color=RED, accessory=ROUND"
    passed=$((passed + 1))
  else
    echo "FAIL set_parts: Python and $other differ for seed $seed:"; ls -l "$dir/python" "$dir/$other"
    failed=$((failed + 1))
  fi
done
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
