//! `tracery::fuzzing::jaeger`: see that function for what the bytes are.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tracery::fuzzing::jaeger(data));
