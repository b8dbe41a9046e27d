//! The chat-bot's conversation, as plain code (seed 004 §3–§8): it takes
//! what the citizen sent and the time, and returns what to answer and what
//! to do ([`Effect`]); it never talks to a messenger or a database.
//! Telegram and Viber drive the same machine through their adapters.
//!
//! A new appeal is collected step by step, each checked as it comes: the
//! full name, the address, the phone (only from the messenger's "share my
//! contact" button, so it is the citizen's own), the essence, the kind, the
//! subject through the classifier's tree (or "не знаю"), photos and the
//! place, then a summary to confirm. A conversation left halfway can be
//! resumed, and is dropped once older than [`Limits::expire_after`]. The
//! same machine lists the citizen's appeals, shows the residents' news,
//! keeps a street subscription, carries the executor's question and the
//! citizen's answer, and asks whether the work was done.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::texts::{Texts, fill};
use crate::appeal::AppealKind;
use crate::phone::NumberingPlan;

/// What the citizen sent, as every messenger has it.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// The first contact, `/start`, or the menu asked for.
    Start,
    Text(String),
    /// A contact shared with the messenger's button; `own`: the sender's
    /// own (a contact forwarded from the address book is not).
    Contact {
        phone: String,
        own: bool,
    },
    Location {
        latitude: f64,
        longitude: f64,
    },
    /// A photo, by the messenger's reference to it.
    Photo {
        file: String,
    },
    /// A button pressed: its data.
    Button(String),
    /// A sticker, a voice message, a file: nothing the bot reads.
    Other,
}

/// How long a conversation keeps, and how much it takes.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// A draft untouched for this long is dropped.
    pub expire_after: TimeDelta,
    pub max_photos: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            expire_after: TimeDelta::hours(24),
            max_photos: 5,
        }
    }
}

/// The classifier as the bot offers it: sections, each with its types.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalogue {
    pub sections: Vec<Section>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub code: String,
    pub name: String,
    pub types: Vec<(Uuid, String)>,
}

/// What a turn is decided with besides the input.
pub struct Context<'a> {
    pub now: DateTime<Utc>,
    /// The account (or the phone it shared) is on the block list.
    pub blocked: bool,
    pub texts: &'a Texts,
    pub catalogue: &'a Catalogue,
    pub numbering: &'a NumberingPlan,
    pub limits: &'a Limits,
}

/// Where the conversation is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    #[default]
    Menu,
    Name,
    Address,
    Contact,
    Essence,
    Kind,
    Section,
    Type {
        section: String,
    },
    Photos,
    Location,
    Confirm,
    /// A draft is waiting: continue it at `at`, or start again.
    Resume {
        at: Box<Step>,
    },
    /// The street to subscribe to.
    Street,
    /// The answer to the executor's question on card `number`.
    Reply {
        number: String,
    },
    /// The citizen's rating of the work on card `number` (after "was it
    /// solved?").
    Rating {
        number: String,
        solved: bool,
    },
    /// What is still wrong (after "no").
    Why {
        number: String,
        rating: u8,
    },
}

impl Step {
    /// A step of a new appeal's draft (what expiry and resuming are about).
    fn drafting(&self) -> bool {
        matches!(
            self,
            Step::Name
                | Step::Address
                | Step::Contact
                | Step::Essence
                | Step::Kind
                | Step::Section
                | Step::Type { .. }
                | Step::Photos
                | Step::Location
                | Step::Confirm
                | Step::Resume { .. }
        )
    }
}

/// The appeal as collected so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Draft {
    pub surname: String,
    pub first_name: String,
    pub patronymic: String,
    pub address: String,
    pub essence: String,
    pub kind: Option<AppealKind>,
    pub category: Option<Uuid>,
    pub category_name: String,
    /// "Не знаю": the contact centre picks the subject.
    pub triage: bool,
    /// The messenger's references to the photos.
    pub photos: Vec<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

