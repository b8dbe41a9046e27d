//! The bot at work: each update read (a webhook's or a poll's) is run
//! through the conversation and its effects carried out (a card
//! registered with its photos, the citizen's appeals listed, an answer or
//! a verdict written into a card's history); the answers and everything
//! the citizens are to hear of unasked (a card's steps, an executor's
//! question, "was it solved?", new works on a followed street) wait in the
//! outbox, and one sender sends them in order per account, respecting the
//! messenger's limits and retrying on 429 and 5xx.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::{Notify, watch};
use tracing::{info, warn};
use uuid::Uuid;

use super::conversation::{self, AppealLine, Catalogue, Context, Draft, Effect, Limits, Reply};
use super::store::{Account, Outgoing};
use super::telegram::Telegram;
use super::texts::{Texts, fill};
use super::viber::Viber;
use super::{ChatbotSettings, Messenger, SendError};
use crate::api::console::Consoles;
use crate::appeal::attachments::{AttachmentFiles, Uploads};
use crate::appeal::lifecycle::{Action, Actor, EntryKind, Lifecycle};
use crate::appeal::lifecycle_store::Author;
use crate::appeal::store::AlsoWritten;
use crate::appeal::verification::{AttemptResult, Channel as AskedBy};
use crate::appeal::watcher::WatcherHandle;
use crate::appeal::{Attachment, Channel, NewAppeal};
use crate::phone::NumberingPlan;
use crate::store::{Store, StoreError, WorkAddress};

/// What the bot needs of the rest of the server.
#[derive(Clone)]
pub struct Chatbot {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    rules: Arc<Lifecycle>,
    numbering: NumberingPlan,
    texts: Texts,
    limits: Limits,
    files: AttachmentFiles,
    consoles: Consoles,
    watcher: WatcherHandle,
    telegram: Option<Telegram>,
    viber: Option<Viber>,
    settings: ChatbotSettings,
    /// Rung when a message is queued.
    bell: Notify,
}

/// The steps a citizen is told of; the rest are the staff's.
const TOLD: &[EntryKind] = &[
    EntryKind::Accepted,
    EntryKind::Classified,
    EntryKind::ExecutorChanged,
    EntryKind::Reassigned,
    EntryKind::Extended,
    EntryKind::MovedToLongTerm,
    EntryKind::ReturnedForRework,
    EntryKind::Closed,
    EntryKind::Confirmed,
    EntryKind::NotConfirmed,
    EntryKind::NotVerified,
    EntryKind::Dismissed,
    EntryKind::AskedCitizen,
    EntryKind::SentToVerification,
];

/// How far back steps and works are looked for.
const LOOK_BACK: TimeDelta = TimeDelta::days(7);
/// Attempts at a message before it is given up.
const MAX_ATTEMPTS: u32 = 12;
/// Between two messages to one chat (Telegram: about one a second).
const PER_CHAT: Duration = Duration::from_millis(1000);
/// Between any two messages (Telegram: about thirty a second).
const PER_BOT: Duration = Duration::from_millis(40);

/// The parts of the server the bot works with.
pub struct Parts {
    pub store: Store,
    pub rules: Arc<Lifecycle>,
    pub numbering: NumberingPlan,
    pub files: AttachmentFiles,
    pub consoles: Consoles,
    pub watcher: WatcherHandle,
}

