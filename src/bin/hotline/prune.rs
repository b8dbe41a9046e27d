//! `hotline prune`: recordings and appeals past their retention period
//! removed (or, with `--dry-run`, listed).

use anyhow::Context;
use hotline::config::Settings;

use crate::with_store;

/// `hotline prune`; the work is in `hotline::retention`.
pub async fn run(settings: &Settings, dry_run: bool, now: Option<String>) -> anyhow::Result<()> {
    // Another "now" only to look: a prune dated later would remove what is
    // younger than the limit today.
    if now.is_some() && !dry_run {
        anyhow::bail!("--now goes with --dry-run only: a prune always counts from the real time");
    }
    let now = match now {
        Some(text) => chrono::DateTime::parse_from_rfc3339(&text)
            .with_context(|| format!("--now {text:?}: RFC 3339, e.g. 2026-11-25T12:00:00Z"))?
            .with_timezone(&chrono::Utc),
        None => chrono::Utc::now(),
    };
    with_store(settings, async |store| {
        let pruner = hotline::retention::Pruner::from_settings(store.clone(), settings)?;
        if !dry_run {
            let fixed = pruner.reconcile(now).await?;
            if fixed.fixed() > 0 {
                println!("reconciled {} file(s) and row(s) left by an earlier crash", fixed.fixed());
            }
        }
        let report = pruner.prune(now, dry_run).await?;
        let verb = if dry_run { "would remove" } else { "removed" };
        for r in &report.recordings {
            println!(
                "recording {}  {}  {}",
                r.id,
                r.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
                r.path
            );
        }
        for c in &report.appeals {
            println!(
                "card {}  {}",
                c.registration_number,
                c.created_at.format("%Y-%m-%d %H:%M:%S UTC")
            );
        }
        println!(
            "{verb} the caller's number of {} call(s) older than {}",
            report.calls_anonymised, settings.retention.cards
        );
        println!(
            "{verb} {} recording(s) started before {} ({} kept) and {} card(s) registered before {} ({} kept)",
            report.recordings.len(),
            report.recordings_cutoff.map(|c| c.to_rfc3339()).unwrap_or_default(),
            settings.retention.recordings,
            report.appeals.len(),
            report.appeals_cutoff.map(|c| c.to_rfc3339()).unwrap_or_default(),
            settings.retention.cards,
        );
        for e in &report.errors {
            eprintln!("could not delete {e}");
        }
        Ok(())
    })
    .await
}
