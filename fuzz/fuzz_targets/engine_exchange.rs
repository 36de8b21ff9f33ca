#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = pgcluster::fuzzing::engine_exchange(data);
});
