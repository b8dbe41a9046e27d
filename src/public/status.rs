//! What the public status page tells of an appeal (002 §2.5: the citizen
//! is kept informed): its state, its executor organisation, its deadline
//! and the public steps of its history, in words for the citizen. No
//! names, no comments, no reasons, nothing anyone wrote: only which step
//! and when, with the new deadline or planned date where a step set one.
//!
//! Plain rules: no IO.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::appeal::AppealStatus;
use crate::appeal::lifecycle::{Details, EntryKind};

/// A step of the card's life as the citizen reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PublicStep {
    pub at: DateTime<Utc>,
    /// `EntryKind`'s name.
    #[schema(value_type = crate::appeal::lifecycle::EntryKind)]
    pub kind: &'static str,
    /// What happened, in Ukrainian, and in English.
    #[schema(value_type = String)]
    pub text: &'static str,
    #[schema(value_type = String)]
    pub text_en: &'static str,
    /// The new deadline, when the step set one (an extension).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline: Option<DateTime<Utc>>,
    /// The planned date (long-term control, the SER plan).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub planned: Option<NaiveDate>,
}

/// The step the citizen is told of, if `kind` is one; everything internal
/// (comments, requests between the executor and the contact centre, the
/// watcher's marks, verification attempts) is not.
pub fn public_step(at: DateTime<Utc>, kind: EntryKind, details: &Details) -> Option<PublicStep> {
    use EntryKind as K;
    let (text, text_en) = match kind {
        K::Registered => ("Звернення зареєстровано.", "The appeal was registered."),
        K::Delivered => (
            "Звернення передано виконавцю.",
            "The appeal was passed to the executor.",
        ),
        K::Accepted => (
            "Виконавець узяв звернення в роботу.",
            "The executor took the appeal up.",
        ),
        K::Classified => (
            "Контакт-центр визначив тему й виконавця.",
            "The contact centre set the subject and the executor.",
        ),
        K::ExecutorChanged | K::Reassigned => (
            "Звернення передано іншому виконавцю.",
            "The appeal was passed to another executor.",
        ),
        K::Extended => ("Строк розгляду продовжено.", "The deadline was extended."),
        K::MovedToLongTerm => (
            "Питання внесено до плану соціально-економічного розвитку: воно залишається \
             на контролі до запланованої дати.",
            "The issue is in the city's development plan: it stays under control until the \
             planned date.",
        ),
        K::ClosureProposed => (
            "Виконавець повідомив про виконання робіт.",
            "The executor reported the work done.",
        ),
        K::ReturnedForRework => (
            "Звернення повернуто виконавцю на доопрацювання.",
            "The appeal was returned to the executor to finish the work.",
        ),
        K::SentToVerification => (
            "Контакт-центр перевіряє виконання.",
            "The contact centre is checking the work.",
        ),
        K::Closed | K::Confirmed | K::NotVerified => {
            ("Розгляд звернення завершено.", "The appeal was closed.")
        }
        K::NotConfirmed => (
            "Виконання не підтверджено: зареєстровано повторне звернення.",
            "The work was not confirmed: a repeat appeal was registered.",
        ),
        K::Dismissed => (
            "Звернення не підлягає розгляду.",
            "The appeal is not to be considered.",
        ),
        _ => return None,
    };
    let deadline = match kind {
        K::Extended => details.deadline.as_ref().map(|d| d.to),
        _ => None,
    };
    let planned = match kind {
        K::MovedToLongTerm => details.planned,
        _ => None,
    };
    Some(PublicStep {
        at,
        kind: kind.as_str(),
        text,
        text_en,
        deadline,
        planned,
    })
}

/// The card's state, in the citizen's words: Ukrainian, English.
pub fn status_text(status: AppealStatus) -> (&'static str, &'static str) {
    use AppealStatus as S;
    match status {
        S::Registered => (
            "Зареєстровано, очікує передачі виконавцю",
            "Registered, waiting to be passed to the executor",
        ),
        S::Delivered => ("Передано виконавцю", "Passed to the executor"),
        S::InProgress | S::Rework => ("У роботі виконавця", "In the executor's work"),
        S::ClosureProposed | S::Verification => (
            "Роботи виконано, триває перевірка",
            "Work done, being checked",
        ),
        S::LongTerm => (
            "На довгостроковому контролі (план соціально-економічного розвитку)",
            "Under long-term control (the city's development plan)",
        ),
        S::Closed => ("Розгляд завершено", "Closed"),
        S::Rejected => ("Не підлягає розгляду", "Not to be considered"),
    }
}

/// Whether `digits` are the last four of `phone` (E.164). A card with no
/// phone matches nothing: its status is asked by calling the hotline.
pub fn phone_matches(phone: &str, digits: &str) -> bool {
    let digits = digits.trim();
    digits.len() == 4
        && digits.bytes().all(|b| b.is_ascii_digit())
        && phone.len() > 4
        && phone.ends_with(digits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::appeal::lifecycle::DeadlineChange;
    use chrono::TimeZone;

    #[test]
    fn only_public_steps_are_told_and_in_plain_words() {
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
        let later = at + chrono::Duration::days(10);
        let details = Details {
            deadline: Some(DeadlineChange {
                from: at,
                to: later,
            }),
            responsible: Some("Петренко І. І.".into()),
            ..Details::default()
        };
        let step = public_step(at, EntryKind::Extended, &details).expect("told");
        assert_eq!(step.deadline, Some(later));
        assert_eq!(step.kind, "extended");
        let accepted = public_step(at, EntryKind::Accepted, &details).expect("told");
        assert_eq!(
            accepted.deadline, None,
            "only an extension tells a deadline"
        );
        assert!(
            !serde_json::to_string(&accepted)
                .unwrap()
                .contains("Петренко")
        );
        for internal in [
            EntryKind::Commented,
            EntryKind::Attached,
            EntryKind::ChangeRequested,
            EntryKind::NotOurs,
            EntryKind::ExtensionRequested,
            EntryKind::LongTermRequested,
            EntryKind::Withdrawn,
            EntryKind::RequestRejected,
            EntryKind::AwaitingCurator,
            EntryKind::CuratorApproved,
            EntryKind::Overdue,
            EntryKind::DueSoon,
            EntryKind::VerificationAttempt,
            EntryKind::MarkedContested,
            EntryKind::DirectControl,
        ] {
            assert_eq!(public_step(at, internal, &details), None, "{internal:?}");
        }
    }

    #[test]
    fn the_phone_is_checked_by_its_last_four_digits() {
        assert!(phone_matches("+380671234567", "4567"));
        assert!(phone_matches("+380671234567", " 4567 "));
        assert!(!phone_matches("+380671234567", "1234"));
        assert!(!phone_matches("+380671234567", "567"));
        assert!(!phone_matches("+380671234567", "34567"));
        assert!(!phone_matches("+380671234567", "45a7"));
        assert!(!phone_matches("", "4567"), "no phone, no match");
    }
}
