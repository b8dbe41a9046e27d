//! Fresh, throw-away databases for tests: the store's own and the server's
//! integration tests. Compiled always (it is small) so integration tests,
//! which see the crate as an outside user, can reuse it.
//!
//! ```text
//! let db = TestDb::sqlite().await?;          // temp file, removed on drop
//! if let Some(db) = TestDb::postgres().await? { // new database, dropped on drop
//!     db.insert_call(&call).await?;          // TestDb derefs to Store
//!     let again = Store::connect(db.url()).await?;
//! }
//! ```
//!
//! PostgreSQL: the admin URL comes from `HOTLINE_TEST_PG_URL` (default
//! [`DEFAULT_PG_ADMIN_URL`]); each [`TestDb::postgres`] creates a database
//! `hotline_test_<random>` through it and drops it afterwards.
//! If PostgreSQL is unreachable, [`TestDb::postgres`] returns an error, so the
//! PostgreSQL variant of a test FAILS rather than passing without having run.
//! Setting `HOTLINE_TEST_SKIP_PG=1` is the one deliberate way to skip it:
//! then [`TestDb::postgres`] returns `Ok(None)` without trying.

use std::ops::Deref;
use std::path::PathBuf;

use sqlx::{Connection, Executor, PgConnection};
use uuid::Uuid;

use chrono::{DateTime, Utc};

use super::{Store, StoreError};
use crate::appeal::NewAppeal;

/// Environment variable naming the PostgreSQL URL used to create and drop
/// test databases (any existing database the user may connect to).
pub const PG_URL_ENV: &str = "HOTLINE_TEST_PG_URL";
/// Admin URL used when [`PG_URL_ENV`] is unset: the local test server.
pub const DEFAULT_PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// Environment variable that, set to anything but "" or "0", skips the
/// PostgreSQL variants of tests instead of failing them.
pub const SKIP_PG_ENV: &str = "HOTLINE_TEST_SKIP_PG";
/// Prefix of every database [`TestDb::postgres`] creates, so leftovers of
/// killed test runs are easy to find and drop.
pub const PG_TEST_DB_PREFIX: &str = "hotline_test_";

/// A call stored as if it had come in over UDP from 127.0.0.1:5062, from
/// `caller_raw` (normalised to `caller_e164`) to 1580, at `at`.
pub async fn stored_call(
    store: &Store,
    caller_raw: &str,
    caller_e164: &str,
    at: DateTime<Utc>,
) -> Uuid {
    let id = Uuid::new_v4();
    store
        .insert_call(&super::NewCall {
            id,
            sip_call_id: format!("{id}@test"),
            caller_raw: caller_raw.into(),
            caller_e164: Some(caller_e164.into()),
            called_number: "1580".into(),
            source: "local".into(),
            source_addr: "127.0.0.1:5062".parse().expect("an address"),
            transport: super::Transport::Udp,
            arrived_at: at,
            direction: super::Direction::Inbound,
        })
        .await
        .expect("the call is stored");
    id
}

/// Imports the shipped sample classifier ([`crate::appeal::classifier::DEFAULT_PATH`],
/// read from the working directory, the package root under `cargo test`)
/// as of `at` and returns its first category.
pub async fn sample_category(store: &Store, source: &str, at: DateTime<Utc>) -> Uuid {
    let classifier = crate::appeal::classifier::Classifier::load(std::path::Path::new(
        crate::appeal::classifier::DEFAULT_PATH,
    ))
    .expect("the sample classifier loads");
    let outcome = store
        .import_classifier(&classifier, source, at)
        .await
        .expect("the sample classifier imports");
    store
        .categories(outcome.version.number)
        .await
        .expect("its categories")[0]
        .id
}

/// A card an operator filled in full, in `category`.
pub fn sample_appeal(category: Uuid) -> NewAppeal {
    NewAppeal {
        surname: "Шевченко".into(),
        first_name: "Тарас".into(),
        patronymic: "Григорович".into(),
        address: "вул. Соборна, 12, кв. 5".into(),
        contact_phone: "+380611234567".into(),
        essence: "Немає холодної води з ранку.".into(),
        category_id: Some(category),
        ..Default::default()
    }
}

/// For each named `async fn name(db: &TestDb)`, generates `name::sqlite` and
/// `name::postgres` tests running it on each backend.
#[cfg(test)]
macro_rules! both_backends {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            // Multi-threaded so tests that spawn tasks really overlap.
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = $crate::store::testing::TestDb::sqlite()
                    .await
                    .expect("fresh SQLite test database");
                super::$name(&db).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let db = $crate::store::testing::TestDb::postgres().await.expect(
                    "fresh PostgreSQL test database (is PostgreSQL running? \
                     set HOTLINE_TEST_SKIP_PG=1 to skip on purpose)",
                );
                let Some(db) = db else { return };
                super::$name(&db).await;
            }
        }
    )+};
}
#[cfg(test)]
pub(crate) use both_backends;

