//! The pruner in set time, on SQLite and PostgreSQL: thousands of
//! recordings of mixed ages with holds, two pruners at once, a prune
//! interrupted half-way and finished by the start-up sweep, and cards with
//! their attachments and repeats.

use std::collections::HashSet;
use std::path::Path;

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use super::*;
use crate::appeal::{Attachment, NewAppeal};
use crate::store::NewRecording;
use crate::store::retention::HoldTarget;
use crate::store::testing::{TestDb, both_backends, sample_appeal as card};

both_backends!(
    thousands_of_recordings_only_the_old_unheld_go_and_two_pruners_share_them,
    an_interrupted_prune_is_finished_by_the_start_up_sweep,
    old_cards_go_with_their_files_and_held_ones_stay,
    a_missing_volume_costs_no_recording_its_row,
    holds_on_purged_recordings_are_refused,
    the_chat_bots_sent_messages_and_quiet_accounts_go,
);

/// "Now" for these tests: a fixed day, nothing to do with the real clock.
fn now() -> DateTime<Utc> {
    "2026-11-25T12:00:00Z".parse().unwrap()
}

struct Fixture {
    _dir: tempfile::TempDir,
    pruner: Pruner,
}

fn fixture(db: &TestDb) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let pruner = Pruner {
        store: db.store().clone(),
        recordings_dir: dir.path().join("recordings"),
        attachments: AttachmentFiles::new(dir.path().join("attachments"), 1 << 20),
        recordings: "3 months".parse().unwrap(),
        appeals: "3 years".parse().unwrap(),
    };
    Fixture { _dir: dir, pruner }
}

async fn call_at(db: &TestDb, at: DateTime<Utc>) -> Uuid {
    crate::store::testing::stored_call(db, "0611234567", "+380611234567", at).await
}

/// A recorded call at `at`, its file written under the recordings dir.
async fn recording_at(db: &TestDb, dir: &Path, at: DateTime<Utc>) -> (Uuid, Uuid) {
    let call = call_at(db, at).await;
    let id = Uuid::new_v4();
    let path = crate::recording::relative_path_for(id, at);
    let full = dir.join(&path);
    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
    std::fs::write(&full, b"RIFF....WAVE").unwrap();
    db.insert_recording(&NewRecording {
        id,
        call_id: call,
        path: path.to_string_lossy().into_owned(),
        started_at: at,
        sample_rate: 8000,
        channels: 2,
    })
    .await
    .unwrap();
    db.finish_recording(id, at + TimeDelta::seconds(30), 30_000, 12)
        .await
        .unwrap();
    (id, call)
}

fn file_of(dir: &Path, db_path: &str) -> std::path::PathBuf {
    dir.join(db_path)
}

