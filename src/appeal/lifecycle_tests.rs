//! The card's state machine on its own: every action in every state for
//! every kind of actor against a table written apart from the code, then the
//! paths of a card's life, in simulated time.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use uuid::Uuid;

use super::*;
use crate::appeal::calendar::{WorkingCalendar, kyiv};
use crate::appeal::verification::{AttemptResult, Channel, Mode, Verifying};

/// Kyiv office hours, and an emergency service that works around the clock.
const CALENDAR: &str = r#"
    [hours]
    monday = "08:00-17:00"
    tuesday = "08:00-17:00"
    wednesday = "08:00-17:00"
    thursday = "08:00-17:00"
    friday = "08:00-17:00"

    [[holiday]]
    date = "2026-12-28"
    name = "test holiday"

    [executor.vodokanal]
    around_the_clock = true
"#;

/// The rules with this calendar; no card is drawn for verification (the
/// draw comes from the card's random id), so a card's path is fixed.
fn machine() -> Lifecycle {
    use crate::appeal::control::{ControlRule, ControlSettings};
    let rule = ControlRule::new(ControlSettings {
        selective_share: 0.0,
        ..ControlSettings::default()
    });
    Lifecycle::new(WorkingCalendar::parse(CALENDAR).expect("calendar"), 0.25).with_verification(
        rule,
        Default::default(),
        30,
    )
}

fn code(text: &str) -> ExecutorCode {
    ExecutorCode::parse(text).expect("a code")
}

fn lead(text: &str) -> Assignment {
    Assignment {
        executor: code(text),
        lead: true,
    }
}

fn co(text: &str) -> Assignment {
    Assignment {
        executor: code(text),
        lead: false,
    }
}

fn executor(login: &str, of: &str) -> Actor {
    Actor::User {
        login: login.to_string(),
        role: Role::Executor,
        executor: Some(code(of)),
    }
}

fn user(login: &str, role: Role) -> Actor {
    Actor::User {
        login: login.to_string(),
        role,
        executor: None,
    }
}

fn doc() -> Vec<Uuid> {
    vec![Uuid::new_v4()]
}

/// Applies an action that must be allowed.
fn apply(m: &Lifecycle, card: &Card, action: Action, actor: &Actor, now: DateTime<Utc>) -> Outcome {
    let name = action.name();
    m.handle(card, action, actor, now)
        .unwrap_or_else(|e| panic!("{name} by {} refused: {e}", actor.login()))
}

// --- Every action in every state for every actor -----------------------------

/// The actors of the table.
const ACTORS: [&str; 8] = [
    "system",
    "operator",
    "supervisor",
    "admin",
    "lead",
    "co",
    "stranger",
    "curator",
];

fn actor(name: &str) -> Actor {
    match name {
        "system" => Actor::System,
        "operator" => user("op", Role::Operator),
        "supervisor" => user("sv", Role::Supervisor),
        "admin" => user("adm", Role::Admin),
        "lead" => executor("lead-user", "zhytlo"),
        "co" => executor("co-user", "blago"),
        "stranger" => executor("stranger-user", "oblenergo"),
        // A curator is known by login; here a city official's account.
        "curator" => user("curator", Role::Executor),
        _ => unreachable!("an actor of the table"),
    }
}

/// Who may do what, in which states: the regulation's rules as a table,
/// written apart from the code (docs/lifecycle.md has the same).
fn allowed(action: &str, actor: &str, state: AppealStatus) -> bool {
    use AppealStatus::*;
    let open = [
        Registered,
        Delivered,
        InProgress,
        ClosureProposed,
        Rework,
        LongTerm,
        Verification,
    ];
    let (who, states): (&[&str], &[AppealStatus]) = match action {
        "deliver" => (&["system"], &[Registered]),
        "mark_overdue" | "mark_due_soon" => (
            &["system"],
            &[Registered, Delivered, InProgress, Rework, LongTerm],
        ),
        // The lead has accepted from InProgress on; the co-executor not yet.
        "accept" if actor == "lead" => (&["lead"], &[Registered, Delivered]),
        "accept" => (
            &["co"],
            &[Registered, Delivered, InProgress, Rework, LongTerm],
        ),
        "comment" if actor == "supervisor" => (&["supervisor"], AppealStatus::ALL),
        "comment" | "attach" | "ask_citizen" => (&["lead", "co", "operator", "supervisor"], &open),
        // The chat-bot brings it: the server writes it.
        "citizen_answer" => (&["system"], &open),
        "request_change" => (&["lead"], &[Registered, Delivered, InProgress, Rework]),
        "not_ours" => (
            &["co"],
            &[Registered, Delivered, InProgress, Rework, LongTerm],
        ),
        "request_extension" | "request_long_term" => (&["lead"], &[InProgress, Rework]),
        "propose_closure" => (&["lead"], &[InProgress, Rework, LongTerm]),
        // Only a closure proposal is pending in the table's cards.
        "withdraw" => (&["lead"], &[ClosureProposed]),
        "approve" | "reject" => (&["supervisor"], &[ClosureProposed]),
        "reassign" => (
            &["supervisor"],
            &[Registered, Delivered, InProgress, Rework, LongTerm],
        ),
        "dismiss" => (&["supervisor"], &[Registered, Delivered]),
        // Before the closure is decided.
        "mark_contested" => (
            &["supervisor"],
            &[
                Registered,
                Delivered,
                InProgress,
                ClosureProposed,
                Rework,
                LongTerm,
            ],
        ),
        // The server too, for a problem that keeps coming back.
        "direct_control" => (&["supervisor", "system"], &open),
        // By phone: the table's verify is an operator's call.
        "verify" => (&["operator", "supervisor"], &[Verification]),
        // The table's cards have their executors: only a card sent without
        // a subject is classified (triage's own test).
        "classify" => (&[], &[]),
        _ => unreachable!("an action of the table: {action}"),
    };
    who.contains(&actor) && states.contains(&state)
}

/// A card in `state`, past its deadline, led by zhytlo with blago beside it.
fn card_in(state: AppealStatus, now: DateTime<Utc>) -> Card {
    use AppealStatus::*;
    let accepted = !matches!(state, Registered | Delivered);
    let pending = (state == ClosureProposed).then(|| Pending {
        request: Request::Closure,
        by: code("zhytlo"),
        made_at: now - TimeDelta::hours(1),
        due: now + TimeDelta::hours(20),
        return_to: InProgress,
        needs_curator: false,
        approved_by_supervisor: None,
        approved_by_curator: None,
    });
    Card {
        id: Uuid::new_v4(),
        status: state,
        deadline: now - TimeDelta::hours(1),
        term_start: now - TimeDelta::hours(25),
        control: Control::Regular,
        parts: vec![
            Part {
                executor: code("zhytlo"),
                lead: true,
                responsible: accepted.then(|| "Петренко".to_string()),
                declined: None,
            },
            Part {
                executor: code("blago"),
                lead: false,
                responsible: None,
                declined: None,
            },
        ],
        pending,
        extensions: 0,
        planned: (state == LongTerm).then(|| NaiveDate::from_ymd_opt(2027, 6, 1).expect("a date")),
        delivery_at: None,
        curator: Some("curator".to_string()),
        proofs: 0,
        overdue_noted: false,
        due_soon_noted: false,
        emergency: false,
        anonymous: false,
        contested: false,
        direct_control: false,
        resolved_at: None,
        verification: (state == Verification).then(|| Verifying {
            mode: crate::appeal::verification::Mode::Operator,
            attempts: 0,
            next_at: now - TimeDelta::hours(2),
        }),
    }
}

