//! The control rule (000 §4.2.1): when the contact centre accepts an
//! executor's closure, is the citizen asked whether the work was done?
//!
//! - **Total** control, every card verified: emergency-class cards;
//!   executors with frequent repeat appeals in the previous period;
//!   executors whose confirmation rate in the previous period was below the
//!   threshold (80 %).
//! - **Selective** control otherwise: a configured share of cards, drawn,
//!   plus every card the staff marked as contested.
//!
//! Role: [`ControlRule::decide`] takes the card's facts and its executor's
//! record for the previous period and returns the decision with its reason,
//! for the card's history. Plain code: no database, no clock; the store
//! counts the record ([`TrackRecord`]) from the stored outcomes, and the
//! period is worked out here from a date the caller gives.

use std::fmt;

use chrono::{Datelike, Days, Months, NaiveDate};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::lifecycle::ExecutorCode;

/// How long the "previous period" of the rule is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = ControlPeriod)]
pub enum Period {
    /// Monday to Sunday.
    Week,
    /// A calendar month (the regulation's reporting period).
    #[default]
    Month,
}

/// A span of the city's days: `start` to `end`, `end` not included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ControlSpan)]
pub struct Span {
    pub period: Period,
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl Period {
    /// The whole period before the one `today` is in.
    pub fn previous(self, today: NaiveDate) -> Span {
        let current = self.containing(today);
        // The day before the current period starts is in the previous one.
        let before = current.start.pred_opt().unwrap_or(current.start);
        self.containing(before)
    }

    /// The period `day` is in.
    pub fn containing(self, day: NaiveDate) -> Span {
        let (start, end) = match self {
            Period::Week => {
                let start = day - Days::new(u64::from(day.weekday().num_days_from_monday()));
                (start, start + Days::new(7))
            }
            Period::Month => {
                // The first of a month always exists; so does the next one's
                // (short of the end of chrono's calendar).
                let start = day.with_day(1).unwrap_or(day);
                (
                    start,
                    start.checked_add_months(Months::new(1)).unwrap_or(day),
                )
            }
        };
        Span {
            period: self,
            start,
            end,
        }
    }
}

impl fmt::Display for Span {
    /// "November 2026", "the week of 2026-11-23".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.period {
            Period::Month => write!(f, "{}", self.start.format("%B %Y")),
            Period::Week => write!(f, "the week of {}", self.start),
        }
    }
}

/// What an executor's cards did in a period: counted by the store from the
/// stored outcomes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TrackRecord {
    pub executor: ExecutorCode,
    pub span: Span,
    /// Cards of which it was the lead executor, closed in the period.
    pub closed: u32,
    /// Of those verified in the period, the citizen confirmed the work…
    pub confirmed: u32,
    /// …or did not.
    pub not_confirmed: u32,
    /// Repeat appeals about its cards registered in the period (a citizen
    /// who did not confirm, or the same problem again).
    pub repeats: u32,
}

impl TrackRecord {
    /// An executor with nothing on record in `span`.
    pub fn empty(executor: ExecutorCode, span: Span) -> TrackRecord {
        TrackRecord {
            executor,
            span,
            closed: 0,
            confirmed: 0,
            not_confirmed: 0,
            repeats: 0,
        }
    }

    /// Cards whose citizen answered, yes or no (an unreachable citizen
    /// says nothing about the work).
    pub fn verified(&self) -> u32 {
        self.confirmed + self.not_confirmed
    }

    /// The share confirmed of those answered, if any were.
    pub fn confirmation_rate(&self) -> Option<f64> {
        match self.verified() {
            0 => None,
            n => Some(f64::from(self.confirmed) / f64::from(n)),
        }
    }
}

/// The rule's settings (`[verification]` in the configuration).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ControlSettings {
    /// The period whose record counts: the previous week or month.
    pub period: Period,
    /// Below this confirmation rate, total control (000 §4.2.1.1 в: 0.8).
    pub min_confirmation_rate: f64,
    /// The rate is judged only on at least this many answers: two answers
    /// out of two do not make a rate.
    pub min_answers: u32,
    /// Repeats are "frequent" from this share of the cards closed…
    pub repeat_share: f64,
    /// …and at least this many repeats.
    pub min_repeats: u32,
    /// The share of the other cards verified (selective control).
    pub selective_share: f64,
}

