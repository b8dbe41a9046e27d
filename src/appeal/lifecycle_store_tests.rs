//! The card's life in the database, on SQLite and on PostgreSQL: a
//! registration starts it (executors, history, the city's year), a step is
//! written whole or not at all, a stale step is refused, the history is
//! append-only, curators and executor users are checked.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};

use super::lifecycle::{Action, Actor, EntryKind, ExecutorCode, Lifecycle, Notice};
use super::lifecycle_store::Author;
use super::record::AppealStatus;
use crate::store::testing::{TestDb, both_backends, sample_appeal as card};
use crate::store::tests::{raw_execute, raw_try_execute};
use crate::store::{NewUser, Role, StoreError};

both_backends!(
    a_registration_starts_the_cards_life,
    a_card_filed_at_new_year_in_kyiv_has_the_new_years_number,
    a_step_is_written_whole_and_a_stale_one_is_refused,
    the_history_is_append_only,
    executor_users_and_curators_are_checked,
    the_watcher_delivers_warns_and_marks_overdue_on_time_from_the_store,
    cards_are_listed_by_executor_and_state,
);

/// 11:00 on Wednesday 2 December 2026, Kyiv time: within working hours.
fn wednesday() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 2, 9, 0, 0)
        .single()
        .expect("a time")
}

async fn category(db: &TestDb) -> uuid::Uuid {
    crate::store::testing::sample_category(db, "sample", wednesday()).await
}

fn operator() -> Author {
    Author {
        user_id: None,
        login: "op1".into(),
        role: "operator".into(),
        executor: None,
    }
}

async fn a_registration_starts_the_cards_life(db: &TestDb) {
    let category = category(db).await;
    let rules = Lifecycle::default();
    let at = wednesday();
    let registered = db
        .register_appeal(&card(category), &rules, &operator(), at)
        .await
        .expect("registered");
    let record = &registered.record;
    let lead = db.category(category).await.unwrap().unwrap().executor.code;
    assert_eq!(record.executor, lead, "the executor is a key, not a name");
    assert_eq!(
        registered.notices,
        vec![Notice::Executor(ExecutorCode::parse(&lead).unwrap())]
    );
    let stored = db.appeal_card(record.id).await.unwrap().expect("the card");
    assert_eq!(stored.card.status, record.status);
    assert_eq!(stored.card.parts.len(), 1);
    assert!(stored.card.parts[0].lead);
    assert_eq!(stored.card.term_start, at);
    assert_eq!(stored.revision, 0);
    let history = db.appeal_history(record.id).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].kind, EntryKind::Registered);
    assert_eq!(
        (history[0].login.as_str(), history[0].role.as_str()),
        ("op1", "operator")
    );
    assert_eq!(history[0].at, at);
    assert_eq!(
        history[0]
            .details
            .executors
            .as_ref()
            .map(|e| e[0].executor.to_string()),
        Some(lead)
    );
}

async fn a_card_filed_at_new_year_in_kyiv_has_the_new_years_number(db: &TestDb) {
    let category = category(db).await;
    let rules = Lifecycle::default();
    // 00:30 on 1 January 2027 in Kyiv is 22:30 on 31 December 2026 UTC.
    let at = Utc
        .with_ymd_and_hms(2026, 12, 31, 22, 30, 0)
        .single()
        .unwrap();
    let record = db
        .register_appeal(&card(category), &rules, &operator(), at)
        .await
        .expect("registered")
        .record;
    assert_eq!(record.registration_number, "1580-2027-000001");
    // On a holiday night it waits for the executor's hours (the default
    // calendar has no holidays: Friday 1 January 2027, 08:00).
    let stored = db.appeal_card(record.id).await.unwrap().unwrap();
    assert_eq!(stored.card.status, AppealStatus::Registered);
    assert_eq!(
        stored.card.delivery_at,
        Some(Utc.with_ymd_and_hms(2027, 1, 1, 6, 0, 0).single().unwrap())
    );
}

