//! Reports over a fixed data set with known answers, on SQLite and on
//! PostgreSQL: every indicator and call figure of the week of 19–25
//! October 2026 (Kyiv), the week whose Sunday the clocks go back, checked
//! by exact value. Its edges: cards registered a second either side of the
//! week's first and last midnights on the city's clock, work finished one
//! second before and after the deadline, callers who gave up after 19 s and
//! after 21 s, calls either side of the hour the clocks repeat.

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use uuid::Uuid;

use super::build::{self, Request};
use super::document::{Cell, Report};
use super::indicators::Breakdown;
use super::kinds::ReportKind;
use super::period::Period;
use super::{ReportSettings, calls};
use crate::appeal::calendar::WorkingCalendar;
use crate::appeal::number::RegistrationNumber;
use crate::appeal::record::{AppealRow, AppealStatus};
use crate::store::encoding::{DbTime, DbUuid};
use crate::store::testing::{TestDb, both_backends, stored_call};
use crate::store::{
    CallEnd, Disposition, EndedBy, NewOperator, NewQueueEvent, OperatorState, QueueEventKind,
    Store, on_pool,
};

both_backends!(
    the_week_of_the_autumn_change_counts_exactly,
    every_report_of_the_set_is_drawn_from_the_same_figures,
);

fn utc(m: u32, d: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, m, d, h, min, s)
        .single()
        .expect("a time")
}

/// The report's "now": Monday after the week, 12:00 in Kyiv.
fn now() -> DateTime<Utc> {
    utc(10, 26, 10, 0, 0)
}

fn week() -> Period {
    Period::week(NaiveDate::from_ymd_opt(2026, 10, 21).expect("a date"))
}

/// The executors of the sample classifier's first two categories with
/// different executors: (code, category id) each.
struct City {
    x: (String, Uuid),
    y: (String, Uuid),
}

async fn city(store: &Store) -> City {
    let first = crate::store::testing::sample_category(store, "test", utc(10, 1, 0, 0, 0)).await;
    let version = store.categories(1).await.expect("the categories");
    let x = version.iter().find(|c| c.id == first).expect("the first");
    let y = version
        .iter()
        .find(|c| c.executor.code != x.executor.code)
        .expect("another executor's category");
    City {
        x: (x.executor.code.clone(), x.id),
        y: (y.executor.code.clone(), y.id),
    }
}

/// A card as the reports see it, written directly.
struct Card {
    n: u32,
    of: (String, Uuid),
    channel: &'static str,
    status: AppealStatus,
    created: DateTime<Utc>,
    deadline: DateTime<Utc>,
    finished: Option<DateTime<Utc>>,
    resolved: Option<DateTime<Utc>>,
    repeat_of: Option<Uuid>,
    address: &'static str,
}

async fn put(store: &Store, c: Card) -> Uuid {
    let id = Uuid::new_v4();
    let number = format!("1580-2026-{:06}", c.n);
    store
        .insert_appeal(&AppealRow {
            id,
            registration_number: RegistrationNumber::new(number),
            status: c.status,
            category: "test".into(),
            executor: c.of.0.clone(),
            deadline: c.deadline,
            caller_phone: "+380611234567".into(),
            address: Some(c.address.into()),
            created_at: c.created,
            call_id: None,
        })
        .await
        .expect("the card");
    on_pool!(store, |pool| {
        sqlx::query(
            "UPDATE appeals SET category_id = $1, channel = $2, finished_at = $3, \
             resolved_at = $4, repeat_of = $5 WHERE id = $6",
        )
        .bind(DbUuid(c.of.1))
        .bind(c.channel)
        .bind(c.finished.map(DbTime::new))
        .bind(c.resolved.map(DbTime::new))
        .bind(c.repeat_of.map(DbUuid))
        .bind(DbUuid(id))
        .execute(pool)
        .await
        .expect("the card's facts");
    });
    id
}

