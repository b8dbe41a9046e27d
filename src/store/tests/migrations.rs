//! Migrations that move data, run on data: a database is migrated up to
//! the step before, filled as the older schema had it, and opened by the
//! store, which applies the rest.

use std::path::Path;

use sqlx::migrate::Migrator;

use super::*;
use crate::store::testing::EmptyDb;

/// Copies of the `migrations/<backend>` files up to `version`, for a
/// migrator that stops there (the same files, so the store's own migrator
/// later sees the same checksums).
fn migrations_until(backend: &str, version: i64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    for entry in std::fs::read_dir(&source).expect("the migrations") {
        let path = entry.expect("a migration").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let number: i64 = name.split('_').next().unwrap().parse().expect("numbered");
        if number <= version {
            std::fs::copy(&path, dir.path().join(&name)).expect("copied");
        }
    }
    dir
}

/// Calls, then operators' "end call and block caller" requests, as 0008
/// stored them: `(caller, reason, minutes after t0)`, in the order made.
const REQUESTS: [(&str, &str, i64); 5] = [
    ("+380611234567", "образи", 0),
    ("+380671112233", "погрози", 5),
    ("+380611234567", "знову образи", 10),
    ("0611234567", "номер не нормалізовано", 15),
    ("+380611234567", "втретє", 20),
];

macro_rules! seed_block_requests {
    ($pool:expr) => {{
        let pool = $pool;
        for (caller, reason, minutes) in REQUESTS {
            let call = Uuid::new_v4();
            let at = t0() + Duration::minutes(minutes);
            sqlx::query(
                "INSERT INTO calls (id, sip_call_id, caller_raw, caller_e164, called_number, \
                 source, source_addr, transport, arrived_at) \
                 VALUES ($1, $2, $3, $4, '1580', 'local', '127.0.0.1:5062', 'udp', $5)",
            )
            .bind(DbUuid(call))
            .bind(format!("{call}@test"))
            .bind(caller)
            .bind(caller.starts_with('+').then_some(caller))
            .bind(DbTime::new(at))
            .execute(&pool)
            .await
            .expect("a call, as 0009 stored it");
            sqlx::query(
                "INSERT INTO block_requests (call_id, caller, requested_by, at, reason) \
                 VALUES ($1, $2, NULL, $3, $4)",
            )
            .bind(DbUuid(call))
            .bind(caller)
            .bind(DbTime::new(at))
            .bind(reason)
            .execute(&pool)
            .await
            .expect("a block request, as 0008 stored it");
        }
        pool.close().await;
    }};
}

/// 0010 turns each number's latest request into a block in force, the
/// earlier ones into history ("replaced" when the next came), leaves out a
/// number never normalised (a block needs E.164), and keeps every request.
async fn block_requests_become_blocks(db: &EmptyDb, backend: &str) {
    let files = migrations_until(backend, 9);
    let migrator = Migrator::new(files.path()).await.expect("the migrations");
    if backend == "sqlite" {
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(db.url())
            .unwrap()
            .create_if_missing(true)
            .foreign_keys(true);
        std::fs::create_dir_all(options.get_filename().parent().unwrap()).unwrap();
        let pool = SqlitePool::connect_with(options).await.unwrap();
        migrator.run(&pool).await.expect("0001-0009");
        seed_block_requests!(pool);
    } else {
        let pool = PgPool::connect(db.url()).await.unwrap();
        migrator.run(&pool).await.expect("0001-0009");
        seed_block_requests!(pool);
    }

    let store = Store::connect(db.url()).await.expect("0010 applied");
    let now = t0() + Duration::hours(1);
    let in_force = store.blocked_numbers(now, false).await.unwrap();
    let mut numbers: Vec<(&str, &str)> = in_force
        .iter()
        .map(|b| (b.number.as_str(), b.reason.as_str()))
        .collect();
    numbers.sort();
    assert_eq!(
        numbers,
        vec![("+380611234567", "втретє"), ("+380671112233", "погрози")]
    );
    assert!(
        in_force
            .iter()
            .all(|b| b.in_force(now) && b.call_id.is_some())
    );
    let latest = &in_force.iter().find(|b| b.reason == "втретє").unwrap();
    assert_eq!(
        latest.blocked_at,
        storage_precision(t0() + Duration::minutes(20))
    );
    assert!(
        store
            .active_block("+380611234567", now)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.active_block("0611234567", now).await.unwrap(), None);

    let mut history: Vec<(String, Option<String>, Option<DateTime<Utc>>)> = store
        .blocked_numbers(now, true)
        .await
        .unwrap()
        .into_iter()
        .filter(|b| b.ended_at.is_some())
        .map(|b| (b.reason, b.end_reason, b.ended_at))
        .collect();
    history.sort();
    let replaced = |reason: &str, minutes| {
        (
            reason.to_owned(),
            Some("replaced".to_owned()),
            Some(storage_precision(t0() + Duration::minutes(minutes))),
        )
    };
    assert_eq!(
        history,
        vec![replaced("знову образи", 10), replaced("образи", 0)]
    );
    let kept: i64 = on_pool!(store, |pool| sqlx::query_scalar(
        "SELECT count(*) FROM block_requests_archive"
    )
    .fetch_one(pool)
    .await
    .unwrap());
    assert_eq!(kept, REQUESTS.len() as i64, "every request is kept");
    store.close().await;
}