async fn a_step_is_written_whole_and_a_stale_one_is_refused(db: &TestDb) {
    let category = category(db).await;
    let rules = Lifecycle::default();
    let at = wednesday();
    let record = db
        .register_appeal(&card(category), &rules, &operator(), at)
        .await
        .unwrap()
        .record;
    let stored = db.appeal_card(record.id).await.unwrap().unwrap();
    let code = stored.card.parts[0].executor.clone();
    let actor = Actor::User {
        login: "exec1".into(),
        role: Role::Executor,
        executor: Some(code.clone()),
    };
    let author = Author {
        user_id: None,
        login: "exec1".into(),
        role: "executor".into(),
        executor: Some(code.clone()),
    };
    let later = at + TimeDelta::minutes(20);
    let accept = Action::Accept {
        responsible: "Гнатюк О. В.".into(),
    };
    let outcome = rules
        .handle(&stored.card, accept.clone(), &actor, later)
        .expect("accepted");
    db.write_step(record.id, stored.revision, &outcome, &author, later)
        .await
        .expect("written");
    // The same step computed from the card as it was is stale now.
    assert!(matches!(
        db.write_step(record.id, stored.revision, &outcome, &author, later)
            .await,
        Err(StoreError::Stale { .. })
    ));
    let now = db.appeal_card(record.id).await.unwrap().unwrap();
    assert_eq!(now.card.status, AppealStatus::InProgress);
    assert_eq!(
        now.card.parts[0].responsible.as_deref(),
        Some("Гнатюк О. В.")
    );
    assert_eq!(now.revision, 1);
    let history = db.appeal_history(record.id).await.unwrap();
    assert_eq!(history.len(), 2, "the stale step left no entry");
    assert_eq!(history[1].kind, EntryKind::Accepted);
    assert_eq!(history[1].executor.as_deref(), Some(code.as_str()));
    assert_eq!(history[1].from, stored.card.status);
    assert_eq!(history[1].to, AppealStatus::InProgress);

    // A request round-trips through its JSON; the decision queue's due is
    // kept beside it.
    let request = Action::RequestExtension {
        until: now.card.deadline + TimeDelta::days(4),
        reason: "Чекаємо на матеріали".into(),
        documents: vec![uuid::Uuid::new_v4()],
    };
    let outcome = rules.handle(&now.card, request, &actor, later).unwrap();
    db.write_step(record.id, now.revision, &outcome, &author, later)
        .await
        .unwrap();
    let pending = db.appeal_card(record.id).await.unwrap().unwrap();
    assert_eq!(pending.card.pending, outcome.card.pending);
    assert_eq!(pending.card, outcome.card);
    let history = db.appeal_history(record.id).await.unwrap();
    assert_eq!(history[2].files, outcome.entry.files);
    assert_eq!(history[2].text.as_deref(), Some("Чекаємо на матеріали"));
}

async fn the_history_is_append_only(db: &TestDb) {
    let category = category(db).await;
    let record = db
        .register_appeal(
            &card(category),
            &Lifecycle::default(),
            &operator(),
            wednesday(),
        )
        .await
        .unwrap()
        .record;
    for sql in [
        "UPDATE appeal_history SET body = 'forged'",
        "UPDATE appeal_history SET login = 'someone-else'",
        "DELETE FROM appeal_history",
    ] {
        assert!(raw_try_execute(db, sql).await.is_err(), "{sql} is refused");
    }
    assert_eq!(db.appeal_history(record.id).await.unwrap().len(), 1);
    // The card's retention removes its history with it.
    raw_execute(db, "DELETE FROM appeals").await;
    assert!(db.appeal_history(record.id).await.unwrap().is_empty());
}

async fn executor_users_and_curators_are_checked(db: &TestDb) {
    category(db).await;
    let user = |login: &str, role: Role, executor: Option<&str>, head: bool| NewUser {
        login: login.into(),
        display_name: login.into(),
        role,
        operator_login: None,
        executor: executor.map(str::to_string),
        head,
    };
    let password = "correct horse battery";
    let head = db
        .add_user(
            &user("gnatiuk", Role::Executor, Some("vodokanal"), true),
            password,
            wednesday(),
        )
        .await
        .expect("an executor user");
    assert_eq!(
        (head.executor.as_deref(), head.head),
        (Some("vodokanal"), true)
    );
    for (bad, field) in [
        (user("x1", Role::Executor, None, false), "executor"),
        (
            user("x2", Role::Executor, Some("nobody"), false),
            "executor",
        ),
        (
            user("x3", Role::Supervisor, Some("vodokanal"), false),
            "executor",
        ),
        (user("x4", Role::Supervisor, None, true), "executor"),
    ] {
        match db.add_user(&bad, password, wednesday()).await {
            Err(StoreError::Invalid { field: f, reason }) => {
                assert_eq!(f, field, "{reason}");
                assert!(!reason.is_empty());
            }
            other => panic!("{}: {other:?}", bad.login),
        }
    }
    db.add_user(
        &user("deputy", Role::Supervisor, None, false),
        password,
        wednesday(),
    )
    .await
    .unwrap();
    db.set_curator("vodokanal", Some("deputy"), None, wednesday())
        .await
        .expect("a curator");
    assert_eq!(
        db.curator_of("vodokanal").await.unwrap().as_deref(),
        Some("deputy")
    );
    assert!(matches!(
        db.set_curator("nobody", Some("deputy"), None, wednesday())
            .await,
        Err(StoreError::Invalid {
            field: "executor",
            ..
        })
    ));
    assert!(matches!(
        db.set_curator("vodokanal", Some("ghost"), None, wednesday())
            .await,
        Err(StoreError::Invalid {
            field: "curator",
            ..
        })
    ));
    let people = db.executor_people().await.unwrap();
    let vodokanal = people
        .iter()
        .find(|e| e.code == "vodokanal")
        .expect("listed");
    assert_eq!(vodokanal.users, vec![("gnatiuk".to_string(), true)]);
    assert_eq!(vodokanal.curator.as_deref(), Some("deputy"));
    db.set_curator("vodokanal", None, None, wednesday())
        .await
        .unwrap();
    assert_eq!(db.curator_of("vodokanal").await.unwrap(), None);
}

