//! The conversation alone: every path, a wrong input at each step, resume,
//! expiry, a blocked account. No messenger, no database, a made-up clock.

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use super::*;
use crate::chatbot::texts::Texts;

fn texts() -> Texts {
    crate::chatbot::texts::shipped()
}

const WATER: Uuid = Uuid::from_u128(0x11);
const LIGHT: Uuid = Uuid::from_u128(0x22);

fn catalogue() -> Catalogue {
    Catalogue {
        sections: vec![
            Section {
                code: "water".into(),
                name: "Водопостачання".into(),
                types: vec![(WATER, "Немає холодної води".into())],
            },
            Section {
                code: "light".into(),
                name: "Освітлення".into(),
                types: vec![(LIGHT, "Не світить ліхтар".into())],
            },
        ],
    }
}

fn t0() -> DateTime<Utc> {
    "2026-12-07T08:00:00Z".parse().unwrap()
}

/// A citizen talking to the machine, the clock moved by hand.
struct Chat {
    c: Conversation,
    texts: Texts,
    catalogue: Catalogue,
    numbering: NumberingPlan,
    limits: Limits,
    now: DateTime<Utc>,
    blocked: bool,
}

impl Chat {
    fn new() -> Chat {
        Chat {
            c: Conversation::default(),
            texts: texts(),
            catalogue: catalogue(),
            numbering: NumberingPlan {
                country_code: "380".into(),
                area_code: "61".into(),
            },
            limits: Limits {
                expire_after: TimeDelta::hours(24),
                max_photos: 2,
            },
            now: t0(),
            blocked: false,
        }
    }

    fn send(&mut self, input: Input) -> Turn {
        let ctx = Context {
            now: self.now,
            blocked: self.blocked,
            texts: &self.texts,
            catalogue: &self.catalogue,
            numbering: &self.numbering,
            limits: &self.limits,
        };
        handle(&mut self.c, input, &ctx)
    }

    fn text(&mut self, s: &str) -> Turn {
        self.send(Input::Text(s.into()))
    }

    fn press(&mut self, data: &str) -> Turn {
        self.send(Input::Button(data.into()))
    }

    /// Everything up to the summary, with the answers that pass.
    fn fill_in_up_to_the_summary(&mut self) -> Turn {
        self.send(Input::Start);
        self.press(data::NEW);
        self.text("Коваленко Ірина Петрівна");
        self.text("вул. Соборна, 12, кв. 5");
        self.send(Input::Contact {
            phone: "+380 67 123 45 67".into(),
            own: true,
        });
        self.text("Немає холодної води з ранку в усьому під'їзді.");
        self.press("kind:complaint");
        self.press("sec:water");
        self.press(&format!("type:{WATER}"));
        self.send(Input::Photo {
            file: "photo-1".into(),
        });
        self.press(data::NEXT);
        self.send(Input::Location {
            latitude: 47.8388,
            longitude: 35.1396,
        })
    }
}

