//! Reports: the regulation's daily, weekly, monthly and bi-weekly reports
//! and the contact centre's call figures (000 §4.1, 002 §3.3;
//! `docs/reports.md`).
//!
//! Layout, pure rules first:
//! * [`period`]: whole days of the city, Europe/Kyiv, across daylight
//!   saving; the previous period of each kind.
//! * [`indicators`]: the appeals' indicators counted from card facts and
//!   steps ([`indicators::Tally`]).
//! * [`calls`]: the calls' figures from counted queue events, wrap-ups and
//!   calls per hour ([`calls::CallTally`]); [`call_days`]: those figures
//!   kept per city day once it has settled, so a long period adds up days.
//! * [`kinds`]: the report set, drawn as [`document::Report`]s;
//!   [`schedule`]: when each is sent; [`delivery`]: to whom.
//! * [`csv`], [`xlsx`], [`pdf`]: the same document as files.
//! * [`store`]: the queries that feed the tallies; [`build`]: the async
//!   edge that runs them and draws the report; [`routes`]: its HTTP;
//!   [`delivery_store`] and [`sender`]: reports e-mailed on schedule;
//!   [`call_days_store`]: the days' call figures kept.
//!
//! Nothing but the stores, [`build`] and [`sender`] touches the database, and nothing
//! here reads the clock: "now" is handed in.

pub mod build;
pub mod call_days;
pub mod call_days_store;
pub mod calls;
pub mod csv;
pub mod delivery;
pub mod delivery_store;
pub mod document;
pub mod indicators;
pub mod kinds;
pub mod pdf;
pub mod period;
pub mod routes;
pub mod schedule;
pub mod sender;
pub mod store;
#[cfg(test)]
mod store_tests;
pub mod xlsx;

use serde::Deserialize;

pub use build::{Request, make};
pub use document::Report;
pub use kinds::ReportKind;
pub use period::Period;

/// `[reports]` in the configuration.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReportSettings {
    /// A caller answered within this many seconds is within the service
    /// level (the industry's 20).
    pub service_level_secs: u64,
    /// The CSV files' field separator: ";" (with a decimal comma) is what
    /// Excel expects with Ukrainian regional settings; "," (with a decimal
    /// point) suits other software.
    pub csv_delimiter: String,
    /// The heading printed above a PDF report's title: the city and its
    /// contact centre.
    pub heading: String,
    /// The SMTP server scheduled reports are sent through.
    pub mail: Option<crate::mail::MailSettings>,
    /// `[[reports.schedule]]`: which report goes to whom when.
    pub schedule: Vec<schedule::ScheduleEntry>,
    /// The queues' titles by name, from the queues file (not a key of
    /// `[reports]`): set by whoever loaded it; a queue without one is
    /// printed by its name.
    #[serde(skip)]
    pub queue_titles: std::collections::BTreeMap<String, String>,
}

impl Default for ReportSettings {
    fn default() -> Self {
        ReportSettings {
            service_level_secs: 20,
            csv_delimiter: ";".into(),
            heading: "Контакт-центр міської ради".into(),
            mail: None,
            schedule: Vec::new(),
            queue_titles: Default::default(),
        }
    }
}

impl ReportSettings {
    /// The schedules, checked; the error names the entry and the field.
    pub fn schedules(&self) -> Result<Vec<schedule::Schedule>, String> {
        self.schedule
            .iter()
            .enumerate()
            .map(|(n, entry)| {
                schedule::Schedule::parse(entry)
                    .map_err(|e| format!("[[reports.schedule]] number {}: {e}", n + 1))
            })
            .collect()
    }

    /// Checks the schedules and the mail server's settings: a schedule
    /// needs a server to send through.
    pub fn check(&self) -> Result<(), String> {
        self.schedules()?;
        if let Some(mail) = &self.mail {
            mail.check()?;
        } else if !self.schedule.is_empty() {
            return Err(
                "[[reports.schedule]] needs [reports.mail], the SMTP server to send through".into(),
            );
        }
        Ok(())
    }

    /// The CSV delimiter as a byte; `;` unless "," is set.
    pub fn delimiter(&self) -> u8 {
        if self.csv_delimiter.trim() == "," {
            b','
        } else {
            b';'
        }
    }
}

/// A report's file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xlsx,
    /// Printable A4.
    Pdf,
    Csv,
    /// The document itself, as the console's page reads it.
    Json,
}

impl Format {
    pub fn parse(text: &str) -> Option<Format> {
        match text.trim().to_ascii_lowercase().as_str() {
            "xlsx" => Some(Format::Xlsx),
            "pdf" => Some(Format::Pdf),
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Xlsx => "xlsx",
            Format::Pdf => "pdf",
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Format::Pdf => "application/pdf",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Json => "application/json",
        }
    }
}

/// What can go wrong making a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("{0}")]
    Period(String),
    #[error("the daily report is for one executor: name it")]
    NoExecutor,
    #[error("no executor has the code {0:?}")]
    UnknownExecutor(String),
    #[error("the workbook could not be written: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    #[error("the report could not be written as JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the PDF could not be written: {0}")]
    Pdf(String),
}

impl From<period::PeriodError> for ReportError {
    fn from(e: period::PeriodError) -> ReportError {
        ReportError::Period(e.to_string())
    }
}

/// The report as a file of `format`.
pub fn render(
    report: &Report,
    format: Format,
    settings: &ReportSettings,
) -> Result<Vec<u8>, ReportError> {
    Ok(match format {
        Format::Xlsx => xlsx::write(report)?,
        Format::Pdf => pdf::write(report, &settings.heading).map_err(ReportError::Pdf)?,
        Format::Csv => csv::write(report, settings.delimiter()),
        Format::Json => serde_json::to_vec(report)?,
    })
}

/// The file name a report is saved or sent as: "hotline-monthly-2026-11.xlsx".
pub fn file_name(report: &Report, format: Format) -> String {
    let executor = report
        .executor
        .as_ref()
        .map(|code| format!("{code}-"))
        .unwrap_or_default();
    format!(
        "hotline-{}-{executor}{}.{}",
        report.kind,
        report.period.slug(),
        format.extension()
    )
}
