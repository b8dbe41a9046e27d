//! `hotline executor …`: the classifier's executors as organisations with
//! people: their users (`hotline user add --role executor --executor CODE`)
//! and the curator who approves a second extension; the work is in
//! `hotline::appeal::lifecycle_store`.

use clap::Subcommand;
use hotline::config::Settings;

use crate::with_store;

#[derive(Subcommand)]
pub enum ExecutorAction {
    /// List the executors of the current classifier with their users
    /// (heads marked) and curators.
    List,
    /// Name the curator of an executor: the manager one level up, who must
    /// approve a second extension of a card's deadline.
    Curator {
        /// The executor's code in the classifier, e.g. vodokanal.
        code: String,
        /// The curator's login (a supervisor's or an executor's account).
        #[arg(long, conflicts_with = "clear", required_unless_present = "clear")]
        login: Option<String>,
        /// Remove the curator instead.
        #[arg(long)]
        clear: bool,
    },
}

/// `hotline executor ...`.
pub async fn executor(settings: &Settings, action: ExecutorAction) -> anyhow::Result<()> {
    with_store(settings, async |store| {
        match action {
            ExecutorAction::List => {
                let executors = store.executor_people().await?;
                if executors.is_empty() {
                    anyhow::bail!("no classifier imported yet: run `hotline classifier import`");
                }
                for e in executors {
                    let users: Vec<String> = e
                        .users
                        .iter()
                        .map(|(login, head)| match head {
                            true => format!("{login} (head)"),
                            false => login.clone(),
                        })
                        .collect();
                    println!(
                        "{:<20} {}\n    users: {}\n    curator: {}",
                        e.code,
                        e.name,
                        if users.is_empty() {
                            "none".into()
                        } else {
                            users.join(", ")
                        },
                        e.curator.as_deref().unwrap_or("none")
                    );
                }
            }
            ExecutorAction::Curator { code, login, clear } => {
                let login = if clear { None } else { login };
                store
                    .set_curator(&code, login.as_deref(), None, chrono::Utc::now())
                    .await?;
                match login {
                    Some(login) => println!("{login} is now the curator of {code}"),
                    None => println!("{code} has no curator now"),
                }
            }
        }
        Ok(())
    })
    .await
}
