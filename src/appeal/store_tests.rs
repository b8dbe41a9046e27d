//! The appeal's queries, on SQLite and on PostgreSQL: registering, looking
//! up, linking calls and attachments.

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use uuid::Uuid;

use super::number::digits as registration_digits;
use super::*;
use crate::store::demo;
use crate::store::testing::{TestDb, both_backends, sample_appeal as card};
use crate::store::tests::{new_call, new_recording, raw_execute, t0};
use crate::store::{StoreError, storage_precision};

both_backends!(
    appeal_lookup_by_number,
    duplicate_appeals,
    appeal_call_link,
    appeals_by_phone_newest_first,
    latest_address_for_phone,
    cards_are_checked_field_by_field,
    a_card_without_a_subject_is_registered_for_triage,
    registration_numbers_are_sequential_unique_and_skip_taken_ones,
    a_card_shows_its_calls_recordings_repeat_and_attachments,
);

async fn a_category(db: &TestDb) -> Uuid {
    crate::store::testing::sample_category(db, "sample", t0()).await
}

async fn cards_are_checked_field_by_field(db: &TestDb) {
    let category = a_category(db).await;
    let empty = NewAppeal {
        email: "not-an-address".into(),
        ..Default::default()
    };
    let Err(RegisterError::Fields(problems)) = db
        .register_appeal(
            &empty,
            &crate::appeal::lifecycle::Lifecycle::default(),
            &crate::appeal::lifecycle_store::Author::system(),
            t0(),
        )
        .await
    else {
        panic!("an empty card is refused");
    };
    let fields: Vec<&str> = problems.iter().map(|p| p.field).collect();
    assert_eq!(
        fields,
        [
            "surname",
            "first_name",
            "patronymic",
            "address",
            "contact_phone",
            "essence",
            "email",
            "category"
        ]
    );
    assert!(problems.iter().all(|p| !p.message.is_empty()));
    // Another contact instead of a phone is enough; an unknown original is not.
    let mut other = card(category);
    other.contact_phone.clear();
    other.other_contact = "Telegram @taras".into();
    other.repeat_of = "1580-2020-999999".into();
    let Err(RegisterError::Fields(problems)) = db
        .register_appeal(
            &other,
            &crate::appeal::lifecycle::Lifecycle::default(),
            &crate::appeal::lifecycle_store::Author::system(),
            t0(),
        )
        .await
    else {
        panic!("unknown original");
    };
    assert_eq!(
        problems.iter().map(|p| p.field).collect::<Vec<_>>(),
        ["repeat_of"]
    );
    // A point on the map: both coordinates, each in its range.
    for (lat, lon, fields) in [
        (Some(47.8), None, vec!["longitude"]),
        (None, Some(35.1), vec!["latitude"]),
        (Some(91.0), Some(35.1), vec!["latitude"]),
        (Some(47.8), Some(f64::NAN), vec!["longitude"]),
        (Some(-90.5), Some(180.5), vec!["latitude", "longitude"]),
    ] {
        let mut placed = card(category);
        (placed.latitude, placed.longitude) = (lat, lon);
        let Err(RegisterError::Fields(problems)) = db
            .register_appeal(
                &placed,
                &crate::appeal::lifecycle::Lifecycle::default(),
                &crate::appeal::lifecycle_store::Author::system(),
                t0(),
            )
            .await
        else {
            panic!("{lat:?}, {lon:?} refused");
        };
        assert_eq!(problems.iter().map(|p| p.field).collect::<Vec<_>>(), fields);
    }
    let mut bad_category = card(category);
    bad_category.category_id = Some(Uuid::new_v4());
    assert!(matches!(
        db.register_appeal(&bad_category, &crate::appeal::lifecycle::Lifecycle::default(), &crate::appeal::lifecycle_store::Author::system(), t0()).await,
        Err(RegisterError::Fields(p)) if p[0].field == "category"
    ));
    assert!(
        db.appeals_by_phone("+380611234567", 10)
            .await
            .unwrap()
            .is_empty(),
        "nothing half-written"
    );
}

