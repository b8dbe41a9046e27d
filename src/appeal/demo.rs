//! A city to walk through by hand (`hotline demo seed`): the sample
//! classifier, the contact centre's people and executors' users (with
//! heads and a curator), cards in every state of their life, each taken
//! there by the same rules and steps the console uses (so each has a true
//! history), and repair works planned and under way.
//!
//! Demonstration only: every demo user has the password [`DEMO_PASSWORD`].
//! Seeding again adds nothing (it stops if the demo users are there).

use std::path::Path;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::AppealStatus;
use super::lifecycle::{Action, Actor, Assignment, ExecutorCode, Lifecycle};
use super::lifecycle_store::Author;
use super::verification::{AttemptResult, Channel as VerificationChannel};
use super::{AppealKind, Attachment, Classifier, NewAppeal};
use crate::store::{
    NewOperator, NewRepairWork, NewUser, QueueMembership, Role, Service, Store, StoreError,
    WorkAddress, WorkKind, WorkStatus,
};

/// Every demo user's password.
pub const DEMO_PASSWORD: &str = "demo-15-80";

/// The demo's people: login, role, organisation, head.
/// (login, name, role, organisation, head).
const PEOPLE: [(&str, &str, Role, Option<&str>, bool); 7] = [
    ("sveta", "Світлана Мельник", Role::Supervisor, None, false),
    ("olena", "Олена Петренко", Role::Operator, None, false),
    (
        "gnatiuk",
        "Олег Гнатюк",
        Role::Executor,
        Some("vodokanal"),
        true,
    ),
    (
        "moroz",
        "Андрій Мороз",
        Role::Executor,
        Some("vodokanal"),
        false,
    ),
    (
        "kovalenko",
        "Ірина Коваленко",
        Role::Executor,
        Some("teploenergetyk"),
        true,
    ),
    (
        "shliakh",
        "Петро Шлях",
        Role::Executor,
        Some("shliakhrembud"),
        true,
    ),
    // The city's housing department: curator of the utilities above.
    (
        "kuratorka",
        "Наталія Кравець",
        Role::Executor,
        Some("zhytloservis"),
        true,
    ),
];

/// What was seeded.
#[derive(Debug, Default)]
pub struct DemoCity {
    /// Logins added (all with [`DEMO_PASSWORD`]).
    pub users: Vec<String>,
    /// Registration numbers and the state each card was taken to.
    pub cards: Vec<(String, String)>,
    pub works: usize,
    /// The demo users were there already: nothing added.
    pub already: bool,
}

fn demo_error(reason: impl Into<String>) -> StoreError {
    StoreError::Invalid {
        field: "demo",
        reason: reason.into(),
    }
}

/// Seeds the city as of `now`: the classifier from `classifier` if none is
/// imported, the people, the cards and the works. Attachments (proof
/// photos) are written under `attachments_dir`.
pub async fn seed_city(
    store: &Store,
    rules: &Lifecycle,
    classifier: &Path,
    attachments_dir: &Path,
    now: DateTime<Utc>,
) -> Result<DemoCity, StoreError> {
    let mut city = DemoCity::default();
    if store.user_by_login("gnatiuk").await?.is_some() {
        city.already = true;
        return Ok(city);
    }
    if store.current_classifier_version().await?.is_none() {
        let loaded = Classifier::load(classifier).map_err(|e| demo_error(e.to_string()))?;
        store
            .import_classifier(&loaded, &classifier.display().to_string(), now)
            .await?;
    }
    for (login, name, role, executor, head) in PEOPLE {
        if store.user_by_login(login).await?.is_some() {
            continue;
        }
        if role == Role::Operator
            && !store
                .list_operators()
                .await?
                .iter()
                .any(|o| o.login == login)
        {
            let operator = NewOperator::new(
                login,
                "1001",
                Some(name),
                vec![QueueMembership::new("general", 0)],
                now,
            );
            store
                .add_operator(&operator, DEMO_PASSWORD, "hotline")
                .await?;
        }
        // The supervisor's softphone (extension 1090, in no queue), rung
        // when she listens in on a conversation.
        let phone = (role == Role::Supervisor).then(|| format!("{login}-phone"));
        if let Some(phone) = &phone {
            if store.operator_by_login(phone).await?.is_none() {
                let operator = NewOperator::new(
                    phone,
                    "1090",
                    Some(&format!("{name} (софтфон)")),
                    vec![],
                    now,
                );
                store
                    .add_operator(&operator, DEMO_PASSWORD, "hotline")
                    .await?;
            }
        }
        store
            .add_user(
                &NewUser {
                    display_name: name.to_owned(),
                    operator_login: phone
                        .or_else(|| NewUser::named(login, role, executor, head).operator_login),
                    ..NewUser::named(login, role, executor, head)
                },
                DEMO_PASSWORD,
                now,
            )
            .await?;
        city.users.push(login.to_string());
    }
    for utility in ["vodokanal", "teploenergetyk", "shliakhrembud"] {
        store
            .set_curator(utility, Some("kuratorka"), None, now)
            .await?;
    }
    seed_cards(store, rules, attachments_dir, now, &mut city).await?;
    city.works = seed_works(store, now).await?;
    Ok(city)
}