/// The watcher in chosen moments: it works from the stored card alone (a
/// fresh `Lifecycle` each time, as after a restart).
async fn the_watcher_delivers_warns_and_marks_overdue_on_time_from_the_store(db: &TestDb) {
    use super::watcher::watch_once;
    category(db).await;
    let version = db.current_classifier_version().await.unwrap().unwrap();
    let emergency = db
        .categories(version.number)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.deadline == super::classifier::DeadlineClass::Emergency)
        .expect("the sample has an emergency type");
    // 23:00 on Wednesday, Kyiv: outside the default calendar's hours.
    let at = Utc
        .with_ymd_and_hms(2026, 12, 2, 21, 0, 0)
        .single()
        .unwrap();
    let record = db
        .register_appeal(&card(emergency.id), &Lifecycle::default(), &operator(), at)
        .await
        .unwrap()
        .record;
    let (done, next) = watch_once(db, &Lifecycle::default(), at).await.unwrap();
    assert!(done.is_empty());
    // The warning (the last quarter of 3 hours) comes before 08:00.
    assert_eq!(next, Some(at + TimeDelta::minutes(135)));
    let (done, _) = watch_once(db, &Lifecycle::default(), at + TimeDelta::minutes(135))
        .await
        .unwrap();
    assert_eq!(
        done.iter().map(|d| d.step).collect::<Vec<_>>(),
        vec![EntryKind::DueSoon]
    );
    // At 3 h exactly nothing; at 3 h + 1 s overdue, the staff told.
    let (done, next) = watch_once(db, &Lifecycle::default(), at + TimeDelta::hours(3))
        .await
        .unwrap();
    assert!(done.is_empty(), "{done:?}");
    assert!(next.is_some_and(
        |n| n > at + TimeDelta::hours(3) && n <= at + TimeDelta::seconds(3 * 3600 + 1)
    ));
    let (done, next) = watch_once(
        db,
        &Lifecycle::default(),
        at + TimeDelta::seconds(3 * 3600 + 1),
    )
    .await
    .unwrap();
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(done[0].step, EntryKind::Overdue);
    assert!(done[0].notices.contains(&Notice::Supervisors));
    // Then the delivery at 08:00 Kyiv (06:00 UTC), and nothing after.
    assert_eq!(
        next,
        Some(Utc.with_ymd_and_hms(2026, 12, 3, 6, 0, 0).single().unwrap())
    );
    let (done, next) = watch_once(db, &Lifecycle::default(), next.unwrap())
        .await
        .unwrap();
    assert_eq!(
        done.iter().map(|d| d.step).collect::<Vec<_>>(),
        vec![EntryKind::Delivered]
    );
    assert_eq!(next, None);
    let history: Vec<EntryKind> = db
        .appeal_history(record.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        history,
        vec![
            EntryKind::Registered,
            EntryKind::DueSoon,
            EntryKind::Overdue,
            EntryKind::Delivered
        ]
    );
    let stored = db.appeal_card(record.id).await.unwrap().unwrap();
    assert_eq!(stored.card.status, AppealStatus::Delivered);
    assert!(stored.card.overdue_noted);
}

async fn cards_are_listed_by_executor_and_state(db: &TestDb) {
    let category = category(db).await;
    let rules = Lifecycle::default();
    let at = wednesday();
    let first = db
        .register_appeal(&card(category), &rules, &operator(), at)
        .await
        .unwrap()
        .record;
    let later = db
        .register_appeal(
            &card(category),
            &rules,
            &operator(),
            at + TimeDelta::hours(1),
        )
        .await
        .unwrap()
        .record;
    let code = first.executor.clone();
    let numbers = |list: Vec<super::lifecycle_store::CardSummary>| -> Vec<String> {
        list.into_iter()
            .map(|s| s.stored.registration_number)
            .collect()
    };
    let all = numbers(db.card_list(None, None).await.unwrap());
    assert_eq!(
        all,
        vec![
            first.registration_number.to_string(),
            later.registration_number.to_string()
        ],
        "by deadline"
    );
    assert_eq!(
        numbers(db.card_list(Some(&code), None).await.unwrap()).len(),
        2
    );
    assert!(db.card_list(Some("nobody"), None).await.unwrap().is_empty());
    let delivered = db
        .card_list(None, Some(AppealStatus::Delivered))
        .await
        .unwrap();
    assert_eq!(delivered.len(), 2);
    assert_eq!(
        delivered[0].stored.card.parts.len(),
        1,
        "with its executors"
    );
    assert!(
        db.card_list(Some(&code), Some(AppealStatus::Closed))
            .await
            .unwrap()
            .is_empty()
    );
    let inbox = db.executor_cards(&code, at).await.unwrap();
    assert_eq!(inbox.len(), 2);
    assert!(db.cards_awaiting_decision().await.unwrap().is_empty());
}
