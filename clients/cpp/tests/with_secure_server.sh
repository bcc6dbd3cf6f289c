#!/usr/bin/env bash
# Runs a C++ test binary against a real AvatarForge server that requires mutual TLS and an API key:
#   with_secure_server.sh PYTHON WORKDIR TEST_BINARY
# Makes a throwaway PKI in WORKDIR with openssl (a CA, a server certificate for 127.0.0.1, a
# client certificate, and a second "rogue" CA the server does not trust), a keys file with one
# key (`avatarforge keys add`), starts the server with --tls-cert/--tls-key/--tls-client-ca and
# --keys-file, runs `TEST_BINARY HOST:PORT PKI_DIR KEY`, and stops the server whatever happens.
set -euo pipefail
python=$1 workdir=$2 test=$3
rm -rf "$workdir" && mkdir -p "$workdir"
cd "$workdir"
quiet() { "$@" >/dev/null 2>&1 || { echo "failed: $*"; "$@"; exit 1; }; }
ca() {  # ca NAME: a self-signed CA
  quiet openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$1" -keyout "$1.key" -out "$1.pem"
}
leaf() {  # leaf NAME CA EXT: a certificate signed by CA
  quiet openssl req -newkey rsa:2048 -nodes -subj "/CN=$1" -keyout "$1.key" -out "$1.csr"
  printf '%s\n' "$3" > "$1.ext"
  quiet openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days 2 -extfile "$1.ext" -out "$1.pem"
}
ca ca
ca rogue
leaf server ca "subjectAltName=IP:127.0.0.1,DNS:localhost"
leaf client ca "extendedKeyUsage=clientAuth"
leaf rogue_client rogue "extendedKeyUsage=clientAuth"

key=$("$python" -m avatarforge.cli keys add cpp-test --scopes generate,edit --file keys.json 2>/dev/null | grep '^af_')
bundle="$workdir/tiny"
"$python" -c "from avatarforge.models.bundle import create_seeded_bundle; create_seeded_bundle('$bundle', seed=0)"

"$python" -m avatarforge.server --model "$bundle" --address 127.0.0.1:0 --backend torch --threads 1 \
  --tls-cert server.pem --tls-key server.key --tls-client-ca ca.pem --keys-file keys.json >server.log 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true' EXIT
port=""
for _ in $(seq 1 900); do  # up to 90 s: importing torch on a busy 2-core machine is slow
  port=$(sed -n 's/.*AvatarForge serving .* on port \([0-9]*\).*/\1/p' server.log 2>/dev/null)
  [[ -n "$port" ]] && break
  kill -0 "$server" 2>/dev/null || { echo "server exited:"; cat server.log; exit 1; }
  sleep 0.1
done
[[ -n "$port" ]] || { echo "server did not start in 90 s:"; cat server.log; exit 1; }
"$test" "127.0.0.1:$port" "$workdir" "$key"
