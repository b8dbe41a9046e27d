//! An IVR menu file, as an admin might write it: loaded and checked, with
//! diagnostics or a script, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.toml"), text).unwrap();
    if let Err(diagnostics) = hotline::ivr::script::load(dir.path(), "main", "uk") {
        assert!(!diagnostics.is_empty(), "a refusal says why");
    }
});
