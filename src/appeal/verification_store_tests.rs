//! Verification in the database, on SQLite and on PostgreSQL: a citizen's
//! "no" closes the card and registers the linked repeat appeal for the same
//! executor in one step; the attempts are kept whatever the channel; the
//! track records that drive the control rule are counted from them; a
//! problem that keeps coming back goes under direct control.

use chrono::{DateTime, Datelike, TimeDelta, Utc};
use uuid::Uuid;

use super::control::{ControlRule, ControlSettings, Period, Reason};
use super::lifecycle::{Action, EntryKind, ExecutorCode, Lifecycle};
use super::record::AppealStatus;
use super::verification::{AttemptResult, Channel, VerificationSettings};
use crate::store::Role;
use crate::store::testing::{TestDb, both_backends, person, sample_appeal};
use crate::store::tests::raw_execute;

both_backends!(
    a_citizens_no_registers_a_linked_repeat_for_the_same_executor,
    a_low_confirmation_rate_last_period_puts_the_next_closure_under_total_control,
    the_third_appeal_about_one_problem_goes_under_direct_control,
);

fn rules(share: f64, min_answers: u32) -> Lifecycle {
    let attempts = VerificationSettings::default().attempts().expect("valid");
    Lifecycle::default().with_verification(
        ControlRule::new(ControlSettings {
            selective_share: share,
            min_answers,
            ..ControlSettings::default()
        }),
        attempts,
        30,
    )
}

/// A card registered in the sample classifier's first category, accepted
/// and proposed for closure by its lead executor: its id and executor.
async fn proposed(db: &TestDb, rules: &Lifecycle, category: Uuid) -> (Uuid, ExecutorCode) {
    let operator = person("op1", Role::Operator, None).1;
    let id = db
        .register_appeal(&sample_appeal(category), rules, &operator, Utc::now())
        .await
        .expect("registered")
        .record
        .id;
    let lead = db.appeal_card(id).await.unwrap().unwrap().card.parts[0]
        .executor
        .clone();
    let (actor, author) = person("master", Role::Executor, Some(&lead));
    for action in [
        Action::Accept {
            responsible: "Майстер".into(),
        },
        Action::ProposeClosure {
            summary: "Зроблено".into(),
            proof: vec![Uuid::new_v4()],
        },
    ] {
        db.take_step(rules, id, action, &actor, &author)
            .await
            .expect("the executor's step");
    }
    (id, lead)
}

/// A category of the sample classifier that is not an emergency (those
/// are always verified).
async fn ordinary_category(db: &TestDb) -> Uuid {
    let first = crate::store::testing::sample_category(db, "sample", Utc::now()).await;
    let version = db.category(first).await.unwrap().unwrap().version;
    db.categories(version)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.deadline == super::DeadlineClass::Medium)
        .expect("a medium-term category")
        .id
}

fn approve() -> Action {
    Action::Approve {
        record: None,
        note: None,
        executors: vec![],
    }
}

async fn a_citizens_no_registers_a_linked_repeat_for_the_same_executor(db: &TestDb) {
    let category = ordinary_category(db).await;
    let rules = rules(1.0, 5);
    let (id, lead) = proposed(db, &rules, category).await;
    let (sv, sv_author) = person("sveta", Role::Supervisor, None);
    let taken = db
        .take_step(&rules, id, approve(), &sv, &sv_author)
        .await
        .expect("approved");
    assert_eq!(taken.outcome.card.status, AppealStatus::Verification);
    let stored = db.appeal_card(id).await.unwrap().unwrap();
    assert_eq!(stored.card.status, AppealStatus::Verification);
    assert!(stored.card.verification.is_some(), "read back from the row");

    let (op, op_author) = person("olena", Role::Operator, None);
    // First the citizen is not reached: the attempt is kept, the card waits.
    let no_answer = Action::Verify {
        result: AttemptResult::NoAnswer,
        rating: None,
        reason: None,
        channel: Channel::Operator,
        call: None,
    };
    let taken = db
        .take_step(&rules, id, no_answer, &op, &op_author)
        .await
        .unwrap();
    assert_eq!(taken.outcome.card.status, AppealStatus::Verification);
    assert_eq!(
        db.appeal_card(id)
            .await
            .unwrap()
            .unwrap()
            .card
            .verification
            .map(|v| v.attempts),
        Some(1)
    );
    // Then "no", with the reason and a rating.
    let no = Action::Verify {
        result: AttemptResult::NotConfirmed,
        rating: Some(2),
        reason: Some("Вода досі тече з-під люка".into()),
        channel: Channel::Operator,
        call: None,
    };
    let taken = db.take_step(&rules, id, no, &op, &op_author).await.unwrap();
    assert_eq!(taken.outcome.card.status, AppealStatus::Closed);
    let repeat = taken.repeat.expect("a repeat appeal");
    let original = db.appeal_card(id).await.unwrap().unwrap();
    assert_eq!(original.card.status, AppealStatus::Closed);
    assert_eq!(original.card.verification, None);

    // The repeat: linked, same executor and category, the deadline of the
    // same class, delivered, the reason in its essence.
    let number = repeat.record.registration_number.to_string();
    let detail = db.appeal_detail(&number).await.unwrap().unwrap();
    assert_eq!(
        detail.repeat_of.as_deref(),
        Some(original.registration_number.as_str())
    );
    assert_eq!(detail.record.executor, lead.as_str());
    assert!(
        detail
            .essence
            .as_deref()
            .unwrap_or_default()
            .contains("Вода досі тече з-під люка")
    );
    assert!(
        detail
            .essence
            .as_deref()
            .unwrap_or_default()
            .contains(&original.registration_number)
    );
    let class = db.category(category).await.unwrap().unwrap().deadline;
    assert_eq!(
        detail.record.deadline - detail.record.created_at,
        class.duration()
    );
    let repeat_card = db.appeal_card(detail.record.id).await.unwrap().unwrap();
    assert_eq!(repeat_card.card.lead().map(|p| &p.executor), Some(&lead));
    assert!(matches!(
        repeat_card.card.status,
        AppealStatus::Delivered | AppealStatus::Registered
    ));
    assert_eq!(repeat.notices.len(), 1, "its executor is told");

    // The original's history says it all: who, what, the repeat's number.
    let history = db.appeal_history(id).await.unwrap();
    let kinds: Vec<EntryKind> = history.iter().map(|e| e.kind).collect();
    assert!(kinds.ends_with(&[
        EntryKind::SentToVerification,
        EntryKind::VerificationAttempt,
        EntryKind::NotConfirmed
    ]));
    let last = history.last().unwrap();
    assert_eq!(last.login, "olena");
    assert_eq!(last.text.as_deref(), Some("Вода досі тече з-під люка"));
    assert_eq!(last.details.repeat.as_deref(), Some(number.as_str()));
    let control = history[history.len() - 3].details.control.clone().unwrap();
    assert!(control.verify);

    // Both attempts are kept; the rate counts the answer, the repeat is
    // counted against the executor.
    let today = Utc::now();
    let span =
        Period::Month.containing(crate::appeal::calendar::WorkingCalendar::default().date(today));
    let record = db
        .track_record(&lead, span, rules.calendar())
        .await
        .unwrap();
    assert_eq!(
        (
            record.confirmed,
            record.not_confirmed,
            record.repeats,
            record.closed
        ),
        (0, 1, 1, 1)
    );
    // The supervisors' list of every executor says the same.
    let all = db.track_records(span, rules.calendar()).await.unwrap();
    assert_eq!(all, vec![record]);
}