/// A conversation as stored between messages.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub step: Step,
    pub draft: Draft,
    /// The phone the account shared with the button (E.164): the next
    /// appeal's contact, and how "my appeals" finds cards.
    pub phone: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// A message to send (stored as JSON until it is sent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub text: String,
    pub keyboard: Keyboard,
}

/// What the citizen can press under a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "rows", rename_all = "snake_case")]
pub enum Keyboard {
    /// Nothing new (a messenger keeps or clears its own).
    None,
    /// The main menu.
    Menu,
    /// "Share my contact" (and back to the menu).
    Contact,
    /// "Send my location", "skip".
    Location,
    /// Choices, in rows.
    Choices(Vec<Vec<Choice>>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    pub label: String,
    /// What pressing it sends back ([`Input::Button`]): at most 64 bytes.
    pub data: String,
}

/// What the edge does for the machine; the answers that need its result
/// come from the functions below ([`registered`], [`appeals`], …).
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Register the draft as a card, channel `chatbot`, with `phone` as
    /// its contact.
    Register {
        draft: Box<Draft>,
        phone: String,
    },
    /// List the account's appeals (and those of `phone`).
    ListAppeals {
        phone: Option<String>,
    },
    /// Show the current works and announcements.
    ShowNews,
    Subscribe {
        street: String,
    },
    Unsubscribe,
    /// The citizen's answer to the executor, into the card's history.
    Answer {
        number: String,
        text: Option<String>,
        photo: Option<String>,
    },
    /// The citizen's verdict on the work, recorded as a call-back's is.
    Verify {
        number: String,
        solved: bool,
        rating: u8,
        reason: Option<String>,
    },
}

/// One turn's outcome.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Turn {
    pub replies: Vec<Reply>,
    pub effects: Vec<Effect>,
}

impl Turn {
    fn say(&mut self, text: impl Into<String>, keyboard: Keyboard) {
        self.replies.push(Reply {
            text: text.into(),
            keyboard,
        });
    }
}

/// Buttons' data.
pub mod data {
    pub const NEW: &str = "new";
    pub const MINE: &str = "mine";
    pub const NEWS: &str = "news";
    pub const SUBSCRIBE: &str = "subscribe";
    pub const UNSUBSCRIBE: &str = "unsubscribe";
    pub const MENU: &str = "menu";
    pub const CONTINUE: &str = "continue";
    pub const RESTART: &str = "restart";
    pub const CANCEL: &str = "cancel";
    pub const SKIP: &str = "skip";
    pub const NEXT: &str = "next";
    pub const REGISTER: &str = "register";
    pub const UNKNOWN: &str = "unknown";
    pub const BACK: &str = "back";
    pub const YES: &str = "yes";
    pub const NO: &str = "no";
    /// `kind:<kind>`, `sec:<code>`, `type:<uuid>`, `rate:<1-5>`,
    /// `reply:<number>`, `solved:<number>:yes|no`.
    pub const KIND: &str = "kind:";
    pub const SECTION: &str = "sec:";
    pub const TYPE: &str = "type:";
    pub const RATE: &str = "rate:";
    pub const REPLY: &str = "reply:";
    pub const SOLVED: &str = "solved:";
}

/// The kinds offered, in order, with their texts.
fn kinds(t: &Texts) -> [(AppealKind, &str); 6] {
    [
        (AppealKind::Statement, &t.kind_statement),
        (AppealKind::Complaint, &t.kind_complaint),
        (AppealKind::Proposal, &t.kind_proposal),
        (AppealKind::Remark, &t.kind_remark),
        (AppealKind::Request, &t.kind_request),
        (AppealKind::Demand, &t.kind_demand),
    ]
}

fn choice(label: &str, data: impl Into<String>) -> Choice {
    Choice {
        label: label.to_owned(),
        data: data.into(),
    }
}