async fn thousands_of_recordings_only_the_old_unheld_go_and_two_pruners_share_them(db: &TestDb) {
    let f = fixture(db);
    let dir = f.pruner.recordings_dir.clone();
    let cutoff = f.pruner.recordings.cutoff(now());
    // 2,000 recordings from 333 days ago to now, one every 4 hours, and
    // some right around the limit.
    let mut all = Vec::new();
    for i in 0..2000 {
        let at = now() - TimeDelta::hours(4 * i);
        all.push((recording_at(db, &dir, at).await, at));
    }
    for at in [
        cutoff - TimeDelta::seconds(1),
        cutoff,
        cutoff + TimeDelta::seconds(1),
    ] {
        all.push((recording_at(db, &dir, at).await, at));
    }
    // Holds: one recording directly, one through the card of its call,
    // one released (so not held any more).
    let old: Vec<&((Uuid, Uuid), DateTime<Utc>)> =
        all.iter().filter(|(_, at)| *at < cutoff).collect();
    let held_directly = old[0].0.0;
    db.set_hold(
        HoldTarget::Recording(held_directly),
        "суперечка",
        None,
        now(),
    )
    .await
    .unwrap();
    let held_by_card = old[1].0;
    let category = a_category(db).await;
    let card = db
        .register_appeal(
            &NewAppeal {
                call_id: Some(held_by_card.1),
                ..card(category)
            },
            &crate::appeal::lifecycle::Lifecycle::default(),
            &crate::appeal::lifecycle_store::Author::system(),
            now(),
        )
        .await
        .unwrap()
        .record;
    db.set_hold(HoldTarget::Appeal(card.id), "скарга", None, now())
        .await
        .unwrap();
    let released = old[2].0.0;
    let hold = db
        .set_hold(HoldTarget::Recording(released), "помилка", None, now())
        .await
        .unwrap();
    assert!(db.release_hold(hold, None, now()).await.unwrap());

    let expected: HashSet<Uuid> = old
        .iter()
        .map(|((id, _), _)| *id)
        .filter(|id| *id != held_directly && *id != held_by_card.0)
        .collect();
    assert!(expected.len() > 600, "{}", expected.len());

    // The dry run lists exactly those, and changes nothing.
    let dry = f.pruner.prune(now(), true).await.unwrap();
    let listed: HashSet<Uuid> = dry.recordings.iter().map(|r| r.id).collect();
    assert_eq!(listed, expected);
    assert_eq!(dry.files_removed, 0);
    assert_eq!(
        db.recordings_due(cutoff).await.unwrap().len(),
        expected.len()
    );

    // Two pruners at once: each row taken by one of them only.
    let (a, b) = tokio::join!(f.pruner.prune(now(), false), f.pruner.prune(now(), false));
    let (a, b) = (a.unwrap(), b.unwrap());
    let a_ids: HashSet<Uuid> = a.recordings.iter().map(|r| r.id).collect();
    let b_ids: HashSet<Uuid> = b.recordings.iter().map(|r| r.id).collect();
    assert!(a_ids.is_disjoint(&b_ids), "a recording pruned twice");
    assert_eq!(&a_ids | &b_ids, expected);
    assert_eq!(a.files_removed + b.files_removed, expected.len());
    assert!(a.errors.is_empty() && b.errors.is_empty());

    // Files and rows agree: pruned ones gone and marked, the rest kept.
    for ((id, call), _) in &all {
        let rec = db.get_recording(*id).await.unwrap().unwrap();
        let exists = file_of(&dir, &rec.path).exists();
        if expected.contains(id) {
            assert!(rec.purged_at.is_some() && !exists, "{id} not pruned");
            assert!(
                db.get_call(*call).await.unwrap().is_some(),
                "the call stays"
            );
        } else {
            assert!(rec.purged_at.is_none() && exists, "{id} pruned too soon");
        }
    }
    // Again: nothing left to do.
    let again = f.pruner.prune(now(), false).await.unwrap();
    assert!(again.recordings.is_empty());
    // A day later the one at the very limit goes too.
    let later = f
        .pruner
        .prune(now() + TimeDelta::days(1), true)
        .await
        .unwrap();
    assert!(
        later
            .recordings
            .iter()
            .any(|r| r.started_at == crate::store::storage_precision(cutoff))
    );
}