/// Whether PostgreSQL tests are to be skipped (see [`SKIP_PG_ENV`]).
pub fn skip_postgres() -> bool {
    std::env::var(SKIP_PG_ENV).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// A migrated store on a database of its own, deleted when this is dropped
/// (best effort: a failure to delete is printed, not raised).
#[derive(Debug)]
pub struct TestDb {
    // Dropped in this order: the store's connections, then the database.
    store: Store,
    db: EmptyDb,
}

/// A database of its own with nothing in it yet, deleted when this is
/// dropped: for tests of the migrations themselves.
#[derive(Debug)]
pub struct EmptyDb {
    url: String,
    cleanup: Cleanup,
}

impl EmptyDb {
    /// A path for a new SQLite database file in a new directory under the
    /// system's temporary directory (created by whoever connects first).
    pub fn sqlite() -> EmptyDb {
        let dir = std::env::temp_dir().join(format!("hotline-test-{}", Uuid::new_v4().simple()));
        EmptyDb {
            url: format!("sqlite://{}", dir.join("hotline.db").display()),
            cleanup: Cleanup::RemoveDir(dir),
        }
    }

    /// A new PostgreSQL database, or `Ok(None)` if [`SKIP_PG_ENV`] is set.
    /// An unreachable server is an error, never a silent skip.
    pub async fn postgres() -> Result<Option<EmptyDb>, StoreError> {
        if skip_postgres() {
            eprintln!("{SKIP_PG_ENV} is set: skipping a PostgreSQL test");
            return Ok(None);
        }
        let admin_url =
            std::env::var(PG_URL_ENV).unwrap_or_else(|_| DEFAULT_PG_ADMIN_URL.to_owned());
        let name = format!("{PG_TEST_DB_PREFIX}{}", Uuid::new_v4().simple());
        let mut admin =
            PgConnection::connect(&admin_url)
                .await
                .map_err(|source| StoreError::Connect {
                    backend: "postgres",
                    target: super::redact_url(&admin_url),
                    source,
                })?;
        // The name is ours (prefix + hex), so quoting cannot be escaped.
        admin
            .execute(format!("CREATE DATABASE \"{name}\"").as_str())
            .await
            .map_err(|source| StoreError::Query {
                op: "create a test database",
                source,
            })?;
        // Best effort: the server closes the session anyway.
        let _ = admin.close().await;
        Ok(Some(EmptyDb {
            url: with_database(&admin_url, &name),
            cleanup: Cleanup::DropDatabase { admin_url, name },
        }))
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for EmptyDb {
    fn drop(&mut self) {
        run_cleanup(&self.cleanup);
    }
}

#[derive(Debug)]
enum Cleanup {
    /// Temporary directory holding the SQLite file (and its WAL files).
    RemoveDir(PathBuf),
    DropDatabase {
        admin_url: String,
        name: String,
    },
}

impl TestDb {
    /// A new SQLite database file in a new directory under the system's
    /// temporary directory.
    pub async fn sqlite() -> Result<TestDb, StoreError> {
        TestDb::on(EmptyDb::sqlite()).await
    }

    /// A new PostgreSQL database, or `Ok(None)` if [`SKIP_PG_ENV`] is set.
    /// An unreachable server is an error, never a silent skip.
    pub async fn postgres() -> Result<Option<TestDb>, StoreError> {
        match EmptyDb::postgres().await? {
            Some(db) => TestDb::on(db).await.map(Some),
            None => Ok(None),
        }
    }

    /// Connects to (and so migrates) `db`; on failure `db` is dropped,
    /// which deletes it.
    async fn on(db: EmptyDb) -> Result<TestDb, StoreError> {
        let store = Store::connect(&db.url).await?;
        Ok(TestDb { store, db })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// URL of this database, for connecting again (e.g. to test reconnects
    /// or to start a server on it).
    pub fn url(&self) -> &str {
        &self.db.url
    }
}

impl Deref for TestDb {
    type Target = Store;

    fn deref(&self) -> &Store {
        &self.store
    }
}

fn run_cleanup(cleanup: &Cleanup) {
    match cleanup {
        Cleanup::RemoveDir(dir) => {
            // Open connections do not stop removal on Unix; elsewhere a
            // leftover temp directory is harmless.
            if let Err(e) = std::fs::remove_dir_all(dir) {
                eprintln!("could not remove test database {}: {e}", dir.display());
            }
        }
        Cleanup::DropDatabase { admin_url, name } => {
            // Drop cannot await, and the test's own runtime may be a
            // single thread that is busy running this very drop, so the
            // DROP runs on a thread with a runtime of its own.
            let (admin_url, name) = (admin_url.clone(), name.clone());
            let outcome = std::thread::spawn(move || -> Result<(), String> {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())?;
                runtime
                    .block_on(drop_database(&admin_url, &name))
                    .map_err(|e| format!("{name}: {e}"))
            })
            .join();
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(e)) => eprintln!("could not drop test database {e}"),
                Err(_) => eprintln!("dropping a test database panicked"),
            }
        }
    }
}

async fn drop_database(admin_url: &str, name: &str) -> Result<(), sqlx::Error> {
    let mut admin = PgConnection::connect(admin_url).await?;
    // FORCE (PostgreSQL 13+) ends the store's pooled connections, which
    // may still be open: dropping a pool closes them in the background.
    admin
        .execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
        .await?;
    admin.close().await
}

/// `url` with its database (the path) replaced by `name`, query kept.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

/// Someone taking a card's step in a test: the lifecycle's actor and the
/// history's author, alike.
pub fn person(
    login: &str,
    role: super::Role,
    executor: Option<&crate::appeal::lifecycle::ExecutorCode>,
) -> (
    crate::appeal::lifecycle::Actor,
    crate::appeal::lifecycle_store::Author,
) {
    (
        crate::appeal::lifecycle::Actor::User {
            login: login.into(),
            role,
            executor: executor.cloned(),
        },
        crate::appeal::lifecycle_store::Author {
            user_id: None,
            login: login.into(),
            role: role.to_string(),
            executor: executor.cloned(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_is_replaced_in_url() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/test?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "x"),
            "postgres://h:5432/x"
        );
    }
}
