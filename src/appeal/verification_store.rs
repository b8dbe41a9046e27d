//! Verification in the database: the executors' track records counted from
//! the stored outcomes (they drive the control rule and are shown to
//! supervisors), a step of a card's life taken whole (the track record
//! filled in for an accepted closure; a "no" from the citizen written with
//! its repeat appeal in one transaction), the cards awaiting verification
//! and the attempts made.
//!
//! The rules are in [`super::control`], [`super::verification`] and
//! [`super::lifecycle`]; this module stores what they decide.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::calendar::WorkingCalendar;
use super::control::{Span, TrackRecord};
use super::lifecycle::{Action, Actor, ExecutorCode, Lifecycle, Outcome, Refusal, Request};
use super::lifecycle_store::{
    Author, StepValues, StoredCard, insert_attempt, update_card, write_parts_and_entry,
};
use super::number::RegistrationNumber;
use super::registration::{Channel, NewAppeal, RegisterError};
use super::store::{Registration, insert_registration};
use super::verification::{AttemptResult, Channel as AskedBy};
use crate::store::encoding::{Cols, DbTime};
use crate::store::{BeginWrite, Store, StoreError, decode_all, on_pool, query_err};

/// Why a step was not taken.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the card is gone")]
    Gone,
    #[error("the card kept changing while this step was written; look at it again")]
    KeptChanging,
}

/// A step taken: what the rules decided, and the repeat appeal it made.
#[derive(Debug)]
pub struct Taken {
    pub outcome: Outcome,
    pub registration_number: String,
    /// The citizen said "no": the repeat appeal, registered with the step.
    pub repeat: Option<Registration>,
}

/// Tries before a step computed on a card that keeps changing gives up.
const STALE_RETRIES: usize = 3;

