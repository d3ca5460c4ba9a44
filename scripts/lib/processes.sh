# Shared by scripts/bench.sh and scripts/load.sh (sourced after they define `log`): stop
# the processes a script started, and find free loopback ports.
# The sourcing script sets HANKO_PID, NAMED_PID, EXTRA_PIDS (PIDs it started), WORK and DATA
# (directories it created); `cleanup` stops and removes exactly those, and shows the logs on
# failure.

HANKO_PID= NAMED_PID= EXTRA_PIDS= WORK= DATA=
cleanup() {
    local status=$?
    # Only our own processes, by PID.
    for pid in $HANKO_PID $EXTRA_PIDS $NAMED_PID; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in $HANKO_PID $EXTRA_PIDS $NAMED_PID; do
        # Bounded: SIGKILL if still there after 10 s.
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -9 "$pid" 2>/dev/null || true
    done
    if [ "$status" -ne 0 ]; then
        [ -n "$DATA" ] && [ -f "$DATA/hanko.log" ] && { log "hanko log (tail):"; tail -n 40 "$DATA/hanko.log" >&2; }
        [ -n "$WORK" ] && [ -f "$WORK/named.log" ] && { log "named log (tail):"; tail -n 20 "$WORK/named.log" >&2; }
    fi
    [ -n "$WORK" ] && rm -rf "$WORK"
    [ -n "$DATA" ] && rm -rf "$DATA"
    exit "$status"
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
