//! Calls and what happened in them: a call's row from its arrival to its
//! end and its events (digits, IVR steps, queue steps, hold…), most of
//! them written through the group commit ([`super::batch`]); and the calls
//! an operator took, for their own controls and for who may hear what.

use std::net::SocketAddr;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::batch::{RecordingEnd, RecordingRow, Write};
use super::encoding::{Cols, DbTime, DbUuid, StoreRow};
use super::recordings::{FinishedRecording, NewRecording};
use super::{Store, StoreError, decode_all, query_err};

text_enum! {
    /// Transport the call's signalling arrived on.
    Transport {
        Udp => "udp",
        Tcp => "tcp",
    }
}

text_enum! {
    /// Whether the call came to us or we placed it (a verification
    /// call-back): for an outbound call `caller_raw` is our caller ID and
    /// `called_number` the citizen's.
    Direction {
        Inbound => "inbound",
        Outbound => "outbound",
    }
}

text_enum! {
    /// Who or what ended a call.
    EndedBy {
        /// The caller hung up (BYE or CANCEL from the caller's side).
        Caller => "caller",
        /// We ended it on purpose (IVR finished, rejected, transfer done...).
        Server => "server",
        /// The operator the caller talked to hung up.
        Operator => "operator",
        /// A timer ended it (no media, no ACK, maximum duration...).
        Timeout => "timeout",
        /// The server stopped with the call up.
        Shutdown => "shutdown",
        /// The server crashed with the call up: its end is the last moment
        /// known of it (its recording's last write, its last event).
        Crash => "crash",
    }
}

text_enum! {
    /// How a call turned out.
    Disposition {
        /// It was answered (whatever happened afterwards).
        Answered => "answered",
        /// The caller gave up before it was answered.
        Cancelled => "cancelled",
        /// We refused it with a final error status.
        Rejected => "rejected",
        /// It broke on our side or the network's before it was answered.
        Failed => "failed",
        /// It was answered, then media stopped arriving and we ended it.
        MediaTimeout => "media_timeout",
        /// The caller's number is blocked (or withheld, by policy): refused
        /// with 403, or told so and hung up.
        Blocked => "blocked",
        /// A call we placed found the line busy (486, 600).
        Busy => "busy",
        /// A call we placed rang out unanswered (or was declined, 603).
        NoAnswer => "no_answer",
    }
}

/// A call as it is first recorded, when its INVITE arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCall {
    /// Our own id for the call (not the SIP Call-ID).
    pub id: Uuid,
    /// The SIP Call-ID header, as received.
    pub sip_call_id: String,
    /// The caller as received (From user part or whole URI), before any
    /// normalisation.
    pub caller_raw: String,
    /// The caller normalised to E.164, when that was possible.
    pub caller_e164: Option<String>,
    /// The number that was dialled.
    pub called_number: String,
    /// Name of the configured peer or trunk the call came from.
    pub source: String,
    /// Address the INVITE came from.
    pub source_addr: SocketAddr,
    pub transport: Transport,
    pub arrived_at: DateTime<Utc>,
    pub direction: Direction,
}

/// How a call ended; see [`Store::mark_call_ended`](super::Store::mark_call_ended).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallEnd {
    pub at: DateTime<Utc>,
    pub ended_by: EndedBy,
    /// Final SIP status we sent for the INVITE, when we know it.
    pub sip_status: Option<u16>,
    pub disposition: Disposition,
}

/// A call as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    pub id: Uuid,
    pub sip_call_id: String,
    pub caller_raw: String,
    pub caller_e164: Option<String>,
    pub called_number: String,
    pub source: String,
    pub source_addr: SocketAddr,
    pub transport: Transport,
    pub arrived_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub ended_by: Option<EndedBy>,
    pub sip_status: Option<u16>,
    pub disposition: Option<Disposition>,
    /// Codec agreed at answer time (e.g. "PCMA/8000").
    pub codec: Option<String>,
    pub direction: Direction,
}

/// Something that happened during a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallEvent {
    /// Increases with every event stored, so it orders events that share a
    /// timestamp.
    pub id: i64,
    pub call_id: Uuid,
    pub at: DateTime<Utc>,
    /// What happened: "dtmf", "reinvite", "hold", "unhold", "ivr"... Free
    /// text, so new kinds need no migration.
    pub kind: String,
    /// Details for the kind (the digit, the new SDP summary...).
    pub detail: String,
}