impl Store {
    /// Reads the card, asks the rules, writes the outcome; if another step
    /// was written first, decides again on the card it left. An accepted
    /// closure is decided with the lead executor's track record for the
    /// control rule's previous period; a "no" from the citizen registers
    /// the repeat appeal with the step.
    pub async fn take_step(
        &self,
        rules: &Lifecycle,
        id: Uuid,
        action: Action,
        actor: &Actor,
        author: &Author,
    ) -> Result<Taken, StepError> {
        for _ in 0..STALE_RETRIES {
            let now = Utc::now();
            let stored = self.appeal_card(id).await?.ok_or(StepError::Gone)?;
            let mut action = action.clone();
            if let Action::Approve { record, .. } = &mut action {
                let closure = stored
                    .card
                    .pending
                    .as_ref()
                    .is_some_and(|p| p.request == Request::Closure);
                if let (true, Some(lead)) = (closure, stored.card.lead()) {
                    let span = rules
                        .control()
                        .settings()
                        .period
                        .previous(rules.calendar().date(now));
                    *record = Some(
                        self.track_record(&lead.executor, span, rules.calendar())
                            .await?,
                    );
                }
            }
            // A card sent without a subject, classified: the category's
            // executor and deadline class, never the request's.
            let mut classified = None;
            if let Action::Classify {
                category,
                executors,
                class,
            } = &mut action
            {
                let found = self
                    .category(*category)
                    .await?
                    .ok_or_else(|| StoreError::Invalid {
                        field: "category",
                        reason: "Такої категорії немає в класифікаторі.".into(),
                    })?;
                *executors = vec![found.lead()?];
                *class = Some(found.deadline);
                classified = Some(found);
            }
            let outcome = rules.handle(&stored.card, action, actor, now)?;
            let written = match &outcome.repeat {
                None => self
                    .write_step_classified(
                        id,
                        stored.revision,
                        &outcome,
                        classified.as_ref(),
                        author,
                        now,
                    )
                    .await
                    .map(|()| None),
                Some(reason) => self
                    .write_not_confirmed(&stored, &outcome, reason, author, rules, now)
                    .await
                    .map(Some),
            };
            match written {
                Ok(repeat) => {
                    return Ok(Taken {
                        outcome,
                        registration_number: stored.registration_number,
                        repeat,
                    });
                }
                Err(StoreError::Stale { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StepError::KeptChanging)
    }

    /// The citizen did not confirm: the card's step, and the repeat appeal
    /// (000 §4.2) for the same executors, with the original's category and
    /// deadline class, the citizen's reason and a link back, in one
    /// transaction. `Stale` (nothing written) if the card changed since it
    /// was read.
    async fn write_not_confirmed(
        &self,
        stored: &StoredCard,
        outcome: &Outcome,
        reason: &str,
        author: &Author,
        rules: &Lifecycle,
        now: DateTime<Utc>,
    ) -> Result<Registration, StoreError> {
        let id = stored.id;
        let original = self
            .appeal_detail(&stored.registration_number)
            .await?
            .ok_or(StoreError::NotFound { what: "appeal", id })?;
        let text = |field: Option<String>| field.unwrap_or_default();
        let asked = outcome.entry.details.verification.as_ref();
        let essence = repeat_essence(
            &stored.registration_number,
            reason,
            original.essence.as_deref().unwrap_or_default(),
        );
        let appeal = NewAppeal {
            surname: text(original.surname),
            first_name: text(original.first_name),
            patronymic: text(original.patronymic),
            address: text(original.record.address),
            contact_phone: original.record.caller_phone,
            other_contact: text(original.other_contact),
            essence,
            email: text(original.email),
            category_id: original.category_id,
            kind: Some(original.kind),
            anonymous: original.anonymous,
            repeat_of: stored.registration_number.clone(),
            // The call (or the chat) in which the citizen said "no".
            call_id: asked.and_then(|v| v.call),
            channel: Some(match asked.map(|v| v.channel) {
                Some(AskedBy::Chatbot) => Channel::Chatbot,
                _ => Channel::Phone,
            }),
            registered_by: author.user_id,
            // The repeat is about the same place.
            latitude: original.latitude,
            longitude: original.longitude,
            // Back to the same executors.
            triage: false,
        };
        let prepared = match self
            .prepare_registration(&appeal, rules, Some(stored.card.assignments()), now)
            .await
        {
            Ok(prepared) => prepared,
            Err(RegisterError::Store(e)) => return Err(e),
            Err(RegisterError::Fields(problems)) => {
                return Err(StoreError::Invalid {
                    field: "repeat",
                    reason: problems
                        .iter()
                        .map(|p| format!("{}: {}", p.field, p.message))
                        .collect::<Vec<_>>()
                        .join("; "),
                });
            }
        };
        let card = &outcome.card;
        let revision = stored.revision;
        let written: Result<Option<RegistrationNumber>, sqlx::Error> =
            on_pool!(self, |pool| async {
                let mut tx = pool.begin_write().await?;
                let number = insert_registration!(tx, &prepared, &Author::system(), now);
                // The original's entry names its repeat.
                let mut entry = outcome.entry.clone();
                entry.details.repeat = Some(number.to_string());
                let values =
                    StepValues::new(card, &entry).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
                if update_card!(tx, id, revision, card, values, now) == 0 {
                    tx.rollback().await?;
                    return Ok(None);
                }
                write_parts_and_entry!(tx, id, card, &entry, author, now, values);
                insert_attempt!(tx, id, card, &entry, author, now, values);
                tx.commit().await?;
                Ok(Some(number))
            }
            .await);
        match written.map_err(query_err("write a citizen's no and its repeat appeal"))? {
            Some(number) => self.registered(prepared, &number).await,
            None => Err(StoreError::Stale { what: "appeal", id }),
        }
    }

    /// What an executor's cards did in `span`, as the control rule counts
    /// it.
    pub async fn track_record(
        &self,
        executor: &ExecutorCode,
        span: Span,
        calendar: &WorkingCalendar,
    ) -> Result<TrackRecord, StoreError> {
        Ok(self
            .count_track_records(span, calendar, Some(executor))
            .await?
            .pop()
            .unwrap_or_else(|| TrackRecord::empty(executor.clone(), span)))
    }

    /// Every executor's track record in `span` (the city's days), by code:
    /// cards it led that were closed, citizens' answers about its work,
    /// repeat appeals about its cards. Executors with nothing in the span
    /// are left out.
    pub async fn track_records(
        &self,
        span: Span,
        calendar: &WorkingCalendar,
    ) -> Result<Vec<TrackRecord>, StoreError> {
        self.count_track_records(span, calendar, None).await
    }

    /// The track records of `span`, of one executor or of all.
    async fn count_track_records(
        &self,
        span: Span,
        calendar: &WorkingCalendar,
        only: Option<&ExecutorCode>,
    ) -> Result<Vec<TrackRecord>, StoreError> {
        /// What a count is of.
        #[derive(Clone, Copy, PartialEq)]
        enum Count {
            Closed,
            Answers,
            Repeats,
        }
        // Each query's executor column, for the one-executor filter.
        let queries = [
            (
                Count::Closed,
                "executor",
                "SELECT executor AS code, NULL AS result, count(*) AS n FROM appeals \
                 WHERE status = 'closed' AND finished_at >= $1 AND finished_at < $2",
                "GROUP BY executor",
            ),
            (
                Count::Answers,
                "executor_code",
                "SELECT executor_code AS code, result, count(*) AS n \
                 FROM verification_attempts WHERE at >= $1 AND at < $2 \
                 AND result IN ('confirmed', 'not_confirmed')",
                "GROUP BY executor_code, result",
            ),
            (
                Count::Repeats,
                "o.executor",
                "SELECT o.executor AS code, NULL AS result, count(*) AS n FROM appeals r \
                 JOIN appeals o ON o.id = r.repeat_of \
                 WHERE r.created_at >= $1 AND r.created_at < $2",
                "GROUP BY o.executor",
            ),
        ];
        let (from, to) = (calendar.moment(span.start, 0), calendar.moment(span.end, 0));
        let mut records: BTreeMap<String, TrackRecord> = BTreeMap::new();
        for (count, column, select, group) in queries {
            let filter = match only {
                Some(_) => format!(" AND {column} = $3 "),
                None => " ".to_string(),
            };
            let sql = format!("{select}{filter}{group}");
            let rows = on_pool!(self, |pool| decode_all(
                {
                    let query = sqlx::query(&sql)
                        .bind(DbTime::new(from))
                        .bind(DbTime::new(to));
                    match only {
                        Some(executor) => query.bind(executor.as_str()),
                        None => query,
                    }
                }
                .fetch_all(pool)
                .await
                .map_err(query_err("count an executor's track record"))?,
                |row| {
                    let c = Cols::new(row, "appeals");
                    Ok((
                        c.get::<String>("code")?,
                        c.get::<Option<String>>("result")?,
                        c.int::<i64, u32>("n")?,
                    ))
                }
            ))?;
            for (code, result, n) in rows {
                // Cards from before executors were keys may hold a name.
                let Ok(executor) = ExecutorCode::parse(&code) else {
                    continue;
                };
                let r = records
                    .entry(code)
                    .or_insert_with(|| TrackRecord::empty(executor, span));
                match (count, result.as_deref().and_then(AttemptResult::parse)) {
                    (Count::Closed, _) => r.closed += n,
                    (Count::Repeats, _) => r.repeats += n,
                    (Count::Answers, Some(AttemptResult::Confirmed)) => r.confirmed += n,
                    (Count::Answers, _) => r.not_confirmed += n,
                }
            }
        }
        Ok(records.into_values().collect())
    }
}

/// A card hotline may call the citizen about now (automated verification).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueSurvey {
    pub id: Uuid,
    pub registration_number: String,
    /// The citizen's number, E.164.
    pub phone: String,
    /// The classifier section of its category.
    pub section: Option<String>,
    /// When its attempt fell due (the claim checks it is unchanged).
    pub due_at: DateTime<Utc>,
}

impl Store {
    /// Cards in automated verification whose next attempt is due at `now`,
    /// longest waiting first, at most `limit`. Anonymous cards and cards
    /// without a number are never called.
    pub async fn due_surveys(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DueSurvey>, StoreError> {
        const SQL: &str = "SELECT a.id, a.registration_number, a.caller_phone, \
             c.section_code, a.verify_next_at FROM appeals a \
             LEFT JOIN classifier_categories c ON c.id = a.category_id \
             WHERE a.verify_mode = 'automated' AND a.status = 'verification' \
             AND a.verify_next_at <= $1 AND NOT a.anonymous AND a.caller_phone <> '' \
             ORDER BY a.verify_next_at LIMIT $2";
        on_pool!(self, |pool| decode_all(
            sqlx::query(SQL)
                .bind(DbTime::new(now))
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .fetch_all(pool)
                .await
                .map_err(query_err("list the cards due for a survey call"))?,
            |row| {
                let c = Cols::new(row, "appeals");
                Ok(DueSurvey {
                    id: c.uuid("id")?,
                    registration_number: c.get("registration_number")?,
                    phone: c.get("caller_phone")?,
                    section: c.get("section_code")?,
                    due_at: c.time("verify_next_at")?,
                })
            }
        ))
    }

    /// Takes a due card for one call: its next attempt moves to `until`
    /// (the call's lease), so no other pass (or node) calls too. `false`
    /// if another took it, or it changed, since it was listed.
    pub async fn claim_survey(
        &self,
        due: &DueSurvey,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        const SQL: &str = "UPDATE appeals SET verify_next_at = $3 \
             WHERE id = $1 AND verify_mode = 'automated' AND verify_next_at = $2";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(crate::store::encoding::DbUuid(due.id))
            .bind(DbTime::new(due.due_at))
            .bind(DbTime::new(until))
            .execute(pool)
            .await
            .map(|r| r.rows_affected() == 1)
            .map_err(query_err("claim a card for a survey call")))
    }
}

/// The repeat appeal's essence: the citizen's reason first, the original's
/// number and essence after, within the essence's 4,000 characters.
fn repeat_essence(number: &str, reason: &str, original: &str) -> String {
    let reason = match reason.trim() {
        "" => "громадянин не підтвердив виконання".to_string(),
        r => r.to_string(),
    };
    let head = format!(
        "Повторне звернення: заявник не підтвердив виконання звернення {number}. \
         Причина: {reason}\n\nСуть звернення {number}: "
    );
    let room = 4000usize.saturating_sub(head.chars().count());
    let mut body: String = original.chars().take(room).collect();
    if original.chars().count() > room && room > 0 {
        body.pop();
        body.push('…');
    }
    format!("{head}{body}")
}

#[cfg(test)]
mod tests {
    use super::repeat_essence;

    #[test]
    fn a_repeat_carries_the_reason_and_the_original_within_the_limit() {
        let e = repeat_essence("1580-2026-000017", "вода досі тече", "Прорив труби");
        assert!(e.starts_with("Повторне звернення: заявник не підтвердив"));
        assert!(e.contains("Причина: вода досі тече"));
        assert!(e.ends_with("Суть звернення 1580-2026-000017: Прорив труби"));
        let long = repeat_essence("1580-2026-000017", "", &"я".repeat(4000));
        assert_eq!(long.chars().count(), 4000);
        assert!(long.ends_with('…'));
        assert!(long.contains("громадянин не підтвердив виконання"));
    }
}
