//! Viber's side of the bot, over its REST Bot API (no Rust crate keeps
//! it): callbacks in, each signed (`X-Viber-Content-Signature`, the
//! body's HMAC-SHA256 under the bot's token, checked at the HTTP edge);
//! messages out (`send_message`) with Viber's keyboards; pictures fetched
//! from the address the message carries. Viber has webhooks only.

use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;

use super::SendError;
use super::conversation::{Input, Keyboard, Reply, data};
use super::texts::Texts;

/// A reply button's text starts so: what the citizen types never does.
const BUTTON: &str = "btn:";

/// The client of one bot.
#[derive(Clone)]
pub struct Viber {
    client: reqwest::Client,
    token: String,
    api: String,
    /// The sender's name on each message (at most 28 characters).
    name: String,
}

/// What a callback says that the bot acts on.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Viber checks the webhook when it is set.
    Webhook,
    /// The citizen opened the chat (not yet subscribed): greeted in the
    /// callback's answer.
    Opened {
        account: String,
    },
    Message(Incoming),
    Subscribed {
        account: String,
    },
    Unsubscribed {
        account: String,
    },
    /// Delivery reports and the like.
    Other,
}

/// A citizen's message.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    /// Viber's `message_token` (handled once).
    pub update: String,
    pub account: String,
    pub input: Input,
}

#[derive(Deserialize)]
struct Callback {
    event: String,
    #[serde(default)]
    message_token: Option<serde_json::Number>,
    #[serde(default)]
    sender: Option<Person>,
    #[serde(default)]
    user: Option<Person>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    message: Option<Message>,
}

#[derive(Deserialize)]
struct Person {
    id: String,
}

#[derive(Deserialize)]
struct Message {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    media: Option<String>,
    #[serde(default)]
    location: Option<Location>,
    #[serde(default)]
    contact: Option<Contact>,
}

#[derive(Deserialize)]
struct Location {
    lat: f64,
    lon: f64,
}

#[derive(Deserialize)]
struct Contact {
    phone_number: String,
}

impl Viber {
    /// `api`: empty for Viber's own (`https://chatapi.viber.com/pa/`).
    pub fn new(token: &str, api: &str, name: &str) -> Result<Viber, String> {
        let api = match api.trim() {
            "" => "https://chatapi.viber.com/pa".to_owned(),
            other => other.trim_end_matches('/').to_owned(),
        };
        reqwest::Url::parse(&api).map_err(|e| format!("[chatbot.viber] api_url {api:?}: {e}"))?;
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Viber {
            client,
            token: token.to_owned(),
            api,
            name: name.chars().take(28).collect(),
        })
    }

    /// Whether `signature` (hex) is the body's HMAC-SHA256 under the token.
    pub fn signed(&self, body: &[u8], signature: &str) -> bool {
        let Ok(given) = hex::decode(signature.trim()) else {
            return false;
        };
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(self.token.as_bytes()) else {
            return false;
        };
        mac.update(body);
        mac.verify_slice(&given).is_ok()
    }

    async fn call(&self, method: &str, body: &Value) -> Result<Value, SendError> {
        let response = self
            .client
            .post(format!("{}/{method}", self.api))
            .header("X-Viber-Auth-Token", &self.token)
            .json(body)
            .send()
            .await
            .map_err(|e| SendError::Temporary(e.without_url().to_string()))?;
        let status = response.status();
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(SendError::RetryAfter(std::time::Duration::from_secs(30)));
        }
        if status.is_server_error() {
            return Err(SendError::Temporary(format!("{method}: HTTP {status}")));
        }
        let answer: Value = response
            .json()
            .await
            .map_err(|e| SendError::Temporary(e.without_url().to_string()))?;
        let code = answer["status"].as_i64().unwrap_or(-1);
        let text = answer["status_message"].as_str().unwrap_or("").to_owned();
        match code {
            0 => Ok(answer),
            // receiverNotRegistered, receiverNotSubscribed.
            5 | 6 => Err(SendError::Unreachable(format!("{method}: {code} {text}"))),
            // tooManyRequests: Viber gives no wait; the growing backoff.
            12 => Err(SendError::Temporary(format!("{method}: {code} {text}"))),
            // invalidAuthToken, badData, missingData, …: not again.
            1..=4 | 7..=11 | 13..=24 => {
                Err(SendError::Permanent(format!("{method}: {code} {text}")))
            }
            _ => Err(SendError::Temporary(format!("{method}: {code} {text}"))),
        }
    }

    /// Points the callbacks at `url`.
    pub async fn set_webhook(&self, url: &str) -> Result<(), SendError> {
        self.call(
            "set_webhook",
            &json!({
                "url": url,
                "event_types": ["delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started"],
                "send_name": false,
                "send_photo": false,
            }),
        )
        .await
        .map(drop)
    }

    /// Sends `reply` to `receiver`.
    pub async fn send(
        &self,
        receiver: &str,
        reply: &Reply,
        texts: &Texts,
    ) -> Result<(), SendError> {
        self.call("send_message", &self.message(Some(receiver), reply, texts))
            .await
            .map(drop)
    }

    /// A message as Viber takes it: to `receiver`, or (none) as the
    /// answer to a `conversation_started` callback.
    pub fn message(&self, receiver: Option<&str>, reply: &Reply, texts: &Texts) -> Value {
        let mut m = json!({
            "sender": {"name": self.name},
            "type": "text",
            "text": reply.text,
        });
        if let Some(r) = receiver {
            m["receiver"] = json!(r);
        }
        if let Some((keyboard, level)) = keyboard(&reply.keyboard, texts) {
            m["keyboard"] = keyboard;
            m["min_api_version"] = json!(level);
        }
        m
    }

    /// A picture's bytes, from the address the message carried (valid an
    /// hour).
    pub async fn picture(
        &self,
        url: &str,
    ) -> Result<
        impl futures_util::Stream<Item = Result<bytes::Bytes, reqwest::Error>> + Unpin + use<>,
        SendError,
    > {
        let response = self
            .client
            .get(url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| SendError::Temporary(e.without_url().to_string()))?;
        Ok(Box::pin(response.bytes_stream()))
    }
}

