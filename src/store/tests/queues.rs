//! Queue event and queue statistics tests, each body run on SQLite and on
//! PostgreSQL (see `both_backends!` in the parent). The statistics tests
//! expect the same numbers, to the nanosecond and the exact float, from
//! both backends.

use std::collections::HashSet;
use std::time::Duration as StdDuration;

use super::super::encoding::{DbTime, DbUuid};
use super::super::operators::DEFAULT_REALM;
use super::*;

both_backends!(
    queue_events_round_trip,
    queue_event_errors,
    queue_event_kind_checked_by_database,
    queue_events_follow_calls_and_operators,
    queue_stats_over_a_day,
    queue_stats_of_quiet_queues,
);

use QueueEventKind::{Abandoned, Answered, Joined, Left, Position, Refused, Ringing, Transferred};

/// Midnight of the day the statistics tests describe.
fn day() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 14, 0, 0, 0)
        .single()
        .expect("valid fixed date")
}

/// `day()` plus hours, minutes and seconds (negative for the day before).
fn hms(h: i64, m: i64, s: i64) -> DateTime<Utc> {
    day() + Duration::hours(h) + Duration::minutes(m) + Duration::seconds(s)
}

async fn stored_call(db: &TestDb, arrived_at: DateTime<Utc>) -> Uuid {
    let call = new_call(arrived_at);
    db.insert_call(&call).await.expect("insert call");
    call.id
}

async fn end_call(db: &TestDb, id: Uuid, at: DateTime<Utc>, ended_by: EndedBy) {
    let end = CallEnd {
        at,
        ended_by,
        sip_status: None,
        disposition: Disposition::Answered,
    };
    assert!(db.mark_call_ended(id, end).await.expect("end call"));
}

async fn stored_operator(db: &TestDb, login: &str, extension: &str) -> Uuid {
    let new = NewOperator::new(login, extension, None, vec![], t0());
    db.add_operator(&new, "secret123", DEFAULT_REALM)
        .await
        .expect("add operator")
        .id
}

/// One caller's call with its events in `queue` (kind, time, wait in ms),
/// stored in the order given; the call ends at `ended` if given (nothing is
/// written to the queue then, as after a crash).
async fn caller(
    db: &TestDb,
    queue: &str,
    events: &[(QueueEventKind, DateTime<Utc>, Option<u64>)],
    ended: Option<DateTime<Utc>>,
) -> Uuid {
    let first = events.first().expect("a caller has events").1;
    // The IVR came first.
    let id = stored_call(db, first - Duration::minutes(1)).await;
    for &(kind, at, wait_ms) in events {
        let event = NewQueueEvent {
            wait_ms,
            ..NewQueueEvent::new(at, queue, id, kind)
        };
        db.add_queue_event(&event).await.expect("add queue event");
    }
    if let Some(at) = ended {
        end_call(db, id, at, EndedBy::Caller).await;
    }
    id
}

/// Inserts a row behind the store's back; the database's answer.
async fn raw_insert(store: &Store, call_id: Uuid, kind: &str) -> Result<(), sqlx::Error> {
    const SQL: &str = "INSERT INTO queue_events (at, queue, call_id, kind) VALUES ($1, $2, $3, $4)";
    on_pool!(store, |pool| sqlx::query(SQL)
        .bind(DbTime::new(t0()))
        .bind("general")
        .bind(DbUuid(call_id))
        .bind(kind)
        .execute(pool)
        .await
        .map(|_| ()))
}

