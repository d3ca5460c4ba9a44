//! libFuzzer target: `hanko::fuzzing::jws` (see docs/FUZZING.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = hanko::fuzzing::jws(data);
});
