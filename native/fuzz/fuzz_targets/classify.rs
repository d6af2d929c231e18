//! Fuzz target: protocol detection of native/src/l7/detect.rs (the same source file, included).
//! Beyond "never panics": 24 bytes always decide, bytes past 24 never matter, and no prefix of
//! the input decides differently from the input itself (what split reads rely on).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../src/l7/detect.rs"]
mod detect;

use detect::{classify, DETECT_BYTES};

fuzz_target!(|data: &[u8]| {
    let whole = classify(data);
    if data.len() >= DETECT_BYTES {
        assert!(whole.is_some(), "24 bytes left undecided");
        assert_eq!(
            classify(&data[..DETECT_BYTES]),
            whole,
            "a byte past 24 mattered"
        );
    }
    let mut seen = None;
    for j in 0..=data.len().min(DETECT_BYTES) {
        match (classify(&data[..j]), seen) {
            (Some(d), None) => seen = Some(d),
            (Some(d), Some(s)) => assert_eq!(d, s, "prefix {j} changed its mind"),
            (None, Some(_)) => panic!("prefix {j} undecided after deciding"),
            (None, None) => {}
        }
    }
    assert_eq!(seen, whole);
});