/// Takes one input: the conversation moves on, and the turn says what to
/// answer and do.
pub fn handle(c: &mut Conversation, input: Input, ctx: &Context) -> Turn {
    let mut turn = Turn::default();
    if ctx.blocked {
        // Nothing is kept of a blocked account's draft (004 §4.4).
        c.step = Step::Menu;
        c.draft = Draft::default();
        turn.say(&ctx.texts.blocked, Keyboard::None);
        c.updated_at = Some(ctx.now);
        return turn;
    }
    let stale = c
        .updated_at
        .is_some_and(|at| ctx.now - at > ctx.limits.expire_after);
    if stale && c.step.drafting() {
        c.step = Step::Menu;
        c.draft = Draft::default();
        turn.say(&ctx.texts.expired, Keyboard::None);
    }
    c.updated_at = Some(ctx.now);
    // The menu's own buttons work from anywhere.
    if let Input::Button(b) = &input {
        if let Some(to) = menu_choice(b) {
            return open(c, to, ctx, turn);
        }
    }
    match (&c.step, input) {
        (Step::Resume { at }, Input::Button(b)) if b == data::CONTINUE => {
            let at = (**at).clone();
            c.step = at;
            prompt(c, ctx, &mut turn);
        }
        (Step::Resume { .. }, Input::Button(b)) if b == data::RESTART => {
            start_draft(c, ctx, &mut turn);
        }
        (step, Input::Start) if step.drafting() && !matches!(step, Step::Resume { .. }) => {
            c.step = Step::Resume {
                at: Box::new(step.clone()),
            };
            turn.say(
                &ctx.texts.resume,
                Keyboard::Choices(vec![vec![
                    choice(&ctx.texts.button_continue, data::CONTINUE),
                    choice(&ctx.texts.button_restart, data::RESTART),
                ]]),
            );
        }
        (_, Input::Start) => {
            c.step = Step::Menu;
            turn.say(&ctx.texts.welcome, Keyboard::None);
            turn.say(&ctx.texts.menu, Keyboard::Menu);
        }
        (_, Input::Button(b)) if b.starts_with(data::REPLY) => {
            let number = b[data::REPLY.len()..].to_owned();
            turn.say(
                fill(&ctx.texts.ask_reply, &[("number", &number)]),
                Keyboard::Choices(vec![vec![choice(&ctx.texts.button_cancel, data::MENU)]]),
            );
            c.step = Step::Reply { number };
        }
        (_, Input::Button(b)) if b.starts_with(data::SOLVED) => {
            match b[data::SOLVED.len()..].rsplit_once(':') {
                Some((number, answer @ (data::YES | data::NO))) => {
                    c.step = Step::Rating {
                        number: number.to_owned(),
                        solved: answer == data::YES,
                    };
                    prompt(c, ctx, &mut turn);
                }
                _ => {
                    turn.say(&ctx.texts.not_understood, Keyboard::None);
                    prompt(c, ctx, &mut turn);
                }
            }
        }
        (Step::Name, Input::Text(text)) => match split_name(&text) {
            Some((surname, first, patronymic)) => {
                c.draft.surname = surname;
                c.draft.first_name = first;
                c.draft.patronymic = patronymic;
                next(c, Step::Address, ctx, &mut turn);
            }
            None => turn.say(&ctx.texts.bad_name, Keyboard::None),
        },
        (Step::Address, Input::Text(text)) => match check_address(&text) {
            Some(address) => {
                c.draft.address = address;
                let to = if c.phone.is_some() {
                    Step::Essence
                } else {
                    Step::Contact
                };
                if let Some(phone) = &c.phone {
                    turn.say(
                        fill(&ctx.texts.contact_known, &[("phone", phone)]),
                        Keyboard::None,
                    );
                }
                next(c, to, ctx, &mut turn);
            }
            None => turn.say(&ctx.texts.bad_address, Keyboard::None),
        },
        (Step::Contact, Input::Contact { phone, own }) => {
            if !own {
                turn.say(&ctx.texts.contact_not_own, Keyboard::Contact);
            } else {
                match ctx.numbering.normalise(&phone) {
                    Some(e164) => {
                        c.phone = Some(e164.to_string());
                        next(c, Step::Essence, ctx, &mut turn);
                    }
                    None => turn.say(&ctx.texts.bad_contact, Keyboard::Contact),
                }
            }
        }
        (Step::Contact, Input::Text(_)) => turn.say(&ctx.texts.contact_typed, Keyboard::Contact),
        (Step::Essence, Input::Text(text)) => {
            let text = text.trim();
            let n = text.chars().count();
            if (10..=4000).contains(&n) {
                c.draft.essence = text.to_owned();
                next(c, Step::Kind, ctx, &mut turn);
            } else {
                turn.say(&ctx.texts.bad_essence, Keyboard::None);
            }
        }
        (Step::Kind, Input::Button(b)) if b.starts_with(data::KIND) => {
            match AppealKind::parse(&b[data::KIND.len()..]) {
                Some(kind) => {
                    c.draft.kind = Some(kind);
                    next(c, Step::Section, ctx, &mut turn);
                }
                None => prompt(c, ctx, &mut turn),
            }
        }
        (Step::Section | Step::Type { .. }, Input::Button(b)) if b == data::UNKNOWN => {
            c.draft.category = None;
            c.draft.category_name.clear();
            c.draft.triage = true;
            next(c, Step::Photos, ctx, &mut turn);
        }
        (Step::Section, Input::Button(b)) if b.starts_with(data::SECTION) => {
            let code = &b[data::SECTION.len()..];
            if ctx.catalogue.sections.iter().any(|s| s.code == code) {
                next(
                    c,
                    Step::Type {
                        section: code.to_owned(),
                    },
                    ctx,
                    &mut turn,
                );
            } else {
                prompt(c, ctx, &mut turn);
            }
        }
        (Step::Type { .. }, Input::Button(b)) if b == data::BACK => {
            next(c, Step::Section, ctx, &mut turn);
        }
        (Step::Type { section }, Input::Button(b)) if b.starts_with(data::TYPE) => {
            let found = Uuid::parse_str(&b[data::TYPE.len()..]).ok().and_then(|id| {
                ctx.catalogue
                    .sections
                    .iter()
                    .filter(|s| &s.code == section)
                    .flat_map(|s| s.types.iter())
                    .find(|(t, _)| *t == id)
            });
            match found {
                Some((id, name)) => {
                    c.draft.category = Some(*id);
                    c.draft.category_name = name.clone();
                    c.draft.triage = false;
                    next(c, Step::Photos, ctx, &mut turn);
                }
                None => prompt(c, ctx, &mut turn),
            }
        }
        (Step::Photos, Input::Photo { file }) => {
            let max = ctx.limits.max_photos;
            if c.draft.photos.len() >= max {
                turn.say(
                    fill(&ctx.texts.too_many_photos, &[("max", &max.to_string())]),
                    photos_keyboard(ctx.texts),
                );
            } else {
                c.draft.photos.push(file);
                turn.say(
                    fill(
                        &ctx.texts.photo_added,
                        &[
                            ("count", &c.draft.photos.len().to_string()),
                            ("max", &max.to_string()),
                        ],
                    ),
                    photos_keyboard(ctx.texts),
                );
            }
        }
        (Step::Photos, Input::Button(b)) if b == data::NEXT || b == data::SKIP => {
            next(c, Step::Location, ctx, &mut turn);
        }
        (
            Step::Location,
            Input::Location {
                latitude,
                longitude,
            },
        ) => {
            if (-90.0..=90.0).contains(&latitude) && (-180.0..=180.0).contains(&longitude) {
                c.draft.latitude = Some(latitude);
                c.draft.longitude = Some(longitude);
                next(c, Step::Confirm, ctx, &mut turn);
            } else {
                prompt(c, ctx, &mut turn);
            }
        }
        (Step::Location, Input::Button(b)) if b == data::SKIP => {
            next(c, Step::Confirm, ctx, &mut turn);
        }
        (Step::Confirm, Input::Button(b)) if b == data::REGISTER => {
            match &c.phone {
                Some(phone) => {
                    turn.effects.push(Effect::Register {
                        draft: Box::new(std::mem::take(&mut c.draft)),
                        phone: phone.clone(),
                    });
                    c.step = Step::Menu;
                }
                // The phone was forgotten meanwhile: ask for it again.
                None => next(c, Step::Contact, ctx, &mut turn),
            }
        }
        (Step::Confirm, Input::Button(b)) if b == data::RESTART => {
            start_draft(c, ctx, &mut turn);
        }
        (_, Input::Button(b)) if b == data::CANCEL && c.step.drafting() => {
            c.step = Step::Menu;
            c.draft = Draft::default();
            turn.say(&ctx.texts.cancelled, Keyboard::Menu);
        }
        (Step::Street, Input::Text(text)) => {
            let street = text.split_whitespace().collect::<Vec<_>>().join(" ");
            if (3..=100).contains(&street.chars().count()) {
                turn.effects.push(Effect::Subscribe {
                    street: street.clone(),
                });
                turn.say(
                    fill(&ctx.texts.subscribed, &[("street", &street)]),
                    Keyboard::Menu,
                );
                c.step = Step::Menu;
            } else {
                turn.say(&ctx.texts.bad_street, Keyboard::None);
            }
        }
        (Step::Reply { number }, Input::Text(text)) if !text.trim().is_empty() => {
            turn.effects.push(Effect::Answer {
                number: number.clone(),
                text: Some(text.trim().chars().take(4000).collect()),
                photo: None,
            });
            turn.say(&ctx.texts.replied, Keyboard::Menu);
            c.step = Step::Menu;
        }
        (Step::Reply { number }, Input::Photo { file }) => {
            turn.effects.push(Effect::Answer {
                number: number.clone(),
                text: None,
                photo: Some(file),
            });
            turn.say(&ctx.texts.replied, Keyboard::Menu);
            c.step = Step::Menu;
        }
        (Step::Rating { number, solved }, Input::Button(b)) if b.starts_with(data::RATE) => {
            match b[data::RATE.len()..].parse::<u8>() {
                Ok(rating @ 1..=5) if *solved => {
                    turn.effects.push(Effect::Verify {
                        number: number.clone(),
                        solved: true,
                        rating,
                        reason: None,
                    });
                    c.step = Step::Menu;
                }
                Ok(rating @ 1..=5) => {
                    c.step = Step::Why {
                        number: number.clone(),
                        rating,
                    };
                    prompt(c, ctx, &mut turn);
                }
                _ => prompt(c, ctx, &mut turn),
            }
        }
        (Step::Why { number, rating }, input @ (Input::Text(_) | Input::Button(_))) => {
            let reason = match input {
                Input::Text(t) if !t.trim().is_empty() => {
                    Some(t.trim().chars().take(1000).collect())
                }
                Input::Button(b) if b == data::SKIP => None,
                _ => {
                    prompt(c, ctx, &mut turn);
                    return turn;
                }
            };
            turn.effects.push(Effect::Verify {
                number: number.clone(),
                solved: false,
                rating: *rating,
                reason,
            });
            c.step = Step::Menu;
        }
        // Anything else: say so, and ask again.
        (_, _) => {
            turn.say(&ctx.texts.not_understood, Keyboard::None);
            prompt(c, ctx, &mut turn);
        }
    }
    turn
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MenuChoice {
    New,
    Mine,
    News,
    Subscribe,
    Unsubscribe,
    Menu,
}

fn menu_choice(b: &str) -> Option<MenuChoice> {
    Some(match b {
        data::NEW => MenuChoice::New,
        data::MINE => MenuChoice::Mine,
        data::NEWS => MenuChoice::News,
        data::SUBSCRIBE => MenuChoice::Subscribe,
        data::UNSUBSCRIBE => MenuChoice::Unsubscribe,
        data::MENU => MenuChoice::Menu,
        _ => return None,
    })
}

/// A menu entry chosen. A draft in progress is kept (resumable) unless a
/// new appeal is started over it.
fn open(c: &mut Conversation, to: MenuChoice, ctx: &Context, mut turn: Turn) -> Turn {
    match to {
        MenuChoice::New => {
            if c.step.drafting() && c.step != Step::Name {
                c.step = Step::Resume {
                    at: Box::new(match &c.step {
                        Step::Resume { at } => (**at).clone(),
                        other => other.clone(),
                    }),
                };
                turn.say(
                    &ctx.texts.resume,
                    Keyboard::Choices(vec![vec![
                        choice(&ctx.texts.button_continue, data::CONTINUE),
                        choice(&ctx.texts.button_restart, data::RESTART),
                    ]]),
                );
            } else {
                start_draft(c, ctx, &mut turn);
            }
        }
        MenuChoice::Mine => {
            turn.effects.push(Effect::ListAppeals {
                phone: c.phone.clone(),
            });
        }
        MenuChoice::News => turn.effects.push(Effect::ShowNews),
        MenuChoice::Subscribe => {
            c.step = Step::Street;
            turn.say(&ctx.texts.ask_street, Keyboard::None);
        }
        MenuChoice::Unsubscribe => {
            turn.effects.push(Effect::Unsubscribe);
            turn.say(&ctx.texts.unsubscribed, Keyboard::Menu);
        }
        MenuChoice::Menu => {
            if !c.step.drafting() {
                c.step = Step::Menu;
            }
            turn.say(&ctx.texts.menu, Keyboard::Menu);
        }
    }
    turn
}

fn start_draft(c: &mut Conversation, ctx: &Context, turn: &mut Turn) {
    c.draft = Draft::default();
    next(c, Step::Name, ctx, turn);
}

fn next(c: &mut Conversation, step: Step, ctx: &Context, turn: &mut Turn) {
    c.step = step;
    prompt(c, ctx, turn);
}

fn photos_keyboard(t: &Texts) -> Keyboard {
    Keyboard::Choices(vec![vec![
        choice(&t.button_next, data::NEXT),
        choice(&t.button_cancel, data::CANCEL),
    ]])
}

/// What the current step asks.
fn prompt(c: &mut Conversation, ctx: &Context, turn: &mut Turn) {
    let t = ctx.texts;
    let cancel = || vec![choice(&t.button_cancel, data::CANCEL)];
    match &c.step {
        Step::Menu => turn.say(&t.menu, Keyboard::Menu),
        Step::Name => turn.say(&t.ask_name, Keyboard::Choices(vec![cancel()])),
        Step::Address => turn.say(&t.ask_address, Keyboard::Choices(vec![cancel()])),
        Step::Contact => turn.say(&t.ask_contact, Keyboard::Contact),
        Step::Essence => turn.say(&t.ask_essence, Keyboard::Choices(vec![cancel()])),
        Step::Kind => {
            let rows = kinds(t)
                .chunks(3)
                .map(|row| {
                    row.iter()
                        .map(|(k, label)| choice(label, format!("{}{}", data::KIND, k.as_str())))
                        .collect()
                })
                .collect();
            turn.say(&t.ask_kind, Keyboard::Choices(rows));
        }
        Step::Section => {
            if ctx.catalogue.sections.is_empty() {
                turn.say(&t.no_classifier, Keyboard::Menu);
                c.step = Step::Menu;
                return;
            }
            let mut rows: Vec<Vec<Choice>> = ctx
                .catalogue
                .sections
                .iter()
                .map(|s| vec![choice(&s.name, format!("{}{}", data::SECTION, s.code))])
                .collect();
            rows.push(vec![choice(&t.button_unknown, data::UNKNOWN)]);
            rows.push(cancel());
            turn.say(&t.ask_section, Keyboard::Choices(rows));
        }
        Step::Type { section } => {
            let Some(s) = ctx.catalogue.sections.iter().find(|s| &s.code == section) else {
                c.step = Step::Section;
                return prompt(c, ctx, turn);
            };
            let mut rows: Vec<Vec<Choice>> = s
                .types
                .iter()
                .map(|(id, name)| vec![choice(name, format!("{}{}", data::TYPE, id))])
                .collect();
            rows.push(vec![
                choice(&t.button_back, data::BACK),
                choice(&t.button_unknown, data::UNKNOWN),
            ]);
            turn.say(
                fill(&t.ask_type, &[("section", &s.name)]),
                Keyboard::Choices(rows),
            );
        }
        Step::Photos => turn.say(
            fill(
                &t.ask_photos,
                &[("max", &ctx.limits.max_photos.to_string())],
            ),
            Keyboard::Choices(vec![vec![
                choice(&t.button_skip, data::SKIP),
                choice(&t.button_cancel, data::CANCEL),
            ]]),
        ),
        Step::Location => turn.say(&t.ask_location, Keyboard::Location),
        Step::Confirm => {
            let text = summary(t, &c.draft, c.phone.as_deref().unwrap_or(""));
            turn.say(
                text,
                Keyboard::Choices(vec![
                    vec![choice(&t.button_register, data::REGISTER)],
                    vec![
                        choice(&t.button_restart, data::RESTART),
                        choice(&t.button_cancel, data::CANCEL),
                    ],
                ]),
            );
        }
        Step::Resume { .. } => turn.say(
            &t.resume,
            Keyboard::Choices(vec![vec![
                choice(&t.button_continue, data::CONTINUE),
                choice(&t.button_restart, data::RESTART),
            ]]),
        ),
        Step::Street => turn.say(&t.ask_street, Keyboard::None),
        Step::Reply { number } => turn.say(
            fill(&t.ask_reply, &[("number", number)]),
            Keyboard::Choices(vec![vec![choice(&t.button_cancel, data::MENU)]]),
        ),
        Step::Rating { .. } => turn.say(
            &t.ask_rating,
            Keyboard::Choices(vec![
                (1..=5)
                    .map(|n| choice(&n.to_string(), format!("{}{n}", data::RATE)))
                    .collect(),
            ]),
        ),
        Step::Why { .. } => turn.say(
            &t.ask_why,
            Keyboard::Choices(vec![vec![choice(&t.button_skip, data::SKIP)]]),
        ),
    }
}

/// The draft as the citizen confirms it.
fn summary(t: &Texts, d: &Draft, phone: &str) -> String {
    let kind = kinds(t)
        .into_iter()
        .find(|(k, _)| Some(*k) == d.kind)
        .map_or(t.kind_statement.as_str(), |(_, label)| label);
    let category = if d.triage {
        t.summary_unknown_category.as_str()
    } else {
        d.category_name.as_str()
    };
    let mut extra = String::new();
    if !d.photos.is_empty() {
        extra.push_str(&fill(
            &t.summary_photos,
            &[("count", &d.photos.len().to_string())],
        ));
    }
    if let (Some(lat), Some(lon)) = (d.latitude, d.longitude) {
        extra.push_str(&fill(
            &t.summary_place,
            &[
                ("latitude", &format!("{lat:.5}")),
                ("longitude", &format!("{lon:.5}")),
            ],
        ));
    }
    let name = format!("{} {} {}", d.surname, d.first_name, d.patronymic);
    fill(
        &t.summary,
        &[
            ("name", &name),
            ("address", &d.address),
            ("phone", phone),
            ("kind", kind),
            ("category", category),
            ("essence", &d.essence),
            ("extra", &extra),
        ],
    )
}

/// Surname, first name, patronymic: three words of letters (with an
/// apostrophe or a hyphen inside), each capitalised as written.
fn split_name(text: &str) -> Option<(String, String, String)> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let [surname, first, patronymic] = words.as_slice() else {
        return None;
    };
    let word_ok = |w: &str| {
        let n = w.chars().count();
        (2..=60).contains(&n)
            && w.chars().next().is_some_and(char::is_alphabetic)
            && w.chars().last().is_some_and(char::is_alphabetic)
            && w.chars()
                .all(|c| c.is_alphabetic() || matches!(c, '\'' | '’' | 'ʼ' | '-'))
    };
    [surname, first, patronymic]
        .iter()
        .all(|w| word_ok(w))
        .then(|| {
            (
                surname.to_string(),
                first.to_string(),
                patronymic.to_string(),
            )
        })
}