fn said(turn: &Turn) -> String {
    turn.replies
        .iter()
        .map(|r| r.text.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

fn choices(turn: &Turn) -> Vec<String> {
    turn.replies
        .iter()
        .flat_map(|r| match &r.keyboard {
            Keyboard::Choices(rows) => rows.iter().flatten().map(|c| c.data.clone()).collect(),
            _ => Vec::new(),
        })
        .collect()
}

#[test]
fn a_new_appeal_is_collected_step_by_step_and_registered() {
    let mut chat = Chat::new();
    let hello = chat.send(Input::Start);
    assert_eq!(hello.replies.last().unwrap().keyboard, Keyboard::Menu);
    let turn = chat.fill_in_up_to_the_summary();
    let summary = said(&turn);
    for part in [
        "Коваленко Ірина Петрівна",
        "вул. Соборна, 12, кв. 5",
        "+380671234567",
        "Скарга",
        "Немає холодної води",
        "фото: 1",
        "47.83880, 35.13960",
    ] {
        assert!(summary.contains(part), "{part:?} in {summary}");
    }
    assert_eq!(chat.c.step, Step::Confirm);
    assert!(choices(&turn).contains(&data::REGISTER.to_string()));
    let done = chat.press(data::REGISTER);
    let [Effect::Register { draft, phone }] = done.effects.as_slice() else {
        panic!("{done:?}");
    };
    assert_eq!(phone, "+380671234567");
    assert_eq!(
        (
            draft.surname.as_str(),
            draft.first_name.as_str(),
            draft.patronymic.as_str()
        ),
        ("Коваленко", "Ірина", "Петрівна")
    );
    assert_eq!(draft.kind, Some(AppealKind::Complaint));
    assert_eq!(draft.category, Some(WATER));
    assert!(!draft.triage);
    assert_eq!(draft.photos, vec!["photo-1".to_string()]);
    assert_eq!(draft.latitude, Some(47.8388));
    assert_eq!(chat.c.step, Step::Menu);
    assert_eq!(
        chat.c.draft,
        Draft::default(),
        "the draft went with the card"
    );
    // The shared phone is kept: the next appeal does not ask again.
    chat.press(data::NEW);
    chat.text("Коваленко Ірина Петрівна");
    let turn = chat.text("вул. Соборна, 12, кв. 5");
    assert!(said(&turn).contains("+380671234567"));
    assert_eq!(chat.c.step, Step::Essence);
}

#[test]
fn a_wrong_answer_at_each_step_is_refused_with_a_hint_and_the_step_stays() {
    let mut chat = Chat::new();
    chat.press(data::NEW);
    for (wrong, hint) in [
        ("Коваленко Ірина", "три слова"),
        ("Коваленко Ірина Петрівна Іванівна", "три слова"),
        ("К0валенко Ірина Петрівна", "три слова"),
    ] {
        let turn = chat.text(wrong);
        assert!(said(&turn).contains(hint), "{wrong}: {}", said(&turn));
        assert_eq!(chat.c.step, Step::Name);
    }
    let turn = chat.send(Input::Photo { file: "x".into() });
    assert!(said(&turn).contains("не зрозумів"), "{}", said(&turn));
    assert_eq!(chat.c.step, Step::Name);
    chat.text("Коваленко Ірина Петрівна");
    for wrong in ["Соборна", "12", "ab 1", &"вулиця 1 ".repeat(40)] {
        chat.text(wrong);
        assert_eq!(chat.c.step, Step::Address, "{wrong}");
    }
    chat.text("вул. Соборна, 12");
    // The phone only from the button, and only one's own.
    let turn = chat.text("+380671234567");
    assert!(
        said(&turn).contains("Поділитися номером"),
        "{}",
        said(&turn)
    );
    assert_eq!(turn.replies[0].keyboard, Keyboard::Contact);
    let turn = chat.send(Input::Contact {
        phone: "+380671234567".into(),
        own: false,
    });
    assert!(said(&turn).contains("власним"), "{}", said(&turn));
    chat.send(Input::Contact {
        phone: "12".into(),
        own: true,
    });
    assert_eq!(chat.c.step, Step::Contact);
    assert_eq!(chat.c.phone, None);
    chat.send(Input::Contact {
        phone: "0671234567".into(),
        own: true,
    });
    assert_eq!(chat.c.phone.as_deref(), Some("+380671234567"));
    for wrong in ["коротко", &"а".repeat(4001)] {
        chat.text(wrong);
        assert_eq!(chat.c.step, Step::Essence);
    }
    chat.text("Не світить ліхтар біля зупинки вже тиждень.");
    chat.press("kind:gossip");
    assert_eq!(chat.c.step, Step::Kind);
    chat.text("заява");
    assert_eq!(chat.c.step, Step::Kind, "a kind is a button");
    chat.press("kind:statement");
    chat.press("sec:nowhere");
    assert_eq!(chat.c.step, Step::Section);
    chat.press("sec:light");
    // A type of another section, or no type at all.
    chat.press(&format!("type:{WATER}"));
    chat.press("type:not-a-uuid");
    assert_eq!(
        chat.c.step,
        Step::Type {
            section: "light".into()
        }
    );
    chat.press(data::BACK);
    assert_eq!(chat.c.step, Step::Section);
    chat.press("sec:light");
    chat.press(&format!("type:{LIGHT}"));
    assert_eq!(chat.draft_category(), Some(LIGHT));
    chat.text("ось фото");
    assert_eq!(chat.c.step, Step::Photos);
    for n in 0..3 {
        chat.send(Input::Photo {
            file: format!("p{n}"),
        });
    }
    assert_eq!(chat.c.draft.photos.len(), 2, "at most max_photos");
    chat.press(data::NEXT);
    chat.send(Input::Location {
        latitude: 123.0,
        longitude: 35.0,
    });
    assert_eq!(chat.c.step, Step::Location);
    chat.text("біля зупинки");
    assert_eq!(chat.c.step, Step::Location);
    chat.press(data::SKIP);
    assert_eq!(chat.c.step, Step::Confirm);
    assert_eq!(chat.c.draft.latitude, None);
}

impl Chat {
    fn draft_category(&self) -> Option<Uuid> {
        self.c.draft.category
    }
}

#[test]
fn not_knowing_the_subject_sends_the_card_to_triage() {
    let mut chat = Chat::new();
    chat.press(data::NEW);
    chat.text("Коваленко Ірина Петрівна");
    chat.text("вул. Соборна, 12");
    chat.send(Input::Contact {
        phone: "+380671234567".into(),
        own: true,
    });
    chat.text("Щось дивне гуде у підвалі будинку.");
    chat.press("kind:statement");
    chat.press("sec:water");
    chat.press(data::UNKNOWN);
    chat.press(data::SKIP);
    let turn = chat.press(data::SKIP);
    assert!(said(&turn).contains("тему визначить контакт-центр"));
    let done = chat.press(data::REGISTER);
    let [Effect::Register { draft, .. }] = done.effects.as_slice() else {
        panic!("{done:?}");
    };
    assert!(draft.triage);
    assert_eq!(draft.category, None);
}

#[test]
fn a_draft_left_halfway_is_resumed_or_started_again() {
    let mut chat = Chat::new();
    chat.press(data::NEW);
    chat.text("Коваленко Ірина Петрівна");
    chat.text("вул. Соборна, 12");
    assert_eq!(chat.c.step, Step::Contact);
    // The citizen comes back an hour later and says /start.
    chat.now += TimeDelta::hours(1);
    let turn = chat.send(Input::Start);
    assert!(said(&turn).contains("незавершене"));
    assert_eq!(
        choices(&turn),
        vec![data::CONTINUE.to_string(), data::RESTART.to_string()]
    );
    let turn = chat.press(data::CONTINUE);
    assert_eq!(chat.c.step, Step::Contact);
    assert_eq!(turn.replies[0].keyboard, Keyboard::Contact);
    assert_eq!(chat.c.draft.address, "вул. Соборна, 12");
    // "New appeal" over a draft asks too; starting again empties it.
    chat.press(data::NEW);
    chat.press(data::RESTART);
    assert_eq!(chat.c.step, Step::Name);
    assert_eq!(chat.c.draft, Draft::default());
    // Other menu entries leave the draft where it was.
    chat.text("Коваленко Ірина Петрівна");
    let turn = chat.press(data::MINE);
    assert_eq!(turn.effects, vec![Effect::ListAppeals { phone: None }]);
    assert_eq!(chat.c.step, Step::Address);
    // Cancelling drops it.
    let turn = chat.press(data::CANCEL);
    assert!(said(&turn).contains("скасовано"));
    assert_eq!(chat.c.step, Step::Menu);
    assert_eq!(chat.c.draft, Draft::default());
}

#[test]
fn a_draft_expires_after_the_configured_time() {
    let mut chat = Chat::new();
    chat.press(data::NEW);
    chat.text("Коваленко Ірина Петрівна");
    chat.now += TimeDelta::hours(24) + TimeDelta::seconds(1);
    let turn = chat.text("вул. Соборна, 12");
    assert!(
        said(&turn).contains("минуло забагато часу"),
        "{}",
        said(&turn)
    );
    assert_eq!(chat.c.step, Step::Menu);
    assert_eq!(chat.c.draft, Draft::default());
    assert!(turn.effects.is_empty());
    // Just within the time it goes on.
    chat.press(data::NEW);
    chat.now += TimeDelta::hours(24);
    chat.text("Коваленко Ірина Петрівна");
    assert_eq!(chat.c.step, Step::Address);
}

#[test]
fn a_blocked_account_is_refused_politely_and_nothing_is_registered() {
    let mut chat = Chat::new();
    chat.fill_in_up_to_the_summary();
    chat.blocked = true;
    let turn = chat.press(data::REGISTER);
    assert!(turn.effects.is_empty(), "{turn:?}");
    assert!(said(&turn).contains("не приймаються"));
    assert_eq!(chat.c.draft, Draft::default());
    for input in [
        Input::Start,
        Input::Button(data::NEW.into()),
        Input::Text("привіт".into()),
    ] {
        let turn = chat.send(input);
        assert!(turn.effects.is_empty());
        assert_eq!(turn.replies.len(), 1);
        assert!(said(&turn).contains("не приймаються"));
    }
}

#[test]
fn my_appeals_news_and_the_street_subscription() {
    let mut chat = Chat::new();
    chat.c.phone = Some("+380671234567".into());
    let turn = chat.press(data::MINE);
    assert_eq!(
        turn.effects,
        vec![Effect::ListAppeals {
            phone: Some("+380671234567".into())
        }]
    );
    assert_eq!(chat.press(data::NEWS).effects, vec![Effect::ShowNews]);
    chat.press(data::SUBSCRIBE);
    assert_eq!(chat.c.step, Step::Street);
    chat.text("я");
    assert_eq!(chat.c.step, Step::Street);
    let turn = chat.text("  Соборна  ");
    assert_eq!(
        turn.effects,
        vec![Effect::Subscribe {
            street: "Соборна".into()
        }]
    );
    assert!(said(&turn).contains("«Соборна»"));
    assert_eq!(
        chat.press(data::UNSUBSCRIBE).effects,
        vec![Effect::Unsubscribe]
    );
    let lines = [AppealLine {
        number: "1580-2026-000123".into(),
        status: "Прийнято до виконання".into(),
        category: "Немає холодної води".into(),
        deadline: "08.12.2026 10:00".into(),
    }];
    let text = appeals(&chat.texts, &lines).text;
    assert!(text.contains("1580-2026-000123") && text.contains("08.12.2026 10:00"));
    assert!(appeals(&chat.texts, &[]).text.contains("ще немає"));
}

#[test]
fn the_executors_question_is_answered_with_text_or_a_photo() {
    let mut chat = Chat::new();
    let push = question(&chat.texts, "1580-2026-000123", "Який номер під'їзду?");
    assert!(push.text.contains("Який номер під'їзду?"));
    let Keyboard::Choices(rows) = &push.keyboard else {
        panic!()
    };
    let reply = rows[0][0].data.clone();
    assert!(reply.len() <= 64);
    chat.press(&reply);
    assert_eq!(
        chat.c.step,
        Step::Reply {
            number: "1580-2026-000123".into()
        }
    );
    let turn = chat.text("  Третій під'їзд  ");
    assert_eq!(
        turn.effects,
        vec![Effect::Answer {
            number: "1580-2026-000123".into(),
            text: Some("Третій під'їзд".into()),
            photo: None,
        }]
    );
    chat.press(&reply);
    let turn = chat.send(Input::Photo {
        file: "photo-9".into(),
    });
    assert_eq!(
        turn.effects,
        vec![Effect::Answer {
            number: "1580-2026-000123".into(),
            text: None,
            photo: Some("photo-9".into()),
        }]
    );
    // A question pressed in the middle of a draft leaves the draft to resume.
    chat.press(data::NEW);
    chat.text("Коваленко Ірина Петрівна");
    chat.press(&reply);
    chat.text("Відповідь");
    assert_eq!(chat.c.draft.surname, "Коваленко");
}

#[test]
fn the_citizen_confirms_the_work_with_a_rating_or_says_why_not() {
    let mut chat = Chat::new();
    let push = verify_question(&chat.texts, "1580-2026-000123");
    let Keyboard::Choices(rows) = &push.keyboard else {
        panic!()
    };
    let (yes, no) = (rows[0][0].data.clone(), rows[0][1].data.clone());
    assert!(yes.len() <= 64 && no.len() <= 64);
    let turn = chat.press(&yes);
    assert_eq!(
        choices(&turn),
        ["rate:1", "rate:2", "rate:3", "rate:4", "rate:5"]
    );
    chat.press("rate:9");
    assert!(matches!(chat.c.step, Step::Rating { .. }));
    let turn = chat.press("rate:5");
    assert_eq!(
        turn.effects,
        vec![Effect::Verify {
            number: "1580-2026-000123".into(),
            solved: true,
            rating: 5,
            reason: None
        }]
    );
    chat.press(&no);
    chat.press("rate:2");
    let turn = chat.text("Вода й досі ледь тече");
    assert_eq!(
        turn.effects,
        vec![Effect::Verify {
            number: "1580-2026-000123".into(),
            solved: false,
            rating: 2,
            reason: Some("Вода й досі ледь тече".into())
        }]
    );
    chat.press(&no);
    chat.press("rate:1");
    let turn = chat.press(data::SKIP);
    assert!(matches!(
        turn.effects.as_slice(),
        [Effect::Verify {
            solved: false,
            rating: 1,
            reason: None,
            ..
        }]
    ));
    chat.press("solved:1580-2026-000123:maybe");
    assert_eq!(chat.c.step, Step::Menu);
}

#[test]
fn every_button_the_machine_offers_fits_a_messenger_and_leads_somewhere() {
    let mut chat = Chat::new();
    chat.fill_in_up_to_the_summary();
    let mut chat2 = Chat::new();
    chat2.press(data::NEW);
    chat2.text("Коваленко Ірина Петрівна");
    chat2.text("вул. Соборна, 12");
    chat2.send(Input::Contact {
        phone: "+380671234567".into(),
        own: true,
    });
    chat2.text("Не світить ліхтар біля зупинки вже тиждень.");
    let kinds = chat2.press("kind:statement");
    for data in choices(&kinds) {
        assert!(data.len() <= 64, "{data}");
        let mut probe = Chat::new();
        probe.c = chat2.c.clone();
        let turn = probe.press(&data);
        assert!(
            !said(&turn).contains("не зрозумів"),
            "{data}: {}",
            said(&turn)
        );
    }
}

#[test]
fn a_conversation_survives_a_restart_as_json() {
    let mut chat = Chat::new();
    chat.fill_in_up_to_the_summary();
    let stored = serde_json::to_string(&chat.c).unwrap();
    let back: Conversation = serde_json::from_str(&stored).unwrap();
    assert_eq!(back, chat.c);
    chat.c = back;
    assert!(matches!(
        chat.press(data::REGISTER).effects.as_slice(),
        [Effect::Register { .. }]
    ));
}