async fn step(store: &Store, card: Uuid, kind: &str, at: DateTime<Utc>) {
    on_pool!(store, |pool| {
        sqlx::query(
            "INSERT INTO appeal_history (appeal_id, at, login, role, kind, from_status, to_status) \
             VALUES ($1, $2, 'test', 'executor', $3, 'in_progress', 'in_progress')",
        )
        .bind(DbUuid(card))
        .bind(DbTime::new(at))
        .bind(kind)
        .execute(pool)
        .await
        .expect("a step");
    });
}

async fn answer(store: &Store, card: Uuid, executor: &str, result: &str, at: DateTime<Utc>) {
    on_pool!(store, |pool| {
        sqlx::query(
            "INSERT INTO verification_attempts (appeal_id, executor_code, at, channel, result, login) \
             VALUES ($1, $2, $3, 'operator', $4, 'olena')",
        )
        .bind(DbUuid(card))
        .bind(executor)
        .bind(DbTime::new(at))
        .bind(result)
        .execute(pool)
        .await
        .expect("an answer");
    });
}

/// A call that queued and was answered after `wait` (Some(talk)) or gave
/// up after it (None).
async fn queued(store: &Store, operator: Uuid, at: DateTime<Utc>, wait: u64, talk: Option<u64>) {
    let call = stored_call(store, "0611234567", "+380611234567", at).await;
    let event = |kind, at, wait_ms, operator_id| NewQueueEvent {
        at,
        queue: "general".into(),
        call_id: call,
        kind,
        operator_id,
        wait_ms,
        position: None,
        detail: None,
    };
    store
        .add_queue_event(&event(QueueEventKind::Joined, at, None, None))
        .await
        .expect("joined");
    let left = at + TimeDelta::seconds(wait as i64);
    let (kind, operator_id, end) = match talk {
        Some(talk) => (
            QueueEventKind::Answered,
            Some(operator),
            left + TimeDelta::seconds(talk as i64),
        ),
        None => (QueueEventKind::Abandoned, None, left),
    };
    store
        .add_queue_event(&event(kind, left, Some(wait * 1000), operator_id))
        .await
        .expect("answered or abandoned");
    finish(store, call, end, Disposition::Answered).await;
}

async fn finish(store: &Store, call: Uuid, at: DateTime<Utc>, disposition: Disposition) {
    store
        .mark_call_ended(
            call,
            CallEnd {
                at,
                ended_by: EndedBy::Caller,
                sip_status: Some(200),
                disposition,
            },
        )
        .await
        .expect("the call ends");
}

