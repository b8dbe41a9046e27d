//! The rules for repair works an executor registers (000 §3.1.6, 001 §7):
//! a planned work at least 24 hours before it starts, an emergency work at
//! once (it has begun); every work with the service it cuts, what is done,
//! the addresses it affects and its expected end; an extension moves the
//! end later, never earlier. Plain rules: the form and the time in, the
//! problems out, field by field in the executor's language. The store and
//! the API are elsewhere (`store::repair_works`, `api::works`).

use chrono::{DateTime, TimeDelta, Utc};

use super::FieldError;
use crate::store::{RepairWork, WorkAddress, WorkKind};

/// How long before its start a planned work must be registered.
pub const PLANNED_NOTICE: TimeDelta = TimeDelta::hours(24);
/// How far back an emergency work's start may be put (it began before it
/// was registered, the same day).
pub const EMERGENCY_BACKDATE: TimeDelta = TimeDelta::hours(12);
/// The longest a work may be expected to last at registration or extension.
pub const LONGEST: TimeDelta = TimeDelta::days(90);
/// A description's most characters.
pub const DESCRIPTION_MAX: usize = 500;

/// A work as the executor filled in its form.
#[derive(Debug, Clone)]
pub struct WorkForm {
    pub kind: WorkKind,
    pub description: String,
    /// For an emergency work, when it began (now if not given).
    pub starts_at: Option<DateTime<Utc>>,
    pub expected_end: Option<DateTime<Utc>>,
    pub addresses: Vec<WorkAddress>,
}

fn problem(field: &'static str, message: impl Into<String>) -> FieldError {
    FieldError {
        field,
        message: message.into(),
    }
}

/// The start the work gets, or every problem with the form.
pub fn check_new(form: &WorkForm, now: DateTime<Utc>) -> Result<DateTime<Utc>, Vec<FieldError>> {
    let mut out = Vec::new();
    let description = form.description.trim();
    if description.is_empty() {
        out.push(problem(
            "description",
            "Опишіть роботи й що буде відключено.",
        ));
    } else if description.chars().count() > DESCRIPTION_MAX {
        out.push(problem(
            "description",
            format!("Опис — не довше {DESCRIPTION_MAX} символів."),
        ));
    }
    let starts_at = match (form.kind, form.starts_at) {
        (WorkKind::Planned, None) => {
            out.push(problem("starts_at", "Вкажіть початок планових робіт."));
            None
        }
        (WorkKind::Planned, Some(at)) if at < now + PLANNED_NOTICE => {
            out.push(problem(
                "starts_at",
                "Планові роботи реєструються щонайменше за 24 години до початку; \
                 якщо роботи вже потрібні — зареєструйте їх як аварійні.",
            ));
            None
        }
        (WorkKind::Emergency, Some(at)) if at > now + TimeDelta::minutes(5) => {
            out.push(problem(
                "starts_at",
                "Аварійні роботи реєструються, коли вже почалися: початок не в майбутньому.",
            ));
            None
        }
        (WorkKind::Emergency, Some(at)) if at < now - EMERGENCY_BACKDATE => {
            out.push(problem(
                "starts_at",
                "Початок аварійних робіт — не раніше ніж за 12 годин до реєстрації.",
            ));
            None
        }
        (WorkKind::Emergency, None) => Some(now),
        (_, Some(at)) => Some(at),
    };
    match (starts_at, form.expected_end) {
        (_, None) => out.push(problem("expected_end", "Вкажіть очікуване завершення.")),
        (Some(start), Some(end)) if end <= start => out.push(problem(
            "expected_end",
            "Завершення має бути пізніше за початок.",
        )),
        (Some(start), Some(end)) if end - start > LONGEST => out.push(problem(
            "expected_end",
            "Роботи — не довше 90 днів; довші реєструйте частинами.",
        )),
        _ => {}
    }
    if form.addresses.is_empty() {
        out.push(problem(
            "addresses",
            "Вкажіть хоча б одну адресу (вулицю, за потреби з будинками).",
        ));
    }
    for a in &form.addresses {
        if a.street.trim().is_empty() || a.house.as_deref().is_some_and(|h| h.trim().is_empty()) {
            out.push(problem(
                "addresses",
                "Кожна адреса — вулиця, за потреби з номером чи діапазоном будинків.",
            ));
            break;
        }
    }
    match (starts_at, out.is_empty()) {
        (Some(start), true) => Ok(start),
        _ => Err(out),
    }
}

