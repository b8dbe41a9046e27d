//! Registering appeal cards, on SQLite and on PostgreSQL.

use chrono::{Datelike, TimeZone};

use super::testing::sample_card as card;
use super::*;

both_backends!(
    cards_are_checked_field_by_field,
    registration_numbers_are_sequential_unique_and_skip_taken_ones,
    a_card_shows_its_calls_recordings_repeat_and_attachments,
);

async fn a_category(db: &TestDb) -> Uuid {
    super::testing::sample_category(db, "sample", t0()).await
}

async fn cards_are_checked_field_by_field(db: &TestDb) {
    let category = a_category(db).await;
    let empty = AppealCard {
        email: "not-an-address".into(),
        ..Default::default()
    };
    let Err(RegisterError::Fields(problems)) = db.register_appeal(&empty, t0()).await else {
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
    let Err(RegisterError::Fields(problems)) = db.register_appeal(&other, t0()).await else {
        panic!("unknown original");
    };
    assert_eq!(
        problems.iter().map(|p| p.field).collect::<Vec<_>>(),
        ["repeat_of"]
    );
    let mut bad_category = card(category);
    bad_category.category_id = Some(Uuid::new_v4());
    assert!(matches!(
        db.register_appeal(&bad_category, t0()).await,
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
    let first = db.register_appeal(&card(category), now).await.unwrap();
    assert_eq!(first.registration_number, "1580-2026-000001");
    assert_eq!(first.deadline, now + cat.deadline.duration());
    assert_eq!(first.executor, cat.executor.name);
    assert_eq!(first.status, AppealStatus::Registered);
    // A number taken another way is skipped.
    demo::seed(db, now).await.unwrap(); // 1580-2026-000123
    let mut numbers = vec![first.registration_number.clone()];
    // Several operators saving at once: all different.
    let cards: Vec<AppealCard> = (0..130).map(|_| card(category)).collect();
    let saves = cards.iter().map(|c| db.register_appeal(c, now));
    for saved in futures_util::future::join_all(saves).await {
        numbers.push(saved.unwrap().registration_number);
    }
    let mut unique = numbers.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), numbers.len(), "no number twice");
    assert!(!numbers.contains(&demo::APPEAL_NUMBER.to_string()));
    assert!(numbers.contains(&"1580-2026-000131".to_string()));
    // A repeat appeal points at the original.
    let mut again = card(category);
    again.repeat_of = first.registration_number.clone();
    let repeat = db.register_appeal(&again, now).await.unwrap();
    assert_ne!(repeat.id, first.id);
    // A new year starts at 1.
    let next_year = now.with_year(2027).unwrap();
    let jan = db
        .register_appeal(&card(category), next_year)
        .await
        .unwrap();
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
            &AppealCard {
                call_id: Some(first.id),
                email: "taras@example.com".into(),
                ..card(category)
            },
            t0(),
        )
        .await
        .unwrap();
    let repeat = db
        .register_appeal(
            &AppealCard {
                repeat_of: original.registration_number.clone(),
                ..card(category)
            },
            t0() + Duration::hours(1),
        )
        .await
        .unwrap();

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

    let attachment = crate::store::Attachment {
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
            &crate::store::Attachment {
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
    assert_eq!(detail.channel, Some(crate::store::Channel::Phone));
    assert_eq!(detail.repeat_of, None);
    assert_eq!(detail.calls.len(), 2);
    assert_eq!(detail.calls[0].call_id, first.id);
    assert_eq!(detail.calls[0].attached_at, None);
    assert_eq!(detail.calls[0].recordings, vec![recording.id]);
    assert_eq!(detail.calls[1].call_id, later.id);
    assert_eq!(detail.calls[1].attached_at, Some(at));
    assert_eq!(detail.attachments, vec![attachment]);
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
    assert_eq!(detail.channel, Some(crate::store::Channel::WalkIn));
    assert!(detail.calls.is_empty() && detail.attachments.is_empty());
    assert!(
        db.appeal_detail("1580-1999-000001")
            .await
            .unwrap()
            .is_none()
    );
}
