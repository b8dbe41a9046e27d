//! The automated verification caller: in the contact centre's calling
//! hours it takes the cards whose automated attempt is due, calls each
//! citizen through the dialer ([`crate::call::outbound`]) to play the
//! survey menu, and records what came of it as the card's `verify` step,
//! exactly as an operator's call-back or the chat-bot's answer is
//! (channel `automated`, the call linked).
//!
//! What an answer means is plain code ([`survey_step`]); when to call again
//! is [`super::verification::Attempts`]'s; [`start_due`] does one pass at
//! a chosen moment (tests move the moment); [`spawn`] runs passes on the
//! real clock.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};
use uuid::Uuid;

use super::lifecycle::{Action, Actor, Lifecycle};
use super::lifecycle_store::Author;
use super::verification::{AttemptResult, Channel};
use super::verification_store::Taken;
use crate::call::outbound::{Dialer, Reached, SurveyCall};
use crate::store::Store;

/// A card taken for a call is not taken again for this long (the call's
/// ring and talk, with room): if the server dies mid-call the card is
/// called again after it.
const LEASE: TimeDelta = TimeDelta::minutes(30);

/// How often the caller looks for due cards in calling hours.
const POLL: Duration = Duration::from_secs(30);

/// The citizen's reason recorded for a "2" in the survey (it goes to the
/// executor with the repeat appeal).
pub const NOT_SOLVED_BY_KEY: &str =
    "Під час автоматичного дзвінка заявник натиснув «2»: проблему не вирішено.";

/// The card's step for what a survey call came to.
pub fn survey_step(reached: &Reached, call: Uuid) -> Action {
    let (result, rating, reason) = match reached {
        Reached::Busy => (AttemptResult::Busy, None, None),
        Reached::NoAnswer => (AttemptResult::NoAnswer, None, None),
        Reached::Failed(_) => (AttemptResult::Failed, None, None),
        Reached::Answered(vars) => {
            let rating = vars
                .get("rating")
                .and_then(|r| r.parse::<u8>().ok())
                .filter(|r| (1..=5).contains(r));
            match vars.get("solved").map(String::as_str) {
                Some("1") => (AttemptResult::Confirmed, rating, None),
                Some("2") => (
                    AttemptResult::NotConfirmed,
                    rating,
                    Some(NOT_SOLVED_BY_KEY.to_string()),
                ),
                _ => (AttemptResult::NoKey, None, None),
            }
        }
    };
    Action::Verify {
        result,
        rating,
        reason,
        channel: Channel::Automated,
        call: Some(call),
    }
}

/// One pass at `now`: outside calling hours nothing; else the due cards,
/// as many as the dialer has free lines, are claimed and called, each in
/// a task that records its step and tells `tell`. The tasks' handles (the
/// step taken, or `None`).
pub async fn start_due(
    store: &Store,
    rules: &Arc<Lifecycle>,
    dialer: &Dialer,
    now: DateTime<Utc>,
    tell: Arc<dyn Fn(&Taken) + Send + Sync>,
) -> Result<Vec<JoinHandle<Option<Taken>>>, crate::store::StoreError> {
    if rules.attempts().calling_moment(rules.calendar(), now) > now {
        return Ok(Vec::new());
    }
    let free = dialer.free_lines();
    if free == 0 {
        return Ok(Vec::new());
    }
    let mut started = Vec::new();
    for due in store.due_surveys(now, free).await? {
        let Some(line) = dialer.line() else { break };
        if !store.claim_survey(&due, now + LEASE).await? {
            continue;
        }
        let (store, rules, dialer, tell) =
            (store.clone(), rules.clone(), dialer.clone(), tell.clone());
        started.push(tokio::spawn(async move {
            let survey = SurveyCall {
                appeal: due.id,
                registration_number: due.registration_number.clone(),
                number: due.phone.clone(),
                section: due.section.clone(),
            };
            let placed = match dialer.survey(line, survey).await {
                Ok(placed) => placed,
                Err(e) => {
                    // Not placed: the lease runs out and the card is due again.
                    warn!(error = %e, number = %due.registration_number, "survey call not placed");
                    return None;
                }
            };
            let action = survey_step(&placed.reached, placed.call.as_uuid());
            match store
                .take_step(&rules, due.id, action, &Actor::System, &Author::system())
                .await
            {
                Ok(taken) => {
                    info!(number = %due.registration_number, step = %taken.outcome.entry.kind, "survey call recorded");
                    tell(&taken);
                    Some(taken)
                }
                Err(e) => {
                    // The operators took the card over meanwhile, or it changed.
                    warn!(error = %e, number = %due.registration_number, "survey call's answer not recorded");
                    None
                }
            }
        }));
    }
    Ok(started)
}