#[tokio::test]
async fn block_requests_become_blocks_on_sqlite() {
    block_requests_become_blocks(&EmptyDb::sqlite(), "sqlite").await;
}

#[tokio::test]
async fn block_requests_become_blocks_on_postgres() {
    let db = EmptyDb::postgres()
        .await
        .expect("a PostgreSQL test database (set HOTLINE_TEST_SKIP_PG=1 to skip on purpose)");
    let Some(db) = db else { return };
    block_requests_become_blocks(&db, "postgres").await;
}

/// 0021 widens the block list's key (SQLite rebuilds both tables): the
/// blocks and their attempts are kept with their ids and links, and an
/// e-mail block can be set after.
async fn blocks_survive_the_widened_key(db: &EmptyDb, backend: &str) {
    let files = migrations_until(backend, 20);
    let migrator = Migrator::new(files.path()).await.expect("the migrations");
    let block = Uuid::new_v4();
    macro_rules! seed {
        ($pool:expr) => {{
            let pool = $pool;
            migrator.run(&pool).await.expect("0001-0020");
            sqlx::query(
                "INSERT INTO blocked_numbers (id, number, reason, blocked_at) \
                 VALUES ($1, '+380611234567', 'образи', $2)",
            )
            .bind(DbUuid(block))
            .bind(DbTime::new(t0()))
            .execute(&pool)
            .await
            .expect("a block, as 0010 stored it");
            for _ in 0..3 {
                sqlx::query(
                    "INSERT INTO block_attempts (block_id, at, action) VALUES ($1, $2, 'rejected')",
                )
                .bind(DbUuid(block))
                .bind(DbTime::new(t0()))
                .execute(&pool)
                .await
                .expect("an attempt");
            }
            pool.close().await;
        }};
    }
    if backend == "sqlite" {
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(db.url())
            .unwrap()
            .create_if_missing(true)
            .foreign_keys(true);
        std::fs::create_dir_all(options.get_filename().parent().unwrap()).unwrap();
        seed!(SqlitePool::connect_with(options).await.unwrap());
    } else {
        seed!(PgPool::connect(db.url()).await.unwrap());
    }
    let store = Store::connect(db.url()).await.expect("0021 applied");
    let now = t0() + Duration::minutes(1);
    let listed = store.blocked_numbers(now, false).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].id, listed[0].attempts), (block, 3));
    assert_eq!(listed[0].kind, "phone");
    store
        .record_block_attempt(block, None, now, "web")
        .await
        .unwrap();
    let ids: Vec<i64> = on_pool!(store, |pool| sqlx::query_scalar(
        "SELECT id FROM block_attempts ORDER BY id"
    )
    .fetch_all(pool)
    .await
    .unwrap());
    assert_eq!(ids, [1, 2, 3, 4], "the attempts' ids go on");
    let (email, _) = store
        .block_number(
            &crate::store::blocking::NewBlock {
                number: "mailto:taras@example.ua",
                reason: "спам",
                by: None,
                until: None,
                call_id: None,
            },
            now,
        )
        .await
        .unwrap();
    assert_eq!(email.kind, "email");
    // The attempts still go with their block.
    on_pool!(store, |pool| sqlx::query(
        "DELETE FROM blocked_numbers WHERE id = $1"
    )
    .bind(DbUuid(block))
    .execute(pool)
    .await
    .map(drop)
    .unwrap());
    let left: i64 = on_pool!(store, |pool| sqlx::query_scalar(
        "SELECT count(*) FROM block_attempts"
    )
    .fetch_one(pool)
    .await
    .unwrap());
    assert_eq!(left, 0);
    store.close().await;
}

#[tokio::test]
async fn blocks_survive_the_widened_key_on_sqlite() {
    blocks_survive_the_widened_key(&EmptyDb::sqlite(), "sqlite").await;
}

#[tokio::test]
async fn blocks_survive_the_widened_key_on_postgres() {
    let db = EmptyDb::postgres()
        .await
        .expect("a PostgreSQL test database (set HOTLINE_TEST_SKIP_PG=1 to skip on purpose)");
    let Some(db) = db else { return };
    blocks_survive_the_widened_key(&db, "postgres").await;
}