/// A demo user as the rules' actor and the history's author.
fn person(login: &str, role: Role, executor: Option<&str>) -> (Actor, Author) {
    let code = executor.and_then(|c| ExecutorCode::parse(c).ok());
    (
        Actor::User {
            login: login.into(),
            role,
            executor: code.clone(),
        },
        Author {
            user_id: None,
            login: login.into(),
            role: role.to_string(),
            executor: code,
        },
    )
}

/// One step of a card's life, as the console takes it.
async fn step(
    store: &Store,
    rules: &Lifecycle,
    id: Uuid,
    action: Action,
    (actor, author): &(Actor, Author),
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let stored = store
        .appeal_card(id)
        .await?
        .ok_or_else(|| demo_error("a demo card vanished"))?;
    let name = action.name();
    let outcome = rules
        .handle(&stored.card, action, actor, at)
        .map_err(|r| demo_error(format!("{name}: {r}")))?;
    store
        .write_step(id, stored.revision, &outcome, author, at)
        .await
}

/// A 1×1 PNG, the demo's photo of finished work.
const PHOTO: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0,
    0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// A file on the card (a photo or a scanned letter), stored and attached
/// by `who` as a step of its life; its id.
#[allow(clippy::too_many_arguments)]
async fn attach(
    store: &Store,
    rules: &Lifecycle,
    dir: &Path,
    id: Uuid,
    name: &str,
    proof: bool,
    who: &(Actor, Author),
    at: DateTime<Utc>,
) -> Result<Uuid, StoreError> {
    let file = Uuid::new_v4();
    let relative = format!("demo/{file}.png");
    let path = dir.join(&relative);
    let io = |e: std::io::Error| demo_error(format!("{}: {e}", path.display()));
    std::fs::create_dir_all(path.parent().unwrap_or(dir)).map_err(io)?;
    std::fs::write(&path, PHOTO).map_err(io)?;
    let attachment = Attachment {
        id: file,
        appeal_id: id,
        file_name: name.into(),
        content_type: "image/png".into(),
        size_bytes: PHOTO.len() as u64,
        sha256: hex::encode(Sha256::digest(PHOTO)),
        path: relative,
        uploaded_at: at,
    };
    store.add_attachment(&attachment, None).await?;
    step(
        store,
        rules,
        id,
        Action::Attach {
            files: vec![file],
            proof,
        },
        who,
        at,
    )
    .await?;
    if proof {
        store.mark_proof(id, file).await?;
    }
    Ok(file)
}

