//! Queue events: what happened to each caller in the call queues (joined or
//! refused, an operator rung, answered, abandoned, transferred, left, moved
//! up), and the statistics of a queue computed from them (callers waiting
//! now, the longest wait, answered and abandoned calls, Asterisk's service
//! level, the average wait).
//!
//! Role: the queue part of the store. The routing decision lives in
//! [`crate::queue`] and never touches the store; the call tasks write here
//! what the router decided. This module knows nothing about SIP nor about
//! routing: it stores the events it is given (checking only the queue name
//! and the position) and counts them.
//!
//! Statistics are computed by the database, in one statement on either
//! backend, so they are a consistent snapshot (and PostgreSQL does not ship
//! a day's events to us to count them). Time arithmetic is left to Rust:
//! SQLite stores timestamps as text, so the SQL only compares and picks
//! them (`<=`, `min`, `max`), which means the same on both backends.

use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::encoding::{Cols, DbTime, DbUuid, StoreRow};
use super::operators::check_queue_name;
use super::{Store, StoreError, decode_all, query_err, to_i64};

text_enum! {
    /// What happened to a caller in a queue.
    QueueEventKind {
        /// The caller entered the queue and started waiting.
        Joined => "joined",
        /// The queue would not take the caller; `detail` says why ("full",
        /// "no-operators").
        Refused => "refused",
        /// An operator's phone is ringing with the caller (`operator_id`);
        /// the caller is still waiting.
        Ringing => "ringing",
        /// An operator (`operator_id`) took the caller after `wait_ms`.
        Answered => "answered",
        /// The caller hung up while waiting, after `wait_ms`.
        Abandoned => "abandoned",
        /// The caller was sent elsewhere (`detail`: the target) after
        /// `wait_ms`.
        Transferred => "transferred",
        /// The caller left the queue another way (timeout, a key pressed
        /// to leave) after `wait_ms`.
        Left => "left",
        /// The caller's place changed to `position`; still waiting. No
        /// longer written (one row per caller moved up made a queue
        /// emptying from its head cost O(n²) rows); older rows are read.
        Position => "position",
    }
}

/// A queue event as it is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewQueueEvent {
    pub at: DateTime<Utc>,
    /// Queue name as in `sip-config/`: `[a-z0-9_-]`.
    pub queue: String,
    /// The caller's call (the store's id, not the SIP Call-ID).
    pub call_id: Uuid,
    pub kind: QueueEventKind,
    /// The operator rung, who answered or who transferred.
    pub operator_id: Option<Uuid>,
    /// How long the caller had waited in this queue so far, in
    /// milliseconds; set on answered, abandoned, transferred and left.
    pub wait_ms: Option<u64>,
    /// The caller's place in the queue, from 1.
    pub position: Option<u32>,
    /// A refusal's reason ("full", "no-operators"), a transfer's target...
    pub detail: Option<String>,
}

impl NewQueueEvent {
    /// An event with no operator, wait, position or detail; set those
    /// fields as the kind needs.
    pub fn new(at: DateTime<Utc>, queue: &str, call_id: Uuid, kind: QueueEventKind) -> Self {
        NewQueueEvent {
            at,
            queue: queue.to_owned(),
            call_id,
            kind,
            operator_id: None,
            wait_ms: None,
            position: None,
            detail: None,
        }
    }
}

/// A queue event as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueEvent {
    /// Increases with every event stored, so it orders events that share a
    /// timestamp.
    pub id: i64,
    pub at: DateTime<Utc>,
    pub queue: String,
    pub call_id: Uuid,
    pub kind: QueueEventKind,
    /// `None` also when the operator has since been removed.
    pub operator_id: Option<Uuid>,
    pub wait_ms: Option<u64>,
    pub position: Option<u32>,
    pub detail: Option<String>,
}

