#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    pgcluster::fuzzing::rows(data);
});
