//! `hotline classifier …`: the city's classifier of issue types imported
//! and listed; the work is in `hotline::appeal::classifier` and
//! `hotline::appeal::classifier_store`.

use std::path::PathBuf;

use clap::Subcommand;
use hotline::appeal::classifier::{Classifier, ClassifierError};
use hotline::appeal::classifier_store::classifier_listing;
use hotline::config::Settings;

use crate::with_store;

#[derive(Subcommand)]
pub enum ClassifierAction {
    /// Check a classifier file and store it as the new current version
    /// (unless the current version has the same content). Reports each
    /// problem as file:line and imports nothing if there is any.
    Import {
        /// The classifier file.
        #[arg(default_value = hotline::appeal::classifier::DEFAULT_PATH)]
        file: PathBuf,
    },
    /// Show a classifier version (default: the current one): its sections
    /// and types with their executor and deadline class, then the
    /// executors.
    List {
        /// Version number.
        #[arg(long)]
        version: Option<u32>,
    },
}

/// `hotline classifier ...`.
pub async fn run(settings: &Settings, action: ClassifierAction) -> anyhow::Result<()> {
    match action {
        ClassifierAction::Import { file } => {
            // Checked before the database is opened.
            let classifier = match Classifier::load(&file) {
                Ok(classifier) => classifier,
                Err(ClassifierError::Invalid(problems)) => {
                    for p in &problems {
                        println!("{p}");
                    }
                    eprintln!("{} problem(s) found; nothing imported", problems.len());
                    std::process::exit(1);
                }
                Err(e) => return Err(e.into()),
            };
            let source = file.display().to_string();
            let outcome = with_store(settings, async |store| {
                Ok(store
                    .import_classifier(&classifier, &source, chrono::Utc::now())
                    .await?)
            })
            .await?;
            let counts = format!(
                "{} sections, {} types, {} executors",
                outcome.sections, outcome.types, outcome.executors
            );
            if outcome.created {
                println!(
                    "classifier version {} imported from {source}: {counts}",
                    outcome.version.number
                );
            } else {
                println!(
                    "classifier unchanged: version {} (imported from {} on {}) has the same \
                     content ({counts})",
                    outcome.version.number,
                    outcome.version.source,
                    outcome.version.imported_at.format("%Y-%m-%d %H:%M UTC")
                );
            }
            Ok(())
        }
        ClassifierAction::List { version } => {
            let listing = with_store(settings, async |store| {
                let found = match version {
                    Some(number) => store.classifier_version(number).await?,
                    None => store.current_classifier_version().await?,
                };
                let Some(found) = found else {
                    match version {
                        Some(number) => anyhow::bail!("there is no classifier version {number}"),
                        None => anyhow::bail!(
                            "no classifier imported yet: run `hotline classifier import`"
                        ),
                    }
                };
                let categories = store.categories(found.number).await?;
                let executors = store.executors(found.number).await?;
                Ok(classifier_listing(&found, &categories, &executors))
            })
            .await?;
            print!("{listing}");
            Ok(())
        }
    }
}