/// Viber's keyboard for ours, and the API level it needs (3 for the
/// phone's and the place's buttons).
fn keyboard(k: &Keyboard, t: &Texts) -> Option<(Value, u8)> {
    let reply = |label: &str, data: &str, columns: usize| {
        json!({"Columns": columns, "Rows": 1, "ActionType": "reply",
            "ActionBody": format!("{BUTTON}{data}"), "Text": label, "Silent": true})
    };
    let rows = |rows: Vec<Vec<(String, String)>>| -> Vec<Value> {
        rows.into_iter()
            .flat_map(|row| {
                let columns = (6 / row.len().max(1)).max(1);
                row.into_iter()
                    .map(move |(label, data)| reply(&label, &data, columns))
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let (buttons, level) = match k {
        Keyboard::None => return None,
        Keyboard::Menu => (rows(super::telegram::menu_rows(t)), 1),
        Keyboard::Choices(choices) => (
            rows(
                choices
                    .iter()
                    .map(|row| {
                        row.iter()
                            .map(|c| (c.label.clone(), c.data.clone()))
                            .collect()
                    })
                    .collect(),
            ),
            1,
        ),
        Keyboard::Contact => (
            vec![
                json!({"Columns": 6, "Rows": 1, "ActionType": "share-phone",
                    "ActionBody": "phone", "Text": t.button_share_contact}),
                reply(&t.button_cancel, data::CANCEL, 6),
            ],
            3,
        ),
        Keyboard::Location => (
            vec![
                json!({"Columns": 6, "Rows": 1, "ActionType": "location-picker",
                    "ActionBody": "place", "Text": t.button_share_location}),
                reply(&t.button_skip, data::SKIP, 6),
            ],
            3,
        ),
    };
    Some((
        json!({"Type": "keyboard", "DefaultHeight": false, "Buttons": buttons}),
        level,
    ))
}

/// What a callback's body says.
pub fn event(body: &[u8]) -> Result<Event, String> {
    let c: Callback = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let token = c.message_token.map(|n| n.to_string()).unwrap_or_default();
    Ok(match c.event.as_str() {
        "webhook" => Event::Webhook,
        "conversation_started" => match c.user {
            Some(u) => Event::Opened { account: u.id },
            None => Event::Other,
        },
        "subscribed" => match c.user {
            Some(u) => Event::Subscribed { account: u.id },
            None => Event::Other,
        },
        "unsubscribed" => match c.user_id {
            Some(id) => Event::Unsubscribed { account: id },
            None => Event::Other,
        },
        "message" => {
            let (Some(sender), Some(m)) = (c.sender, c.message) else {
                return Ok(Event::Other);
            };
            let input = match m.kind.as_str() {
                "text" => typed(m.text.as_deref().unwrap_or("")),
                // The share-phone button sends the account's own number.
                "contact" => match m.contact {
                    Some(contact) => Input::Contact {
                        phone: contact.phone_number,
                        own: true,
                    },
                    None => Input::Other,
                },
                "location" => match m.location {
                    Some(l) => Input::Location {
                        latitude: l.lat,
                        longitude: l.lon,
                    },
                    None => Input::Other,
                },
                "picture" => match m.media {
                    Some(url) => Input::Photo { file: url },
                    None => Input::Other,
                },
                _ => Input::Other,
            };
            Event::Message(Incoming {
                update: token,
                account: sender.id,
                input,
            })
        }
        _ => Event::Other,
    })
}

/// A text: a button's (ours start with [`BUTTON`]), or words.
fn typed(text: &str) -> Input {
    match text.strip_prefix(BUTTON) {
        Some(data) => Input::Button(data.to_owned()),
        None if text.trim() == "/start" => Input::Start,
        None => Input::Text(text.trim().to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts() -> Texts {
        crate::chatbot::texts::shipped()
    }

    /// The callbacks' shapes as Viber documents them
    /// (creators.viber.com, Callbacks).
    #[test]
    fn callbacks_become_inputs() {
        let sender = json!({"id": "01234567890A=", "name": "Ірина", "language": "uk", "country": "UA", "api_version": 10});
        let message = |m: Value| {
            let body = json!({"event": "message", "timestamp": 1765094400000u64,
                "message_token": 4912661846655238145u64, "sender": sender, "message": m});
            event(body.to_string().as_bytes()).unwrap()
        };
        let Event::Message(got) = message(json!({"type": "text", "text": "Соборна 12"}))
        else {
            panic!()
        };
        assert_eq!(got.update, "4912661846655238145", "not rounded through f64");
        assert_eq!(got.account, "01234567890A=");
        assert_eq!(got.input, Input::Text("Соборна 12".into()));
        let Event::Message(got) = message(json!({"type": "text", "text": "btn:kind:complaint"}))
        else {
            panic!()
        };
        assert_eq!(got.input, Input::Button("kind:complaint".into()));
        let Event::Message(got) = message(
            json!({"type": "contact", "contact": {"name": "Ірина", "phone_number": "380671234567"}}),
        ) else {
            panic!()
        };
        assert_eq!(
            got.input,
            Input::Contact {
                phone: "380671234567".into(),
                own: true
            }
        );
        let Event::Message(got) =
            message(json!({"type": "location", "location": {"lat": 47.8388, "lon": 35.1396}}))
        else {
            panic!()
        };
        assert_eq!(
            got.input,
            Input::Location {
                latitude: 47.8388,
                longitude: 35.1396
            }
        );
        let Event::Message(got) = message(
            json!({"type": "picture", "text": "", "media": "https://dl-media.viber.com/5/share/2/long/abc.jpg", "file_name": "abc.jpg", "file_size": 120000}),
        ) else {
            panic!()
        };
        assert_eq!(
            got.input,
            Input::Photo {
                file: "https://dl-media.viber.com/5/share/2/long/abc.jpg".into()
            }
        );
        assert_eq!(
            event(br#"{"event":"webhook","timestamp":1765094400000,"chat_hostname":"SN-1","message_token":1}"#).unwrap(),
            Event::Webhook
        );
        assert_eq!(
            event(br#"{"event":"unsubscribed","timestamp":1,"user_id":"01234567890A=","message_token":2}"#).unwrap(),
            Event::Unsubscribed { account: "01234567890A=".into() }
        );
        let opened = json!({"event": "conversation_started", "timestamp": 1, "message_token": 3,
            "type": "open", "context": "", "user": sender, "subscribed": false});
        assert_eq!(
            event(opened.to_string().as_bytes()).unwrap(),
            Event::Opened {
                account: "01234567890A=".into()
            }
        );
    }

    #[test]
    fn signatures_are_the_bodys_hmac_under_the_token() {
        let v = Viber::new(
            "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9",
            "",
            "Гаряча лінія",
        )
        .unwrap();
        let body = br#"{"event":"webhook","timestamp":1457764197627,"message_token":241256543215}"#;
        let mut mac = Hmac::<Sha256>::new_from_slice(v.token.as_bytes()).unwrap();
        mac.update(body);
        let good = hex::encode(mac.finalize().into_bytes());
        assert!(v.signed(body, &good));
        assert!(!v.signed(body, &good.replace(&good[..2], "00")));
        assert!(!v.signed(b"{}", &good));
        assert!(!v.signed(body, "not hex"));
    }

    #[test]
    fn keyboards_become_vibers() {
        let t = texts();
        let v = Viber::new("t", "", "Гаряча лінія 15-80, Запоріжжя, міська").unwrap();
        let contact = v.message(
            Some("u1"),
            &Reply {
                text: "x".into(),
                keyboard: Keyboard::Contact,
            },
            &t,
        );
        assert_eq!(
            contact["keyboard"]["Buttons"][0]["ActionType"],
            "share-phone"
        );
        assert_eq!(contact["min_api_version"], 3);
        assert_eq!(
            contact["sender"]["name"].as_str().unwrap().chars().count(),
            28
        );
        let menu = v.message(
            Some("u1"),
            &Reply {
                text: "x".into(),
                keyboard: Keyboard::Menu,
            },
            &t,
        );
        assert_eq!(menu["keyboard"]["Buttons"][0]["ActionBody"], "btn:new");
        assert_eq!(menu["keyboard"]["Buttons"][1]["Columns"], 3);
        let plain = v.message(
            None,
            &Reply {
                text: "x".into(),
                keyboard: Keyboard::None,
            },
            &t,
        );
        assert!(plain.get("keyboard").is_none() && plain.get("receiver").is_none());
    }
}