async fn queue_events_round_trip(db: &TestDb) {
    let call = stored_call(db, t0()).await;
    let other = stored_call(db, t0()).await;
    let olena = stored_operator(db, "olena", "1001").await;
    let at = |ms: i64| t0() + Duration::milliseconds(ms);

    // Every kind, with every optional field somewhere; stored out of time
    // order, two sharing a time (which keep storing order).
    let events = [
        NewQueueEvent {
            operator_id: Some(olena),
            wait_ms: Some(31_500),
            ..NewQueueEvent::new(at(31_500), "general", call, Answered)
        },
        NewQueueEvent::new(at(0), "general", call, Joined),
        NewQueueEvent {
            position: Some(3),
            ..NewQueueEvent::new(at(0), "general", call, Position)
        },
        NewQueueEvent {
            position: Some(1),
            ..NewQueueEvent::new(at(20_000), "general", call, Position)
        },
        NewQueueEvent {
            operator_id: Some(olena),
            ..NewQueueEvent::new(at(25_000), "general", call, Ringing)
        },
        NewQueueEvent {
            wait_ms: Some(0),
            detail: Some("emergency".into()),
            ..NewQueueEvent::new(at(200), "housing_2", call, Transferred)
        },
        NewQueueEvent {
            detail: Some("повна черга".into()),
            ..NewQueueEvent::new(at(100), "housing_2", call, Refused)
        },
        NewQueueEvent {
            wait_ms: Some(u64::try_from(i64::MAX).expect("fits")),
            ..NewQueueEvent::new(at(40_000), "general", call, Left)
        },
        NewQueueEvent {
            wait_ms: Some(7),
            ..NewQueueEvent::new(at(50_000), "general", call, Abandoned)
        },
    ];
    let mut ids = Vec::new();
    for e in &events {
        ids.push(db.add_queue_event(e).await.expect("add"));
    }
    db.add_queue_event(&NewQueueEvent::new(at(1), "general", other, Joined))
        .await
        .expect("add other");

    let stored = |i: usize| {
        let e: &NewQueueEvent = &events[i];
        QueueEvent {
            id: ids[i],
            at: storage_precision(e.at),
            queue: e.queue.clone(),
            call_id: e.call_id,
            kind: e.kind,
            operator_id: e.operator_id,
            wait_ms: e.wait_ms,
            position: e.position,
            detail: e.detail.clone(),
        }
    };
    let got = db.queue_events_for_call(call).await.expect("read");
    assert_eq!(
        got,
        [1, 2, 6, 5, 3, 4, 0, 7, 8].map(stored).to_vec(),
        "by time, then storing order"
    );
    assert!(ids[1] < ids[2], "ids grow in storing order");
    let kinds: HashSet<QueueEventKind> = got.iter().map(|e| e.kind).collect();
    assert_eq!(kinds.len(), QueueEventKind::ALL.len(), "every kind stored");

    assert!(
        db.queue_events_for_call(Uuid::new_v4())
            .await
            .expect("read")
            .is_empty()
    );
}

async fn queue_event_errors(db: &TestDb) {
    let call = stored_call(db, t0()).await;
    let nobody = Uuid::new_v4();

    match db
        .add_queue_event(&NewQueueEvent::new(t0(), "general", nobody, Joined))
        .await
    {
        Err(StoreError::NotFound { what: "call", id }) => assert_eq!(id, nobody),
        other => panic!("expected NotFound call, got {other:?}"),
    }
    let ringing_nobody = NewQueueEvent {
        operator_id: Some(nobody),
        ..NewQueueEvent::new(t0(), "general", call, Ringing)
    };
    match db.add_queue_event(&ringing_nobody).await {
        Err(StoreError::NotFound {
            what: "operator",
            id,
        }) => assert_eq!(id, nobody),
        other => panic!("expected NotFound operator, got {other:?}"),
    }

    for bad in ["", "General", "черга", "a b", &"q".repeat(65)] {
        match db
            .add_queue_event(&NewQueueEvent::new(t0(), bad, call, Joined))
            .await
        {
            Err(StoreError::Invalid { field: "queue", .. }) => {}
            other => panic!("{bad:?}: expected Invalid queue, got {other:?}"),
        }
    }
    let at_zero = NewQueueEvent {
        position: Some(0),
        ..NewQueueEvent::new(t0(), "general", call, Position)
    };
    match db.add_queue_event(&at_zero).await {
        Err(StoreError::Invalid {
            field: "position", ..
        }) => {}
        other => panic!("expected Invalid position, got {other:?}"),
    }
    let too_far = NewQueueEvent {
        position: Some(u32::MAX),
        ..NewQueueEvent::new(t0(), "general", call, Position)
    };
    match db.add_queue_event(&too_far).await {
        Err(StoreError::OutOfRange {
            field: "position",
            value,
        }) => assert_eq!(value, u64::from(u32::MAX)),
        other => panic!("expected OutOfRange position, got {other:?}"),
    }
    let too_long = NewQueueEvent {
        wait_ms: Some(u64::MAX),
        ..NewQueueEvent::new(t0(), "general", call, Abandoned)
    };
    match db.add_queue_event(&too_long).await {
        Err(StoreError::OutOfRange {
            field: "wait_ms",
            value,
        }) => assert_eq!(value, u64::MAX),
        other => panic!("expected OutOfRange wait, got {other:?}"),
    }

    assert!(
        db.queue_events_for_call(call)
            .await
            .expect("read")
            .is_empty(),
        "nothing written"
    );
}