async fn an_interrupted_prune_is_finished_by_the_start_up_sweep(db: &TestDb) {
    let f = fixture(db);
    let dir = f.pruner.recordings_dir.clone();
    let old = now() - TimeDelta::days(120);
    let mut recordings = Vec::new();
    for i in 0..20 {
        recordings.push(recording_at(db, &dir, old + TimeDelta::minutes(i)).await.0);
    }
    let young = recording_at(db, &dir, now() - TimeDelta::days(1)).await.0;
    // The pruner claimed ten and died before deleting their files.
    let cutoff = f.pruner.recordings.cutoff(now());
    let claimed = db.claim_recordings(cutoff, now(), 10).await.unwrap();
    assert_eq!(claimed.len(), 10, "{claimed:?}");
    for c in &claimed {
        assert!(file_of(&dir, &c.path).exists());
    }
    // A kept recording's file vanished (a disk fault, a hand).
    let young_rec = db.get_recording(young).await.unwrap().unwrap();
    std::fs::remove_file(file_of(&dir, &young_rec.path)).unwrap();
    // Files without rows: an old one, and a fresh one (a crash before the
    // row of a call in progress was written).
    let orphan_old = dir
        .join("2026/01/01")
        .join(format!("{}.wav", Uuid::new_v4()));
    std::fs::create_dir_all(orphan_old.parent().unwrap()).unwrap();
    std::fs::write(&orphan_old, b"RIFF").unwrap();
    let past = std::time::SystemTime::now() - std::time::Duration::from_secs(200 * 86_400);
    std::fs::File::options()
        .write(true)
        .open(&orphan_old)
        .unwrap()
        .set_modified(past)
        .unwrap();
    let orphan_new = dir
        .join("2026/11/25")
        .join(format!("{}.wav", Uuid::new_v4()));
    std::fs::create_dir_all(orphan_new.parent().unwrap()).unwrap();
    std::fs::write(&orphan_new, b"RIFF").unwrap();
    // Attachments: a row whose file is gone, and a file whose row is gone
    // (a crash between the card's deletion and its files').
    let category = a_category(db).await;
    let card = db
        .register_appeal(
            &card(category),
            &crate::appeal::lifecycle::Lifecycle::default(),
            &crate::appeal::lifecycle_store::Author::system(),
            now(),
        )
        .await
        .unwrap()
        .record;
    db.add_attachment(
        &Attachment {
            id: Uuid::new_v4(),
            appeal_id: card.id,
            file_name: "x.png".into(),
            content_type: "image/png".into(),
            size_bytes: 4,
            sha256: "00".repeat(32),
            path: "2026/11/gone.png".into(),
            uploaded_at: now(),
        },
        None,
    )
    .await
    .unwrap();
    let stray = f.pruner.attachments.dir().join("2026/10/stray.png");
    std::fs::create_dir_all(stray.parent().unwrap()).unwrap();
    std::fs::write(&stray, b"\x89PNG").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&stray)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(3600))
        .unwrap();

    let report = f.pruner.reconcile(now()).await.unwrap();
    assert_eq!(report.purged_files_removed, 10);
    assert_eq!(report.rows_marked_missing, 1);
    assert_eq!(report.orphan_files_removed, 1);
    assert_eq!(report.orphan_files_kept, vec![orphan_new.clone()]);
    assert_eq!(report.attachment_rows_removed, 1);
    assert_eq!(report.attachment_files_removed, 1);
    for c in &claimed {
        assert!(!file_of(&dir, &c.path).exists());
    }
    assert!(!orphan_old.exists() && orphan_new.exists() && !stray.exists());
    assert!(
        db.get_recording(young)
            .await
            .unwrap()
            .unwrap()
            .purged_at
            .is_some()
    );
    // No row points at a missing file, no purged row keeps one.
    for id in recordings.iter().chain([&young]) {
        let rec = db.get_recording(*id).await.unwrap().unwrap();
        assert_eq!(
            rec.purged_at.is_none(),
            file_of(&dir, &rec.path).exists(),
            "{id}"
        );
    }
    // The prune finishes the rest; a second sweep finds nothing more.
    let rest = f.pruner.prune(now(), false).await.unwrap();
    assert_eq!(rest.recordings.len(), 10);
    let again = f.pruner.reconcile(now()).await.unwrap();
    assert_eq!(again.fixed(), 0);
}

async fn a_category(db: &TestDb) -> Uuid {
    crate::store::testing::sample_category(db, "sample", now() - TimeDelta::days(2000)).await
}

/// Ends a card's life (dismissed by a supervisor) at `at`.
async fn finish(db: &TestDb, id: Uuid, at: DateTime<Utc>) {
    use crate::appeal::lifecycle::{Action, Actor, Lifecycle};
    let stored = db.appeal_card(id).await.unwrap().expect("the card");
    let supervisor = Actor::User {
        login: "control".into(),
        role: crate::store::Role::Supervisor,
        executor: None,
    };
    let dismiss = Action::Dismiss {
        reason: "не підлягає розгляду".into(),
    };
    let outcome = Lifecycle::default()
        .handle(&stored.card, dismiss, &supervisor, at)
        .expect("dismissed");
    db.write_step(
        id,
        stored.revision,
        &outcome,
        &crate::appeal::lifecycle_store::Author::system(),
        at,
    )
    .await
    .expect("written");
}

