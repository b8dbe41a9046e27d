//! Verification (000 §4.2, 001 §9.6, 004 §7): after a closure is accepted
//! under control, the contact centre asks the citizen whether the work was
//! done and how well. This module holds the attempts' plan: who calls
//! (hotline itself, then the operators), when (calling hours of the
//! contact centre's working days), how often, and when to give up.
//!
//! Role: plain code. [`Attempts::start`] opens a card's verification;
//! [`Attempts::after_no_answer`] says what follows an attempt that reached
//! nobody. The lifecycle keeps the result on the card
//! ([`super::lifecycle::Card::verification`]); the store keeps every
//! attempt, whatever the channel (operator, automated call, chat-bot), in
//! one table. No database, no clock.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::calendar::{Hours, WorkingCalendar};
use super::control::ControlSettings;
use crate::store::text_enum;

text_enum! {
    /// Who asks the citizen now.
    Mode as "VerificationMode" {
        /// hotline calls and plays the survey menu.
        Automated => "automated",
        /// The cards are on the operators' verification list.
        Operator => "operator",
    }
}

text_enum! {
    /// How an attempt was made.
    Channel as "AttemptChannel" {
        Operator => "operator",
        Automated => "automated",
        Chatbot => "chatbot",
    }
}

text_enum! {
    /// What an attempt came to.
    AttemptResult {
        /// The citizen says the work was done.
        Confirmed => "confirmed",
        /// The citizen says it was not (or badly).
        NotConfirmed => "not_confirmed",
        /// Nobody answered (or the operator could not reach the citizen).
        NoAnswer => "no_answer",
        Busy => "busy",
        /// The citizen answered but pressed no key.
        NoKey => "no_key",
        /// The call could not be placed (the trunk refused, a network fault).
        Failed => "failed",
    }
}

impl AttemptResult {
    /// Whether the citizen gave an answer.
    pub fn answered(self) -> bool {
        matches!(self, AttemptResult::Confirmed | AttemptResult::NotConfirmed)
    }
}

/// A card's verification while it lasts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Verifying {
    pub mode: Mode,
    /// Attempts made in this mode so far.
    pub attempts: u32,
    /// Not before this moment is the next attempt made (the automated
    /// caller waits for it; the operators' list shows it).
    pub next_at: DateTime<Utc>,
}

/// The settings of verification (`[verification]` in the configuration).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VerificationSettings {
    /// hotline calls the citizen itself first (needs an outbound trunk).
    pub automated: bool,
    /// Automated calls before the card goes to the operators' list.
    pub automated_attempts: u32,
    /// Operators' attempts before the card is closed as not verified.
    pub operator_attempts: u32,
    /// Hours from an attempt that reached nobody to the next one (20: the
    /// next day, at another hour).
    pub retry_after_hours: u32,
    /// When citizens may be called, on the contact centre's working days,
    /// city time.
    pub calling_hours: String,
    /// Appeals at the same address in the same category within this many
    /// days are about the same problem (direct control, 000 §4.1.4).
    pub same_problem_days: u32,
    /// Which cards are verified.
    pub control: ControlSettings,
}

impl Default for VerificationSettings {
    fn default() -> Self {
        VerificationSettings {
            automated: false,
            automated_attempts: 3,
            operator_attempts: 3,
            retry_after_hours: 20,
            calling_hours: "09:00-20:00".into(),
            same_problem_days: 30,
            control: ControlSettings::default(),
        }
    }
}

impl VerificationSettings {
    /// The plan of attempts these settings make, or what is wrong with them.
    pub fn attempts(&self) -> Result<Attempts, String> {
        self.control.check()?;
        let calling_hours = Hours::parse(&self.calling_hours)?;
        if self.operator_attempts == 0 {
            return Err("operator_attempts must be at least 1".into());
        }
        if self.automated && self.automated_attempts == 0 {
            return Err("automated_attempts must be at least 1 when automated calls are on".into());
        }
        if self.retry_after_hours == 0 {
            return Err("retry_after_hours must be at least 1".into());
        }
        Ok(Attempts {
            automated: self.automated,
            automated_attempts: self.automated_attempts,
            operator_attempts: self.operator_attempts,
            retry_after: TimeDelta::hours(i64::from(self.retry_after_hours)),
            calling_hours,
        })
    }
}

/// What follows an attempt that reached nobody.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Again, in the same mode, at `next_at`.
    Retry(Verifying),
    /// hotline's calls are used up: the operators take over.
    ToOperators(Verifying),
    /// Every attempt is used up: the card is closed as not verified.
    GiveUp,
}

/// The plan of attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempts {
    pub automated: bool,
    pub automated_attempts: u32,
    pub operator_attempts: u32,
    pub retry_after: TimeDelta,
    pub calling_hours: Hours,
}

