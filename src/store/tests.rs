//! Store tests. Each body in `both_backends!` runs twice, on a fresh SQLite
//! file and on a fresh PostgreSQL database (see `testing` for how the
//! PostgreSQL variant fails when the server is unreachable and how to skip
//! it on purpose).

use std::net::SocketAddr;

use chrono::{DateTime, Duration, TimeZone, Utc};
use uuid::Uuid;

use super::encoding::{DbTime, DbUuid};
use super::testing::{TestDb, both_backends};
use super::*;
use crate::secret::redact_url;

both_backends!(
    migrations_are_idempotent,
    demo_seed_twice_adds_nothing,
    a_database_that_takes_writes_passes_the_check,
    call_lifecycle,
    call_end_is_idempotent,
    answer_and_end_with_the_recording_in_one_transaction,
    unknown_ids,
    duplicate_ids,
    events_are_ordered,
    recording_lifecycle,
    unfinished_calls_and_recordings,
    time_round_trip,
    time_ordering,
    list_calls_newest_first,
    unicode_text,
    concurrent_inserts,
    hot_writes_are_committed_in_groups,
    corrupt_enum_is_reported,
    active_repair_works_around_now,
    close_repair_work,
    repair_works_at_address,
    repair_work_insert_is_atomic,
);

// The rest, in files of their own.
mod announcements;
mod blocking;
mod migrations;
mod operators;
mod queues;
mod users;

pub(crate) fn t0() -> DateTime<Utc> {
    // A fixed instant with a sub-microsecond part, to see it truncated.
    Utc.with_ymd_and_hms(2025, 3, 14, 9, 26, 53)
        .single()
        .expect("valid fixed date")
        + Duration::nanoseconds(589_793_238)
}

pub(crate) fn new_call(arrived_at: DateTime<Utc>) -> NewCall {
    NewCall {
        id: Uuid::new_v4(),
        sip_call_id: format!("{}@192.0.2.10", Uuid::new_v4().simple()),
        caller_raw: "sip:+15551234567@192.0.2.10".into(),
        caller_e164: Some("+15551234567".into()),
        called_number: "112".into(),
        source: "trunk-a".into(),
        source_addr: "192.0.2.10:5060".parse().expect("valid literal address"),
        transport: Transport::Udp,
        arrived_at,
        direction: super::Direction::Inbound,
    }
}

pub(crate) fn new_recording(call_id: Uuid, started_at: DateTime<Utc>) -> NewRecording {
    NewRecording {
        id: Uuid::new_v4(),
        call_id,
        path: format!("2025/03/14/{call_id}.wav"),
        started_at,
        sample_rate: 8000,
        channels: 2,
    }
}

/// Runs raw SQL on the store's pool (for checks the API does not offer).
/// Runs raw SQL that may fail (a trigger's refusal, a constraint).
pub(crate) async fn raw_try_execute(store: &Store, sql: &str) -> Result<(), sqlx::Error> {
    use sqlx::Executor;
    on_pool!(store, |pool| pool.execute(sql).await.map(drop))
}

pub(crate) async fn raw_execute(store: &Store, sql: &str) {
    use sqlx::Executor;
    on_pool!(store, |pool| {
        pool.execute(sql).await.expect("raw SQL");
    })
}

async fn migrations_are_idempotent(db: &TestDb) {
    let call = new_call(t0());
    db.insert_call(&call).await.expect("insert");

    // Connecting again runs the migrator again: it must skip what is applied
    // and keep the data.
    for _ in 0..2 {
        let again = Store::connect(db.url()).await.expect("reconnect");
        assert_eq!(again.backend_name(), db.backend_name());
        let got = again
            .get_call(call.id)
            .await
            .expect("get")
            .expect("present");
        assert_eq!(got.id, call.id);
        let versions: Vec<i64> = on_pool!(again, |pool| sqlx::query_scalar(
            "SELECT version FROM _sqlx_migrations ORDER BY version"
        )
        .fetch_all(pool)
        .await
        .expect("migration table"));
        let expected: Vec<i64> = match again.backend_name() {
            "sqlite" => SQLITE_MIGRATOR.iter().map(|m| m.version).collect(),
            _ => POSTGRES_MIGRATOR.iter().map(|m| m.version).collect(),
        };
        assert_eq!(versions, expected);
        again.close().await;
    }
}

async fn call_lifecycle(db: &TestDb) {
    let call = new_call(t0());
    db.insert_call(&call).await.expect("insert");

    let got = db.get_call(call.id).await.expect("get").expect("present");
    assert_eq!(
        got,
        CallRecord {
            id: call.id,
            sip_call_id: call.sip_call_id.clone(),
            caller_raw: call.caller_raw.clone(),
            caller_e164: call.caller_e164.clone(),
            called_number: call.called_number.clone(),
            source: call.source.clone(),
            source_addr: call.source_addr,
            transport: Transport::Udp,
            arrived_at: storage_precision(call.arrived_at),
            answered_at: None,
            ended_at: None,
            ended_by: None,
            sip_status: None,
            disposition: None,
            codec: None,
            direction: super::Direction::Inbound,
        }
    );

    let answered = t0() + Duration::seconds(2);
    assert!(
        db.mark_call_answered(call.id, answered, "PCMA/8000")
            .await
            .expect("answer")
    );
    // A second answer (e.g. a retransmission handled twice) changes nothing.
    assert!(
        !db.mark_call_answered(call.id, answered + Duration::seconds(1), "PCMU/8000")
            .await
            .expect("answer again")
    );

    let ended = t0() + Duration::seconds(95);
    let end = CallEnd {
        at: ended,
        ended_by: EndedBy::Caller,
        sip_status: Some(200),
        disposition: Disposition::Answered,
    };
    assert!(db.mark_call_ended(call.id, end).await.expect("end"));

    let got = db.get_call(call.id).await.expect("get").expect("present");
    assert_eq!(got.answered_at, Some(storage_precision(answered)));
    assert_eq!(got.codec.as_deref(), Some("PCMA/8000"));
    assert_eq!(got.ended_at, Some(storage_precision(ended)));
    assert_eq!(got.ended_by, Some(EndedBy::Caller));
    assert_eq!(got.sip_status, Some(200));
    assert_eq!(got.disposition, Some(Disposition::Answered));
}

