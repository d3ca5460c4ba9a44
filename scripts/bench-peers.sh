#!/usr/bin/env bash
# Side-by-side benchmark (issue #5 items 2-3): the same hanko-load profile against Pebble and
# two Hanko configurations, in alternation, all on 127.0.0.1, release builds. See docs/PEERS.md.
#
#   bash scripts/bench-peers.sh                          # ROUNDS=3, --subscribers 32 --duration 30
#   ROUNDS=1 bash scripts/bench-peers.sh --subscribers 8 --duration 10   # other hanko-load flags
#   SERVERS="pebble dev" bash scripts/bench-peers.sh     # a subset (pebble, dev, full)
#   bash scripts/bench-peers.sh --long                   # 10,000 issuances in a row, Hanko dev
#
# Servers, each started fresh for each run (its own empty database):
#   pebble  Pebble (Debian package) with PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0, real
#           http-01 validation (no PEBBLE_VA_ALWAYS_VALID) through BIND9 (-dnsserver);
#   dev     `hanko serve`, embedded SQLite, software development key, no CT (as scripts/load.sh);
#   full    `hanko serve`, keys in SoftHSM2 from `hanko ceremony`, pkilint before every
#           signature, three local RFC 6962 test logs (bench_fullca: ceremony once per script
#           run, logs served by that process for every round; the post-ceremony database is
#           copied for each round), DNSSEC through bench_fullca's validating Unbound and five
#           remote perspectives (MPIC) that bench_fullca also runs.
# One throwaway BIND9 resolves every name under hanko-ci.com to 127.0.0.1 for all of them
# (for `full`, bench_fullca's own BIND9 serves the same wildcard zone behind its Unbound).
#
# Figures (hanko-load --summary-json; /proc of the server):
#   issuances/s   successful issuances / time from the start to the last successful one (the
#                 run's wall time, unless the server stopped answering: Pebble 2.4.0 can
#                 deadlock under this load, and its stuck requests then count as errors);
#   finalize      finalize POST sent → order `valid` (hanko-load's `certificate-ready` step):
#                 Pebble answers the POST with `processing` and issues in a goroutine, Hanko
#                 waits up to 5 s for its issuer task and answers `valid` (src/ra/orders.rs),
#                 so the POST alone measures different things on the two servers;
#                 hanko-load polls every 20 ms (acme-tests/src/load/flow.rs POLL_INTERVAL);
#   end-to-end    new account → certificate downloaded (hanko-load's `end-to-end` step);
#   idle RSS      VmRSS 2 s after the server answers its directory, before the load;
#   peak RSS      VmHWM at the end of the run (includes start-up);
#   CPU s/iss.    utime+stime (+ reaped children) delta over the run / successful issuances.
#   load ms/iss   hanko-load's own CPU (its --summary-json `cpu_ticks`) / successful issuances:
#                 the load generator shares the cores, so (cores x 1000) / (server + load
#                 ms/iss) bounds the issuances/s any server can reach on this machine.
#   RSS and CPU cover the server's process tree: the server, plus for `full` its pkilint
#   worker (python); never hanko-load, BIND9, Unbound, the CT logs or the five remote
#   perspectives of `full` (outside services, as in production; docs/MPIC.md has their cost).
# The table gives the median over rounds of each figure, and Hanko/Pebble ratios.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
ROUNDS=${ROUNDS:-3}
SERVERS=${SERVERS:-pebble dev full}
LONG_ISSUANCES=${LONG_ISSUANCES:-10000}
ZONE=hanko-ci.com
log() { echo "bench-peers: $*" >&2; }

LONG=0
if [ "${1:-}" = --long ]; then
    LONG=1
    shift
fi
if [ "$#" -gt 0 ]; then
    PROFILE_ARGS=("$@")
elif [ "$LONG" = 1 ]; then
    PROFILE_ARGS=(--subscribers 32 --issuances "$LONG_ISSUANCES")
else
    PROFILE_ARGS=(--subscribers 32 --duration 30)
fi

if ! command -v pebble >/dev/null 2>&1; then
    log "installing pebble (Debian package)"
    apt-get install -y pebble >/dev/null
fi
for tool in curl python3 openssl; do
    command -v "$tool" >/dev/null 2>&1 || { log "$tool is required"; exit 1; }
done
cargo build --release --locked -p hanko -p acme-tests --bin hanko --bin hanko-load --bin bench_fullca
HANKO="$TARGET/release/hanko"
LOAD="$TARGET/release/hanko-load"
FULLCA="$TARGET/release/bench_fullca"
# The python with pkilint: HANKO_TEST_PKILINT_PYTHON, else the repository's .venv (the
# lookup of acme-tests/src/pkilint.rs).
PKILINT_PYTHON=${HANKO_TEST_PKILINT_PYTHON:-}
CLK_TCK=$(getconf CLK_TCK)