/// The fixed data set; returns the city.
async fn data_set(store: &Store) -> City {
    let city = city(store).await;
    let (x, y) = (city.x.clone(), city.y.clone());
    let card = |n, of: &(String, Uuid), channel, status, created, deadline| Card {
        n,
        of: of.clone(),
        channel,
        status,
        created,
        deadline,
        finished: None,
        resolved: None,
        repeat_of: None,
        address: "вул. Соборна, 12",
    };
    use AppealStatus as S;
    let deadline = utc(10, 21, 8, 0, 0);
    // Finished a second before the deadline, closed the next day: on time.
    let a1 = put(
        store,
        Card {
            finished: Some(utc(10, 22, 10, 0, 0)),
            resolved: Some(deadline - TimeDelta::seconds(1)),
            ..card(1, &x, "phone", S::Closed, utc(10, 20, 8, 0, 0), deadline)
        },
    )
    .await;
    // A second after it: late.
    let a2 = put(
        store,
        Card {
            finished: Some(utc(10, 22, 10, 0, 0)),
            resolved: Some(deadline + TimeDelta::seconds(1)),
            ..card(2, &x, "web", S::Closed, utc(10, 20, 8, 0, 0), deadline)
        },
    )
    .await;
    // 00:30 on Monday in Kyiv (21:30 UTC on Sunday): in the week; overdue.
    let a3 = put(
        store,
        card(
            3,
            &x,
            "phone",
            S::InProgress,
            utc(10, 18, 21, 30, 0),
            utc(10, 19, 21, 30, 0),
        ),
    )
    .await;
    // 23:59:59 on the Sunday before (summer time): not in the week; its
    // closure awaits the contact centre, so not overdue.
    let a4 = put(
        store,
        Card {
            address: "просп. Соборний, 3",
            ..card(
                4,
                &x,
                "phone",
                S::ClosureProposed,
                utc(10, 18, 20, 59, 59),
                utc(10, 20, 0, 0, 0),
            )
        },
    )
    .await;
    // 23:59:59 on the week's Sunday, winter time: in the week; a repeat.
    put(
        store,
        Card {
            repeat_of: Some(a1),
            ..card(
                5,
                &y,
                "chatbot",
                S::Registered,
                utc(10, 25, 21, 59, 59),
                utc(10, 28, 0, 0, 0),
            )
        },
    )
    .await;
    // Midnight after it: not in the week; overdue now.
    put(
        store,
        card(
            6,
            &y,
            "phone",
            S::InProgress,
            utc(10, 25, 22, 0, 0),
            utc(10, 26, 8, 0, 0),
        ),
    )
    .await;
    // Registered before the week, closed in it, the work finished late.
    let a7 = put(
        store,
        Card {
            finished: Some(utc(10, 24, 12, 0, 0)),
            resolved: Some(utc(10, 23, 0, 0, 0)),
            ..card(
                7,
                &y,
                "phone",
                S::Closed,
                utc(10, 10, 12, 0, 0),
                utc(10, 13, 12, 0, 0),
            )
        },
    )
    .await;
    // Not to be considered: received, never open, never closed.
    put(
        store,
        Card {
            finished: Some(utc(10, 21, 9, 0, 0)),
            ..card(
                8,
                &x,
                "phone",
                S::Rejected,
                utc(10, 21, 8, 0, 0),
                utc(10, 22, 8, 0, 0),
            )
        },
    )
    .await;

    step(store, a7, "extension_requested", utc(10, 19, 2, 0, 0)).await;
    step(store, a7, "extended", utc(10, 19, 5, 0, 0)).await;
    step(store, a3, "extension_requested", utc(10, 21, 9, 0, 0)).await;
    // The last second of the week, and a moment before it began.
    step(store, a3, "moved_to_long_term", utc(10, 25, 21, 59, 59)).await;
    step(store, a4, "moved_to_long_term", utc(10, 18, 20, 59, 59)).await;
    answer(store, a1, &x.0, "confirmed", utc(10, 23, 9, 0, 0)).await;
    answer(store, a1, &x.0, "no_answer", utc(10, 23, 8, 0, 0)).await;
    answer(store, a2, &x.0, "not_confirmed", utc(10, 23, 9, 30, 0)).await;
    answer(store, a7, &y.0, "confirmed", utc(10, 25, 21, 0, 0)).await;

    // Calls: answered after 19 s and 21 s, abandoned after 19 s and 21 s.
    let olena = Uuid::new_v4();
    store
        .add_operator(
            &NewOperator {
                id: olena,
                login: "olena".into(),
                display_name: "Олена Коваль".into(),
                extension: "1001".into(),
                queues: Vec::new(),
                created_at: utc(10, 1, 0, 0, 0),
            },
            "secret-password",
            "hotline",
        )
        .await
        .expect("an operator");
    queued(store, olena, utc(10, 20, 9, 0, 0), 19, Some(120)).await;
    queued(store, olena, utc(10, 20, 10, 0, 0), 21, Some(60)).await;
    queued(store, olena, utc(10, 20, 11, 0, 0), 19, None).await;
    queued(store, olena, utc(10, 20, 12, 0, 0), 21, None).await;
    for (at, state) in [
        (utc(10, 20, 9, 2, 19), OperatorState::WrapUp),
        (utc(10, 20, 9, 2, 34), OperatorState::Available),
        (utc(10, 20, 10, 1, 21), OperatorState::WrapUp),
        (utc(10, 20, 10, 1, 46), OperatorState::Available),
        // Left in wrap-up for two days: not a wrap-up anyone did.
        (utc(10, 22, 9, 0, 0), OperatorState::WrapUp),
        (utc(10, 24, 9, 0, 0), OperatorState::Available),
    ] {
        store
            .record_operator_state(olena, at, state, None)
            .await
            .expect("a state");
    }
    let blocked = stored_call(store, "0671111111", "+380671111111", utc(10, 21, 8, 0, 0)).await;
    finish(store, blocked, utc(10, 21, 8, 0, 5), Disposition::Blocked).await;
    // 03:30 in Kyiv twice on the Sunday: summer time, then winter time.
    let summer = stored_call(store, "0611234567", "+380611234567", utc(10, 25, 0, 30, 0)).await;
    let winter = stored_call(store, "0611234567", "+380611234567", utc(10, 25, 1, 30, 0)).await;
    for (call, detail) in [
        (summer, "main:status appeal 1580-2026-000003 in_progress"),
        (summer, "main:outages outages 0"),
        (winter, "main:outages outages 2"),
        (winter, "main:greeting enter"),
    ] {
        store
            .add_call_event(call, utc(10, 25, 1, 40, 0), "ivr", detail)
            .await
            .expect("an event");
    }
    // Outside the week: a second before it began.
    let before = stored_call(
        store,
        "0611234567",
        "+380611234567",
        utc(10, 18, 20, 59, 59),
    )
    .await;
    // Every call has ended (a day is kept only when its calls have).
    for (call, at) in [
        (summer, utc(10, 25, 1, 45, 0)),
        (winter, utc(10, 25, 1, 45, 0)),
        (before, utc(10, 18, 21, 1, 0)),
    ] {
        finish(store, call, at, Disposition::Answered).await;
    }
    city
}