impl Default for ControlSettings {
    fn default() -> Self {
        ControlSettings {
            period: Period::Month,
            min_confirmation_rate: 0.8,
            min_answers: 5,
            repeat_share: 0.1,
            min_repeats: 3,
            selective_share: 0.2,
        }
    }
}

impl ControlSettings {
    /// What is wrong with the settings, if anything.
    pub fn check(&self) -> Result<(), String> {
        for (name, share) in [
            ("min_confirmation_rate", self.min_confirmation_rate),
            ("repeat_share", self.repeat_share),
            ("selective_share", self.selective_share),
        ] {
            if !(0.0..=1.0).contains(&share) {
                return Err(format!("{name} = {share} is not a share between 0 and 1"));
            }
        }
        Ok(())
    }
}

/// The level of control a closed card falls under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = ControlLevel)]
pub enum Level {
    Total,
    Selective,
}

/// Why the rule decided as it did. Shares are kept in basis points (1 %
/// is 100), exact for the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "why", rename_all = "snake_case")]
#[schema(as = ControlReason)]
pub enum Reason {
    /// An emergency-class card.
    Emergency,
    /// The executor's confirmation rate in the span was below the threshold.
    LowConfirmation {
        confirmed: u32,
        answered: u32,
        threshold_bp: u32,
        span: Span,
    },
    /// Frequent repeat appeals about the executor's cards in the span.
    FrequentRepeats {
        repeats: u32,
        closed: u32,
        span: Span,
    },
    /// The staff marked the card as contested.
    Contested,
    /// Drawn for selective control: the card's draw (from its id) was
    /// under the share.
    Drawn { draw_bp: u32, share_bp: u32 },
    /// Not drawn.
    NotDrawn { draw_bp: u32, share_bp: u32 },
    /// An anonymous appeal: nobody to ask (003 §10).
    Anonymous,
}

/// The rule's answer for one card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ControlDecision)]
pub struct Decision {
    pub level: Level,
    /// Whether the citizen is to be asked.
    pub verify: bool,
    pub reason: Reason,
}

/// The card's own facts the rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardFacts {
    pub id: Uuid,
    pub emergency: bool,
    pub contested: bool,
    /// No name, no contact: nobody can be asked.
    pub anonymous: bool,
}

/// The rule with its settings.
#[derive(Debug, Clone, Default)]
pub struct ControlRule {
    settings: ControlSettings,
}

impl ControlRule {
    pub fn new(settings: ControlSettings) -> ControlRule {
        ControlRule { settings }
    }

    pub fn settings(&self) -> &ControlSettings {
        &self.settings
    }

    /// Whether the card's citizen is asked, and why. `record` is the lead
    /// executor's record for the previous period ([`Period::previous`]);
    /// without one only the card's own facts and the draw decide.
    pub fn decide(&self, card: CardFacts, record: Option<&TrackRecord>) -> Decision {
        let s = &self.settings;
        let total = |reason| Decision {
            level: Level::Total,
            verify: true,
            reason,
        };
        if card.anonymous {
            return Decision {
                level: if card.emergency {
                    Level::Total
                } else {
                    Level::Selective
                },
                verify: false,
                reason: Reason::Anonymous,
            };
        }
        if card.emergency {
            return total(Reason::Emergency);
        }
        if let Some(r) = record {
            let rate = r
                .confirmation_rate()
                .filter(|_| r.verified() >= s.min_answers);
            if rate.is_some_and(|rate| rate < s.min_confirmation_rate) {
                return total(Reason::LowConfirmation {
                    confirmed: r.confirmed,
                    answered: r.verified(),
                    threshold_bp: bp(s.min_confirmation_rate),
                    span: r.span,
                });
            }
            let share = match r.closed {
                0 => f64::from(r.repeats.min(1)),
                n => f64::from(r.repeats) / f64::from(n),
            };
            if r.repeats >= s.min_repeats.max(1) && share >= s.repeat_share {
                return total(Reason::FrequentRepeats {
                    repeats: r.repeats,
                    closed: r.closed,
                    span: r.span,
                });
            }
        }
        if card.contested {
            return Decision {
                level: Level::Selective,
                verify: true,
                reason: Reason::Contested,
            };
        }
        let draw = draw(card.id);
        let share = s.selective_share;
        let verify = draw < share;
        Decision {
            level: Level::Selective,
            verify,
            reason: match verify {
                true => Reason::Drawn {
                    draw_bp: bp(draw),
                    share_bp: bp(share),
                },
                false => Reason::NotDrawn {
                    draw_bp: bp(draw),
                    share_bp: bp(share),
                },
            },
        }
    }
}

