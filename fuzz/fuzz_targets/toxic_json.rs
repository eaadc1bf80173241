//! The proxy's toxic bodies on arbitrary bytes, in both modes: an answer in every case, and every
//! toxic accepted is one the data plane can honour (its JSON parses back).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for strict in [false, true] {
        match electune::proxy::check_toxic_body(data, strict) {
            Ok(json) => {
                let v: serde_json::Value = serde_json::from_str(&json).expect("accepted toxics serialize");
                assert!(v.is_object());
            }
            Err((status, message)) => {
                assert!((400..600).contains(&status), "{status}");
                assert!(!message.is_empty());
            }
        }
    }
});
