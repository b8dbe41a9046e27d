//! The IVR as the server runs it: the menu files checked and every prompt
//! of the language decoded ([`IvrAssets`]), checked against the rest of the
//! configuration ([`menu_problems`]), and the version in force
//! ([`CurrentIvr`]) that a reload replaces ([`IvrReloader`]).
//!
//! The one part of `ivr` that reads files: at start-up, by `hotline ivr
//! check` and on reload, never during a call. [`load_checked`] is the one
//! load-and-check all three use.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use tracing::{info, warn};

use super::script::{self, Diagnostic, NodeKind, PROMPT_EXTENSIONS, ScriptSet};
use crate::config::{AnonymousPolicy, BlockAction, BlockingSettings};
use crate::media::{Prompt, PromptCache};
use crate::queue::QueueSet;

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

    /// The decoded prompts of these names; those missing are skipped and
    /// logged.
    pub fn prompts_or_warn(&self, names: &[String]) -> Vec<crate::media::Prompt> {
        let (prompts, missing) = self.resolve(names);
        if !missing.is_empty() {
            tracing::warn!(?missing, "prompts missing from the language; skipped");
        }
        prompts
    }

    /// Whether a prompt of this name exists in the language.
    pub fn has_prompt(&self, name: &str) -> bool {
        self.prompts.contains_key(name)
    }

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

/// Where the IVR comes from: the menus' folder, the entry menu and the
/// prompts' language (`[ivr]`).
#[derive(Debug, Clone)]
pub struct IvrSource {
    pub dir: PathBuf,
    pub entry: String,
    pub language: String,
}

impl IvrSource {
    pub fn from_settings(ivr: &crate::config::IvrSettings) -> IvrSource {
        IvrSource {
            dir: ivr.scripts_dir.clone(),
            entry: ivr.entry.clone(),
            language: ivr.language.clone(),
        }
    }
}

/// Loads the menus and prompts of `source` and checks them against the
/// queues and the blocking policy: what the server starts with, what a
/// reload puts in force and what `hotline ivr check` reports. Every
/// problem found, with its file and line.
pub fn load_checked(
    source: &IvrSource,
    cache: &PromptCache,
    queues: &QueueSet,
    blocking: &BlockingSettings,
) -> Result<IvrAssets, Vec<Diagnostic>> {
    let assets = IvrAssets::load(&source.dir, &source.entry, &source.language, cache)?;
    let problems = menu_problems(&assets, queues, blocking, &source.dir);
    if problems.is_empty() {
        Ok(assets)
    } else {
        Err(problems)
    }
}

/// What the menus need of the rest of the configuration: every queue a
/// `queue` node routes to exists (so a typo is not found by a caller), and
/// the blocked callers' menu is there when `[blocking]` tells callers they
/// are blocked. One diagnostic per problem, in file and line order.
pub fn menu_problems(
    ivr: &IvrAssets,
    queues: &QueueSet,
    blocking: &BlockingSettings,
    scripts_dir: &Path,
) -> Vec<Diagnostic> {
    let told =
        blocking.action == BlockAction::Prompt || blocking.anonymous == AnonymousPolicy::Prompt;
    let mut found: Vec<Diagnostic> = ivr
        .script
        .nodes
        .values()
        .filter_map(|n| match &n.kind {
            NodeKind::Queue { queue, .. } if queues.get(queue).is_none() => Some(Diagnostic {
                file: scripts_dir.join(format!("{}.toml", n.id.file)),
                line: n.line,
                message: format!("queue {queue:?} is not defined in the queues file"),
            }),
            _ => None,
        })
        .collect();
    if told && !ivr.script.starts.contains_key(&blocking.prompt_menu) {
        found.push(Diagnostic {
            file: scripts_dir.join(format!("{}.toml", blocking.prompt_menu)),
            line: 0,
            message: format!(
                "the menu file for blocked callers ([blocking] prompt_menu = {:?}) is missing",
                blocking.prompt_menu
            ),
        });
    }
    found.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    found
}

/// The IVR in force: new calls take it, so a reload never changes a call
/// in progress. Cheap to clone; every clone sees the same version.
#[derive(Clone)]
pub struct CurrentIvr(Arc<RwLock<Arc<IvrAssets>>>);

impl CurrentIvr {
    pub fn new(assets: IvrAssets) -> CurrentIvr {
        CurrentIvr(Arc::new(RwLock::new(Arc::new(assets))))
    }

    /// The version in force now.
    pub fn get(&self) -> Arc<IvrAssets> {
        // A writer that panicked left a whole version (the swap is one
        // assignment): the poisoned lock's value is still good.
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set(&self, assets: IvrAssets) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(assets);
    }
}

/// Loads the IVR again into [`CurrentIvr`] (SIGHUP, `POST
/// /api/ivr/reload`): new calls get the new version; a version with errors
/// is refused and the old one stays.
#[derive(Clone)]
pub struct IvrReloader {
    source: IvrSource,
    cache: PromptCache,
    queues: Arc<QueueSet>,
    blocking: BlockingSettings,
    current: CurrentIvr,
    /// One reload at a time, so an older load never replaces a newer one.
    lock: Arc<Mutex<()>>,
}

impl IvrReloader {
    pub fn new(
        source: IvrSource,
        cache: PromptCache,
        queues: Arc<QueueSet>,
        blocking: BlockingSettings,
        current: CurrentIvr,
    ) -> IvrReloader {
        IvrReloader {
            source,
            cache,
            queues,
            blocking,
            current,
            lock: Arc::default(),
        }
    }

    /// The version in force, as calls take it.
    pub fn current(&self) -> CurrentIvr {
        self.current.clone()
    }

    /// `hotline ivr check` on the files as they are now: their node count,
    /// or every problem; nothing is put in force. Reads files: call it off
    /// the async workers.
    pub fn check(&self) -> Result<usize, Vec<Diagnostic>> {
        load_checked(&self.source, &self.cache, &self.queues, &self.blocking)
            .map(|assets| assets.script.nodes.len())
    }

    /// Reads files: call it off the async workers. The node count of the
    /// version now in force, or every problem of the refused one.
    pub fn reload(&self) -> Result<usize, Vec<Diagnostic>> {
        let _one_at_a_time = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        // Prompt files may have been replaced: decode afresh (the cache
        // notices changed files by their modification time and size).
        match load_checked(&self.source, &self.cache, &self.queues, &self.blocking) {
            Ok(assets) => {
                let nodes = assets.script.nodes.len();
                self.current.set(assets);
                info!(nodes, "IVR reloaded");
                Ok(nodes)
            }
            Err(errors) => {
                for e in &errors {
                    warn!(error = %e, "IVR reload refused; keeping the running version");
                }
                Err(errors)
            }
        }
    }
}