# shellcheck source=lib/processes.sh
source "$ROOT/scripts/lib/processes.sh"
# shellcheck source=lib/hanko.sh
source "$ROOT/scripts/lib/hanko.sh"
# shellcheck source=lib/bind9.sh
source "$ROOT/scripts/lib/bind9.sh"
bind9_start "$ZONE"
DATA=$(mktemp -d "${TMPDIR:-/tmp}/hanko-peers-XXXXXX")
RESULTS=${RESULTS:-$ROOT/target/bench-peers/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$RESULTS"
# Only our settings reach the servers.
while read -r var; do unset "$var"; done < <(compgen -e | grep '^HANKO_' || true)
[ -n "$PKILINT_PYTHON" ] && export HANKO_TEST_PKILINT_PYTHON=$PKILINT_PYTHON

# ---- Pebble's listener certificate: a CA and a 127.0.0.1 leaf (webpki refuses a CA as leaf)
pebble_certificates() {
    local d=$DATA/pebble-tls
    mkdir -p "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=bench-peers listener CA" -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
        -keyout "$d/key.pem" -out "$d/leaf.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' >"$d/ext"
    openssl x509 -req -in "$d/leaf.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
        -days 2 -extfile "$d/ext" -out "$d/cert.pem" 2>/dev/null
}
pebble_certificates

# ---- the full-pipeline CA: ceremony once, CT logs for every round ------------------------
FULLCA_PID=
if [ "$LONG" = 0 ] && [[ " $SERVERS " == *" full "* ]]; then
    HANKO_BIN="$HANKO" "$FULLCA" --out "$DATA/fullca" >"$DATA/fullca.out" 2>"$DATA/fullca.log" &
    FULLCA_PID=$!
    EXTRA_PIDS="$FULLCA_PID"
    for i in $(seq 600); do
        grep -q '^ready' "$DATA/fullca.out" 2>/dev/null && break
        kill -0 "$FULLCA_PID" 2>/dev/null || { log "bench_fullca failed:"; cat "$DATA/fullca.log" >&2; exit 1; }
        [ "$i" -eq 600 ] && { log "bench_fullca not ready after 120 s"; exit 1; }
        sleep 0.2
    done
    log "full-pipeline CA ready (SoftHSM2, ceremonies, 3 CT logs)"
fi

# ---- process sampling: the server's process tree -----------------------------------------
tree_pids() {
    local pid=$1 child
    echo "$pid"
    for child in $(ps -o pid= --ppid "$pid" 2>/dev/null); do tree_pids "$child"; done
}
# Sum of a /proc/<pid>/status field (kB) over the tree.
tree_status_kb() {
    local total=0 pid v
    for pid in $(tree_pids "$1"); do
        v=$(awk -v f="$2:" '$1 == f {print $2}' "/proc/$pid/status" 2>/dev/null || true)
        total=$((total + ${v:-0}))
    done
    echo "$total"
}
# utime+stime+cutime+cstime (clock ticks) over the tree; fields after the `(comm)`.
tree_cpu_ticks() {
    local total=0 pid v
    for pid in $(tree_pids "$1"); do
        v=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{print $12 + $13 + $14 + $15}' || true)
        total=$((total + ${v:-0}))
    done
    echo "$total"
}

# ---- starting and stopping one server ----------------------------------------------------
SERVER_PID= BASE= DIRECTORY= BUNDLE= HTTP01_PORT=
stop_server() {
    stop_pid "$SERVER_PID"
    SERVER_PID= HANKO_PID=
}

wait_ready() { # <what> <url> <bundle>
    wait_healthy "$1" "$2" "$3" "$SERVER_PID" "$RUN_DIR/server.log" 120
}

start_pebble() {
    local port mport
    port=$(free_port) mport=$(free_port) HTTP01_PORT=$(free_port)
    cat >"$RUN_DIR/pebble.json" <<JSON
{"pebble": {"listenAddress": "127.0.0.1:$port", "managementListenAddress": "127.0.0.1:$mport",
  "certificate": "$DATA/pebble-tls/cert.pem", "privateKey": "$DATA/pebble-tls/key.pem",
  "httpPort": $HTTP01_PORT, "tlsPort": $(free_port), "ocspResponderURL": "",
  "externalAccountBindingRequired": false}}
JSON
    (
        cd "$RUN_DIR"
        # Exactly the settings issue #5 names. Pebble 2.4.0 can deadlock under this load
        # (MemoryStore.FindValidAuthorization read-locks the store twice, memorystore.go:262/268;
        # a waiting writer blocks the second RLock — docs/PEERS.md); the table then uses its
        # rate up to its last issuance.
        export PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0
        exec pebble -config "$RUN_DIR/pebble.json" -dnsserver "127.0.0.1:$DNS_PORT"
    ) >"$RUN_DIR/server.log" 2>&1 &
    # HANKO_PID: scripts/lib/processes.sh's cleanup stops whichever server runs on any exit.
    SERVER_PID=$! HANKO_PID=$!
    DIRECTORY="https://127.0.0.1:$port/dir" BUNDLE="$DATA/pebble-tls/ca.pem"
    wait_ready pebble "$DIRECTORY" "$BUNDLE"
}

start_hanko() { # dev|full
    local port data=$RUN_DIR/data
    port=$(free_port) HTTP01_PORT=$(free_port)
    if [ "$1" = full ]; then
        # Its five remote perspectives (BR 3.2.2.9) connect to bench_fullca's fixed port.
        HTTP01_PORT=$(. "$DATA/fullca/fullca.env" && echo "$BENCH_FULLCA_HTTP01_PORT")
        # The ceremonies' database (audit events, CA records), fresh for this run.
        cp -a "$(. "$DATA/fullca/fullca.env" && echo "$BENCH_FULLCA_DATA")" "$data"
        BUNDLE=$(. "$DATA/fullca/fullca.env" && echo "$BENCH_FULLCA_TRUST")
    else
        BUNDLE=$data/ca/root.pem
    fi
    (
        cd "$RUN_DIR"
        # shellcheck disable=SC1091
        [ "$1" = full ] && . "$DATA/fullca/fullca.env"
        hanko_dev_env "$port" "$data" "$HTTP01_PORT" "$DNS_PORT"
        if [ "$1" = full ]; then
            # DNSSEC (SC-085): the validating Unbound in front of bench_fullca's BIND9, which
            # serves the same wildcard zone; the perspectives resolve through it too.
            export HANKO_VALIDATION__DNS_RESOLVERS="[\"$BENCH_FULLCA_RESOLVER\"]" \
                HANKO_VALIDATION__TLSALPN01_PORT="$BENCH_FULLCA_TLSALPN01_PORT"
        fi
        exec "$HANKO" serve
    ) >"$RUN_DIR/server.log" 2>&1 &
    SERVER_PID=$! HANKO_PID=$!
    DIRECTORY="https://127.0.0.1:$port/directory"
    wait_ready "hanko ($1)" "https://127.0.0.1:$port/health" "$BUNDLE"
}

# ---- one run: start, sample, load, sample, stop ------------------------------------------
run_one() { # <server> <round>
    local server=$1 round=$2 idle cpu0 cpu1 peak status=0
    RUN_DIR=$DATA/$server-$round
    mkdir -p "$RUN_DIR"
    case $server in
        pebble) start_pebble ;;
        dev | full) start_hanko "$server" ;;
        *) log "unknown server $server (pebble, dev, full)"; exit 1 ;;
    esac
    sleep 2
    idle=$(tree_status_kb "$SERVER_PID" VmRSS)
    cpu0=$(tree_cpu_ticks "$SERVER_PID")
    "$LOAD" --directory "$DIRECTORY" --ca-bundle "$BUNDLE" --http01-port "$HTTP01_PORT" \
        --label "$server round $round" --summary-json "$RESULTS/$server-$round.json" \
        --csv "$RESULTS/$server-$round.csv" "${PROFILE_ARGS[@]}" \
        >"$RESULTS/$server-$round.txt" 2>&1 || status=$?
    cpu1=$(tree_cpu_ticks "$SERVER_PID")
    peak=$(tree_status_kb "$SERVER_PID" VmHWM)
    printf '{"idle_rss_kb": %s, "peak_rss_kb": %s, "cpu_seconds": %s, "load_status": %s}\n' \
        "$idle" "$peak" "$(python3 -c "print(($cpu1 - $cpu0) / $CLK_TCK)")" "$status" \
        >"$RESULTS/$server-$round.proc.json"
    stop_server
    cp "$RUN_DIR/server.log" "$RESULTS/$server-$round.server.log" 2>/dev/null || true
    if [ ! -s "$RESULTS/$server-$round.json" ]; then
        log "$server round $round: hanko-load wrote no summary:"
        tail -n 20 "$RESULTS/$server-$round.txt" >&2
        exit 1
    fi
    log "$server round $round: $(grep -m1 '^issuances:' "$RESULTS/$server-$round.txt")"
}

