//! Persistent store: the connection, the migrations and the errors, and the
//! queries of every part of the service but the appeal's: calls and their
//! events ([`calls`]), recordings and their access log ([`recordings`]),
//! repair works ([`repair_works`]), operators, their queues, credentials and
//! states ([`operators`]), queue events and statistics ([`queues`]), users
//! and sessions ([`users`]), the block list ([`blocking`]) and retention
//! ([`retention`]). The appeal's queries are in its own folder
//! ([`crate::appeal::store`]), on the same [`Store`].
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

pub(crate) mod address;
pub mod demo;
pub(crate) mod encoding;
pub mod testing;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use uuid::Uuid;

use crate::secret::redact_url;

pub use batch::WriteCounts;
pub use calls::{
    CallEnd, CallEvent, CallRecord, Direction, Disposition, EndedBy, NewCall, TakenCall, Transport,
};
use encoding::DbUuid;
pub use encoding::storage_precision;
pub use operators::{
    NewOperator, Operator, OperatorState, QueueMembership, StateChange, is_possible_login,
};
pub use queues::{NewQueueEvent, QueueEvent, QueueEventKind, QueueStats};
pub use recordings::{FinishedRecording, NewRecording, RecordingRecord};
pub use repair_works::{NewRepairWork, RepairWork, Service, WorkAddress, WorkKind, WorkStatus};
pub use users::{NewSession, NewUser, Role, Session, SessionLimits, User, UserChange};

/// Declares a fieldless enum stored as text, with `as_str`/`parse` so the
/// text in the database is spelled out once, next to the variant.
macro_rules! text_enum {
    (
        $(#[doc = $doc:literal])*
        $name:ident $(as $schema:literal)? {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal, )+
        }
    ) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The text stored in the database (and shown to people).
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }

            /// The variant whose text is `text`, or `None` for anything else.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $( $text => Some($name::$variant), )+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// In the OpenAPI documents: a string, one of the stored texts.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                let doc: &[&str] = &[$($doc,)*];
                let doc = doc.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" ");
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($text,)+]))
                    .description((!doc.is_empty()).then_some(doc))
                    .into()
            }
        }

        /// Named as the type, or as given (`Channel as "AttemptChannel"`)
        /// where two such types share a name.
        impl utoipa::ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed([$($schema,)? stringify!($name)][0])
            }
        }

        /// As its stored text, in JSON as in the database.
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                $name::parse(&text).ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        concat!("{:?} is not a ", stringify!($name)),
                        text
                    ))
                })
            }
        }
    };
}

