# Remote perspectives for scripts/load.sh (MPIC=N): N `hanko perspective` processes on
# 127.0.0.1 with openssl-made mTLS credentials, validating exactly like the primary (same
# DNS port, http-01 port, private addresses allowed). Sourced after scripts/lib/processes.sh.
#
#   mpic_prepare N DIR   credentials in DIR, N free ports; exports MPIC_REMOTE (the primary's
#                        [validation.remote] as an inline TOML table; scripts/lib/hanko.sh
#                        passes it on as HANKO_VALIDATION__REMOTE)
#   mpic_start HANKO     starts the N perspectives (after hanko_dev_start: needs DNS_PORT and
#                        HTTP01_PORT), adds their PIDs to EXTRA_PIDS, waits for /health
#   cpu_seconds PID...   user+system CPU seconds the processes have used so far
MPIC_IDS=() MPIC_RIRS=() MPIC_PORTS=() MPIC_DIR=
mpic_prepare() {
    local n=$1 rirs=(ARIN RIPE APNIC LACNIC AFRINIC) list="" i
    MPIC_DIR=$2
    mkdir -p "$MPIC_DIR"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=hanko MPIC load CA" -keyout "$MPIC_DIR/ca.key" -out "$MPIC_DIR/ca.pem" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null
    _mpic_leaf primary clientAuth
    for i in $(seq "$n"); do
        MPIC_IDS+=("p$i")
        MPIC_RIRS+=("${rirs[$(((i - 1) % 5))]}")
        MPIC_PORTS+=("$(free_port)")
        _mpic_leaf "p$i" serverAuth
        list+="${list:+, }{id = \"p$i\", rir = \"${rirs[$(((i - 1) % 5))]}\", url = \"https://127.0.0.1:${MPIC_PORTS[$((i - 1))]}\"}"
    done
    export MPIC_REMOTE="{client_cert = \"$MPIC_DIR/primary.pem\", client_key = \"$MPIC_DIR/primary.key\", ca = \"$MPIC_DIR/ca.pem\", timeout_seconds = 10, perspectives = [$list]}"
}
_mpic_leaf() {
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
        -keyout "$MPIC_DIR/$1.key" -out "$MPIC_DIR/$1.csr" 2>/dev/null
    printf 'extendedKeyUsage=%s\nsubjectAltName=IP:127.0.0.1\n' "$2" >"$MPIC_DIR/$1.ext"
    openssl x509 -req -in "$MPIC_DIR/$1.csr" -CA "$MPIC_DIR/ca.pem" -CAkey "$MPIC_DIR/ca.key" \
        -CAcreateserial -days 2 -extfile "$MPIC_DIR/$1.ext" -out "$MPIC_DIR/$1.pem" 2>/dev/null
}
mpic_start() {
    local hanko=$1 i id port pid
    for i in "${!MPIC_IDS[@]}"; do
        id=${MPIC_IDS[$i]} port=${MPIC_PORTS[$i]}
        (
            while read -r var; do unset "$var"; done < <(compgen -e | grep '^HANKO_' || true)
            export HANKO_PERSPECTIVE__LISTEN="127.0.0.1:$port" HANKO_PERSPECTIVE__ID="$id" \
                HANKO_PERSPECTIVE__RIR="${MPIC_RIRS[$i]}" \
                HANKO_PERSPECTIVE__TLS_CERT="$MPIC_DIR/$id.pem" HANKO_PERSPECTIVE__TLS_KEY="$MPIC_DIR/$id.key" \
                HANKO_PERSPECTIVE__CLIENT_CA="$MPIC_DIR/ca.pem" \
                HANKO_VALIDATION__HTTP01_PORT="$HTTP01_PORT" \
                HANKO_VALIDATION__DNS_RESOLVERS="[\"127.0.0.1:$DNS_PORT\"]" \
                HANKO_VALIDATION__ALLOW_PRIVATE_ADDRESSES=true HANKO_LOG__LEVEL=warn
            exec "$hanko" perspective
        ) >"$MPIC_DIR/$id.log" 2>&1 &
        pid=$!
        EXTRA_PIDS="$EXTRA_PIDS $pid"
        for _ in $(seq 100); do
            curl -fsS --max-time 2 --cacert "$MPIC_DIR/ca.pem" --cert "$MPIC_DIR/primary.pem" \
                --key "$MPIC_DIR/primary.key" "https://127.0.0.1:$port/health" >/dev/null 2>&1 && continue 2
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        log "perspective $id did not start:"; tail -n 20 "$MPIC_DIR/$id.log" >&2; exit 1
    done
}
cpu_seconds() {
    local ticks=0 pid
    for pid in "$@"; do
        # Fields 14 and 15 of /proc/PID/stat (after the parenthesised name): utime, stime.
        ticks=$((ticks + $(sed -E 's/^.*\) //' "/proc/$pid/stat" | awk '{print $12 + $13}')))
    done
    awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", t / hz}'
}