async fn registration_numbers_are_sequential_unique_and_skip_taken_ones(db: &TestDb) {
    let category = a_category(db).await;
    let cat = db.category(category).await.unwrap().unwrap();
    let now = Utc
        .with_ymd_and_hms(2026, 11, 23, 9, 0, 0)
        .single()
        .unwrap();
    let first = db
        .register_appeal(
            &card(category),
            &crate::appeal::lifecycle::Lifecycle::default(),
            &crate::appeal::lifecycle_store::Author::system(),
            now,
        )
        .await
        .unwrap()
        .record;
    assert_eq!(first.registration_number, "1580-2026-000001");
    assert_eq!(first.deadline, now + cat.deadline.duration());
    assert_eq!(first.executor, cat.executor.code, "a key, not a name");
    // 11:00 on a Monday in Kyiv: delivered at once.
    assert_eq!(first.status, AppealStatus::Delivered);
    // A number taken another way is skipped.
    demo::seed(db, now).await.unwrap(); // 1580-2026-000123
    let mut numbers: Vec<String> = vec![first.registration_number.to_string()];
    // Several operators saving at once: all different.
    let cards: Vec<NewAppeal> = (0..130).map(|_| card(category)).collect();
    let (rules, author) = (
        crate::appeal::lifecycle::Lifecycle::default(),
        crate::appeal::lifecycle_store::Author::system(),
    );
    let saves = cards
        .iter()
        .map(|c| db.register_appeal(c, &rules, &author, now));
    for saved in futures_util::future::join_all(saves).await {
        numbers.push(saved.unwrap().record.registration_number.into());
    }
    let mut unique = numbers.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), numbers.len(), "no number twice");
    assert!(!numbers.contains(&demo::APPEAL_NUMBER.to_string()));
    assert!(numbers.contains(&"1580-2026-000131".to_string()));
    // A repeat appeal points at the original.
    let mut again = card(category);
    again.repeat_of = first.registration_number.to_string();
    let repeat = db
        .register_appeal(
            &again,
            &crate::appeal::lifecycle::Lifecycle::default(),
            &crate::appeal::lifecycle_store::Author::system(),
            now,
        )
        .await
        .unwrap()
        .record;
    assert_ne!(repeat.id, first.id);
    // A new year starts at 1.
    let next_year = now.with_year(2027).unwrap();
    let jan = db
        .register_appeal(
            &card(category),
            &crate::appeal::lifecycle::Lifecycle::default(),
            &crate::appeal::lifecycle_store::Author::system(),
            next_year,
        )
        .await
        .unwrap()
        .record;
    assert_eq!(jan.registration_number, "1580-2027-000001");
}

