//! The chat-bots (seed 004): citizens file appeals in Telegram and Viber,
//! follow them, answer the executor's questions, confirm the result and
//! read the residents' news. One conversation, as plain code
//! ([`conversation`]), in the city's words ([`texts`]), its state and
//! messages on file ([`store`]), driven by each messenger's adapter.

pub mod conversation;
pub mod routes;
pub mod service;
pub mod store;
pub mod telegram;
pub mod texts;
pub mod viber;

use crate::store::text_enum;

text_enum! {
    /// The messenger an account is on.
    Messenger {
        Telegram => "telegram",
        Viber => "viber",
    }
}

impl Messenger {
    /// How the block list keys its accounts ([`crate::contact::ContactKey`]).
    pub fn contact(self, account: &str) -> String {
        format!("{}:{account}", self.as_str())
    }
}

/// Why a message did not go out, and so what is done with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The messenger's rate limit (429): again after the wait it gave.
    #[error("too many requests: again in {0:?}")]
    RetryAfter(std::time::Duration),
    /// The network, a 5xx: again after a backoff.
    #[error("{0}")]
    Temporary(String),
    /// The citizen blocked the bot, or the account is gone: not again
    /// until the account writes.
    #[error("the account cannot be written to: {0}")]
    Unreachable(String),
    /// The request itself is wrong (a bad token, a bad chat id).
    #[error("{0}")]
    Permanent(String),
}

/// `[chatbot]`: the bots and how the conversation keeps.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChatbotSettings {
    /// A draft untouched this long is dropped.
    pub expire_hours: u32,
    /// Photos one appeal takes.
    pub max_photos: usize,
    /// How often the cards' steps and new works are looked for, to tell
    /// the citizens.
    pub push_interval_secs: u64,
    /// Appeals one account (or the phone it shared) may file in a day,
    /// as the web form's `appeals_per_contact_day`.
    pub appeals_per_day: u32,
    pub telegram: TelegramSettings,
    pub viber: ViberSettings,
}

impl Default for ChatbotSettings {
    fn default() -> Self {
        ChatbotSettings {
            expire_hours: 24,
            max_photos: 5,
            push_interval_secs: 15,
            appeals_per_day: 5,
            telegram: TelegramSettings::default(),
            viber: ViberSettings::default(),
        }
    }
}

/// `[chatbot.telegram]`: off without a token.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelegramSettings {
    /// The bot's token from @BotFather (never logged).
    #[serde(serialize_with = "crate::secret::hidden_opt")]
    pub token: Option<crate::secret::SecretString>,
    /// The public HTTPS address of `/chatbot/telegram` that Telegram posts
    /// updates to; empty: hotline asks for updates itself (long polling),
    /// for a deployment without a public address.
    pub webhook_url: String,
    /// The webhook's secret (`X-Telegram-Bot-Api-Secret-Token`): 1 to 256
    /// of `A-Z a-z 0-9 _ -`. Required with `webhook_url`.
    #[serde(serialize_with = "crate::secret::hidden_opt")]
    pub secret: Option<crate::secret::SecretString>,
    /// Another Bot API server (a local one, or a test's); empty: Telegram's.
    pub api_url: String,
}

/// `[chatbot.viber]`: off without a token. Viber sends callbacks to a
/// webhook only, so it needs a public HTTPS address.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ViberSettings {
    /// The bot's token from Viber's admin panel (never logged); it also
    /// signs every callback.
    #[serde(serialize_with = "crate::secret::hidden_opt")]
    pub token: Option<crate::secret::SecretString>,
    /// The public HTTPS address of `/chatbot/viber`.
    pub webhook_url: String,
    /// The sender's name on each message (1 to 28 characters).
    pub name: String,
    /// Another REST API address (a test's); empty: Viber's.
    pub api_url: String,
}

impl Default for ViberSettings {
    fn default() -> Self {
        ViberSettings {
            token: None,
            webhook_url: String::new(),
            name: "Гаряча лінія".into(),
            api_url: String::new(),
        }
    }
}

impl ChatbotSettings {
    /// The settings' own errors, said at start.
    pub fn check(&self) -> Result<(), String> {
        use crate::secret::ExposeSecret;
        if !(1..=20).contains(&self.max_photos) {
            return Err("[chatbot] max_photos: 1 to 20".into());
        }
        if self.appeals_per_day == 0 {
            return Err("[chatbot] appeals_per_day: at least 1".into());
        }
        if self.expire_hours == 0 {
            return Err("[chatbot] expire_hours: at least 1".into());
        }
        let t = &self.telegram;
        if !t.webhook_url.trim().is_empty() {
            let secret = t.secret.as_ref().map(|s| s.expose_secret().to_owned());
            let ok = secret.as_deref().is_some_and(|s| {
                (1..=256).contains(&s.len())
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            });
            if !ok {
                return Err(
                    "[chatbot.telegram] a webhook_url needs a secret: 1 to 256 of \
                     A-Z a-z 0-9 _ -"
                        .into(),
                );
            }
            if t.token.is_none() {
                return Err("[chatbot.telegram] webhook_url without a token".into());
            }
        }
        let v = &self.viber;
        if v.token.is_some() && v.webhook_url.trim().is_empty() {
            return Err(
                "[chatbot.viber] a token needs webhook_url: Viber sends to a webhook only".into(),
            );
        }
        if !(1..=28).contains(&v.name.trim().chars().count()) {
            return Err("[chatbot.viber] name: 1 to 28 characters".into());
        }
        Ok(())
    }
}
