//! A schedule (cron, macro or ISO 8601 repeating interval), a time zone and an instant: if it
//! parses, its upcoming instants strictly increase and resuming from one gives the next.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(violation) = tars_fuzz::api::schedule(data) {
        panic!("{violation}");
    }
});
