# Throwaway PostgreSQL cluster for the test run; sourced by scripts/test.sh.
#
#   . scripts/pg.sh; pg_start; trap pg_stop EXIT
#
# pg_start sets PG_PORT, PG_DIR and PG_DB (default hanko_test): a cluster in a temporary
# directory, listening on 127.0.0.1:PG_PORT (a free port) and a unix socket in PG_DIR, with
# trust authentication for the `postgres` superuser. As root it runs as the `postgres` system
# user (PostgreSQL refuses to run as root); otherwise as the calling user.
# Can also be run directly to try it: bash scripts/pg.sh

pg_bindir() {
    local d
    # The newest installed major version (Debian: /usr/lib/postgresql/<major>/bin).
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -n "$d" ] && [ -x "$d/initdb" ]; then
        echo "$d"
    elif command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
    else
        echo "PostgreSQL server binaries (initdb) not found; install the postgresql package" >&2
        return 1
    fi
}

# A TCP port on 127.0.0.1 that is free now; python3 is there (certbot depends on it).
pg_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Run a command as the cluster owner.
pg_as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

pg_start() {
    local bin attempt
    bin=$(pg_bindir) || return 1
    PG_DB=${PG_DB:-hanko_test}
    PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/hanko-pg.XXXXXX")
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres: "$PG_DIR"
    fi
    # fsync off and no sync at initdb: the data is thrown away, and it saves seconds.
    pg_as_owner "$bin/initdb" -D "$PG_DIR/data" -U postgres -A trust -E UTF8 \
        --no-sync >"$PG_DIR/initdb.log" 2>&1 || {
        cat "$PG_DIR/initdb.log" >&2
        return 1
    }
    # The port is free when probed but may be taken before the server binds: retry.
    for attempt in 1 2 3 4 5; do
        PG_PORT=$(pg_free_port)
        if pg_as_owner "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
            -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=300" \
            start >/dev/null; then
            break
        fi
        PG_PORT=
        echo "PostgreSQL did not start on attempt $attempt; server log:" >&2
        tail -n 20 "$PG_DIR/server.log" >&2 || true
    done
    if [ -z "$PG_PORT" ]; then
        return 1
    fi
    "$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres "$PG_DB" || return 1
    export PG_PORT PG_DIR PG_DB
    echo "PostgreSQL running on 127.0.0.1:$PG_PORT (data in $PG_DIR), database $PG_DB" >&2
}

pg_stop() {
    local bin
    if [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR/data" ]; then
        bin=$(pg_bindir) || return 0
        # immediate: nothing to keep, and it is quick.
        pg_as_owner "$bin/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
        rm -rf "$PG_DIR"
        echo "PostgreSQL stopped" >&2
    fi
    PG_DIR=
}

# Self-check when run directly: start, query, stop.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    pg_start
    trap pg_stop EXIT
    "$(pg_bindir)/psql" -X -q -d "postgres://postgres@127.0.0.1:$PG_PORT/$PG_DB" \
        -c 'SELECT version();'
fi
