//! Users and sessions, each body run on SQLite and on PostgreSQL.

use super::super::operators::DEFAULT_REALM;
use super::*;

both_backends!(
    users_are_added_checked_and_verified,
    operator_users_are_linked_to_their_operator,
    sessions_live_expire_and_end,
);

fn new_user(login: &str, role: Role, operator: Option<&str>) -> NewUser {
    NewUser {
        login: login.into(),
        display_name: format!("{login} (тест)"),
        role,
        operator_login: operator.map(str::to_string),
        executor: None,
        head: false,
    }
}

async fn users_are_added_checked_and_verified(db: &TestDb) {
    let admin = db
        .add_user(&new_user("admin", Role::Admin, None), "correct horse", t0())
        .await
        .expect("add admin");
    assert_eq!(admin.role, Role::Admin);
    assert_eq!(admin.display_name, "admin (тест)");
    let found = db
        .verify_user_password("admin", "correct horse")
        .await
        .unwrap();
    assert_eq!(found.map(|u| u.id), Some(admin.id));
    assert_eq!(
        db.verify_user_password("admin", "wrong horse")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        db.verify_user_password("nobody", "correct horse")
            .await
            .unwrap(),
        None
    );

    // Duplicates and bad input: nothing written.
    let again = db
        .add_user(
            &new_user("admin", Role::Supervisor, None),
            "another pass",
            t0(),
        )
        .await;
    assert!(
        matches!(
            again,
            Err(StoreError::AlreadyExists {
                what: "user login",
                ..
            })
        ),
        "{again:?}"
    );
    for (user, password, field) in [
        (
            new_user("Bad Login", Role::Admin, None),
            "long enough",
            "login",
        ),
        (new_user("short", Role::Admin, None), "2short", "password"),
        (
            new_user("sup", Role::Supervisor, Some("olena")),
            "long enough",
            "operator",
        ),
        (
            new_user("op", Role::Operator, None),
            "long enough",
            "operator",
        ),
        (
            new_user("op", Role::Operator, Some("nobody")),
            "long enough",
            "operator",
        ),
    ] {
        let result = db.add_user(&user, password, t0()).await;
        assert!(
            matches!(&result, Err(StoreError::Invalid { field: f, .. }) if *f == field),
            "{field}: {result:?}"
        );
    }
    assert_eq!(db.list_users().await.unwrap().len(), 1);

    // A new password works and the old one no longer does.
    assert!(
        db.set_user_password("admin", "battery staple")
            .await
            .unwrap()
    );
    assert!(
        db.verify_user_password("admin", "correct horse")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        db.verify_user_password("admin", "battery staple")
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        !db.set_user_password("nobody", "battery staple")
            .await
            .unwrap()
    );
    assert!(db.remove_user("admin").await.unwrap());
    assert!(!db.remove_user("admin").await.unwrap());
}

async fn operator_users_are_linked_to_their_operator(db: &TestDb) {
    let op = NewOperator::new("olena", "1001", Some("Олена"), Vec::new(), t0());
    let op = db
        .add_operator(&op, "sip-secret", DEFAULT_REALM)
        .await
        .unwrap();
    let user = db
        .add_user(
            &new_user("olena", Role::Operator, Some("olena")),
            "console pass",
            t0(),
        )
        .await
        .expect("operator user");
    assert_eq!(user.operator_id, Some(op.id));
    assert_eq!(
        db.user_of_operator(op.id).await.unwrap().map(|u| u.id),
        Some(user.id)
    );
    // One user per operator.
    let second = db
        .add_user(
            &new_user("olena2", Role::Operator, Some("olena")),
            "console pass",
            t0(),
        )
        .await;
    assert!(
        matches!(
            second,
            Err(StoreError::AlreadyExists {
                what: "operator's user",
                ..
            })
        ),
        "{second:?}"
    );
    // The operator goes; the user stays, unlinked.
    assert!(db.remove_operator("olena").await.unwrap());
    let user = db.user_by_login("olena").await.unwrap().unwrap();
    assert_eq!(user.operator_id, None);
}

async fn sessions_live_expire_and_end(db: &TestDb) {
    let limits = SessionLimits::default();
    let user = db
        .add_user(
            &new_user("sup", Role::Supervisor, None),
            "supervisor pass",
            t0(),
        )
        .await
        .unwrap();
    let new = db.create_session(user.id, t0(), limits).await.unwrap();
    assert_eq!(new.token.len(), 64);
    assert_ne!(new.token, new.csrf_token);
    let session = db
        .session(&new.token, t0() + Duration::minutes(5), limits)
        .await
        .unwrap();
    let session = session.expect("live");
    assert_eq!(
        (session.user.id, &session.csrf_token),
        (user.id, &new.csrf_token)
    );
    assert!(
        db.session("not-a-token", t0(), limits)
            .await
            .unwrap()
            .is_none()
    );

    // Used every hour: lives until the absolute expiry, not beyond.
    for h in 1..12 {
        let at = t0() + Duration::hours(h);
        assert!(
            db.session(&new.token, at, limits).await.unwrap().is_some(),
            "{h} h"
        );
    }
    let at = t0() + Duration::hours(12);
    assert!(
        db.session(&new.token, at, limits).await.unwrap().is_none(),
        "expired"
    );
    assert!(
        db.session(&new.token, t0() + Duration::hours(1), limits)
            .await
            .unwrap()
            .is_none(),
        "an expired session is deleted, not just refused"
    );

    // Idle for longer than the limit: gone.
    let idle = db.create_session(user.id, t0(), limits).await.unwrap();
    let later = t0() + limits.idle + Duration::minutes(1);
    assert!(
        db.session(&idle.token, later, limits)
            .await
            .unwrap()
            .is_none()
    );

    // Sign-out; a new password ends every session.
    let a = db.create_session(user.id, t0(), limits).await.unwrap();
    let b = db.create_session(user.id, t0(), limits).await.unwrap();
    db.end_session(&a.token).await.unwrap();
    assert!(db.session(&a.token, t0(), limits).await.unwrap().is_none());
    assert!(db.session(&b.token, t0(), limits).await.unwrap().is_some());
    db.set_user_password("sup", "new supervisor pass")
        .await
        .unwrap();
    assert!(db.session(&b.token, t0(), limits).await.unwrap().is_none());

    // A session of a removed user is gone with them.
    let c = db.create_session(user.id, t0(), limits).await.unwrap();
    db.remove_user("sup").await.unwrap();
    assert!(db.session(&c.token, t0(), limits).await.unwrap().is_none());
    assert_eq!(
        db.delete_expired_sessions(t0() + Duration::days(1))
            .await
            .unwrap(),
        0
    );
}
