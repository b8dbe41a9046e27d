//! The `hotline` command: `serve` runs the server; `config check` shows the
//! effective settings. Kept thin: the work is in the library.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use hotline::config::{DEFAULT_PATH, Settings};
use hotline::server::Application;

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
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Load the configuration (file plus HOTLINE_* overrides), check it and
    /// print the effective values with passwords hidden.
    Check,
}

fn init_logging(settings: &Settings) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(&settings.logging.level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if settings.logging.format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
    hotline::phone::reveal_personal_data(settings.logging.reveal_personal_data);
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings =
        Settings::load(&cli.config).with_context(|| format!("loading {}", cli.config.display()))?;
    match cli.command {
        Command::Config {
            action: ConfigAction::Check,
        } => {
            let mut shown = settings.clone();
            for t in &mut shown.trunk {
                t.password = "********".into();
            }
            println!("{shown:#?}");
            Ok(())
        }
        Command::Serve => {
            init_logging(&settings);
            let app = Application::build(settings)
                .await
                .context("starting hotline")?;
            let stop = app.shutdown_handle();
            tokio::spawn(async move {
                wait_for_signal().await;
                tracing::info!("signal received; stopping");
                let _ = stop.send(true);
            });
            app.run_until_stopped().await;
            Ok(())
        }
    }
}

/// Ctrl-C or SIGTERM.
async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
