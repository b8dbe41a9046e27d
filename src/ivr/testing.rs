//! Menus for tests: a scripts folder with the given files and a
//! placeholder for every prompt they may name (validation looks for the
//! files only), for the IVR's tests and the call machine's.

use super::script::{self, APPEAL_PROMPTS, OUTAGE_PROMPTS};

pub(crate) fn prompt_names() -> Vec<String> {
    let mut names: Vec<String> = [
        "greeting",
        "main-menu",
        "main-menu-short",
        "invalid",
        "no-input",
        "goodbye",
        "please-wait",
        "enter-number",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    names.extend(
        APPEAL_PROMPTS
            .iter()
            .chain(OUTAGE_PROMPTS.iter())
            .chain(crate::ivr::say::QUEUE_PROMPTS.iter())
            .map(|s| s.to_string()),
    );
    names.extend(crate::ivr::say::vocabulary().iter().cloned());
    names
}

/// A scripts directory with these files and placeholder prompts.
pub(crate) fn scripts(
    files: &[(&str, &str)],
) -> (
    tempfile::TempDir,
    Result<script::ScriptSet, Vec<script::Diagnostic>>,
) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let prompts = dir.path().join("prompts/uk");
    for name in prompt_names() {
        let path = prompts.join(format!("{name}.wav"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"").unwrap();
    }
    let set = script::load(dir.path(), "main", "uk");
    (dir, set)
}
