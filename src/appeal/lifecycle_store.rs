//! The card's life in the database: a card's facts read for the state
//! machine ([`Store::appeal_card`]), a step written whole
//! ([`Store::write_step`]: the new state, the executors and the history
//! entry in one transaction, refused if the card changed meanwhile), and the
//! history read back ([`Store::appeal_history`]).
//!
//! The rules are in [`super::lifecycle`]; this module stores what they
//! decide and decides nothing.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::lifecycle::{
    Card, Control, Details, Entry, EntryKind, ExecutorCode, Outcome, Part, Pending,
};
use super::record::AppealStatus;
use super::verification::{Mode, Verifying};
use crate::store::encoding::{Cols, DbTime, DbUuid, StoreRow};
use crate::store::{BeginWrite, Store, StoreError, decode_all, on_pool, query_err};

/// Who wrote a history entry: a user (kept by login and role should the
/// account go) or the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    pub user_id: Option<Uuid>,
    pub login: String,
    /// The user's role, or "system".
    pub role: String,
    pub executor: Option<ExecutorCode>,
}

impl Author {
    /// The server itself (delivery, the deadline watcher).
    pub fn system() -> Author {
        Author {
            user_id: None,
            login: "system".to_string(),
            role: "system".to_string(),
            executor: None,
        }
    }

    /// The citizen, through a public channel (`web`, `open311`, `chatbot`):
    /// no account, so the channel (and, for Open311, the application) is
    /// who wrote it.
    pub fn citizen(via: &str) -> Author {
        Author {
            user_id: None,
            login: via.to_string(),
            role: "citizen".to_string(),
            executor: None,
        }
    }
}

/// A card's facts as stored, with what a step must quote to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCard {
    pub id: Uuid,
    pub registration_number: String,
    pub card: Card,
    /// Bumped by every step: [`Store::write_step`] takes the one it read.
    pub revision: i64,
}

/// One entry of a card's history, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub login: String,
    pub role: String,
    pub executor: Option<String>,
    pub kind: EntryKind,
    pub from: AppealStatus,
    pub to: AppealStatus,
    pub text: Option<String>,
    pub files: Vec<Uuid>,
    pub details: Details,
}

/// The columns of the lifecycle's facts on `appeals`.
macro_rules! card_columns {
    () => {
        "id, registration_number, status, deadline, term_start, control, extensions, \
         planned_date, delivery_at, proofs, overdue_noted, due_soon_noted, pending, revision, \
         emergency, anonymous, contested, direct_control, verify_mode, verify_attempts, \
         verify_next_at, resolved_at"
    };
}

fn card_from_row(row: &impl StoreRow) -> Result<StoredCard, StoreError> {
    let c = Cols::new(row, "appeals");
    let pending = match c.get::<Option<String>>("pending")? {
        None => None,
        Some(json) => {
            Some(
                serde_json::from_str::<Pending>(&json).map_err(|e| StoreError::Corrupt {
                    table: "appeals",
                    column: "pending",
                    reason: e.to_string(),
                })?,
            )
        }
    };
    let deadline = c.time("deadline")?;
    let verification = match c.get::<Option<String>>("verify_mode")? {
        None => None,
        Some(mode) => Some(Verifying {
            mode: Mode::parse(&mode).ok_or_else(|| StoreError::Corrupt {
                table: "appeals",
                column: "verify_mode",
                reason: format!("{mode:?} is not a verification mode"),
            })?,
            attempts: c.int::<i32, u32>("verify_attempts")?,
            next_at: c.opt_time("verify_next_at")?.unwrap_or(deadline),
        }),
    };
    let card = Card {
        id: c.uuid("id")?,
        status: c.parsed("status", AppealStatus::parse)?,
        deadline,
        term_start: c.opt_time("term_start")?.unwrap_or(deadline),
        control: c.parsed("control", Control::parse)?,
        parts: Vec::new(),
        pending,
        extensions: c.int::<i32, u32>("extensions")?,
        planned: c.get::<Option<NaiveDate>>("planned_date")?,
        delivery_at: c.opt_time("delivery_at")?,
        curator: None,
        proofs: c.int::<i32, u32>("proofs")?,
        overdue_noted: c.get::<bool>("overdue_noted")?,
        due_soon_noted: c.get::<bool>("due_soon_noted")?,
        emergency: c.get::<bool>("emergency")?,
        anonymous: c.get::<bool>("anonymous")?,
        contested: c.get::<bool>("contested")?,
        direct_control: c.get::<bool>("direct_control")?,
        verification,
        resolved_at: c.opt_time("resolved_at")?,
    };
    Ok(StoredCard {
        id: c.uuid("id")?,
        registration_number: c.get("registration_number")?,
        card,
        revision: i64::from(c.get::<i32>("revision")?),
    })
}

