//! The block list, on SQLite and on PostgreSQL.

use super::*;
use crate::store::blocking::NewBlock;

both_backends!(blocks_replace_lift_expire_and_count_attempts);
both_backends!(e_mail_and_messenger_accounts_are_blocked_beside_numbers);

fn block<'a>(number: &'a str, reason: &'a str, until: Option<DateTime<Utc>>) -> NewBlock<'a> {
    NewBlock {
        number,
        reason,
        by: None,
        until,
        call_id: None,
    }
}

async fn blocks_replace_lift_expire_and_count_attempts(db: &TestDb) {
    let t = t0();
    let n = "+380611234567";
    let soon = t + Duration::minutes(30);
    let (first, new) = db
        .block_number(&block(n, "образи", Some(soon)), t)
        .await
        .unwrap();
    assert!(new && first.in_force(t) && first.until == Some(storage_precision(soon)));
    let (id, reason) = db.active_block(n, t).await.unwrap().unwrap();
    assert_eq!((id, reason.as_str()), (first.id, "образи"));
    assert_eq!(db.active_block("+380671234567", t).await.unwrap(), None);
    // Bad input changes nothing.
    for bad in [
        block("0611234567", "x", None),
        block("Taras@example.ua", "x", None),
        block("telegram:@taras", "x", None),
        block(n, "  ", None),
        block(n, "x", Some(t - Duration::seconds(1))),
    ] {
        assert!(matches!(
            db.block_number(&bad, t).await,
            Err(StoreError::Invalid { .. })
        ));
    }
    // A second block replaces the first; attempts count against it.
    let later = t + Duration::minutes(1);
    let (second, new) = db
        .block_number(
            &block(n, "погрози", Some(later + Duration::hours(1))),
            later,
        )
        .await
        .unwrap();
    assert!(new);
    // A shorter one does not shorten it.
    let (kept, new) = db
        .block_number(
            &block(n, "ще раз", Some(later + Duration::minutes(5))),
            later,
        )
        .await
        .unwrap();
    assert!(!new);
    assert_eq!(kept.id, second.id);
    for _ in 0..3 {
        db.record_block_attempt(second.id, None, later, "rejected")
            .await
            .unwrap();
    }
    let active = db.blocked_numbers(later, false).await.unwrap();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].id, second.id);
    assert_eq!(active[0].attempts, 3);
    assert_eq!(active[0].last_attempt, Some(storage_precision(later)));
    let history = db.blocked_numbers(later, true).await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1].end_reason.as_deref(), Some("replaced"));
    // Past its time it no longer keeps anyone out, and the sweep ends it once.
    let after = later + Duration::hours(2);
    assert_eq!(db.active_block(n, after).await.unwrap(), None);
    assert!(db.lift_block(n, None, after).await.unwrap().is_none());
    let expired = db.expire_blocks(after).await.unwrap();
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].ended_at, second.until);
    assert!(db.expire_blocks(after).await.unwrap().is_empty());
    // Blocked again, then lifted.
    db.block_number(&block(n, "знову", None), after)
        .await
        .unwrap();
    let lifted = db.lift_block(n, None, after).await.unwrap().unwrap();
    assert_eq!(lifted.end_reason.as_deref(), Some("lifted"));
    assert_eq!(db.active_block(n, after).await.unwrap(), None);
    assert_eq!(db.blocked_numbers(after, true).await.unwrap().len(), 3);
}

async fn e_mail_and_messenger_accounts_are_blocked_beside_numbers(db: &TestDb) {
    let t = t0();
    for (key, kind) in [
        ("mailto:taras@example.ua", "email"),
        ("telegram:123456789", "telegram"),
        ("viber:01234567890A=", "viber"),
        ("+380611234567", "phone"),
    ] {
        let (b, new) = db.block_number(&block(key, "спам", None), t).await.unwrap();
        assert!(new, "{key}");
        assert_eq!((b.number.as_str(), b.kind), (key, kind));
        db.record_block_attempt(b.id, None, t, "web").await.unwrap();
        assert_eq!(
            db.active_block(key, t).await.unwrap().map(|(id, _)| id),
            Some(b.id)
        );
    }
    let listed = db.blocked_numbers(t, false).await.unwrap();
    assert_eq!(listed.len(), 4);
    assert!(listed.iter().all(|b| b.attempts == 1));
    let lifted = db
        .lift_block("mailto:taras@example.ua", None, t)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lifted.kind, "email");
    assert_eq!(
        db.active_block("mailto:taras@example.ua", t).await.unwrap(),
        None
    );
}
