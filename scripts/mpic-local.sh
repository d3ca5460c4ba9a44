#!/usr/bin/env bash
# A primary (`hanko serve`) and five remote perspectives (`hanko perspective`, BR 3.2.2.9)
# on one machine, over mutual TLS with credentials made here by openssl. The processes keep
# running; the script ends by printing how to stop them.
#
#   scripts/mpic-local.sh [DIR]        # default DIR: ./mpic-local
#
# DIR gets: pki/ (ca.pem + ca.key, primary.{pem,key} with clientAuth, p1..p5.{pem,key} with
# serverAuth, all for 127.0.0.1), p1..p5.toml and primary.toml, *.log, data/, pids.
# Perspectives listen on 127.0.0.1:15001..15005, the primary's ACME directory is
# https://127.0.0.1:14000/directory (development hierarchy, private profile).
# HANKO_BIN overrides the binary (default: $CARGO_TARGET_DIR or target, debug build).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=$(mkdir -p "${1:-mpic-local}" && cd "${1:-mpic-local}" && pwd)
HANKO=${HANKO_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/hanko}
log() { echo "mpic-local: $*" >&2; }

if [ ! -x "$HANKO" ]; then
    log "building hanko"
    (cd "$ROOT" && cargo build -p hanko --bin hanko)
fi
if [ -s "$DIR/pids" ] && kill -0 $(cat "$DIR/pids") 2>/dev/null; then
    log "already running (pids in $DIR/pids); stop them first: kill \$(cat $DIR/pids)"
    exit 1
fi

PKI=$DIR/pki
mkdir -p "$PKI"
# One CA for both directions (the primary's client certificate and the perspectives' server
# certificates); production would keep them apart and on an offline key.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj "/CN=hanko MPIC local CA" -keyout "$PKI/ca.key" -out "$PKI/ca.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null
leaf() { # NAME EKU
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
        -keyout "$PKI/$1.key" -out "$PKI/$1.csr" 2>/dev/null
    printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n' "$2" \
        >"$PKI/$1.ext"
    openssl x509 -req -in "$PKI/$1.csr" -CA "$PKI/ca.pem" -CAkey "$PKI/ca.key" -CAcreateserial \
        -days 30 -extfile "$PKI/$1.ext" -out "$PKI/$1.pem" 2>/dev/null
    rm -f "$PKI/$1.csr" "$PKI/$1.ext"
}
leaf primary clientAuth

PERSPECTIVES=("p1 ARIN 15001" "p2 RIPE 15002" "p3 APNIC 15003" "p4 LACNIC 15004" "p5 AFRINIC 15005")
: >"$DIR/pids"
REMOTE=""
for entry in "${PERSPECTIVES[@]}"; do
    read -r id rir port <<<"$entry"
    leaf "$id" serverAuth
    cat >"$DIR/$id.toml" <<TOML
[perspective]
listen = "127.0.0.1:$port"
id = "$id"
rir = "$rir"
tls_cert = "$PKI/$id.pem"
tls_key = "$PKI/$id.key"
client_ca = "$PKI/ca.pem"

[validation]
# Each perspective has its own resolver; here all use the system's (one machine).
allow_private_addresses = false
TOML
    "$HANKO" perspective --config "$DIR/$id.toml" >"$DIR/$id.log" 2>&1 &
    echo $! >>"$DIR/pids"
    REMOTE+=$'\n'"[[validation.remote.perspectives]]"$'\n'"id = \"$id\""$'\n'"rir = \"$rir\""$'\n'"url = \"https://127.0.0.1:$port\""$'\n'
done

cat >"$DIR/primary.toml" <<TOML
[server]
listen = "127.0.0.1:14000"
http_listen = "127.0.0.1:14080"

[storage]
data_dir = "$DIR/data"

[validation.remote]
client_cert = "$PKI/primary.pem"
client_key = "$PKI/primary.key"
ca = "$PKI/ca.pem"
timeout_seconds = 10
$REMOTE
TOML

for entry in "${PERSPECTIVES[@]}"; do
    read -r id _ port <<<"$entry"
    for _ in $(seq 100); do
        curl -fsS --max-time 2 --cacert "$PKI/ca.pem" --cert "$PKI/primary.pem" --key "$PKI/primary.key" \
            "https://127.0.0.1:$port/health" >/dev/null 2>&1 && break
        sleep 0.2
    done || true
    curl -fsS --max-time 2 --cacert "$PKI/ca.pem" --cert "$PKI/primary.pem" --key "$PKI/primary.key" \
        "https://127.0.0.1:$port/health" >/dev/null 2>&1 \
        || { log "perspective $id did not start:"; tail -n 20 "$DIR/$id.log" >&2; exit 1; }
done
log "five perspectives answer /health over mTLS"

"$HANKO" serve --config "$DIR/primary.toml" >"$DIR/primary.log" 2>&1 &
echo $! >>"$DIR/pids"
for _ in $(seq 150); do
    [ -f "$DIR/data/ca/root.pem" ] && curl -fsS --max-time 2 --cacert "$DIR/data/ca/root.pem" \
        https://127.0.0.1:14000/health >/dev/null 2>&1 && break
    sleep 0.2
done
curl -fsS --max-time 2 --cacert "$DIR/data/ca/root.pem" https://127.0.0.1:14000/health >/dev/null \
    || { log "the primary did not start:"; tail -n 20 "$DIR/primary.log" >&2; exit 1; }

cat <<INFO
Primary:      https://127.0.0.1:14000/directory  (trust $DIR/data/ca/root.pem)
Perspectives: p1..p5 on https://127.0.0.1:15001..15005 (mTLS; CA $PKI/ca.pem)
Health:       curl --cacert $PKI/ca.pem --cert $PKI/primary.pem --key $PKI/primary.key https://127.0.0.1:15001/health
Metrics:      curl --cacert $DIR/data/ca/root.pem https://127.0.0.1:14000/metrics | grep hanko_perspective
Logs:         $DIR/*.log
Stop:         kill \$(cat $DIR/pids)
INFO