async fn old_cards_go_with_their_files_and_held_ones_stay(db: &TestDb) {
    let f = fixture(db);
    let category = a_category(db).await;
    let old = now() - TimeDelta::days(3 * 366);
    let mut old_cards = Vec::new();
    for i in 0..30 {
        let card = db
            .register_appeal(
                &card(category),
                &crate::appeal::lifecycle::Lifecycle::default(),
                &crate::appeal::lifecycle_store::Author::system(),
                old + TimeDelta::hours(i),
            )
            .await
            .unwrap()
            .record;
        // Dismissed an hour later: its three years count from there.
        finish(db, card.id, old + TimeDelta::hours(i + 1)).await;
        old_cards.push(card);
    }
    let young = db
        .register_appeal(
            &NewAppeal {
                repeat_of: old_cards[0].registration_number.to_string(),
                ..card(category)
            },
            &crate::appeal::lifecycle::Lifecycle::default(),
            &crate::appeal::lifecycle_store::Author::system(),
            now() - TimeDelta::days(10),
        )
        .await
        .unwrap()
        .record;
    let held = &old_cards[1];
    db.set_hold(HoldTarget::Appeal(held.id), "судова справа", None, now())
        .await
        .unwrap();
    // Every old card has a file attached.
    let mut files = Vec::new();
    for card in &old_cards {
        let mut up = f.pruner.attachments.begin().unwrap();
        up.write(&[
            0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d,
        ])
        .unwrap();
        let id = Uuid::new_v4();
        let stored = up.finish(id, old).unwrap();
        db.add_attachment(
            &Attachment {
                id,
                appeal_id: card.id,
                file_name: "photo.png".into(),
                content_type: stored.content_type.into(),
                size_bytes: stored.size_bytes,
                sha256: stored.sha256,
                path: stored.path.clone(),
                uploaded_at: old,
            },
            None,
        )
        .await
        .unwrap();
        files.push((card.id, f.pruner.attachments.path_of(&stored.path).unwrap()));
    }

    let dry = f.pruner.prune(now(), true).await.unwrap();
    assert_eq!(dry.appeals.len(), 29, "all old cards but the held one");
    let (a, b) = tokio::join!(f.pruner.prune(now(), false), f.pruner.prune(now(), false));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.appeals.len() + b.appeals.len(), 29);
    assert_eq!(a.files_removed + b.files_removed, 29);
    for (card, file) in &files {
        let kept = *card == held.id;
        assert_eq!(file.exists(), kept, "{card}");
        assert_eq!(
            db.appeal_detail(
                &old_cards
                    .iter()
                    .find(|c| c.id == *card)
                    .unwrap()
                    .registration_number
            )
            .await
            .unwrap()
            .is_some(),
            kept
        );
    }
    // The young repeat stays, its link to the deleted original gone.
    let young = db
        .appeal_detail(&young.registration_number)
        .await
        .unwrap()
        .expect("young card kept");
    assert_eq!(young.repeat_of, None);
    assert_eq!(young.surname.as_deref(), Some("Шевченко"));
}

async fn a_missing_volume_costs_no_recording_its_row(db: &TestDb) {
    let f = fixture(db);
    let dir = f.pruner.recordings_dir.clone();
    let mut ids = Vec::new();
    for i in 0..30 {
        ids.push(
            recording_at(db, &dir, now() - TimeDelta::days(1) + TimeDelta::minutes(i))
                .await
                .0,
        );
    }
    // The volume is not mounted: the directory is not there.
    let aside = dir.with_extension("unmounted");
    std::fs::rename(&dir, &aside).unwrap();
    let report = f.pruner.reconcile(now()).await.unwrap();
    assert_eq!(report.rows_marked_missing, 0);
    assert!(!report.skipped.is_empty());
    // Mounted, but empty (another disk): too many missing, nothing marked.
    std::fs::create_dir_all(&dir).unwrap();
    let report = f.pruner.reconcile(now()).await.unwrap();
    assert_eq!(report.rows_marked_missing, 0, "{report:?}");
    assert!(
        report.skipped.iter().any(|s| s.contains("30 of 30")),
        "{report:?}"
    );
    std::fs::remove_dir(&dir).unwrap();
    std::fs::rename(&aside, &dir).unwrap();
    for id in &ids {
        assert!(
            db.get_recording(*id)
                .await
                .unwrap()
                .unwrap()
                .purged_at
                .is_none()
        );
    }
    // One really lost, marked; back again (restored from a backup): kept.
    let rec = db.get_recording(ids[0]).await.unwrap().unwrap();
    let file = dir.join(&rec.path);
    let saved = std::fs::read(&file).unwrap();
    std::fs::remove_file(&file).unwrap();
    let report = f.pruner.reconcile(now()).await.unwrap();
    assert_eq!(report.rows_marked_missing, 1);
    std::fs::write(&file, saved).unwrap();
    let report = f.pruner.reconcile(now()).await.unwrap();
    assert_eq!(report.rows_unmarked, 1);
    assert!(file.exists(), "a file back is never deleted");
    assert!(
        db.get_recording(ids[0])
            .await
            .unwrap()
            .unwrap()
            .purged_at
            .is_none()
    );
}