/// Statistics of one queue at a moment `now`, over the period from
/// `day_start` to `now`; see [`Store::queue_stats`] for how each is
/// counted.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueStats {
    pub queue: String,
    /// Callers waiting in the queue at `now`.
    pub waiting_now: u32,
    /// How long the longest-waiting of them has waited; `None` when nobody
    /// waits.
    pub longest_wait: Option<Duration>,
    /// Callers answered in the period.
    pub answered: u32,
    /// Callers who hung up while waiting, in the period.
    pub abandoned: u32,
    /// Callers transferred out of the queue in the period.
    pub transferred: u32,
    /// Callers answered in the period after waiting at most the service
    /// level.
    pub answered_within_service_level: u32,
    /// `answered_within_service_level` ÷ (`answered` + `abandoned`), as a
    /// percentage; `None` when both are 0.
    pub service_level_pct: Option<f64>,
    /// Mean wait of the callers answered in the period; `None` when none
    /// was answered (with a known wait).
    pub average_wait: Option<Duration>,
}

macro_rules! queue_event_columns {
    () => {
        "id, at, queue, call_id, kind, operator_id, wait_ms, position, detail"
    };
}

fn queue_event_from_row(row: &impl StoreRow) -> Result<QueueEvent, StoreError> {
    let c = Cols::new(row, "queue_events");
    Ok(QueueEvent {
        id: c.get("id")?,
        at: c.time("at")?,
        queue: c.get("queue")?,
        call_id: c.uuid("call_id")?,
        kind: c.parsed("kind", QueueEventKind::parse)?,
        operator_id: c.opt_uuid("operator_id")?,
        wait_ms: c.opt_int::<i64, u64>("wait_ms")?,
        position: c.opt_int::<i32, u32>("position")?,
        detail: c.get("detail")?,
    })
}

/// One statement for [`Store::queue_stats`]. Parameters: $1 queue, $2 day
/// start, $3 now, $4 service level in whole milliseconds, then the kinds'
/// texts: $5 joined, $6 ringing, $7 position, $8 answered, $9 abandoned,
/// $10 transferred.
///
/// `latest` starts from the calls not ended, which are few (the partial
/// index `calls_unfinished` finds them), rather than from every event the
/// queue ever had; each one's latest event in the queue up to now is found
/// through `queue_events_call` (call_id, at, id). `CROSS JOIN` makes SQLite
/// keep that order (its planner, without statistics, would rather scan the
/// queue's whole history through `queue_events_queue_at`); to PostgreSQL it
/// is a plain join. `period` reads the day's events through
/// `queue_events_queue_at`.
///
/// `sum` of a bigint is numeric on PostgreSQL, which sqlx does not decode
/// without another feature, hence the cast (exact: the sum is of whole
/// numbers). Averages and time differences are left to Rust, so neither
/// backend's arithmetic or rounding shows in the result.
const STATS_SQL: &str = "\
WITH latest AS (
    SELECT e.kind,
        (SELECT max(j.at) FROM queue_events j
         WHERE j.call_id = e.call_id AND j.queue = e.queue AND j.kind = $5
           AND j.at <= $3) AS joined_at
    FROM calls c CROSS JOIN queue_events e
    WHERE e.call_id = c.id AND c.ended_at IS NULL AND e.queue = $1 AND e.at <= $3
      AND NOT EXISTS (
          SELECT 1 FROM queue_events l
          WHERE l.call_id = e.call_id AND l.queue = e.queue AND l.at <= $3
            AND (l.at > e.at OR (l.at = e.at AND l.id > e.id)))
),
waiting AS (
    SELECT count(*) AS waiting_now, min(joined_at) AS waiting_since
    FROM latest WHERE kind IN ($5, $6, $7)
),
period AS (
    SELECT
        count(*) FILTER (WHERE kind = $8) AS answered,
        count(*) FILTER (WHERE kind = $9) AS abandoned,
        count(*) FILTER (WHERE kind = $10) AS transferred,
        count(*) FILTER (WHERE kind = $8 AND wait_ms <= $4) AS answered_within,
        count(wait_ms) FILTER (WHERE kind = $8) AS answered_with_wait,
        CAST(sum(wait_ms) FILTER (WHERE kind = $8) AS bigint) AS answered_wait_ms
    FROM queue_events
    WHERE queue = $1 AND at >= $2 AND at <= $3
)
SELECT waiting_now, waiting_since, answered, abandoned, transferred, answered_within,
    answered_with_wait, answered_wait_ms
FROM waiting CROSS JOIN period";

