//! What the caller hears: the IVR's prompts, decoded once into memory
//! ([`IvrAssets`]), and a [`Player`] that hands them out 20 ms at a time.
//!
//! Loading reads and decodes files (at start-up and on reload, never during
//! a call); the player itself is plain memory.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::Arc;

use crate::ivr::script::{self, Diagnostic, PROMPT_EXTENSIONS, ScriptSet};
use crate::media::{Prompt, PromptCache};

/// A validated script set and every prompt of its language, decoded.
pub struct IvrAssets {
    pub script: Arc<ScriptSet>,
    pub prompts: HashMap<String, Prompt>,
}

impl IvrAssets {
    /// Loads and checks `<dir>/*.toml` and decodes every prompt under
    /// `<dir>/prompts/<language>/` (so that numbers and dates spoken by the
    /// `say` builder are at hand too).
    pub fn load(
        dir: &Path,
        entry: &str,
        language: &str,
        cache: &PromptCache,
    ) -> Result<IvrAssets, Vec<Diagnostic>> {
        let script = script::load(dir, entry, language)?;
        let mut prompts = HashMap::new();
        let mut errors = Vec::new();
        let mut stack = vec![script.prompts_dir.clone()];
        while let Some(folder) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&folder) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let Some(ext) = path.extension().and_then(|e| e.to_str()) else {
                    continue;
                };
                let Some(rank) = PROMPT_EXTENSIONS.iter().position(|e| *e == ext) else {
                    continue;
                };
                let Ok(rel) = path
                    .with_extension("")
                    .strip_prefix(&script.prompts_dir)
                    .map(|p| p.to_path_buf())
                else {
                    continue;
                };
                let name = rel.to_string_lossy().replace('\\', "/");
                // Where several formats exist, the first in PROMPT_EXTENSIONS wins.
                let better = script::find_prompt(&script.prompts_dir, &name)
                    .and_then(|p| p.extension().map(|e| e.to_string_lossy().into_owned()))
                    .is_none_or(|best| {
                        PROMPT_EXTENSIONS.iter().position(|e| *e == best) == Some(rank)
                    });
                if !better {
                    continue;
                }
                match cache.get(&path) {
                    Ok(prompt) => {
                        prompts.insert(name, prompt);
                    }
                    Err(e) => errors.push(Diagnostic {
                        file: path.clone(),
                        line: 0,
                        message: e.to_string(),
                    }),
                }
            }
        }
        if errors.is_empty() {
            Ok(IvrAssets {
                script: Arc::new(script),
                prompts,
            })
        } else {
            Err(errors)
        }
    }
}

impl IvrAssets {
    /// The decoded prompts of these names, in order, and the names that
    /// have none (validation makes that rare: only a `say` word missing
    /// from a language).
    pub fn resolve(&self, names: &[String]) -> (Vec<Prompt>, Vec<String>) {
        let mut missing = Vec::new();
        let prompts = names
            .iter()
            .filter_map(|n| {
                let p = self.prompts.get(n).cloned();
                if p.is_none() {
                    missing.push(n.clone());
                }
                p
            })
            .collect();
        (prompts, missing)
    }
}

/// Plays a queue of prompts, one 20 ms frame at a time.
#[derive(Default)]
pub struct Player {
    queue: VecDeque<Prompt>,
    pos: usize,
    /// A queue was loaded and has not finished yet.
    active: bool,
}

impl Player {
    /// Replaces what plays with these decoded prompts (names are resolved
    /// with [`IvrAssets::resolve`]).
    pub fn load(&mut self, prompts: Vec<Prompt>) {
        self.queue = prompts.into();
        self.pos = 0;
        self.active = true;
    }

    pub fn stop(&mut self) {
        self.queue.clear();
        self.pos = 0;
        self.active = false;
    }

    /// Fills `out` with the next frame (silence when nothing plays).
    /// Returns true when this frame finished the queue.
    pub fn next_frame(&mut self, out: &mut [i16]) -> bool {
        let mut filled = 0;
        while filled < out.len() {
            let Some(front) = self.queue.front() else {
                break;
            };
            let samples = front.samples();
            let n = (samples.len() - self.pos).min(out.len() - filled);
            out[filled..filled + n].copy_from_slice(&samples[self.pos..self.pos + n]);
            filled += n;
            self.pos += n;
            if self.pos >= samples.len() {
                self.queue.pop_front();
                self.pos = 0;
            }
        }
        out[filled..].fill(0);
        let finished = self.active && self.queue.is_empty();
        if finished {
            self.active = false;
        }
        finished
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assets(prompts: &[(&str, usize)]) -> IvrAssets {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("main.toml"),
            "start = \"a\"\n[nodes.a]\ntype = \"hangup\"\n",
        )
        .unwrap();
        let script = script::load(dir.path(), "main", "uk").unwrap();
        IvrAssets {
            script: Arc::new(script),
            prompts: prompts
                .iter()
                .map(|(n, len)| (n.to_string(), Prompt::new(*n, vec![1i16; *len])))
                .collect(),
        }
    }

    #[test]
    fn plays_prompts_back_to_back_and_reports_the_end_once() {
        let a = assets(&[("x", 200), ("y", 100)]);
        let mut p = Player::default();
        let (prompts, missing) = a.resolve(&["x".into(), "nope".into(), "y".into()]);
        p.load(prompts);
        assert_eq!(missing, vec!["nope".to_string()]);
        let mut frame = [0i16; 160];
        assert!(!p.next_frame(&mut frame));
        assert!(frame.iter().all(|s| *s == 1));
        assert!(
            p.next_frame(&mut frame),
            "300 samples end in the second frame"
        );
        assert!(frame[..140].iter().all(|s| *s == 1) && frame[140..].iter().all(|s| *s == 0));
        assert!(!p.next_frame(&mut frame), "reported once");
        assert!(frame.iter().all(|s| *s == 0));
        p.load(a.resolve(&["x".into()]).0);
        p.stop();
        assert!(
            !p.next_frame(&mut frame),
            "a stopped queue does not report an end"
        );
    }
}