async fn answer_and_end_with_the_recording_in_one_transaction(db: &TestDb) {
    let call = new_call(t0());
    db.insert_call(&call).await.expect("insert");
    let answered = t0() + Duration::seconds(1);
    let rec = new_recording(call.id, answered);
    db.call_answered(call.id, answered, "PCMU/8000", Some(&rec))
        .await
        .expect("answer");
    let got = db.get_call(call.id).await.unwrap().unwrap();
    assert_eq!(got.answered_at, Some(storage_precision(answered)));
    assert_eq!(got.codec.as_deref(), Some("PCMU/8000"));
    let stored = db.get_recording(rec.id).await.unwrap().expect("row");
    assert_eq!(stored.call_id, call.id);
    assert_eq!(stored.ended_at, None);
    // The recording row cannot go in twice; then nothing of it is stored,
    // the answer included.
    let other = new_call(t0());
    db.insert_call(&other).await.expect("insert");
    let clash = NewRecording {
        call_id: other.id,
        ..rec.clone()
    };
    assert!(
        db.call_answered(other.id, answered, "PCMA/8000", Some(&clash))
            .await
            .is_err()
    );
    let got = db.get_call(other.id).await.unwrap().unwrap();
    assert_eq!(got.answered_at, None, "all or nothing");

    let ended = t0() + Duration::seconds(31);
    let end = CallEnd {
        at: ended,
        ended_by: EndedBy::Caller,
        sip_status: Some(200),
        disposition: Disposition::Answered,
    };
    let finished = FinishedRecording {
        id: rec.id,
        ended_at: ended,
        duration_ms: 30_000,
        size_bytes: 480_044,
    };
    db.call_finished(call.id, end, Some(finished))
        .await
        .expect("end");
    // A second end changes neither row.
    let later = CallEnd {
        at: ended + Duration::seconds(5),
        ended_by: EndedBy::Timeout,
        ..end
    };
    let longer = FinishedRecording {
        duration_ms: 35_000,
        ..finished
    };
    db.call_finished(call.id, later, Some(longer))
        .await
        .expect("again");
    let got = db.get_call(call.id).await.unwrap().unwrap();
    assert_eq!(got.ended_at, Some(storage_precision(ended)));
    assert_eq!(got.ended_by, Some(EndedBy::Caller));
    let stored = db.get_recording(rec.id).await.unwrap().unwrap();
    assert_eq!(stored.ended_at, Some(storage_precision(ended)));
    assert_eq!(stored.duration_ms, Some(30_000));
    assert_eq!(stored.size_bytes, Some(480_044));
}

async fn call_end_is_idempotent(db: &TestDb) {
    let call = new_call(t0());
    db.insert_call(&call).await.expect("insert");
    let first = CallEnd {
        at: t0() + Duration::seconds(3),
        ended_by: EndedBy::Caller,
        sip_status: Some(487),
        disposition: Disposition::Cancelled,
    };
    let second = CallEnd {
        at: t0() + Duration::seconds(4),
        ended_by: EndedBy::Timeout,
        sip_status: Some(408),
        disposition: Disposition::Failed,
    };
    assert!(db.mark_call_ended(call.id, first).await.expect("first end"));
    assert!(
        !db.mark_call_ended(call.id, second)
            .await
            .expect("second end")
    );
    assert!(
        !db.mark_call_ended(call.id, first)
            .await
            .expect("same end again")
    );

    let got = db.get_call(call.id).await.expect("get").expect("present");
    assert_eq!(got.ended_at, Some(storage_precision(first.at)));
    assert_eq!(got.ended_by, Some(EndedBy::Caller));
    assert_eq!(got.sip_status, Some(487));
    assert_eq!(got.disposition, Some(Disposition::Cancelled));
    // A call never answered keeps answered_at empty.
    assert_eq!(got.answered_at, None);
    assert_eq!(got.codec, None);
}

