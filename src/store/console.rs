//! What the operator's own controls read: the calls they took today, and
//! whether they took a given call. ("End call and block caller" writes to
//! the block list, `blocking`.)

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::encoding::{Cols, DbTime, DbUuid};
use super::model::CallRecord;
use super::{Backend, Store, StoreError, call_from_row, decode_all, query_err};

/// A call an operator answered, with its queue step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakenCall {
    pub call: CallRecord,
    pub queue: String,
    pub answered_at: DateTime<Utc>,
    pub waited_ms: Option<u64>,
}

impl Store {
    /// The calls the operator answered from a queue since `since`, newest
    /// first.
    pub async fn calls_taken_by(
        &self,
        operator_id: Uuid,
        since: DateTime<Utc>,
    ) -> Result<Vec<TakenCall>, StoreError> {
        const SQL: &str = "SELECT c.id, c.sip_call_id, c.caller_raw, c.caller_e164, \
            c.called_number, c.source, c.source_addr, c.transport, c.arrived_at, c.answered_at, \
            c.ended_at, c.ended_by, c.sip_status, c.disposition, c.codec, \
            e.queue, e.at AS taken_at, e.wait_ms \
            FROM queue_events e JOIN calls c ON c.id = e.call_id \
            WHERE e.kind = 'answered' AND e.operator_id = $1 AND e.at >= $2 \
            ORDER BY e.at DESC, e.id DESC";
        on_pool!(self, |pool| decode_all(
            sqlx::query(SQL)
                .bind(DbUuid(operator_id))
                .bind(DbTime::new(since))
                .fetch_all(pool)
                .await
                .map_err(query_err("list an operator's calls"))?,
            |row| {
                let e = Cols::new(row, "queue_events");
                Ok(TakenCall {
                    call: call_from_row(row)?,
                    queue: e.get("queue")?,
                    answered_at: e.time("taken_at")?,
                    waited_ms: e.get::<Option<i64>>("wait_ms")?.map(|ms| ms.max(0) as u64),
                })
            }
        ))
    }

    /// Whether the operator answered this call (from a queue).
    pub async fn operator_took_call(
        &self,
        operator_id: Uuid,
        call_id: Uuid,
    ) -> Result<bool, StoreError> {
        const SQL: &str = "SELECT 1 FROM queue_events \
            WHERE call_id = $1 AND operator_id = $2 AND kind = 'answered' LIMIT 1";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(DbUuid(call_id))
            .bind(DbUuid(operator_id))
            .fetch_optional(pool)
            .await
            .map(|row| row.is_some())
            .map_err(query_err("check who took a call")))
    }
}
