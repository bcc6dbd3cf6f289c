#!/usr/bin/env bash
# The same seeds through the Python CLI (native gRPC) and the C# dump tool (gRPC-Web) must give
# identical raw RGBA bytes and identical DNA files. Run under with_web_server.sh:
#   cross_client_check.sh PYTHON_CLI DUMP_EXE OUT_DIR http://127.0.0.1:WEBPORT   (AVATARFORGE_SERVER set)
set -euo pipefail
cli=$1 dump=$2 out=$3 web=$4
seeds=0-11,4294967295
rm -rf "$out" && mkdir -p "$out"
"$cli" generate --server "$AVATARFORGE_SERVER" --seeds "$seeds" --format raw --out "$out/python" --no-progress >/dev/null
mono "$dump" --seeds "$seeds" --format raw --out "$out/csharp" "$web" >/dev/null
rm -f "$out/python/contact_sheet.png"
n=$(ls "$out/python" | wc -l)
if [[ "$n" -eq 26 ]] && diff -r "$out/python" "$out/csharp" >/dev/null; then
  echo "PASS Python (native) and C# (gRPC-Web): 13 faces, identical .rgba and .dna files"
  echo "1 passed, 0 failed"
else
  echo "FAIL Python and C# files differ ($n Python files):"; diff -rq "$out/python" "$out/csharp" || true
  echo "0 passed, 1 failed"; exit 1
fi
