//! Operator store tests, each body run on SQLite and on PostgreSQL (see
//! `both_backends!` in the parent).
//!
//! The expected HA1s were computed independently with Python's hashlib,
//! e.g. `hashlib.md5(b'1001:hotline:secret123').hexdigest()`.

use super::super::operators::DEFAULT_REALM;
use super::*;

both_backends!(
    operator_add_list_remove,
    operator_duplicates,
    operator_validation,
    operator_credentials,
    operator_queues_replace,
    operator_queues_replace_is_atomic,
    operator_state_history,
);

/// HA1s of extension 1001, realm "hotline", password "secret123".
const MD5_1001_SECRET123: &str = "00e9d504bd3ff35f63137b158dde213c";
const SHA256_1001_SECRET123: &str =
    "3767100ff63debe87e67be992d9e736fb786248442a52482a9af1de43b39d2c8";
/// HA1s of extension 1001, realm "hotline", password "n3w-Passw0rd".
const MD5_1001_NEW: &str = "88edf98b994e375a0282e4fb72186da8";
const SHA256_1001_NEW: &str = "d256b286ccad4c21087bdc8161b7cee77d98fac95945c1321906ab4547a91788";
/// HA1s of extension 1002, realm "example.org", password "пароль-12".
const MD5_1002_UKRAINIAN: &str = "8ee5c11d1520b8cfdc3c8319ad8a7124";
const SHA256_1002_UKRAINIAN: &str =
    "35f892575ad5a5f78f59cc0f6894244f27106390f186a1259e8efd36882d5574";
/// HA1s of extension 1001, realm "example.org", password "пароль-12".
const MD5_1001_UKRAINIAN: &str = "426562c66195c4b46a754123b71dd8d4";
const SHA256_1001_UKRAINIAN: &str =
    "b995a2cd8f17177c948823e20b1bb9b04e59aecda3c33e90198f40c631254878";

const PASSWORD: &str = "secret123";

fn new_operator(login: &str, extension: &str, queues: &[(&str, u32)]) -> NewOperator {
    NewOperator {
        id: Uuid::new_v4(),
        login: login.into(),
        display_name: format!("Оператор {login}"),
        extension: extension.into(),
        queues: queues
            .iter()
            .map(|&(q, p)| QueueMembership::new(q, p))
            .collect(),
        created_at: t0(),
    }
}

fn queues(list: &[(&str, u32)]) -> Vec<QueueMembership> {
    list.iter()
        .map(|&(q, p)| QueueMembership::new(q, p))
        .collect()
}

async fn count(store: &Store, sql: &str) -> i64 {
    on_pool!(store, |pool| sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(pool)
        .await
        .expect("count"))
}

async fn operator_add_list_remove(db: &TestDb) {
    // Added out of order; "a-c" sorts before "ab" by bytes ('-' < 'b'),
    // which a locale's collation would not do.
    let olena = new_operator("olena", "1001", &[("general", 0), ("emergency", 2)]);
    let ab = new_operator("ab", "1003", &[]);
    let ac = new_operator("a-c", "1002", &[("general", 5)]);
    let mut added = Vec::new();
    for new in [&olena, &ab, &ac] {
        added.push(
            db.add_operator(new, PASSWORD, DEFAULT_REALM)
                .await
                .expect("add"),
        );
    }

    let first = &added[0];
    assert_eq!(first.id, olena.id);
    assert_eq!(first.login, "olena");
    assert_eq!(first.display_name, "Оператор olena");
    assert_eq!(first.extension, "1001");
    assert_eq!(first.realm, DEFAULT_REALM);
    assert_eq!(first.created_at, storage_precision(t0()));
    assert_eq!(first.disabled_at, None);
    // Queues come back by name.
    assert_eq!(first.queues, queues(&[("emergency", 2), ("general", 0)]));

    // Lookups give what add returned.
    for op in &added {
        let by_login = db.operator_by_login(&op.login).await.expect("by login");
        assert_eq!(by_login.as_ref(), Some(op));
        let by_ext = db
            .operator_by_extension(&op.extension)
            .await
            .expect("by extension");
        assert_eq!(by_ext.as_ref(), Some(op));
    }
    assert_eq!(db.operator_by_login("nobody").await.expect("lookup"), None);
    assert_eq!(
        db.operator_by_extension("9999").await.expect("lookup"),
        None
    );
    // Exact match only: no case folding, no prefix.
    assert_eq!(db.operator_by_login("OLENA").await.expect("lookup"), None);
    assert_eq!(db.operator_by_extension("100").await.expect("lookup"), None);

    let listed = db.list_operators().await.expect("list");
    let logins: Vec<&str> = listed.iter().map(|o| o.login.as_str()).collect();
    assert_eq!(logins, ["a-c", "ab", "olena"]);
    assert_eq!(listed[2], added[0]);
    assert_eq!(listed[1].queues, vec![]);

    // Removing takes the queues and the state history along.
    db.record_operator_state(olena.id, t0(), OperatorState::Available, None)
        .await
        .expect("state");
    assert!(db.remove_operator("olena").await.expect("remove"));
    assert!(!db.remove_operator("olena").await.expect("remove again"));
    assert!(!db.remove_operator("nobody").await.expect("remove unknown"));
    assert_eq!(db.operator_by_login("olena").await.expect("lookup"), None);
    let logins: Vec<String> = db
        .list_operators()
        .await
        .expect("list")
        .into_iter()
        .map(|o| o.login)
        .collect();
    assert_eq!(logins, ["a-c", "ab"]);
    assert_eq!(count(db, "SELECT count(*) FROM operator_queues").await, 1);
    assert_eq!(
        count(db, "SELECT count(*) FROM operator_state_changes").await,
        0
    );

    // The login and extension are free again.
    let again = new_operator("olena", "1001", &[]);
    db.add_operator(&again, PASSWORD, DEFAULT_REALM)
        .await
        .expect("add again");
}