fn part_from_row(row: &impl StoreRow) -> Result<Part, StoreError> {
    let c = Cols::new(row, "appeal_executors");
    Ok(Part {
        executor: c.parsed("executor_code", |s| ExecutorCode::parse(s).ok())?,
        lead: c.get::<bool>("lead")?,
        responsible: c.get("responsible")?,
        declined: c.get("declined")?,
    })
}

fn entry_from_row(row: &impl StoreRow) -> Result<HistoryEntry, StoreError> {
    let c = Cols::new(row, "appeal_history");
    let json = |column: &'static str, text: String| StoreError::Corrupt {
        table: "appeal_history",
        column,
        reason: text,
    };
    Ok(HistoryEntry {
        id: c.get::<i64>("id")?,
        at: c.time("at")?,
        login: c.get("login")?,
        role: c.get("role")?,
        executor: c.get("executor_code")?,
        kind: c.parsed("kind", EntryKind::parse)?,
        from: c.parsed("from_status", AppealStatus::parse)?,
        to: c.parsed("to_status", AppealStatus::parse)?,
        text: c.get("body")?,
        files: serde_json::from_str(&c.get::<String>("files")?)
            .map_err(|e| json("files", e.to_string()))?,
        details: serde_json::from_str(&c.get::<String>("details")?)
            .map_err(|e| json("details", e.to_string()))?,
    })
}

/// The JSON of a pending request, or `None`.
fn pending_json(pending: &Option<Pending>) -> Result<Option<String>, StoreError> {
    pending
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError::Invalid {
            field: "pending",
            reason: e.to_string(),
        })
}

/// The SQL of a step: every column the state machine owns, written from
/// the card it returned, if the revision is still the one read.
pub(crate) const UPDATE_CARD: &str = "UPDATE appeals SET status = $1, deadline = $2, \
    term_start = $3, control = $4, extensions = $5, planned_date = $6, delivery_at = $7, \
    proofs = $8, overdue_noted = $9, due_soon_noted = $10, pending = $11, pending_due = $12, \
    finished_at = CASE WHEN $13 THEN COALESCE(finished_at, $14) ELSE NULL END, \
    executor = $15, contested = $16, direct_control = $17, verify_mode = $18, \
    verify_attempts = $19, verify_next_at = $20, resolved_at = $21, revision = revision + 1 \
    WHERE id = $22 AND revision = $23";
pub(crate) const INSERT_ATTEMPT: &str = "INSERT INTO verification_attempts \
    (appeal_id, executor_code, at, channel, result, rating, reason, login, user_id, call_id) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
pub(crate) const DELETE_PARTS: &str = "DELETE FROM appeal_executors WHERE appeal_id = $1";
pub(crate) const INSERT_PART: &str = "INSERT INTO appeal_executors \
    (appeal_id, executor_code, lead, responsible, declined) VALUES ($1, $2, $3, $4, $5)";
pub(crate) const INSERT_ENTRY: &str = "INSERT INTO appeal_history \
    (appeal_id, at, user_id, login, role, executor_code, kind, from_status, to_status, body, \
     files, details) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";

/// The values of a step, computed once for either backend.
pub(crate) struct StepValues {
    pub(crate) pending: Option<String>,
    pub(crate) pending_due: Option<DateTime<Utc>>,
    pub(crate) lead: String,
    pub(crate) files: String,
    pub(crate) details: String,
}

