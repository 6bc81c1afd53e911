//! Bytes as a Mesos scheduler `Event` (and operator `Response`, scheduler `Call`): whatever
//! decodes re-encodes and decodes to the same value.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(violation) = tars_fuzz::mesos::mesos_json(data) {
        panic!("{violation}");
    }
});
