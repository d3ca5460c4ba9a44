#!/usr/bin/env bash
# The test command (README "Test"): scripts/test.sh from the repository root.
#
# On a fresh Debian 12 machine (as root, as in CI) it installs what the black-box tests use
# (DESIGN.md "How we test": BIND9, certbot, lego, PostgreSQL, SoftHSM2, OpenSSL), checks
# formatting and lints, builds the workspace once, starts a throwaway PostgreSQL cluster,
# and runs every test. Exit status = the tests' result.
#
# Environment:
#   CARGO_TARGET_DIR   honoured (shared build cache)
#   HANKO_TEST_SKIP_INSTALL=1   do not touch system packages (e.g. a non-root developer)
#   HANKO_TEST_SKIP_LINT=1      skip fmt/clippy (quick local reruns)
#   Arguments are passed to the test runner (e.g. scripts/test.sh -p acme-tests certbot).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)

log() { printf '\n==> %s\n' "$*" >&2; }

# --- 1. System packages --------------------------------------------------------------
# Debian package names; the binaries the tests call are certbot, lego, named, nsupdate,
# dig, dnssec-keygen/dnssec-signzone, unbound (the validating resolver of the DNSSEC tests),
# openssl, softhsm2-util, and PostgreSQL's initdb/pg_ctl/psql; g++ builds libFuzzer
# (libfuzzer-sys) for the fuzz smoke run.
PACKAGES=(certbot python3-certbot-dns-rfc2136 lego bind9 bind9-utils bind9-dnsutils
          unbound postgresql softhsm2 openssl python3-venv g++)

install_packages() {
    local missing=() pkg
    for pkg in "${PACKAGES[@]}"; do
        # "install ok installed" only; half-configured or removed packages count as missing.
        if [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" != "install ok installed" ]; then
            missing+=("$pkg")
        fi
    done
    if [ ${#missing[@]} -eq 0 ]; then
        log "system packages present"
        return
    fi
    if [ "${HANKO_TEST_SKIP_INSTALL:-}" = 1 ]; then
        log "missing packages (not installing, HANKO_TEST_SKIP_INSTALL=1): ${missing[*]}"
        return
    fi
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing Debian packages: ${missing[*]}" >&2
        echo "install them as root (apt-get install ${missing[*]}) or run this script as root" >&2
        exit 2
    fi
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Don't let the postgresql and bind9 packages start system-wide services: the tests run
    # their own instances on free ports, and services on :53/:5432 only get in the way.
    local policy=/usr/sbin/policy-rc.d
    if [ -e "$policy" ]; then
        apt_install "${missing[@]}"
    else
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        local rc=0
        apt_install "${missing[@]}" || rc=$?
        rm -f "$policy"
        [ "$rc" -eq 0 ] || exit "$rc"
    fi
}

# Refresh the package lists only when installing from them fails (fresh images often ship
# without lists, or with stale ones), so a machine that has everything never waits on apt.
apt_install() {
    apt-get install -y -q --no-install-recommends "$@" && return 0
    apt-get update -q || return $?
    apt-get install -y -q --no-install-recommends "$@"
}

install_packages

# --- 1b. pkilint, the pre-issuance linter (CP 4.3.1.2), in a virtualenv ------------------
# Pinned so every machine lints with the same rules; the tests find it through
# HANKO_TEST_PKILINT_PYTHON.
PKILINT_VERSION=0.13.3
VENV="$ROOT/.venv"
if ! "$VENV/bin/python" -c "import pkilint, sys; from importlib.metadata import version; sys.exit(version('pkilint') != '$PKILINT_VERSION')" 2>/dev/null; then
    log "installing pkilint $PKILINT_VERSION into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "pkilint==$PKILINT_VERSION"
fi
export HANKO_TEST_PKILINT_PYTHON="$VENV/bin/python"

# --- 2. Formatting and lints (fail fast) ---------------------------------------------
if [ "${HANKO_TEST_SKIP_LINT:-}" != 1 ]; then
    log "cargo fmt --check"
    cargo fmt --all --check
    log "cargo clippy"
    cargo clippy --locked --workspace --all-targets -- -D warnings
fi

# --- 3. Build once ---------------------------------------------------------------------
# The black-box tests run target/<profile>/hanko, so the binary must exist before them.
log "cargo build"
cargo build --locked --workspace --all-targets

# --- 4. Throwaway PostgreSQL -----------------------------------------------------------
# shellcheck source=scripts/pg.sh
. "$ROOT/scripts/pg.sh"
pg_start
trap pg_stop EXIT
# Turn Ctrl-C / SIGTERM into a normal exit so the EXIT trap stops PostgreSQL.
trap 'exit 130' INT
trap 'exit 143' TERM
export HANKO_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:${PG_PORT}/hanko_test"
# With the cluster here, PostgreSQL variants of tests must run, never skip.
export HANKO_TEST_REQUIRE_POSTGRES=1

# --- 5. Tests --------------------------------------------------------------------------
status=0
if cargo nextest --version >/dev/null 2>&1; then
    log "cargo nextest run"
    cargo nextest run --locked --workspace --no-fail-fast "$@" || status=$?
else
    log "cargo test (cargo-nextest not installed)"
    cargo test --locked --workspace --no-fail-fast "$@" || status=$?
fi

# --- 6. libFuzzer smoke run (issue #5 item 4, docs/FUZZING.md) ---------------------------
# Every cargo-fuzz target for 5 s from the committed corpus on stable Rust (`--sanitizer
# none`); a crash fails the suite. fuzz/ is its own workspace with its own instrumented build
# (fuzz/target), so this costs a cold build once per clone. tests/fuzz_corpus.rs (above)
# already gave every seed its verdict. HANKO_TEST_SKIP_FUZZ=1 skips it for quick local runs.
if [ "${HANKO_TEST_SKIP_FUZZ:-}" != 1 ]; then
    log "libFuzzer smoke run (fuzz/smoke.sh 5)"
    bash "$ROOT/fuzz/smoke.sh" 5 || status=$?
fi
log "tests finished with status $status"
exit "$status"
