//! Group commit for the writes every call makes: its arrival, its answer,
//! the steps of its path, its queue events and its end.
//!
//! Each of those was a transaction of its own, and on SQLite (synchronous
//! FULL) each commit is an fsync. At a few hundred calls a second the
//! commits queued behind each other and a call's set-up waited for its
//! arrival's row longer than for anything else (`docs/BENCHMARKS-notes.md`).
//! Here one task takes every write waiting in the channel, applies them in
//! one transaction and commits once: under light load a batch is a single
//! write, as before; under heavy load the fsyncs no longer grow with the
//! call rate.
//!
//! Every write keeps its own outcome. If a statement of a batch fails (a
//! duplicate call id, an event for a call that is not there) the batch is
//! rolled back and each of its writes is done again alone, in order, so
//! one bad write costs the others only time. Writes are applied in the
//! order they were sent, so a producer that sends several without waiting
//! for each still sees them stored in its order.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::encoding::{Cols, DbTime, DbUuid};
use super::{
    Backend, BeginWrite, CallEnd, FinishedRecording, NewCall, NewQueueEvent, NewRecording,
    StoreError, insert_err, query_err, to_i64,
};

/// The most writes one transaction takes. A batch holds SQLite's write lock
/// while it runs; this bounds that to a few milliseconds.
const MAX_BATCH: usize = 256;

const INSERT_CALL_SQL: &str = "INSERT INTO calls \
    (id, sip_call_id, caller_raw, caller_e164, called_number, source, source_addr, \
     transport, arrived_at, direction) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
const CALL_ANSWER_SQL: &str = "UPDATE calls SET answered_at = $2, codec = $3 \
    WHERE id = $1 AND answered_at IS NULL";
const CALL_END_SQL: &str = "UPDATE calls \
    SET ended_at = $2, ended_by = $3, sip_status = $4, disposition = $5 \
    WHERE id = $1 AND ended_at IS NULL";
const INSERT_RECORDING_SQL: &str = "INSERT INTO recordings \
    (id, call_id, path, started_at, sample_rate, channels) \
    VALUES ($1, $2, $3, $4, $5, $6)";
const FINISH_RECORDING_SQL: &str = "UPDATE recordings \
    SET ended_at = $2, duration_ms = $3, size_bytes = $4 \
    WHERE id = $1 AND ended_at IS NULL";
const INSERT_EVENT_SQL: &str = "INSERT INTO call_events (call_id, at, kind, detail) \
    VALUES ($1, $2, $3, $4) RETURNING id";
const INSERT_QUEUE_EVENT_SQL: &str = "INSERT INTO queue_events \
    (at, queue, call_id, kind, operator_id, wait_ms, position, detail) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id";

/// One write, its values already checked (ranges, names) by the caller.
#[derive(Debug)]
pub(super) enum Write {
    Call(NewCall),
    Answered {
        id: Uuid,
        at: DateTime<Utc>,
        codec: String,
        recording: Option<RecordingRow>,
    },
    /// A recording's row alone (the answer usually brings it).
    Recording(RecordingRow),
    /// A recording's end alone (the call's end usually brings it).
    RecordingEnd(RecordingEnd),
    Event {
        call_id: Uuid,
        at: DateTime<Utc>,
        kind: String,
        detail: String,
    },
    QueueEvent {
        event: NewQueueEvent,
        wait_ms: Option<i64>,
        position: Option<i32>,
    },
    Finished {
        id: Uuid,
        end: CallEnd,
        recording: Option<RecordingEnd>,
    },
}

/// A recording's row, its sample rate in range for the column.
#[derive(Debug)]
pub(super) struct RecordingRow {
    rec: NewRecording,
    sample_rate: i32,
}

impl RecordingRow {
    pub(super) fn new(rec: &NewRecording) -> Result<RecordingRow, StoreError> {
        let sample_rate = i32::try_from(rec.sample_rate).map_err(|_| StoreError::OutOfRange {
            field: "sample_rate",
            value: u64::from(rec.sample_rate),
        })?;
        Ok(RecordingRow {
            rec: rec.clone(),
            sample_rate,
        })
    }
}

/// A recording's end, its duration and size in range for the columns.
#[derive(Debug)]
pub(super) struct RecordingEnd {
    end: FinishedRecording,
    duration_ms: i64,
    size_bytes: i64,
}

impl RecordingEnd {
    pub(super) fn new(end: FinishedRecording) -> Result<RecordingEnd, StoreError> {
        Ok(RecordingEnd {
            end,
            duration_ms: to_i64("duration_ms", end.duration_ms)?,
            size_bytes: to_i64("size_bytes", end.size_bytes)?,
        })
    }
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Applied {
    /// The new row's id where the table numbers its rows (events).
    pub id: Option<i64>,
    /// Rows its last statement changed: 0 for an answer or an end that
    /// came second (only the first counts).
    pub changed: u64,
}

impl Applied {
    fn changed(changed: u64) -> Applied {
        Applied { id: None, changed }
    }