async fn breakdown(store: &Store) -> Breakdown {
    let calendar = WorkingCalendar::default();
    let (_, categories) = store.report_names().await.expect("names");
    build::breakdown(store, &calendar, &categories, week(), now(), None)
        .await
        .expect("the indicators")
}

async fn the_week_of_the_autumn_change_counts_exactly(db: &TestDb) {
    let city = data_set(db).await;
    let b = breakdown(db).await;
    let x = &b.by_executor[&city.x.0];
    let y = &b.by_executor[&city.y.0];
    // Received: X cards 1, 2, 3, 8; Y card 5.
    assert_eq!((x.received, y.received, b.total.received), (4, 1, 5));
    assert_eq!((x.closed_on_time, x.closed_late), (1, 1));
    assert_eq!((y.closed_on_time, y.closed_late), (0, 1));
    assert_eq!((x.open_now, y.open_now), (2, 2));
    assert_eq!((x.overdue_now, y.overdue_now), (1, 1));
    assert_eq!((x.extensions_asked, x.extensions_granted), (1, 0));
    assert_eq!((y.extensions_asked, y.extensions_granted), (1, 1));
    assert_eq!((x.moved_to_long_term, y.moved_to_long_term), (1, 0));
    assert_eq!((x.verified, x.confirmed), (2, 1));
    assert_eq!((y.verified, y.confirmed), (1, 1));
    assert_eq!(
        b.total.confirmation_pct().map(|p| (p * 10.0).round()),
        Some(667.0)
    );
    assert_eq!((x.repeats, y.repeats), (0, 1));
    // 50 h twice and 14 days once.
    assert_eq!(x.mean_close_secs(), Some(50 * 3600));
    assert_eq!(
        b.total.mean_close_secs(),
        Some((2 * 50 * 3600 + 14 * 86400) / 3)
    );
    assert_eq!(b.total.p90_close_secs(), Some(14 * 86400));
    assert_eq!(b.by_channel["phone"].received, 3);
    assert_eq!(b.by_channel["web"].received, 1);
    assert_eq!(b.by_channel["chatbot"].received, 1);
    // Monday 19th: card 3 (00:30); Sunday 25th: card 5 (23:59:59).
    let day = |d| NaiveDate::from_ymd_opt(2026, 10, d).expect("a date");
    assert_eq!(b.received_by_day.get(&day(19)), Some(&1));
    assert_eq!(b.received_by_day.get(&day(20)), Some(&2));
    assert_eq!(b.received_by_day.get(&day(25)), Some(&1));
    assert_eq!(b.received_by_day.get(&day(18)), None);

    let calendar = WorkingCalendar::default();
    let c = build::calls(db, &calendar, &ReportSettings::default(), week())
        .await
        .expect("the calls");
    let g = &c.by_queue["general"];
    assert_eq!((g.offered, g.answered, g.answered_within), (4, 2, 1));
    assert_eq!((g.abandoned, g.abandoned_after), (2, 1));
    assert_eq!(g.abandon_pct(), Some(50.0));
    assert_eq!(
        g.service_level_pct().map(|p| (p * 10.0).round()),
        Some(333.0)
    );
    assert_eq!(g.mean_wait_secs(), Some(20));
    assert_eq!(g.mean_talk_secs(), Some(90));
    let olena = c.by_operator.values().next().expect("olena's figures");
    assert_eq!(olena.answered, 2);
    assert_eq!(olena.mean_wrap_up_secs(), Some(20));
    // Four queued, one blocked, two on Sunday night: not the one before.
    assert_eq!((c.calls, c.blocked), (7, 1));
    assert_eq!((c.status_lookups, c.outage_announcements), (1, 1));
    assert_eq!(c.by_hour[3], 2, "03:30 summer time and 03:30 winter time");
    assert_eq!(c.by_weekday_hour[6][3], 2, "on Sunday");
    assert_eq!(c.by_hour[12], 1, "09:00 UTC is 12:00 in Kyiv in October");
    assert_eq!(c.by_hour[11], 1, "the blocked call");
    let _: &calls::CallFigures = g;

    // The same figures from the days kept: first those settled by Monday
    // noon (to Saturday; Sunday, 25 hours long, is read from the events),
    // then all of them.
    let settings = ReportSettings::default();
    let first = build::count_call_days(db, &calendar, &settings, now())
        .await
        .expect("counted");
    assert!(first >= 6, "the days to Saturday: {first}");
    let kept = db
        .counted_call_days(week().first, week().last, 20_000)
        .await
        .expect("the days kept");
    assert_eq!(kept.len(), 6, "Monday to Saturday: {kept:?}");
    let mixed = build::calls(db, &calendar, &settings, week())
        .await
        .expect("the calls");
    assert_eq!(
        mixed, c,
        "six days kept and Sunday read give the same figures"
    );
    let later = utc(11, 2, 10, 0, 0);
    assert_eq!(
        build::count_call_days(db, &calendar, &settings, later)
            .await
            .expect("counted"),
        7,
        "Sunday, 25 October, to Saturday, 31 October (1 November settles a day after it ends)"
    );
    let whole = build::calls(db, &calendar, &settings, week())
        .await
        .expect("the calls");
    assert_eq!(whole, c, "every day kept gives the same figures");
    assert_eq!(
        build::count_call_days(db, &calendar, &settings, later)
            .await
            .expect("counted"),
        0,
        "a day is counted once"
    );
    // Another service level counts them again, and its figures differ.
    let slower = ReportSettings {
        service_level_secs: 60,
        ..ReportSettings::default()
    };
    let raw = build::calls(db, &calendar, &slower, week())
        .await
        .expect("the calls");
    assert!(
        build::count_call_days(db, &calendar, &slower, later)
            .await
            .expect("counted")
            >= 7
    );
    let kept = build::calls(db, &calendar, &slower, week())
        .await
        .expect("the calls");
    assert_eq!(kept, raw);
    assert_ne!(kept.by_queue["general"].answered_within, g.answered_within);
}

