#!/usr/bin/env bash
# Throughput and issuance-latency benchmark of a release hanko, all on 127.0.0.1:
#   1. a throwaway BIND9 authoritative for hanko-ci.com (every name A 127.0.0.1) and com,
#      the CA's resolver (like acme-tests/src/bind9.rs, without TSIG: no dns-01 here);
#   2. `hanko serve` (release) with SQLite in a temporary data directory;
#   3. wrk against GET /directory and HEAD /acme/new-nonce;
#   4. issuance_latency (acme-tests/src/bin) for ORDERS sequential http-01 orders.
# Everything started here is stopped on exit. Results: docs/benchmarks.md.
#
#   bash scripts/bench.sh            # WRK_DURATION=10s WRK_CONNECTIONS=32 ORDERS=100 NAMES=1
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
WRK_DURATION=${WRK_DURATION:-10s}
WRK_THREADS=${WRK_THREADS:-2}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-32}
ORDERS=${ORDERS:-100}
NAMES=${NAMES:-1}
ZONE=hanko-ci.com

log() { echo "bench: $*" >&2; }

# ---- build and tools -------------------------------------------------------------------------
cargo build --release --locked -p hanko -p acme-tests
HANKO="$TARGET/release/hanko"
LATENCY="$TARGET/release/issuance_latency"

if ! command -v wrk >/dev/null 2>&1; then
    log "installing wrk"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
# named and dig: bind9_start checks them with the package names.
for tool in wrk curl python3; do
    command -v "$tool" >/dev/null 2>&1 || { log "$tool is required"; exit 1; }
done

# ---- cleanup ---------------------------------------------------------------------------------
# shellcheck source=lib/processes.sh
source "$ROOT/scripts/lib/processes.sh"
# shellcheck source=lib/hanko.sh
source "$ROOT/scripts/lib/hanko.sh"

# ---- BIND9 (scripts/lib/bind9.sh) ---------------------------------------------------------
# shellcheck source=lib/bind9.sh
source "$ROOT/scripts/lib/bind9.sh"
bind9_start "$ZONE"
log "BIND9 on 127.0.0.1:$DNS_PORT"

# ---- hanko -----------------------------------------------------------------------------------
hanko_dev_start "$HANKO" hanko-bench
log "hanko on $BASE (pid $HANKO_PID, http-01 port $HTTP01_PORT)"

# ---- wrk -------------------------------------------------------------------------------------
# wrk does not verify the server certificate; it only needs TLS to the dev hierarchy.
echo 'wrk.method = "HEAD"' >"$DATA/head.lua"
log "wrk GET /directory ($WRK_THREADS threads, $WRK_CONNECTIONS connections, $WRK_DURATION)"
timeout 120 wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"$WRK_DURATION" --latency \
    "$BASE/directory" | tee "$DATA/wrk-directory.txt"
log "wrk HEAD /acme/new-nonce"
timeout 120 wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"$WRK_DURATION" --latency \
    -s "$DATA/head.lua" "$BASE/acme/new-nonce" | tee "$DATA/wrk-nonce.txt"

# ---- issuance latency ------------------------------------------------------------------------
log "issuance_latency: $ORDERS orders x $NAMES name(s)"
# The slowest order is bounded by the binary (60 s each, stops after 5 failures); this is
# the outer bound for the whole run.
timeout 1800 "$LATENCY" --directory "$BASE/directory" --root "$ROOT_PEM" \
    --http01-port "$HTTP01_PORT" --orders "$ORDERS" --names "$NAMES" | tee "$DATA/latency.txt"

RSS=$(awk '/^VmHWM/ {print $2, $3}' "/proc/$HANKO_PID/status" 2>/dev/null || echo "n/a")
# A non-2xx or a socket error in wrk means the figures are not of a healthy server.
for f in "$DATA/wrk-directory.txt" "$DATA/wrk-nonce.txt"; do
    if grep -qE 'Non-2xx|Socket errors' "$f"; then
        log "warning: $(basename "$f"): $(grep -E 'Non-2xx|Socket errors' "$f" | tr -s ' ')"
    fi
done

# ---- summary ---------------------------------------------------------------------------------
wrk_summary() {
    local rps lat
    rps=$(awk '/^Requests\/sec/ {print $2}' "$2")
    lat=$(awk '/Latency Distribution/ {on=1; next} on && /%/ {printf "p%s %s  ", $1, $2} on && !/%/ {on=0}' "$2" | sed 's/%//g')
    printf '%-28s %10s req/s   %s\n' "$1" "$rps" "$lat"
}
echo
echo "==== hanko benchmark summary ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)) ===="
echo "wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d$WRK_DURATION:"
wrk_summary "  GET  /directory" "$DATA/wrk-directory.txt"
wrk_summary "  HEAD /acme/new-nonce" "$DATA/wrk-nonce.txt"
echo
cat "$DATA/latency.txt"
echo
echo "hanko peak RSS (VmHWM): $RSS"