impl Chatbot {
    /// The bot, if a messenger is configured; `scripts_dir` and
    /// `language` find its texts.
    pub fn new(
        settings: &ChatbotSettings,
        parts: Parts,
        scripts_dir: &std::path::Path,
        language: &str,
    ) -> Result<Option<Chatbot>, String> {
        use crate::secret::ExposeSecret;
        let telegram = match settings.telegram.token.as_ref() {
            Some(token) => Some(Telegram::new(
                token.expose_secret(),
                &settings.telegram.api_url,
            )?),
            None => None,
        };
        let viber = match settings.viber.token.as_ref() {
            Some(token) => Some(Viber::new(
                token.expose_secret(),
                &settings.viber.api_url,
                &settings.viber.name,
            )?),
            None => None,
        };
        if telegram.is_none() && viber.is_none() {
            return Ok(None);
        }
        let texts = Texts::load(scripts_dir, language)?;
        Ok(Some(Chatbot {
            inner: Arc::new(Inner {
                store: parts.store,
                rules: parts.rules,
                numbering: parts.numbering,
                texts,
                limits: Limits {
                    expire_after: TimeDelta::hours(i64::from(settings.expire_hours)),
                    max_photos: settings.max_photos,
                },
                files: parts.files,
                consoles: parts.consoles,
                watcher: parts.watcher,
                telegram,
                viber,
                settings: settings.clone(),
                bell: Notify::new(),
            }),
        }))
    }

    pub fn texts(&self) -> &Texts {
        &self.inner.texts
    }

    pub fn telegram(&self) -> Option<&Telegram> {
        self.inner.telegram.as_ref()
    }

    pub fn viber(&self) -> Option<&Viber> {
        self.inner.viber.as_ref()
    }

    pub fn settings(&self) -> &ChatbotSettings {
        &self.inner.settings
    }

    /// One Telegram update: answered (its button's spinner ended) and
    /// handled once.
    pub async fn telegram_update(
        &self,
        update: &teloxide_core::types::Update,
    ) -> Result<(), StoreError> {
        let Some(telegram) = &self.inner.telegram else {
            return Ok(());
        };
        let Some(incoming) = super::telegram::incoming(update, &self.inner.texts) else {
            return Ok(());
        };
        if let Some(query) = &incoming.callback {
            if let Err(e) = telegram.answer_callback(query).await {
                warn!(error = %e, "a button's answer failed");
            }
        }
        self.handle(
            Messenger::Telegram,
            &incoming.update,
            &incoming.account,
            &incoming.chat,
            incoming.input,
        )
        .await
    }

    /// One input of one account, handled once per `update`.
    pub async fn handle(
        &self,
        messenger: Messenger,
        update: &str,
        account: &str,
        chat: &str,
        input: conversation::Input,
    ) -> Result<(), StoreError> {
        let s = &self.inner;
        let now = Utc::now();
        if s.store.chatbot_seen(messenger, update).await? {
            return Ok(());
        }
        let mut acc = s
            .store
            .chatbot_account(messenger, account, chat, now)
            .await?;
        let blocked = self.blocked(&acc, now).await?;
        let catalogue = self.catalogue().await?;
        let ctx = Context {
            now,
            blocked,
            texts: &s.texts,
            catalogue: &catalogue,
            numbering: &s.numbering,
            limits: &s.limits,
        };
        let turn = conversation::handle(&mut acc.conversation, input, &ctx);
        let mut replies = turn.replies;
        for effect in turn.effects {
            replies.extend(self.perform(effect, &mut acc, now).await?);
        }
        s.store
            .chatbot_save_turn(&acc, Some(update), &replies, now)
            .await?;
        s.bell.notify_one();
        Ok(())
    }

    /// Whether the account, or the phone it shared, is blocked (each
    /// refusal counted on the block).
    async fn blocked(&self, acc: &Account, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let key = acc.messenger.contact(&acc.account);
        let phone = acc.conversation.phone.clone().unwrap_or_default();
        let typed = [&key, &phone];
        let found = self
            .inner
            .store
            .blocked_contact(&typed, &self.inner.numbering, now, "chatbot")
            .await?;
        if let Some(key) = &found {
            info!(contact = %key, "a chat-bot message turned away: the contact is blocked");
        }
        Ok(found.is_some())
    }

    /// The current classifier, as the bot offers it.
    async fn catalogue(&self) -> Result<Catalogue, StoreError> {
        let store = &self.inner.store;
        let Some(version) = store.current_classifier_version().await? else {
            return Ok(Catalogue::default());
        };
        let mut catalogue = Catalogue::default();
        for c in store.categories(version.number).await? {
            match catalogue.sections.last_mut() {
                Some(s) if s.code == c.section_code => s.types.push((c.id, c.type_name)),
                _ => catalogue.sections.push(conversation::Section {
                    code: c.section_code,
                    name: c.section_name,
                    types: vec![(c.id, c.type_name)],
                }),
            }
        }
        Ok(catalogue)
    }