impl StepValues {
    pub(crate) fn new(card: &Card, entry: &Entry) -> Result<Self, StoreError> {
        let invalid = |field: &'static str| {
            move |e: serde_json::Error| StoreError::Invalid {
                field,
                reason: e.to_string(),
            }
        };
        Ok(StepValues {
            pending: pending_json(&card.pending)?,
            pending_due: card.pending.as_ref().map(|p| p.due),
            lead: card
                .lead()
                .map(|p| p.executor.to_string())
                .unwrap_or_default(),
            files: serde_json::to_string(&entry.files).map_err(invalid("files"))?,
            details: serde_json::to_string(&entry.details).map_err(invalid("details"))?,
        })
    }
}

/// Writes a step's card inside `tx` if it is still at `revision`: the
/// number of rows changed (0: stale).
macro_rules! update_card {
    ($tx:expr, $id:expr, $revision:expr, $card:expr, $values:expr, $at:expr) => {{
        use $crate::store::encoding::{DbTime, DbUuid};
        let card = $card;
        let verifying = card.verification.as_ref();
        sqlx::query($crate::appeal::lifecycle_store::UPDATE_CARD)
            .bind(card.status.as_str())
            .bind(DbTime::new(card.deadline))
            .bind(DbTime::new(card.term_start))
            .bind(card.control.as_str())
            .bind(i32::try_from(card.extensions).unwrap_or(i32::MAX))
            .bind(card.planned)
            .bind(card.delivery_at.map(DbTime::new))
            .bind(i32::try_from(card.proofs).unwrap_or(i32::MAX))
            .bind(card.overdue_noted)
            .bind(card.due_soon_noted)
            .bind($values.pending.as_deref())
            .bind($values.pending_due.map(DbTime::new))
            // Set once, when the card's life ends: retention counts from it.
            .bind(card.status.is_final())
            .bind(DbTime::new($at))
            .bind(&$values.lead)
            .bind(card.contested)
            .bind(card.direct_control)
            .bind(verifying.map(|v| v.mode.as_str()))
            .bind(verifying.map_or(0, |v| i32::try_from(v.attempts).unwrap_or(i32::MAX)))
            .bind(verifying.map(|v| DbTime::new(v.next_at)))
            .bind(card.resolved_at.map(DbTime::new))
            .bind(DbUuid($id))
            .bind(i32::try_from($revision).unwrap_or(i32::MAX))
            .execute(&mut *$tx)
            .await?
            .rows_affected()
    }};
}
pub(crate) use update_card;

/// Keeps an attempt to ask the citizen, if the step was one, inside `tx`.
macro_rules! insert_attempt {
    ($tx:expr, $id:expr, $card:expr, $entry:expr, $author:expr, $at:expr, $values:expr) => {{
        use $crate::store::encoding::{DbTime, DbUuid};
        if let Some(v) = &$entry.details.verification {
            sqlx::query($crate::appeal::lifecycle_store::INSERT_ATTEMPT)
                .bind(DbUuid($id))
                .bind(&$values.lead)
                .bind(DbTime::new($at))
                .bind(v.channel.as_str())
                .bind(v.result.as_str())
                .bind(v.rating.map(i32::from))
                .bind($entry.text.as_deref())
                .bind(&$author.login)
                .bind($author.user_id.map(DbUuid))
                .bind(v.call.map(DbUuid))
                .execute(&mut *$tx)
                .await?;
        }
    }};
}
pub(crate) use insert_attempt;

/// Writes a card's executors and a history entry inside `tx`: the part of a
/// step (or of a registration) after the card's own row.
macro_rules! write_parts_and_entry {
    ($tx:expr, $id:expr, $card:expr, $entry:expr, $author:expr, $at:expr, $values:expr) => {{
        sqlx::query($crate::appeal::lifecycle_store::DELETE_PARTS)
            .bind($crate::store::encoding::DbUuid($id))
            .execute(&mut *$tx)
            .await?;
        for part in &$card.parts {
            sqlx::query($crate::appeal::lifecycle_store::INSERT_PART)
                .bind($crate::store::encoding::DbUuid($id))
                .bind(part.executor.as_str())
                .bind(part.lead)
                .bind(part.responsible.as_deref())
                .bind(part.declined.as_deref())
                .execute(&mut *$tx)
                .await?;
        }
        sqlx::query($crate::appeal::lifecycle_store::INSERT_ENTRY)
            .bind($crate::store::encoding::DbUuid($id))
            .bind($crate::store::encoding::DbTime::new($at))
            .bind($author.user_id.map($crate::store::encoding::DbUuid))
            .bind(&$author.login)
            .bind(&$author.role)
            .bind($author.executor.as_ref().map(|e| e.as_str()))
            .bind($entry.kind.as_str())
            .bind($entry.from.as_str())
            .bind($entry.to.as_str())
            .bind($entry.text.as_deref())
            .bind(&$values.files)
            .bind(&$values.details)
            .execute(&mut *$tx)
            .await?;
    }};
}
pub(crate) use write_parts_and_entry;

