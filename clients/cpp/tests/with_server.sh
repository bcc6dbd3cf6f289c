#!/usr/bin/env bash
# Runs a C++ test binary against a real AvatarForge server on loopback:
#   with_server.sh PYTHON WORKDIR TEST_BINARY [ARGS...]
# Makes a tiny seeded bundle in WORKDIR (once), starts the server on a free port, runs
# `TEST_BINARY HOST:PORT ARGS...`, and stops the server (by its PID) whatever happens.
set -euo pipefail
python=$1 workdir=$2; shift 2
mkdir -p "$workdir"
bundle="$workdir/tiny"
if [[ ! -f "$bundle/manifest.json" ]]; then
  "$python" -c "from avatarforge.models.bundle import create_seeded_bundle; create_seeded_bundle('$bundle', seed=0)"
fi

log="$workdir/server.log"
: >"$log"  # exists before the poll below reads it: the background redirect may not have run yet
# AVATARFORGE_EXTRA_MODELS (comma list) is served beside the tiny default model, e.g. avatars64
# for the test that encodes pictures (tiny has no encoder).
models="$bundle${AVATARFORGE_EXTRA_MODELS:+,$AVATARFORGE_EXTRA_MODELS}"
"$python" -m avatarforge.server --model "$models" --address 127.0.0.1:0 --backend torch >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true' EXIT

port=""
for _ in $(seq 1 600); do  # up to 60 s: importing torch on a busy 2-core machine is slow
  port=$(sed -n 's/.*AvatarForge serving .* on port \([0-9]*\).*/\1/p' "$log")
  [[ -n "$port" ]] && break
  kill -0 "$server" 2>/dev/null || { echo "server exited:"; cat "$log"; exit 1; }
  sleep 0.1
done
[[ -n "$port" ]] || { echo "server did not start in 60 s:"; cat "$log"; exit 1; }

test=$1; shift
"$test" "127.0.0.1:$port" "$@"
