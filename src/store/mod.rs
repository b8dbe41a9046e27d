//! Persistent store: call history, per-call events and recording metadata;
//! appeals (the citizens' registered cards) and repair works (outages), which
//! the IVR reads and the operator card writes; operators, their queues,
//! credentials and state history ([`operators`]); queue events and the
//! queue statistics computed from them ([`queues`]).
//!
//! Role: the one place that reads and writes the database. It talks to
//! nothing on the network but that database, and knows nothing about SIP:
//! callers hand it plain values (numbers as text, statuses as integers) and
//! get the same values back.
//!
//! Backends: SQLite is the embedded default (`sqlite://hotline.db`; the file,
//! and its directory, are created and migrated on first start, so a fresh
//! install needs no set-up). PostgreSQL (`postgres://...`) serves larger
//! deployments. Both run the same SQL: it is written once with `$N`
//! placeholders, which PostgreSQL and sqlx's SQLite driver both bind by
//! number, and [`on_pool!`] expands each query's code once per backend so the
//! compiler checks every bind and decode against both. Where the backends'
//! column types differ (UUIDs, timestamps) the wrappers in [`encoding`] hide
//! it. Migrations live in `migrations/sqlite` and `migrations/postgres` (same
//! numbering and meaning) and are embedded in the binary and run at connect.
//!
//! Timestamps are stored with microsecond precision on both backends (see
//! [`storage_precision`]).
//!
//! Text comparisons that must fold case (a caller's address against the
//! streets of repair works) are done in Rust, in [`address`]: SQLite's
//! `lower()` folds ASCII only, so it would disagree with PostgreSQL on
//! Ukrainian text.

mod address;
pub mod demo;
mod encoding;
mod model;
pub mod testing;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use uuid::Uuid;

pub use batch::WriteCounts;
use batch::{RecordingEnd, RecordingRow, Write};
pub use cards::{
    AppealCard, AppealDetail, Attachment, Channel, FieldError, LinkedCall, RegisterError,
    registration_number,
};
pub use classifier::{CategoryRecord, ClassifierVersion, ExecutorRecord, ImportOutcome};
pub use encoding::storage_precision;
use encoding::{Cols, DbTime, DbUuid, StoreRow};
pub use model::{
    AppealRecord, AppealStatus, CallEnd, CallEvent, CallRecord, Disposition, EndedBy,
    FinishedRecording, NewAppeal, NewCall, NewRecording, NewRepairWork, RecordingRecord,
    RepairWork, Service, Transport, WorkAddress, WorkKind, WorkStatus,
};
pub use operators::{NewOperator, Operator, OperatorState, QueueMembership, StateChange};
pub use queues::{NewQueueEvent, QueueEvent, QueueEventKind, QueueStats};
pub use users::{NewSession, NewUser, Role, Session, SessionLimits, User};

/// Migrations embedded at build time. Paths are relative to the crate root.
/// Note: cargo does not rebuild when only a migration file changes; a build
/// script printing `cargo:rerun-if-changed=migrations` fixes that.
static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

/// How long an SQLite connection waits for another connection's write lock
/// before giving up. Writes here are single short statements, so waiting
/// this long means something is stuck rather than merely busy.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// SQLite serialises writers anyway; a few connections let reads (history
/// views) proceed alongside a write, which WAL mode allows.
const SQLITE_MAX_CONNECTIONS: u32 = 4;
const POSTGRES_MAX_CONNECTIONS: u32 = 10;
/// How long an operation waits for a free pooled connection (or for the
/// first connection to a server) before failing.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL is not `sqlite:...` or `postgres(ql)://...`, or does not parse.
    /// The URL is shown with any password removed.
    #[error("invalid database URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },

    #[error("cannot open the {backend} database: {source}")]
    Connect {
        backend: &'static str,
        #[source]
        source: sqlx::Error,
    },

    #[error("cannot migrate the database schema: {0}")]
    Migrate(#[from] MigrateError),

    /// The call, recording... with this id does not exist.
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: Uuid },

    /// A call, recording... with this id already exists, or another unique
    /// value is taken: `key` is the id, or the value (e.g. `what` =
    /// "appeal registration number", `key` = "1580-2026-000123").
    #[error("{what} {key} already exists")]
    AlreadyExists { what: &'static str, key: String },

    /// A value given to the store breaks its rules (a login with spaces, a
    /// short password...); nothing was written. `reason` never contains a
    /// password.
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },

    /// Hashing a password failed (or its task was cancelled at shutdown).
    #[error("cannot hash the password: {0}")]
    PasswordHashing(String),

    /// A value does not fit its column (e.g. a size above `i64::MAX`).
    #[error("{field} out of range: {value}")]
    OutOfRange { field: &'static str, value: u64 },

    /// A stored row cannot be turned back into a record: an unknown enum
    /// text, an impossible number, a column of the wrong type...
    #[error("corrupt data in {table}.{column}: {reason}")]
    Corrupt {
        table: &'static str,
        column: &'static str,
        reason: String,
    },

    /// Any other database failure.
    #[error("database error while trying to {op}: {source}")]
    Query {
        op: &'static str,
        #[source]
        source: sqlx::Error,
    },
}