impl Store {
    /// The card's facts for the state machine, with its executors and the
    /// lead executor's curator; `None` for an unknown id.
    pub async fn appeal_card(&self, id: Uuid) -> Result<Option<StoredCard>, StoreError> {
        const CARD: &str = concat!("SELECT ", card_columns!(), " FROM appeals WHERE id = $1");
        const PARTS: &str = "SELECT executor_code, lead, responsible, declined \
            FROM appeal_executors WHERE appeal_id = $1 ORDER BY lead DESC, executor_code";
        let Some(mut stored) = on_pool!(self, |pool| sqlx::query(CARD)
            .bind(DbUuid(id))
            .fetch_optional(pool)
            .await
            .map_err(query_err("read a card"))?
            .map(|row| card_from_row(&row))
            .transpose())?
        else {
            return Ok(None);
        };
        stored.card.parts = on_pool!(self, |pool| decode_all(
            sqlx::query(PARTS)
                .bind(DbUuid(id))
                .fetch_all(pool)
                .await
                .map_err(query_err("read a card's executors"))?,
            part_from_row
        ))?;
        if let Some(lead) = stored.card.lead() {
            stored.card.curator = self.curator_of(lead.executor.as_str()).await?;
        }
        Ok(Some(stored))
    }

    /// The login of the executor's curator, if one is named and active.
    pub async fn curator_of(&self, executor: &str) -> Result<Option<String>, StoreError> {
        const SQL: &str = "SELECT u.login FROM executor_curators c \
            JOIN users u ON u.id = c.user_id \
            WHERE c.executor_code = $1 AND u.disabled_at IS NULL";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(executor)
            .fetch_optional(pool)
            .await
            .map_err(query_err("look up a curator"))?
            .map(|row| Cols::new(&row, "users").get::<String>("login"))
            .transpose())
    }

    /// Writes a step the state machine took on the card read at
    /// `revision`: the card's new facts, its executors and the history
    /// entry, in one transaction. `Stale` if the card changed since it was
    /// read (the caller reads it again and asks the machine again); nothing
    /// is written then.
    pub async fn write_step(
        &self,
        id: Uuid,
        revision: i64,
        outcome: &Outcome,
        author: &Author,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write_step_classified(id, revision, outcome, None, author, at)
            .await
    }

    /// [`Store::write_step`], and for a card sent without a subject and now
    /// classified, its `category` in the same transaction.
    pub async fn write_step_classified(
        &self,
        id: Uuid,
        revision: i64,
        outcome: &Outcome,
        category: Option<&super::CategoryRecord>,
        author: &Author,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        const CATEGORY: &str = "UPDATE appeals SET category = $2, category_id = $3 WHERE id = $1";
        let card = &outcome.card;
        let entry = &outcome.entry;
        let values = StepValues::new(card, entry)?;
        let category = category.map(|c| (c.path(), c.id));
        let written: Result<bool, sqlx::Error> = on_pool!(self, |pool| async {
            let mut tx = pool.begin_write().await?;
            let updated = update_card!(tx, id, revision, card, values, at);
            if updated == 0 {
                tx.rollback().await?;
                return Ok(false);
            }
            if let Some((text, category_id)) = &category {
                sqlx::query(CATEGORY)
                    .bind(DbUuid(id))
                    .bind(text)
                    .bind(DbUuid(*category_id))
                    .execute(&mut *tx)
                    .await?;
            }
            write_parts_and_entry!(tx, id, card, entry, author, at, values);
            insert_attempt!(tx, id, card, entry, author, at, values);
            tx.commit().await?;
            Ok(true)
        }
        .await);
        match written.map_err(query_err("write a step of a card's life"))? {
            true => Ok(()),
            false => Err(StoreError::Stale { what: "appeal", id }),
        }
    }

    /// A card's history, oldest first.
    pub async fn appeal_history(&self, id: Uuid) -> Result<Vec<HistoryEntry>, StoreError> {
        const SQL: &str = "SELECT id, at, login, role, executor_code, kind, from_status, \
            to_status, body, files, details FROM appeal_history WHERE appeal_id = $1 ORDER BY id";
        on_pool!(self, |pool| decode_all(
            sqlx::query(SQL)
                .bind(DbUuid(id))
                .fetch_all(pool)
                .await
                .map_err(query_err("read a card's history"))?,
            entry_from_row
        ))
    }
}