async fn queue_event_kind_checked_by_database(db: &TestDb) {
    let call = stored_call(db, t0()).await;
    // The same statement with a known kind goes in: what fails below is the
    // CHECK, not the statement.
    raw_insert(db, call, "joined").await.expect("known kind");
    for bad in ["lunch", "Joined", ""] {
        let err = raw_insert(db, call, bad).await.expect_err(bad);
        let kind = err.as_database_error().map(|e| e.kind());
        assert!(
            matches!(kind, Some(sqlx::error::ErrorKind::CheckViolation)),
            "{bad:?}: {err}"
        );
    }
    let stored = db.queue_events_for_call(call).await.expect("read");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].kind, Joined);
}

async fn queue_events_follow_calls_and_operators(db: &TestDb) {
    let olena = stored_operator(db, "olena", "1001").await;
    let call = stored_call(db, t0()).await;
    let other = stored_call(db, t0()).await;
    for id in [call, other] {
        db.add_queue_event(&NewQueueEvent::new(t0(), "general", id, Joined))
            .await
            .expect("join");
        let answered = NewQueueEvent {
            operator_id: Some(olena),
            wait_ms: Some(4_000),
            ..NewQueueEvent::new(t0() + Duration::seconds(4), "general", id, Answered)
        };
        db.add_queue_event(&answered).await.expect("answer");
    }

    // Removing the operator keeps the events, without the operator.
    assert!(db.remove_operator("olena").await.expect("remove"));
    let events = db.queue_events_for_call(call).await.expect("read");
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e.operator_id.is_none()), "{events:?}");
    assert_eq!(events[1].wait_ms, Some(4_000));

    // Deleting the call takes its events along, and only its own.
    raw_execute(db, &format!("DELETE FROM calls WHERE id = '{call}'")).await;
    assert!(
        db.queue_events_for_call(call)
            .await
            .expect("read")
            .is_empty()
    );
    assert_eq!(
        db.queue_events_for_call(other).await.expect("read").len(),
        2
    );
    let stats = db
        .queue_stats(
            "general",
            t0(),
            t0() + Duration::minutes(1),
            StdDuration::from_secs(20),
        )
        .await
        .expect("stats");
    assert_eq!(stats.answered, 1);
}

