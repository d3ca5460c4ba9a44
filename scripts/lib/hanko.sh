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
}