/// An executor of the current classifier with its people, for the CLI and
/// the admin's console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutorPeople {
    pub code: String,
    pub name: String,
    /// Logins of its users, heads first.
    pub users: Vec<(String, bool)>,
    pub curator: Option<String>,
}

impl Store {
    /// Names `login` the curator of the executor `code` (replacing any
    /// other), or clears it with `None`. `Invalid` for an executor the
    /// current classifier lacks, an unknown or disabled user, or an
    /// operator (a curator is a manager, not a call-taker).
    pub async fn set_curator(
        &self,
        code: &str,
        login: Option<&str>,
        by: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        const CLEAR: &str = "DELETE FROM executor_curators WHERE executor_code = $1";
        const SET: &str = "INSERT INTO executor_curators (executor_code, user_id, set_by, set_at) \
            VALUES ($1, $2, $3, $4) ON CONFLICT (executor_code) DO UPDATE \
            SET user_id = excluded.user_id, set_by = excluded.set_by, set_at = excluded.set_at";
        let invalid = |field: &'static str, reason: String| StoreError::Invalid { field, reason };
        let version = self
            .current_classifier_version()
            .await?
            .ok_or_else(|| invalid("executor", "no classifier imported yet".into()))?;
        if !self
            .executors(version.number)
            .await?
            .iter()
            .any(|e| e.code == code)
        {
            return Err(invalid(
                "executor",
                format!(
                    "the classifier (version {}) has no executor {code:?}",
                    version.number
                ),
            ));
        }
        let Some(login) = login else {
            return on_pool!(self, |pool| sqlx::query(CLEAR)
                .bind(code)
                .execute(pool)
                .await
                .map(drop)
                .map_err(query_err("clear a curator")));
        };
        let user = self
            .user_by_login(login)
            .await?
            .filter(|u| u.disabled_at.is_none())
            .ok_or_else(|| invalid("curator", format!("no active user has the login {login:?}")))?;
        if user.role == crate::store::Role::Operator {
            return Err(invalid(
                "curator",
                format!("{login} is an operator; a curator is a manager"),
            ));
        }
        on_pool!(self, |pool| sqlx::query(SET)
            .bind(code)
            .bind(DbUuid(user.id))
            .bind(by.map(DbUuid))
            .bind(DbTime::new(now))
            .execute(pool)
            .await
            .map(drop)
            .map_err(query_err("set a curator")))
    }

    /// The executors of the current classifier with their users and
    /// curators, in the classifier's order.
    pub async fn executor_people(&self) -> Result<Vec<ExecutorPeople>, StoreError> {
        const USERS: &str = "SELECT login, executor_code, executor_head FROM users \
            WHERE executor_code IS NOT NULL AND disabled_at IS NULL \
            ORDER BY executor_head DESC, login";
        const CURATORS: &str = "SELECT c.executor_code, u.login FROM executor_curators c \
            JOIN users u ON u.id = c.user_id WHERE u.disabled_at IS NULL";
        let Some(version) = self.current_classifier_version().await? else {
            return Ok(Vec::new());
        };
        let users = on_pool!(self, |pool| decode_all(
            sqlx::query(USERS)
                .fetch_all(pool)
                .await
                .map_err(query_err("list executor users"))?,
            |row| {
                let c = Cols::new(row, "users");
                Ok((
                    c.get::<String>("executor_code")?,
                    c.get::<String>("login")?,
                    c.get::<bool>("executor_head")?,
                ))
            }
        ))?;
        let curators: std::collections::HashMap<String, String> =
            on_pool!(self, |pool| decode_all(
                sqlx::query(CURATORS)
                    .fetch_all(pool)
                    .await
                    .map_err(query_err("list curators"))?,
                |row| {
                    let c = Cols::new(row, "executor_curators");
                    Ok((c.get::<String>("executor_code")?, c.get::<String>("login")?))
                }
            ))?
            .into_iter()
            .collect();
        Ok(self
            .executors(version.number)
            .await?
            .into_iter()
            .map(|e| ExecutorPeople {
                users: users
                    .iter()
                    .filter(|(code, _, _)| *code == e.code)
                    .map(|(_, login, head)| (login.clone(), *head))
                    .collect(),
                curator: curators.get(&e.code).cloned(),
                code: e.code,
                name: e.name,
            })
            .collect())
    }
}