/// The citizens of the demo cards: surname, first name, patronymic,
/// address, phone, the issue, its type's code in the classifier.
const CITIZENS: [(&str, &str, &str, &str, &str, &str, &str); 12] = [
    (
        "Шевченко",
        "Тарас",
        "Григорович",
        "вул. Соборна, 12, кв. 5",
        "+380611234567",
        "Немає холодної води з ранку в усьому під'їзді.",
        "no-cold-water",
    ),
    (
        "Коваленко",
        "Ірина",
        "Петрівна",
        "просп. Металургів, 4",
        "+380671112233",
        "Тече труба водопостачання у підвалі, вода на сходах.",
        "water-main-leak",
    ),
    (
        "Бондар",
        "Олег",
        "Іванович",
        "вул. Перемоги, 77",
        "+380501234567",
        "Відкритий каналізаційний люк біля дитячого майданчика.",
        "sewer-manhole",
    ),
    (
        "Мельник",
        "Оксана",
        "Василівна",
        "вул. Незалежної України, 31",
        "+380661230000",
        "Слабкий тиск води на 9 поверсі ввечері.",
        "low-water-pressure",
    ),
    (
        "Ткаченко",
        "Андрій",
        "Олексійович",
        "бул. Шевченка, 20",
        "+380931112244",
        "Вода з крана жовта й з запахом.",
        "water-quality",
    ),
    (
        "Кравець",
        "Марія",
        "Степанівна",
        "вул. Гоголя, 101",
        "+380971234321",
        "Немає опалення в квартирі, батареї холодні.",
        "no-heating",
    ),
    (
        "Лисенко",
        "Петро",
        "Андрійович",
        "вул. Гоголя, 99",
        "+380681230011",
        "Прорив каналізації у дворі, запах.",
        "sewer-overflow",
    ),
    (
        "Савченко",
        "Галина",
        "Миколаївна",
        "вул. Дніпровська, 3",
        "+380631118899",
        "Після ремонту водогону не відновили асфальт, яма біля зупинки.",
        "water-main-leak",
    ),
    (
        "Поліщук",
        "Віктор",
        "Іванович",
        "вул. Дніпровська, 15",
        "+380991234500",
        "Немає холодної води, вже третя доба.",
        "no-cold-water",
    ),
    (
        "Руденко",
        "Наталія",
        "Олегівна",
        "вул. Оріхівське шосе, 8",
        "+380661119922",
        "Колодязь водогону без кришки на тротуарі.",
        "water-well-cover",
    ),
    (
        "Гордієнко",
        "Іван",
        "Петрович",
        "вул. Перемоги, 79",
        "+380671230987",
        "Знову про відкритий люк біля майданчика.",
        "sewer-manhole",
    ),
    (
        "Ткаченко",
        "Олена",
        "Василівна",
        "вул. Гоголя, 40",
        "+380507773311",
        "Тече кран гарячої води в підвалі, парує на сходи.",
        "hot-water-temperature",
    ),
];

