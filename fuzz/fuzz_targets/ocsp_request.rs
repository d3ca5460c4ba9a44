//! libFuzzer target: `hanko::fuzzing::ocsp_request` (see docs/FUZZING.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = hanko::fuzzing::ocsp_request(data);
});