async fn unknown_ids(db: &TestDb) {
    let nobody = Uuid::new_v4();
    assert!(db.get_call(nobody).await.expect("get").is_none());
    assert!(db.get_recording(nobody).await.expect("get").is_none());
    assert!(db.call_events(nobody).await.expect("events").is_empty());
    assert!(
        db.recordings_for_call(nobody)
            .await
            .expect("recordings")
            .is_empty()
    );

    let end = CallEnd {
        at: t0(),
        ended_by: EndedBy::Server,
        sip_status: None,
        disposition: Disposition::Failed,
    };
    let not_found = |r: Result<_, StoreError>| matches!(r, Err(StoreError::NotFound { id, .. }) if id == nobody);
    assert!(not_found(db.mark_call_ended(nobody, end).await));
    assert!(not_found(
        db.mark_call_answered(nobody, t0(), "PCMA/8000").await
    ));
    assert!(not_found(db.finish_recording(nobody, t0(), 1, 1).await));
    assert!(not_found(
        db.add_call_event(nobody, t0(), "dtmf", "1")
            .await
            .map(|_| true)
    ));
    assert!(not_found(
        db.insert_recording(&new_recording(nobody, t0()))
            .await
            .map(|_| true)
    ));
}

async fn duplicate_ids(db: &TestDb) {
    let call = new_call(t0());
    db.insert_call(&call).await.expect("insert");
    assert!(matches!(
        db.insert_call(&call).await,
        Err(StoreError::AlreadyExists { what: "call", key }) if key == call.id.to_string()
    ));
    let rec = new_recording(call.id, t0());
    db.insert_recording(&rec).await.expect("insert recording");
    assert!(matches!(
        db.insert_recording(&rec).await,
        Err(StoreError::AlreadyExists { what: "recording", key }) if key == rec.id.to_string()
    ));
}

async fn events_are_ordered(db: &TestDb) {
    let call = new_call(t0());
    db.insert_call(&call).await.expect("insert");
    let other = new_call(t0());
    db.insert_call(&other).await.expect("insert other");

    // Stored out of time order, two sharing a timestamp: reading must give
    // time order, and storage order among equal times.
    let later = t0() + Duration::milliseconds(1500);
    let same = t0() + Duration::milliseconds(700);
    let earlier = t0() + Duration::microseconds(1);
    let mut ids = Vec::new();
    for (at, kind, detail) in [
        (later, "hold", ""),
        (same, "dtmf", "4"),
        (same, "dtmf", "2"),
        (earlier, "reinvite", "PCMA/8000 sendrecv"),
    ] {
        ids.push(
            db.add_call_event(call.id, at, kind, detail)
                .await
                .expect("event"),
        );
    }
    db.add_call_event(other.id, t0(), "dtmf", "9")
        .await
        .expect("other event");

    let events = db.call_events(call.id).await.expect("events");
    let seen: Vec<(i64, &str, &str)> = events
        .iter()
        .map(|e| (e.id, e.kind.as_str(), e.detail.as_str()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (ids[3], "reinvite", "PCMA/8000 sendrecv"),
            (ids[1], "dtmf", "4"),
            (ids[2], "dtmf", "2"),
            (ids[0], "hold", ""),
        ]
    );
    assert!(ids[1] < ids[2], "event ids grow in storage order");
    assert!(events.iter().all(|e| e.call_id == call.id));
    assert_eq!(events[0].at, storage_precision(earlier));
    assert_eq!(events[3].at, storage_precision(later));
}

async fn recording_lifecycle(db: &TestDb) {
    let call = new_call(t0());
    db.insert_call(&call).await.expect("insert call");
    let first = new_recording(call.id, t0() + Duration::seconds(1));
    let second = NewRecording {
        path: format!("2025/03/14/{}-b.wav", call.id),
        sample_rate: 48_000,
        channels: 1,
        ..new_recording(call.id, t0() + Duration::seconds(30))
    };
    // Inserted in reverse to check recordings_for_call orders by start.
    db.insert_recording(&second).await.expect("insert second");
    db.insert_recording(&first).await.expect("insert first");

    let got = db
        .get_recording(first.id)
        .await
        .expect("get")
        .expect("present");
    assert_eq!(
        got,
        RecordingRecord {
            id: first.id,
            call_id: call.id,
            path: first.path.clone(),
            started_at: storage_precision(first.started_at),
            ended_at: None,
            duration_ms: None,
            size_bytes: None,
            sample_rate: 8000,
            channels: 2,
            purged_at: None,
        }
    );

    let ended = t0() + Duration::seconds(29);
    // Sizes past 4 GiB must survive (bigint, not int).
    let big = 5_000_000_000_u64;
    assert!(
        db.finish_recording(first.id, ended, 28_000, big)
            .await
            .expect("finish")
    );
    assert!(
        !db.finish_recording(first.id, ended, 1, 1)
            .await
            .expect("finish again")
    );

    let got = db
        .get_recording(first.id)
        .await
        .expect("get")
        .expect("present");
    assert_eq!(got.ended_at, Some(storage_precision(ended)));
    assert_eq!(got.duration_ms, Some(28_000));
    assert_eq!(got.size_bytes, Some(big));

    let all = db.recordings_for_call(call.id).await.expect("list");
    let ids: Vec<Uuid> = all.iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![first.id, second.id]);
    assert_eq!(all[1].sample_rate, 48_000);
    assert_eq!(all[1].channels, 1);

    assert!(matches!(
        db.finish_recording(second.id, ended, u64::MAX, 0).await,
        Err(StoreError::OutOfRange {
            field: "duration_ms",
            ..
        })
    ));
}