/// Runs [`start_due`] on the real clock until shutdown.
pub fn spawn(
    store: Store,
    rules: Arc<Lifecycle>,
    dialer: Dialer,
    tell: Arc<dyn Fn(&Taken) + Send + Sync>,
    mut shutdown: watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        if !dialer.has_survey() {
            warn!(
                "the survey menu is not in the IVR: automated verification calls will fail until it is"
            );
        }
        loop {
            let now = Utc::now();
            let calling = rules.attempts().calling_moment(rules.calendar(), now);
            let sleep = if calling > now {
                (calling - now).to_std().unwrap_or(POLL).min(POLL * 2)
            } else {
                if let Err(e) = start_due(&store, &rules, &dialer, now, tell.clone()).await {
                    warn!(error = %e, "the verification caller cannot read or claim cards");
                }
                POLL
            };
            tokio::select! {
                _ = tokio::time::sleep(sleep) => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn answered(pairs: &[(&str, &str)]) -> Reached {
        Reached::Answered(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<HashMap<_, _>>(),
        )
    }

    fn verify(action: Action) -> (AttemptResult, Option<u8>, Option<String>, Option<Uuid>) {
        match action {
            Action::Verify {
                result,
                rating,
                reason,
                channel,
                call,
            } => {
                assert_eq!(channel, Channel::Automated);
                (result, rating, reason, call)
            }
            other => panic!("not a verify step: {other:?}"),
        }
    }

    #[test]
    fn keys_and_outcomes_become_the_cards_step() {
        let call = Uuid::from_u128(7);
        let (r, rating, reason, c) = verify(survey_step(
            &answered(&[("solved", "1"), ("rating", "5")]),
            call,
        ));
        assert_eq!(
            (r, rating, reason, c),
            (AttemptResult::Confirmed, Some(5), None, Some(call))
        );
        let (r, rating, reason, _) = verify(survey_step(
            &answered(&[("solved", "2"), ("rating", "2")]),
            call,
        ));
        assert_eq!(r, AttemptResult::NotConfirmed);
        assert_eq!(rating, Some(2));
        assert_eq!(reason.as_deref(), Some(NOT_SOLVED_BY_KEY));
        // A rating out of range is dropped; the answer stands.
        let (r, rating, _, _) = verify(survey_step(
            &answered(&[("solved", "1"), ("rating", "9")]),
            call,
        ));
        assert_eq!((r, rating), (AttemptResult::Confirmed, None));
        // Answered but silent, or another key: no answer, tried again.
        let (r, rating, _, _) = verify(survey_step(&answered(&[("rating", "4")]), call));
        assert_eq!((r, rating), (AttemptResult::NoKey, None));
        let (r, _, _, _) = verify(survey_step(&answered(&[("solved", "7")]), call));
        assert_eq!(r, AttemptResult::NoKey);
        assert_eq!(
            verify(survey_step(&Reached::Busy, call)).0,
            AttemptResult::Busy
        );
        assert_eq!(
            verify(survey_step(&Reached::NoAnswer, call)).0,
            AttemptResult::NoAnswer
        );
        assert_eq!(
            verify(survey_step(&Reached::Failed(503), call)).0,
            AttemptResult::Failed
        );
    }
}
