//! `hotline apikey …`: the keys Open311 applications file requests with
//! (docs/open311.md); the work is in `hotline::open311::store`.

use clap::Subcommand;
use hotline::config::Settings;

use crate::with_store;

#[derive(Subcommand)]
pub enum ApikeyCommand {
    /// A key for an application; printed once (only its hash is kept).
    Add {
        /// The application's name, shown on its cards ("open311:NAME").
        #[arg(long)]
        name: String,
        /// Answer its requests with a token to look the id up with, for
        /// clients written for that (default: the id at once).
        #[arg(long)]
        token: bool,
    },
    /// Every key: name, made, last used, revoked.
    List,
    /// Revoke an application's key: its requests are refused from now.
    Revoke { name: String },
    /// A new key for an application (revoked or not); the old one stops
    /// working at once. Printed once.
    Rotate { name: String },
}

/// Who ran a command, for the log.
fn os_user() -> String {
    std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into())
}

pub async fn run(settings: &Settings, action: ApikeyCommand) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    with_store(settings, async |store| {
        match action {
            ApikeyCommand::Add { name, token } => {
                let (key, row) = match store.add_api_key(&name, token, now).await {
                    Err(hotline::store::StoreError::AlreadyExists { .. }) => anyhow::bail!(
                        "{name:?} has a key already: `hotline apikey rotate {name:?}` gives it a new one"
                    ),
                    other => other?,
                };
                tracing::info!(app = %row.name, by = %os_user(), "Open311 API key added");
                println!("{key}");
                eprintln!(
                    "The key of {:?}: give it to the application; it is not shown again.",
                    row.name
                );
            }
            ApikeyCommand::List => {
                for k in store.api_keys().await? {
                    let at = |t: Option<chrono::DateTime<chrono::Utc>>| {
                        t.map_or("-".to_string(), |t| t.format("%Y-%m-%d %H:%M").to_string())
                    };
                    println!(
                        "{:<24} answer {:<5}  made {}  used {}  {}",
                        k.name,
                        k.answer,
                        k.created_at.format("%Y-%m-%d %H:%M"),
                        at(k.last_used_at),
                        k.revoked_at
                            .map(|t| format!("revoked {}", t.format("%Y-%m-%d %H:%M")))
                            .unwrap_or_else(|| "in force".into())
                    );
                }
            }
            ApikeyCommand::Rotate { name } => match store.rotate_api_key(&name, now).await? {
                Some((key, row)) => {
                    tracing::info!(app = %row.name, by = %os_user(), "Open311 API key rotated");
                    println!("{key}");
                    eprintln!(
                        "The new key of {:?}: the old one no longer works; this is not shown again.",
                        row.name
                    );
                }
                None => anyhow::bail!("{name:?} has no key: `hotline apikey add --name {name:?}`"),
            },
            ApikeyCommand::Revoke { name } => match store.revoke_api_key(&name, now).await? {
                Some(k) => {
                    tracing::info!(app = %k.name, by = %os_user(), "Open311 API key revoked");
                    println!("{} revoked", k.name);
                }
                None => anyhow::bail!("{name:?} has no key in force"),
            },
        }
        Ok(())
    })
    .await
}
