# Shared by scripts/bench.sh, scripts/load.sh and scripts/bench-peers.sh (sourced after
# scripts/lib/processes.sh): the settings of a development `hanko serve` on 127.0.0.1.
#
#   hanko_dev_env PORT DATA_DIR HTTP01_PORT DNS_PORT
#
# exports the HANKO_* variables for an ACME listener on PORT, a status listener and a
# tls-alpn-01 port on free ports, embedded SQLite in DATA_DIR, http-01 validation on
# HTTP01_PORT, and validation's DNS through 127.0.0.1:DNS_PORT (private addresses allowed:
# everything here resolves to 127.0.0.1).
hanko_dev_env() {
    export HANKO_SERVER__LISTEN="127.0.0.1:$1" \
        HANKO_SERVER__HTTP_LISTEN="127.0.0.1:$(free_port)" \
        HANKO_STORAGE__DATA_DIR="$2" \
        HANKO_VALIDATION__HTTP01_PORT="$3" \
        HANKO_VALIDATION__TLSALPN01_PORT="$(free_port)" \
        HANKO_VALIDATION__DNS_RESOLVERS="[\"127.0.0.1:$4\"]" \
        HANKO_VALIDATION__ALLOW_PRIVATE_ADDRESSES=true \
        HANKO_LOG__LEVEL=warn
    # Remote perspectives (scripts/lib/mpic.sh), when a script prepared them.
    if [ -n "${MPIC_REMOTE:-}" ]; then export HANKO_VALIDATION__REMOTE="$MPIC_REMOTE"; fi
}

# hanko_dev_start BINARY NAME: start `BINARY serve` in development mode (a fresh data
# directory, only our HANKO_* settings, validation through $DNS_PORT) and wait until it is
# healthy. Sets DATA, PORT, HTTP01_PORT, HANKO_PID, BASE and ROOT_PEM; the log is
# $DATA/hanko.log. Needs `log`, scripts/lib/processes.sh and $DNS_PORT (scripts/lib/bind9.sh).
hanko_dev_start() {
    local binary=$1 name=$2
    DATA=$(mktemp -d "${TMPDIR:-/tmp}/$name-XXXXXX")
    PORT=$(free_port)
    HTTP01_PORT=$(free_port)
    (
        # Only our settings reach the server, not an operator's HANKO_* from this shell.
        while read -r var; do unset "$var"; done < <(compgen -e | grep '^HANKO_' || true)
        cd "$DATA"
        hanko_dev_env "$PORT" "$DATA/data" "$HTTP01_PORT" "$DNS_PORT"
        exec "$binary" serve
    ) >"$DATA/hanko.log" 2>&1 &
    HANKO_PID=$!
    BASE="https://127.0.0.1:$PORT"
    ROOT_PEM="$DATA/data/ca/root.pem"
    wait_healthy hanko "$BASE/health" "$ROOT_PEM" "$HANKO_PID" "$DATA/hanko.log" 60
}
