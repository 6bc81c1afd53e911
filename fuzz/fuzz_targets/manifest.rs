//! Any bytes as a manifest stream (YAML, and JSON when UTF-8), then validated: never a panic,
//! only `Error::Invalid` naming a field, and a valid manifest survives a JSON round trip.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(violation) = tars_fuzz::api::manifest(data) {
        panic!("{violation}");
    }
});
