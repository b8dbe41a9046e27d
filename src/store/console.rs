//! What the operator's own controls read and write: the calls they took
//! today, and "end call and block caller" requests (the block list itself
//! comes with the recordings issue; until then the request is kept).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::encoding::{Cols, DbTime, DbUuid};
use super::model::CallRecord;
use super::{Backend, Store, StoreError, call_from_row, decode_all, insert_err, query_err};

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

    /// Records a request to block the caller of `call_id`; returns its id.
    /// `NotFound` for an unknown call, `Invalid` for a blank reason.
    pub async fn request_block(
        &self,
        call_id: Uuid,
        requested_by: Option<Uuid>,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        const SQL: &str = "INSERT INTO block_requests (call_id, caller, requested_by, at, reason) \
            SELECT id, COALESCE(caller_e164, caller_raw), $2, $3, $4 FROM calls WHERE id = $1 \
            RETURNING id";
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 500 {
            return Err(StoreError::Invalid {
                field: "reason",
                reason: "must be 1 to 500 characters".into(),
            });
        }
        let id: Option<i64> = on_pool!(self, |pool| sqlx::query_scalar(SQL)
            .bind(DbUuid(call_id))
            .bind(requested_by.map(DbUuid))
            .bind(DbTime::new(at))
            .bind(reason)
            .fetch_optional(pool)
            .await
            .map_err(insert_err("request a block", None, None)))?;
        id.ok_or(StoreError::NotFound {
            what: "call",
            id: call_id,
        })
    }

    /// The block requests of a call, oldest first: (id, caller, reason).
    pub async fn block_requests(
        &self,
        call_id: Uuid,
    ) -> Result<Vec<(i64, String, String)>, StoreError> {
        const SQL: &str =
            "SELECT id, caller, reason FROM block_requests WHERE call_id = $1 ORDER BY id";
        on_pool!(self, |pool| decode_all(
            sqlx::query(SQL)
                .bind(DbUuid(call_id))
                .fetch_all(pool)
                .await
                .map_err(query_err("list block requests"))?,
            |row| {
                let c = Cols::new(row, "block_requests");
                Ok((c.get("id")?, c.get("caller")?, c.get("reason")?))
            }
        ))
    }
}
