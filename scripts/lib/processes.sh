# Shared by scripts/bench.sh, scripts/load.sh and scripts/bench-peers.sh (sourced after they define `log`): stop
# the processes a script started, and find free loopback ports.
# The sourcing script sets HANKO_PID, NAMED_PID, EXTRA_PIDS (PIDs it started), WORK and DATA
# (directories it created); `cleanup` stops and removes exactly those, and shows the logs on
# failure.

HANKO_PID= NAMED_PID= EXTRA_PIDS= WORK= DATA=
cleanup() {
    local status=$?
    # Only our own processes, by PID; all signalled first, so they shut down together.
    for pid in $HANKO_PID $EXTRA_PIDS $NAMED_PID; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in $HANKO_PID $EXTRA_PIDS $NAMED_PID; do
        stop_pid "$pid"
    done
    if [ "$status" -ne 0 ]; then
        [ -n "$DATA" ] && [ -f "$DATA/hanko.log" ] && { log "hanko log (tail):"; tail -n 40 "$DATA/hanko.log" >&2; }
        [ -n "$WORK" ] && [ -f "$WORK/named.log" ] && { log "named log (tail):"; tail -n 20 "$WORK/named.log" >&2; }
    fi
    [ -n "$WORK" ] && rm -rf "$WORK"
    [ -n "$DATA" ] && rm -rf "$DATA"
    exit "$status"
}
# stop_pid PID: SIGTERM; SIGKILL if it is still there after 10 s; reap it.
stop_pid() {
    [ -n "$1" ] || return 0
    kill "$1" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# wait_healthy WHAT URL BUNDLE PID LOG SECONDS: until URL answers over TLS trusting BUNDLE
# (a file the server writes at start-up). Exits 1 with LOG's tail when PID dies first, or
# after SECONDS.
wait_healthy() {
    local what=$1 url=$2 bundle=$3 pid=$4 logfile=$5 seconds=$6
    for _ in $(seq $((seconds * 5))); do
        [ -f "$bundle" ] && curl -fsS --max-time 5 --cacert "$bundle" "$url" >/dev/null 2>&1 && return 0
        kill -0 "$pid" 2>/dev/null || { log "$what exited during start-up (log: $logfile)"; tail -n 30 "$logfile" >&2; exit 1; }
        sleep 0.2
    done
    log "$what not healthy after $seconds s (log: $logfile)"
    exit 1
}

trap cleanup EXIT
trap 'exit 130' INT TERM

# A port free on 127.0.0.1 now, for TCP (and UDP when asked: DNS needs both).
free_port() {
    python3 - "$@" <<'PY'
import socket, sys
udp = "udp" in sys.argv[1:]
while True:
    t = socket.socket(); t.bind(("127.0.0.1", 0)); port = t.getsockname()[1]
    try:
        if udp:
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", port)); u.close()
        t.close(); print(port); break
    except OSError:
        t.close()
PY
}