async fn queue_stats_over_a_day(db: &TestDb) {
    let now = hms(10, 0, 0);
    let sl = StdDuration::from_secs(20);
    let general = "general";

    // Before the day: not counted.
    caller(
        db,
        general,
        &[
            (Joined, hms(-1, 0, 0), None),
            (Answered, hms(-1, 1, 0), ms(60_000)),
        ],
        Some(hms(-1, 5, 0)),
    )
    .await;
    caller(
        db,
        general,
        &[
            (Joined, hms(0, -30, 0), None),
            (Abandoned, hms(0, -10, 0), ms(1_200_000)),
        ],
        Some(hms(0, -10, 0)),
    )
    .await;
    // Answered at the very start of the day: counted, within the level.
    caller(
        db,
        general,
        &[
            (Joined, hms(0, 0, -10), None),
            (Answered, hms(0, 0, 0), ms(10_000)),
        ],
        Some(hms(0, 3, 0)),
    )
    .await;
    // Joined, rung, answered within the level; still talking.
    caller(
        db,
        general,
        &[
            (Joined, hms(1, 0, 0), None),
            (Ringing, hms(1, 0, 5), None),
            (Answered, hms(1, 0, 10), ms(10_000)),
        ],
        None,
    )
    .await;
    // Answered outside the level.
    caller(
        db,
        general,
        &[
            (Joined, hms(2, 0, 0), None),
            (Position, hms(2, 0, 1), None),
            (Answered, hms(2, 0, 45), ms(45_000)),
        ],
        Some(hms(2, 10, 0)),
    )
    .await;
    // Exactly the level: within.
    caller(
        db,
        general,
        &[
            (Joined, hms(2, 30, 0), None),
            (Answered, hms(2, 30, 20), ms(20_000)),
        ],
        Some(hms(2, 35, 0)),
    )
    .await;
    // Answered with no wait recorded: answered, not within, not averaged.
    caller(
        db,
        general,
        &[
            (Joined, hms(2, 40, 0), None),
            (Answered, hms(2, 41, 0), None),
        ],
        Some(hms(2, 45, 0)),
    )
    .await;
    // Hung up while waiting.
    caller(
        db,
        general,
        &[
            (Joined, hms(3, 0, 0), None),
            (Abandoned, hms(3, 0, 30), ms(30_000)),
        ],
        Some(hms(3, 0, 30)),
    )
    .await;
    // Transferred to the emergency queue, waiting there now.
    let transferred = caller(
        db,
        general,
        &[
            (Joined, hms(4, 0, 0), None),
            (Transferred, hms(4, 0, 15), ms(15_000)),
        ],
        None,
    )
    .await;
    db.add_queue_event(&NewQueueEvent::new(
        hms(4, 0, 15),
        "emergency",
        transferred,
        Joined,
    ))
    .await
    .expect("join emergency");
    // Waiting when the server crashed; the call was closed at start-up
    // with no queue event. Counted, it would be the longest wait (5 h).
    let ghost = caller(db, general, &[(Joined, hms(5, 0, 0), None)], None).await;
    end_call(db, ghost, hms(5, 1, 0), EndedBy::Shutdown).await;
    // Joined and answered in the same microsecond: storing order decides
    // that the answer is the latest; still talking.
    caller(
        db,
        general,
        &[
            (Joined, hms(6, 0, 0), None),
            (Answered, hms(6, 0, 0), ms(0)),
        ],
        None,
    )
    .await;
    // Refused (queue full), hearing the message.
    let refused = stored_call(db, hms(7, 0, 0)).await;
    let refusal = NewQueueEvent {
        detail: Some("full".into()),
        ..NewQueueEvent::new(hms(7, 0, 0), general, refused, Refused)
    };
    db.add_queue_event(&refusal).await.expect("refuse");
    // Waiting callers. This one left and joined again: waits since the
    // second join (counted from the first, 2 h would be the longest).
    caller(
        db,
        general,
        &[
            (Joined, hms(8, 0, 0), None),
            (Left, hms(8, 10, 0), ms(600_000)),
            (Joined, hms(9, 52, 0), None),
        ],
        None,
    )
    .await;
    // The longest wait: 10 minutes, moved up to position 2.
    let longest = caller(db, general, &[(Joined, hms(9, 50, 0), None)], None).await;
    let moved_up = NewQueueEvent {
        position: Some(2),
        ..NewQueueEvent::new(hms(9, 51, 0), general, longest, Position)
    };
    db.add_queue_event(&moved_up).await.expect("position");
    // Being rung.
    caller(
        db,
        general,
        &[
            (Joined, hms(9, 55, 0), None),
            (Ringing, hms(9, 58, 0), None),
        ],
        None,
    )
    .await;
    // Answered after `now`: waiting as of `now`, the answer not counted.
    caller(
        db,
        general,
        &[
            (Joined, hms(9, 59, 0), None),
            (Answered, hms(10, 0, 30), ms(90_000)),
        ],
        None,
    )
    .await;
    // Abandoned exactly at `now`: counted.
    caller(
        db,
        general,
        &[
            (Joined, hms(9, 59, 30), None),
            (Abandoned, hms(10, 0, 0), ms(30_000)),
        ],
        Some(hms(10, 0, 0)),
    )
    .await;
    // Joined after `now`: not waiting yet.
    caller(db, general, &[(Joined, hms(10, 1, 0), None)], None).await;
    // Another queue's answer.
    caller(
        db,
        "emergency",
        &[
            (Joined, hms(1, 0, 0), None),
            (Answered, hms(1, 0, 5), ms(5_000)),
        ],
        Some(hms(1, 5, 0)),
    )
    .await;

    let stats = db
        .queue_stats(general, day(), now, sl)
        .await
        .expect("stats");
    assert_eq!(
        stats,
        QueueStats {
            queue: general.into(),
            waiting_now: 4,
            longest_wait: Some(StdDuration::from_secs(10 * 60)),
            // Midnight, 1:00, 2:00, 2:30, 2:40 and 6:00.
            answered: 6,
            // 3:00 and 10:00.
            abandoned: 2,
            transferred: 1,
            // Waits of 10 s, 10 s, 20 s and 0 s.
            answered_within_service_level: 4,
            service_level_pct: Some(50.0),
            // (10 + 10 + 45 + 20 + 0) s / 5.
            average_wait: Some(StdDuration::from_millis(17_000)),
        }
    );

    // A level a tenth of a millisecond short of 20 s leaves out the wait
    // of exactly 20 s: 3 of 8.
    let stats = db
        .queue_stats(general, day(), now, StdDuration::from_micros(19_999_900))
        .await
        .expect("stats");
    assert_eq!(stats.answered_within_service_level, 3);
    assert_eq!(stats.service_level_pct, Some(37.5));

    // A later start of the period: from 2:30.
    let stats = db
        .queue_stats(general, hms(2, 30, 0), now, sl)
        .await
        .expect("stats");
    assert_eq!(
        (
            stats.answered,
            stats.abandoned,
            stats.transferred,
            stats.answered_within_service_level,
            stats.service_level_pct,
            stats.average_wait,
        ),
        (3, 2, 1, 2, Some(40.0), Some(StdDuration::from_secs(10)))
    );
    assert_eq!(
        stats.waiting_now, 4,
        "waiting does not depend on the period"
    );

    // A `now` with a sub-microsecond part: the wait is measured from it.
    let stats = db
        .queue_stats(general, day(), now + Duration::nanoseconds(1_500), sl)
        .await
        .expect("stats");
    assert_eq!(
        stats.longest_wait,
        Some(StdDuration::from_secs(600) + StdDuration::from_nanos(1_500))
    );

    // The emergency queue: the transferred caller waits there since 4:00:15.
    let stats = db
        .queue_stats("emergency", day(), now, sl)
        .await
        .expect("stats");
    assert_eq!(
        stats,
        QueueStats {
            queue: "emergency".into(),
            waiting_now: 1,
            longest_wait: Some(StdDuration::from_secs(5 * 3600 + 59 * 60 + 45)),
            answered: 1,
            abandoned: 0,
            transferred: 0,
            answered_within_service_level: 1,
            service_level_pct: Some(100.0),
            average_wait: Some(StdDuration::from_secs(5)),
        }
    );
}

