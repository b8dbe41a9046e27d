//! `hotline report KIND`: a report of the set (docs/reports.md) written to
//! a file, as the console's "Звіти" page makes it.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use hotline::config::Settings;
use hotline::report::{self, Format, ReportKind};

use crate::with_store;

/// What `hotline report` is asked.
#[derive(Args)]
pub struct ReportArgs {
    /// daily (one executor's), weekly, monthly, fortnight (the analytic
    /// note), unresolved (cards unresolved at every control level), calls,
    /// or period (any period).
    kind: String,
    /// The first day, YYYY-MM-DD (the city's days). Without --from and
    /// --to: the period just over (yesterday, last week, last month, the
    /// last two weeks).
    #[arg(long)]
    from: Option<String>,
    /// The last day, included; --from alone means that one day.
    #[arg(long)]
    to: Option<String>,
    /// The executor's code, for the daily report.
    #[arg(long)]
    executor: Option<String>,
    /// xlsx, pdf, csv or json.
    #[arg(long, default_value = "xlsx")]
    format: String,
    /// Where to write it; without it, a file named after the report in
    /// the current folder.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub async fn run(settings: &Settings, args: ReportArgs) -> anyhow::Result<()> {
    let kind = ReportKind::parse(&args.kind).with_context(|| {
        format!(
            "{:?} is not a report; one of: {}",
            args.kind,
            ReportKind::ALL
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    let format = Format::parse(&args.format)
        .with_context(|| format!("--format {:?}: xlsx, pdf, csv or json", args.format))?;
    let rules = settings.appeals.lifecycle()?;
    let calendar = rules.calendar();
    let now = chrono::Utc::now();
    // The queues' titles; without the queues file, their names.
    let mut reports = settings.reports.clone();
    match hotline::queue::QueueSet::load(&settings.queues.file) {
        Ok(queues) => reports.queue_titles = queues.titles(),
        Err(e) => eprintln!("warning: queues are named by their codes: {e}"),
    }
    let reports = &reports;
    let period = kind.period(args.from.as_deref(), args.to.as_deref(), calendar.date(now))?;
    let request = report::Request {
        kind,
        period,
        executor: args.executor.clone(),
    };
    let (bytes, name) = with_store(settings, async |store| {
        // The days the server has not counted yet (or no server runs on
        // this database): counted now, once, as the server would.
        // Not being able to keep them (a read-only copy of the database)
        // only makes the report slower.
        match report::build::count_call_days(store, calendar, reports, now).await {
            Ok(0) => {}
            Ok(days) => eprintln!("the call figures of {days} settled days counted and kept"),
            Err(e) => eprintln!(
                "warning: the days' call figures could not be kept ({e}); reading the events"
            ),
        }
        let made = report::make(store, calendar, reports, &request, now).await?;
        let bytes = report::render(&made, format, reports)?;
        Ok((bytes, report::file_name(&made, format)))
    })
    .await?;
    let out = args.out.unwrap_or_else(|| PathBuf::from(name));
    std::fs::write(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
    println!(
        "{} ({}, {}): {} bytes written to {}",
        kind.title(),
        period,
        format.extension(),
        bytes.len(),
        out.display()
    );
    Ok(())
}