/// Whether `work` may be extended to `until` at `now`.
pub fn check_extension(
    work: &RepairWork,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), FieldError> {
    if work.ended_at.is_some() {
        return Err(problem("until", "Роботи вже завершено."));
    }
    if until <= work.expected_end || until <= now {
        return Err(problem(
            "until",
            "Нове завершення має бути пізніше за чинне й за поточний час.",
        ));
    }
    if until - work.starts_at > LONGEST {
        return Err(problem("until", "Роботи — не довше 90 днів."));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    fn form(kind: WorkKind, starts: Option<&str>, ends: Option<&str>) -> WorkForm {
        WorkForm {
            kind,
            description: "Заміна засувки".into(),
            starts_at: starts.map(at),
            expected_end: ends.map(at),
            addresses: vec![WorkAddress {
                street: "вул. Соборна".into(),
                house: Some("10-20".into()),
            }],
        }
    }

    fn fields(result: Result<DateTime<Utc>, Vec<FieldError>>) -> Vec<&'static str> {
        result
            .err()
            .unwrap_or_default()
            .iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn a_planned_work_is_registered_a_day_ahead() {
        let now = at("2026-12-07T10:00:00Z");
        let ok = form(
            WorkKind::Planned,
            Some("2026-12-08T10:00:00Z"),
            Some("2026-12-08T18:00:00Z"),
        );
        assert_eq!(check_new(&ok, now), Ok(at("2026-12-08T10:00:00Z")));
        let late = form(
            WorkKind::Planned,
            Some("2026-12-08T09:59:59Z"),
            Some("2026-12-08T18:00:00Z"),
        );
        assert_eq!(fields(check_new(&late, now)), ["starts_at"]);
        let none = form(WorkKind::Planned, None, Some("2026-12-08T18:00:00Z"));
        assert_eq!(fields(check_new(&none, now)), ["starts_at"]);
    }

    #[test]
    fn an_emergency_work_starts_now_or_a_little_before() {
        let now = at("2026-12-07T10:00:00Z");
        let now_start = form(WorkKind::Emergency, None, Some("2026-12-07T16:00:00Z"));
        assert_eq!(check_new(&now_start, now), Ok(now));
        let began = form(
            WorkKind::Emergency,
            Some("2026-12-07T08:00:00Z"),
            Some("2026-12-07T16:00:00Z"),
        );
        assert_eq!(check_new(&began, now), Ok(at("2026-12-07T08:00:00Z")));
        let future = form(
            WorkKind::Emergency,
            Some("2026-12-07T12:00:00Z"),
            Some("2026-12-07T16:00:00Z"),
        );
        assert_eq!(fields(check_new(&future, now)), ["starts_at"]);
        let long_ago = form(
            WorkKind::Emergency,
            Some("2026-12-06T20:00:00Z"),
            Some("2026-12-07T16:00:00Z"),
        );
        assert_eq!(fields(check_new(&long_ago, now)), ["starts_at"]);
    }

    #[test]
    fn a_work_needs_an_end_after_its_start_a_text_and_addresses() {
        let now = at("2026-12-07T10:00:00Z");
        let mut bad = form(WorkKind::Emergency, None, Some("2026-12-07T09:00:00Z"));
        bad.description = "  ".into();
        bad.addresses.clear();
        assert_eq!(
            fields(check_new(&bad, now)),
            ["description", "expected_end", "addresses"]
        );
        let endless = form(WorkKind::Emergency, None, None);
        assert_eq!(fields(check_new(&endless, now)), ["expected_end"]);
        let mut blank = form(WorkKind::Emergency, None, Some("2026-12-08T09:00:00Z"));
        blank.addresses[0].house = Some(" ".into());
        assert_eq!(fields(check_new(&blank, now)), ["addresses"]);
    }

    #[test]
    fn an_extension_moves_the_end_later_while_the_work_goes_on() {
        let now = at("2026-12-07T10:00:00Z");
        let mut work = RepairWork {
            id: uuid::Uuid::nil(),
            kind: WorkKind::Emergency,
            service: crate::store::Service::Water,
            description: "x".into(),
            starts_at: at("2026-12-07T08:00:00Z"),
            expected_end: at("2026-12-07T12:00:00Z"),
            ended_at: None,
            status: crate::store::WorkStatus::Active,
            created_at: at("2026-12-07T08:00:00Z"),
            addresses: Vec::new(),
            executor: None,
            registered_by: None,
        };
        assert!(check_extension(&work, at("2026-12-07T18:00:00Z"), now).is_ok());
        assert!(check_extension(&work, at("2026-12-07T11:00:00Z"), now).is_err());
        work.ended_at = Some(now);
        assert!(check_extension(&work, at("2026-12-07T18:00:00Z"), now).is_err());
    }
}