// For the record types of the store's modules and of the appeal's.
pub(crate) use text_enum;

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
/// How long the first connection to PostgreSQL may take at start-up.
const FIRST_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL is not `sqlite:...` or `postgres(ql)://...`, or does not parse.
    /// The URL is shown with any password removed.
    #[error("invalid database URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },

    /// `target`: the SQLite file, or PostgreSQL's host, port and database.
    #[error("cannot open the {backend} database {target}: {source}")]
    Connect {
        backend: &'static str,
        target: String,
        #[source]
        source: sqlx::Error,
    },

    #[error("the database does not take writes: {source}")]
    ReadOnly { source: sqlx::Error },

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

    /// The row changed since it was read (another step was written first):
    /// nothing was written; read it again and decide again.
    #[error("{what} {id} changed meanwhile")]
    Stale { what: &'static str, id: Uuid },

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
pub(crate) fn query_err(op: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Query { op, source }
}

/// Like [`query_err`] for inserts, turning constraint violations into the
/// domain's errors: a duplicate primary key is `AlreadyExists` for `dup`, a
/// missing parent row is `NotFound` for `parent` (each `(what, id)`; `None`
/// where the table has no such constraint).
pub(crate) fn insert_err(
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

pub(crate) fn to_i64(field: &'static str, value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::OutOfRange { field, value })
}

/// The database behind a [`Store`].
#[derive(Debug, Clone)]
pub(crate) enum Backend {
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
            $crate::store::Backend::Sqlite($pool) => $body,
            $crate::store::Backend::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// A transaction that will write. On SQLite it takes the write lock at
/// once (`BEGIN IMMEDIATE`): a transaction that reads first and writes
/// later would otherwise fail at once ("database is locked") when another
/// writer holds the lock, instead of waiting its turn.
pub(crate) trait BeginWrite {
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
pub mod audit;
mod batch;
pub mod blocking;
pub mod calls;
pub mod operators;
pub mod queues;
pub mod recordings;
pub mod repair_works;
pub mod retention;
pub mod users;

/// Handle on the database. Cloning is cheap and shares the connection pool.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) backend: Backend,
    /// The hot writes (a call's arrival, answer, path, queue events and
    /// end), committed in groups: see [`batch`].
    writer: batch::Writer,
    /// Leave to run one of the reports' long reads: see [`REPORT_READS`].
    pub(crate) report_reads: std::sync::Arc<tokio::sync::Semaphore>,
}

/// How many of the reports' long reads (their counts, lists and call
/// figures) run at once, whatever the number of reports being made: a
/// report's counts run side by side, but they hold at most two of the
/// pool's connections (SQLite's has four) beside the report's few short
/// reads, so the call path and the console are not kept waiting for one.
const REPORT_READS: usize = 2;

/// Decodes every row with `f`, stopping at the first corrupt one.
pub(crate) fn decode_all<R, T>(
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
        let store = Store {
            backend,
            writer,
            report_reads: std::sync::Arc::new(tokio::sync::Semaphore::new(REPORT_READS)),
        };
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

    /// Fails unless the database takes writes: a read-only file or a
    /// standby server would let the server start and then lose every call.
    pub async fn check_writable(&self) -> Result<(), StoreError> {
        // A write that changes nothing still needs the write lock.
        const SQL: &str = "UPDATE _sqlx_migrations SET success = success WHERE version < 0";
        on_pool!(self, |pool| sqlx::query(SQL).execute(pool).await.map(drop))
            .map_err(|source| StoreError::ReadOnly { source })
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

    /// Whether `sql` (`SELECT 1 FROM ... WHERE id = $1`) finds a row.
    pub(crate) async fn exists(
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
    let target = options.get_filename().display().to_string();
    pool.acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(|source| StoreError::Connect {
            backend: "sqlite",
            target,
            source,
        })
}

async fn create_dir(dir: &Path) -> Result<(), StoreError> {
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| StoreError::Connect {
            backend: "sqlite",
            target: dir.display().to_string(),
            source: sqlx::Error::Io(e),
        })
}

async fn connect_postgres(url: &str) -> Result<PgPool, StoreError> {
    let options = PgConnectOptions::from_str(url).map_err(|e| StoreError::InvalidUrl {
        url: redact_url(url),
        reason: e.to_string(),
    })?;
    let target = format!(
        "{}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or_default()
    );
    // One connection first, with a short wait: an unreachable server is
    // named with its own error (refused, unknown host, password) at once,
    // not as a pool that timed out ten seconds later.
    let first = tokio::time::timeout(
        FIRST_CONNECT_TIMEOUT,
        <sqlx::postgres::PgConnection as sqlx::Connection>::connect_with(&options),
    )
    .await;
    let fail = |source| StoreError::Connect {
        backend: "postgres",
        target: target.clone(),
        source,
    };
    match first {
        Ok(Ok(connection)) => drop(connection),
        Ok(Err(source)) => return Err(fail(source)),
        Err(_) => return Err(fail(sqlx::Error::PoolTimedOut)),
    }
    PgPoolOptions::new()
        .max_connections(POSTGRES_MAX_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(fail)
}

// Last, so the tests see the macros above (macro_rules scope is textual).
#[cfg(test)]
pub(crate) mod tests;