/// An address: a street's name and a number, at most 200 characters.
fn check_address(text: &str) -> Option<String> {
    let address = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let n = address.chars().count();
    let letters = address.chars().filter(|c| c.is_alphabetic()).count();
    let digits = address.chars().any(|c| c.is_ascii_digit());
    ((5..=200).contains(&n) && letters >= 3 && digits).then_some(address)
}

/// The answer once the card is registered.
pub fn registered(t: &Texts, number: &str, executor: &str, deadline: &str) -> Reply {
    Reply {
        text: fill(
            &t.registered,
            &[
                ("number", number),
                ("executor", executor),
                ("deadline", deadline),
            ],
        ),
        keyboard: Keyboard::Menu,
    }
}

/// The answer when the card could not be registered (the store refused a
/// field, the limits): why, and back to the menu; the draft is gone.
pub fn not_registered(t: &Texts, reason: &str) -> Reply {
    Reply {
        text: fill(&t.not_registered, &[("reason", reason)]),
        keyboard: Keyboard::Menu,
    }
}

/// One of the citizen's appeals, as "my appeals" lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct AppealLine {
    pub number: String,
    pub status: String,
    pub category: String,
    pub deadline: String,
}

/// "My appeals": newest first, at most ten.
pub fn appeals(t: &Texts, lines: &[AppealLine]) -> Reply {
    if lines.is_empty() {
        return Reply {
            text: t.no_appeals.clone(),
            keyboard: Keyboard::Menu,
        };
    }
    let mut text = t.appeals_head.clone();
    for l in lines.iter().take(10) {
        text.push_str("\n\n");
        text.push_str(&fill(
            &t.appeal_line,
            &[
                ("number", &l.number),
                ("status", &l.status),
                ("category", &l.category),
                ("deadline", &l.deadline),
            ],
        ));
    }
    Reply {
        text,
        keyboard: Keyboard::Menu,
    }
}

/// An executor's question on card `number`, with the button to answer.
pub fn question(t: &Texts, number: &str, text: &str) -> Reply {
    Reply {
        text: fill(&t.question, &[("number", number), ("text", text)]),
        keyboard: Keyboard::Choices(vec![vec![choice(
            &t.button_reply,
            format!("{}{number}", data::REPLY),
        )]]),
    }
}

/// "Was it solved?" for card `number`, answered with its buttons.
pub fn verify_question(t: &Texts, number: &str) -> Reply {
    let answer = |label: &str, yes: &str| choice(label, format!("{}{number}:{yes}", data::SOLVED));
    Reply {
        text: fill(&t.verify_question, &[("number", number)]),
        keyboard: Keyboard::Choices(vec![vec![
            answer(&t.button_yes, data::YES),
            answer(&t.button_no, data::NO),
        ]]),
    }
}

/// A change of the card's state the citizen is told of.
pub fn status_changed(t: &Texts, number: &str, status: &str, extra: &str) -> Reply {
    Reply {
        text: fill(
            &t.status_changed,
            &[("number", number), ("status", status), ("extra", extra)],
        ),
        keyboard: Keyboard::None,
    }
}

#[cfg(test)]
#[path = "conversation_tests.rs"]
mod tests;
