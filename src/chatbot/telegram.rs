//! Telegram's side of the bot, through teloxide's client of the Bot API:
//! what an update says ([`incoming`]), messages out with their keyboards
//! ([`Telegram::send`]), photos in ([`Telegram::photo`]), and updates by
//! long polling ([`Telegram::poll`]) or by a webhook whose secret header is
//! checked at the HTTP edge. `[chatbot.telegram] api_url` points the
//! client at another server (the tests' stand-in of Telegram's).

use std::time::Duration;

use teloxide_core::net::Download;
use teloxide_core::payloads::{GetUpdatesSetters, SendMessageSetters, SetWebhookSetters};
use teloxide_core::requests::Requester;
use teloxide_core::types::{
    AllowedUpdate, ButtonRequest, ChatId, FileId, InlineKeyboardButton, InlineKeyboardMarkup,
    KeyboardButton, KeyboardMarkup, ReplyMarkup, Update, UpdateKind,
};
use teloxide_core::{ApiError, Bot, RequestError};

use super::SendError;
use super::conversation::{Input, Keyboard, Reply, data};
use super::texts::Texts;

/// An update the bot reads: who, where, what.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    /// Telegram's `update_id` (handled once).
    pub update: String,
    /// The user (`from.id`).
    pub account: String,
    /// The chat to answer in (`chat.id`).
    pub chat: String,
    pub input: Input,
    /// A pressed button's query, to answer (the client shows a spinner
    /// until then).
    pub callback: Option<String>,
}

/// The client of one bot.
#[derive(Clone)]
pub struct Telegram {
    bot: Bot,
    /// To take out of error texts: a request's address holds it.
    token: String,
}

impl Telegram {
    /// `api_url`: empty for Telegram's own.
    pub fn new(token: &str, api_url: &str) -> Result<Telegram, String> {
        let mut bot = Bot::new(token);
        if !api_url.trim().is_empty() {
            let url = reqwest::Url::parse(api_url.trim())
                .map_err(|e| format!("[chatbot.telegram] api_url {api_url:?}: {e}"))?;
            bot = bot.set_api_url(url);
        }
        Ok(Telegram {
            bot,
            token: token.to_owned(),
        })
    }

    /// Updates after `offset`, waiting up to `wait` for one.
    pub async fn poll(&self, offset: i32, wait: Duration) -> Result<Vec<Update>, SendError> {
        self.bot
            .get_updates()
            .offset(offset)
            .timeout(u32::try_from(wait.as_secs()).unwrap_or(50))
            .allowed_updates([AllowedUpdate::Message, AllowedUpdate::CallbackQuery])
            .await
            .map_err(|e| self.classify(e))
    }

    /// Points Telegram's updates at `url`, with `secret` in each request's
    /// `X-Telegram-Bot-Api-Secret-Token`.
    pub async fn set_webhook(&self, url: &str, secret: &str) -> Result<(), SendError> {
        let url = reqwest::Url::parse(url).map_err(|e| SendError::Permanent(e.to_string()))?;
        self.bot
            .set_webhook(url)
            .secret_token(secret.to_owned())
            .allowed_updates([AllowedUpdate::Message, AllowedUpdate::CallbackQuery])
            .await
            .map(drop)
            .map_err(|e| self.classify(e))
    }

    /// No webhook: updates by long polling.
    pub async fn delete_webhook(&self) -> Result<(), SendError> {
        self.bot
            .delete_webhook()
            .await
            .map(drop)
            .map_err(|e| self.classify(e))
    }

    /// Sends `reply` to `chat`, its keyboard in Telegram's terms.
    pub async fn send(&self, chat: &str, reply: &Reply, texts: &Texts) -> Result<(), SendError> {
        let chat: i64 = chat
            .parse()
            .map_err(|_| SendError::Permanent(format!("chat id {chat:?}")))?;
        let mut request = self.bot.send_message(ChatId(chat), &reply.text);
        if let Some(markup) = markup(&reply.keyboard, texts) {
            request = request.reply_markup(markup);
        }
        request.await.map(drop).map_err(|e| self.classify(e))
    }

    /// Ends a pressed button's spinner.
    pub async fn answer_callback(&self, id: &str) -> Result<(), SendError> {
        self.bot
            .answer_callback_query(teloxide_core::types::CallbackQueryId(id.to_owned()))
            .await
            .map(drop)
            .map_err(|e| self.classify(e))
    }

    /// A photo's bytes as a stream (`getFile`, then the file's address).
    pub async fn photo(
        &self,
        file: &str,
    ) -> Result<
        impl futures_util::Stream<Item = Result<bytes::Bytes, reqwest::Error>> + Unpin + use<>,
        SendError,
    > {
        let found = self
            .bot
            .get_file(FileId(file.to_owned()))
            .await
            .map_err(|e| self.classify(e))?;
        Ok(Box::pin(self.bot.download_file_stream(&found.path)))
    }
}