    /// Carries out an effect; the answers it has.
    async fn perform(
        &self,
        effect: Effect,
        acc: &mut Account,
        now: DateTime<Utc>,
    ) -> Result<Vec<Reply>, StoreError> {
        let s = &self.inner;
        let t = &s.texts;
        Ok(match effect {
            Effect::Register { draft, phone } => {
                vec![self.register(*draft, &phone, acc, now).await?]
            }
            Effect::ListAppeals { phone } => {
                let found = s
                    .store
                    .chatbot_appeals(acc.messenger, &acc.account, phone.as_deref(), 10)
                    .await?;
                let lines: Vec<AppealLine> = found
                    .into_iter()
                    .map(|a| AppealLine {
                        number: a.number,
                        status: crate::public::status::status_text(a.status).0.to_owned(),
                        category: a.category,
                        deadline: self.city_time(a.deadline),
                    })
                    .collect();
                vec![conversation::appeals(t, &lines)]
            }
            Effect::ShowNews => vec![self.news(now).await?],
            Effect::Subscribe { street } => {
                acc.street = Some(street);
                Vec::new()
            }
            Effect::Unsubscribe => {
                acc.street = None;
                Vec::new()
            }
            Effect::Answer {
                number,
                text,
                photo,
            } => self.answer(acc, &number, text, photo, now).await?,
            Effect::Verify {
                number,
                solved,
                rating,
                reason,
            } => {
                let action = Action::Verify {
                    result: if solved {
                        AttemptResult::Confirmed
                    } else {
                        AttemptResult::NotConfirmed
                    },
                    rating: Some(rating),
                    reason,
                    channel: AskedBy::Chatbot,
                    call: None,
                };
                let done = self.step(acc, &number, action).await?;
                let text = if done { &t.verified } else { &t.verify_late };
                vec![Reply {
                    text: fill(text, &[("number", &number)]),
                    keyboard: conversation::Keyboard::Menu,
                }]
            }
        })
    }