async fn queue_stats_of_quiet_queues(db: &TestDb) {
    let now = hms(10, 0, 0);
    let sl = StdDuration::from_secs(20);
    let empty = db
        .queue_stats("general", day(), now, sl)
        .await
        .expect("stats");
    assert_eq!(
        empty,
        QueueStats {
            queue: "general".into(),
            waiting_now: 0,
            longest_wait: None,
            answered: 0,
            abandoned: 0,
            transferred: 0,
            answered_within_service_level: 0,
            service_level_pct: None,
            average_wait: None,
        }
    );

    // Callers waiting, none answered or abandoned yet: no service level.
    // One of them is only known by a position (its join was lost): waiting,
    // but with no join to measure from.
    caller(db, "general", &[(Joined, hms(9, 0, 0), None)], None).await;
    caller(db, "general", &[(Position, hms(8, 0, 0), None)], None).await;
    // A transfer does not count towards the service level either.
    caller(
        db,
        "general",
        &[
            (Joined, hms(7, 0, 0), None),
            (Transferred, hms(7, 1, 0), ms(60_000)),
        ],
        None,
    )
    .await;
    let stats = db
        .queue_stats("general", day(), now, sl)
        .await
        .expect("stats");
    assert_eq!(
        stats,
        QueueStats {
            transferred: 1,
            waiting_now: 2,
            longest_wait: Some(StdDuration::from_secs(3600)),
            ..empty.clone()
        }
    );

    // Only abandoned: 0 %.
    caller(
        db,
        "general",
        &[
            (Joined, hms(9, 30, 0), None),
            (Abandoned, hms(9, 31, 0), ms(60_000)),
        ],
        Some(hms(9, 31, 0)),
    )
    .await;
    let stats = db
        .queue_stats("general", day(), now, sl)
        .await
        .expect("stats");
    assert_eq!(stats.abandoned, 1);
    assert_eq!(stats.service_level_pct, Some(0.0));
    assert_eq!(stats.average_wait, None);

    // A period that ends before it starts counts nothing.
    let stats = db
        .queue_stats("general", now, day(), sl)
        .await
        .expect("stats");
    assert_eq!(
        (stats.answered, stats.abandoned, stats.transferred),
        (0, 0, 0)
    );
}

/// A wait of `v` milliseconds, for the event tables above.
fn ms(v: u64) -> Option<u64> {
    Some(v)
}