async fn a_low_confirmation_rate_last_period_puts_the_next_closure_under_total_control(
    db: &TestDb,
) {
    let category = ordinary_category(db).await;
    // Nothing drawn: only the rule's totals verify.
    let rules = rules(0.0, 3);
    let (earlier, lead) = proposed(db, &rules, category).await;
    // Last month: one "yes" and two "no" about this executor's work.
    let last_month = rules.calendar().moment(
        Period::Month
            .previous(rules.calendar().date(Utc::now()))
            .start,
        12 * 60,
    );
    for result in ["confirmed", "not_confirmed", "not_confirmed"] {
        raw_execute(
            db,
            &format!(
                "INSERT INTO verification_attempts (appeal_id, executor_code, at, channel, result, login) \
                 VALUES ('{earlier}', '{lead}', '{}', 'operator', '{result}', 'olena')",
                at_text(last_month)
            ),
        )
        .await;
    }
    let (id, _) = proposed(db, &rules, category).await;
    let (sv, sv_author) = person("sveta", Role::Supervisor, None);
    let taken = db
        .take_step(&rules, id, approve(), &sv, &sv_author)
        .await
        .unwrap();
    assert_eq!(taken.outcome.card.status, AppealStatus::Verification);
    let decision = taken.outcome.entry.details.control.unwrap();
    assert!(
        matches!(
            decision.reason,
            Reason::LowConfirmation {
                confirmed: 1,
                answered: 3,
                ..
            }
        ),
        "{decision}"
    );
    let month = last_month.with_timezone(&chrono_tz::Europe::Kyiv).month();
    assert!(
        decision.to_string().contains("confirmation rate 33 %"),
        "{decision} ({month})"
    );
    // With a good record, the same rule closes at once.
    let (other, _) = proposed(db, &rules, category).await;
    raw_execute(db, "DELETE FROM verification_attempts").await;
    let taken = db
        .take_step(&rules, other, approve(), &sv, &sv_author)
        .await
        .unwrap();
    assert_eq!(taken.outcome.card.status, AppealStatus::Closed);
}

/// A time as both backends read it in a literal (as the store writes it).
fn at_text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

async fn the_third_appeal_about_one_problem_goes_under_direct_control(db: &TestDb) {
    let category = ordinary_category(db).await;
    let rules = rules(0.0, 5);
    let operator = person("op1", Role::Operator, None).1;
    let mut ids = Vec::new();
    // The same house, written three ways; and one elsewhere.
    for (address, days_ago) in [
        ("вул. Соборна, 12", 20),
        ("Вул Соборна 12", 5),
        ("вул. Лермонтова, 3", 1),
        ("вул.  соборна,12", 0),
    ] {
        let appeal = super::NewAppeal {
            address: address.into(),
            ..sample_appeal(category)
        };
        let at = Utc::now() - TimeDelta::days(days_ago);
        let id = db
            .register_appeal(&appeal, &rules, &operator, at)
            .await
            .unwrap()
            .record
            .id;
        ids.push(id);
    }
    let flagged: Vec<bool> = {
        let mut out = Vec::new();
        for id in &ids {
            out.push(
                db.appeal_card(*id)
                    .await
                    .unwrap()
                    .unwrap()
                    .card
                    .direct_control,
            );
        }
        out
    };
    assert_eq!(flagged, [false, false, false, true]);
    let history = db.appeal_history(ids[3]).await.unwrap();
    let entry = history.last().unwrap();
    assert_eq!(entry.kind, EntryKind::DirectControl);
    assert_eq!(entry.login, "system");
    assert!(entry.text.as_deref().unwrap().contains("2 звернення"));
}