async fn a_card_shows_its_calls_recordings_repeat_and_attachments(db: &TestDb) {
    let category = a_category(db).await;
    let first = new_call(t0());
    db.insert_call(&first).await.unwrap();
    let recording = new_recording(first.id, t0());
    db.insert_recording(&recording).await.unwrap();
    let original = db
        .register_appeal(
            &NewAppeal {
                call_id: Some(first.id),
                email: "taras@example.com".into(),
                latitude: Some(47.838_812),
                longitude: Some(35.139_567),
                ..card(category)
            },
            &crate::appeal::lifecycle::Lifecycle::default(),
            &crate::appeal::lifecycle_store::Author::system(),
            t0(),
        )
        .await
        .unwrap()
        .record;
    let repeat = db
        .register_appeal(
            &NewAppeal {
                repeat_of: original.registration_number.to_string(),
                ..card(category)
            },
            &crate::appeal::lifecycle::Lifecycle::default(),
            &crate::appeal::lifecycle_store::Author::system(),
            t0() + Duration::hours(1),
        )
        .await
        .unwrap()
        .record;

    // A later call, attached once; the registering call is not attached
    // again; unknown calls and cards are refused.
    let later = new_call(t0() + Duration::days(1));
    db.insert_call(&later).await.unwrap();
    let at = crate::store::storage_precision(t0() + Duration::days(1));
    assert!(
        db.attach_call(original.id, later.id, None, at)
            .await
            .unwrap()
    );
    assert!(
        !db.attach_call(original.id, later.id, None, at)
            .await
            .unwrap()
    );
    assert!(
        !db.attach_call(original.id, first.id, None, at)
            .await
            .unwrap()
    );
    assert!(matches!(
        db.attach_call(original.id, Uuid::new_v4(), None, at).await,
        Err(StoreError::NotFound { what: "call", .. })
    ));
    assert!(matches!(
        db.attach_call(Uuid::new_v4(), later.id, None, at).await,
        Err(StoreError::NotFound { what: "appeal", .. })
    ));

    let attachment = Attachment {
        id: Uuid::new_v4(),
        appeal_id: original.id,
        file_name: "фото.png".into(),
        content_type: "image/png".into(),
        size_bytes: 1234,
        sha256: "ab".repeat(32),
        path: "2026/11/x.png".into(),
        uploaded_at: at,
    };
    db.add_attachment(&attachment, None).await.unwrap();
    assert!(matches!(
        db.add_attachment(&attachment, None).await,
        Err(StoreError::AlreadyExists { .. })
    ));
    assert!(matches!(
        db.add_attachment(
            &Attachment {
                id: Uuid::new_v4(),
                appeal_id: Uuid::new_v4(),
                path: "2026/11/y.png".into(),
                ..attachment.clone()
            },
            None
        )
        .await,
        Err(StoreError::NotFound { what: "appeal", .. })
    ));
    assert_eq!(
        db.attachment(original.id, attachment.id).await.unwrap(),
        Some(attachment.clone())
    );
    assert_eq!(db.attachment(repeat.id, attachment.id).await.unwrap(), None);

    let detail = db
        .appeal_detail(&original.registration_number.replace('-', ""))
        .await
        .unwrap()
        .expect("found without dashes");
    assert_eq!(detail.surname.as_deref(), Some("Шевченко"));
    assert_eq!(detail.email.as_deref(), Some("taras@example.com"));
    assert_eq!(detail.category_id, Some(category));
    assert_eq!(detail.channel, Some(Channel::Phone));
    assert_eq!(detail.repeat_of, None);
    assert_eq!(detail.calls.len(), 2);
    assert_eq!(detail.calls[0].call_id, first.id);
    assert_eq!(detail.calls[0].attached_at, None);
    assert_eq!(detail.calls[0].recordings, vec![recording.id]);
    assert_eq!(detail.calls[1].call_id, later.id);
    assert_eq!(detail.calls[1].attached_at, Some(at));
    assert_eq!(detail.attachments, vec![attachment]);
    assert_eq!(
        (detail.latitude, detail.longitude),
        (Some(47.838_812), Some(35.139_567)),
        "the point on the map, as given"
    );
    // Personal data stays out of Debug.
    let debug = format!("{detail:?}");
    assert!(
        !debug.contains("Шевченко") && !debug.contains("taras"),
        "{debug}"
    );

    let detail = db
        .appeal_detail(&repeat.registration_number)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        detail.repeat_of.as_deref(),
        Some(original.registration_number.as_str())
    );
    assert_eq!(detail.channel, Some(Channel::WalkIn));
    assert!(detail.calls.is_empty() && detail.attachments.is_empty());
    assert_eq!((detail.latitude, detail.longitude), (None, None));
    assert!(
        db.appeal_detail("1580-1999-000001")
            .await
            .unwrap()
            .is_none()
    );
}

const PHONE: &str = "+380611234567";

fn new_appeal(registration_number: &str, created_at: DateTime<Utc>) -> AppealRow {
    AppealRow {
        id: Uuid::new_v4(),
        registration_number: registration_number.into(),
        status: AppealStatus::Registered,
        category: "Житлово-комунальне господарство / Водопостачання / Відсутність води".into(),
        executor: "КП «Водоканал»".into(),
        deadline: created_at + Duration::hours(24),
        caller_phone: PHONE.into(),
        address: Some("вул. Соборна, 12, кв. 5".into()),
        created_at,
        call_id: None,
    }
}