async fn unfinished_calls_and_recordings(db: &TestDb) {
    assert!(db.unfinished_calls().await.expect("unfinished").is_empty());
    assert!(
        db.unfinished_recordings()
            .await
            .expect("unfinished")
            .is_empty()
    );

    let done = new_call(t0());
    let open_late = new_call(t0() + Duration::seconds(20));
    let open_early = new_call(t0() + Duration::seconds(10));
    for call in [&done, &open_late, &open_early] {
        db.insert_call(call).await.expect("insert");
    }
    let done_end = CallEnd {
        at: t0() + Duration::seconds(5),
        ended_by: EndedBy::Caller,
        sip_status: Some(200),
        disposition: Disposition::Answered,
    };
    db.mark_call_ended(done.id, done_end).await.expect("end");

    let rec_done = new_recording(done.id, t0());
    let rec_open = new_recording(open_early.id, t0() + Duration::seconds(11));
    db.insert_recording(&rec_done).await.expect("insert");
    db.insert_recording(&rec_open).await.expect("insert");
    db.finish_recording(rec_done.id, t0() + Duration::seconds(5), 5000, 80_044)
        .await
        .expect("finish");

    let open: Vec<Uuid> = db
        .unfinished_calls()
        .await
        .expect("unfinished")
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(open, vec![open_early.id, open_late.id], "oldest first");
    let open_recs: Vec<Uuid> = db
        .unfinished_recordings()
        .await
        .expect("unfinished")
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(open_recs, vec![rec_open.id]);

    let restart = t0() + Duration::minutes(5);
    assert_eq!(db.close_calls_after_crash(restart).await.expect("close"), 2);
    assert!(db.unfinished_calls().await.expect("unfinished").is_empty());
    assert_eq!(
        db.close_calls_after_crash(restart)
            .await
            .expect("close again"),
        0
    );
    // Nothing known of it but its arrival: it ends there, not at the restart.
    let closed = db
        .get_call(open_late.id)
        .await
        .expect("get")
        .expect("present");
    assert_eq!(
        closed.ended_at,
        Some(storage_precision(open_late.arrived_at))
    );
    assert_eq!(closed.ended_by, Some(EndedBy::Crash));
    assert_eq!(closed.disposition, Some(Disposition::Failed));
    assert_eq!(closed.sip_status, None);
    // Calls that had ended keep their real outcome.
    let kept = db.get_call(done.id).await.expect("get").expect("present");
    assert_eq!(kept.ended_by, Some(EndedBy::Caller));
    assert_eq!(kept.ended_at, Some(storage_precision(done_end.at)));
}

async fn time_round_trip(db: &TestDb) {
    // Whole seconds, milliseconds, microseconds, sub-microseconds, before
    // 1970 and before 2000 (where sqlx counts PostgreSQL time backwards),
    // and a far future date.
    let base = Utc
        .with_ymd_and_hms(2024, 2, 29, 23, 59, 59)
        .single()
        .expect("valid");
    let old = Utc
        .with_ymd_and_hms(1969, 7, 20, 20, 17, 40)
        .single()
        .expect("valid");
    let y2k = Utc
        .with_ymd_and_hms(1999, 12, 31, 23, 59, 59)
        .single()
        .expect("valid");
    let far = Utc
        .with_ymd_and_hms(2399, 1, 1, 0, 0, 0)
        .single()
        .expect("valid");
    let cases = [
        base,
        base + Duration::milliseconds(1),
        base + Duration::milliseconds(999),
        base + Duration::microseconds(123_456),
        base + Duration::nanoseconds(999_999_999),
        old + Duration::nanoseconds(250_000_750),
        y2k + Duration::nanoseconds(999_999_999),
        far + Duration::microseconds(7),
    ];
    for at in cases {
        let call = new_call(at);
        db.insert_call(&call).await.expect("insert");
        let got = db.get_call(call.id).await.expect("get").expect("present");
        let want = storage_precision(at);
        assert_eq!(got.arrived_at, want, "round trip of {at}");
        // Milliseconds (what callers rely on) are always exact.
        assert_eq!(got.arrived_at.timestamp_millis(), at.timestamp_millis());
        assert!(at - got.arrived_at < Duration::microseconds(1));
    }
    assert_eq!(
        storage_precision(base + Duration::nanoseconds(999_999_999)),
        base + Duration::microseconds(999_999)
    );
}

async fn time_ordering(db: &TestDb) {
    // Instants whose naive text forms would sort wrongly: a whole second
    // against fractions, and fractions of different lengths.
    let base = Utc
        .with_ymd_and_hms(2025, 1, 1, 0, 0, 9)
        .single()
        .expect("valid");
    let times = [
        base + Duration::seconds(1),
        base + Duration::milliseconds(500),
        base,
        base + Duration::microseconds(1),
        base + Duration::milliseconds(1500),
        base + Duration::microseconds(500_001),
        base - Duration::days(400),
    ];
    let call = new_call(base);
    db.insert_call(&call).await.expect("insert");
    for (i, at) in times.iter().enumerate() {
        db.add_call_event(call.id, *at, "t", &i.to_string())
            .await
            .expect("event");
    }
    let got: Vec<DateTime<Utc>> = db
        .call_events(call.id)
        .await
        .expect("events")
        .iter()
        .map(|e| e.at)
        .collect();
    let mut want = times.to_vec();
    want.sort();
    assert_eq!(got, want);
}