impl Default for Attempts {
    fn default() -> Self {
        // The defaults are valid by construction.
        VerificationSettings::default()
            .attempts()
            .expect("the default verification settings are valid")
    }
}

impl Attempts {
    /// A card's verification opens at `now`: automated calls first if on,
    /// at the first calling moment.
    pub fn start(&self, calendar: &WorkingCalendar, now: DateTime<Utc>) -> Verifying {
        let mode = match self.automated {
            true => Mode::Automated,
            false => Mode::Operator,
        };
        Verifying {
            mode,
            attempts: 0,
            next_at: self.calling_moment(calendar, now),
        }
    }

    /// The first moment at or after `at` when citizens may be called.
    pub fn calling_moment(&self, calendar: &WorkingCalendar, at: DateTime<Utc>) -> DateTime<Utc> {
        calendar.next_moment_within(calendar.centre(), self.calling_hours, at)
    }

    /// The attempts a mode has.
    pub fn allowed(&self, mode: Mode) -> u32 {
        match mode {
            Mode::Automated => self.automated_attempts,
            Mode::Operator => self.operator_attempts,
        }
    }

    /// An attempt made at `now` reached nobody (no answer, busy, no key, a
    /// failed call, an operator who could not get through).
    pub fn after_no_answer(
        &self,
        calendar: &WorkingCalendar,
        current: &Verifying,
        now: DateTime<Utc>,
    ) -> Next {
        let attempts = current.attempts + 1;
        if attempts < self.allowed(current.mode) {
            return Next::Retry(Verifying {
                mode: current.mode,
                attempts,
                next_at: self.calling_moment(calendar, now + self.retry_after),
            });
        }
        match current.mode {
            // The operators may call at once: another voice, another try.
            Mode::Automated => Next::ToOperators(Verifying {
                mode: Mode::Operator,
                attempts: 0,
                next_at: self.calling_moment(calendar, now),
            }),
            Mode::Operator => Next::GiveUp,
        }
    }
}

