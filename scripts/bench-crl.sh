#!/usr/bin/env bash
# CRL benchmark (issue #4 "Speed"), release build: ENTRIES revoked certificates across
# SHARDS shards of a SQLite database, then one full regeneration + signing of every shard
# through `hanko admin crl regenerate` (the code path operators use). Reports wall time and
# peak RSS (the command's VmHWM, and /usr/bin/time -v when installed).
#
#   bash scripts/bench-crl.sh          # ENTRIES=1000000 SHARDS=16
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
ENTRIES=${ENTRIES:-1000000}
SHARDS=${SHARDS:-16}
cargo build --release --locked -p hanko -p acme-tests --bin hanko --bin crl_bench
HANKO_BIN="$TARGET/release/hanko" "$TARGET/release/crl_bench" \
    --entries "$ENTRIES" --shards "$SHARDS"