    /// The card of the draft, with its photos; the answer with its number,
    /// or why not.
    async fn register(
        &self,
        draft: Draft,
        phone: &str,
        acc: &Account,
        now: DateTime<Utc>,
    ) -> Result<Reply, StoreError> {
        let s = &self.inner;
        let t = &s.texts;
        let appeal = NewAppeal {
            surname: draft.surname,
            first_name: draft.first_name,
            patronymic: draft.patronymic,
            address: draft.address,
            contact_phone: phone.to_owned(),
            essence: draft.essence,
            category_id: draft.category,
            channel: Some(Channel::Chatbot),
            kind: draft.kind,
            triage: draft.triage,
            latitude: draft.latitude,
            longitude: draft.longitude,
            ..NewAppeal::default()
        };
        let problems = appeal.check();
        if !problems.is_empty() {
            let why: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
            return Ok(conversation::not_registered(t, &why.join(" ")));
        }
        // As the web form limits a contact's appeals a day.
        let filed = s
            .store
            .chatbot_appeals_since(acc.messenger, &acc.account, phone, now - TimeDelta::days(1))
            .await?;
        if filed >= s.settings.appeals_per_day {
            info!(account = %crate::phone::Pii(acc.messenger.contact(&acc.account)), filed, "a chat-bot appeal refused: the day's limit");
            return Ok(conversation::not_registered(t, &t.too_many_appeals));
        }
        let mut uploads = Uploads::new(&s.files);
        let mut attachments = Vec::new();
        let mut lost = 0;
        for (n, file) in draft.photos.iter().enumerate() {
            match self
                .fetch_photo(acc.messenger, file, &mut uploads, now)
                .await
            {
                Ok(stored) => attachments.push(Attachment {
                    id: stored.id,
                    appeal_id: Uuid::nil(),
                    file_name: format!("photo-{}.{}", n + 1, stored.ext),
                    content_type: stored.file.content_type.to_owned(),
                    size_bytes: stored.file.size_bytes,
                    sha256: stored.file.sha256.clone(),
                    path: stored.file.path.clone(),
                    uploaded_at: now,
                }),
                Err(why) => {
                    lost += 1;
                    warn!(error = %why, "a chat-bot photo was not kept");
                }
            }
        }
        let also = AlsoWritten {
            chatbot: Some((acc.messenger.as_str(), &acc.account)),
            ..AlsoWritten::default()
        };
        let registered = s
            .store
            .register_appeal_with_files(
                &appeal,
                &s.rules,
                &Author::citizen("chatbot"),
                &attachments,
                &also,
                now,
            )
            .await;
        let registration = match registered {
            Ok(r) => r,
            Err(crate::appeal::RegisterError::Fields(problems)) => {
                uploads.discard().await;
                let why: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
                return Ok(conversation::not_registered(t, &why.join(" ")));
            }
            Err(crate::appeal::RegisterError::Store(e)) => {
                uploads.discard().await;
                return Err(e);
            }
        };
        uploads.keep();
        let record = &registration.record;
        s.consoles.card_changed(
            record.registration_number.as_str(),
            EntryKind::Registered,
            record.status,
            &registration.notices,
        );
        s.watcher.poke();
        info!(number = %record.registration_number, channel = "chatbot", photos = attachments.len(), "appeal filed through the chat-bot");
        let mut reply = conversation::registered(
            t,
            record.registration_number.as_str(),
            &registration.executor_name,
            &self.city_time(record.deadline),
        );
        if lost > 0 {
            reply.text.push('\n');
            reply
                .text
                .push_str(&fill(&t.photos_lost, &[("count", &lost.to_string())]));
        }
        Ok(reply)
    }

    /// A photo from the messenger, stored as a card's file would be.
    async fn fetch_photo(
        &self,
        messenger: Messenger,
        file: &str,
        uploads: &mut Uploads,
        now: DateTime<Utc>,
    ) -> Result<Fetched, String> {
        let id = Uuid::new_v4();
        let files = &self.inner.files;
        let stored = match (messenger, &self.inner.telegram, &self.inner.viber) {
            (Messenger::Telegram, Some(telegram), _) => {
                let stream = telegram.photo(file).await.map_err(|e| e.to_string())?;
                files
                    .store(uploads, stream, id, now)
                    .await
                    .map_err(|e| telegram.redact(&e.to_string()))?
            }
            (Messenger::Viber, _, Some(viber)) => {
                let stream = viber.picture(file).await.map_err(|e| e.to_string())?;
                files
                    .store(uploads, stream, id, now)
                    .await
                    .map_err(|e| e.without_url().to_string())?
            }
            _ => return Err(format!("{} is not configured", messenger.as_str())),
        }
        .map_err(|e| e.to_string())?;
        let ext = stored.path.rsplit('.').next().unwrap_or("jpg").to_owned();
        Ok(Fetched {
            id,
            file: stored,
            ext,
        })
    }