    fn inserted(id: i64) -> Applied {
        Applied {
            id: Some(id),
            changed: 1,
        }
    }

    /// The id of the row the write added, for the tables that number their
    /// rows.
    pub(super) fn new_id(self, table: &'static str) -> Result<i64, StoreError> {
        self.id.ok_or_else(|| StoreError::Corrupt {
            table,
            column: "id",
            reason: "the insert returned no id".into(),
        })
    }
}

pub(super) type Outcome = Result<Applied, StoreError>;

#[derive(Debug)]
pub(super) struct Job {
    write: Write,
    reply: oneshot::Sender<Outcome>,
}

/// How many writes went through the batch writer, and in how many commits
/// (for `/metrics`: their ratio is the batch size).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteCounts {
    pub writes: u64,
    pub commits: u64,
}

#[derive(Debug, Default)]
struct Counters {
    writes: AtomicU64,
    commits: AtomicU64,
}

/// The sending side, held by every clone of the store.
#[derive(Debug, Clone)]
pub(super) struct Writer {
    jobs: mpsc::UnboundedSender<Job>,
    counters: Arc<Counters>,
}

impl Writer {
    /// Starts the task that commits the batches. It ends when the last
    /// sender is dropped (with the runtime, at the latest).
    pub(super) fn spawn(backend: Backend) -> Writer {
        let (jobs, rx) = mpsc::unbounded_channel();
        let counters = Arc::new(Counters::default());
        tokio::spawn(run(backend, rx, counters.clone()));
        Writer { jobs, counters }
    }

    pub(super) fn counts(&self) -> WriteCounts {
        WriteCounts {
            writes: self.counters.writes.load(Ordering::Relaxed),
            commits: self.counters.commits.load(Ordering::Relaxed),
        }
    }

