//! The chat-bot's rows (migration 0024): the messenger accounts and their
//! conversations, the cards they filed, the updates already handled, and
//! the messages waiting to go out. A turn's new state and its answers are
//! written in one transaction, so a restart loses neither, and a messenger
//! that sends an update again (our answer was late) gets it handled once.

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use super::Messenger;
use super::conversation::{Conversation, Reply};
use crate::store::encoding::{Cols, DbTime, DbUuid, StoreRow};
use crate::store::{BeginWrite, Store, StoreError, decode_all, on_pool, query_err};

/// Written with the card ([`Store::register_appeal_with_files`]).
pub(crate) const INSERT_CARD: &str = "INSERT INTO chatbot_cards \
    (appeal_id, messenger, account, created_at) VALUES ($1, $2, $3, $4)";

/// A messenger account that talks to the bot.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub messenger: Messenger,
    /// The messenger's id of the user.
    pub account: String,
    /// Where to write to it (Telegram's chat id; Viber's user id).
    pub chat: String,
    pub conversation: Conversation,
    /// The street whose works it follows.
    pub street: Option<String>,
    pub reachable: bool,
}

fn account_from_row(row: &impl StoreRow) -> Result<Account, StoreError> {
    let c = Cols::new(row, "chatbot_accounts");
    let text: String = c.get("conversation")?;
    // A conversation that no longer reads (a version's change) starts over.
    let mut conversation: Conversation = serde_json::from_str(&text).unwrap_or_default();
    conversation.phone = c.get("phone")?;
    Ok(Account {
        messenger: c.parsed("messenger", Messenger::parse)?,
        account: c.get("account")?,
        chat: c.get("chat")?,
        conversation,
        street: c.get("street")?,
        reachable: c.get::<bool>("reachable")?,
    })
}

/// A message waiting to go out, with where to.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub id: Uuid,
    pub messenger: Messenger,
    pub account: String,
    pub chat: String,
    pub reply: Reply,
    pub attempts: u32,
}

/// An appeal of the account's, as "my appeals" lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountAppeal {
    pub number: String,
    pub status: crate::appeal::AppealStatus,
    pub category: String,
    pub deadline: DateTime<Utc>,
}

/// A step of a card filed through the bot that its citizen has not yet
/// been told of.
#[derive(Debug, Clone, PartialEq)]
pub struct CardStep {
    pub entry: i64,
    pub messenger: Messenger,
    pub account: String,
    pub number: String,
    pub kind: crate::appeal::lifecycle::EntryKind,
    pub to: crate::appeal::AppealStatus,
    pub text: Option<String>,
    pub details: crate::appeal::lifecycle::Details,
}

/// How long an update id is remembered (messengers resend within hours).
const SEEN_KEPT: TimeDelta = TimeDelta::days(3);