    /// The citizen's answer to the executor's question.
    async fn answer(
        &self,
        acc: &Account,
        number: &str,
        text: Option<String>,
        photo: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Reply>, StoreError> {
        let s = &self.inner;
        let late = || Reply {
            text: fill(&s.texts.answer_late, &[("number", number)]),
            keyboard: conversation::Keyboard::Menu,
        };
        let Some(card) = self.card_of(acc, number).await? else {
            return Ok(vec![late()]);
        };
        // The picture's row and file stay only if the step is taken: a card
        // changes only with an entry in its history.
        let mut files = Vec::new();
        let mut uploads = Uploads::new(&s.files);
        if let Some(photo) = photo {
            match self
                .fetch_photo(acc.messenger, &photo, &mut uploads, now)
                .await
            {
                Ok(f) => {
                    let attachment = Attachment {
                        id: f.id,
                        appeal_id: card,
                        file_name: format!("answer.{}", f.ext),
                        content_type: f.file.content_type.to_owned(),
                        size_bytes: f.file.size_bytes,
                        sha256: f.file.sha256.clone(),
                        path: f.file.path.clone(),
                        uploaded_at: now,
                    };
                    if let Err(e) = s.store.add_attachment(&attachment, None).await {
                        uploads.discard().await;
                        return Err(e);
                    }
                    files.push(f.id);
                }
                Err(why) => warn!(error = %why, "a chat-bot photo was not kept"),
            }
        }
        let action = Action::CitizenAnswer {
            text,
            files: files.clone(),
        };
        let taken = self.step_on(card, action).await;
        if matches!(taken, Ok(true)) {
            uploads.keep();
            return Ok(Vec::new());
        }
        for id in files {
            if let Err(e) = s.store.delete_attachment_row(id).await {
                warn!(error = %e, "a refused answer's picture row could not be removed");
            }
        }
        uploads.discard().await;
        taken.map(|_| vec![late()])
    }

    /// A step on the account's card `number` by the citizen (through the
    /// bot): whether it was taken. Another's card is as good as none.
    async fn step(&self, acc: &Account, number: &str, action: Action) -> Result<bool, StoreError> {
        match self.card_of(acc, number).await? {
            Some(card) => self.step_on(card, action).await,
            None => Ok(false),
        }
    }

    /// The account's card `number`, if it is the account's.
    async fn card_of(&self, acc: &Account, number: &str) -> Result<Option<Uuid>, StoreError> {
        self.inner
            .store
            .chatbot_card_of(
                acc.messenger,
                &acc.account,
                acc.conversation.phone.as_deref(),
                number,
            )
            .await
    }

    async fn step_on(&self, card: Uuid, action: Action) -> Result<bool, StoreError> {
        use crate::appeal::verification_store::StepError;
        let s = &self.inner;
        match s
            .store
            .take_step(
                &s.rules,
                card,
                action,
                &Actor::System,
                &Author::citizen("chatbot"),
            )
            .await
        {
            Ok(taken) => {
                crate::appeal::lifecycle_routes::tell_consoles(&s.consoles, &taken);
                s.watcher.poke();
                Ok(true)
            }
            Err(StepError::Store(e)) => Err(e),
            Err(e) => {
                info!(error = %e, "a citizen's step through the chat-bot was refused");
                Ok(false)
            }
        }
    }

    /// "До відома мешканців": the announcements in force and the works.
    async fn news(&self, now: DateTime<Utc>) -> Result<Reply, StoreError> {
        let s = &self.inner;
        let t = &s.texts;
        let mut parts = vec![t.news_head.clone()];
        for a in s.store.current_announcements(now).await?.iter().take(5) {
            parts.push(fill(
                &t.news_announcement,
                &[("title", &a.title), ("body", &a.body)],
            ));
        }
        for w in s.store.active_repair_works(now).await?.iter().take(10) {
            parts.push(self.work_text(&t.news_work, w, None));
        }
        let text = if parts.len() == 1 {
            t.news_none.clone()
        } else {
            parts.join("\n\n")
        };
        Ok(Reply {
            text,
            keyboard: conversation::Keyboard::Menu,
        })
    }

    fn work_text(
        &self,
        template: &str,
        w: &crate::store::RepairWork,
        street: Option<&str>,
    ) -> String {
        let places: Vec<String> = w.addresses.iter().map(WorkAddress::label).collect();
        let when = format!(
            "{} — {}",
            self.city_time(w.starts_at),
            self.city_time(w.expected_end)
        );
        fill(
            template,
            &[
                ("service", crate::public::works::service_uk(w.service)),
                ("description", &w.description),
                ("addresses", &places.join("; ")),
                ("when", &when),
                ("street", street.unwrap_or("")),
            ],
        )
    }

    fn city_time(&self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.inner.rules.calendar().time_zone())
            .format("%d.%m.%Y %H:%M")
            .to_string()
    }