/// Turns the row of [`STATS_SQL`] into statistics.
fn stats_from_row(
    row: &impl StoreRow,
    queue: &str,
    now: DateTime<Utc>,
) -> Result<QueueStats, StoreError> {
    let c = Cols::new(row, "queue_events");
    let waiting_since = c.opt_time("waiting_since")?;
    let answered: u32 = c.int::<i64, u32>("answered")?;
    let abandoned: u32 = c.int::<i64, u32>("abandoned")?;
    let within: u32 = c.int::<i64, u32>("answered_within")?;
    let with_wait: u32 = c.int::<i64, u32>("answered_with_wait")?;
    let wait_sum: Option<u64> = c.opt_int::<i64, u64>("answered_wait_ms")?;

    // Every waiting caller's `at` is at most `now`, so the difference is
    // not negative; should the clock data say otherwise, say "no wait".
    let longest_wait = waiting_since.map(|since| (now - since).to_std().unwrap_or_default());
    let completed = u64::from(answered) + u64::from(abandoned);
    let service_level_pct = (completed > 0).then(|| 100.0 * f64::from(within) / completed as f64);
    // Duration / u32 keeps nanoseconds, so the mean is exact to them.
    let average_wait = match (wait_sum, with_wait) {
        (Some(sum), n) if n > 0 => Some(Duration::from_millis(sum) / n),
        _ => None,
    };
    Ok(QueueStats {
        queue: queue.to_owned(),
        waiting_now: c.int::<i64, u32>("waiting_now")?,
        longest_wait,
        answered,
        abandoned,
        transferred: c.int::<i64, u32>("transferred")?,
        answered_within_service_level: within,
        service_level_pct,
        average_wait,
    })
}

impl Store {
    /// Records a queue event; returns its id.
    ///
    /// `Invalid` (nothing written) for a queue name that is not
    /// `[a-z0-9_-]` (at most 64 characters) or a position of 0;
    /// `OutOfRange` for a wait above `i64::MAX` ms or a position above
    /// `i32::MAX`; `NotFound` with what = "call" or "operator" if
    /// `call_id` or `operator_id` names nothing stored.
    pub async fn add_queue_event(&self, e: &NewQueueEvent) -> Result<i64, StoreError> {
        check_queue_name(&e.queue)?;
        let wait_ms = e.wait_ms.map(|ms| to_i64("wait_ms", ms)).transpose()?;
        let position = e
            .position
            .map(|p| match i32::try_from(p) {
                Ok(0) => Err(StoreError::Invalid {
                    field: "position",
                    reason: "positions count from 1".into(),
                }),
                Ok(p) => Ok(p),
                Err(_) => Err(StoreError::OutOfRange {
                    field: "position",
                    value: u64::from(p),
                }),
            })
            .transpose()?;
        let write = super::batch::Write::QueueEvent {
            event: e.clone(),
            wait_ms,
            position,
        };
        match self.writer.write(write).await {
            Ok(applied) => applied.new_id("queue_events"),
            Err(StoreError::Query { source, .. }) => {
                Err(self.queue_event_insert_err(e, source).await)
            }
            Err(other) => Err(other),
        }
    }

    /// After a failed insert of `e`: a missing call or operator is
    /// `NotFound`. Two foreign keys, and the backends name the violated
    /// constraint differently (SQLite not at all), so ask which parent is
    /// missing.
    async fn queue_event_insert_err(&self, e: &NewQueueEvent, source: sqlx::Error) -> StoreError {
        const OP: &str = "add a queue event";
        const CALL_SQL: &str = "SELECT 1 FROM calls WHERE id = $1";
        const OPERATOR_SQL: &str = "SELECT 1 FROM operators WHERE id = $1";
        let foreign = source
            .as_database_error()
            .is_some_and(|d| d.is_foreign_key_violation());
        if !foreign {
            return StoreError::Query { op: OP, source };
        }
        match self.exists(CALL_SQL, e.call_id, "look up a call").await {
            Ok(false) => {
                return StoreError::NotFound {
                    what: "call",
                    id: e.call_id,
                };
            }
            Ok(true) => {}
            Err(lookup) => return lookup,
        }
        if let Some(operator_id) = e.operator_id {
            match self
                .exists(OPERATOR_SQL, operator_id, "look up an operator")
                .await
            {
                Ok(false) => {
                    return StoreError::NotFound {
                        what: "operator",
                        id: operator_id,
                    };
                }
                Ok(true) => {}
                Err(lookup) => return lookup,
            }
        }
        // Both there again (one was removed and re-added meanwhile?):
        // report what happened.
        StoreError::Query { op: OP, source }
    }