/// A card in a list (an inbox, the decisions queue): its facts and what
/// identifies it to a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardSummary {
    pub stored: StoredCard,
    pub category: String,
    /// Where the problem is: executors need it to do the work.
    pub address: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// The columns of a card in a list: [`card_columns`] and what names it.
macro_rules! summary_columns {
    () => {
        concat!(card_columns!(), ", category, address, created_at")
    };
}

fn summary_from_row(row: &impl StoreRow) -> Result<CardSummary, StoreError> {
    let c = Cols::new(row, "appeals");
    Ok(CardSummary {
        stored: card_from_row(row)?,
        category: c.get("category")?,
        address: c.get("address")?,
        created_at: c.time("created_at")?,
    })
}

/// Puts each card's executors on it, from rows of (appeal_id, part).
fn add_parts(cards: &mut [CardSummary], parts: Vec<(Uuid, Part)>) {
    let index: std::collections::HashMap<Uuid, usize> = cards
        .iter()
        .enumerate()
        .map(|(i, c)| (c.stored.id, i))
        .collect();
    for (appeal, part) in parts {
        if let Some(&i) = index.get(&appeal) {
            cards[i].stored.card.parts.push(part);
        }
    }
}

fn appeal_part_from_row(row: &impl StoreRow) -> Result<(Uuid, Part), StoreError> {
    Ok((
        Cols::new(row, "appeal_executors").uuid("appeal_id")?,
        part_from_row(row)?,
    ))
}

/// Reads a list of cards and their executors with one query each, the same
/// `$n` parameters bound to both.
macro_rules! card_list {
    ($store:expr, $op:literal, $cards:expr, $parts:expr $(, $bind:expr)*) => {{
        let (mut cards, parts) = on_pool!($store, |pool| {
            let cards = decode_all(
                sqlx::query($cards)
                    $(.bind($bind))*
                    .fetch_all(pool)
                    .await
                    .map_err(query_err($op))?,
                summary_from_row,
            )?;
            let parts = decode_all(
                sqlx::query($parts)
                    $(.bind($bind))*
                    .fetch_all(pool)
                    .await
                    .map_err(query_err($op))?,
                appeal_part_from_row,
            )?;
            Ok::<_, StoreError>((cards, parts))
        })?;
        add_parts(&mut cards, parts);
        Ok::<Vec<CardSummary>, StoreError>(cards)
    }};
}

const PART_COLUMNS: &str = "appeal_id, executor_code, lead, responsible, declined";

impl Store {
    /// The cards of the executor `code` (its part not declined): open ones,
    /// and those whose life ended after `closed_since`; by deadline.
    pub async fn executor_cards(
        &self,
        code: &str,
        closed_since: DateTime<Utc>,
    ) -> Result<Vec<CardSummary>, StoreError> {
        const MINE: &str = "SELECT e.appeal_id FROM appeal_executors e JOIN appeals a \
            ON a.id = e.appeal_id WHERE e.executor_code = $1 AND e.declined IS NULL \
            AND (a.finished_at IS NULL OR a.finished_at >= $2)";
        let cards = format!(
            "SELECT {} FROM appeals WHERE id IN ({MINE}) ORDER BY deadline, id",
            summary_columns!()
        );
        let parts = format!(
            "SELECT {PART_COLUMNS} FROM appeal_executors WHERE appeal_id IN ({MINE}) \
             ORDER BY lead DESC, executor_code"
        );
        card_list!(
            self,
            "list an executor's cards",
            &cards,
            &parts,
            code,
            DbTime::new(closed_since)
        )
    }

