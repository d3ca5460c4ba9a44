//! libFuzzer target: `hanko::fuzzing::identifier` (see docs/FUZZING.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = hanko::fuzzing::identifier(data);
});
