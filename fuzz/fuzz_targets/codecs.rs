#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| pgcluster_fuzz::codecs(data));