    /// Queues what the citizens are to hear of unasked: their cards' steps
    /// (and questions, and "was it solved?"), and new works on the streets
    /// they follow. Each once: a message's `dedupe` names what it tells.
    pub async fn push(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let s = &self.inner;
        let t = &s.texts;
        let mut queued = 0;
        for step in s.store.chatbot_card_steps(now - LOOK_BACK, TOLD).await? {
            let reply = match step.kind {
                EntryKind::AskedCitizen => {
                    conversation::question(t, &step.number, step.text.as_deref().unwrap_or(""))
                }
                EntryKind::SentToVerification => conversation::verify_question(t, &step.number),
                kind => {
                    let Some(public) = crate::public::status::public_step(now, kind, &step.details)
                    else {
                        continue;
                    };
                    let mut extra = String::new();
                    if let Some(deadline) = public.deadline {
                        extra = format!(" ({})", self.city_time(deadline));
                    }
                    if let Some(planned) = public.planned {
                        extra = format!(" ({})", planned.format("%d.%m.%Y"));
                    }
                    conversation::status_changed(t, &step.number, public.text, &extra)
                }
            };
            let dedupe = format!("entry:{}", step.entry);
            if s.store
                .chatbot_queue(step.messenger, &step.account, &reply, Some(&dedupe), now)
                .await?
            {
                queued += 1;
            }
        }
        let followers = s.store.chatbot_followers().await?;
        if !followers.is_empty() {
            for work in s.store.active_repair_works(now).await? {
                if now - work.created_at > LOOK_BACK {
                    continue;
                }
                for (messenger, account, street) in &followers {
                    let on_street = work.addresses.iter().any(|a| {
                        WorkAddress {
                            street: a.street.clone(),
                            house: None,
                        }
                        .matches(street)
                    });
                    if !on_street {
                        continue;
                    }
                    let reply = Reply {
                        text: self.work_text(&t.new_work, &work, Some(street)),
                        keyboard: conversation::Keyboard::None,
                    };
                    let dedupe = format!("work:{}:{}:{account}", work.id, messenger.as_str());
                    if s.store
                        .chatbot_queue(*messenger, account, &reply, Some(&dedupe), now)
                        .await?
                    {
                        queued += 1;
                    }
                }
            }
        }
        if queued > 0 {
            s.bell.notify_one();
        }
        Ok(queued)
    }

    /// Sends what is due; how long until the next is due (at most `idle`).
    pub async fn send_due(
        &self,
        last: &mut HashMap<String, Instant>,
        idle: Duration,
    ) -> Result<Duration, StoreError> {
        let s = &self.inner;
        let now = Utc::now();
        let due = s.store.chatbot_due(now, 50).await?;
        let mut waited = false;
        for out in due {
            let key = format!("{}:{}", out.messenger.as_str(), out.chat);
            if last.get(&key).is_some_and(|at| at.elapsed() < PER_CHAT) {
                waited = true;
                continue;
            }
            let result = self.send(&out).await;
            last.insert(key, Instant::now());
            self.settle(&out, result).await?;
            tokio::time::sleep(PER_BOT).await;
        }
        if waited {
            return Ok(PER_CHAT / 4);
        }
        Ok(match s.store.chatbot_next_due().await? {
            Some(at) => (at - Utc::now()).to_std().unwrap_or_default().min(idle),
            None => idle,
        })
    }

    async fn send(&self, out: &Outgoing) -> Result<(), SendError> {
        match out.messenger {
            Messenger::Telegram => match &self.inner.telegram {
                Some(telegram) => {
                    telegram
                        .send(&out.chat, &out.reply, &self.inner.texts)
                        .await
                }
                None => Err(SendError::Permanent("Telegram is not configured".into())),
            },
            Messenger::Viber => match &self.inner.viber {
                Some(viber) => viber.send(&out.chat, &out.reply, &self.inner.texts).await,
                None => Err(SendError::Permanent("Viber is not configured".into())),
            },
        }
    }

