//! Reports by e-mail: which messages a schedule's occurrence makes, and
//! what a delivery on file looks like.
//!
//! A weekly, monthly, fortnight, unresolved or calls report is one message
//! to the schedule's recipients. The daily report is one message per
//! executor, to the heads of that organisation who have an e-mail address
//! (and a copy to the schedule's recipients, if any). An executor with
//! nobody to send to gets a delivery on file marked skipped, with why, so
//! admins see whose head lacks an address.
//!
//! Plain code: the sender (`report::sender`) stores what [`plan`] returns
//! and sends it.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::Format;
use super::kinds::ReportKind;
use super::period::Period;
use super::schedule::{Occurrence, Schedule};
use crate::store::text_enum;

/// An organisation the daily report goes to, with its heads' addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutorMail {
    pub code: String,
    pub heads: Vec<String>,
}

/// A message to send, before it is on file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// Unique: the occurrence, the format and, for the daily report, the
    /// executor. The first node to store it sends it.
    pub key: String,
    pub kind: ReportKind,
    pub period: Period,
    pub executor: Option<String>,
    pub format: Format,
    /// Empty: nobody to send it to; [`Planned::skipped`] says why.
    pub recipients: Vec<String>,
    pub due_at: DateTime<Utc>,
}

impl Planned {
    /// Why there is nobody to send it to, if there is nobody.
    pub fn skipped(&self) -> Option<String> {
        if !self.recipients.is_empty() {
            return None;
        }
        Some(match &self.executor {
            Some(code) => format!(
                "no head of {code} has an e-mail address (hotline user email LOGIN ADDRESS)"
            ),
            None => "no recipients".into(),
        })
    }
}

/// The messages `occurrence` of `schedule` makes.
pub fn plan(
    schedule: &Schedule,
    occurrence: &Occurrence,
    executors: &[ExecutorMail],
) -> Vec<Planned> {
    let key = format!("{}:{}", occurrence.key, schedule.format.extension());
    let planned = |executor: Option<&ExecutorMail>| {
        let mut recipients: Vec<String> = executor.map(|e| e.heads.clone()).unwrap_or_default();
        for to in &schedule.to {
            if !recipients.iter().any(|r| r.eq_ignore_ascii_case(to)) {
                recipients.push(to.clone());
            }
        }
        Planned {
            key: match executor {
                Some(e) => format!("{key}:{}", e.code),
                None => key.clone(),
            },
            kind: occurrence.kind,
            period: occurrence.period,
            executor: executor.map(|e| e.code.clone()),
            format: schedule.format,
            recipients,
            due_at: occurrence.at,
        }
    };
    if schedule.kind.per_executor() {
        executors.iter().map(|e| planned(Some(e))).collect()
    } else {
        vec![planned(None)]
    }
}

text_enum! {
    /// Where a delivery is.
    DeliveryStatus {
        /// To send, or to try again at `next_attempt_at`.
        Pending => "pending",
        Sent => "sent",
        /// Given up: a permanent refusal or the last attempt failed.
        Failed => "failed",
        /// Nobody to send it to.
        Skipped => "skipped",
    }
}

/// A delivery on file, as admins see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    pub id: Uuid,
    pub key: String,
    pub kind: ReportKind,
    pub period_first: NaiveDate,
    pub period_last: NaiveDate,
    pub executor: Option<String>,
    pub format: String,
    pub recipients: Vec<String>,
    pub status: DeliveryStatus,
    pub due_at: DateTime<Utc>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub file_name: Option<String>,
    pub file_bytes: Option<u64>,
    pub file_sha256: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl Delivery {
    /// The period it covers.
    pub fn period(&self) -> Option<Period> {
        Period::new(self.period_first, self.period_last).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::appeal::calendar::WorkingCalendar;
    use crate::report::schedule::ScheduleEntry;
    use chrono::TimeZone;

    fn schedule(report: &str, to: &[&str]) -> Schedule {
        Schedule::parse(&ScheduleEntry {
            report: report.into(),
            at: "08:00".into(),
            days: Some("every".into()),
            format: "pdf".into(),
            to: to.iter().map(|s| s.to_string()).collect(),
        })
        .expect("a schedule")
    }

    fn executors() -> Vec<ExecutorMail> {
        vec![
            ExecutorMail {
                code: "vodokanal".into(),
                heads: vec!["head@vodokanal.ua".into(), "deputy@vodokanal.ua".into()],
            },
            ExecutorMail {
                code: "roads".into(),
                heads: vec![],
            },
        ]
    }

    fn occurrence(s: &Schedule) -> Occurrence {
        let now = Utc.with_ymd_and_hms(2026, 12, 3, 9, 0, 0).single().unwrap();
        s.latest(&WorkingCalendar::default(), now).expect("due")
    }

    #[test]
    fn the_daily_report_is_one_message_per_executor_to_its_heads() {
        let s = schedule("daily", &["control@city.ua", "HEAD@vodokanal.ua"]);
        let planned = plan(&s, &occurrence(&s), &executors());
        assert_eq!(planned.len(), 2);
        let vodokanal = &planned[0];
        assert_eq!(vodokanal.executor.as_deref(), Some("vodokanal"));
        assert_eq!(
            vodokanal.recipients,
            vec![
                "head@vodokanal.ua",
                "deputy@vodokanal.ua",
                "control@city.ua"
            ],
            "heads first, the schedule's copy once"
        );
        assert_eq!(
            vodokanal.key, "daily:2026-12-02:08:00:pdf:vodokanal",
            "yesterday's report, at 08:00 on 3 December"
        );
        assert_eq!(vodokanal.skipped(), None);
        let roads = &planned[1];
        assert_eq!(
            roads.recipients,
            vec!["control@city.ua", "HEAD@vodokanal.ua"],
            "no heads with an address: the schedule's recipients only"
        );
        let alone = plan(&schedule("daily", &[]), &occurrence(&s), &executors());
        assert!(alone[1].recipients.is_empty());
        assert!(alone[1].skipped().unwrap().contains("no head of roads"));
    }

    #[test]
    fn other_reports_are_one_message_to_the_schedules_recipients() {
        let s = schedule("weekly", &["mayor@city.ua"]);
        let planned = plan(&s, &occurrence(&s), &executors());
        assert_eq!(planned.len(), 1);
        assert_eq!(planned[0].executor, None);
        assert_eq!(planned[0].recipients, vec!["mayor@city.ua"]);
        assert_eq!(planned[0].key, "weekly:2026-11-23_2026-11-29:08:00:pdf");
        assert_eq!(planned[0].format, Format::Pdf);
    }
}
