//! The task that e-mails reports on schedule (`[[reports.schedule]]`
//! through `[reports.mail]`; docs/reports.md, "Delivery").
//!
//! Each pass, for every schedule: its latest occurrence at or before now
//! ([`Schedule::latest`]), if it falls after the schedule was first
//! configured, is planned ([`delivery::plan`]) and stored once by key, so
//! a report missed while the server was down is sent at the next start,
//! once, and of several nodes only the first to store it sends it. Then
//! every delivery due is claimed (one sender at a time; a claim lapses
//! after [`CLAIM`] if its node dies), made as of now, rendered and sent.
//! A failed attempt is retried later ([`MailSettings::retry_after`]);
//! a permanent refusal, or the last attempt, leaves it failed with the
//! server's words, shown to admins on the reports page.
//!
//! Between sending a message and marking it sent the node could die: the
//! claim then lapses and the message is sent again. That window is the
//! one way a report can arrive twice.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tokio::sync::watch;
use tracing::{info, warn};

use super::delivery::{self, Delivery};
use super::delivery_store::SentFile;
use super::schedule::Schedule;
use super::{Format, ReportSettings, Request, file_name, render};
use crate::appeal::calendar::WorkingCalendar;
use crate::mail::{MailSettings, Mailer, Outgoing};
use crate::store::Store;

/// How long a sender holds a delivery it is making and sending.
const CLAIM: Duration = Duration::from_secs(10 * 60);

/// The longest pause between passes.
const PASS: Duration = Duration::from_secs(30);

/// What the sender needs.
pub struct Sender {
    pub store: Store,
    pub calendar: WorkingCalendar,
    pub settings: Arc<ReportSettings>,
    pub mail: MailSettings,
    pub mailer: Mailer,
    pub schedules: Vec<Schedule>,
}

impl Sender {
    /// Plans and stores the occurrences due at `now` that are not on file;
    /// `seen` keeps each schedule's last occurrence stored, so a pass
    /// stores nothing twice. Returns how many deliveries were new.
    pub async fn enqueue_due(
        &self,
        now: DateTime<Utc>,
        seen: &mut HashMap<String, String>,
    ) -> Result<usize, crate::store::StoreError> {
        let mut new = 0;
        for schedule in &self.schedules {
            let identity = schedule.identity();
            let Some(occurrence) = schedule.latest(&self.calendar, now) else {
                continue;
            };
            if seen.get(&identity) == Some(&occurrence.key) {
                continue;
            }
            let first_seen = self.store.schedule_first_seen(&identity, now).await?;
            if occurrence.at >= first_seen {
                let executors = if schedule.kind.per_executor() {
                    self.store.executor_mail().await?
                } else {
                    Vec::new()
                };
                let planned = delivery::plan(schedule, &occurrence, &executors);
                let stored = self.store.enqueue_deliveries(&planned, now).await?;
                if stored > 0 {
                    info!(report = %occurrence.key, deliveries = stored, "report due to be e-mailed");
                }
                new += stored;
            }
            seen.insert(identity, occurrence.key);
        }
        Ok(new)
    }

    /// Sends every delivery due at `now`, one at a time. Returns how many
    /// were attempted.
    pub async fn send_due(&self, now: DateTime<Utc>) -> Result<usize, crate::store::StoreError> {
        let mut attempted = 0;
        let until = now + chrono::Duration::from_std(CLAIM).unwrap_or_default();
        while let Some(d) = self.store.claim_delivery(now, until).await? {
            attempted += 1;
            match self.send(&d, Utc::now()).await {
                Ok(file) => {
                    info!(report = %d.key, to = d.recipients.len(), bytes = file.bytes, "report e-mailed");
                    self.store.delivery_sent(d.id, &file, Utc::now()).await?;
                }
                Err((error, permanent)) => {
                    let retry_at = (!permanent)
                        .then(|| self.mail.retry_after(d.attempts + 1))
                        .flatten()
                        .and_then(|wait| chrono::Duration::from_std(wait).ok())
                        .map(|wait| Utc::now() + wait);
                    warn!(report = %d.key, attempt = d.attempts + 1, %error, retry_at = ?retry_at, "a report could not be e-mailed");
                    self.store.delivery_failed(d.id, &error, retry_at).await?;
                }
            }
        }
        Ok(attempted)
    }

    /// Makes, renders and sends one delivery; the error's text and whether
    /// it is permanent.
    async fn send(&self, d: &Delivery, now: DateTime<Utc>) -> Result<SentFile, (String, bool)> {
        let period = d
            .period()
            .ok_or_else(|| ("the stored period is not one".to_string(), true))?;
        let format = Format::parse(&d.format)
            .ok_or_else(|| (format!("unknown format {:?}", d.format), true))?;
        let request = Request {
            kind: d.kind,
            period,
            executor: d.executor.clone(),
        };
        let report = super::make(&self.store, &self.calendar, &self.settings, &request, now)
            .await
            .map_err(|e| (format!("the report could not be made: {e}"), false))?;
        let file = render(&report, format, &self.settings)
            .map_err(|e| (format!("the report could not be written: {e}"), true))?;
        let name = file_name(&report, format);
        let sent = SentFile {
            name: name.clone(),
            bytes: file.len() as u64,
            sha256: hex::encode(Sha256::digest(&file)),
        };
        let message = Outgoing {
            to: d.recipients.clone(),
            subject: subject(&report),
            body: body(&report, &name, &self.settings.heading),
            attachment: Some(crate::mail::MailFile {
                name,
                content_type: format.content_type().to_string(),
                bytes: file,
            }),
        };
        self.mailer
            .send(&message)
            .await
            .map_err(|e| (e.to_string(), e.permanent()))?;
        Ok(sent)
    }
}

/// "Щоденний звіт виконавця · КП «Водоканал»: 03.12.2026": one
/// organisation's report names it, so a copy to the contact centre of
/// every executor's daily report tells them apart.
fn subject(report: &super::Report) -> String {
    match report.executor {
        Some(_) => format!(
            "{} · {}: {}",
            report.title, report.scope, report.period_text
        ),
        None => format!("{}: {}", report.title, report.period_text),
    }
}

/// The message's text (Ukrainian, as the reports are).
fn body(report: &super::Report, file: &str, heading: &str) -> String {
    let scope = if report.scope.is_empty() {
        String::new()
    } else {
        format!(" ({})", report.scope)
    };
    format!(
        "Добрий день.\n\n\
         У вкладенні — {title}{scope} за {period}: файл {file}, сформовано {made}.\n\n\
         {heading}\n\
         Лист надіслано автоматично за розкладом; відповідати на нього не потрібно.\n",
        title = report.title,
        period = report.period_text,
        made = report.made_at_text,
    )
}

/// Runs the sender until shutdown: a pass at once (a report missed while
/// the server was down goes out now), then one every [`PASS`] or sooner
/// when retries are quick.
pub fn spawn(sender: Sender, mut shutdown: watch::Receiver<bool>) {
    let pause = PASS.min(Duration::from_secs(sender.mail.retry_secs.max(1)));
    tokio::spawn(async move {
        let mut seen = HashMap::new();
        loop {
            let now = Utc::now();
            if let Err(e) = sender.enqueue_due(now, &mut seen).await {
                warn!(error = %e, "the report sender cannot store the reports due");
            }
            if let Err(e) = sender.send_due(now).await {
                warn!(error = %e, "the report sender cannot read or mark deliveries");
            }
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
        }
    });
}