    /// A message's outcome on file.
    async fn settle(
        &self,
        out: &Outgoing,
        result: Result<(), SendError>,
    ) -> Result<(), StoreError> {
        let store = &self.inner.store;
        let now = Utc::now();
        match result {
            Ok(()) => store.chatbot_sent(out.id, now).await,
            Err(SendError::RetryAfter(wait)) => {
                warn!(
                    messenger = out.messenger.as_str(),
                    wait_secs = wait.as_secs(),
                    "the messenger asks to slow down"
                );
                let wait = TimeDelta::from_std(wait).unwrap_or(TimeDelta::seconds(30));
                store
                    .chatbot_retry(out.id, now + wait, "429: too many requests")
                    .await
            }
            Err(SendError::Temporary(e)) if out.attempts + 1 < MAX_ATTEMPTS => {
                let backoff = TimeDelta::seconds(5 * 2_i64.pow(out.attempts.min(7)));
                warn!(messenger = out.messenger.as_str(), error = %e, attempt = out.attempts + 1, "a chat-bot message will be sent again");
                store.chatbot_retry(out.id, now + backoff, &e).await
            }
            Err(SendError::Unreachable(e)) => {
                info!(messenger = out.messenger.as_str(), error = %e, "a chat-bot account cannot be written to");
                store
                    .chatbot_set_reachable(out.messenger, &out.account, false)
                    .await?;
                store.chatbot_give_up(out.id, now, &e).await
            }
            Err(e) => {
                warn!(messenger = out.messenger.as_str(), error = %e, "a chat-bot message is given up");
                store.chatbot_give_up(out.id, now, &e.to_string()).await
            }
        }
    }

    /// Starts the bot's tasks: the sender, the pusher, and Telegram's
    /// updates (its webhook set, or long polling).
    pub fn start(&self, stop: watch::Receiver<bool>) {
        tokio::spawn(self.clone().run_sender(stop.clone()));
        tokio::spawn(self.clone().run_pusher(stop.clone()));
        let webhook = self.inner.settings.telegram.webhook_url.trim().to_owned();
        match (&self.inner.telegram, webhook.is_empty()) {
            (Some(_), true) => {
                tokio::spawn(self.clone().run_polling(stop));
            }
            (Some(telegram), false) => {
                use crate::secret::ExposeSecret;
                let telegram = telegram.clone();
                let secret = self
                    .inner
                    .settings
                    .telegram
                    .secret
                    .as_ref()
                    .map(|s| s.expose_secret().to_owned())
                    .unwrap_or_default();
                tokio::spawn(async move {
                    match telegram.set_webhook(&webhook, &secret).await {
                        Ok(()) => info!(url = %webhook, "Telegram's webhook is set"),
                        Err(e) => warn!(error = %e, "Telegram's webhook could not be set"),
                    }
                });
            }
            (None, _) => {}
        }
        if let Some(viber) = self.inner.viber.clone() {
            let url = self.inner.settings.viber.webhook_url.trim().to_owned();
            tokio::spawn(async move {
                // Viber checks the address at once: the server is up by now.
                match viber.set_webhook(&url).await {
                    Ok(()) => info!(url = %url, "Viber's webhook is set"),
                    Err(e) => warn!(error = %e, "Viber's webhook could not be set"),
                }
            });
        }
    }

    /// One Viber callback (its signature checked by the caller): what to
    /// answer in the callback's body, if anything (the greeting of a
    /// citizen who opened the chat).
    pub async fn viber_event(
        &self,
        event: super::viber::Event,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        use super::viber::Event;
        let s = &self.inner;
        let Some(viber) = &s.viber else {
            return Ok(None);
        };
        match event {
            Event::Webhook | Event::Other => Ok(None),
            // Not subscribed yet: only the callback's answer reaches them.
            Event::Opened { .. } => {
                let hello = Reply {
                    text: format!("{}\n\n{}", s.texts.welcome, s.texts.menu),
                    keyboard: conversation::Keyboard::Menu,
                };
                Ok(Some(viber.message(None, &hello, &s.texts)))
            }
            Event::Subscribed { account } => {
                s.store
                    .chatbot_set_reachable(Messenger::Viber, &account, true)
                    .await?;
                Ok(None)
            }
            Event::Unsubscribed { account } => {
                s.store
                    .chatbot_set_reachable(Messenger::Viber, &account, false)
                    .await?;
                Ok(None)
            }
            Event::Message(m) => {
                self.handle(Messenger::Viber, &m.update, &m.account, &m.account, m.input)
                    .await?;
                Ok(None)
            }
        }
    }