    /// Hands `write` to the batch task and waits until it is committed (or
    /// has failed on its own).
    pub(super) async fn write(&self, write: Write) -> Outcome {
        let (reply, answer) = oneshot::channel();
        let gone = || StoreError::Query {
            op: "hand a write to the batch writer",
            source: sqlx::Error::PoolClosed,
        };
        self.jobs.send(Job { write, reply }).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

async fn run(backend: Backend, mut rx: mpsc::UnboundedReceiver<Job>, counters: Arc<Counters>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        // Counted before anyone hears back, so a writer that reads the
        // counts after its write sees it counted.
        counters
            .writes
            .fetch_add(jobs.len() as u64, Ordering::Relaxed);
        match &backend {
            Backend::Sqlite(pool) => commit!(pool, jobs, counters.commits),
            Backend::Postgres(pool) => commit!(pool, jobs, counters.commits),
        }
    }
}

/// Commits `$jobs` (drained) on `$pool`: all in one transaction, or, if
/// that fails, each alone; each commit is counted in `$commits` before the
/// replies go. A macro, like [`on_pool!`](super::on_pool), so the
/// statements are checked against both backends' types.
macro_rules! commit {
    ($pool:expr, $jobs:expr, $commits:expr) => {{
        let together = if $jobs.len() > 1 {
            async {
                let mut tx = $pool.begin_write().await.ok()?;
                let mut outcomes = Vec::with_capacity($jobs.len());
                for job in &$jobs {
                    outcomes.push(apply!(tx, &job.write).ok()?);
                }
                tx.commit().await.ok()?;
                Some(outcomes)
            }
            .await
        } else {
            None
        };
        match together {
            Some(outcomes) => {
                $commits.fetch_add(1, Ordering::Relaxed);
                for (job, outcome) in $jobs.drain(..).zip(outcomes) {
                    let _ = job.reply.send(Ok(outcome));
                }
            }
            None => {
                for job in $jobs.drain(..) {
                    let outcome = async {
                        let mut tx = $pool
                            .begin_write()
                            .await
                            .map_err(query_err("start a write"))?;
                        let outcome = apply!(tx, &job.write)?;
                        tx.commit().await.map_err(query_err("commit a write"))?;
                        $commits.fetch_add(1, Ordering::Relaxed);
                        Ok(outcome)
                    }
                    .await;
                    let _ = job.reply.send(outcome);
                }
            }
        }
    }};
}
use commit;

/// Inserts a [`RecordingRow`] inside the transaction `$tx`.
macro_rules! insert_recording {
    ($tx:ident, $row:expr) => {{
        let RecordingRow { rec, sample_rate } = $row;
        sqlx::query(INSERT_RECORDING_SQL)
            .bind(DbUuid(rec.id))
            .bind(DbUuid(rec.call_id))
            .bind(&rec.path)
            .bind(DbTime::new(rec.started_at))
            .bind(*sample_rate)
            .bind(i32::from(rec.channels))
            .execute(&mut *$tx)
            .await
            .map(|r| Applied::changed(r.rows_affected()))
            .map_err(insert_err(
                "insert a recording",
                Some(("recording", rec.id)),
                Some(("call", rec.call_id)),
            ))
    }};
}
use insert_recording;

/// Stores a [`RecordingEnd`] inside the transaction `$tx` (only the first
/// end counts).
macro_rules! finish_recording {
    ($tx:ident, $end:expr) => {{
        let RecordingEnd {
            end,
            duration_ms,
            size_bytes,
        } = $end;
        sqlx::query(FINISH_RECORDING_SQL)
            .bind(DbUuid(end.id))
            .bind(DbTime::new(end.ended_at))
            .bind(*duration_ms)
            .bind(*size_bytes)
            .execute(&mut *$tx)
            .await
            .map(|r| Applied::changed(r.rows_affected()))
            .map_err(query_err("finish a recording"))
    }};
}
use finish_recording;

/// Applies one write inside the transaction `$tx`.
macro_rules! apply {
    ($tx:ident, $write:expr) => {
        async {
            match $write {
                Write::Call(call) => sqlx::query(INSERT_CALL_SQL)
                    .bind(DbUuid(call.id))
                    .bind(&call.sip_call_id)
                    .bind(&call.caller_raw)
                    .bind(call.caller_e164.as_deref())
                    .bind(&call.called_number)
                    .bind(&call.source)
                    .bind(call.source_addr.to_string())
                    .bind(call.transport.as_str())
                    .bind(DbTime::new(call.arrived_at))
                    .bind(call.direction.as_str())
                    .execute(&mut *$tx)
                    .await
                    .map(|r| Applied::changed(r.rows_affected()))
                    .map_err(insert_err("insert a call", Some(("call", call.id)), None)),
                Write::Answered {
                    id,
                    at,
                    codec,
                    recording,
                } => {
                    let answered = sqlx::query(CALL_ANSWER_SQL)
                        .bind(DbUuid(*id))
                        .bind(DbTime::new(*at))
                        .bind(codec)
                        .execute(&mut *$tx)
                        .await
                        .map_err(query_err("mark a call answered"))?;
                    if let Some(row) = recording {
                        insert_recording!($tx, row)?;
                    }
                    Ok(Applied::changed(answered.rows_affected()))
                }
                Write::Recording(row) => insert_recording!($tx, row),
                Write::RecordingEnd(end) => finish_recording!($tx, end),
                Write::Event {
                    call_id,
                    at,
                    kind,
                    detail,
                } => sqlx::query(INSERT_EVENT_SQL)
                    .bind(DbUuid(*call_id))
                    .bind(DbTime::new(*at))
                    .bind(kind)
                    .bind(detail)
                    .fetch_one(&mut *$tx)
                    .await
                    .map_err(insert_err(
                        "add a call event",
                        None,
                        Some(("call", *call_id)),
                    ))
                    .and_then(|row| Cols::new(&row, "call_events").get::<i64>("id"))
                    .map(Applied::inserted),
                Write::QueueEvent {
                    event: e,
                    wait_ms,
                    position,
                } => sqlx::query(INSERT_QUEUE_EVENT_SQL)
                    .bind(DbTime::new(e.at))
                    .bind(&e.queue)
                    .bind(DbUuid(e.call_id))
                    .bind(e.kind.as_str())
                    .bind(e.operator_id.map(DbUuid))
                    .bind(*wait_ms)
                    .bind(*position)
                    .bind(e.detail.as_deref())
                    .fetch_one(&mut *$tx)
                    .await
                    // Told apart by the caller, which asks which parent is
                    // missing (`queue_event_insert_err`).
                    .map_err(query_err("add a queue event"))
                    .and_then(|row| Cols::new(&row, "queue_events").get::<i64>("id"))
                    .map(Applied::inserted),
                Write::Finished { id, end, recording } => {
                    if let Some(r) = recording {
                        finish_recording!($tx, r)?;
                    }
                    sqlx::query(CALL_END_SQL)
                        .bind(DbUuid(*id))
                        .bind(DbTime::new(end.at))
                        .bind(end.ended_by.as_str())
                        .bind(end.sip_status.map(i32::from))
                        .bind(end.disposition.as_str())
                        .execute(&mut *$tx)
                        .await
                        .map(|r| Applied::changed(r.rows_affected()))
                        .map_err(query_err("mark a call ended"))
                }
            }
        }
        .await
    };
}
use apply;