async fn holds_on_purged_recordings_are_refused(db: &TestDb) {
    let f = fixture(db);
    let dir = f.pruner.recordings_dir.clone();
    let (old, old_call) = recording_at(db, &dir, now() - TimeDelta::days(200)).await;
    f.pruner.prune(now(), false).await.unwrap();
    assert!(matches!(
        db.set_hold(HoldTarget::Recording(old), "пізно", None, now())
            .await,
        Err(StoreError::Invalid {
            field: "recording",
            ..
        })
    ));
    assert!(matches!(
        db.set_hold(HoldTarget::Recording(Uuid::new_v4()), "x", None, now())
            .await,
        Err(StoreError::NotFound { .. })
    ));
    // The call of a recording that old has lost its caller's number only
    // once the cards' limit has passed.
    let call = db.get_call(old_call).await.unwrap().unwrap();
    assert_eq!(call.caller_e164.as_deref(), Some("+380611234567"));
    let ancient = call_at(db, now() - TimeDelta::days(4 * 366)).await;
    db.add_call_event(ancient, now() - TimeDelta::days(4 * 366), "dtmf", "5")
        .await
        .unwrap();
    let dry = f.pruner.prune(now(), true).await.unwrap();
    assert_eq!(dry.calls_anonymised, 1);
    let report = f.pruner.prune(now(), false).await.unwrap();
    assert_eq!(report.calls_anonymised, 1);
    let cleared = db.get_call(ancient).await.unwrap().unwrap();
    assert_eq!(
        (cleared.caller_raw.as_str(), cleared.caller_e164),
        ("", None)
    );
    assert!(db.call_events(ancient).await.unwrap().is_empty());
    assert!(
        db.get_call(old_call)
            .await
            .unwrap()
            .unwrap()
            .caller_e164
            .is_some()
    );
}

/// The chat-bot's sent messages go after 30 days (their texts hold names
/// and addresses); an account goes once as quiet as the cards' limit with
/// no card left, its unsent messages with it; one with a card stays.
async fn the_chat_bots_sent_messages_and_quiet_accounts_go(db: &TestDb) {
    use crate::appeal::store::AlsoWritten;
    use crate::chatbot::Messenger;
    use crate::chatbot::conversation::{Keyboard, Reply};
    let f = fixture(db);
    let long_ago = now() - TimeDelta::days(4 * 365);
    for (messenger, account, at) in [
        (Messenger::Telegram, "quiet", long_ago),
        (Messenger::Viber, "with-card", long_ago),
        (Messenger::Telegram, "recent", now()),
    ] {
        db.chatbot_account(messenger, account, account, at)
            .await
            .unwrap();
    }
    let category = a_category(db).await;
    db.register_appeal_with_files(
        &card(category),
        &crate::appeal::lifecycle::Lifecycle::default(),
        &crate::appeal::lifecycle_store::Author::citizen("chatbot"),
        &[],
        &AlsoWritten {
            chatbot: Some(("viber", "with-card")),
            ..AlsoWritten::default()
        },
        now(),
    )
    .await
    .expect("registered");
    let reply = Reply {
        text: "Звернення № 1580-2026-000001: Шевченко Тарас, вул. Соборна 12".into(),
        keyboard: Keyboard::None,
    };
    let queue = |account: &'static str, key: &'static str, at: DateTime<Utc>| {
        let reply = reply.clone();
        async move {
            db.chatbot_queue(Messenger::Telegram, account, &reply, Some(key), at)
                .await
                .unwrap()
        }
    };
    assert!(queue("recent", "sent-long-ago", now() - TimeDelta::days(40)).await);
    let old = db.chatbot_due(now(), 10).await.unwrap();
    db.chatbot_sent(old[0].id, now() - TimeDelta::days(40))
        .await
        .unwrap();
    assert!(queue("recent", "waiting", now()).await);
    assert!(queue("quiet", "never-sent", long_ago).await);
    let report = f.pruner.prune(now(), false).await.unwrap();
    assert_eq!(
        report.chatbot_accounts, 1,
        "only the quiet account without a card"
    );
    let due: Vec<String> = db
        .chatbot_due(now(), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.account)
        .collect();
    assert_eq!(
        due,
        vec!["recent".to_string()],
        "the quiet account's message went with it"
    );
    // The sent message's row is gone (its key is free again); the waiting
    // one stays.
    assert!(queue("recent", "sent-long-ago", now()).await);
    assert!(!queue("recent", "waiting", now()).await);
    // The account with a card stays: its card is found by its account.
    let cards = db
        .chatbot_appeals(Messenger::Viber, "with-card", None, 10)
        .await
        .unwrap();
    assert_eq!(cards.len(), 1);
}