impl Store {
    /// The account, made on its first message; `chat` is kept current and
    /// a message from it makes it reachable again.
    pub async fn chatbot_account(
        &self,
        messenger: Messenger,
        account: &str,
        chat: &str,
        now: DateTime<Utc>,
    ) -> Result<Account, StoreError> {
        const SQL: &str = "INSERT INTO chatbot_accounts \
            (messenger, account, chat, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) \
            ON CONFLICT (messenger, account) DO UPDATE \
            SET chat = excluded.chat, reachable = excluded.reachable \
            RETURNING messenger, account, chat, phone, conversation, street, reachable";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(messenger.as_str())
            .bind(account)
            .bind(chat)
            .bind(DbTime::new(now))
            .fetch_one(pool)
            .await
            .map_err(query_err("open a chat-bot account"))
            .and_then(|row| account_from_row(&row)))
    }

    /// Whether update `id` was handled already.
    pub async fn chatbot_seen(&self, messenger: Messenger, id: &str) -> Result<bool, StoreError> {
        const SQL: &str = "SELECT 1 FROM chatbot_seen WHERE messenger = $1 AND update_id = $2";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(messenger.as_str())
            .bind(id)
            .fetch_optional(pool)
            .await
            .map(|row| row.is_some())
            .map_err(query_err("look up a chat-bot update")))
    }

    /// A turn's outcome: the conversation (and the phone it holds), the
    /// street, the answers queued and the update marked handled, together
    /// (a messenger's second delivery of it is then left alone). Ids older
    /// than a few days are forgotten on the way.
    pub async fn chatbot_save_turn(
        &self,
        account: &Account,
        update: Option<&str>,
        replies: &[Reply],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        const FORGET: &str = "DELETE FROM chatbot_seen WHERE seen_at < $1";
        const SEEN: &str = "INSERT INTO chatbot_seen (messenger, update_id, seen_at) \
            VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
        const SAVE: &str = "UPDATE chatbot_accounts SET conversation = $3, phone = $4, \
            street = $5, updated_at = $6 WHERE messenger = $1 AND account = $2";
        let state =
            serde_json::to_string(&account.conversation).map_err(|e| StoreError::Invalid {
                field: "conversation",
                reason: e.to_string(),
            })?;
        let bodies = replies
            .iter()
            .map(|r| serde_json::to_string(r).map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|reason| StoreError::Invalid {
                field: "reply",
                reason,
            })?;
        on_pool!(self, |pool| async {
            let mut tx = pool.begin_write().await?;
            if let Some(id) = update {
                sqlx::query(FORGET)
                    .bind(DbTime::new(now - SEEN_KEPT))
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(SEEN)
                    .bind(account.messenger.as_str())
                    .bind(id)
                    .bind(DbTime::new(now))
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(SAVE)
                .bind(account.messenger.as_str())
                .bind(&account.account)
                .bind(&state)
                .bind(account.conversation.phone.as_deref())
                .bind(account.street.as_deref())
                .bind(DbTime::new(now))
                .execute(&mut *tx)
                .await?;
            // One after another: the order they are sent in.
            for (n, body) in bodies.iter().enumerate() {
                sqlx::query(INSERT_OUT)
                    .bind(DbUuid(Uuid::new_v4()))
                    .bind(account.messenger.as_str())
                    .bind(&account.account)
                    .bind(body)
                    .bind(None::<String>)
                    .bind(DbTime::new(now + TimeDelta::microseconds(n as i64)))
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await
        }
        .await
        .map_err(query_err("save a chat-bot turn")))
    }

    /// Queues a message the citizen did not ask for (a card's step, a
    /// work on their street); with `dedupe`, once only. Whether it was
    /// queued now.
    pub async fn chatbot_queue(
        &self,
        messenger: Messenger,
        account: &str,
        reply: &Reply,
        dedupe: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let body = serde_json::to_string(reply).map_err(|e| StoreError::Invalid {
            field: "reply",
            reason: e.to_string(),
        })?;
        let sql = format!("{INSERT_OUT} ON CONFLICT DO NOTHING");
        on_pool!(self, |pool| sqlx::query(&sql)
            .bind(DbUuid(Uuid::new_v4()))
            .bind(messenger.as_str())
            .bind(account)
            .bind(&body)
            .bind(dedupe)
            .bind(DbTime::new(now))
            .execute(pool)
            .await
            .map(|done| done.rows_affected() == 1)
            .map_err(query_err("queue a chat-bot message")))
    }

    /// Up to `limit` messages to send now: each account's oldest waiting
    /// one only, so an account's messages go in order.
    pub async fn chatbot_due(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Outgoing>, StoreError> {
        const SQL: &str = "SELECT o.id, o.messenger, o.account, a.chat, o.body, o.attempts \
            FROM chatbot_outbox o \
            JOIN chatbot_accounts a ON a.messenger = o.messenger AND a.account = o.account \
            WHERE o.sent_at IS NULL AND o.given_up_at IS NULL AND o.next_attempt_at <= $1 \
            AND a.reachable \
            AND NOT EXISTS (SELECT 1 FROM chatbot_outbox e \
                WHERE e.messenger = o.messenger AND e.account = o.account \
                AND e.sent_at IS NULL AND e.given_up_at IS NULL \
                AND (e.created_at < o.created_at OR (e.created_at = o.created_at AND e.id < o.id))) \
            ORDER BY o.created_at LIMIT $2";
        on_pool!(self, |pool| decode_all(
            sqlx::query(SQL)
                .bind(DbTime::new(now))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
                .map_err(query_err("read the chat-bot's outbox"))?,
            |row| {
                let c = Cols::new(row, "chatbot_outbox");
                let body: String = c.get("body")?;
                Ok(Outgoing {
                    id: c.uuid("id")?,
                    messenger: c.parsed("messenger", Messenger::parse)?,
                    account: c.get("account")?,
                    chat: c.get("chat")?,
                    reply: serde_json::from_str(&body).map_err(|e| StoreError::Invalid {
                        field: "body",
                        reason: e.to_string(),
                    })?,
                    attempts: c.int::<i32, u32>("attempts")?,
                })
            }
        ))
    }

    /// When the next message is due (to sleep until then), if any waits.
    pub async fn chatbot_next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        const SQL: &str = "SELECT min(next_attempt_at) AS at FROM chatbot_outbox \
            WHERE sent_at IS NULL AND given_up_at IS NULL";
        on_pool!(self, |pool| sqlx::query(SQL)
            .fetch_one(pool)
            .await
            .map_err(query_err("read the chat-bot's outbox"))
            .and_then(|row| Cols::new(&row, "chatbot_outbox").opt_time("at")))
    }

    /// Message `id` went out.
    pub async fn chatbot_sent(&self, id: Uuid, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.chatbot_outcome(
            "UPDATE chatbot_outbox SET sent_at = $2, attempts = attempts + 1, last_error = NULL \
             WHERE id = $1",
            id,
            now,
            None,
        )
        .await
    }

    /// Message `id` is tried again at `at` (a 429's wait, a 5xx's backoff).
    pub async fn chatbot_retry(
        &self,
        id: Uuid,
        at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError> {
        self.chatbot_outcome(
            "UPDATE chatbot_outbox SET next_attempt_at = $2, attempts = attempts + 1, \
             last_error = $3 WHERE id = $1",
            id,
            at,
            Some(error),
        )
        .await
    }

    /// Message `id` cannot be sent (the citizen blocked the bot, the
    /// account is gone): kept with why, not tried again.
    pub async fn chatbot_give_up(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError> {
        self.chatbot_outcome(
            "UPDATE chatbot_outbox SET given_up_at = $2, attempts = attempts + 1, \
             last_error = $3 WHERE id = $1",
            id,
            now,
            Some(error),
        )
        .await
    }

    async fn chatbot_outcome(
        &self,
        sql: &'static str,
        id: Uuid,
        at: DateTime<Utc>,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let error = error.map(|e| e.chars().take(500).collect::<String>());
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(DbUuid(id))
            .bind(DbTime::new(at))
            .bind(error.as_deref())
            .execute(pool)
            .await
            .map(drop)
            .map_err(query_err("record a chat-bot message's outcome")))
    }

    /// Whether the account can be written to (Viber's unsubscribed, or a
    /// citizen who blocked the bot).
    pub async fn chatbot_set_reachable(
        &self,
        messenger: Messenger,
        account: &str,
        reachable: bool,
    ) -> Result<(), StoreError> {
        const SQL: &str = "UPDATE chatbot_accounts SET reachable = $3 \
            WHERE messenger = $1 AND account = $2";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(messenger.as_str())
            .bind(account)
            .bind(reachable)
            .execute(pool)
            .await
            .map(drop)
            .map_err(query_err("mark a chat-bot account")))
    }

    /// The account's appeals (filed through the bot, or with the phone it
    /// shared), newest first.
    pub async fn chatbot_appeals(
        &self,
        messenger: Messenger,
        account: &str,
        phone: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AccountAppeal>, StoreError> {
        const SQL: &str = "SELECT a.registration_number, a.status, a.category, a.deadline \
            FROM appeals a \
            WHERE a.id IN (SELECT c.appeal_id FROM chatbot_cards c \
                WHERE c.messenger = $1 AND c.account = $2) \
            OR (a.caller_phone = $3 AND a.anonymous = false) \
            ORDER BY a.created_at DESC LIMIT $4";
        on_pool!(self, |pool| decode_all(
            sqlx::query(SQL)
                .bind(messenger.as_str())
                .bind(account)
                // NULL equals nothing: without a phone, the account's cards only.
                .bind(phone)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
                .map_err(query_err("list an account's appeals"))?,
            |row| {
                let c = Cols::new(row, "appeals");
                Ok(AccountAppeal {
                    number: c.get("registration_number")?,
                    status: c.parsed("status", crate::appeal::AppealStatus::parse)?,
                    category: c.get("category")?,
                    deadline: c.time("deadline")?,
                })
            }
        ))
    }

    /// How many appeals the account filed, or were filed with `phone`,
    /// since `since`.
    pub async fn chatbot_appeals_since(
        &self,
        messenger: Messenger,
        account: &str,
        phone: &str,
        since: DateTime<Utc>,
    ) -> Result<u32, StoreError> {
        const SQL: &str = "SELECT count(*) FROM appeals a WHERE a.created_at >= $4 \
            AND (a.id IN (SELECT c.appeal_id FROM chatbot_cards c \
                WHERE c.messenger = $1 AND c.account = $2) \
            OR (a.caller_phone = $3 AND a.channel = 'chatbot'))";
        let n: i64 = on_pool!(self, |pool| sqlx::query_scalar(SQL)
            .bind(messenger.as_str())
            .bind(account)
            .bind(phone)
            .bind(DbTime::new(since))
            .fetch_one(pool)
            .await
            .map_err(query_err("count an account's appeals")))?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// The id of card `number` if it is the account's (filed through the
    /// bot by it, or with the phone it shared): a button's data names a
    /// card, and another's card is as good as none.
    pub async fn chatbot_card_of(
        &self,
        messenger: Messenger,
        account: &str,
        phone: Option<&str>,
        number: &str,
    ) -> Result<Option<Uuid>, StoreError> {
        const SQL: &str = "SELECT a.id FROM appeals a WHERE a.registration_number = $1 \
            AND (a.id IN (SELECT c.appeal_id FROM chatbot_cards c \
                WHERE c.messenger = $2 AND c.account = $3) \
            OR (a.caller_phone = $4 AND a.anonymous = false))";
        let id: Option<DbUuid> = on_pool!(self, |pool| sqlx::query_scalar(SQL)
            .bind(number)
            .bind(messenger.as_str())
            .bind(account)
            .bind(phone.unwrap_or("\u{0}"))
            .fetch_optional(pool)
            .await
            .map_err(query_err("find an account's card")))?;
        Ok(id.map(|id| id.0))
    }

    /// Steps since `since` of cards filed through the bot whose citizen
    /// has not been told of them yet (no message with the entry's
    /// `dedupe`), oldest first.
    pub async fn chatbot_card_steps(
        &self,
        since: DateTime<Utc>,
        kinds: &[crate::appeal::lifecycle::EntryKind],
    ) -> Result<Vec<CardStep>, StoreError> {
        let list = kinds
            .iter()
            .map(|k| format!("'{}'", k.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT h.id, c.messenger, c.account, a.registration_number, h.kind, h.to_status, \
             h.body, h.details FROM appeal_history h \
             JOIN chatbot_cards c ON c.appeal_id = h.appeal_id \
             JOIN appeals a ON a.id = h.appeal_id \
             WHERE h.at >= $1 AND h.kind IN ({list}) \
             AND NOT EXISTS (SELECT 1 FROM chatbot_outbox o \
                 WHERE o.dedupe = 'entry:' || CAST(h.id AS TEXT)) \
             ORDER BY h.id"
        );
        on_pool!(self, |pool| decode_all(
            sqlx::query(&sql)
                .bind(DbTime::new(since))
                .fetch_all(pool)
                .await
                .map_err(query_err("read the steps to tell citizens of"))?,
            |row| {
                let c = Cols::new(row, "appeal_history");
                let details: String = c.get("details")?;
                Ok(CardStep {
                    entry: c.get("id")?,
                    messenger: c.parsed("messenger", Messenger::parse)?,
                    account: c.get("account")?,
                    number: c.get("registration_number")?,
                    kind: c.parsed("kind", crate::appeal::lifecycle::EntryKind::parse)?,
                    to: c.parsed("to_status", crate::appeal::AppealStatus::parse)?,
                    text: c.get("body")?,
                    details: serde_json::from_str(&details).unwrap_or_default(),
                })
            }
        ))
    }

    /// The reachable accounts following a street, with the street.
    pub async fn chatbot_followers(&self) -> Result<Vec<(Messenger, String, String)>, StoreError> {
        const SQL: &str = "SELECT messenger, account, street FROM chatbot_accounts \
            WHERE street IS NOT NULL AND reachable";
        on_pool!(self, |pool| decode_all(
            sqlx::query(SQL)
                .fetch_all(pool)
                .await
                .map_err(query_err("list the street followers"))?,
            |row| {
                let c = Cols::new(row, "chatbot_accounts");
                Ok((
                    c.parsed("messenger", Messenger::parse)?,
                    c.get("account")?,
                    c.get("street")?,
                ))
            }
        ))
    }

    /// Retention: messages sent (or given up) before `messages_before`
    /// go, their texts hold names and addresses; and accounts quiet since
    /// `accounts_before` with no card left (the cards go by their own
    /// retention) go with their conversation, phone and messages. How
    /// many accounts went.
    pub async fn prune_chatbot(
        &self,
        messages_before: DateTime<Utc>,
        accounts_before: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        const MESSAGES: &str = "DELETE FROM chatbot_outbox \
            WHERE sent_at < $1 OR given_up_at < $1";
        const QUIET: &str = "a.updated_at < $1 AND NOT EXISTS (SELECT 1 FROM chatbot_cards c \
            WHERE c.messenger = a.messenger AND c.account = a.account)";
        let their_messages = format!(
            "DELETE FROM chatbot_outbox WHERE EXISTS (SELECT 1 FROM chatbot_accounts a \
             WHERE a.messenger = chatbot_outbox.messenger AND a.account = chatbot_outbox.account \
             AND {QUIET})"
        );
        let accounts = format!("DELETE FROM chatbot_accounts AS a WHERE {QUIET}");
        on_pool!(self, |pool| async {
            let mut tx = pool.begin_write().await?;
            sqlx::query(MESSAGES)
                .bind(DbTime::new(messages_before))
                .execute(&mut *tx)
                .await?;
            sqlx::query(&their_messages)
                .bind(DbTime::new(accounts_before))
                .execute(&mut *tx)
                .await?;
            let gone = sqlx::query(&accounts)
                .bind(DbTime::new(accounts_before))
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            Ok(gone)
        }
        .await
        .map_err(query_err("prune the chat-bot's accounts")))
    }

    /// A value the bot keeps between runs (Telegram's update offset).
    pub async fn chatbot_state(&self, name: &str) -> Result<Option<String>, StoreError> {
        const SQL: &str = "SELECT value FROM chatbot_state WHERE name = $1";
        on_pool!(self, |pool| sqlx::query_scalar(SQL)
            .bind(name)
            .fetch_optional(pool)
            .await
            .map_err(query_err("read the chat-bot's state")))
    }

    pub async fn set_chatbot_state(&self, name: &str, value: &str) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO chatbot_state (name, value) VALUES ($1, $2) \
            ON CONFLICT (name) DO UPDATE SET value = excluded.value";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(name)
            .bind(value)
            .execute(pool)
            .await
            .map(drop)
            .map_err(query_err("keep the chat-bot's state")))
    }
}

const INSERT_OUT: &str = "INSERT INTO chatbot_outbox \
    (id, messenger, account, body, dedupe, created_at, next_attempt_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $6)";