async fn list_calls_newest_first(db: &TestDb) {
    let mut calls = Vec::new();
    for offset_ms in [0, 2500, 1000, 1001, 999] {
        let call = new_call(t0() + Duration::milliseconds(offset_ms));
        db.insert_call(&call).await.expect("insert");
        calls.push(call);
    }
    calls.sort_by_key(|c| std::cmp::Reverse(c.arrived_at));
    let want: Vec<Uuid> = calls.iter().map(|c| c.id).collect();

    let got: Vec<Uuid> = db
        .list_calls(100)
        .await
        .expect("list")
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(got, want);
    let got: Vec<Uuid> = db
        .list_calls(2)
        .await
        .expect("list")
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(got, want[..2]);
    assert!(db.list_calls(0).await.expect("list").is_empty());
}

async fn unicode_text(db: &TestDb) {
    let call = NewCall {
        caller_raw: "\"Zoë Ørsted — «Ярослава» 王小明 👩‍💼\" <sip:zoe@example.org>".into(),
        caller_e164: None,
        called_number: "＋７ (495) 000-00-00".into(),
        source: "Поставщик “Север”; it's 'quoted' \\ too".into(),
        source_addr: SocketAddr::from(([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1], 5080)),
        transport: Transport::Tcp,
        ..new_call(t0())
    };
    db.insert_call(&call).await.expect("insert");
    let got = db.get_call(call.id).await.expect("get").expect("present");
    assert_eq!(got.caller_raw, call.caller_raw);
    assert_eq!(got.caller_e164, None);
    assert_eq!(got.called_number, call.called_number);
    assert_eq!(got.source, call.source);
    assert_eq!(got.source_addr, call.source_addr);
    assert_eq!(got.transport, Transport::Tcp);

    let detail = "ivr: «Нажмите 1» → 1; 🔢 ok\nline two\ttab";
    db.add_call_event(call.id, t0(), "ivr", detail)
        .await
        .expect("event");
    let rec = NewRecording {
        path: "записи/2025/王/🎙️ call.wav".into(),
        ..new_recording(call.id, t0())
    };
    db.insert_recording(&rec).await.expect("recording");

    let events = db.call_events(call.id).await.expect("events");
    assert_eq!(events[0].detail, detail);
    let got = db
        .get_recording(rec.id)
        .await
        .expect("get")
        .expect("present");
    assert_eq!(got.path, rec.path);
}

/// Writes sent together share commits, each keeps its own outcome (a bad
/// one among them costs the others nothing), and one producer's writes are
/// stored in the order it sent them.
async fn hot_writes_are_committed_in_groups(db: &TestDb) {
    use futures_util::future::join_all;
    const CALLS: usize = 100;
    let before = db.write_counts();
    let calls: Vec<NewCall> = (0..CALLS).map(|_| new_call(t0())).collect();
    let stored = join_all(calls.iter().map(|c| db.insert_call(c))).await;
    assert!(stored.iter().all(Result::is_ok), "{stored:?}");
    let after = db.write_counts();
    assert_eq!(after.writes - before.writes, CALLS as u64);
    assert!(
        after.commits - before.commits < CALLS as u64 / 4,
        "{CALLS} concurrent writes took {} commits",
        after.commits - before.commits
    );

    // A duplicate call and an event for a call never stored, sent among
    // good writes: only they fail, each with its own error.
    let stranger = Uuid::new_v4();
    let fresh: Vec<NewCall> = (0..10).map(|_| new_call(t0())).collect();
    let (dup, missing, good, events) = tokio::join!(
        db.insert_call(&calls[7]),
        db.add_call_event(stranger, t0(), "ivr", "main"),
        join_all(fresh.iter().map(|c| db.insert_call(c))),
        join_all(
            calls
                .iter()
                .map(|c| db.add_call_event(c.id, t0(), "ivr", "main"))
        ),
    );
    assert!(
        matches!(dup, Err(StoreError::AlreadyExists { what: "call", .. })),
        "{dup:?}"
    );
    assert!(
        matches!(missing, Err(StoreError::NotFound { what: "call", id }) if id == stranger),
        "{missing:?}"
    );
    assert!(good.iter().all(Result::is_ok), "{good:?}");
    assert!(events.iter().all(Result::is_ok), "{events:?}");
    for c in &fresh {
        assert!(db.get_call(c.id).await.unwrap().is_some());
    }
    assert_eq!(db.call_events(calls[0].id).await.unwrap().len(), 1);

    // Sent one after another without waiting: stored in that order (same
    // time, so the stored order decides).
    let call = &calls[1];
    let steps: Vec<String> = (0..40).map(|n| format!("step {n}")).collect();
    let sent = join_all(
        steps
            .iter()
            .map(|d| db.add_call_event(call.id, t0(), "dtmf", d)),
    )
    .await;
    assert!(sent.iter().all(Result::is_ok));
    let read: Vec<String> = db
        .call_events(call.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "dtmf")
        .map(|e| e.detail)
        .collect();
    assert_eq!(read, steps);
}