/// What reading `appeal` back must give.
fn stored_appeal(appeal: &AppealRow) -> AppealRecord {
    AppealRecord {
        id: appeal.id,
        registration_number: appeal.registration_number.clone(),
        status: appeal.status,
        category: appeal.category.clone(),
        executor: appeal.executor.clone(),
        deadline: storage_precision(appeal.deadline),
        caller_phone: appeal.caller_phone.clone(),
        address: appeal.address.clone(),
        created_at: storage_precision(appeal.created_at),
        call_id: appeal.call_id,
    }
}

async fn appeal_lookup_by_number(db: &TestDb) {
    let appeal = AppealRow {
        status: AppealStatus::InProgress,
        ..new_appeal("1580-2026-000123", t0())
    };
    let other = new_appeal("1580-2026-000124", t0());
    db.insert_appeal(&appeal).await.expect("insert");
    db.insert_appeal(&other).await.expect("insert other");

    let want = stored_appeal(&appeal);
    for typed in [
        "1580-2026-000123",
        "15802026000123",
        " 1580 2026 000123 ",
        "№1580/2026/000123#",
    ] {
        let got = db
            .appeal_by_registration_number(typed)
            .await
            .expect("lookup");
        assert_eq!(got.as_ref(), Some(&want), "{typed:?}");
    }
    for unknown in [
        "1580-2026-000125",
        "1580-2026-00012",
        "158020260001230",
        "",
        "---",
        "абв",
    ] {
        assert_eq!(
            db.appeal_by_registration_number(unknown)
                .await
                .expect("lookup"),
            None,
            "{unknown:?}"
        );
    }
}

async fn duplicate_appeals(db: &TestDb) {
    let appeal = new_appeal("1580-2026-000123", t0());
    db.insert_appeal(&appeal).await.expect("insert");

    match db.insert_appeal(&appeal).await {
        Err(StoreError::AlreadyExists {
            what: "appeal",
            key,
        }) => {
            assert_eq!(key, appeal.id.to_string())
        }
        other => panic!("expected AlreadyExists for the id, got {other:?}"),
    }
    // Another appeal with the same number, or the same digits written
    // otherwise: a caller could not tell them apart on the keypad.
    for number in ["1580-2026-000123", "15802026-000123"] {
        let twin = new_appeal(number, t0() + Duration::seconds(1));
        match db.insert_appeal(&twin).await {
            Err(
                err @ StoreError::AlreadyExists {
                    what: "appeal registration number",
                    ..
                },
            ) => assert!(err.to_string().contains(number), "{err}"),
            other => panic!("{number}: expected AlreadyExists, got {other:?}"),
        }
    }
    // A number must have digits.
    assert!(matches!(
        db.insert_appeal(&new_appeal("б/н", t0())).await,
        Err(StoreError::Query { .. })
    ));
    let stored = db.appeals_by_phone(PHONE, 10).await.expect("list");
    assert_eq!(stored, vec![stored_appeal(&appeal)]);
}

async fn appeal_call_link(db: &TestDb) {
    let call = new_call(t0());
    db.insert_call(&call).await.expect("insert call");
    let appeal = AppealRow {
        call_id: Some(call.id),
        ..new_appeal("1580-2026-000001", t0() + Duration::minutes(3))
    };
    db.insert_appeal(&appeal).await.expect("insert");
    let got = db
        .appeal_by_registration_number(&appeal.registration_number)
        .await
        .expect("lookup")
        .expect("present");
    assert_eq!(got.call_id, Some(call.id));

    let nobody = Uuid::new_v4();
    let orphan = AppealRow {
        call_id: Some(nobody),
        ..new_appeal("1580-2026-000002", t0())
    };
    assert!(matches!(
        db.insert_appeal(&orphan).await,
        Err(StoreError::NotFound { what: "call", id }) if id == nobody
    ));

    // Purging the call keeps the appeal (kept 3 years), unlinked.
    raw_execute(db, "DELETE FROM calls").await;
    let got = db
        .appeal_by_registration_number(&appeal.registration_number)
        .await
        .expect("lookup")
        .expect("still present");
    assert_eq!(got.call_id, None);
}