async fn operator_duplicates(db: &TestDb) {
    let olena = new_operator("olena", "1001", &[("general", 0)]);
    let stored = db
        .add_operator(&olena, PASSWORD, DEFAULT_REALM)
        .await
        .expect("add");

    let cases = [
        (
            new_operator("olena", "1002", &[("emergency", 0)]),
            "operator login",
            "olena".to_owned(),
        ),
        (
            new_operator("petro", "1001", &[("emergency", 0)]),
            "operator extension",
            "1001".to_owned(),
        ),
        (
            NewOperator {
                id: olena.id,
                ..new_operator("petro", "1002", &[("emergency", 0)])
            },
            "operator",
            olena.id.to_string(),
        ),
    ];
    for (twin, what_expected, key_expected) in cases {
        match db.add_operator(&twin, PASSWORD, DEFAULT_REALM).await {
            Err(StoreError::AlreadyExists { what, key }) => {
                assert_eq!((what, key), (what_expected, key_expected));
            }
            other => panic!("{what_expected}: expected AlreadyExists, got {other:?}"),
        }
    }
    let err = db
        .add_operator(&new_operator("olena", "1009", &[]), PASSWORD, DEFAULT_REALM)
        .await
        .expect_err("duplicate login");
    assert_eq!(err.to_string(), "operator login olena already exists");

    // Nothing of the refused operators was written, and the first is as it
    // was.
    assert_eq!(
        db.list_operators().await.expect("list"),
        vec![stored.clone()]
    );
    assert_eq!(count(db, "SELECT count(*) FROM operator_queues").await, 1);
}

