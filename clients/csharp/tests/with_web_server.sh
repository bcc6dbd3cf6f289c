#!/usr/bin/env bash
# Runs a command against a real AvatarForge server on loopback, gRPC-Web door included:
#   with_web_server.sh PYTHON WORKDIR COMMAND [ARGS...]
# runs `COMMAND ARGS... http://127.0.0.1:WEBPORT` with AVATARFORGE_SERVER=127.0.0.1:PORT (the
# native door, where the Python CLI looks) and stops the server (by its PID) whatever happens. Two seeded bundles are made in WORKDIR once: "tiny" (32 px, the default model) and
# "wide" (256 px with few channels: its 4x upscale, 1024 px raw RGBA, is the server's largest
# image, just over 4 MiB, yet cheap to render on a CPU).
set -euo pipefail
python=$1 workdir=$2; shift 2
mkdir -p "$workdir"
if [[ ! -f "$workdir/wide/manifest.json" ]]; then
  "$python" - "$workdir" <<'EOF'
import sys
from avatarforge.models.bundle import create_seeded_bundle
from avatarforge.models.networks import GeneratorConfig
create_seeded_bundle(f"{sys.argv[1]}/tiny", seed=0)
wide = GeneratorConfig(z_dim=32, w_dim=32, resolution=256, mapping_layers=2,
                       channels={4: 16, 8: 16, 16: 16, 32: 8, 64: 8, 128: 8, 256: 8})
create_seeded_bundle(f"{sys.argv[1]}/wide", seed=1, cfg=wide, name="wide")
EOF
fi

# AVATARFORGE_TEST_MODELS serves other bundles instead (the cross-client check uses the trained
# default model, avatars64).
# AVATARFORGE_EXTRA_MODELS are served after those (avatars64 for the Encode checks: tiny has no encoder).
models=${AVATARFORGE_TEST_MODELS:-$workdir/tiny,$workdir/wide}${AVATARFORGE_EXTRA_MODELS:+,$AVATARFORGE_EXTRA_MODELS}
log="$workdir/server.log"
"$python" -m avatarforge.server --model "$models" --address 127.0.0.1:0 \
  --web-address 127.0.0.1:0 --backend torch --threads 1 >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true' EXIT

port=""
for _ in $(seq 1 900); do  # up to 90 s: importing torch on a busy 2-core machine is slow
  port=$(sed -n 's/.*gRPC-Web on .* (port \([0-9]*\)).*/\1/p' "$log")
  native=$(sed -n 's/.*AvatarForge serving .* on port \([0-9]*\).*/\1/p' "$log")
  [[ -n "$port" && -n "$native" ]] && break
  kill -0 "$server" 2>/dev/null || { echo "server exited:"; cat "$log"; exit 1; }
  sleep 0.1
done
[[ -n "$port" ]] || { echo "server did not start in 90 s:"; cat "$log"; exit 1; }

AVATARFORGE_SERVER="127.0.0.1:$native" "$@" "http://127.0.0.1:$port"