    /// The cards with a request or a closure proposal awaiting the contact
    /// centre, the soonest due (the oldest) first.
    pub async fn cards_awaiting_decision(&self) -> Result<Vec<CardSummary>, StoreError> {
        const CARDS: &str = concat!(
            "SELECT ",
            summary_columns!(),
            " FROM appeals WHERE pending IS NOT NULL ORDER BY pending_due, id"
        );
        let parts = format!(
            "SELECT {PART_COLUMNS} FROM appeal_executors WHERE appeal_id IN \
             (SELECT id FROM appeals WHERE pending IS NOT NULL) ORDER BY lead DESC, executor_code"
        );
        card_list!(self, "list the cards awaiting a decision", CARDS, &parts)
    }

    /// The cards sent without a subject that wait for the contact centre
    /// to classify them, the oldest first: the triage list.
    pub async fn cards_in_triage(&self) -> Result<Vec<CardSummary>, StoreError> {
        const CARDS: &str = concat!(
            "SELECT ",
            summary_columns!(),
            " FROM appeals WHERE executor = '' AND status = 'registered' ORDER BY created_at, id"
        );
        // None of them has executors yet.
        let parts = format!("SELECT {PART_COLUMNS} FROM appeal_executors WHERE 1 = 0");
        card_list!(self, "list the cards in triage", CARDS, &parts)
    }

    /// The cards in verification, the longest waiting first (by when
    /// their next attempt fell due): the operators' call-back list.
    pub async fn cards_in_verification(&self) -> Result<Vec<CardSummary>, StoreError> {
        const CARDS: &str = concat!(
            "SELECT ",
            summary_columns!(),
            " FROM appeals WHERE status = 'verification' ORDER BY verify_next_at, id"
        );
        let parts = format!(
            "SELECT {PART_COLUMNS} FROM appeal_executors WHERE appeal_id IN \
             (SELECT id FROM appeals WHERE status = 'verification') ORDER BY lead DESC, executor_code"
        );
        card_list!(self, "list the cards in verification", CARDS, &parts)
    }

    /// The cards under direct control (000 §4.1.4) still open, or closed
    /// since `closed_since`, the oldest first: the supervisors' list.
    pub async fn cards_under_direct_control(
        &self,
        closed_since: DateTime<Utc>,
    ) -> Result<Vec<CardSummary>, StoreError> {
        const WHERE: &str = "direct_control = TRUE AND (finished_at IS NULL OR finished_at >= $1)";
        let cards = format!(
            "SELECT {} FROM appeals WHERE {WHERE} ORDER BY created_at, id",
            summary_columns!()
        );
        let parts = format!(
            "SELECT {PART_COLUMNS} FROM appeal_executors WHERE appeal_id IN \
             (SELECT id FROM appeals WHERE {WHERE}) ORDER BY lead DESC, executor_code"
        );
        card_list!(
            self,
            "list the cards under direct control",
            &cards,
            &parts,
            DbTime::new(closed_since)
        )
    }

    /// The cards time can still change (delivery, warnings): what the
    /// deadline watcher keeps in view.
    pub async fn cards_to_watch(&self) -> Result<Vec<StoredCard>, StoreError> {
        // Open cards not yet marked overdue, or waiting to be delivered.
        const WATCHED: &str =
            "finished_at IS NULL AND (overdue_noted = FALSE OR delivery_at IS NOT NULL)";
        let cards = format!(
            "SELECT {} FROM appeals WHERE {WATCHED} ORDER BY deadline, id",
            summary_columns!()
        );
        let parts = format!(
            "SELECT {PART_COLUMNS} FROM appeal_executors WHERE appeal_id IN \
             (SELECT id FROM appeals WHERE {WATCHED}) ORDER BY lead DESC, executor_code"
        );
        let cards = card_list!(self, "list the cards to watch", &cards, &parts)?;
        Ok(cards.into_iter().map(|s| s.stored).collect())
    }
}

