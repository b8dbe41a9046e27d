//! Makes a report: asks the store for the period's figures and hands them
//! to the plain code that counts ([`super::indicators`], [`super::calls`])
//! and draws ([`super::kinds`]).
//!
//! Role: the thin async edge between the store and the report set; no
//! rule of its own.

use chrono::{DateTime, Utc};

use super::call_days;
use super::calls::CallTally;
use super::document::Report;
use super::indicators::{Breakdown, Tally};
use super::kinds::{self, Context, ReportKind};
use super::period::Period;
use super::store::Categories;
use super::{ReportError, ReportSettings};
use crate::appeal::calendar::WorkingCalendar;
use crate::store::Store;

/// What a report is asked for.
#[derive(Debug, Clone)]
pub struct Request {
    pub kind: ReportKind,
    pub period: Period,
    /// The executor of a daily report (their code).
    pub executor: Option<String>,
}

/// Makes the report `request` asks for, as of `now`.
pub async fn make(
    store: &Store,
    calendar: &WorkingCalendar,
    settings: &ReportSettings,
    request: &Request,
    now: DateTime<Utc>,
) -> Result<Report, ReportError> {
    let kind = request.kind;
    if !kinds::fits(kind, request.period) {
        return Err(ReportError::Period(format!(
            "the {} report is of one day",
            kind.as_str()
        )));
    }
    let (mut names, categories) = store.report_names().await?;
    names.queues = settings.queue_titles.clone();
    let ctx = Context {
        period: request.period,
        made_at: now,
        tz: calendar.time_zone(),
        names: &names,
    };
    let report = match kind {
        ReportKind::Daily => {
            let executor = request.executor.as_deref().ok_or(ReportError::NoExecutor)?;
            known(&names, executor)?;
            let appeals = breakdown(
                store,
                calendar,
                &categories,
                request.period,
                now,
                Some(executor),
            )
            .await?;
            let overdue = store
                .report_cards(Some(executor), now, None, &categories)
                .await?;
            let schedule = calendar.executor(executor);
            let until = calendar.end_of_next_working_day(schedule, now);
            let due_soon = store
                .report_cards(Some(executor), now, Some(until), &categories)
                .await?;
            kinds::daily(&ctx, executor, &appeals, &overdue, &due_soon)
        }
        ReportKind::Weekly | ReportKind::Monthly | ReportKind::Period => {
            let only = request.executor.as_deref();
            if let Some(executor) = only {
                known(&names, executor)?;
            }
            // The contact centre's calls are the city's, not an executor's.
            let city_calls = async {
                match only {
                    None => calls(store, calendar, settings, request.period)
                        .await
                        .map(Some),
                    Some(_) => Ok(None),
                }
            };
            let (appeals, calls) = futures_util::try_join!(
                breakdown(store, calendar, &categories, request.period, now, only),
                city_calls
            )?;
            kinds::summary(&ctx, kind, &appeals, calls.as_ref(), only)
        }
        ReportKind::Calls => {
            let calls = calls(store, calendar, settings, request.period).await?;
            kinds::calls(&ctx, &calls)
        }
        ReportKind::Unresolved => {
            let mut cards = store.report_cards(None, now, None, &categories).await?;
            // Longest overdue first, then by executor.
            cards.sort_by(|a, b| {
                a.deadline
                    .cmp(&b.deadline)
                    .then(a.executor.cmp(&b.executor))
            });
            kinds::unresolved(&ctx, &cards)
        }
        ReportKind::Fortnight => {
            let before = request.period.previous();
            let streets = |period: Period| async move {
                let s = store
                    .report_streets(period.start(calendar), period.end(calendar))
                    .await?;
                Ok::<_, ReportError>(
                    s.into_values()
                        .collect::<std::collections::BTreeMap<_, _>>(),
                )
            };
            let (appeals, earlier, now_streets, before_streets) = futures_util::try_join!(
                breakdown(store, calendar, &categories, request.period, now, None),
                breakdown(store, calendar, &categories, before, now, None),
                streets(request.period),
                streets(before)
            )?;
            kinds::fortnight(&ctx, &appeals, &earlier, &now_streets, &before_streets)
        }
    };
    Ok(report)
}