async fn seed_cards(
    store: &Store,
    rules: &Lifecycle,
    dir: &Path,
    now: DateTime<Utc>,
    city: &mut DemoCity,
) -> Result<(), StoreError> {
    let version = store
        .current_classifier_version()
        .await?
        .ok_or_else(|| demo_error("no classifier"))?;
    let categories = store.categories(version.number).await?;
    let sv = &person("sveta", Role::Supervisor, None);
    let olena = &person("olena", Role::Operator, None);
    let operator = olena.1.clone();
    let gnatiuk = person("gnatiuk", Role::Executor, Some("vodokanal"));
    let kovalenko = person("kovalenko", Role::Executor, Some("teploenergetyk"));
    let h = TimeDelta::hours;
    let accept = |who: &str| Action::Accept {
        responsible: format!("{who}, майстер дільниці"),
    };
    for (i, (surname, first, patronymic, address, phone, essence, code)) in
        CITIZENS.into_iter().enumerate()
    {
        let Some(category) = categories
            .iter()
            .find(|c| c.type_code == code)
            .or_else(|| categories.first())
        else {
            return Err(demo_error("the classifier has no categories"));
        };
        let kind = match i {
            2 | 6 => AppealKind::Complaint,
            7 => AppealKind::Demand,
            _ => AppealKind::Statement,
        };
        let appeal = NewAppeal {
            surname: surname.into(),
            first_name: first.into(),
            patronymic: patronymic.into(),
            address: address.into(),
            contact_phone: phone.into(),
            essence: essence.into(),
            category_id: Some(category.id),
            kind: Some(kind),
            ..Default::default()
        };
        // Older cards first: each filed early enough for its story.
        let filed = now - h([1, 20, 30, 44, 50, 70, 80, 100, 120, 140, 25, 60][i]);
        let registration = store
            .register_appeal(&appeal, rules, &operator, filed)
            .await
            .map_err(|e| demo_error(e.to_string()))?;
        let id = registration.record.id;
        let number = registration.record.registration_number.to_string();
        // Delivered at once for the demo, whatever the hour.
        if let Some(at) = store
            .appeal_card(id)
            .await?
            .and_then(|c| c.card.delivery_at)
        {
            let system = (Actor::System, Author::system());
            step(store, rules, id, Action::Deliver, &system, at.max(filed)).await?;
        }
        let lead = match category.executor.code.as_str() {
            "teploenergetyk" => &kovalenko,
            _ => &gnatiuk,
        };
        let t = |hours: i64| filed + h(hours);
        match i {
            // 0: new, in the inbox's first tab.
            0 => {}
            // 1: in progress, with a comment.
            1 => {
                step(store, rules, id, accept("Гнатюк О. В."), lead, t(1)).await?;
                let comment = Action::Comment {
                    text: "Бригада виїхала, стояк перекрито.".into(),
                };
                step(store, rules, id, comment, lead, t(2)).await?;
            }
            // 2: closure proposed with a photo, in the decisions queue.
            2 => {
                step(store, rules, id, accept("Мороз С. П."), lead, t(1)).await?;
                let photo = attach(store, rules, dir, id, "люк.png", true, lead, t(20)).await?;
                let propose = Action::ProposeClosure {
                    summary: "Люк закрито новою кришкою.".into(),
                    proof: vec![photo],
                };
                step(store, rules, id, propose, lead, t(20)).await?;
            }
            // 3: an extension asked, awaiting the contact centre.
            3 => {
                step(store, rules, id, accept("Гнатюк О. В."), lead, t(1)).await?;
                let letter = attach(store, rules, dir, id, "лист.png", false, lead, t(5)).await?;
                let ask = Action::RequestExtension {
                    until: now + TimeDelta::days(10),
                    reason: "Потрібна заміна насоса, постачання за тиждень.".into(),
                    documents: vec![letter],
                };
                step(store, rules, id, ask, lead, t(5)).await?;
            }
            // 4: closure rejected: back for rework.
            4 => {
                step(store, rules, id, accept("Гнатюк О. В."), lead, t(1)).await?;
                let photo = attach(store, rules, dir, id, "проба.png", true, lead, t(6)).await?;
                let propose = Action::ProposeClosure {
                    summary: "Промито мережу.".into(),
                    proof: vec![photo],
                };
                step(store, rules, id, propose, lead, t(6)).await?;
                let reject = Action::Reject {
                    reason: "Заявниця каже, що вода досі жовта: потрібен аналіз.".into(),
                };
                step(store, rules, id, reject, sv, t(8)).await?;
            }
            // 5: the heating network in the SER plan: long-term control.
            5 => {
                step(store, rules, id, accept("Коваленко І. М."), lead, t(1)).await?;
                let plan = attach(store, rules, dir, id, "кошторис.png", false, lead, t(3)).await?;
                let ask = Action::RequestLongTerm {
                    planned: NaiveDate::from_ymd_opt(2027, 6, 1).unwrap_or(now.date_naive()),
                    reason: "Заміна ділянки тепломережі, фінансування в програмі на 2027 рік."
                        .into(),
                    documents: vec![plan],
                };
                step(store, rules, id, ask, lead, t(3)).await?;
                step(store, rules, id, approve(), sv, t(5)).await?;
            }
            // 6: closed: the work done, proof, approved.
            6 => {
                step(store, rules, id, accept("Мороз С. П."), lead, t(1)).await?;
                let photo = attach(store, rules, dir, id, "двір.png", true, lead, t(10)).await?;
                let propose = Action::ProposeClosure {
                    summary: "Засмічення усунуто, двір прибрано.".into(),
                    proof: vec![photo],
                };
                step(store, rules, id, propose, lead, t(10)).await?;
                step(store, rules, id, approve(), sv, t(12)).await?;
                // Drawn for verification: the citizen confirms.
                let asked = store.appeal_card(id).await?.map(|c| c.card.status);
                if asked == Some(AppealStatus::Verification) {
                    let yes = Action::Verify {
                        result: AttemptResult::Confirmed,
                        rating: Some(5),
                        reason: Some("Усе прибрали, дякую.".into()),
                        channel: VerificationChannel::Operator,
                        call: None,
                    };
                    step(store, rules, id, yes, olena, t(14)).await?;
                }
            }
            // 11: contested on the way (the resident disputes the repair),
            // the closure accepted: waiting for the citizen's word.
            11 => {
                step(store, rules, id, accept("Коваленко І. М."), lead, t(1)).await?;
                let contested = Action::MarkContested {
                    reason: "Мешканка заперечує, що кран замінено, а не підмотано.".into(),
                };
                step(store, rules, id, contested, sv, t(3)).await?;
                let photo = attach(store, rules, dir, id, "кран.png", true, lead, t(20)).await?;
                let propose = Action::ProposeClosure {
                    summary: "Кран замінено, підвал просушено.".into(),
                    proof: vec![photo],
                };
                step(store, rules, id, propose, lead, t(20)).await?;
                step(store, rules, id, approve(), sv, t(22)).await?;
            }
            // 7: not this executor's: the contact centre gives it to the
            // road builders, who have not accepted yet.
            7 => {
                let ask = Action::RequestChange {
                    reason: "Дорожнє покриття — не наша компетенція.".into(),
                    suggested: ExecutorCode::parse("shliakhrembud").ok(),
                };
                step(store, rules, id, ask, lead, t(1)).await?;
                let change = Action::Approve {
                    record: None,
                    note: None,
                    executors: vec![Assignment {
                        executor: ExecutorCode::parse("shliakhrembud").map_err(demo_error)?,
                        lead: true,
                    }],
                };
                step(store, rules, id, change, sv, t(3)).await?;
            }
            // 8: extended once, a second extension approved by the
            // contact centre, now waiting for the curator.
            8 => {
                step(store, rules, id, accept("Гнатюк О. В."), lead, t(1)).await?;
                for (asked, until) in [(2, 5), (30, 12)] {
                    let letter =
                        attach(store, rules, dir, id, "лист.png", false, lead, t(asked)).await?;
                    let ask = Action::RequestExtension {
                        until: now + TimeDelta::days(until),
                        reason: "Аварійна ділянка, чекаємо на дозвіл на розкопування.".into(),
                        documents: vec![letter],
                    };
                    step(store, rules, id, ask, lead, t(asked)).await?;
                    step(store, rules, id, approve(), sv, t(asked + 1)).await?;
                }
            }
            // 10: a repeat of card 2's issue: not to be considered.
            10 => {
                let dismiss = Action::Dismiss {
                    reason: "Дублює звернення щодо того самого люка, вже у роботі.".into(),
                };
                step(store, rules, id, dismiss, sv, t(1)).await?;
            }
            // 9: overdue: accepted and forgotten (the watcher marks it when
            // the server starts).
            _ => {
                step(store, rules, id, accept("Гнатюк О. В."), lead, t(1)).await?;
            }
        }
        let status = store
            .appeal_card(id)
            .await?
            .map(|c| c.card.status.to_string())
            .unwrap_or_default();
        city.cards.push((number, status));
    }
    Ok(())
}

