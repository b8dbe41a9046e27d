//! `hotline ivr check`: the voice menu loaded and checked as the server
//! would load it (`hotline::ivr::assets::load_checked`), every problem
//! reported as file:line.

use std::path::PathBuf;

use clap::Subcommand;
use hotline::config::Settings;

#[derive(Subcommand)]
pub enum IvrAction {
    /// Check the menu files (and decode every prompt); report each problem
    /// as file:line. Exits 1 if there is any.
    Check {
        /// Directory of menu files (default: `[ivr] scripts_dir`).
        dir: Option<PathBuf>,
    },
}

/// `hotline ivr …`; exits 1 if the menu has problems.
pub fn run(settings: &Settings, action: IvrAction) -> anyhow::Result<()> {
    let IvrAction::Check { dir } = action;
    let mut source = hotline::ivr::assets::IvrSource::from_settings(&settings.ivr);
    if let Some(dir) = dir {
        source.dir = dir;
    }
    let cache = hotline::media::PromptCache::new();
    let loaded = match hotline::queue::QueueSet::load(&settings.queues.file) {
        Ok(queues) => {
            hotline::ivr::assets::load_checked(&source, &cache, &queues, &settings.blocking)
        }
        Err(e) => Err(vec![hotline::ivr::Diagnostic {
            file: settings.queues.file.clone(),
            line: 0,
            message: e.to_string(),
        }]),
    };
    let dir = &source.dir;
    match loaded {
        Ok(assets) => {
            println!(
                "{}: OK, {} nodes, {} prompts",
                dir.display(),
                assets.script.nodes.len(),
                assets.prompts.len()
            );
            Ok(())
        }
        Err(errors) => {
            for e in &errors {
                println!("{e}");
            }
            eprintln!("{} problem(s) found", errors.len());
            std::process::exit(1);
        }
    }
}