async fn appeals_by_phone_newest_first(db: &TestDb) {
    let mut mine = Vec::new();
    for (n, offset_ms) in [0, 2500, 1000, 1001, 999].into_iter().enumerate() {
        let appeal = new_appeal(
            &format!("1580-2025-{n:06}"),
            t0() + Duration::milliseconds(offset_ms),
        );
        db.insert_appeal(&appeal).await.expect("insert");
        mine.push(appeal);
    }
    let theirs = AppealRow {
        caller_phone: "+380501112233".into(),
        ..new_appeal("1580-2025-999999", t0() + Duration::days(1))
    };
    db.insert_appeal(&theirs)
        .await
        .expect("insert other caller");
    mine.sort_by_key(|a| std::cmp::Reverse(a.created_at));
    let want: Vec<String> = mine
        .iter()
        .map(|a| a.registration_number.to_string())
        .collect();

    let numbers = |list: Vec<AppealRecord>| -> Vec<String> {
        list.into_iter()
            .map(|a| a.registration_number.into())
            .collect()
    };
    assert_eq!(
        numbers(db.appeals_by_phone(PHONE, 100).await.expect("list")),
        want
    );
    assert_eq!(
        numbers(db.appeals_by_phone(PHONE, 2).await.expect("list")),
        want[..2]
    );
    assert!(
        db.appeals_by_phone(PHONE, 0)
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(
        numbers(db.appeals_by_phone("+380501112233", 5).await.expect("list")),
        vec![theirs.registration_number.to_string()]
    );
    assert!(
        db.appeals_by_phone("+380000000000", 5)
            .await
            .expect("list")
            .is_empty()
    );
}

async fn latest_address_for_phone(db: &TestDb) {
    assert_eq!(
        db.latest_address_for_phone(PHONE).await.expect("address"),
        None
    );
    let old = AppealRow {
        address: Some("вул. Соборна, 12".into()),
        ..new_appeal("1580-2026-000001", t0())
    };
    // Newer, but without a usable address.
    let none = AppealRow {
        address: None,
        ..new_appeal("1580-2026-000002", t0() + Duration::hours(1))
    };
    let blank = AppealRow {
        address: Some("  ".into()),
        ..new_appeal("1580-2026-000003", t0() + Duration::hours(2))
    };
    // Another caller's, newest of all.
    let other = AppealRow {
        caller_phone: "+380501112233".into(),
        address: Some("пр. Металургів, 5".into()),
        ..new_appeal("1580-2026-000004", t0() + Duration::hours(3))
    };
    for appeal in [&old, &none, &blank, &other] {
        db.insert_appeal(appeal).await.expect("insert");
    }
    assert_eq!(
        db.latest_address_for_phone(PHONE)
            .await
            .expect("address")
            .as_deref(),
        Some("вул. Соборна, 12")
    );

    let moved = AppealRow {
        address: Some("бульв. Шевченка, 7".into()),
        ..new_appeal("1580-2026-000005", t0() + Duration::hours(4))
    };
    db.insert_appeal(&moved).await.expect("insert");
    assert_eq!(
        db.latest_address_for_phone(PHONE)
            .await
            .expect("address")
            .as_deref(),
        Some("бульв. Шевченка, 7")
    );
    assert_eq!(
        db.latest_address_for_phone("+380000000000")
            .await
            .expect("address"),
        None
    );
}

#[test]
fn appeal_debug_hides_personal_data() {
    let appeal = new_appeal("1580-2026-000123", t0());
    let shown = format!("{appeal:?} {:?}", stored_appeal(&appeal));
    assert!(!shown.contains("+3806112345"), "{shown}");
    assert!(!shown.contains("Соборна"), "{shown}");
    assert!(shown.contains("***67"), "{shown}");
    assert!(shown.contains("1580-2026-000123"), "{shown}");
}

#[test]
fn registration_digits_ignore_everything_but_digits() {
    assert_eq!(registration_digits("1580-2026-000123"), "15802026000123");
    assert_eq!(registration_digits(" №1580 / 2026 "), "15802026");
    assert_eq!(registration_digits("б/н"), "");
}

#[test]
fn statuses_round_trip_through_text() {
    for s in AppealStatus::ALL {
        assert_eq!(AppealStatus::parse(s.as_str()), Some(*s));
    }
    assert_eq!(AppealStatus::ALL.len(), 9);
    assert_eq!(AppealStatus::InProgress.as_str(), "in_progress");
}

async fn a_card_without_a_subject_is_registered_for_triage(db: &TestDb) {
    let category = a_category(db).await;
    let rules = crate::appeal::lifecycle::Lifecycle::default();
    let author = crate::appeal::lifecycle_store::Author::citizen("web");
    // "Не знаю" and a category at once is a contradiction.
    let both = NewAppeal {
        triage: true,
        ..card(category)
    };
    let Err(RegisterError::Fields(problems)) =
        db.register_appeal(&both, &rules, &author, t0()).await
    else {
        panic!("both refused");
    };
    assert_eq!(problems[0].field, "category");
    let triage = NewAppeal {
        triage: true,
        category_id: None,
        ..card(category)
    };
    let registration = db
        .register_appeal(&triage, &rules, &author, t0())
        .await
        .unwrap();
    assert_eq!(
        registration.executor_name,
        crate::appeal::store::TRIAGE_NAME
    );
    let record = registration.record;
    assert_eq!(record.executor, "");
    assert_eq!(record.category, "");
    assert_eq!(record.status, AppealStatus::Registered);
    assert_eq!(
        record.deadline,
        storage_precision(crate::appeal::lifecycle::TRIAGE_CLASS.deadline(t0()))
    );
    let stored = db.appeal_card(record.id).await.unwrap().unwrap();
    assert!(stored.card.parts.is_empty());
    assert_eq!(stored.card.delivery_at, None);
    let detail = db
        .appeal_detail(record.registration_number.as_str())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(detail.category_id, None);

    // The contact centre classifies it: the category's executor and the
    // deadline its class gives from the registration, written together.
    let operator = crate::appeal::lifecycle::Actor::User {
        login: "olena".into(),
        role: crate::store::Role::Operator,
        executor: None,
    };
    let olena = crate::appeal::lifecycle_store::Author {
        user_id: None,
        login: "olena".into(),
        role: "operator".into(),
        executor: None,
    };
    let classify = |category| crate::appeal::lifecycle::Action::Classify {
        category,
        executors: Vec::new(),
        class: None,
    };
    assert!(
        db.take_step(
            &rules,
            record.id,
            classify(Uuid::new_v4()),
            &operator,
            &olena
        )
        .await
        .is_err(),
        "an unknown category"
    );
    let taken = db
        .take_step(&rules, record.id, classify(category), &operator, &olena)
        .await
        .unwrap();
    assert_eq!(
        taken.outcome.entry.kind,
        crate::appeal::lifecycle::EntryKind::Classified
    );
    let cat = db.category(category).await.unwrap().unwrap();
    let record = db
        .appeal_by_registration_number(record.registration_number.as_str())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.executor, cat.executor.code);
    assert_eq!(record.category, cat.path());
    assert_eq!(
        record.deadline,
        storage_precision(t0() + cat.deadline.duration())
    );
    let detail = db
        .appeal_detail(record.registration_number.as_str())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(detail.category_id, Some(category));
    let history = db.appeal_history(record.id).await.unwrap();
    let last = history.last().unwrap();
    assert_eq!(
        (last.login.as_str(), last.kind),
        ("olena", crate::appeal::lifecycle::EntryKind::Classified)
    );
}
