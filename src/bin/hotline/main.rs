//! The `hotline` command: parses the command line and hands each command
//! to its module: `serve` runs the server ([`serve`]); the others look after
//! what it keeps: users and operators ([`people`]), the classifier
//! ([`classifier`]), the block list ([`block`]), retention ([`prune`]) and
//! the voice menu ([`ivr`]). The work itself is in the library; `anyhow`
//! lives here only, where errors become messages for a person.

mod apikey;
mod appeal;
mod block;
mod classifier;
mod executor;
mod ivr;
mod people;
mod prune;
mod report;
mod serve;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use hotline::config::{DEFAULT_PATH, Settings};
use hotline::store::Store;

#[derive(Parser)]
#[command(
    name = "hotline",
    version,
    about = "Call-centre server for citizen hotlines"
)]
struct Cli {
    /// Configuration file.
    #[arg(long, global = true, default_value = DEFAULT_PATH)]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve,
    /// Configuration tools.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// IVR menu tools.
    Ivr {
        #[command(subcommand)]
        action: ivr::IvrAction,
    },
    /// Demonstration data.
    Demo {
        #[command(subcommand)]
        action: DemoAction,
    },
    /// Operators: who answers calls, on which extension, in which queues.
    Operator {
        #[command(subcommand)]
        action: people::OperatorAction,
    },
    /// Console users: who signs in, with which role.
    User {
        #[command(subcommand)]
        action: people::UserAction,
    },
    /// Cards: one card's state and history, lists by executor and state.
    Appeal {
        #[command(subcommand)]
        action: appeal::AppealAction,
    },
    /// Executors as organisations: their users and curators.
    Executor {
        #[command(subcommand)]
        action: executor::ExecutorAction,
    },
    /// The classifier of issue types: sections, types, executors and
    /// deadline classes.
    Classifier {
        #[command(subcommand)]
        action: classifier::ClassifierAction,
    },
    /// Open311 applications' API keys: add (the key is shown once), list,
    /// revoke.
    Apikey {
        #[command(subcommand)]
        action: apikey::ApikeyCommand,
    },
    /// Blocked callers: numbers whose calls never reach the menu or an
    /// operator, e-mail addresses and messenger accounts.
    Block {
        #[command(subcommand)]
        action: block::BlockCommand,
    },
    /// A report of the regulation's set, written to a file (XLSX, PDF, CSV).
    Report(report::ReportArgs),
    /// Remove recordings and appeals past their retention period
    /// (`[retention]`), except those under legal hold; first make files and
    /// rows agree after any crash.
    Prune {
        /// List what would be removed; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Count ages from this moment (RFC 3339) instead of now: to see
        /// what a prune on a given day would remove.
        #[arg(long)]
        now: Option<String>,
    },
}

#[derive(Subcommand)]
enum DemoAction {
    /// Add a sample appeal (registration number 1580-2026-000123, caller
    /// +380611234567) and an active water outage on вул. Соборна, to try
    /// menu 4 and 5 by phone.
    Seed,
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Load the configuration (file plus HOTLINE_* overrides), check it and
    /// print the effective values with passwords hidden.
    Check,
}

/// Opens the store, runs `work` on it and closes it whatever `work`
/// returned (so SQLite checkpoints its WAL before the command exits).
pub async fn with_store<T>(
    settings: &Settings,
    work: impl AsyncFnOnce(&Store) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let store = Store::connect(settings.storage.database_url.expose()).await?;
    let outcome = work(&store).await;
    store.close().await;
    outcome
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", report(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// An error and its causes, each once: a cause that its error's message
/// already quotes is not repeated.
fn report(e: &anyhow::Error) -> String {
    let mut out = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !out.contains(&cause) {
            out.push_str("\n  caused by: ");
            out.push_str(&cause);
        }
    }
    out
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(&cli.config).with_context(|| {
        format!(
            "loading the configuration ({} and HOTLINE_* variables)",
            cli.config.display()
        )
    })?;
    match cli.command {
        Command::Serve => serve::run(settings).await,
        Command::Config {
            action: ConfigAction::Check,
        } => {
            // Passwords are secrets: they print redacted.
            println!("{settings:#?}");
            Ok(())
        }
        Command::Ivr { action } => ivr::run(&settings, action),
        Command::Demo {
            action: DemoAction::Seed,
        } => {
            let rules = settings.appeals.lifecycle()?;
            with_store(&settings, async |store| {
                let now = chrono::Utc::now();
                let (appeal, work) = hotline::store::demo::seed(store, now).await?;
                println!("appeal {appeal} and repair work {work} added");
                let city = hotline::appeal::demo::seed_city(
                    store,
                    &rules,
                    std::path::Path::new(hotline::appeal::classifier::DEFAULT_PATH),
                    &settings.storage.attachments_dir,
                    now,
                )
                .await?;
                if city.already {
                    println!("the demo city is there already: nothing more added");
                    return Ok(());
                }
                println!(
                    "demo users (password {}): {}",
                    hotline::appeal::demo::DEMO_PASSWORD,
                    city.users.join(", ")
                );
                for (number, status) in &city.cards {
                    println!("card {number}: {status}");
                }
                println!("{} repair works planned and under way", city.works);
                Ok(())
            })
            .await
        }
        Command::Operator { action } => people::operator(&settings, action).await,
        Command::User { action } => people::user(&settings, action).await,
        Command::Executor { action } => executor::executor(&settings, action).await,
        Command::Appeal { action } => appeal::run(&settings, action).await,
        Command::Classifier { action } => classifier::run(&settings, action).await,
        Command::Apikey { action } => {
            serve::init_cli_logging();
            apikey::run(&settings, action).await
        }
        Command::Block { action } => {
            serve::init_cli_logging();
            block::run(&settings, action).await
        }
        Command::Report(args) => report::run(&settings, args).await,
        Command::Prune { dry_run, now } => {
            serve::init_cli_logging();
            prune::run(&settings, dry_run, now).await
        }
    }
}