async fn operator_validation(db: &TestDb) {
    let good = new_operator("olena", "1001", &[("general", 0)]);
    let cases: Vec<(NewOperator, &str, &str)> = vec![
        (
            NewOperator {
                login: String::new(),
                ..good.clone()
            },
            PASSWORD,
            "login",
        ),
        (
            NewOperator {
                login: "Olena".into(),
                ..good.clone()
            },
            PASSWORD,
            "login",
        ),
        (
            NewOperator {
                login: "olena petrenko".into(),
                ..good.clone()
            },
            PASSWORD,
            "login",
        ),
        (
            NewOperator {
                extension: "1".into(),
                ..good.clone()
            },
            PASSWORD,
            "extension",
        ),
        (
            NewOperator {
                extension: "12345678901".into(),
                ..good.clone()
            },
            PASSWORD,
            "extension",
        ),
        (
            NewOperator {
                extension: "10o1".into(),
                ..good.clone()
            },
            PASSWORD,
            "extension",
        ),
        (
            NewOperator {
                display_name: "   ".into(),
                ..good.clone()
            },
            PASSWORD,
            "display name",
        ),
        (good.clone(), "short", "password"),
        (good.clone(), "", "password"),
        (
            NewOperator {
                queues: queues(&[("General", 0)]),
                ..good.clone()
            },
            PASSWORD,
            "queue",
        ),
        (
            NewOperator {
                queues: queues(&[("", 0)]),
                ..good.clone()
            },
            PASSWORD,
            "queue",
        ),
        (
            NewOperator {
                queues: queues(&[("general", 0), ("general", 1)]),
                ..good.clone()
            },
            PASSWORD,
            "queue",
        ),
        (
            NewOperator {
                queues: queues(&[("general", u32::MAX)]),
                ..good.clone()
            },
            PASSWORD,
            "queue",
        ),
    ];
    for (new, password, field_expected) in cases {
        match db.add_operator(&new, password, DEFAULT_REALM).await {
            Err(StoreError::Invalid { field, reason }) => {
                assert_eq!(field, field_expected, "{reason}");
                assert!(
                    password.is_empty() || !reason.contains(password),
                    "password in error: {reason}"
                );
            }
            other => panic!("{field_expected}: expected Invalid, got {other:?}"),
        }
    }
    match db.add_operator(&good, PASSWORD, "bad\"realm").await {
        Err(StoreError::Invalid { field: "realm", .. }) => {}
        other => panic!("expected Invalid realm, got {other:?}"),
    }
    assert!(db.list_operators().await.expect("list").is_empty());

    // The display name is stored trimmed.
    let padded = NewOperator {
        display_name: "  Олена Петренко \t".into(),
        ..good.clone()
    };
    let stored = db
        .add_operator(&padded, PASSWORD, DEFAULT_REALM)
        .await
        .expect("add");
    assert_eq!(stored.display_name, "Олена Петренко");

    // The other writes check too, and change nothing when they refuse.
    match db
        .set_operator_password("olena", "1234567", DEFAULT_REALM)
        .await
    {
        Err(StoreError::Invalid {
            field: "password", ..
        }) => {}
        other => panic!("expected Invalid password, got {other:?}"),
    }
    match db
        .set_operator_queues(stored.id, &queues(&[("emergency", 0), ("Bad", 0)]))
        .await
    {
        Err(StoreError::Invalid { field: "queue", .. }) => {}
        other => panic!("expected Invalid queue, got {other:?}"),
    }
    assert_eq!(
        db.operator_by_login("olena").await.expect("lookup"),
        Some(stored)
    );
}

