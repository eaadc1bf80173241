//! The profile parser on arbitrary bytes: it must answer (a profile or an error naming what is
//! wrong) without panicking, hanging or allocating without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(e) = electune::profile::parse(text, "fuzz.yaml") {
            // the error must render (it is what the user reads)
            let _ = e.to_string();
        }
    }
});
