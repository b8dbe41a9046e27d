//! The classifier file (categories of appeals): parsed and checked, with
//! diagnostics or a classifier, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = hotline::appeal::classifier::Classifier::parse(
        std::path::Path::new("classifier.toml"),
        text,
    );
});