impl Store {
    /// Logs an opening of a card: who, when, from where. Kept when the user
    /// or the card goes (the login and number are copied).
    pub async fn log_card_open(&self, open: &NewOpening<'_>) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO appeal_access \
            (appeal_id, registration_number, user_id, login, role, at, address, user_agent) \
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        // A user agent is the client's text: kept, but not without bound.
        let agent = open
            .user_agent
            .map(|a| a.chars().take(256).collect::<String>());
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(DbUuid(open.appeal_id))
            .bind(open.registration_number)
            .bind(DbUuid(open.user_id))
            .bind(open.login)
            .bind(open.role)
            .bind(DbTime::new(open.at))
            .bind(open.address)
            .bind(agent.as_deref())
            .execute(pool)
            .await
            .map(drop)
            .map_err(query_err("log a card's opening")))
    }

    /// Who opened which card, newest first: all cards, or one.
    pub async fn card_openings(
        &self,
        appeal_id: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<CardOpening>, StoreError> {
        const ALL: &str = "SELECT registration_number, login, role, at, address, user_agent \
            FROM appeal_access ORDER BY at DESC, id DESC LIMIT $1";
        const ONE: &str = "SELECT registration_number, login, role, at, address, user_agent \
            FROM appeal_access WHERE appeal_id = $2 ORDER BY at DESC, id DESC LIMIT $1";
        on_pool!(self, |pool| {
            let query = match appeal_id {
                None => sqlx::query(ALL).bind(i64::from(limit)),
                Some(id) => sqlx::query(ONE).bind(i64::from(limit)).bind(DbUuid(id)),
            };
            decode_all(
                query
                    .fetch_all(pool)
                    .await
                    .map_err(query_err("read the card access log"))?,
                opening_from_row,
            )
        })
    }
}

/// An opening of a card, to log.
#[derive(Debug, Clone)]
pub struct NewOpening<'a> {
    pub appeal_id: Uuid,
    pub registration_number: &'a str,
    pub user_id: Uuid,
    pub login: &'a str,
    pub role: &'a str,
    pub address: &'a str,
    pub user_agent: Option<&'a str>,
    pub at: DateTime<Utc>,
}

/// One opening of a card, from the access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardOpening {
    pub registration_number: String,
    pub login: String,
    pub role: String,
    pub at: DateTime<Utc>,
    pub address: String,
    pub user_agent: Option<String>,
}

fn opening_from_row(row: &impl StoreRow) -> Result<CardOpening, StoreError> {
    let c = Cols::new(row, "appeal_access");
    Ok(CardOpening {
        registration_number: c.get("registration_number")?,
        login: c.get("login")?,
        role: c.get("role")?,
        at: c.time("at")?,
        address: c.get("address")?,
        user_agent: c.get("user_agent")?,
    })
}

impl Store {
    /// Every card, or those of one executor (its part not declined) and/or
    /// in one state, by deadline: for `hotline appeal list`.
    pub async fn card_list(
        &self,
        executor: Option<&str>,
        status: Option<AppealStatus>,
    ) -> Result<Vec<CardSummary>, StoreError> {
        // Empty text stands for "any": one statement for every filter.
        const WHERE: &str = "($1 = '' OR id IN (SELECT appeal_id FROM appeal_executors \
            WHERE executor_code = $1 AND declined IS NULL)) AND ($2 = '' OR status = $2)";
        let cards = format!(
            "SELECT {} FROM appeals WHERE {WHERE} ORDER BY deadline, id",
            summary_columns!()
        );
        let parts = format!(
            "SELECT {PART_COLUMNS} FROM appeal_executors WHERE appeal_id IN \
             (SELECT id FROM appeals WHERE {WHERE}) ORDER BY lead DESC, executor_code"
        );
        card_list!(
            self,
            "list cards",
            &cards,
            &parts,
            executor.unwrap_or(""),
            status.map(|s| s.as_str()).unwrap_or("")
        )
    }
}

impl Store {
    /// Marks a file of the card as proof of the work (000 §3.1.5).
    pub async fn mark_proof(&self, appeal_id: Uuid, id: Uuid) -> Result<(), StoreError> {
        const SQL: &str =
            "UPDATE appeal_attachments SET proof = TRUE WHERE id = $1 AND appeal_id = $2";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(DbUuid(id))
            .bind(DbUuid(appeal_id))
            .execute(pool)
            .await
            .map(drop)
            .map_err(query_err("mark an attachment as proof")))
    }
}