fn cell<'a>(report: &'a Report, section: &str, row: usize, column: &str) -> &'a Cell {
    let s = report
        .sections
        .iter()
        .find(|s| s.key == section)
        .unwrap_or_else(|| panic!("no section {section}"));
    let n = s
        .table
        .columns
        .iter()
        .position(|c| c.title == column)
        .unwrap_or_else(|| panic!("no column {column} in {section}"));
    &s.table.rows[row][n]
}

async fn every_report_of_the_set_is_drawn_from_the_same_figures(db: &TestDb) {
    let city = data_set(db).await;
    let calendar = WorkingCalendar::default();
    let settings = ReportSettings {
        queue_titles: [("general".to_string(), "Загальна".to_string())].into(),
        ..ReportSettings::default()
    };
    let make = |kind, period, executor: Option<String>| {
        let request = Request {
            kind,
            period,
            executor,
        };
        let calendar = &calendar;
        let settings = &settings;
        async move {
            build::make(db, calendar, settings, &request, now())
                .await
                .expect("the report")
        }
    };
    let weekly = make(ReportKind::Weekly, week(), None).await;
    assert_eq!(weekly.period_text, "19.10.2026 – 25.10.2026");
    // Ranked: X closed half on time, Y none.
    let names = db.report_names().await.expect("names").0;
    assert_eq!(
        cell(&weekly, "executors", 0, "Виконавець"),
        &Cell::text(names.executors[&city.x.0].clone())
    );
    assert_eq!(
        cell(&weekly, "executors", 0, "Вчасно, %"),
        &Cell::Number(50.0)
    );
    assert_eq!(
        cell(&weekly, "executors", 1, "Вчасно, %"),
        &Cell::Number(0.0)
    );
    assert_eq!(cell(&weekly, "queues", 0, "Покинули"), &Cell::count(2));
    assert_eq!(
        cell(&weekly, "queues", 0, "Черга"),
        &Cell::text("Загальна"),
        "the queue by its title"
    );

    let sunday = Period::day(NaiveDate::from_ymd_opt(2026, 10, 25).expect("a date"));
    let daily = make(ReportKind::Daily, sunday, Some(city.y.0.clone())).await;
    assert_eq!(daily.scope, names.executors[&city.y.0]);
    assert_eq!(cell(&daily, "indicators", 0, "Надійшло"), &Cell::count(1));
    let overdue = &daily.sections[1].table.rows;
    assert_eq!(overdue.len(), 1, "card 6");
    assert_eq!(overdue[0][0], Cell::text("1580-2026-000006"));
    // Card 5 is due on Wednesday 28th, past the end of Tuesday's work.
    assert!(daily.sections[2].table.rows.is_empty());

    let unresolved = make(ReportKind::Unresolved, week(), None).await;
    let list = &unresolved.sections[1].table.rows;
    let numbers: Vec<&Cell> = list.iter().map(|r| &r[0]).collect();
    assert_eq!(
        numbers,
        vec![
            &Cell::text("1580-2026-000003"),
            &Cell::text("1580-2026-000006")
        ]
    );

    let fortnight = Period::fortnight(NaiveDate::from_ymd_opt(2026, 10, 12).expect("a date"));
    let note = make(ReportKind::Fortnight, fortnight, None).await;
    // 12–25 October: cards 1–5 and 8 (card 4 at 23:59:59 on the 18th in
    // Kyiv); 28 September – 11 October: card 7.
    assert_eq!(
        cell(&note, "comparison", 0, "Ці два тижні"),
        &Cell::text("6")
    );
    assert_eq!(
        cell(&note, "comparison", 0, "Попередні два тижні"),
        &Cell::text("1")
    );
    assert_eq!(cell(&note, "comparison", 0, "Зміна"), &Cell::text("+5"));
    assert_eq!(
        cell(&note, "streets_grew", 0, "Вулиця"),
        &Cell::text("вул. Соборна")
    );
    assert_eq!(cell(&note, "streets_grew", 0, "Зміна"), &Cell::change(4));
    assert_eq!(
        cell(&note, "streets_grew", 1, "Вулиця"),
        &Cell::text("просп. Соборний")
    );

    let refused = build::make(
        db,
        &calendar,
        &settings,
        &Request {
            kind: ReportKind::Daily,
            period: week(),
            executor: Some(city.x.0.clone()),
        },
        now(),
    )
    .await;
    assert!(refused.is_err(), "a daily report of a week");
}
