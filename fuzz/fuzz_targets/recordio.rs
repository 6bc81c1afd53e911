//! A RecordIO stream fed in fuzzer-chosen chunks decodes exactly as when fed at once.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(violation) = tars_fuzz::mesos::recordio(data) {
        panic!("{violation}");
    }
});