/// Whether a new appeal goes under direct control (000 §4.1.4) for the
/// earlier appeals about the same problem (their registration numbers,
/// oldest first): from the second repeat on, that is with two or more
/// before it. The reason, for its history.
/// The reason names the latest few of them: a problem reported hundreds of
/// times must still fit a history entry.
pub fn direct_control_reason(earlier: &[String]) -> Option<String> {
    const NAMED: usize = 5;
    (earlier.len() >= 2).then(|| {
        let latest = &earlier[earlier.len().saturating_sub(NAMED)..];
        let more = match earlier.len() - latest.len() {
            0 => String::new(),
            n => format!(" та ще {n} раніше"),
        };
        format!(
            "Повторне звернення з тієї самої проблеми: {} звернення до цього ({}{more}).",
            earlier.len(),
            latest.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::appeal::calendar::kyiv;
    use chrono::TimeZone;

    fn calendar() -> WorkingCalendar {
        WorkingCalendar::parse(
            r#"
            [hours]
            monday = "08:00-17:00"
            tuesday = "08:00-17:00"
            wednesday = "08:00-17:00"
            thursday = "08:00-17:00"
            friday = "08:00-17:00"
            [[holiday]]
            date = "2026-12-25"
            name = "Різдво"
            "#,
        )
        .unwrap()
    }

    fn automated() -> Attempts {
        VerificationSettings {
            automated: true,
            ..VerificationSettings::default()
        }
        .attempts()
        .unwrap()
    }

    #[test]
    fn calls_are_made_in_calling_hours_of_working_days() {
        let (cal, plan) = (calendar(), automated());
        // Thursday 14:00: at once.
        let v = plan.start(&cal, kyiv("2026-12-03 14:00"));
        assert_eq!(v.mode, Mode::Automated);
        assert_eq!(v.next_at, kyiv("2026-12-03 14:00"));
        // Thursday 21:30: Friday at 09:00.
        let v = plan.start(&cal, kyiv("2026-12-03 21:30"));
        assert_eq!(v.next_at, kyiv("2026-12-04 09:00"));
        // Friday 20:00 sharp: the window has closed; Monday 09:00.
        let v = plan.start(&cal, kyiv("2026-12-04 20:00"));
        assert_eq!(v.next_at, kyiv("2026-12-07 09:00"));
        // Christmas Eve evening: Christmas is a holiday; Saturday and
        // Sunday are days off; Monday 28 December.
        let v = plan.start(&cal, kyiv("2026-12-24 20:30"));
        assert_eq!(v.next_at, kyiv("2026-12-28 09:00"));
        // Early morning: the same day at nine.
        let v = plan.start(&cal, kyiv("2026-12-08 06:15"));
        assert_eq!(v.next_at, kyiv("2026-12-08 09:00"));
    }

    #[test]
    fn calling_hours_follow_daylight_saving() {
        let (cal, plan) = (calendar(), automated());
        // Monday 30 March 2026, after the clocks went forward: 09:00 Kyiv
        // is 06:00 UTC (UTC+3), not 07:00.
        let v = plan.start(&cal, kyiv("2026-03-30 07:00"));
        assert_eq!(
            v.next_at,
            Utc.with_ymd_and_hms(2026, 3, 30, 6, 0, 0).unwrap()
        );
    }

    #[test]
    fn automated_calls_are_retried_then_handed_to_the_operators() {
        let (cal, plan) = (calendar(), automated());
        let t0 = kyiv("2026-12-01 10:00"); // Tuesday
        let v = plan.start(&cal, t0);
        // No answer at 10:00: again 20 hours later, Wednesday 06:00,
        // which is before the calling hours: Wednesday 09:00.
        let Next::Retry(v) = plan.after_no_answer(&cal, &v, t0) else {
            panic!("a retry")
        };
        assert_eq!((v.mode, v.attempts), (Mode::Automated, 1));
        assert_eq!(v.next_at, kyiv("2026-12-02 09:00"));
        // Busy at 15:00 Wednesday: Thursday 11:00 is within the hours.
        let Next::Retry(v) = plan.after_no_answer(&cal, &v, kyiv("2026-12-02 15:00")) else {
            panic!("a retry")
        };
        assert_eq!(v.attempts, 2);
        assert_eq!(v.next_at, kyiv("2026-12-03 11:00"));
        // The third automated call reaches nobody: the operators, at once.
        let at = kyiv("2026-12-03 11:01");
        let Next::ToOperators(v) = plan.after_no_answer(&cal, &v, at) else {
            panic!("to the operators")
        };
        assert_eq!((v.mode, v.attempts, v.next_at), (Mode::Operator, 0, at));
        // Their three attempts over days, then the card is closed as not
        // verified.
        let Next::Retry(v) = plan.after_no_answer(&cal, &v, at) else {
            panic!()
        };
        let Next::Retry(v) = plan.after_no_answer(&cal, &v, v.next_at) else {
            panic!()
        };
        assert_eq!(v.attempts, 2);
        assert_eq!(plan.after_no_answer(&cal, &v, v.next_at), Next::GiveUp);
    }

    #[test]
    fn without_automated_calls_the_operators_start() {
        let plan = VerificationSettings::default().attempts().unwrap();
        let v = plan.start(&calendar(), kyiv("2026-12-01 10:00"));
        assert_eq!(v.mode, Mode::Operator);
        let plan = VerificationSettings {
            operator_attempts: 1,
            ..VerificationSettings::default()
        }
        .attempts()
        .unwrap();
        assert_eq!(
            plan.after_no_answer(&calendar(), &v, kyiv("2026-12-01 10:05")),
            Next::GiveUp
        );
    }

    #[test]
    fn the_second_repeat_goes_under_direct_control() {
        let numbers =
            |n: usize| -> Vec<String> { (1..=n).map(|i| format!("1580-2026-00000{i}")).collect() };
        assert_eq!(direct_control_reason(&[]), None);
        assert_eq!(direct_control_reason(&numbers(1)), None, "a first repeat");
        assert_eq!(
            direct_control_reason(&numbers(2)).as_deref(),
            Some(
                "Повторне звернення з тієї самої проблеми: 2 звернення до цього \
                 (1580-2026-000001, 1580-2026-000002)."
            )
        );
        assert!(direct_control_reason(&numbers(5)).is_some());
        // Hundreds before it: the latest five named, the reason short.
        let many: Vec<String> = (1..=900).map(|i| format!("1580-2026-{i:06}")).collect();
        let reason = direct_control_reason(&many).unwrap();
        assert!(reason.chars().count() < 300, "{reason}");
        assert!(reason.contains("900 звернення"));
        assert!(reason.contains("1580-2026-000896, 1580-2026-000897"));
        assert!(reason.ends_with("1580-2026-000900 та ще 895 раніше)."));
    }

    #[test]
    fn bad_settings_are_refused_with_a_reason() {
        let bad = |s: VerificationSettings| s.attempts().unwrap_err();
        assert!(
            bad(VerificationSettings {
                calling_hours: "9-20".into(),
                ..Default::default()
            })
            .contains("9-20")
        );
        assert!(
            bad(VerificationSettings {
                operator_attempts: 0,
                ..Default::default()
            })
            .contains("operator_attempts")
        );
        assert!(
            bad(VerificationSettings {
                automated: true,
                automated_attempts: 0,
                ..Default::default()
            })
            .contains("automated_attempts")
        );
        assert!(
            bad(VerificationSettings {
                retry_after_hours: 0,
                ..Default::default()
            })
            .contains("retry_after_hours")
        );
    }
}