/// Builds the error for a failed statement; `op` says what we were doing.
fn query_err(op: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Query { op, source }
}

/// Like [`query_err`] for inserts, turning constraint violations into the
/// domain's errors: a duplicate primary key is `AlreadyExists` for `dup`, a
/// missing parent row is `NotFound` for `parent` (each `(what, id)`; `None`
/// where the table has no such constraint).
fn insert_err(
    op: &'static str,
    dup: Option<(&'static str, Uuid)>,
    parent: Option<(&'static str, Uuid)>,
) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| {
        let (unique, foreign) = match source.as_database_error() {
            Some(e) => (e.is_unique_violation(), e.is_foreign_key_violation()),
            None => (false, false),
        };
        match (dup, parent) {
            (Some((what, id)), _) if unique => StoreError::AlreadyExists {
                what,
                key: id.to_string(),
            },
            (_, Some((what, id))) if foreign => StoreError::NotFound { what, id },
            _ => StoreError::Query { op, source },
        }
    }
}

fn to_i64(field: &'static str, value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::OutOfRange { field, value })
}

/// Removes the password from a URL so it can go into errors and logs.
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    // Userinfo ends at the last '@' before the path ('@' inside a password
    // should be percent-encoded, but be generous anyway).
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***{}", &rest[at..]),
        None => url.to_owned(),
    }
}

/// The database behind a [`Store`].
#[derive(Debug, Clone)]
enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same code against whichever pool backs `$store`: the body is
/// expanded once per backend with `$pool` bound to that backend's pool, so
/// it must evaluate to the same type in both (map backend-specific results,
/// such as query results or rows, inside the body).
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.backend {
            Backend::Sqlite($pool) => $body,
            Backend::Postgres($pool) => $body,
        }
    };
}

/// A transaction that will write. On SQLite it takes the write lock at
/// once (`BEGIN IMMEDIATE`): a transaction that reads first and writes
/// later would otherwise fail at once ("database is locked") when another
/// writer holds the lock, instead of waiting its turn.
trait BeginWrite {
    type Db: sqlx::Database;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>;
}

impl BeginWrite for SqlitePool {
    type Db = sqlx::Sqlite;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl BeginWrite for PgPool {
    type Db = sqlx::Postgres;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.begin().await
    }
}

// Declared after `on_pool!`, which they use (macro_rules scope is textual).
mod batch;
pub mod blocking;
pub mod cards;
pub mod classifier;
pub mod console;
pub mod operators;
pub mod queues;
pub mod recordings;
pub mod retention;
pub mod users;

/// Handle on the database. Cloning is cheap and shares the connection pool.
#[derive(Debug, Clone)]
pub struct Store {
    backend: Backend,
    /// The hot writes (a call's arrival, answer, path, queue events and
    /// end), committed in groups: see [`batch`].
    writer: batch::Writer,
}

/// Columns of `calls`, in the order [`call_from_row`] expects by name.
macro_rules! call_columns {
    () => {
        "id, sip_call_id, caller_raw, caller_e164, called_number, source, source_addr, \
         transport, arrived_at, answered_at, ended_at, ended_by, sip_status, disposition, codec"
    };
}

macro_rules! event_columns {
    () => {
        "id, call_id, at, kind, detail"
    };
}