    /// Whether `secret` is the Telegram webhook's (compared in constant
    /// time).
    pub fn telegram_secret_ok(&self, secret: &[u8]) -> bool {
        use crate::secret::ExposeSecret;
        let Some(ours) = self.inner.settings.telegram.secret.as_ref() else {
            return false;
        };
        let ours = ours.expose_secret().as_bytes();
        ours.len() == secret.len()
            && ours
                .iter()
                .zip(secret)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }

    /// The sender: sends as messages come due, until `stop`.
    pub async fn run_sender(self, mut stop: watch::Receiver<bool>) {
        let mut last = HashMap::new();
        let idle = Duration::from_secs(30);
        loop {
            let wait = match self.send_due(&mut last, idle).await {
                Ok(wait) => wait,
                Err(e) => {
                    warn!(error = %e, "the chat-bot's outbox cannot be read");
                    Duration::from_secs(5)
                }
            };
            tokio::select! {
                _ = self.inner.bell.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// The pusher: looks for steps and works to tell of, until `stop`.
    pub async fn run_pusher(self, mut stop: watch::Receiver<bool>) {
        let every = Duration::from_secs(self.inner.settings.push_interval_secs.max(1));
        loop {
            if let Err(e) = self.push(Utc::now()).await {
                warn!(error = %e, "the chat-bot's news cannot be gathered");
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// Telegram's long polling, for a deployment without a public address:
    /// updates from where the last run stopped, until `stop`.
    pub async fn run_polling(self, mut stop: watch::Receiver<bool>) {
        let Some(telegram) = self.inner.telegram.clone() else {
            return;
        };
        if let Err(e) = telegram.delete_webhook().await {
            warn!(error = %e, "Telegram's webhook could not be removed; polling anyway");
        }
        const OFFSET: &str = "telegram_offset";
        let mut offset: i32 = match self.inner.store.chatbot_state(OFFSET).await {
            Ok(v) => v.and_then(|v| v.parse().ok()).unwrap_or(0),
            Err(_) => 0,
        };
        let mut failures = 0u32;
        loop {
            let polled = tokio::select! {
                r = telegram.poll(offset, Duration::from_secs(25)) => r,
                _ = stop.changed() => return,
            };
            match polled {
                Ok(updates) => {
                    failures = 0;
                    for update in updates {
                        if let Err(e) = self.telegram_update(&update).await {
                            // Not taken: asked for again on the next poll.
                            warn!(error = %e, "a Telegram update could not be handled");
                            break;
                        }
                        offset = i32::try_from(update.id.0)
                            .unwrap_or(i32::MAX)
                            .saturating_add(1);
                        if let Err(e) = self
                            .inner
                            .store
                            .set_chatbot_state(OFFSET, &offset.to_string())
                            .await
                        {
                            warn!(error = %e, "Telegram's offset could not be kept");
                        }
                    }
                }
                Err(e) => {
                    failures += 1;
                    let wait = match e {
                        SendError::RetryAfter(wait) => wait,
                        _ => Duration::from_secs(u64::from(failures.min(6)) * 5),
                    };
                    warn!(error = %e, "Telegram's updates could not be read");
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = stop.changed() => return,
                    }
                }
            }
        }
    }
}

/// A photo stored for a card.
struct Fetched {
    id: Uuid,
    file: crate::appeal::attachments::StoredFile,
    ext: String,
}
