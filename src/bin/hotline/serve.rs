//! `hotline serve`: logging set up, the server built and run until Ctrl-C
//! or SIGTERM; SIGHUP reloads the voice menu.

use anyhow::Context;
use hotline::config::Settings;
use hotline::server::Application;

/// Runs the server until it is told to stop.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
    init_logging(&settings);
    // Before start-up work, so an early SIGHUP cannot kill us (its
    // default action); reloads wait until the server is built.
    #[cfg(unix)]
    let hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let app = Application::build(settings)
        .await
        .context("starting hotline")?;
    let stop = app.shutdown_handle();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("signal received; stopping");
        let _ = stop.send(true);
    });
    #[cfg(unix)]
    {
        let reloader = app.ivr_reloader();
        if let Some(mut hup) = hup {
            tokio::spawn(async move {
                while hup.recv().await.is_some() {
                    tracing::info!("SIGHUP: reloading the IVR");
                    let r = reloader.clone();
                    let _ = tokio::task::spawn_blocking(move || r.reload()).await;
                }
            });
        }
    }
    app.run_until_stopped().await;
    Ok(())
}

/// Commands that change what the server keeps log what they did, to
/// standard error (`RUST_LOG` to change the level).
pub fn init_cli_logging() {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn,hotline=info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn init_logging(settings: &Settings) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(&settings.logging.level));
    // Colours only on a terminal; elsewhere any escape byte is a client's.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if settings.logging.format == "json" {
        builder
            .json()
            .with_writer(hotline::logtext::stdout_one_line(false))
            .init();
    } else {
        builder
            .with_ansi(ansi)
            .with_writer(hotline::logtext::stdout_one_line(ansi))
            .init();
    }
    hotline::phone::reveal_personal_data(settings.logging.reveal_personal_data);
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