impl Telegram {
    /// What a failure means for a message: wait and send again, or give
    /// up. The token never reaches the text (logs, the outbox's
    /// `last_error`).
    fn classify(&self, e: RequestError) -> SendError {
        let text = self.redact(&e.to_string());
        classify(e, text)
    }

    /// `text` without the bot's token.
    pub fn redact(&self, text: &str) -> String {
        if self.token.is_empty() {
            text.to_owned()
        } else {
            text.replace(&self.token, "<token>")
        }
    }
}

fn classify(e: RequestError, text: String) -> SendError {
    match e {
        RequestError::RetryAfter(wait) => SendError::RetryAfter(wait.duration()),
        RequestError::Api(
            ApiError::BotBlocked
            | ApiError::UserDeactivated
            | ApiError::ChatNotFound
            | ApiError::BotKicked
            | ApiError::CantInitiateConversation
            | ApiError::CantTalkWithBots,
        ) => SendError::Unreachable(text),
        RequestError::Api(ApiError::InvalidToken) => SendError::Permanent(text),
        RequestError::Api(_)
        | RequestError::MigrateToChatId(_)
        | RequestError::Network(_)
        | RequestError::InvalidJson { .. }
        | RequestError::Io(_) => SendError::Temporary(text),
    }
}

/// The keyboard as Telegram draws it: choices as buttons under the
/// message (their data comes back as a callback); the phone and the place
/// as the keyboard's own buttons, which only Telegram's reply keyboard can
/// ask for.
fn markup(keyboard: &Keyboard, t: &Texts) -> Option<ReplyMarkup> {
    let inline = |rows: Vec<Vec<(String, String)>>| {
        ReplyMarkup::InlineKeyboard(InlineKeyboardMarkup::new(rows.into_iter().map(|row| {
            row.into_iter()
                .map(|(label, data)| InlineKeyboardButton::callback(label, data))
                .collect::<Vec<_>>()
        })))
    };
    let own = |first: KeyboardButton, second: &str| {
        ReplyMarkup::Keyboard(
            KeyboardMarkup::new(vec![vec![first], vec![KeyboardButton::new(second)]])
                .resize_keyboard()
                .one_time_keyboard(),
        )
    };
    match keyboard {
        Keyboard::None => None,
        Keyboard::Menu => Some(inline(menu_rows(t))),
        Keyboard::Choices(rows) => Some(inline(
            rows.iter()
                .map(|row| {
                    row.iter()
                        .map(|c| (c.label.clone(), c.data.clone()))
                        .collect()
                })
                .collect(),
        )),
        Keyboard::Contact => Some(own(
            KeyboardButton::new(&t.button_share_contact).request(ButtonRequest::Contact),
            &t.button_cancel,
        )),
        Keyboard::Location => Some(own(
            KeyboardButton::new(&t.button_share_location).request(ButtonRequest::Location),
            &t.button_skip,
        )),
    }
}

/// The main menu's buttons, two rows and a third.
pub fn menu_rows(t: &Texts) -> Vec<Vec<(String, String)>> {
    let b = |label: &str, data: &str| (label.to_owned(), data.to_owned());
    vec![
        vec![b(&t.button_new, data::NEW)],
        vec![b(&t.button_mine, data::MINE), b(&t.button_news, data::NEWS)],
        vec![b(&t.button_subscribe, data::SUBSCRIBE)],
    ]
}

/// What an update says, if it is one the bot reads (a private chat's
/// message or a button pressed).
pub fn incoming(update: &Update, texts: &Texts) -> Option<Incoming> {
    let id = update.id.0.to_string();
    match &update.kind {
        UpdateKind::Message(m) => {
            let from = m.from.as_ref()?;
            if from.is_bot || !m.chat.is_private() {
                return None;
            }
            let input = if let Some(c) = m.contact() {
                Input::Contact {
                    phone: c.phone_number.clone(),
                    own: c.user_id == Some(from.id),
                }
            } else if let Some(l) = m.location() {
                Input::Location {
                    latitude: l.latitude,
                    longitude: l.longitude,
                }
            } else if let Some(sizes) = m.photo() {
                // The largest size Telegram made.
                let best = sizes
                    .iter()
                    .max_by_key(|s| u64::from(s.width) * u64::from(s.height))?;
                Input::Photo {
                    file: best.file.id.0.clone(),
                }
            } else if let Some(text) = m.text() {
                typed(text, texts)
            } else {
                Input::Other
            };
            Some(Incoming {
                update: id,
                account: from.id.0.to_string(),
                chat: m.chat.id.0.to_string(),
                input,
                callback: None,
            })
        }
        UpdateKind::CallbackQuery(q) => {
            let chat = q
                .message
                .as_ref()
                .map(|m| m.chat().id.0.to_string())
                .unwrap_or_else(|| q.from.id.0.to_string());
            Some(Incoming {
                update: id,
                account: q.from.id.0.to_string(),
                chat,
                input: q
                    .data
                    .as_deref()
                    .map_or(Input::Other, |d| Input::Button(d.to_owned())),
                callback: Some(q.id.0.clone()),
            })
        }
        _ => None,
    }
}