/// Columns of `calls`, in the order [`call_from_row`] expects by name.
macro_rules! call_columns {
    () => {
        "id, sip_call_id, caller_raw, caller_e164, called_number, source, source_addr, \
         transport, arrived_at, answered_at, ended_at, ended_by, sip_status, disposition, codec, \
         direction"
    };
}

macro_rules! event_columns {
    () => {
        "id, call_id, at, kind, detail"
    };
}

pub(super) fn call_from_row(row: &impl StoreRow) -> Result<CallRecord, StoreError> {
    let c = Cols::new(row, "calls");
    Ok(CallRecord {
        id: c.uuid("id")?,
        sip_call_id: c.get("sip_call_id")?,
        caller_raw: c.get("caller_raw")?,
        caller_e164: c.get("caller_e164")?,
        called_number: c.get("called_number")?,
        source: c.get("source")?,
        source_addr: c.parsed("source_addr", |s| s.parse().ok())?,
        transport: c.parsed("transport", Transport::parse)?,
        arrived_at: c.time("arrived_at")?,
        answered_at: c.opt_time("answered_at")?,
        ended_at: c.opt_time("ended_at")?,
        ended_by: c.opt_parsed("ended_by", EndedBy::parse)?,
        sip_status: c.opt_int::<i32, u16>("sip_status")?,
        disposition: c.opt_parsed("disposition", Disposition::parse)?,
        codec: c.get("codec")?,
        direction: c.parsed("direction", Direction::parse)?,
    })
}

fn event_from_row(row: &impl StoreRow) -> Result<CallEvent, StoreError> {
    let c = Cols::new(row, "call_events");
    Ok(CallEvent {
        id: c.get("id")?,
        call_id: c.uuid("call_id")?,
        at: c.time("at")?,
        kind: c.get("kind")?,
        detail: c.get("detail")?,
    })
}

impl Store {
    /// Records a call that has just arrived.
    /// Fails with `AlreadyExists` if a call with the same id is stored.
    pub async fn insert_call(&self, call: &NewCall) -> Result<(), StoreError> {
        self.writer.write(Write::Call(call.clone())).await.map(drop)
    }

    /// Records that the call was answered, with the agreed codec.
    /// Only the first answer counts: returns `false` (changing nothing) if
    /// the call was already marked answered. `NotFound` if there is no such
    /// call.
    pub async fn mark_call_answered(
        &self,
        id: Uuid,
        at: DateTime<Utc>,
        codec: &str,
    ) -> Result<bool, StoreError> {
        let write = Write::Answered {
            id,
            at,
            codec: codec.to_owned(),
            recording: None,
        };
        self.first_of(id, write).await
    }

    /// The answer and the recording's row in one transaction: one commit
    /// (on SQLite one `fsync`) at every answer instead of two. As
    /// [`Self::mark_call_answered`], a second answer changes nothing.
    pub async fn call_answered(
        &self,
        id: Uuid,
        at: DateTime<Utc>,
        codec: &str,
        recording: Option<&NewRecording>,
    ) -> Result<(), StoreError> {
        let recording = recording.map(RecordingRow::new).transpose()?;
        let write = Write::Answered {
            id,
            at,
            codec: codec.to_owned(),
            recording,
        };
        self.writer.write(write).await.map(drop)
    }

    /// The recording's end (if the call had one) and the call's, in one
    /// transaction: one commit at every hang-up instead of two. As the
    /// single updates, only the first end of each counts.
    pub async fn call_finished(
        &self,
        id: Uuid,
        end: CallEnd,
        recording: Option<FinishedRecording>,
    ) -> Result<(), StoreError> {
        let recording = recording.map(RecordingEnd::new).transpose()?;
        let write = Write::Finished { id, end, recording };
        self.writer.write(write).await.map(drop)
    }

    /// Records how the call ended. Idempotent: only the first end counts, so
    /// a BYE racing a timeout or shutdown cannot overwrite the real outcome;
    /// returns `false` (changing nothing) if the call had already ended.
    /// `NotFound` if there is no such call.
    pub async fn mark_call_ended(&self, id: Uuid, end: CallEnd) -> Result<bool, StoreError> {
        let write = Write::Finished {
            id,
            end,
            recording: None,
        };
        self.first_of(id, write).await
    }

    /// Makes `write` (an answer or an end of call `id`): `true` if it was
    /// the first, `false` if one was already stored, `NotFound` if there
    /// is no such call.
    async fn first_of(&self, id: Uuid, write: Write) -> Result<bool, StoreError> {
        let changed = self.writer.write(write).await?.changed;
        if changed == 0 {
            self.require_call(id).await?;
        }
        Ok(changed > 0)
    }