async fn concurrent_inserts(db: &TestDb) {
    const TASKS: usize = 8;
    const CALLS_PER_TASK: usize = 15;
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..TASKS {
        let store = db.store().clone();
        tasks.spawn(async move {
            let mut ids = Vec::new();
            for n in 0..CALLS_PER_TASK {
                let at = t0() + Duration::milliseconds((task * 1000 + n) as i64);
                let call = new_call(at);
                store.insert_call(&call).await.expect("insert");
                store
                    .add_call_event(call.id, at, "dtmf", "1")
                    .await
                    .expect("event");
                let end = CallEnd {
                    at: at + Duration::seconds(1),
                    ended_by: EndedBy::Caller,
                    sip_status: Some(200),
                    disposition: Disposition::Answered,
                };
                assert!(store.mark_call_ended(call.id, end).await.expect("end"));
                ids.push(call.id);
            }
            ids
        });
    }
    let mut all = Vec::new();
    while let Some(done) = tasks.join_next().await {
        all.extend(done.expect("task did not panic"));
    }
    assert_eq!(all.len(), TASKS * CALLS_PER_TASK);

    let listed = db.list_calls(1000).await.expect("list");
    assert_eq!(listed.len(), all.len());
    assert!(listed.iter().all(|c| c.ended_by == Some(EndedBy::Caller)));
    let mut event_ids = Vec::new();
    for id in &all {
        let events = db.call_events(*id).await.expect("events");
        assert_eq!(events.len(), 1);
        event_ids.push(events[0].id);
    }
    event_ids.sort_unstable();
    event_ids.dedup();
    assert_eq!(event_ids.len(), all.len(), "event ids are unique");
}