/// A valid action of each kind.
fn action_named(name: &str, now: DateTime<Utc>) -> Action {
    let reason = "обґрунтування".to_string();
    match name {
        "deliver" => Action::Deliver,
        "mark_overdue" => Action::MarkOverdue,
        "mark_due_soon" => Action::MarkDueSoon,
        "accept" => Action::Accept {
            responsible: "Коваль І. П.".to_string(),
        },
        "comment" => Action::Comment { text: reason },
        "ask_citizen" => Action::AskCitizen { text: reason },
        "citizen_answer" => Action::CitizenAnswer {
            text: Some(reason),
            files: vec![],
        },
        "attach" => Action::Attach {
            files: doc(),
            proof: false,
        },
        "request_change" => Action::RequestChange {
            reason,
            suggested: Some(code("oblenergo")),
        },
        "not_ours" => Action::NotOurs { reason },
        "request_extension" => Action::RequestExtension {
            until: now + TimeDelta::days(10),
            reason,
            documents: doc(),
        },
        "request_long_term" => Action::RequestLongTerm {
            planned: NaiveDate::from_ymd_opt(2027, 9, 1).expect("a date"),
            reason,
            documents: doc(),
        },
        "propose_closure" => Action::ProposeClosure {
            summary: reason,
            proof: doc(),
        },
        "withdraw" => Action::Withdraw,
        "approve" => Action::Approve {
            record: None,
            note: None,
            executors: vec![lead("oblenergo")],
        },
        "reject" => Action::Reject { reason },
        "reassign" => Action::Reassign {
            executors: vec![lead("oblenergo")],
            reason,
        },
        "dismiss" => Action::Dismiss { reason },
        "classify" => Action::Classify {
            category: Uuid::new_v4(),
            executors: vec![lead("oblenergo")],
            class: Some(DeadlineClass::Medium),
        },
        "mark_contested" => Action::MarkContested { reason },
        "direct_control" => Action::DirectControl { reason },
        "verify" => Action::Verify {
            result: AttemptResult::Confirmed,
            rating: Some(4),
            reason: None,
            channel: Channel::Operator,
            call: None,
        },
        _ => unreachable!("an action of the table"),
    }
}

const ACTIONS: [&str; 22] = [
    "deliver",
    "accept",
    "comment",
    "ask_citizen",
    "citizen_answer",
    "attach",
    "request_change",
    "not_ours",
    "request_extension",
    "request_long_term",
    "propose_closure",
    "withdraw",
    "approve",
    "reject",
    "reassign",
    "dismiss",
    "mark_overdue",
    "mark_due_soon",
    "mark_contested",
    "direct_control",
    "verify",
    "classify",
];