/// A number in [0, 1) from the card's id: the same card always draws the
/// same (a decision can be checked afterwards), and nobody who can act on a
/// card can choose its id. A v4 id's first eight bytes are random.
pub fn draw(id: Uuid) -> f64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&id.as_bytes()[..8]);
    // 53 bits: exactly representable, uniform in [0, 1).
    (u64::from_be_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

/// A share in basis points, rounded down (a draw of 0.19999 is not 20 %).
fn bp(share: f64) -> u32 {
    (share.clamp(0.0, 1.0) * 10_000.0).floor() as u32
}

fn percent(share: f64) -> String {
    format!("{:.0} %", share * 100.0)
}

fn percent_bp(bp: u32) -> String {
    percent(f64::from(bp) / 10_000.0)
}

impl fmt::Display for Decision {
    /// "total: confirmation rate 72 % in November 2026".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.level {
            Level::Total => "total",
            Level::Selective => "selective",
        };
        match &self.reason {
            Reason::Emergency => write!(f, "{level}: an emergency"),
            Reason::LowConfirmation {
                confirmed,
                answered,
                threshold_bp,
                span,
            } => write!(
                f,
                "{level}: confirmation rate {} in {span} ({confirmed} of {answered}; below {})",
                percent(f64::from(*confirmed) / f64::from((*answered).max(1))),
                percent_bp(*threshold_bp)
            ),
            Reason::FrequentRepeats {
                repeats,
                closed,
                span,
            } => write!(
                f,
                "{level}: {repeats} repeat appeals in {span} for {closed} cards closed"
            ),
            Reason::Contested => write!(f, "{level}: marked as contested"),
            Reason::Anonymous => write!(f, "{level}: anonymous, nobody to ask"),
            Reason::Drawn { share_bp, .. } => {
                write!(f, "{level}: drawn ({} of cards)", percent_bp(*share_bp))
            }
            Reason::NotDrawn { share_bp, .. } => {
                write!(
                    f,
                    "{level}: not drawn ({} of cards), not verified",
                    percent_bp(*share_bp)
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn november() -> Span {
        Period::Month.previous(date(2026, 12, 4))
    }

    fn record(closed: u32, confirmed: u32, not_confirmed: u32, repeats: u32) -> TrackRecord {
        TrackRecord {
            executor: ExecutorCode::parse("vodokanal").unwrap(),
            span: november(),
            closed,
            confirmed,
            not_confirmed,
            repeats,
        }
    }

    /// A card whose id draws `at` (0 to 1).
    fn card_drawing(at: f64) -> CardFacts {
        let bits = ((at * (1u64 << 53) as f64) as u64) << 11;
        let mut bytes = [0x44u8; 16];
        bytes[..8].copy_from_slice(&bits.to_be_bytes());
        let id = Uuid::from_bytes(bytes);
        assert!((draw(id) - at).abs() < 1e-9);
        CardFacts {
            id,
            emergency: false,
            contested: false,
            anonymous: false,
        }
    }

    #[test]
    fn periods_are_the_whole_week_or_month_before() {
        assert_eq!(
            november(),
            Span {
                period: Period::Month,
                start: date(2026, 11, 1),
                end: date(2026, 12, 1)
            }
        );
        // On the first of a month, the month before it.
        assert_eq!(
            Period::Month.previous(date(2026, 3, 1)).start,
            date(2026, 2, 1)
        );
        assert_eq!(
            Period::Month.previous(date(2026, 3, 1)).end,
            date(2026, 3, 1)
        );
        // January looks back at December of the year before.
        assert_eq!(
            Period::Month.previous(date(2027, 1, 15)).start,
            date(2026, 12, 1)
        );
        // Friday 2026-12-04: the week of Monday 23 November.
        let week = Period::Week.previous(date(2026, 12, 4));
        assert_eq!(
            (week.start, week.end),
            (date(2026, 11, 23), date(2026, 11, 30))
        );
        // A Monday looks back at the whole week before it.
        assert_eq!(Period::Week.previous(date(2026, 11, 30)), week);
        assert_eq!(november().to_string(), "November 2026");
        assert_eq!(week.to_string(), "the week of 2026-11-23");
    }

    #[test]
    fn emergencies_are_always_verified() {
        let rule = ControlRule::default();
        let card = CardFacts {
            emergency: true,
            ..card_drawing(0.99)
        };
        // Even for an executor with a perfect record.
        let d = rule.decide(card, Some(&record(100, 50, 0, 0)));
        assert_eq!(
            (d.level, d.verify, &d.reason),
            (Level::Total, true, &Reason::Emergency)
        );
        assert_eq!(d.to_string(), "total: an emergency");
    }

    #[test]
    fn a_low_confirmation_rate_puts_every_card_under_total_control() {
        let rule = ControlRule::default();
        // 18 of 25 answered "yes": 72 %.
        let d = rule.decide(card_drawing(0.99), Some(&record(40, 18, 7, 0)));
        assert_eq!((d.level, d.verify), (Level::Total, true));
        assert!(matches!(
            d.reason,
            Reason::LowConfirmation {
                confirmed: 18,
                answered: 25,
                ..
            }
        ));
        assert_eq!(
            d.to_string(),
            "total: confirmation rate 72 % in November 2026 (18 of 25; below 80 %)"
        );
        // Exactly 80 % is not below.
        let d = rule.decide(card_drawing(0.99), Some(&record(40, 20, 5, 0)));
        assert_eq!((d.level, d.verify), (Level::Selective, false));
        // Too few answers to judge a rate: 1 of 4 is not a record.
        let d = rule.decide(card_drawing(0.99), Some(&record(10, 1, 3, 0)));
        assert_eq!((d.level, d.verify), (Level::Selective, false));
        // No answers at all: no rate.
        assert_eq!(record(10, 0, 0, 0).confirmation_rate(), None);
        // The threshold is configuration.
        let strict = ControlRule::new(ControlSettings {
            min_confirmation_rate: 0.9,
            ..ControlSettings::default()
        });
        let d = strict.decide(card_drawing(0.99), Some(&record(40, 22, 3, 0)));
        assert_eq!(d.level, Level::Total, "88 % is below 90 %");
    }

    #[test]
    fn frequent_repeats_put_every_card_under_total_control() {
        let rule = ControlRule::default();
        // 5 repeats for 30 closed: 17 %, over 10 %.
        let d = rule.decide(card_drawing(0.99), Some(&record(30, 20, 1, 5)));
        assert_eq!((d.level, d.verify), (Level::Total, true));
        assert_eq!(
            d.to_string(),
            "total: 5 repeat appeals in November 2026 for 30 cards closed"
        );
        // 3 repeats for 100 closed: 3 %, not frequent.
        let d = rule.decide(card_drawing(0.99), Some(&record(100, 60, 2, 3)));
        assert_eq!(d.level, Level::Selective);
        // 2 repeats for 5 closed: a high share, but two are not "frequent".
        let d = rule.decide(card_drawing(0.99), Some(&record(5, 5, 0, 2)));
        assert_eq!(d.level, Level::Selective);
        // Repeats with nothing closed (the executor closes nothing, and
        // citizens keep coming back).
        let d = rule.decide(card_drawing(0.99), Some(&record(0, 0, 0, 4)));
        assert_eq!(d.level, Level::Total);
    }

    #[test]
    fn the_rate_is_checked_before_the_repeats() {
        let d = ControlRule::default().decide(card_drawing(0.5), Some(&record(30, 10, 10, 9)));
        assert!(matches!(d.reason, Reason::LowConfirmation { .. }));
    }

    #[test]
    fn selective_control_draws_the_configured_share() {
        let rule = ControlRule::default();
        let good = record(100, 95, 2, 1);
        let d = rule.decide(card_drawing(0.1), Some(&good));
        assert_eq!((d.level, d.verify), (Level::Selective, true));
        assert_eq!(d.to_string(), "selective: drawn (20 % of cards)");
        let d = rule.decide(card_drawing(0.25), Some(&good));
        assert_eq!((d.level, d.verify), (Level::Selective, false));
        assert_eq!(
            d.to_string(),
            "selective: not drawn (20 % of cards), not verified"
        );
        // Without a record (an executor new to the city) the same.
        assert!(rule.decide(card_drawing(0.05), None).verify);
        assert!(!rule.decide(card_drawing(0.5), None).verify);
        // None and all.
        let none = ControlRule::new(ControlSettings {
            selective_share: 0.0,
            ..ControlSettings::default()
        });
        assert!(!none.decide(card_drawing(0.0), None).verify);
        let all = ControlRule::new(ControlSettings {
            selective_share: 1.0,
            ..ControlSettings::default()
        });
        assert!(all.decide(card_drawing(0.999_999), None).verify);
    }

    #[test]
    fn the_draw_takes_about_the_share_of_random_cards() {
        let rule = ControlRule::default();
        let n = 20_000;
        let drawn = (0..n)
            .filter(|_| {
                let card = CardFacts {
                    id: Uuid::new_v4(),
                    emergency: false,
                    contested: false,
                    anonymous: false,
                };
                rule.decide(card, None).verify
            })
            .count();
        let share = drawn as f64 / f64::from(n);
        // 20 % ± 1.5 points: over 5 standard deviations at this n.
        assert!((0.185..0.215).contains(&share), "{share}");
    }

    #[test]
    fn contested_cards_are_verified_under_selective_control() {
        let rule = ControlRule::default();
        let card = CardFacts {
            contested: true,
            ..card_drawing(0.99)
        };
        let d = rule.decide(card, Some(&record(100, 95, 2, 1)));
        assert_eq!(
            (d.level, d.verify, &d.reason),
            (Level::Selective, true, &Reason::Contested)
        );
        // Under total control the total reason is the one told.
        let d = rule.decide(card, Some(&record(40, 18, 7, 0)));
        assert!(matches!(d.reason, Reason::LowConfirmation { .. }));
    }

    #[test]
    fn anonymous_cards_are_never_verified() {
        let card = CardFacts {
            anonymous: true,
            emergency: true,
            ..card_drawing(0.01)
        };
        let d = ControlRule::default().decide(card, Some(&record(40, 18, 7, 0)));
        assert_eq!((d.verify, &d.reason), (false, &Reason::Anonymous));
        assert_eq!(d.to_string(), "total: anonymous, nobody to ask");
    }

    #[test]
    fn the_decision_is_kept_as_json_and_read_back() {
        let d = ControlRule::default().decide(card_drawing(0.99), Some(&record(40, 18, 7, 0)));
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["level"], "total");
        assert_eq!(json["reason"]["why"], "low_confirmation");
        assert_eq!(json["reason"]["span"]["start"], "2026-11-01");
        let back: Decision = serde_json::from_value(json).unwrap();
        assert_eq!(back, d);
    }

    #[test]
    fn settings_out_of_range_are_refused() {
        assert!(ControlSettings::default().check().is_ok());
        let bad = ControlSettings {
            selective_share: 1.5,
            ..ControlSettings::default()
        };
        assert!(bad.check().unwrap_err().contains("selective_share"));
    }
}
