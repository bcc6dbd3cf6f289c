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
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
