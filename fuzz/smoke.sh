#!/usr/bin/env bash
# libFuzzer smoke run on STABLE Rust (docs/FUZZING.md): every target for a few seconds with
# `--sanitizer none` (cargo-fuzz then passes no -Z flag, so no nightly is needed). The last
# step of scripts/test.sh, after tests/fuzz_corpus.rs: 4 targets x 5 s. Its cold cost is
# cargo-fuzz's install (once per machine) and an instrumented release build of the whole
# dependency tree in fuzz/target (once per clone). Usage: fuzz/smoke.sh [seconds per target,
# default 5]
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-5}
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install --locked cargo-fuzz
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for target in jws csr identifier ocsp_request; do
    # New inputs go to the scratch directory; the committed corpus is only read. libFuzzer
    # prints a line per new input (megabytes in a CI log): keep its output in a file, show
    # the final figures, and the end of the output when it fails.
    mkdir -p "$work/$target"
    if ! cargo fuzz run --sanitizer none "$target" "$work/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=1 >"$work/$target.log" 2>&1; then
        echo "fuzz smoke: $target FAILED; the end of its output:" >&2
        tail -n 60 "$work/$target.log" >&2
        exit 1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$target.log")
    echo "fuzz smoke: $target: ${runs:-?} runs in ${seconds} s, no crash" >&2
done
