//! What the caller hears: a [`Player`] that hands out the IVR's prompts
//! (decoded once into memory by [`crate::ivr::assets`]) 20 ms at a time.
//! Plain memory: no IO.

use std::collections::VecDeque;

use crate::media::Prompt;

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
    /// with [`crate::ivr::assets::IvrAssets::resolve`]).
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
    use std::sync::Arc;

    use super::*;
    use crate::ivr::assets::IvrAssets;
    use crate::ivr::script;

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