    /// `Ok` if the call exists, `NotFound` otherwise. Used after an update
    /// that changed nothing, to tell "already done" from "no such call".
    async fn require_call(&self, id: Uuid) -> Result<(), StoreError> {
        const SQL: &str = "SELECT 1 FROM calls WHERE id = $1";
        if self.exists(SQL, id, "look up a call").await? {
            Ok(())
        } else {
            Err(StoreError::NotFound { what: "call", id })
        }
    }

    pub async fn get_call(&self, id: Uuid) -> Result<Option<CallRecord>, StoreError> {
        const SQL: &str = concat!("SELECT ", call_columns!(), " FROM calls WHERE id = $1");
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(DbUuid(id))
            .fetch_optional(pool)
            .await
            .map_err(query_err("read a call"))?
            .map(|row| call_from_row(&row))
            .transpose())
    }

    /// The `limit` most recent calls by arrival, newest first.
    pub async fn list_calls(&self, limit: u32) -> Result<Vec<CallRecord>, StoreError> {
        // id breaks ties so the order is stable between requests.
        const SQL: &str = concat!(
            "SELECT ",
            call_columns!(),
            " FROM calls ORDER BY arrived_at DESC, id DESC LIMIT $1"
        );
        on_pool!(self, |pool| decode_all(
            sqlx::query(SQL)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
                .map_err(query_err("list calls"))?,
            call_from_row
        ))
    }

    /// Calls that never ended (after a crash, those the server was handling),
    /// oldest first.
    pub async fn unfinished_calls(&self) -> Result<Vec<CallRecord>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            call_columns!(),
            " FROM calls WHERE ended_at IS NULL ORDER BY arrived_at, id"
        );
        on_pool!(self, |pool| decode_all(
            sqlx::query(SQL)
                .fetch_all(pool)
                .await
                .map_err(query_err("list unfinished calls"))?,
            call_from_row
        ))
    }

    /// Ends every call a crash left open (meant for start-up, before any
    /// new call is taken, and after the unfinished recordings are
    /// completed): at the last moment known of it (its recordings' ends,
    /// its last event, its answer, its arrival; never later than `now`),
    /// `ended_by = crash`, answered if it was, else failed. Returns how many
    /// calls it closed.
    pub async fn close_calls_after_crash(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        const SQL: &str = "UPDATE calls SET ended_at = $1, ended_by = $2, disposition = $3 \
            WHERE id = $4 AND ended_at IS NULL";
        let mut closed = 0;
        for call in self.unfinished_calls().await? {
            let recordings = self.recordings_for_call(call.id).await?;
            let events = self.call_events(call.id).await?;
            let last = [Some(call.arrived_at), call.answered_at]
                .into_iter()
                .flatten()
                .chain(recordings.iter().filter_map(|r| r.ended_at))
                .chain(events.iter().map(|e| e.at))
                .max()
                .unwrap_or(now)
                .min(now);
            let disposition = match call.answered_at {
                Some(_) => Disposition::Answered,
                None => Disposition::Failed,
            };
            closed += on_pool!(self, |pool| sqlx::query(SQL)
                .bind(DbTime::new(last))
                .bind(EndedBy::Crash.as_str())
                .bind(disposition.as_str())
                .bind(DbUuid(call.id))
                .execute(pool)
                .await
                .map(|r| r.rows_affected()))
            .map_err(query_err("close a call left open by a crash"))?;
        }
        Ok(closed)
    }

    /// Records an event of a call; returns the event's id.
    /// `NotFound` if there is no such call.
    pub async fn add_call_event(
        &self,
        call_id: Uuid,
        at: DateTime<Utc>,
        kind: &str,
        detail: &str,
    ) -> Result<i64, StoreError> {
        let write = Write::Event {
            call_id,
            at,
            kind: kind.to_owned(),
            detail: detail.to_owned(),
        };
        self.writer.write(write).await?.new_id("call_events")
    }

    /// Events of a call in the order they happened (by time, then by the
    /// order they were stored). Empty if there is no such call.
    pub async fn call_events(&self, call_id: Uuid) -> Result<Vec<CallEvent>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            event_columns!(),
            " FROM call_events WHERE call_id = $1 ORDER BY at, id"
        );
        on_pool!(self, |pool| decode_all(
            sqlx::query(SQL)
                .bind(DbUuid(call_id))
                .fetch_all(pool)
                .await
                .map_err(query_err("read call events"))?,
            event_from_row
        ))
    }
}

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
            c.ended_at, c.ended_by, c.sip_status, c.disposition, c.codec, c.direction, \
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