async fn corrupt_enum_is_reported(db: &TestDb) {
    let call = new_call(t0());
    db.insert_call(&call).await.expect("insert");
    // Written behind the store's back, as a faulty migration or hand edit
    // might.
    raw_execute(db, "UPDATE calls SET disposition = 'hung_up'").await;
    match db.get_call(call.id).await {
        Err(StoreError::Corrupt {
            table: "calls",
            column: "disposition",
            reason,
        }) => assert!(reason.contains("hung_up"), "{reason}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

// --- repair works ---------------------------------------------------------------------

fn street(street: &str, house: Option<&str>) -> WorkAddress {
    WorkAddress {
        street: street.into(),
        house: house.map(Into::into),
    }
}

fn new_work(
    kind: WorkKind,
    starts_at: DateTime<Utc>,
    addresses: Vec<WorkAddress>,
) -> NewRepairWork {
    NewRepairWork {
        id: Uuid::new_v4(),
        kind,
        service: Service::Water,
        description: "Заміна засувки на водогоні Ø300; води не буде".into(),
        starts_at,
        expected_end: starts_at + Duration::hours(6),
        status: WorkStatus::Active,
        created_at: starts_at - Duration::days(1),
        addresses,
        executor: Some("vodokanal".into()),
        registered_by: Some("gnatiuk".into()),
    }
}

/// What reading `work` back must give while it is open.
fn stored_work(work: &NewRepairWork) -> RepairWork {
    RepairWork {
        id: work.id,
        kind: work.kind,
        service: work.service,
        description: work.description.clone(),
        starts_at: storage_precision(work.starts_at),
        expected_end: storage_precision(work.expected_end),
        ended_at: None,
        status: work.status,
        created_at: storage_precision(work.created_at),
        addresses: work.addresses.clone(),
        executor: work.executor.clone(),
        registered_by: work.registered_by.clone(),
    }
}

fn ids(works: &[RepairWork]) -> Vec<Uuid> {
    works.iter().map(|w| w.id).collect()
}

async fn active_repair_works_around_now(db: &TestDb) {
    let now = t0();
    let planned_early = NewRepairWork {
        service: Service::Heating,
        addresses: vec![
            street("вул. Соборна", Some("12")),
            street("вул. Незалежності", None),
            street("пров. Тихий", Some("3-А")),
        ],
        ..new_work(WorkKind::Planned, now - Duration::hours(5), vec![])
    };
    // Starts exactly now: in progress.
    let planned_now = new_work(WorkKind::Planned, now, vec![street("Миру", None)]);
    // Still "announced", but its start has passed; no addresses at all.
    let announced_started = NewRepairWork {
        status: WorkStatus::Announced,
        ..new_work(WorkKind::Planned, now - Duration::hours(1), vec![])
    };
    // Past its expected end but never closed: the outage may go on.
    let overrunning = NewRepairWork {
        expected_end: now - Duration::hours(1),
        ..new_work(WorkKind::Planned, now - Duration::hours(9), vec![])
    };
    let emergency_late = NewRepairWork {
        service: Service::Power,
        ..new_work(WorkKind::Emergency, now - Duration::minutes(10), vec![])
    };
    let emergency_early = NewRepairWork {
        service: Service::Gas,
        ..new_work(WorkKind::Emergency, now - Duration::hours(2), vec![])
    };
    // Not in progress: starts later, ended, or closed without an end time.
    let future = NewRepairWork {
        status: WorkStatus::Announced,
        ..new_work(WorkKind::Planned, now + Duration::microseconds(1), vec![])
    };
    let ended = new_work(WorkKind::Emergency, now - Duration::hours(3), vec![]);
    let closed = NewRepairWork {
        status: WorkStatus::Closed,
        ..new_work(WorkKind::Planned, now - Duration::hours(4), vec![])
    };
    for work in [
        &future,
        &planned_now,
        &emergency_late,
        &closed,
        &planned_early,
        &ended,
        &announced_started,
        &overrunning,
        &emergency_early,
    ] {
        db.insert_repair_work(work).await.expect("insert");
    }
    assert!(
        db.close_repair_work(ended.id, now - Duration::hours(1))
            .await
            .expect("close")
    );

    let active = db.active_repair_works(now).await.expect("active");
    assert_eq!(
        ids(&active),
        vec![
            emergency_early.id,
            emergency_late.id,
            overrunning.id,
            planned_early.id,
            announced_started.id,
            planned_now.id,
        ]
    );
    // Every field, addresses in the executor's order included.
    assert_eq!(active[3], stored_work(&planned_early));
    assert_eq!(active[4], stored_work(&announced_started));
    assert!(active[4].addresses.is_empty());

    // Earlier, only what had started then. Not a view of the past: the
    // works closed since are left out whatever `now` says.
    let before = db
        .active_repair_works(now - Duration::hours(3))
        .await
        .expect("active");
    assert_eq!(ids(&before), vec![overrunning.id, planned_early.id]);
}

async fn close_repair_work(db: &TestDb) {
    let work = new_work(WorkKind::Emergency, t0(), vec![street("Соборна", None)]);
    db.insert_repair_work(&work).await.expect("insert");
    assert_eq!(
        db.get_repair_work(work.id).await.expect("get"),
        Some(stored_work(&work))
    );

    let done = t0() + Duration::hours(2);
    assert!(db.close_repair_work(work.id, done).await.expect("close"));
    assert!(
        !db.close_repair_work(work.id, done + Duration::hours(1))
            .await
            .expect("close again")
    );
    let got = db
        .get_repair_work(work.id)
        .await
        .expect("get")
        .expect("present");
    assert_eq!(got.ended_at, Some(storage_precision(done)));
    assert_eq!(got.status, WorkStatus::Closed);
    assert_eq!(got.addresses, work.addresses);
    assert!(
        db.active_repair_works(t0() + Duration::hours(1))
            .await
            .expect("active")
            .is_empty(),
        "closed works are not in progress at any time"
    );

    let nobody = Uuid::new_v4();
    assert!(db.get_repair_work(nobody).await.expect("get").is_none());
    assert!(matches!(
        db.close_repair_work(nobody, done).await,
        Err(StoreError::NotFound { what: "repair work", id }) if id == nobody
    ));
}

async fn repair_works_at_address(db: &TestDb) {
    let now = t0();
    // Stored in upper case: SQLite's lower() would not fold it.
    let whole_street = NewRepairWork {
        service: Service::Water,
        ..new_work(
            WorkKind::Planned,
            now - Duration::hours(2),
            vec![street("вул. СОБОРНА", None)],
        )
    };
    let house_12 = NewRepairWork {
        service: Service::Power,
        ..new_work(
            WorkKind::Emergency,
            now - Duration::hours(1),
            vec![street("Незалежності", None), street("соборна", Some("12"))],
        )
    };
    let house_14 = NewRepairWork {
        service: Service::Heating,
        ..new_work(
            WorkKind::Planned,
            now - Duration::hours(3),
            vec![street("Соборна", Some("14"))],
        )
    };
    let closed = new_work(
        WorkKind::Emergency,
        now - Duration::hours(4),
        vec![street("Соборна", None)],
    );
    let not_yet = new_work(
        WorkKind::Planned,
        now + Duration::hours(4),
        vec![street("Соборна", None)],
    );
    for work in [&whole_street, &house_12, &house_14, &closed, &not_yet] {
        db.insert_repair_work(work).await.expect("insert");
    }
    db.close_repair_work(closed.id, now - Duration::hours(1))
        .await
        .expect("close");

    let at = |address: &'static str| async move {
        ids(&db.repair_works_at(address, now).await.expect("works at"))
    };
    // Emergency first, then by start, as for all active works.
    assert_eq!(
        at("вул. Соборна, 12").await,
        vec![house_12.id, whole_street.id]
    );
    assert_eq!(
        at("м. Запоріжжя, ВУЛ. СОБОРНА, буд. 14, кв. 12").await,
        vec![house_14.id, whole_street.id]
    );
    assert_eq!(at("вулиця соборна 7").await, vec![whole_street.id]);
    assert_eq!(at("Соборна").await, vec![whole_street.id], "house unknown");
    assert_eq!(at("вул. Незалежності, 3").await, vec![house_12.id]);
    assert!(at("вул. Соборний узвіз, 12").await.is_empty());
    assert!(at("").await.is_empty());
}

async fn repair_work_insert_is_atomic(db: &TestDb) {
    async fn address_rows(store: &Store) -> i64 {
        on_pool!(store, |pool| sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM repair_work_addresses"
        )
        .fetch_one(pool)
        .await
        .expect("count"))
    }

    // The second address is refused by the database after the work row and
    // the first address were written: neither may remain.
    for bad in [street(" ", None), street("Соборна", Some(""))] {
        let work = new_work(
            WorkKind::Emergency,
            t0(),
            vec![street("Соборна", Some("12")), bad.clone()],
        );
        assert!(
            matches!(
                db.insert_repair_work(&work).await,
                Err(StoreError::Query { .. })
            ),
            "{bad:?}"
        );
        assert_eq!(db.get_repair_work(work.id).await.expect("get"), None);
    }
    assert_eq!(address_rows(db).await, 0);
    assert!(
        db.active_repair_works(t0())
            .await
            .expect("active")
            .is_empty()
    );

    // A duplicate id fails whole too, and leaves the first work as it was.
    let work = new_work(WorkKind::Planned, t0(), vec![street("Соборна", None)]);
    db.insert_repair_work(&work).await.expect("insert");
    let twin = NewRepairWork {
        addresses: vec![street("Миру", None), street("Шевченка", Some("1"))],
        ..work.clone()
    };
    match db.insert_repair_work(&twin).await {
        Err(StoreError::AlreadyExists {
            what: "repair work",
            key,
        }) => assert_eq!(key, work.id.to_string()),
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    assert_eq!(
        db.get_repair_work(work.id).await.expect("get"),
        Some(stored_work(&work))
    );
    assert_eq!(address_rows(db).await, 1);
}

// --- backend-specific and pure checks ------------------------------------------

#[tokio::test]
async fn sqlite_pragmas_and_text_encoding() {
    let db = TestDb::sqlite().await.expect("fresh SQLite test database");
    let Backend::Sqlite(pool) = &db.store().backend else {
        panic!("TestDb::sqlite gave another backend");
    };
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(pool)
        .await
        .expect("pragma");
    assert_eq!(mode, "wal");
    let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(pool)
        .await
        .expect("pragma");
    assert_eq!(fk, 1);
    let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
        .fetch_one(pool)
        .await
        .expect("pragma");
    assert!(busy >= 1000, "busy timeout {busy} ms");

    // UUIDs as hyphenated text, times as fixed-width UTC text.
    let call = new_call(
        Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0)
            .single()
            .expect("valid"),
    );
    db.insert_call(&call).await.expect("insert");
    let (id, arrived, id_type, at_type): (String, String, String, String) =
        sqlx::query_as("SELECT id, arrived_at, typeof(id), typeof(arrived_at) FROM calls")
            .fetch_one(pool)
            .await
            .expect("raw row");
    assert_eq!(id, call.id.hyphenated().to_string());
    assert_eq!(arrived, "2025-06-01T12:00:00.000000Z");
    assert_eq!((id_type.as_str(), at_type.as_str()), ("text", "text"));
}

#[tokio::test]
async fn sqlite_creates_missing_directories() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("a/b/hotline.db");
    let url = format!("sqlite://{}", path.display());
    let store = Store::connect(&url).await.expect("connect");
    assert_eq!(store.backend_name(), "sqlite");
    assert!(path.exists());
    store.close().await;
}

