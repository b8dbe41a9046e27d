//! Registering appeal cards, on SQLite and on PostgreSQL.

use chrono::{Datelike, TimeZone};

use super::*;
use crate::classifier::Classifier;

both_backends!(
    cards_are_checked_field_by_field,
    registration_numbers_are_sequential_unique_and_skip_taken_ones,
);

async fn a_category(db: &TestDb) -> Uuid {
    let classifier = Classifier::load(std::path::Path::new(crate::classifier::DEFAULT_PATH))
        .expect("sample classifier");
    let outcome = db
        .import_classifier(&classifier, "sample", t0())
        .await
        .unwrap();
    db.categories(outcome.version.number).await.unwrap()[0].id
}

fn card(category: Uuid) -> AppealCard {
    AppealCard {
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
