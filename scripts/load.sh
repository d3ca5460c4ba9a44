#!/usr/bin/env bash
# hanko-load against a hanko started here, all on 127.0.0.1:
#   1. a throwaway BIND9 authoritative for hanko-ci.com (every name A 127.0.0.1) and com —
#      the same set-up as scripts/bench.sh — so hanko's http-01 validation of the random
#      names hanko-load orders (s<N>-<rand>.hanko-ci.com) reaches hanko-load's responder;
#   2. `hanko serve` (PROFILE=release|debug) with SQLite in a temporary data directory,
#      its http-01 port = hanko-load's responder port;
#   3. hanko-load with the arguments given to this script (after the set-up's own flags).
# MPIC=N also starts N `hanko perspective` processes (scripts/lib/mpic.sh) the primary asks
# for every validation, and prints the CPU the run cost (docs/MPIC.md).
# Everything started here is stopped on exit.
#
#   bash scripts/load.sh --subscribers 32 --duration 30 --csv /tmp/run.csv --png /tmp/run.png
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
PROFILE=${PROFILE:-release}
ZONE=hanko-ci.com
log() { echo "load: $*" >&2; }

if [ "$PROFILE" = release ]; then
    cargo build --release --locked -p hanko -p acme-tests --bin hanko --bin hanko-load
else
    cargo build --locked -p hanko -p acme-tests --bin hanko --bin hanko-load
fi
HANKO="$TARGET/$PROFILE/hanko"
LOAD="$TARGET/$PROFILE/hanko-load"
for tool in curl python3; do
    command -v "$tool" >/dev/null 2>&1 || { log "$tool is required"; exit 1; }
done

# shellcheck source=lib/processes.sh
source "$ROOT/scripts/lib/processes.sh"
# shellcheck source=lib/hanko.sh
source "$ROOT/scripts/lib/hanko.sh"

# ---- BIND9 -------------------------------------------------------------------------------
# shellcheck source=lib/bind9.sh
source "$ROOT/scripts/lib/bind9.sh"
bind9_start "$ZONE"

# ---- hanko (and MPIC=N remote perspectives, docs/MPIC.md) -----------------------------------
MPIC=${MPIC:-0}
# shellcheck source=lib/mpic.sh
source "$ROOT/scripts/lib/mpic.sh"
# Credentials in BIND9's work directory, removed with it on exit.
if [ "$MPIC" -gt 0 ]; then mpic_prepare "$MPIC" "$WORK/mpic"; fi

hanko_dev_start "$HANKO" hanko-load
if [ "$MPIC" -gt 0 ]; then mpic_start "$HANKO"; fi
log "hanko ($PROFILE) on $BASE, BIND9 on 127.0.0.1:$DNS_PORT, http-01 on 127.0.0.1:$HTTP01_PORT, $MPIC remote perspectives"

# ---- hanko-load --------------------------------------------------------------------------
CPU_PIDS="$HANKO_PID $EXTRA_PIDS"
CPU_PRIMARY_0=$(cpu_seconds "$HANKO_PID") CPU_ALL_0=$(cpu_seconds $CPU_PIDS)
"$LOAD" --directory "$BASE/directory" --ca-bundle "$ROOT_PEM" --http01-port "$HTTP01_PORT" \
    --label "hanko ($PROFILE, MPIC=$MPIC)" "$@"
log "CPU seconds during the run: primary $(awk -v a="$(cpu_seconds "$HANKO_PID")" -v b="$CPU_PRIMARY_0" 'BEGIN {printf "%.2f", a - b}'), primary + perspectives $(awk -v a="$(cpu_seconds $CPU_PIDS)" -v b="$CPU_ALL_0" 'BEGIN {printf "%.2f", a - b}')"
# Mean time per perspective (the primary's `local` and each remote), from /metrics.
curl -fsS --max-time 5 --cacert "$ROOT_PEM" "$BASE/metrics" \
    | python3 -c '
import re, sys
v = {}
for line in sys.stdin:
    m = re.match(r"hanko_perspective_seconds_(sum|count)\{perspective=\"([^\"]+)\"\} (\S+)", line)
    if m:
        v.setdefault(m[2], {})[m[1]] = float(m[3])
for p, x in sorted(v.items()):
    print("load: perspective %s: %d validations, mean %.1f ms" % (p, x["count"], 1000 * x["sum"] / x["count"]))
' >&2 || true
RSS=$(awk '/^VmHWM/ {print $2, $3}' "/proc/$HANKO_PID/status" 2>/dev/null || echo "n/a")
log "hanko peak RSS (VmHWM): $RSS"
