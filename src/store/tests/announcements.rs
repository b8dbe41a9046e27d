//! Announcements to residents, on SQLite and on PostgreSQL.

use super::*;
use crate::public::announcements::NewAnnouncement;

both_backends!(announcements_are_shown_until_they_end_or_are_withdrawn);

async fn announcements_are_shown_until_they_end_or_are_withdrawn(db: &TestDb) {
    let t = t0();
    let day = Duration::days(1);
    let water = db
        .publish_announcement(
            &NewAnnouncement {
                title: " Графік подачі води ".into(),
                body: "З 6:00 до 22:00.".into(),
                until: Some(t + day),
            },
            None,
            "nadia",
            t,
        )
        .await
        .unwrap();
    assert_eq!(water.title, "Графік подачі води", "trimmed");
    let road = db
        .publish_announcement(
            &NewAnnouncement {
                title: "Перекриття руху".into(),
                body: "Вул. Соборна закрита для руху.".into(),
                until: None,
            },
            None,
            "nadia",
            t + Duration::minutes(1),
        )
        .await
        .unwrap();
    // Bad input is refused and writes nothing.
    assert!(matches!(
        db.publish_announcement(&NewAnnouncement::default(), None, "nadia", t)
            .await,
        Err(StoreError::Invalid { field: "title", .. })
    ));
    let at = t + Duration::minutes(2);
    let shown: Vec<Uuid> = db
        .current_announcements(at)
        .await
        .unwrap()
        .iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(shown, [road.id, water.id], "newest first");
    let later = t + day + Duration::minutes(1);
    let shown = db.current_announcements(later).await.unwrap();
    assert_eq!(shown.len(), 1, "the water schedule ended");
    let gone = db
        .withdraw_announcement(road.id, "sveta", later)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(gone.withdrawn_by.as_deref(), Some("sveta"));
    assert!(
        db.withdraw_announcement(road.id, "sveta", later)
            .await
            .unwrap()
            .is_none()
    );
    assert!(db.current_announcements(later).await.unwrap().is_empty());
    assert_eq!(
        db.recent_announcements(t - day, later).await.unwrap().len(),
        2,
        "kept for the staff"
    );
    assert!(
        db.recent_announcements(later, later)
            .await
            .unwrap()
            .is_empty(),
        "old and ended: off the staff's list too"
    );
}