/// A typed text: a command, a reply keyboard's own button, or words.
fn typed(text: &str, t: &Texts) -> Input {
    let text = text.trim();
    match text.split_whitespace().next() {
        Some("/start") => return Input::Start,
        Some("/menu") => return Input::Button(data::MENU.into()),
        _ => {}
    }
    if text == t.button_cancel {
        Input::Button(data::CANCEL.into())
    } else if text == t.button_skip {
        Input::Button(data::SKIP.into())
    } else {
        Input::Text(text.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts() -> Texts {
        crate::chatbot::texts::shipped()
    }

    /// As the client reads an answer: from its text.
    fn update(json: serde_json::Value) -> Update {
        serde_json::from_str(&json.to_string()).expect("an update as Telegram sends it")
    }

    /// The Bot API's shapes (core.telegram.org/bots/api#update): a private
    /// chat's contact, location, photo and text, and a button pressed.
    #[test]
    fn updates_as_telegram_sends_them_become_inputs() {
        let t = texts();
        let from = serde_json::json!({"id": 5551234, "is_bot": false, "first_name": "Ірина", "language_code": "uk"});
        let chat = serde_json::json!({"id": 5551234, "type": "private", "first_name": "Ірина"});
        let message = |extra: serde_json::Value| {
            let mut m = serde_json::json!({"message_id": 7, "date": 1765094400, "from": from, "chat": chat});
            m.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            update(serde_json::json!({"update_id": 900, "message": m}))
        };
        let own = message(
            serde_json::json!({"contact": {"phone_number": "380671234567", "first_name": "Ірина", "user_id": 5551234}}),
        );
        let got = incoming(&own, &t).unwrap();
        assert_eq!(
            (got.update.as_str(), got.account.as_str(), got.chat.as_str()),
            ("900", "5551234", "5551234")
        );
        assert_eq!(
            got.input,
            Input::Contact {
                phone: "380671234567".into(),
                own: true
            }
        );
        let other = message(
            serde_json::json!({"contact": {"phone_number": "380501112233", "first_name": "Сусід", "user_id": 42}}),
        );
        assert_eq!(
            incoming(&other, &t).unwrap().input,
            Input::Contact {
                phone: "380501112233".into(),
                own: false
            }
        );
        let place =
            message(serde_json::json!({"location": {"latitude": 47.8388, "longitude": 35.1396}}));
        assert_eq!(
            incoming(&place, &t).unwrap().input,
            Input::Location {
                latitude: 47.8388,
                longitude: 35.1396
            }
        );
        let photo = message(serde_json::json!({"photo": [
            {"file_id": "small", "file_unique_id": "s", "width": 90, "height": 60, "file_size": 1200},
            {"file_id": "large", "file_unique_id": "l", "width": 1280, "height": 853, "file_size": 120000}
        ]}));
        assert_eq!(
            incoming(&photo, &t).unwrap().input,
            Input::Photo {
                file: "large".into()
            }
        );
        let start = message(
            serde_json::json!({"text": "/start", "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}),
        );
        assert_eq!(incoming(&start, &t).unwrap().input, Input::Start);
        let skip = message(serde_json::json!({"text": t.button_skip}));
        assert_eq!(
            incoming(&skip, &t).unwrap().input,
            Input::Button(data::SKIP.into())
        );
        let pressed = update(serde_json::json!({"update_id": 901, "callback_query": {
            "id": "4382", "from": from, "chat_instance": "-77", "data": "kind:complaint",
            "message": {"message_id": 8, "date": 1765094400, "chat": chat, "text": "Що це за звернення?"}
        }}));
        let got = incoming(&pressed, &t).unwrap();
        assert_eq!(got.input, Input::Button("kind:complaint".into()));
        assert_eq!(got.callback.as_deref(), Some("4382"));
        // A group's message is not the bot's business.
        let group = update(serde_json::json!({"update_id": 902, "message": {
            "message_id": 9, "date": 1765094400, "from": from,
            "chat": {"id": -100, "type": "group", "title": "Будинок 12"}, "text": "привіт"}}));
        assert_eq!(incoming(&group, &t), None);
    }

    #[test]
    fn keyboards_become_telegrams_markup() {
        let t = texts();
        let json = |k: &Keyboard| serde_json::to_value(markup(k, &t)).unwrap();
        let contact = json(&Keyboard::Contact);
        assert_eq!(contact["keyboard"][0][0]["request_contact"], true);
        assert_eq!(contact["one_time_keyboard"], true);
        let place = json(&Keyboard::Location);
        assert_eq!(place["keyboard"][0][0]["request_location"], true);
        let menu = json(&Keyboard::Menu);
        assert_eq!(menu["inline_keyboard"][0][0]["callback_data"], data::NEW);
        assert_eq!(markup(&Keyboard::None, &t), None);
    }
}