#[tokio::test]
async fn sqlite_in_memory_works() {
    let store = Store::connect("sqlite::memory:").await.expect("connect");
    let call = new_call(t0());
    store.insert_call(&call).await.expect("insert");
    assert!(store.get_call(call.id).await.expect("get").is_some());
}

#[tokio::test]
async fn bad_urls_are_rejected() {
    for url in ["mysql://u:secret@h/db", "hotline.db", ""] {
        match Store::connect(url).await {
            Err(StoreError::InvalidUrl { url: shown, .. }) => {
                assert!(!shown.contains("secret"), "password leaked: {shown}")
            }
            other => panic!("{url:?}: expected InvalidUrl, got {other:?}"),
        }
    }
    match Store::connect("postgres://u:secret@127.0.0.1:notaport/db").await {
        Err(StoreError::InvalidUrl { url, .. }) => assert!(!url.contains("secret"), "{url}"),
        other => panic!("expected InvalidUrl, got {other:?}"),
    }
}

#[test]
fn redacts_passwords() {
    assert_eq!(
        redact_url("postgres://u:pw@h:5432/db"),
        "postgres://u:***@h:5432/db"
    );
    assert_eq!(redact_url("postgres://h/db"), "postgres://h/db");
    assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
    assert_eq!(
        redact_url("postgres://u:p@ss@h/db?x=@"),
        "postgres://u:***@h/db?x=@"
    );
    assert_eq!(redact_url("sqlite://hotline.db"), "sqlite://hotline.db");
}

#[test]
fn enums_round_trip_through_text() {
    for d in Disposition::ALL {
        assert_eq!(Disposition::parse(d.as_str()), Some(*d));
    }
    for e in EndedBy::ALL {
        assert_eq!(EndedBy::parse(e.as_str()), Some(*e));
    }
    for t in Transport::ALL {
        assert_eq!(Transport::parse(t.as_str()), Some(*t));
    }
    assert_eq!(Disposition::MediaTimeout.as_str(), "media_timeout");
    assert_eq!(Disposition::parse("Answered"), None);
    assert_eq!(EndedBy::Shutdown.to_string(), "shutdown");
    for k in WorkKind::ALL {
        assert_eq!(WorkKind::parse(k.as_str()), Some(*k));
    }
    for s in Service::ALL {
        assert_eq!(Service::parse(s.as_str()), Some(*s));
    }
    for s in WorkStatus::ALL {
        assert_eq!(WorkStatus::parse(s.as_str()), Some(*s));
    }
}

async fn demo_seed_twice_adds_nothing(db: &TestDb) {
    let now = t0();
    let first = demo::seed(db, now).await.expect("first seed");
    let second = demo::seed(db, now + Duration::minutes(5))
        .await
        .expect("second seed");
    assert_eq!(first, second, "the same appeal and outage");
    assert_eq!(db.active_repair_works(now).await.unwrap().len(), 1);
}

async fn a_database_that_takes_writes_passes_the_check(db: &TestDb) {
    db.check_writable().await.expect("writable");
}