macro_rules! recording_columns {
    () => {
        "id, call_id, path, started_at, ended_at, duration_ms, size_bytes, sample_rate, channels, \
         purged_at"
    };
}

macro_rules! appeal_columns {
    () => {
        "id, registration_number, status, category, executor, deadline, caller_phone, address, \
         created_at, call_id"
    };
}

/// A repair work joined with its addresses: one row per address (one row
/// with NULL street if it has none). Callers order by work, then
/// `a.ordinal`, for [`works_from_rows`].
macro_rules! repair_work_select {
    () => {
        "SELECT w.id, w.kind, w.service, w.description, w.starts_at, w.expected_end, \
         w.ended_at, w.status, w.created_at, a.street, a.house \
         FROM repair_works w LEFT JOIN repair_work_addresses a ON a.work_id = w.id"
    };
}

fn call_from_row(row: &impl StoreRow) -> Result<CallRecord, StoreError> {
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

fn recording_from_row(row: &impl StoreRow) -> Result<RecordingRecord, StoreError> {
    let c = Cols::new(row, "recordings");
    Ok(RecordingRecord {
        id: c.uuid("id")?,
        call_id: c.uuid("call_id")?,
        path: c.get("path")?,
        started_at: c.time("started_at")?,
        ended_at: c.opt_time("ended_at")?,
        duration_ms: c.opt_int::<i64, u64>("duration_ms")?,
        size_bytes: c.opt_int::<i64, u64>("size_bytes")?,
        sample_rate: c.int::<i32, u32>("sample_rate")?,
        channels: c.int::<i32, u16>("channels")?,
        purged_at: c.opt_time("purged_at")?,
    })
}

fn appeal_from_row(row: &impl StoreRow) -> Result<AppealRecord, StoreError> {
    let c = Cols::new(row, "appeals");
    Ok(AppealRecord {
        id: c.uuid("id")?,
        registration_number: c.get("registration_number")?,
        status: c.parsed("status", AppealStatus::parse)?,
        category: c.get("category")?,
        executor: c.get("executor")?,
        deadline: c.time("deadline")?,
        caller_phone: c.get("caller_phone")?,
        address: c.get("address")?,
        created_at: c.time("created_at")?,
        call_id: c.opt_uuid("call_id")?,
    })
}

/// Groups rows of [`repair_work_select!`] into works, each with its
/// addresses in order. Rows of one work must be adjacent.
fn works_from_rows(rows: &[impl StoreRow]) -> Result<Vec<RepairWork>, StoreError> {
    let mut works: Vec<RepairWork> = Vec::new();
    for row in rows {
        let w = Cols::new(row, "repair_works");
        let id = w.uuid("id")?;
        if works.last().is_none_or(|last| last.id != id) {
            works.push(RepairWork {
                id,
                kind: w.parsed("kind", WorkKind::parse)?,
                service: w.parsed("service", Service::parse)?,
                description: w.get("description")?,
                starts_at: w.time("starts_at")?,
                expected_end: w.time("expected_end")?,
                ended_at: w.opt_time("ended_at")?,
                status: w.parsed("status", WorkStatus::parse)?,
                created_at: w.time("created_at")?,
                addresses: Vec::new(),
            });
        }
        let a = Cols::new(row, "repair_work_addresses");
        // NULL street: the LEFT JOIN found no address (streets are NOT NULL).
        if let (Some(street), Some(work)) = (a.get::<Option<String>>("street")?, works.last_mut()) {
            work.addresses.push(WorkAddress {
                street,
                house: a.get("house")?,
            });
        }
    }
    Ok(works)
}

/// The digits of a registration number, which is what a caller types:
/// "1580-2026-000123" -> "15802026000123". Stored beside the number, so a
/// lookup by digits is one indexed equality on either backend.
fn registration_digits(number: &str) -> String {
    number.chars().filter(char::is_ascii_digit).collect()
}

/// Decodes every row with `f`, stopping at the first corrupt one.
fn decode_all<R, T>(
    rows: Vec<R>,
    f: impl Fn(&R) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    rows.iter().map(f).collect()
}

impl Store {
    /// Opens (creating and migrating if needed) the database at `url`:
    /// `sqlite://path/to/file.db`, `sqlite::memory:` or
    /// `postgres://user@host:port/db`. Migrations already applied are
    /// skipped, so connecting again is harmless.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite(connect_sqlite(url).await?)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres(connect_postgres(url).await?)
        } else {
            return Err(StoreError::InvalidUrl {
                url: redact_url(url),
                reason: "expected sqlite:... or postgres://...".into(),
            });
        };
        let writer = batch::Writer::spawn(backend.clone());
        let store = Store { backend, writer };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(pool) => SQLITE_MIGRATOR.run(pool).await?,
            Backend::Postgres(pool) => POSTGRES_MIGRATOR.run(pool).await?,
        }
        Ok(())
    }

    /// Writes made through the group commit ([`batch`]) so far, and the
    /// commits they took.
    pub fn write_counts(&self) -> WriteCounts {
        self.writer.counts()
    }

    /// "sqlite" or "postgres", for logs and the status page.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Closes every connection, waiting for operations in flight. Call at
    /// shutdown so SQLite can checkpoint its WAL into the main file.
    pub async fn close(&self) {
        on_pool!(self, |pool| pool.close().await)
    }

    // --- calls --------------------------------------------------------------

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

    /// Ends every unfinished call at `at` with `disposition` and
    /// `ended_by = shutdown` (no final SIP status is known). Meant for
    /// start-up, before any new call is taken, to close what a crash left
    /// open. Returns how many calls it closed.
    pub async fn close_unfinished_calls(
        &self,
        at: DateTime<Utc>,
        disposition: Disposition,
    ) -> Result<u64, StoreError> {
        const SQL: &str = "UPDATE calls SET ended_at = $1, ended_by = $2, disposition = $3 \
            WHERE ended_at IS NULL";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(DbTime::new(at))
            .bind(EndedBy::Shutdown.as_str())
            .bind(disposition.as_str())
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(query_err("close unfinished calls"))
    }

    // --- call events ----------------------------------------------------------

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

    // --- recordings -------------------------------------------------------------

    /// Records that a recording has started.
    /// `NotFound` if its call does not exist, `AlreadyExists` if the id is
    /// taken.
    pub async fn insert_recording(&self, rec: &NewRecording) -> Result<(), StoreError> {
        let write = Write::Recording(RecordingRow::new(rec)?);
        self.writer.write(write).await.map(drop)
    }

    /// Records that a recording's file is complete. Only the first call
    /// counts: returns `false` (changing nothing) if it was already
    /// finished. `NotFound` if there is no such recording.
    pub async fn finish_recording(
        &self,
        id: Uuid,
        ended_at: DateTime<Utc>,
        duration_ms: u64,
        size_bytes: u64,
    ) -> Result<bool, StoreError> {
        let end = RecordingEnd::new(FinishedRecording {
            id,
            ended_at,
            duration_ms,
            size_bytes,
        })?;
        let changed = self.writer.write(Write::RecordingEnd(end)).await?.changed;
        if changed == 0 && self.get_recording(id).await?.is_none() {
            return Err(StoreError::NotFound {
                what: "recording",
                id,
            });
        }
        Ok(changed > 0)
    }

    pub async fn get_recording(&self, id: Uuid) -> Result<Option<RecordingRecord>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            recording_columns!(),
            " FROM recordings WHERE id = $1"
        );
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(DbUuid(id))
            .fetch_optional(pool)
            .await
            .map_err(query_err("read a recording"))?
            .map(|row| recording_from_row(&row))
            .transpose())
    }

    /// Recordings of a call, in the order they started.
    pub async fn recordings_for_call(
        &self,
        call_id: Uuid,
    ) -> Result<Vec<RecordingRecord>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            recording_columns!(),
            " FROM recordings WHERE call_id = $1 ORDER BY started_at, id"
        );
        on_pool!(self, |pool| decode_all(
            sqlx::query(SQL)
                .bind(DbUuid(call_id))
                .fetch_all(pool)
                .await
                .map_err(query_err("list recordings of a call"))?,
            recording_from_row
        ))
    }

    /// Recordings never finished (after a crash, their files need their
    /// headers fixed and their length measured), oldest first.
    pub async fn unfinished_recordings(&self) -> Result<Vec<RecordingRecord>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            recording_columns!(),
            " FROM recordings WHERE ended_at IS NULL ORDER BY started_at, id"
        );
        on_pool!(self, |pool| decode_all(
            sqlx::query(SQL)
                .fetch_all(pool)
                .await
                .map_err(query_err("list unfinished recordings"))?,
            recording_from_row
        ))
    }

    // --- appeals ------------------------------------------------------------------

    /// Stores a registered appeal. `AlreadyExists` with what = "appeal" if
    /// the id is taken, or what = "appeal registration number" if another
    /// appeal has this number or one with the same digits ("1580-2026-1"
    /// and "15802026-1" cannot both exist: a caller types only digits).
    /// `NotFound` if `call_id` names no stored call. A number without
    /// digits is refused by the database (a `Query` error).
    pub async fn insert_appeal(&self, appeal: &NewAppeal) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO appeals \
            (id, registration_number, registration_digits, status, category, executor, \
             deadline, caller_phone, address, created_at, call_id) \
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
        let digits = registration_digits(&appeal.registration_number);
        let inserted = on_pool!(self, |pool| sqlx::query(SQL)
            .bind(DbUuid(appeal.id))
            .bind(&appeal.registration_number)
            .bind(&digits)
            .bind(appeal.status.as_str())
            .bind(&appeal.category)
            .bind(&appeal.executor)
            .bind(DbTime::new(appeal.deadline))
            .bind(&appeal.caller_phone)
            .bind(appeal.address.as_deref())
            .bind(DbTime::new(appeal.created_at))
            .bind(appeal.call_id.map(DbUuid))
            .execute(pool)
            .await
            .map(|_| ()));
        let Err(source) = inserted else {
            return Ok(());
        };
        // Two unique columns: the backends name the violated constraint
        // differently (or not at all), so ask which one it was.
        if source
            .as_database_error()
            .is_some_and(|e| e.is_unique_violation())
        {
            const ID_SQL: &str = "SELECT 1 FROM appeals WHERE id = $1";
            let (what, key) = if self.exists(ID_SQL, appeal.id, "look up an appeal").await? {
                ("appeal", appeal.id.to_string())
            } else {
                (
                    "appeal registration number",
                    appeal.registration_number.clone(),
                )
            };
            return Err(StoreError::AlreadyExists { what, key });
        }
        let call = appeal.call_id.map(|id| ("call", id));
        Err(insert_err("insert an appeal", None, call)(source))
    }

    /// The appeal whose registration number is `number`, written with or
    /// without its dashes (any non-digit is ignored on both sides:
    /// "15802026000123" and "1580 2026 000123" find "1580-2026-000123").
    /// `None` if there is none, or if `number` has no digits.
    pub async fn appeal_by_registration_number(
        &self,
        number: &str,
    ) -> Result<Option<AppealRecord>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            appeal_columns!(),
            " FROM appeals WHERE registration_digits = $1"
        );
        let digits = registration_digits(number);
        if digits.is_empty() {
            return Ok(None);
        }
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(&digits)
            .fetch_optional(pool)
            .await
            .map_err(query_err("look up an appeal by number"))?
            .map(|row| appeal_from_row(&row))
            .transpose())
    }

    /// The `limit` most recent appeals from the caller number `e164`, newest
    /// first (by registration time).
    pub async fn appeals_by_phone(
        &self,
        e164: &str,
        limit: u32,
    ) -> Result<Vec<AppealRecord>, StoreError> {
        // id breaks ties so the order is stable between requests.
        const SQL: &str = concat!(
            "SELECT ",
            appeal_columns!(),
            " FROM appeals WHERE caller_phone = $1 \
             ORDER BY created_at DESC, id DESC LIMIT $2"
        );
        on_pool!(self, |pool| decode_all(
            sqlx::query(SQL)
                .bind(e164)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
                .map_err(query_err("list appeals by phone"))?,
            appeal_from_row
        ))
    }

    /// The address of the most recent appeal from `e164` that gave one (a
    /// blank address counts as none): where the caller probably lives.
    pub async fn latest_address_for_phone(&self, e164: &str) -> Result<Option<String>, StoreError> {
        const SQL: &str = "SELECT address FROM appeals \
            WHERE caller_phone = $1 AND address IS NOT NULL AND trim(address) <> '' \
            ORDER BY created_at DESC, id DESC LIMIT 1";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(e164)
            .fetch_optional(pool)
            .await
            .map_err(query_err("look up a caller's address"))?
            .map(|row| Cols::new(&row, "appeals").get::<String>("address"))
            .transpose())
    }

    // --- repair works ---------------------------------------------------------------

    /// Stores a repair work with its addresses, all or nothing: if any part
    /// fails (e.g. a blank street, which the database refuses), nothing is
    /// stored. `AlreadyExists` if the id is taken.
    pub async fn insert_repair_work(&self, work: &NewRepairWork) -> Result<(), StoreError> {
        const WORK_SQL: &str = "INSERT INTO repair_works \
            (id, kind, service, description, starts_at, expected_end, status, created_at) \
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        const ADDRESS_SQL: &str = "INSERT INTO repair_work_addresses \
            (work_id, ordinal, street, house) VALUES ($1, $2, $3, $4)";
        on_pool!(self, |pool| async {
            // Dropping the transaction on an early return rolls it back.
            let mut tx = pool
                .begin()
                .await
                .map_err(query_err("start storing a repair work"))?;
            sqlx::query(WORK_SQL)
                .bind(DbUuid(work.id))
                .bind(work.kind.as_str())
                .bind(work.service.as_str())
                .bind(&work.description)
                .bind(DbTime::new(work.starts_at))
                .bind(DbTime::new(work.expected_end))
                .bind(work.status.as_str())
                .bind(DbTime::new(work.created_at))
                .execute(&mut *tx)
                .await
                .map_err(insert_err(
                    "insert a repair work",
                    Some(("repair work", work.id)),
                    None,
                ))?;
            for (ordinal, address) in work.addresses.iter().enumerate() {
                let ordinal = i32::try_from(ordinal).map_err(|_| StoreError::OutOfRange {
                    field: "repair work addresses",
                    value: ordinal as u64,
                })?;
                sqlx::query(ADDRESS_SQL)
                    .bind(DbUuid(work.id))
                    .bind(ordinal)
                    .bind(&address.street)
                    .bind(address.house.as_deref())
                    .execute(&mut *tx)
                    .await
                    .map_err(query_err("insert a repair work's address"))?;
            }
            tx.commit().await.map_err(query_err("commit a repair work"))
        }
        .await)
    }

    pub async fn get_repair_work(&self, id: Uuid) -> Result<Option<RepairWork>, StoreError> {
        const SQL: &str = concat!(repair_work_select!(), " WHERE w.id = $1 ORDER BY a.ordinal");
        let works = on_pool!(self, |pool| works_from_rows(
            &sqlx::query(SQL)
                .bind(DbUuid(id))
                .fetch_all(pool)
                .await
                .map_err(query_err("read a repair work"))?
        ))?;
        Ok(works.into_iter().next())
    }

    /// Works in progress at `now`, each with its addresses: started
    /// (`starts_at <= now`), not ended and not closed. A work past its
    /// expected end stays in progress until it is closed: the outage may
    /// well go on. Emergency works come first, then by start.
    pub async fn active_repair_works(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<RepairWork>, StoreError> {
        // One statement, so a work closed meanwhile cannot lose its
        // addresses halfway; w.id keeps each work's rows together.
        const SQL: &str = concat!(
            repair_work_select!(),
            " WHERE w.starts_at <= $1 AND w.ended_at IS NULL AND w.status <> $2 \
             ORDER BY CASE WHEN w.kind = $3 THEN 0 ELSE 1 END, w.starts_at, w.id, a.ordinal"
        );
        on_pool!(self, |pool| works_from_rows(
            &sqlx::query(SQL)
                .bind(DbTime::new(now))
                .bind(WorkStatus::Closed.as_str())
                .bind(WorkKind::Emergency.as_str())
                .fetch_all(pool)
                .await
                .map_err(query_err("list active repair works"))?
        ))
    }

    /// Works in progress at `now` (as [`Store::active_repair_works`], in the
    /// same order) with an address matching the caller's free-text
    /// `address`; see [`WorkAddress::matches`] for the rule. The matching
    /// runs here, not in SQL, so it folds Ukrainian case alike on both
    /// backends; works in progress in a city are few.
    pub async fn repair_works_at(
        &self,
        address: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<RepairWork>, StoreError> {
        let mut works = self.active_repair_works(now).await?;
        works.retain(|w| w.affects(address));
        Ok(works)
    }

    /// Closes a work's record: it ended at `at`. Only the first close
    /// counts: returns `false` (changing nothing) if it had already ended.
    /// `NotFound` if there is no such work.
    pub async fn close_repair_work(&self, id: Uuid, at: DateTime<Utc>) -> Result<bool, StoreError> {
        const SQL: &str = "UPDATE repair_works SET ended_at = $2, status = $3 \
            WHERE id = $1 AND ended_at IS NULL";
        const ID_SQL: &str = "SELECT 1 FROM repair_works WHERE id = $1";
        let changed = on_pool!(self, |pool| sqlx::query(SQL)
            .bind(DbUuid(id))
            .bind(DbTime::new(at))
            .bind(WorkStatus::Closed.as_str())
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(query_err("close a repair work"))?;
        if changed == 0 && !self.exists(ID_SQL, id, "look up a repair work").await? {
            return Err(StoreError::NotFound {
                what: "repair work",
                id,
            });
        }
        Ok(changed > 0)
    }

    /// Whether `sql` (`SELECT 1 FROM ... WHERE id = $1`) finds a row.
    async fn exists(
        &self,
        sql: &'static str,
        id: Uuid,
        op: &'static str,
    ) -> Result<bool, StoreError> {
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(DbUuid(id))
            .fetch_optional(pool)
            .await
            .map(|row| row.is_some()))
        .map_err(query_err(op))
    }
}

async fn connect_sqlite(url: &str) -> Result<SqlitePool, StoreError> {
    let options = SqliteConnectOptions::from_str(url).map_err(|e| StoreError::InvalidUrl {
        url: redact_url(url),
        reason: e.to_string(),
    })?;
    // sqlx turns ":memory:" into a shared-cache "file:sqlx-in-memory-N" name;
    // such a database lives only while a connection to it is open.
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    let options = options
        .create_if_missing(true)
        .foreign_keys(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        // Deleted personal data (cards past retention) is overwritten in the
        // file, not left in free pages.
        .pragma("secure_delete", "ON");
    let (options, pool) = if in_memory {
        // One connection, kept forever: the database vanishes with the last
        // connection, and shared-cache mode would answer concurrent writers
        // with SQLITE_LOCKED, which busy_timeout does not cover.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None);
        (options, pool)
    } else {
        // Create the file's directory too, so `sqlite://data/hotline.db`
        // works on a fresh install.
        let dir = options
            .get_filename()
            .parent()
            .filter(|d| !d.as_os_str().is_empty());
        if let Some(dir) = dir {
            create_dir(dir).await?;
        }
        // WAL: readers do not block the writer nor the writer readers.
        // synchronous stays at sqlx's default, FULL: call records are the
        // service's evidence, kept through a power cut too. Each commit is
        // then an fsync; the call path's writes share commits (`batch`), so
        // their number does not grow with the call rate.
        let options = options.journal_mode(SqliteJournalMode::Wal);
        (
            options,
            SqlitePoolOptions::new().max_connections(SQLITE_MAX_CONNECTIONS),
        )
    };
    pool.acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(|source| StoreError::Connect {
            backend: "sqlite",
            source,
        })
}

async fn create_dir(dir: &Path) -> Result<(), StoreError> {
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| StoreError::Connect {
            backend: "sqlite",
            source: sqlx::Error::Io(e),
        })
}

async fn connect_postgres(url: &str) -> Result<PgPool, StoreError> {
    let options = PgConnectOptions::from_str(url).map_err(|e| StoreError::InvalidUrl {
        url: redact_url(url),
        reason: e.to_string(),
    })?;
    PgPoolOptions::new()
        .max_connections(POSTGRES_MAX_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(|source| StoreError::Connect {
            backend: "postgres",
            source,
        })
}

// Last, so the tests see the macros above (macro_rules scope is textual).
#[cfg(test)]
mod tests;