fn known(names: &kinds::Names, executor: &str) -> Result<(), ReportError> {
    if names.executors.contains_key(executor) {
        Ok(())
    } else {
        Err(ReportError::UnknownExecutor(executor.to_string()))
    }
}

/// The appeals' indicators of `period`.
pub async fn breakdown(
    store: &Store,
    calendar: &WorkingCalendar,
    categories: &Categories,
    period: Period,
    now: DateTime<Utc>,
    only: Option<&str>,
) -> Result<Breakdown, ReportError> {
    let (start, end) = (period.start(calendar), period.end(calendar));
    let mut tally = Tally::new(calendar.time_zone()).only(only);
    let (cards, steps) = futures_util::try_join!(
        store.count_cards(start, end, now, only, categories),
        store.count_steps(start, end, categories)
    )?;
    cards.feed(&mut tally);
    for step in &steps {
        tally.steps(step);
    }
    Ok(tally.finish())
}

/// The calls' figures of `period`: the days already counted
/// ([`count_call_days`]) added up, the others read from the events.
pub async fn calls(
    store: &Store,
    calendar: &WorkingCalendar,
    settings: &ReportSettings,
    period: Period,
) -> Result<super::calls::CallReport, ReportError> {
    let threshold = settings.service_level_secs * 1000;
    let mut tally = CallTally::new(calendar.time_zone());
    let counted = store
        .counted_call_days(period.first, period.last, threshold)
        .await?;
    let (done, runs) = call_days::split(period, &counted);
    if !done.is_empty() {
        store
            .counted_call_figures(period.first, period.last, threshold)
            .await?
            .feed(&mut tally);
    }
    for run in runs {
        store
            .call_figures(run.start(calendar), run.end(calendar), threshold)
            .await?
            .feed(&mut tally);
    }
    Ok(tally.finish())
}

/// Counts and keeps the call figures of every settled day since the first
/// call that is not kept with the threshold in `settings` (all of them the
/// first time, or when the threshold changed; then one a day). Returns
/// how many days were counted.
pub async fn count_call_days(
    store: &Store,
    calendar: &WorkingCalendar,
    settings: &ReportSettings,
    now: DateTime<Utc>,
) -> Result<usize, ReportError> {
    let threshold = settings.service_level_secs * 1000;
    let Some(first) = store.first_call_at().await? else {
        return Ok(0);
    };
    let first = calendar.date(first);
    let Some(last) = calendar.date(now).checked_sub_days(chrono::Days::new(1)) else {
        return Ok(0);
    };
    let Ok(span) = Period::new(first, last) else {
        return Ok(0);
    };
    let counted = store.counted_call_days(first, last, threshold).await?;
    // Read once: a day is held back by a call that arrived before its end.
    let going = store.first_call_going().await?;
    let mut made = 0;
    for day in span.dates().filter(|d| !counted.contains(d)) {
        let day = Period::day(day);
        let (start, end) = (day.start(calendar), day.end(calendar));
        if !call_days::settled(end, now, going.is_some_and(|at| at < end)) {
            // Later days have not settled either.
            break;
        }
        let figures = store.call_figures(start, end, threshold).await?;
        store
            .keep_call_day(day.first, threshold, &figures, now)
            .await?;
        made += 1;
    }
    Ok(made)
}

/// Counts the settled days at start and then every hour, until shutdown
/// (docs/reports.md, "Speed").
pub fn spawn_day_counter(
    store: Store,
    calendar: WorkingCalendar,
    settings: std::sync::Arc<ReportSettings>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        loop {
            let started = std::time::Instant::now();
            match count_call_days(&store, &calendar, &settings, Utc::now()).await {
                Ok(0) => {}
                Ok(days) => tracing::info!(
                    days,
                    secs = started.elapsed().as_secs(),
                    "the reports' call figures counted for the days that ended"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "the reports' call figures per day could not be counted")
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(std::time::Duration::from_secs(3600)) => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
        }
    });
}
