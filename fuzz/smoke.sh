#!/usr/bin/env bash
# libFuzzer smoke run on STABLE Rust (docs/FUZZING.md): every target for a few seconds with
# `--sanitizer none` (cargo-fuzz then passes no -Z flag, so no nightly is needed). Not part of
# scripts/test.sh: the cold cost (cargo-fuzz install + an instrumented release build of the
# whole dependency tree) is well over the suite's budget; tests/fuzz_corpus.rs is the part
# that always runs. Usage: fuzz/smoke.sh [seconds per target, default 5]
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-5}
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install --locked cargo-fuzz
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for target in jws csr identifier ocsp_request; do
    # New inputs go to the scratch directory; the committed corpus is only read.
    mkdir -p "$work/$target"
    cargo fuzz run --sanitizer none "$target" "$work/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=1
done