fn approve() -> Action {
    Action::Approve {
        record: None,
        note: None,
        executors: Vec::new(),
    }
}

/// Works under way and planned, on the demo cards' streets.
async fn seed_works(store: &Store, now: DateTime<Utc>) -> Result<usize, StoreError> {
    let works = [
        (
            WorkKind::Emergency,
            Service::Heating,
            "Аварійний ремонт тепломережі: немає опалення",
            now - TimeDelta::hours(3),
            now + TimeDelta::hours(9),
            WorkStatus::Active,
            vec![("вул. Гоголя", Some("95-105"))],
            ("teploenergetyk", "kovalenko"),
        ),
        (
            WorkKind::Planned,
            Service::Water,
            "Планова заміна засувок: немає холодної води з 9:00 до 17:00",
            now + TimeDelta::days(2),
            now + TimeDelta::days(2) + TimeDelta::hours(8),
            WorkStatus::Announced,
            vec![
                ("вул. Дніпровська", None),
                ("просп. Металургів", Some("2-10")),
            ],
            ("vodokanal", "gnatiuk"),
        ),
        (
            WorkKind::Planned,
            Service::Power,
            "Планові роботи на підстанції: немає світла",
            now + TimeDelta::days(3),
            now + TimeDelta::days(3) + TimeDelta::hours(5),
            WorkStatus::Announced,
            vec![("вул. Незалежної України", Some("25-41"))],
            ("oblenergo", "sveta"),
        ),
    ];
    let count = works.len();
    for (kind, service, description, starts_at, expected_end, status, addresses, (executor, by)) in
        works
    {
        store
            .insert_repair_work(&NewRepairWork {
                id: Uuid::new_v4(),
                kind,
                service,
                description: description.into(),
                starts_at,
                expected_end,
                status,
                created_at: now - TimeDelta::days(1),
                addresses: addresses
                    .into_iter()
                    .map(|(street, house)| WorkAddress {
                        street: street.into(),
                        house: house.map(str::to_string),
                    })
                    .collect(),
                executor: Some(executor.into()),
                registered_by: Some(by.into()),
            })
            .await?;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{TestDb, both_backends};

    both_backends!(the_demo_city_has_a_card_in_every_state_and_seeds_once);

    async fn the_demo_city_has_a_card_in_every_state_and_seeds_once(db: &TestDb) {
        let files = tempfile::tempdir().unwrap();
        let rules = Lifecycle::default();
        let classifier = Path::new(crate::appeal::classifier::DEFAULT_PATH);
        let now = Utc::now();
        let city = seed_city(db, &rules, classifier, files.path(), now)
            .await
            .expect("the demo city is seeded");
        assert_eq!(city.users.len(), PEOPLE.len());
        let mut states: Vec<&str> = city.cards.iter().map(|(_, s)| s.as_str()).collect();
        // The card given to the road builders waits for their hours when
        // seeded outside them (a weekend): registered, not yet delivered.
        states.retain(|s| *s != "registered");
        states.sort_unstable();
        states.dedup();
        assert_eq!(
            states,
            [
                "closed",
                "closure_proposed",
                "delivered",
                "in_progress",
                "long_term",
                "rejected",
                "rework",
                "verification"
            ],
            "{:?}",
            city.cards
        );
        assert_eq!(city.works, 3);
        // The second extension waits for the curator; the proofs are files.
        let waiting = db.cards_awaiting_decision().await.unwrap();
        assert!(
            waiting.iter().any(|c| c
                .stored
                .card
                .pending
                .as_ref()
                .is_some_and(|p| p.needs_curator && p.approved_by_supervisor.is_some())),
            "a second extension awaits the curator"
        );
        let (closed, _) = &city.cards[6];
        let detail = db.appeal_detail(closed).await.unwrap().unwrap();
        let photo = &detail.attachments[0];
        assert!(files.path().join(&photo.path).is_file(), "{}", photo.path);
        assert!(
            db.appeal_history(detail.record.id)
                .await
                .unwrap()
                .iter()
                .any(|e| e.login == "sveta"
                    && matches!(e.kind.as_str(), "closed" | "sent_to_verification"))
        );
        // Seeding again adds nothing.
        let again = seed_city(db, &rules, classifier, files.path(), now)
            .await
            .unwrap();
        assert!(again.already);
        assert!(again.cards.is_empty());
    }
}