async fn operator_credentials(db: &TestDb) {
    let olena = new_operator("olena", "1001", &[]);
    let added = db
        .add_operator(&olena, PASSWORD, "hotline")
        .await
        .expect("add");
    assert_eq!(added.realm, "hotline");
    assert_eq!(added.ha1_md5, MD5_1001_SECRET123);
    assert_eq!(added.ha1_sha256, SHA256_1001_SECRET123);
    assert!(
        added.password_hash.starts_with("$argon2id$v=19$"),
        "{}",
        added.password_hash
    );
    assert!(!added.password_hash.contains(PASSWORD));

    assert!(
        db.verify_operator_password("olena", PASSWORD)
            .await
            .expect("verify")
    );
    assert!(
        !db.verify_operator_password("olena", "secret124")
            .await
            .expect("verify")
    );
    assert!(
        !db.verify_operator_password("olena", "")
            .await
            .expect("verify")
    );
    assert!(
        !db.verify_operator_password("nobody", PASSWORD)
            .await
            .expect("verify")
    );

    // The same password for another operator gets another salt.
    let petro = new_operator("petro", "1002", &[]);
    let petro = db
        .add_operator(&petro, "пароль-12", "example.org")
        .await
        .expect("add");
    assert_eq!(petro.ha1_md5, MD5_1002_UKRAINIAN);
    assert_eq!(petro.ha1_sha256, SHA256_1002_UKRAINIAN);
    assert!(
        db.verify_operator_password("petro", "пароль-12")
            .await
            .expect("verify")
    );
    assert!(
        !db.verify_operator_password("olena", "пароль-12")
            .await
            .expect("verify")
    );

    // A new password replaces all three.
    assert!(
        db.set_operator_password("olena", "n3w-Passw0rd", "hotline")
            .await
            .expect("passwd")
    );
    let changed = db
        .operator_by_login("olena")
        .await
        .expect("lookup")
        .expect("present");
    assert_eq!(changed.ha1_md5, MD5_1001_NEW);
    assert_eq!(changed.ha1_sha256, SHA256_1001_NEW);
    assert_ne!(changed.password_hash, added.password_hash);
    assert!(changed.password_hash.starts_with("$argon2id$"));
    assert!(
        !db.verify_operator_password("olena", PASSWORD)
            .await
            .expect("verify")
    );
    assert!(
        db.verify_operator_password("olena", "n3w-Passw0rd")
            .await
            .expect("verify")
    );
    // Everything else is as it was.
    assert_eq!(
        changed,
        Operator {
            ha1_md5: changed.ha1_md5.clone(),
            ha1_sha256: changed.ha1_sha256.clone(),
            password_hash: changed.password_hash.clone(),
            ..added.clone()
        }
    );
    // Petro's are untouched.
    assert_eq!(
        db.operator_by_login("petro").await.expect("lookup"),
        Some(petro)
    );

    // The realm given replaces the stored one.
    assert!(
        db.set_operator_password("olena", "пароль-12", "example.org")
            .await
            .expect("passwd")
    );
    let moved = db
        .operator_by_login("olena")
        .await
        .expect("lookup")
        .expect("present");
    assert_eq!(moved.realm, "example.org");
    assert_eq!(moved.ha1_md5, MD5_1001_UKRAINIAN);
    assert_eq!(moved.ha1_sha256, SHA256_1001_UKRAINIAN);

    assert!(
        !db.set_operator_password("nobody", "n3w-Passw0rd", DEFAULT_REALM)
            .await
            .expect("passwd unknown")
    );

    // A disabled operator cannot sign in, even with the right password.
    raw_execute(
        db,
        "UPDATE operators SET disabled_at = created_at WHERE login = 'petro'",
    )
    .await;
    assert!(
        !db.verify_operator_password("petro", "пароль-12")
            .await
            .expect("verify")
    );
    let listed = db.list_operators().await.expect("list");
    assert_eq!(listed[1].disabled_at, Some(storage_precision(t0())));

    // A hash that does not parse is reported, not taken as a wrong password.
    raw_execute(
        db,
        "UPDATE operators SET password_hash = 'plain' WHERE login = 'olena'",
    )
    .await;
    match db.verify_operator_password("olena", "пароль-12").await {
        Err(StoreError::Corrupt {
            table: "operators",
            column: "password_hash",
            ..
        }) => {}
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

async fn operator_queues_replace(db: &TestDb) {
    let olena = db
        .add_operator(
            &new_operator("olena", "1001", &[("general", 0)]),
            PASSWORD,
            DEFAULT_REALM,
        )
        .await
        .expect("add");
    let petro = db
        .add_operator(
            &new_operator("petro", "1002", &[("general", 1)]),
            PASSWORD,
            DEFAULT_REALM,
        )
        .await
        .expect("add");
    let queues_of = |login: &'static str| async move {
        db.operator_by_login(login)
            .await
            .expect("lookup")
            .expect("present")
            .queues
    };

    let set = queues(&[("housing", 3), ("emergency", 0), ("general", 1)]);
    db.set_operator_queues(olena.id, &set).await.expect("set");
    assert_eq!(
        queues_of("olena").await,
        queues(&[("emergency", 0), ("general", 1), ("housing", 3)])
    );
    db.set_operator_queues(olena.id, &queues(&[("emergency", 7)]))
        .await
        .expect("replace");
    assert_eq!(queues_of("olena").await, queues(&[("emergency", 7)]));
    db.set_operator_queues(olena.id, &[]).await.expect("clear");
    assert_eq!(queues_of("olena").await, vec![]);
    // The other operator's queues are not touched.
    assert_eq!(queues_of("petro").await, petro.queues);

    let nobody = Uuid::new_v4();
    match db
        .set_operator_queues(nobody, &queues(&[("general", 0)]))
        .await
    {
        Err(StoreError::NotFound {
            what: "operator",
            id,
        }) => assert_eq!(id, nobody),
        other => panic!("expected NotFound, got {other:?}"),
    }
    match db.set_operator_queues(nobody, &[]).await {
        Err(StoreError::NotFound { .. }) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }

    // Concurrent replacements for one operator: each wins whole, none
    // fails, and the end state is one of the sets, never a mix.
    let sets = [
        queues(&[("a", 0), ("b", 1), ("c", 2)]),
        queues(&[("b", 5), ("d", 6)]),
    ];
    let mut tasks = tokio::task::JoinSet::new();
    for round in 0..10 {
        for set in &sets {
            let store = db.store().clone();
            let set = set.clone();
            let id = olena.id;
            tasks.spawn(async move {
                store
                    .set_operator_queues(id, &set)
                    .await
                    .unwrap_or_else(|e| panic!("round {round}: {e}"));
            });
        }
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("task did not panic");
    }
    let end = queues_of("olena").await;
    assert!(sets.contains(&end), "{end:?}");
}

async fn operator_queues_replace_is_atomic(db: &TestDb) {
    let olena = db
        .add_operator(
            &new_operator("olena", "1001", &[("general", 0), ("emergency", 1)]),
            PASSWORD,
            DEFAULT_REALM,
        )
        .await
        .expect("add");
    // Past the checks, the database refuses the third row (a repeated
    // queue) after the delete and two inserts: all of it must roll back.
    let result = db
        .replace_operator_queues(olena.id, &[("housing", 0), ("water", 0), ("housing", 1)])
        .await;
    assert!(
        matches!(result, Err(StoreError::Query { .. })),
        "{result:?}"
    );
    assert_eq!(
        db.operator_by_login("olena")
            .await
            .expect("lookup")
            .expect("present")
            .queues,
        olena.queues
    );
    // A negative penalty is refused by the database too.
    let result = db
        .replace_operator_queues(olena.id, &[("housing", -1)])
        .await;
    assert!(
        matches!(result, Err(StoreError::Query { .. })),
        "{result:?}"
    );
    assert_eq!(count(db, "SELECT count(*) FROM operator_queues").await, 2);
}

async fn operator_state_history(db: &TestDb) {
    let olena = db
        .add_operator(&new_operator("olena", "1001", &[]), PASSWORD, DEFAULT_REALM)
        .await
        .expect("add");
    let petro = db
        .add_operator(&new_operator("petro", "1002", &[]), PASSWORD, DEFAULT_REALM)
        .await
        .expect("add");
    assert_eq!(
        db.current_operator_state(olena.id).await.expect("current"),
        None
    );
    assert!(
        db.operator_state_history(olena.id)
            .await
            .expect("history")
            .is_empty()
    );

    let at = |ms: i64| t0() + Duration::milliseconds(ms);
    // Stored out of time order; two share a time and keep storing order.
    let steps = [
        (at(0), OperatorState::Available, None),
        (at(5_000), OperatorState::Ringing, None),
        (at(1_000), OperatorState::Paused, Some("кава ☕")),
        (at(2_000), OperatorState::Available, None),
        (at(5_000), OperatorState::OnCall, None),
        (at(65_000), OperatorState::WrapUp, None),
        (at(95_000), OperatorState::LoggedOut, Some("end of shift")),
    ];
    let mut ids = Vec::new();
    for (when, state, reason) in steps {
        ids.push(
            db.record_operator_state(olena.id, when, state, reason)
                .await
                .expect("record"),
        );
    }
    db.record_operator_state(petro.id, at(200_000), OperatorState::Available, None)
        .await
        .expect("record");

    let history = db.operator_state_history(olena.id).await.expect("history");
    let got: Vec<(DateTime<Utc>, OperatorState, Option<&str>)> = history
        .iter()
        .map(|c| (c.at, c.state, c.reason.as_deref()))
        .collect();
    let t = |ms| storage_precision(at(ms));
    assert_eq!(
        got,
        vec![
            (t(0), OperatorState::Available, None),
            (t(1_000), OperatorState::Paused, Some("кава ☕")),
            (t(2_000), OperatorState::Available, None),
            (t(5_000), OperatorState::Ringing, None),
            (t(5_000), OperatorState::OnCall, None),
            (t(65_000), OperatorState::WrapUp, None),
            (t(95_000), OperatorState::LoggedOut, Some("end of shift")),
        ]
    );
    assert!(history.iter().all(|c| c.operator_id == olena.id));
    assert_eq!(history[3].id, ids[1]);
    assert_eq!(history[4].id, ids[4]);
    assert!(history[3].id < history[4].id);

    let current = db
        .current_operator_state(olena.id)
        .await
        .expect("current")
        .expect("some");
    assert_eq!(current, history[6]);
    // Latest by time, not by storing order: a late write of an earlier
    // change does not become current.
    db.record_operator_state(olena.id, at(90_000), OperatorState::Available, None)
        .await
        .expect("record late");
    assert_eq!(
        db.current_operator_state(olena.id)
            .await
            .expect("current")
            .map(|c| c.state),
        Some(OperatorState::LoggedOut)
    );
    assert_eq!(
        db.current_operator_state(petro.id)
            .await
            .expect("current")
            .map(|c| c.state),
        Some(OperatorState::Available)
    );

    let nobody = Uuid::new_v4();
    match db
        .record_operator_state(nobody, at(0), OperatorState::Available, None)
        .await
    {
        Err(StoreError::NotFound {
            what: "operator",
            id,
        }) => assert_eq!(id, nobody),
        other => panic!("expected NotFound, got {other:?}"),
    }

    // A state the enum does not know is reported as corrupt.
    raw_execute(
        db,
        "UPDATE operator_state_changes SET state = 'lunch' WHERE reason = 'кава ☕'",
    )
    .await;
    match db.operator_state_history(olena.id).await {
        Err(StoreError::Corrupt {
            table: "operator_state_changes",
            column: "state",
            reason,
        }) => assert!(reason.contains("lunch"), "{reason}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}
