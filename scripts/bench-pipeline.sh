#!/usr/bin/env bash
# Issuer-pipeline benchmark (issue #3 "Speed"), release builds, all on 127.0.0.1:
#   1. pipeline_bench (acme-tests/src/bin): SoftHSM2 keys from `hanko ceremony`, the warm
#      pkilint worker, three local RFC 6962 test logs; ORDERS issuances with CONCURRENCY in
#      flight; finalize→certificate percentiles, issuances/s, per-step server times;
#   2. PKCS#11 signing throughput next to `openssl speed` for the same key types;
#   3. the linter alone: median time per certificate with the warm worker.
# Needs what scripts/test.sh installs (softhsm2, bind9, .venv with pkilint).
#
#   bash scripts/bench-pipeline.sh      # ORDERS=400 CONCURRENCY=16 HIERARCHY=ecdsa
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
ORDERS=${ORDERS:-400}
CONCURRENCY=${CONCURRENCY:-16}
HIERARCHY=${HIERARCHY:-ecdsa}
export HANKO_TEST_PKILINT_PYTHON=${HANKO_TEST_PKILINT_PYTHON:-$ROOT/.venv/bin/python}

cargo build --release --locked -p hanko -p acme-tests
echo "== issuance through the full pipeline"
HANKO_BIN="$TARGET/release/hanko" "$TARGET/release/pipeline_bench" \
    --orders "$ORDERS" --concurrency "$CONCURRENCY" --hierarchy "$HIERARCHY"

echo "== PKCS#11 (SoftHSM2) signing vs openssl speed"
cargo test --release --locked -p hanko --lib hsm_signing_throughput -- --ignored --nocapture 2>&1 \
    | grep -E " signatures in " || true
openssl speed -seconds 3 ecdsap256 rsa2048 2>/dev/null | tail -n 6

echo "== pkilint worker alone"
cargo test --release --locked -p hanko --lib lint_throughput -- --ignored --nocapture 2>&1 \
    | grep -E "^pkilint: " || true
