# Shared by scripts/load.sh and scripts/bench-peers.sh (sourced after scripts/lib/processes.sh
# and after they define `log`): a throwaway BIND9 on 127.0.0.1, authoritative for $1 (every
# name in it, wildcard included, A 127.0.0.1) and for com, so a CA's validation of the random
# names hanko-load orders (s<N>-<rand>.hanko-ci.com) reaches hanko-load's responder.
#
#   bind9_start hanko-ci.com     # sets DNS_PORT, NAMED_PID and WORK (cleaned up on exit)

bind9_zone_file() {
    printf '$ORIGIN %s.\n$TTL 60\n@ IN SOA ns1.%s. hostmaster.%s. 1 3600 600 86400 60\n@ IN NS ns1.%s.\nns1 IN A 127.0.0.1\n@ IN A 127.0.0.1\n* IN A 127.0.0.1\n' "$1" "$1" "$1" "$1"
}

bind9_start() {
    local zone=$1 i
    command -v named >/dev/null 2>&1 || { log "named (Debian package bind9) is required"; exit 1; }
    command -v dig >/dev/null 2>&1 || { log "dig (Debian package bind9-dnsutils) is required"; exit 1; }
    # AppArmor lets named write under /var/cache/bind, not /tmp.
    if [ -d /var/cache/bind ] && [ -w /var/cache/bind ]; then
        WORK=$(mktemp -d /var/cache/bind/hanko-bind-XXXXXX)
    else
        WORK=$(mktemp -d "${TMPDIR:-/tmp}/hanko-bind-XXXXXX")
    fi
    DNS_PORT=$(free_port udp)
    bind9_zone_file "$zone" >"$WORK/$zone.zone"
    bind9_zone_file com >"$WORK/com.zone"
    cat >"$WORK/named.conf" <<CONF
options {
    directory "$WORK"; pid-file "$WORK/named.pid"; session-keyfile "$WORK/session.key";
    managed-keys-directory "$WORK"; listen-on port $DNS_PORT { 127.0.0.1; }; listen-on-v6 { none; };
    recursion no; allow-query { any; }; dnssec-validation no; notify no;
};
controls { };
zone "$zone" { type primary; file "$WORK/$zone.zone"; };
zone "com" { type primary; file "$WORK/com.zone"; };
CONF
    (cd "$WORK" && exec named -g -4 -n 1 -c "$WORK/named.conf" -p "$DNS_PORT") >"$WORK/named.log" 2>&1 &
    NAMED_PID=$!
    for i in $(seq 150); do
        [ -n "$(dig @127.0.0.1 -p "$DNS_PORT" +short +time=1 +tries=1 +norecurse "$zone" SOA 2>/dev/null)" ] && break
        kill -0 "$NAMED_PID" 2>/dev/null || { log "named exited during start-up"; cat "$WORK/named.log" >&2; exit 1; }
        [ "$i" -eq 150 ] && { log "named not answering after 30 s"; exit 1; }
        sleep 0.2
    done
}