#[test]
fn every_action_in_every_state_for_every_actor_is_allowed_or_refused_with_a_reason() {
    let m = machine();
    let now = kyiv("2026-12-02 11:00");
    let mut wrong = Vec::new();
    let mut counted = (0, 0);
    for state in AppealStatus::ALL {
        for action in ACTIONS {
            for who in ACTORS {
                let card = card_in(*state, now);
                let got = m.handle(&card, action_named(action, now), &actor(who), now);
                let expected = allowed(action, who, *state);
                match (&got, expected) {
                    (Ok(outcome), true) => {
                        counted.0 += 1;
                        assert_eq!(outcome.entry.from, *state);
                        assert_eq!(outcome.entry.to, outcome.card.status);
                    }
                    (Err(refusal), false) => {
                        counted.1 += 1;
                        assert!(!refusal.to_string().is_empty() && !refusal.code().is_empty());
                    }
                    (Ok(_), false) => wrong.push(format!("{action} by {who} in {state}: allowed")),
                    (Err(e), true) => {
                        wrong.push(format!("{action} by {who} in {state}: refused: {e}"))
                    }
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} differ from the table:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert_eq!(counted.0 + counted.1, 9 * ACTIONS.len() * 8);
    println!("{} allowed, {} refused", counted.0, counted.1);
}

#[test]
fn refusals_name_what_is_wrong() {
    let m = machine();
    let now = kyiv("2026-12-02 11:00");
    let card = card_in(AppealStatus::InProgress, now);
    let lead_user = actor("lead");
    let refused = |action: Action, who: &Actor| m.handle(&card, action, who, now).unwrap_err();
    assert_eq!(
        refused(Action::Comment { text: "  ".into() }, &lead_user),
        Refusal::Missing("a comment")
    );
    assert!(matches!(
        refused(
            Action::Comment {
                text: "я".repeat(MAX_TEXT_CHARS + 1)
            },
            &lead_user
        ),
        Refusal::TooLong { .. }
    ));
    let until_before = Action::RequestExtension {
        until: card.deadline,
        reason: "ще тиждень".into(),
        documents: doc(),
    };
    assert_eq!(
        refused(until_before, &lead_user),
        Refusal::NotLater(card.deadline)
    );
    let no_documents = Action::RequestExtension {
        until: now + TimeDelta::days(3),
        reason: "ще тиждень".into(),
        documents: vec![],
    };
    assert_eq!(refused(no_documents, &lead_user), Refusal::NeedsDocuments);
    let no_proof = Action::ProposeClosure {
        summary: "зроблено".into(),
        proof: vec![],
    };
    assert_eq!(refused(no_proof, &lead_user), Refusal::NeedsProof);
    let past = Action::RequestLongTerm {
        planned: NaiveDate::from_ymd_opt(2026, 12, 2).expect("a date"),
        reason: "бюджет".into(),
        documents: doc(),
    };
    assert!(matches!(
        refused(past, &lead_user),
        Refusal::PlannedNotFuture(_)
    ));
    assert_eq!(
        refused(action_named("comment", now), &actor("stranger")),
        Refusal::NotYourCard
    );
    assert_eq!(
        refused(action_named("request_extension", now), &actor("co")),
        Refusal::NotLead("request_extension")
    );
    assert_eq!(
        refused(action_named("not_ours", now), &lead_user),
        Refusal::LeadCannotDecline
    );
    assert_eq!(
        refused(action_named("accept", now), &lead_user),
        Refusal::AlreadyAccepted
    );
    let proof_by_supervisor = Action::Attach {
        files: doc(),
        proof: true,
    };
    assert!(matches!(
        refused(proof_by_supervisor, &actor("supervisor")),
        Refusal::Role { .. }
    ));
    let two_leads = Action::Reassign {
        executors: vec![lead("oblenergo"), lead("blago")],
        reason: "x".into(),
    };
    assert_eq!(refused(two_leads, &actor("supervisor")), Refusal::Executors);
    let same = Action::Reassign {
        executors: vec![co("blago"), lead("zhytlo")],
        reason: "x".into(),
    };
    assert_eq!(refused(same, &actor("supervisor")), Refusal::SameExecutors);
}

// --- A card's life -------------------------------------------------------------

#[test]
fn a_card_lives_from_registration_to_closure_through_two_extensions_and_a_rework() {
    let m = machine();
    let lead_user = executor("petrenko", "zhytlo");
    let supervisor = user("control", Role::Supervisor);
    let curator = user("deputy", Role::Supervisor);
    let mut now = kyiv("2026-12-01 10:00");

    let reg = m
        .register(
            Uuid::new_v4(),
            vec![lead("zhytlo")],
            DeadlineClass::Medium,
            Some("deputy".into()),
            now,
        )
        .expect("register");
    assert_eq!(
        reg.card.status,
        AppealStatus::Delivered,
        "in working hours: at once"
    );
    assert_eq!(reg.card.deadline, now + TimeDelta::hours(72));
    assert_eq!(reg.notices, vec![Notice::Executor(code("zhytlo"))]);
    let mut card = reg.card;

    let steps: Vec<(Action, &Actor, AppealStatus, EntryKind)> = vec![
        (
            Action::Accept {
                responsible: "Петренко О. В., майстер ділянки".into(),
            },
            &lead_user,
            AppealStatus::InProgress,
            EntryKind::Accepted,
        ),
        (
            Action::Comment {
                text: "Бригада виїхала".into(),
            },
            &lead_user,
            AppealStatus::InProgress,
            EntryKind::Commented,
        ),
        (
            Action::Attach {
                files: doc(),
                proof: true,
            },
            &lead_user,
            AppealStatus::InProgress,
            EntryKind::Attached,
        ),
    ];
    for (action, who, status, kind) in steps {
        let out = apply(&m, &card, action, who, now);
        assert_eq!((out.card.status, out.entry.kind), (status, kind));
        card = out.card;
        now += TimeDelta::minutes(30);
    }
    assert_eq!(
        card.parts[0].responsible.as_deref(),
        Some("Петренко О. В., майстер ділянки")
    );
    assert_eq!(card.proofs, 1);

    // First extension: the supervisor alone decides.
    let first_until = card.deadline + TimeDelta::days(5);
    let out = apply(
        &m,
        &card,
        Action::RequestExtension {
            until: first_until,
            reason: "Потрібна заміна труби, чекаємо матеріали".into(),
            documents: doc(),
        },
        &lead_user,
        now,
    );
    assert_eq!(out.entry.kind, EntryKind::ExtensionRequested);
    assert!(!out.card.pending.as_ref().expect("pending").needs_curator);
    assert_eq!(out.notices, vec![Notice::Supervisors]);
    card = out.card;
    // One request at a time.
    assert_eq!(
        m.handle(&card, action_named("propose_closure", now), &lead_user, now)
            .unwrap_err(),
        Refusal::AlreadyPending
    );
    let out = apply(&m, &card, action_named("approve", now), &supervisor, now);
    assert_eq!(out.entry.kind, EntryKind::Extended);
    assert_eq!(out.card.deadline, first_until, "the deadline moves");
    assert_eq!(out.card.control, Control::Additional);
    assert_eq!(out.card.extensions, 1);
    assert_eq!(out.card.pending, None);
    card = out.card;

    // Second extension: the supervisor and the curator.
    let second_until = card.deadline + TimeDelta::days(3);
    let out = apply(
        &m,
        &card,
        Action::RequestExtension {
            until: second_until,
            reason: "Підрядник зірвав строки".into(),
            documents: doc(),
        },
        &lead_user,
        now,
    );
    assert!(out.card.pending.as_ref().expect("pending").needs_curator);
    assert!(out.notices.contains(&Notice::Curator("deputy".into())));
    card = out.card;
    let out = apply(&m, &card, action_named("approve", now), &supervisor, now);
    assert_eq!(out.entry.kind, EntryKind::AwaitingCurator);
    assert_eq!(out.card.deadline, first_until, "not yet");
    card = out.card;
    let another = user("control2", Role::Supervisor);
    assert_eq!(
        m.handle(&card, action_named("approve", now), &another, now)
            .unwrap_err(),
        Refusal::AwaitingCurator
    );
    let out = apply(&m, &card, action_named("approve", now), &curator, now);
    assert_eq!(out.entry.kind, EntryKind::Extended);
    assert_eq!(out.card.deadline, second_until);
    assert_eq!(out.card.extensions, 2);
    card = out.card;

    // Closure proposed, refused with a reason, proposed again, closed.
    let out = apply(
        &m,
        &card,
        Action::ProposeClosure {
            summary: "Трубу замінено".into(),
            proof: vec![],
        },
        &lead_user,
        now,
    );
    assert_eq!(
        out.card.status,
        AppealStatus::ClosureProposed,
        "proof already on the card"
    );
    card = out.card;
    let out = apply(
        &m,
        &card,
        Action::Reject {
            reason: "На фото не видно відновленого асфальту".into(),
        },
        &supervisor,
        now,
    );
    assert_eq!(
        (out.card.status, out.entry.kind),
        (AppealStatus::Rework, EntryKind::ReturnedForRework)
    );
    assert_eq!(
        out.entry.text.as_deref(),
        Some("На фото не видно відновленого асфальту")
    );
    assert_eq!(out.notices, vec![Notice::Executor(code("zhytlo"))]);
    card = out.card;
    let out = apply(
        &m,
        &card,
        action_named("propose_closure", now),
        &lead_user,
        now,
    );
    card = out.card;
    let out = apply(&m, &card, action_named("approve", now), &supervisor, now);
    assert_eq!(
        (out.card.status, out.entry.kind),
        (AppealStatus::Closed, EntryKind::Closed)
    );
    assert!(out.card.status.is_final());
}

#[test]
fn a_second_extension_needs_a_curator_either_first_or_second() {
    let m = machine();
    let now = kyiv("2026-12-02 11:00");
    let lead_user = actor("lead");
    let mut card = card_in(AppealStatus::InProgress, now);
    card.extensions = 1;
    card.curator = None;
    assert_eq!(
        m.handle(
            &card,
            action_named("request_extension", now),
            &lead_user,
            now
        )
        .unwrap_err(),
        Refusal::NoCurator(code("zhytlo"))
    );
    card.curator = Some("curator".into());
    let card = apply(
        &m,
        &card,
        action_named("request_extension", now),
        &lead_user,
        now,
    )
    .card;
    // The curator first, then a supervisor.
    let out = apply(
        &m,
        &card,
        action_named("approve", now),
        &actor("curator"),
        now,
    );
    assert_eq!(out.entry.kind, EntryKind::CuratorApproved);
    assert_eq!(
        m.handle(
            &out.card,
            action_named("approve", now),
            &actor("curator"),
            now
        )
        .unwrap_err(),
        Refusal::AwaitingSupervisor
    );
    let out = apply(
        &m,
        &out.card,
        action_named("approve", now),
        &actor("supervisor"),
        now,
    );
    assert_eq!(out.entry.kind, EntryKind::Extended);
    // The curator may also refuse it.
    let card = apply(
        &m,
        &card,
        action_named("reject", now),
        &actor("curator"),
        now,
    )
    .card;
    assert_eq!(
        (card.status, card.pending),
        (AppealStatus::InProgress, None)
    );
    // A curator has no say on a first extension or a closure.
    let first = apply(
        &m,
        &card_in(AppealStatus::InProgress, now),
        action_named("request_extension", now),
        &lead_user,
        now,
    );
    assert!(matches!(
        m.handle(
            &first.card,
            action_named("approve", now),
            &actor("curator"),
            now
        ),
        Err(Refusal::Role { .. })
    ));
}

#[test]
fn several_executors_one_lead_and_not_ours() {
    let m = machine();
    let now = kyiv("2026-12-02 11:00");
    let out = m
        .register(
            Uuid::new_v4(),
            vec![lead("zhytlo"), co("blago")],
            DeadlineClass::Long,
            None,
            now,
        )
        .expect("register");
    assert_eq!(
        out.notices,
        vec![
            Notice::Executor(code("zhytlo")),
            Notice::Executor(code("blago"))
        ]
    );
    let card = out.card;
    // The co-executor accepts its part: the card waits for the lead.
    let out = apply(&m, &card, action_named("accept", now), &actor("co"), now);
    assert_eq!(out.card.status, AppealStatus::Delivered);
    assert_eq!(
        out.card.parts[1].responsible.as_deref(),
        Some("Коваль І. П.")
    );
    let out = apply(
        &m,
        &out.card,
        action_named("accept", now),
        &actor("lead"),
        now,
    );
    assert_eq!(out.card.status, AppealStatus::InProgress);
    // Not ours: the part is declined, the others are told; then it is out.
    let out = apply(
        &m,
        &out.card,
        action_named("not_ours", now),
        &actor("co"),
        now,
    );
    assert_eq!(out.entry.kind, EntryKind::NotOurs);
    assert_eq!(out.card.parts[1].declined.as_deref(), Some("обґрунтування"));
    assert_eq!(
        out.notices,
        vec![Notice::Supervisors, Notice::Executor(code("zhytlo"))]
    );
    assert_eq!(
        m.handle(&out.card, action_named("comment", now), &actor("co"), now)
            .unwrap_err(),
        Refusal::NotYourCard
    );
    assert_eq!(
        m.register(
            Uuid::new_v4(),
            vec![co("zhytlo")],
            DeadlineClass::Long,
            None,
            now
        )
        .unwrap_err(),
        Refusal::Executors
    );
    assert_eq!(
        m.register(
            Uuid::new_v4(),
            vec![lead("zhytlo"), co("zhytlo")],
            DeadlineClass::Long,
            None,
            now
        )
        .unwrap_err(),
        Refusal::Executors
    );
}

fn card_with_one(now: DateTime<Utc>) -> Card {
    let mut card = card_in(AppealStatus::InProgress, now);
    card.parts.truncate(1);
    card
}

#[test]
fn a_change_of_executor_delivers_to_the_new_one() {
    let m = machine();
    let now = kyiv("2026-12-02 11:00");
    let card = card_with_one(now);
    let card = apply(
        &m,
        &card,
        action_named("request_change", now),
        &actor("lead"),
        now,
    )
    .card;
    assert_eq!(
        card.pending.as_ref().map(|p| p.request.clone()),
        Some(Request::ChangeExecutor {
            suggested: Some(code("oblenergo"))
        })
    );
    let same = Action::Approve {
        record: None,
        note: None,
        executors: vec![lead("zhytlo")],
    };
    assert_eq!(
        m.handle(&card, same, &actor("supervisor"), now)
            .unwrap_err(),
        Refusal::SameExecutors
    );
    // Approved in the evening: the new executor gets it in the morning.
    let evening = kyiv("2026-12-02 19:00");
    let out = apply(
        &m,
        &card,
        action_named("approve", evening),
        &actor("supervisor"),
        evening,
    );
    assert_eq!(out.entry.kind, EntryKind::ExecutorChanged);
    assert_eq!(out.card.status, AppealStatus::Registered);
    assert_eq!(out.card.delivery_at, Some(kyiv("2026-12-03 08:00")));
    assert_eq!(out.card.parts.len(), 1);
    assert_eq!(out.card.parts[0].executor, code("oblenergo"));
    assert_eq!(
        out.card.deadline, card.deadline,
        "a change keeps the deadline"
    );
    assert_eq!(
        out.notices,
        vec![
            Notice::Executor(code("zhytlo")),
            Notice::Executor(code("oblenergo"))
        ]
    );
    // The old executor no longer has the card.
    assert_eq!(
        m.handle(
            &out.card,
            action_named("comment", evening),
            &actor("lead"),
            evening
        )
        .unwrap_err(),
        Refusal::NotYourCard
    );
    // A rejected request leaves the card as it was.
    let out = apply(
        &m,
        &card,
        action_named("reject", now),
        &actor("supervisor"),
        now,
    );
    assert_eq!(
        (out.card.status, out.entry.kind, out.card.parts.clone()),
        (
            AppealStatus::InProgress,
            EntryKind::RequestRejected,
            card.parts.clone()
        )
    );
    // A withdrawn one too.
    let out = apply(&m, &card, Action::Withdraw, &actor("lead"), now);
    assert_eq!(
        (out.card.status, out.card.pending),
        (AppealStatus::InProgress, None)
    );
}

#[test]
fn the_ser_plan_puts_the_card_under_long_term_control_to_its_date() {
    let m = machine();
    let now = kyiv("2026-12-02 11:00");
    let card = card_with_one(now);
    let planned = NaiveDate::from_ymd_opt(2027, 9, 1).expect("a date");
    let card = apply(
        &m,
        &card,
        action_named("request_long_term", now),
        &actor("lead"),
        now,
    )
    .card;
    let out = apply(
        &m,
        &card,
        action_named("approve", now),
        &actor("supervisor"),
        now,
    );
    assert_eq!(out.entry.kind, EntryKind::MovedToLongTerm);
    assert_eq!(out.card.status, AppealStatus::LongTerm);
    assert_eq!(out.card.control, Control::LongTerm);
    assert_eq!(out.card.planned, Some(planned));
    // The end of 1 September 2027, Kyiv time (UTC+3 then).
    assert_eq!(out.card.deadline.to_rfc3339(), "2027-09-01T20:59:59+00:00");
    assert!(!out.card.is_overdue(now));
    let card = out.card;
    // The work done, the executor proposes closure from long-term control.
    let out = apply(
        &m,
        &card,
        action_named("propose_closure", now),
        &actor("lead"),
        now,
    );
    assert_eq!(out.card.status, AppealStatus::ClosureProposed);
    // Withdrawn, it is back under long-term control.
    let out = apply(&m, &out.card, Action::Withdraw, &actor("lead"), now);
    assert_eq!(out.card.status, AppealStatus::LongTerm);
}

#[test]
fn a_card_filed_at_night_waits_in_the_inbox_until_working_hours() {
    let m = machine();
    let friday_night = kyiv("2026-12-04 22:15");
    let out = m
        .register(
            Uuid::new_v4(),
            vec![lead("zhytlo")],
            DeadlineClass::Short,
            None,
            friday_night,
        )
        .expect("register");
    assert_eq!(out.card.status, AppealStatus::Registered);
    assert_eq!(out.card.delivery_at, Some(kyiv("2026-12-07 08:00")));
    assert_eq!(
        out.notices,
        vec![Notice::Executor(code("zhytlo"))],
        "in the inbox at once, marked as waiting"
    );
    assert_eq!(
        out.card.deadline,
        friday_night + TimeDelta::hours(24),
        "the term counts from registration"
    );
    let card = out.card;
    assert_eq!(
        m.handle(
            &card,
            Action::Deliver,
            &Actor::System,
            kyiv("2026-12-07 07:59")
        )
        .unwrap_err(),
        Refusal::NotYetDeliverable
    );
    let out = apply(
        &m,
        &card,
        Action::Deliver,
        &Actor::System,
        kyiv("2026-12-07 08:00"),
    );
    assert_eq!(
        (out.card.status, out.card.delivery_at),
        (AppealStatus::Delivered, None)
    );
    // Someone on duty may accept before the morning.
    let out = apply(
        &m,
        &card,
        action_named("accept", friday_night),
        &executor("duty", "zhytlo"),
        friday_night,
    );
    assert_eq!(out.card.status, AppealStatus::InProgress);
    // An around-the-clock service gets it at once.
    let out = m
        .register(
            Uuid::new_v4(),
            vec![lead("vodokanal")],
            DeadlineClass::Emergency,
            None,
            friday_night,
        )
        .expect("register");
    assert_eq!(out.card.status, AppealStatus::Delivered);
}

#[test]
fn a_three_hour_card_turns_overdue_at_three_hours_and_one_second() {
    let m = machine();
    let start = kyiv("2026-12-02 10:00");
    let card = m
        .register(
            Uuid::new_v4(),
            vec![lead("vodokanal")],
            DeadlineClass::Emergency,
            None,
            start,
        )
        .expect("register")
        .card;
    // Due soon: the last quarter of the term, 45 minutes before.
    assert_eq!(m.due_soon_at(&card), start + TimeDelta::minutes(135));
    let early = start + TimeDelta::minutes(134);
    assert_eq!(
        m.handle(&card, Action::MarkDueSoon, &Actor::System, early)
            .unwrap_err(),
        Refusal::NotDue("mark_due_soon")
    );
    let out = apply(
        &m,
        &card,
        Action::MarkDueSoon,
        &Actor::System,
        start + TimeDelta::minutes(135),
    );
    assert_eq!(out.entry.kind, EntryKind::DueSoon);
    assert_eq!(out.notices, vec![Notice::Executor(code("vodokanal"))]);
    let card = out.card;
    let at_deadline = start + TimeDelta::hours(3);
    assert_eq!(
        m.handle(&card, Action::MarkOverdue, &Actor::System, at_deadline)
            .unwrap_err(),
        Refusal::NotDue("mark_overdue")
    );
    let out = apply(
        &m,
        &card,
        Action::MarkOverdue,
        &Actor::System,
        at_deadline + TimeDelta::seconds(1),
    );
    assert_eq!(out.entry.kind, EntryKind::Overdue);
    assert_eq!(
        out.notices,
        vec![Notice::Executor(code("vodokanal")), Notice::Supervisors]
    );
    assert!(out.card.overdue_noted);
    // Once only.
    assert_eq!(
        m.handle(
            &out.card,
            Action::MarkOverdue,
            &Actor::System,
            at_deadline + TimeDelta::hours(1)
        )
        .unwrap_err(),
        Refusal::NotDue("mark_overdue")
    );
    // An extension starts the term again.
    let mut card = out.card;
    card.status = AppealStatus::InProgress;
    card.parts[0].responsible = Some("x".into());
    let later = at_deadline + TimeDelta::hours(2);
    let card = apply(
        &m,
        &card,
        action_named("request_extension", later),
        &executor("v", "vodokanal"),
        later,
    )
    .card;
    let card = apply(
        &m,
        &card,
        action_named("approve", later),
        &actor("supervisor"),
        later,
    )
    .card;
    assert!(!card.overdue_noted && !card.due_soon_noted);
    assert!(!card.is_overdue(later));
}

#[test]
fn a_proposal_on_friday_evening_is_due_for_review_on_monday_or_after_the_holiday() {
    let m = machine();
    let friday_evening = kyiv("2026-12-04 18:40");
    let card = card_with_one(friday_evening);
    let card = apply(
        &m,
        &card,
        action_named("propose_closure", friday_evening),
        &actor("lead"),
        friday_evening,
    )
    .card;
    assert_eq!(
        card.pending.as_ref().map(|p| p.due),
        Some(kyiv("2026-12-07 17:00"))
    );
    // 28 December 2026, a Monday, is a holiday in this calendar.
    let before_holiday = kyiv("2026-12-25 19:00");
    let card = apply(
        &m,
        &card_with_one(before_holiday),
        action_named("propose_closure", before_holiday),
        &actor("lead"),
        before_holiday,
    )
    .card;
    assert_eq!(
        card.pending.as_ref().map(|p| p.due),
        Some(kyiv("2026-12-29 17:00"))
    );
}

#[test]
fn executor_codes_are_keys_not_names() {
    assert!(ExecutorCode::parse("vodokanal").is_ok());
    assert!(ExecutorCode::parse("zhytlo-2").is_ok());
    for bad in ["", "КП «Водоканал»", "Vodokanal", "a b", &"x".repeat(65)] {
        assert!(ExecutorCode::parse(bad).is_err(), "{bad:?}");
    }
    let json = serde_json::to_string(&lead("blago")).expect("json");
    assert_eq!(json, r#"{"executor":"blago","lead":true}"#);
    assert!(serde_json::from_str::<Assignment>(r#"{"executor":"Bad Name","lead":true}"#).is_err());
}

#[test]
fn the_watcher_is_told_what_time_does_next_and_when() {
    let m = machine();
    // Registered on Friday night: delivery on Monday morning comes first.
    let friday_night = kyiv("2026-12-04 22:00");
    let card = m
        .register(
            Uuid::new_v4(),
            vec![lead("zhytlo")],
            DeadlineClass::Long,
            None,
            friday_night,
        )
        .expect("register")
        .card;
    let (at, action) = m.next_due(&card, friday_night).expect("something is due");
    assert_eq!(
        (at, action.clone()),
        (kyiv("2026-12-07 08:00"), Action::Deliver)
    );
    let card = apply(&m, &card, action, &Actor::System, at).card;
    // Then the warning at three quarters of the week, then overdue.
    let (at, action) = m.next_due(&card, at).expect("the warning");
    assert_eq!(
        (at, action.clone()),
        (
            friday_night + TimeDelta::minutes(7 * 24 * 60 * 3 / 4),
            Action::MarkDueSoon
        )
    );
    let card = apply(&m, &card, action, &Actor::System, at).card;
    let (at, action) = m.next_due(&card, at).expect("overdue");
    assert_eq!(action, Action::MarkOverdue);
    assert!(at > card.deadline && at - card.deadline <= TimeDelta::seconds(1));
    let card = apply(&m, &card, action, &Actor::System, at).card;
    assert_eq!(m.next_due(&card, at), None, "nothing more for time to do");
    // A card first seen when already past its deadline: overdue at once,
    // without a warning that no one needs any more.
    let mut late = card_with_one(kyiv("2026-12-02 11:00"));
    late.overdue_noted = false;
    late.due_soon_noted = false;
    let now = kyiv("2026-12-02 11:00");
    let (at, action) = m.next_due(&late, now).expect("due");
    assert_eq!(action, Action::MarkOverdue);
    assert!(at <= now);
    let late = apply(&m, &late, action, &Actor::System, now).card;
    assert!(late.due_soon_noted && late.overdue_noted);
    assert_eq!(m.next_due(&late, now), None);
    // A closure being decided, or a closed card: time does nothing.
    let proposed = card_in(AppealStatus::ClosureProposed, now);
    assert_eq!(m.next_due(&proposed, now), None);
    assert_eq!(m.next_due(&card_in(AppealStatus::Closed, now), now), None);
}

#[test]
fn an_executors_inbox_tabs_follow_the_card() {
    let m = machine();
    let now = kyiv("2026-12-02 11:00");
    let zhytlo = code("zhytlo");
    let blago = code("blago");
    let tabs = |card: &Card, who: &ExecutorCode, at| m.tabs(card, who, at);
    // card_in's cards are an hour past their deadline.
    let delivered = card_in(AppealStatus::Delivered, now);
    assert_eq!(tabs(&delivered, &zhytlo, now), vec![Tab::New, Tab::Overdue]);
    let mut working = card_in(AppealStatus::InProgress, now);
    assert_eq!(
        tabs(&working, &zhytlo, now),
        vec![Tab::InProgress, Tab::Overdue]
    );
    // The co-executor has not accepted its part: new for it.
    assert_eq!(tabs(&working, &blago, now), vec![Tab::New, Tab::Overdue]);
    working.deadline = now + TimeDelta::hours(2);
    working.term_start = now - TimeDelta::hours(22);
    assert_eq!(
        tabs(&working, &zhytlo, now),
        vec![Tab::InProgress, Tab::DueSoon]
    );
    working.deadline = now + TimeDelta::hours(20);
    assert_eq!(tabs(&working, &zhytlo, now), vec![Tab::InProgress]);
    let proposed = card_in(AppealStatus::ClosureProposed, now);
    assert_eq!(
        tabs(&proposed, &zhytlo, now),
        vec![Tab::Awaiting],
        "the deadline waits"
    );
    let long = card_in(AppealStatus::LongTerm, now);
    assert_eq!(tabs(&long, &zhytlo, now), vec![Tab::LongTerm, Tab::Overdue]);
    assert_eq!(
        tabs(&card_in(AppealStatus::Closed, now), &zhytlo, now),
        vec![Tab::Closed]
    );
}

/// What the console offers is what the table allows: every user's step in
/// every state, for every actor (the server's own steps never offered).
#[test]
fn the_steps_offered_are_the_ones_the_rules_allow() {
    let m = machine();
    let now = kyiv("2026-12-07 12:00");
    for state in AppealStatus::ALL.iter().copied() {
        let card = card_in(state, now);
        for name in ACTORS.iter().copied().filter(|a| *a != "system") {
            let offered = m.available(&card, &actor(name), now);
            let expected: Vec<&str> = ACTIONS
                .iter()
                .copied()
                .filter(|a| !matches!(*a, "deliver" | "mark_overdue" | "mark_due_soon"))
                .filter(|a| allowed(a, name, state))
                .collect();
            let mut offered_sorted = offered.clone();
            offered_sorted.sort_unstable();
            let mut expected_sorted = expected.clone();
            expected_sorted.sort_unstable();
            assert_eq!(offered_sorted, expected_sorted, "{name} in {state}");
        }
    }
}

// --- Verification ----------------------------------------------------------------

/// The rules with automated calls first, three of each, and every
/// non-emergency card left to the draw at `share`.
fn verifying_machine(share: f64) -> Lifecycle {
    use crate::appeal::control::{ControlRule, ControlSettings};
    use crate::appeal::verification::VerificationSettings;
    let attempts = VerificationSettings {
        automated: true,
        ..VerificationSettings::default()
    }
    .attempts()
    .expect("valid settings");
    let rule = ControlRule::new(ControlSettings {
        selective_share: share,
        ..ControlSettings::default()
    });
    machine().with_verification(rule, attempts, 30)
}

fn approve_closure() -> Action {
    Action::Approve {
        record: None,
        note: None,
        executors: vec![],
    }
}

fn verify(result: AttemptResult, reason: Option<&str>, channel: Channel) -> Action {
    Action::Verify {
        result,
        rating: None,
        reason: reason.map(str::to_string),
        channel,
        call: None,
    }
}

#[test]
fn an_accepted_closure_goes_to_verification_or_is_closed_as_the_rule_decides() {
    let now = kyiv("2026-12-02 11:00");
    let supervisor = actor("supervisor");
    let card = card_in(AppealStatus::ClosureProposed, now);
    // Nothing drawn: closed at once, the reason on the entry.
    let out = apply(
        &verifying_machine(0.0),
        &card,
        approve_closure(),
        &supervisor,
        now,
    );
    assert_eq!(out.card.status, AppealStatus::Closed);
    assert_eq!(out.entry.kind, EntryKind::Closed);
    let decision = out
        .entry
        .details
        .control
        .expect("the decision is in the history");
    assert!(!decision.verify);
    assert!(decision.to_string().starts_with("selective: not drawn"));
    // Everything drawn: to verification, hotline calls first, now (11:00
    // is within the calling hours).
    let out = apply(
        &verifying_machine(1.0),
        &card,
        approve_closure(),
        &supervisor,
        now,
    );
    assert_eq!(out.card.status, AppealStatus::Verification);
    assert_eq!(out.entry.kind, EntryKind::SentToVerification);
    let v = out.card.verification.clone().expect("verifying");
    assert_eq!((v.mode, v.attempts, v.next_at), (Mode::Automated, 0, now));
    assert!(
        !out.card.deadline_runs(),
        "the executor is not on the clock"
    );
    // An emergency card is verified whatever the share.
    let emergency = Card {
        emergency: true,
        ..card.clone()
    };
    let out = apply(
        &verifying_machine(0.0),
        &emergency,
        approve_closure(),
        &supervisor,
        now,
    );
    assert_eq!(out.card.status, AppealStatus::Verification);
    assert_eq!(
        out.entry.details.control.map(|d| d.to_string()).as_deref(),
        Some("total: an emergency")
    );
    // So is a contested one, once marked.
    let marked = apply(
        &verifying_machine(0.0),
        &card,
        Action::MarkContested {
            reason: "заявник заперечує".into(),
        },
        &supervisor,
        now,
    );
    assert!(marked.card.contested);
    assert_eq!(
        verifying_machine(0.0).handle(
            &marked.card,
            Action::MarkContested {
                reason: "ще раз".into()
            },
            &supervisor,
            now
        ),
        Err(Refusal::AlreadyMarked)
    );
    let out = apply(
        &verifying_machine(0.0),
        &marked.card,
        approve_closure(),
        &supervisor,
        now,
    );
    assert_eq!(out.card.status, AppealStatus::Verification);
    // A low confirmation rate last month: total control.
    use crate::appeal::control::{Period, TrackRecord};
    let record = TrackRecord {
        confirmed: 7,
        not_confirmed: 3,
        ..TrackRecord::empty(code("zhytlo"), Period::Month.previous(now.date_naive()))
    };
    let with_record = Action::Approve {
        record: Some(record),
        note: None,
        executors: vec![],
    };
    let out = apply(
        &verifying_machine(0.0),
        &card,
        with_record,
        &supervisor,
        now,
    );
    assert_eq!(out.card.status, AppealStatus::Verification);
    assert_eq!(
        out.entry.details.control.map(|d| d.to_string()).as_deref(),
        Some("total: confirmation rate 70 % in November 2026 (7 of 10; below 80 %)")
    );
    // An anonymous card has nobody to ask.
    let anonymous = Card {
        anonymous: true,
        emergency: true,
        ..card
    };
    let out = apply(
        &verifying_machine(1.0),
        &anonymous,
        approve_closure(),
        &supervisor,
        now,
    );
    assert_eq!(out.card.status, AppealStatus::Closed);
}

#[test]
fn the_citizen_confirms_and_rates_the_work() {
    let m = verifying_machine(1.0);
    let now = kyiv("2026-12-02 11:00");
    let card = card_in(AppealStatus::Verification, now);
    let yes = Action::Verify {
        result: AttemptResult::Confirmed,
        rating: Some(4),
        reason: Some("дякую".into()),
        channel: Channel::Operator,
        call: None,
    };
    let out = apply(&m, &card, yes, &actor("operator"), now);
    assert_eq!(out.card.status, AppealStatus::Closed);
    assert_eq!(out.card.verification, None);
    assert_eq!(out.entry.kind, EntryKind::Confirmed);
    let details = out.entry.details.verification.expect("the attempt");
    assert_eq!((details.rating, details.attempt), (Some(4), 1));
    assert_eq!(out.repeat, None);
    // A rating is 1 to 5.
    let six = Action::Verify {
        result: AttemptResult::Confirmed,
        rating: Some(6),
        reason: None,
        channel: Channel::Operator,
        call: None,
    };
    assert_eq!(
        m.handle(&card, six, &actor("operator"), now),
        Err(Refusal::Rating(6))
    );
    // Executors do not verify their own work; users do not speak for the
    // automated call.
    assert!(matches!(
        m.handle(
            &card,
            verify(AttemptResult::Confirmed, None, Channel::Operator),
            &actor("lead"),
            now
        ),
        Err(Refusal::Role { .. })
    ));
    assert!(matches!(
        m.handle(
            &card,
            verify(AttemptResult::Confirmed, None, Channel::Automated),
            &actor("operator"),
            now
        ),
        Err(Refusal::Role { .. })
    ));
}

#[test]
fn a_citizen_who_does_not_confirm_sends_the_problem_back_as_a_repeat() {
    let m = verifying_machine(1.0);
    let now = kyiv("2026-12-02 11:00");
    let card = card_in(AppealStatus::Verification, now);
    // The operator must write down why.
    assert_eq!(
        m.handle(
            &card,
            verify(AttemptResult::NotConfirmed, Some("  "), Channel::Operator),
            &actor("operator"),
            now
        ),
        Err(Refusal::Missing("the citizen's reason"))
    );
    let out = apply(
        &m,
        &card,
        verify(
            AttemptResult::NotConfirmed,
            Some("вода досі тече"),
            Channel::Operator,
        ),
        &actor("operator"),
        now,
    );
    assert_eq!(out.card.status, AppealStatus::Closed);
    assert_eq!(out.entry.kind, EntryKind::NotConfirmed);
    assert_eq!(out.repeat.as_deref(), Some("вода досі тече"));
    assert!(out.notices.contains(&Notice::Supervisors));
    assert!(out.notices.contains(&Notice::Executor(code("zhytlo"))));
    // A key pressed on an automated call says no reason: still a repeat.
    let automated = Card {
        verification: Some(Verifying {
            mode: Mode::Automated,
            attempts: 1,
            next_at: now,
        }),
        ..card
    };
    let out = apply(
        &m,
        &automated,
        verify(AttemptResult::NotConfirmed, None, Channel::Automated),
        &Actor::System,
        now,
    );
    assert_eq!(out.repeat.as_deref(), Some(""));
}

#[test]
fn unanswered_calls_are_retried_then_the_operators_then_closed_unverified() {
    let m = verifying_machine(1.0);
    let supervisor = actor("supervisor");
    let mut now = kyiv("2026-12-01 10:00"); // a Tuesday
    let mut card = apply(
        &m,
        &card_in(AppealStatus::ClosureProposed, now),
        approve_closure(),
        &supervisor,
        now,
    )
    .card;
    let mut seen = Vec::new();
    for result in [
        AttemptResult::NoAnswer,
        AttemptResult::Busy,
        AttemptResult::NoKey,
    ] {
        let v = card.verification.clone().expect("verifying");
        assert_eq!(v.mode, Mode::Automated);
        now = v.next_at;
        let out = apply(
            &m,
            &card,
            verify(result, None, Channel::Automated),
            &Actor::System,
            now,
        );
        assert_eq!(out.entry.kind, EntryKind::VerificationAttempt);
        assert_eq!(out.card.status, AppealStatus::Verification);
        seen.push(out.card.verification.clone().expect("still verifying"));
        card = out.card;
    }
    // Retried the next days within the calling hours; after the third the
    // operators' list, at once.
    assert_eq!(seen[0].next_at, kyiv("2026-12-02 09:00"));
    assert_eq!(seen[1].next_at, kyiv("2026-12-03 09:00"));
    assert_eq!((seen[2].mode, seen[2].attempts), (Mode::Operator, 0));
    assert_eq!(seen[2].next_at, now);
    // A late automated answer is refused now the operators have it.
    assert_eq!(
        m.handle(
            &card,
            verify(AttemptResult::Confirmed, None, Channel::Automated),
            &Actor::System,
            now
        ),
        Err(Refusal::NotDue("verify"))
    );
    let operator = actor("operator");
    for _ in 0..2 {
        let out = apply(
            &m,
            &card,
            verify(AttemptResult::NoAnswer, None, Channel::Operator),
            &operator,
            now,
        );
        assert_eq!(out.card.status, AppealStatus::Verification);
        card = out.card;
        now = card.verification.as_ref().expect("verifying").next_at;
    }
    let out = apply(
        &m,
        &card,
        verify(
            AttemptResult::NoAnswer,
            Some("не відповідає"),
            Channel::Operator,
        ),
        &operator,
        now,
    );
    assert_eq!(out.card.status, AppealStatus::Closed);
    assert_eq!(out.entry.kind, EntryKind::NotVerified);
    assert_eq!(out.repeat, None);
    assert_eq!(
        out.entry.details.verification.map(|v| v.attempt),
        Some(3),
        "the operators' third attempt"
    );
}

#[test]
fn direct_control_is_raised_by_staff_or_the_server_once() {
    let m = machine();
    let now = kyiv("2026-12-02 11:00");
    let card = card_in(AppealStatus::InProgress, now);
    let mark = || Action::DirectControl {
        reason: "третє звернення за місяць".into(),
    };
    let out = apply(&m, &card, mark(), &Actor::System, now);
    assert!(out.card.direct_control);
    assert_eq!(out.entry.kind, EntryKind::DirectControl);
    assert_eq!(
        m.handle(&out.card, mark(), &actor("supervisor"), now),
        Err(Refusal::AlreadyMarked)
    );
    assert!(matches!(
        m.handle(&card, mark(), &actor("operator"), now),
        Err(Refusal::Role { .. })
    ));
}

#[test]
fn an_executor_sees_a_card_being_verified_as_awaiting() {
    let m = machine();
    let now = kyiv("2026-12-02 11:00");
    let card = card_in(AppealStatus::Verification, now);
    assert_eq!(m.tabs(&card, &code("zhytlo"), now), vec![Tab::Awaiting]);
}

#[test]
fn an_accepted_closure_dates_the_work_from_the_proposal_and_rework_undoes_it() {
    let now = kyiv("2026-12-02 11:00");
    let supervisor = actor("supervisor");
    let card = card_in(AppealStatus::ClosureProposed, now);
    let proposed = card.pending.as_ref().expect("a proposal").made_at;
    assert!(proposed < now);
    // Decided later, whether verified or closed at once, the work was
    // done when it was proposed: that is what the deadline is held to.
    for share in [0.0, 1.0] {
        let out = apply(
            &verifying_machine(share),
            &card,
            approve_closure(),
            &supervisor,
            now,
        );
        assert_eq!(out.card.resolved_at, Some(proposed));
    }
    let done = Card {
        resolved_at: Some(proposed),
        ..card.clone()
    };
    let out = apply(
        &machine(),
        &done,
        Action::Reject {
            reason: "Фото не того місця".into(),
        },
        &supervisor,
        now,
    );
    assert_eq!(out.card.status, AppealStatus::Rework);
    assert_eq!(out.card.resolved_at, None);
}

/// A card sent without a subject: no executor, nothing delivered, the
/// contact centre's day to classify it; classified, it gets the category's
/// executor and the deadline its class gives from the registration, and is
/// delivered as a phone card would be.
#[test]
fn a_card_without_a_subject_waits_for_the_contact_centre_to_classify_it() {
    let m = machine();
    let registered = kyiv("2026-12-02 07:00");
    let outcome = m.register_for_triage(Uuid::new_v4(), registered);
    let card = outcome.card;
    assert!(card.parts.is_empty());
    assert_eq!(card.status, AppealStatus::Registered);
    assert_eq!(card.delivery_at, None);
    assert_eq!(card.deadline, TRIAGE_CLASS.deadline(registered));
    assert_eq!(outcome.notices, vec![Notice::ContactCentre]);
    let now = kyiv("2026-12-02 11:00");
    // Nobody to deliver to, reassign, or act as executor.
    assert_eq!(
        m.handle(&card, Action::Deliver, &Actor::System, now)
            .unwrap_err(),
        Refusal::AwaitsCategory
    );
    assert_eq!(
        m.handle(
            &card,
            action_named("reassign", now),
            &actor("supervisor"),
            now
        )
        .unwrap_err(),
        Refusal::AwaitsCategory
    );
    assert_eq!(
        m.handle(&card, action_named("accept", now), &actor("lead"), now)
            .unwrap_err(),
        Refusal::NotYourCard
    );
    assert!(
        m.available(&card, &actor("operator"), now)
            .contains(&"classify")
    );
    assert!(
        !m.available(&card, &actor("lead"), now)
            .contains(&"classify")
    );
    // Executors may not classify; the server must fill in the class.
    let classify = |class| Action::Classify {
        category: Uuid::new_v4(),
        executors: vec![lead("oblenergo")],
        class,
    };
    assert!(matches!(
        m.handle(
            &card,
            classify(Some(DeadlineClass::Medium)),
            &actor("lead"),
            now
        ),
        Err(Refusal::Role { .. })
    ));
    assert_eq!(
        m.handle(&card, classify(None), &actor("operator"), now)
            .unwrap_err(),
        Refusal::Executors
    );
    let step = m
        .handle(
            &card,
            classify(Some(DeadlineClass::Medium)),
            &actor("operator"),
            now,
        )
        .expect("an operator classifies");
    assert_eq!(step.entry.kind, EntryKind::Classified);
    assert_eq!(
        step.card.lead().map(|p| p.executor.as_str()),
        Some("oblenergo")
    );
    assert_eq!(
        step.card.deadline,
        DeadlineClass::Medium.deadline(registered),
        "counted from the registration"
    );
    assert_eq!(step.card.status, AppealStatus::Delivered, "in its hours");
    assert_eq!(
        step.entry.details.deadline,
        Some(DeadlineChange {
            from: card.deadline,
            to: step.card.deadline
        })
    );
    assert!(step.notices.contains(&Notice::Executor(code("oblenergo"))));
    // Once is enough.
    assert_eq!(
        m.handle(
            &step.card,
            classify(Some(DeadlineClass::Short)),
            &actor("supervisor"),
            now
        )
        .unwrap_err(),
        Refusal::HasCategory
    );
    // Classified at night: delivered when the executor's day starts.
    let night = kyiv("2026-12-02 22:00");
    let step = m
        .handle(
            &card,
            classify(Some(DeadlineClass::Long)),
            &actor("supervisor"),
            night,
        )
        .expect("a supervisor classifies");
    assert_eq!(step.card.status, AppealStatus::Registered);
    assert_eq!(step.card.delivery_at, Some(kyiv("2026-12-03 08:00")));
}
