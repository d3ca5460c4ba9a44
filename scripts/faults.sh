#!/usr/bin/env bash
# Faults under load (issue #5 item 6, docs/FAULTS.md), long version: builds release and runs
# hanko-faults, which sets up everything itself on 127.0.0.1 — SoftHSM token and ceremonies,
# pkilint, three in-process CT logs, BIND9 as hanko's resolver, a PostgreSQL cluster of its
# own (initdb/pg_ctl in a temporary directory, so the suite's cluster is never touched) —
# runs hanko-load and injects, with calm load in between: SIGKILL + restart of hanko,
# PostgreSQL stopped and started, one CT log answering 503, BIND9 stopped and started. It
# prints the figures and exits non-zero if a certificate was lost, a serial used twice, an
# order left processing, the audit chain broken, or the server panicked.
#
#   bash scripts/faults.sh                       # 8 subscribers, faults held 8 s, 20 s calm
#   bash scripts/faults.sh --hold 10 --calm 30   # any hanko-faults flag
#
# Output (CSV, certificates, PNG) goes to target/faults/ unless --out is given.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
cargo build --release --locked -p hanko -p acme-tests --bin hanko --bin hanko-faults
for tool in named dig nsupdate softhsm2-util openssl; do
    command -v "$tool" >/dev/null 2>&1 || { echo "faults: $tool is required" >&2; exit 1; }
done
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || {
    echo "faults: PostgreSQL server binaries are required (apt-get install postgresql)" >&2
    exit 1
}
# pkilint: the venv scripts/test.sh installs, unless the caller chose a python.
if [ -z "${HANKO_TEST_PKILINT_PYTHON:-}" ] && [ -x "$ROOT/.venv/bin/python" ]; then
    export HANKO_TEST_PKILINT_PYTHON="$ROOT/.venv/bin/python"
fi
OUT_ARGS=()
case " $* " in
    *" --out "*) ;;
    *) mkdir -p "$TARGET/faults"; OUT_ARGS=(--out "$TARGET/faults") ;;
esac
# The harness runs the hanko binary named here (next to hanko-faults otherwise).
export HANKO_BIN="$TARGET/release/hanko"
exec "$TARGET/release/hanko-faults" "${OUT_ARGS[@]}" "$@"