# ---- the table: medians over rounds, Hanko/Pebble ratios ---------------------------------
table() {
    python3 - "$@" <<'PY'
import csv, glob, json, os, statistics, sys
mode, results, servers = sys.argv[1], sys.argv[2], sys.argv[3:]
def runs(server):
    out = []
    for path in sorted(glob.glob(f"{results}/{server}-*.proc.json")):
        load = json.load(open(path.replace(".proc.json", ".json")))
        proc = json.load(open(path))
        step = lambda s, p: load["steps"].get(s, {}).get(p, float("nan"))
        ok = load["ok"]
        # Successful issuances / time to the last one: the wall time of a healthy run, but not
        # the 180 s hanko-load waits on requests a deadlocked server never answers.
        ends = [float(r["end_offset_ms"]) for r in csv.DictReader(open(path.replace(".proc.json", ".csv")))
                if r["outcome"] == "ok"]
        out.append({
            "iss/s": ok / (max(ends) / 1000) if ends else 0.0,
            "fin p50 ms": step("certificate-ready", "p50_ms"),
            "fin p99 ms": step("certificate-ready", "p99_ms"),
            "e2e p50 ms": step("end-to-end", "p50_ms"),
            "e2e p99 ms": step("end-to-end", "p99_ms"),
            "idle MB": proc["idle_rss_kb"] / 1024,
            "peak MB": proc["peak_rss_kb"] / 1024,
            "CPU ms/iss": proc["cpu_seconds"] / ok * 1000 if ok else float("nan"),
            # hanko-load's own CPU (it shares the machine's cores with the server).
            "load ms/iss": (load["cpu_ticks"] / os.sysconf("SC_CLK_TCK") / ok * 1000
                            if ok and load.get("cpu_ticks") is not None else float("nan")),
            "errors": load["failed"],
            "_ok": ok, "_errs": load["errors"], "_last": max(ends) / 1000 if ends else 0.0,
        })
    return out
cols = ["iss/s", "fin p50 ms", "fin p99 ms", "e2e p50 ms", "e2e p99 ms", "idle MB", "peak MB", "CPU ms/iss", "load ms/iss", "errors"]
names = {"pebble": "Pebble", "dev": "Hanko dev", "full": "Hanko full pipeline"}
R = {s: runs(s) for s in servers}  # each run's files read once
med = {s: {c: statistics.median([r[c] for r in R[s]]) for c in cols} for s in servers if R[s]}
def row(label, vals, fmt="{:>12.1f}"):
    return f"{label:<27}" + "".join(fmt.format(vals[c]) for c in cols)
if mode == "--long":
    r = R[servers[0]][0]
    print(f"Hanko dev, {r['_ok'] + r['errors']} issuances in a row: {r['errors']} errors, "
          f"{r['iss/s']:.1f} issuances/s, idle RSS {r['idle MB']:.1f} MB, peak RSS {r['peak MB']:.1f} MB, "
          f"finalize p99 {r['fin p99 ms']:.1f} ms, CPU {r['CPU ms/iss']:.2f} ms/issuance")
    for e in r["_errs"]:
        print(f"  {e['count']:>6} {e['type']} ({e['step']})")
    sys.exit(0)
n = min(len(R[s]) for s in med)
print(f"median over {n} round(s); finalize = finalize POST -> order valid; RSS and CPU of the server process tree; "
      f"load = hanko-load's own CPU")
print(f"{'server':<27}" + "".join(f"{c:>12}" for c in cols))
for s in med:
    print(row(names.get(s, s), med[s]))
if "pebble" in med:
    for s in med:
        if s == "pebble":
            continue
        ratio = {c: (med[s][c] / med["pebble"][c] if med["pebble"][c] else float("nan")) for c in cols}
        print(row(f"{names.get(s, s)} / Pebble", ratio, "{:>11.2f}x"))
for s in med:
    for i, r in enumerate(R[s], 1):
        if any(e["type"] == "timeout" for e in r["_errs"]):
            print(f"  {names.get(s, s)} round {i}: stopped answering after {r['_last']:.1f} s "
                  f"({r['_ok']} issuances); iss/s is over that time")
        for e in r["_errs"]:
            print(f"  {names.get(s, s)} round {i}: {e['count']} x {e['type']} ({e['step']})")
PY
}

log "profile: hanko-load ${PROFILE_ARGS[*]}; results in $RESULTS"
if [ "$LONG" = 1 ]; then
    run_one dev long
    table --long "$RESULTS" dev
    exit 0
fi
for round in $(seq "$ROUNDS"); do
    for server in $SERVERS; do run_one "$server" "$round"; done
done
# shellcheck disable=SC2086
table --rounds "$RESULTS" $SERVERS | tee "$RESULTS/table.txt"