    /// The call's queue events, in every queue, in the order they happened
    /// (by time, then by the order they were stored). Empty if there is no
    /// such call.
    pub async fn queue_events_for_call(
        &self,
        call_id: Uuid,
    ) -> Result<Vec<QueueEvent>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            queue_event_columns!(),
            " FROM queue_events WHERE call_id = $1 ORDER BY at, id"
        );
        on_pool!(self, |pool| decode_all(
            sqlx::query(SQL)
                .bind(DbUuid(call_id))
                .fetch_all(pool)
                .await
                .map_err(query_err("read a call's queue events"))?,
            queue_event_from_row
        ))
    }

    /// Statistics of one queue computed from stored events, at `now` and
    /// over the period from `day_start` to `now` (both included). Events
    /// stored with a time after `now` are ignored throughout, so a moment
    /// already past gives what was known then (except for calls ended
    /// since, see below).
    ///
    /// * **Waiting now**: callers whose latest event in this queue up to
    ///   `now` (by time, then storing order) is `joined`, `ringing` or
    ///   `position`, and whose call has not ended (`ended_at` unset). A
    ///   call that ended without its queue events being written (a crash,
    ///   then [`Store::close_unfinished_calls`]) therefore stops counting
    ///   at once instead of waiting forever.
    /// * **Longest wait**: `now` − the time of the latest `joined` event
    ///   (in this queue) of the caller waiting longest; a caller who left
    ///   and joined again counts from the second join. A waiting caller
    ///   with no `joined` stored counts in `waiting_now` only. `None` when
    ///   nobody waits.
    /// * **Answered**, **abandoned**, **transferred**: events of that kind
    ///   with a time in the period.
    /// * **Service level**, as Asterisk's `servicelevel`: answered events
    ///   with `wait_ms` ≤ `service_level` (an answer without a wait does
    ///   not count as within), divided by answered + abandoned, as a
    ///   percentage; `None` when both are 0.
    /// * **Average wait**: the mean `wait_ms` of the answered events in the
    ///   period that have one; `None` if none has.
    ///
    /// The queue name is not checked: an unknown queue has no events and
    /// gives zeros and `None`s.
    pub async fn queue_stats(
        &self,
        queue: &str,
        day_start: DateTime<Utc>,
        now: DateTime<Utc>,
        service_level: Duration,
    ) -> Result<QueueStats, StoreError> {
        // Waits are whole milliseconds, so "wait ≤ level" is "wait ≤ the
        // level's whole milliseconds"; a level beyond i64 admits every wait.
        let level_ms = i64::try_from(service_level.as_millis()).unwrap_or(i64::MAX);
        on_pool!(self, |pool| stats_from_row(
            &sqlx::query(STATS_SQL)
                .bind(queue)
                .bind(DbTime::new(day_start))
                .bind(DbTime::new(now))
                .bind(level_ms)
                .bind(QueueEventKind::Joined.as_str())
                .bind(QueueEventKind::Ringing.as_str())
                .bind(QueueEventKind::Position.as_str())
                .bind(QueueEventKind::Answered.as_str())
                .bind(QueueEventKind::Abandoned.as_str())
                .bind(QueueEventKind::Transferred.as_str())
                .fetch_one(pool)
                .await
                .map_err(query_err("compute queue statistics"))?,
            queue,
            now
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_text() {
        for k in QueueEventKind::ALL {
            assert_eq!(QueueEventKind::parse(k.as_str()), Some(*k));
        }
        assert_eq!(QueueEventKind::ALL.len(), 8);
        assert_eq!(QueueEventKind::Transferred.as_str(), "transferred");
        assert_eq!(QueueEventKind::parse("Joined"), None);
    }
}
