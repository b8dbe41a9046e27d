//! The block list: numbers whose calls never reach the IVR or an operator
//! (000 §2.5.2), e-mail addresses and messenger accounts whose appeals are
//! refused, each block with its reason, who set it and until when, and
//! every attempt from a blocked contact.
//!
//! Contacts are stored in the one form of [`crate::contact::ContactKey`]
//! (a number in E.164, `mailto:…`, `telegram:…`, `viber:…`), made by the
//! caller of these functions, so every written form of a contact is one
//! block. At most one block is in force per contact; lifted and expired
//! blocks stay as history.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::encoding::{Cols, DbTime, DbUuid, StoreRow};
use super::{BeginWrite, Store, StoreError, decode_all, insert_err, query_err};
use crate::phone::Pii;
use tracing::info;

/// A block, in force or ended (as the API shows it, too).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct BlockedNumber {
    pub id: Uuid,
    /// The contact as stored ([`crate::contact::ContactKey::stored`]): a
    /// number in E.164, `mailto:…`, `telegram:…` or `viber:…`.
    pub number: String,
    /// `phone`, `email`, `telegram` or `viber`.
    #[schema(value_type = String, example = "phone")]
    pub kind: &'static str,
    pub reason: String,
    /// The login of who set it; `None` from the command line.
    pub blocked_by: Option<String>,
    pub blocked_at: DateTime<Utc>,
    /// `None`: until lifted.
    pub until: Option<DateTime<Utc>>,
    /// The call that led to it.
    pub call_id: Option<Uuid>,
    pub ended_at: Option<DateTime<Utc>>,
    pub ended_by: Option<String>,
    /// `lifted`, `expired` or `replaced`.
    pub end_reason: Option<String>,
    /// Calls from the number while it was blocked.
    pub attempts: u64,
    pub last_attempt: Option<DateTime<Utc>>,
}

impl BlockedNumber {
    /// Whether the block keeps callers out at `now`.
    pub fn in_force(&self, now: DateTime<Utc>) -> bool {
        self.ended_at.is_none() && self.until.is_none_or(|u| u > now)
    }
}

macro_rules! block_select {
    () => {
        "SELECT b.id, b.number, b.reason, ub.login AS blocked_by_login, b.blocked_at, b.until, \
         b.call_id, b.ended_at, ue.login AS ended_by_login, b.end_reason, \
         (SELECT count(*) FROM block_attempts t WHERE t.block_id = b.id) AS attempts, \
         (SELECT max(t.at) FROM block_attempts t WHERE t.block_id = b.id) AS last_attempt \
         FROM blocked_numbers b \
         LEFT JOIN users ub ON ub.id = b.blocked_by LEFT JOIN users ue ON ue.id = b.ended_by"
    };
}

fn block_from_row(row: &impl StoreRow) -> Result<BlockedNumber, StoreError> {
    let c = Cols::new(row, "blocked_numbers");
    Ok(BlockedNumber {
        id: c.uuid("id")?,
        kind: crate::contact::kind_of(&c.get::<String>("number")?),
        number: c.get("number")?,
        reason: c.get("reason")?,
        blocked_by: c.get("blocked_by_login")?,
        blocked_at: c.time("blocked_at")?,
        until: c.opt_time("until")?,
        call_id: c.opt_uuid("call_id")?,
        ended_at: c.opt_time("ended_at")?,
        ended_by: c.get("ended_by_login")?,
        end_reason: c.get("end_reason")?,
        attempts: c.int::<i64, u64>("attempts")?,
        last_attempt: c.opt_time("last_attempt")?,
    })
}

/// A new block's details.
#[derive(Debug, Clone)]
pub struct NewBlock<'a> {
    /// [`crate::contact::ContactKey::stored`].
    pub number: &'a str,
    pub reason: &'a str,
    pub by: Option<Uuid>,
    pub until: Option<DateTime<Utc>>,
    pub call_id: Option<Uuid>,
}

impl Store {
    /// Blocks a number from `now`. A block in force that lasts at least as
    /// long is kept as it is (a new block never shortens one: an
    /// operator's week never turns a supervisor's "until lifted" into a
    /// week); otherwise the old one ends (`replaced`) and this one takes its
    /// place. Returns the block in force and whether it is the new one.
    /// Blocks whose time has passed are ended (and logged) first.
    /// `Invalid` for a contact not in its stored form, a blank reason or
    /// an `until` not after `now`.
    pub async fn block_number(
        &self,
        block: &NewBlock<'_>,
        now: DateTime<Utc>,
    ) -> Result<(BlockedNumber, bool), StoreError> {
        let number = block.number.trim();
        if crate::contact::ContactKey::from_stored(number).is_none() {
            return Err(StoreError::Invalid {
                field: "number",
                reason: "must be a number in E.164 (+380…), mailto:, telegram: or viber:".into(),
            });
        }
        let reason = block.reason.trim();
        if reason.is_empty() || reason.chars().count() > 500 {
            return Err(StoreError::Invalid {
                field: "reason",
                reason: "must be 1 to 500 characters".into(),
            });
        }
        if block.until.is_some_and(|u| u <= now) {
            return Err(StoreError::Invalid {
                field: "until",
                reason: "must be in the future".into(),
            });
        }
        for ended in self.expire_blocks(now).await? {
            info!(number = %Pii(ended.number.clone()), until = ?ended.until, "block expired");
        }
        // Two blocks of one number at once: the second finds the first in
        // force (the unique index stops a second insert) and decides again.
        let mut tries = 0;
        loop {
            match self.replace_block(number, reason, block, now).await {
                Err(StoreError::AlreadyExists { .. }) if tries == 0 => tries += 1,
                other => return other,
            }
        }
    }

    async fn replace_block(
        &self,
        number: &str,
        reason: &str,
        block: &NewBlock<'_>,
        now: DateTime<Utc>,
    ) -> Result<(BlockedNumber, bool), StoreError> {
        const IN_FORCE: &str = "SELECT id, until FROM blocked_numbers \
            WHERE number = $1 AND ended_at IS NULL";
        const END: &str = "UPDATE blocked_numbers SET ended_at = $2, ended_by = $3, \
            end_reason = 'replaced' WHERE id = $1";
        const INSERT: &str = "INSERT INTO blocked_numbers \
            (id, number, reason, blocked_by, blocked_at, until, call_id) \
            VALUES ($1, $2, $3, $4, $5, $6, $7)";
        let id = Uuid::new_v4();
        let kept: Option<Uuid> = on_pool!(self, |pool| async {
            let mut tx = pool.begin_write().await?;
            let current = sqlx::query(IN_FORCE)
                .bind(number)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(row) = current {
                let c = Cols::new(&row, "blocked_numbers");
                let (old, old_until) = match (c.uuid("id"), c.opt_time("until")) {
                    (Ok(id), Ok(until)) => (id, until),
                    _ => return Err(sqlx::Error::Decode("a block in force".into())),
                };
                let longer = match (old_until, block.until) {
                    (None, _) => true,
                    (Some(_), None) => false,
                    (Some(old), Some(new)) => old >= new,
                };
                if longer {
                    return Ok(Some(old));
                }
                sqlx::query(END)
                    .bind(DbUuid(old))
                    .bind(DbTime::new(now))
                    .bind(block.by.map(DbUuid))
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(INSERT)
                .bind(DbUuid(id))
                .bind(number)
                .bind(reason)
                .bind(block.by.map(DbUuid))
                .bind(DbTime::new(now))
                .bind(block.until.map(DbTime::new))
                .bind(block.call_id.map(DbUuid))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(None)
        }
        .await
        .map_err(|e| {
            if e.as_database_error()
                .is_some_and(|d| d.is_unique_violation())
            {
                StoreError::AlreadyExists {
                    what: "block in force on",
                    key: number.to_owned(),
                }
            } else {
                insert_err("block a number", None, block.call_id.map(|c| ("call", c)))(e)
            }
        }))?;
        let (shown, new) = match kept {
            Some(old) => (old, false),
            None => (id, true),
        };
        let found = self.block_by_id(shown).await?.ok_or(StoreError::NotFound {
            what: "block",
            id: shown,
        })?;
        Ok((found, new))
    }

    async fn block_by_id(&self, id: Uuid) -> Result<Option<BlockedNumber>, StoreError> {
        const SQL: &str = concat!(block_select!(), " WHERE b.id = $1");
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(DbUuid(id))
            .fetch_optional(pool)
            .await
            .map_err(query_err("read a block"))?
            .map(|row| block_from_row(&row))
            .transpose())
    }

    /// The block in force on `number` (E.164) at `now`, if any: what the
    /// call path asks of every call.
    pub async fn active_block(
        &self,
        number: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(Uuid, String)>, StoreError> {
        const SQL: &str = "SELECT id, reason FROM blocked_numbers \
            WHERE number = $1 AND ended_at IS NULL AND (until IS NULL OR until > $2)";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(number)
            .bind(DbTime::new(now))
            .fetch_optional(pool)
            .await
            .map_err(query_err("look up a block"))?
            .map(|row| {
                let c = Cols::new(&row, "blocked_numbers");
                Ok((c.uuid("id")?, c.get("reason")?))
            })
            .transpose())
    }

    /// The first of `contacts` (as people typed them: a phone, an e-mail,
    /// another contact) with a block in force at `now`, the attempt
    /// counted on that block with `action` (the channel that refused it).
    /// A text that is no contact is passed over.
    pub async fn blocked_contact(
        &self,
        contacts: &[&String],
        numbering: &crate::phone::NumberingPlan,
        now: DateTime<Utc>,
        action: &str,
    ) -> Result<Option<crate::contact::ContactKey>, StoreError> {
        for text in contacts {
            let Some(key) = crate::contact::ContactKey::parse(text, numbering) else {
                continue;
            };
            if let Some((block, _)) = self.active_block(&key.stored(), now).await? {
                if let Err(e) = self.record_block_attempt(block, None, now, action).await {
                    tracing::warn!(error = %e, action, "a refused appeal could not be noted on its block");
                }
                return Ok(Some(key));
            }
        }
        Ok(None)
    }

    /// Lifts the block on `number`; the ended block, or `None` if none was
    /// in force.
    pub async fn lift_block(
        &self,
        number: &str,
        by: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<Option<BlockedNumber>, StoreError> {
        const SQL: &str = "UPDATE blocked_numbers SET ended_at = $2, ended_by = $3, \
            end_reason = 'lifted' \
            WHERE number = $1 AND ended_at IS NULL AND (until IS NULL OR until > $2) RETURNING id";
        let id: Option<DbUuid> = on_pool!(self, |pool| sqlx::query_scalar(SQL)
            .bind(number)
            .bind(DbTime::new(now))
            .bind(by.map(DbUuid))
            .fetch_optional(pool)
            .await
            .map_err(query_err("lift a block")))?;
        match id {
            Some(id) => self.block_by_id(id.0).await,
            None => Ok(None),
        }
    }

    /// Ends the blocks whose time has passed by `now` (as of their `until`)
    /// and returns them, so each expiry is logged once.
    pub async fn expire_blocks(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<BlockedNumber>, StoreError> {
        const SQL: &str = "UPDATE blocked_numbers SET ended_at = until, end_reason = 'expired' \
            WHERE ended_at IS NULL AND until IS NOT NULL AND until <= $1 RETURNING id";
        let ids: Vec<DbUuid> = on_pool!(self, |pool| sqlx::query_scalar(SQL)
            .bind(DbTime::new(now))
            .fetch_all(pool)
            .await
            .map_err(query_err("expire blocks")))?;
        let mut out = Vec::new();
        for id in ids {
            out.extend(self.block_by_id(id.0).await?);
        }
        Ok(out)
    }

    /// Counts a call from a blocked number and what it got (`rejected`,
    /// `prompt`).
    pub async fn record_block_attempt(
        &self,
        block_id: Uuid,
        call_id: Option<Uuid>,
        at: DateTime<Utc>,
        action: &str,
    ) -> Result<(), StoreError> {
        const SQL: &str =
            "INSERT INTO block_attempts (block_id, call_id, at, action) VALUES ($1, $2, $3, $4)";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(DbUuid(block_id))
            .bind(call_id.map(DbUuid))
            .bind(DbTime::new(at))
            .bind(action)
            .execute(pool)
            .await
            .map(|_| ())
            .map_err(insert_err(
                "count a blocked call",
                None,
                Some(("block", block_id))
            )))
    }

    /// The blocks in force at `now`, newest first; with `history`, every
    /// block ever set.
    pub async fn blocked_numbers(
        &self,
        now: DateTime<Utc>,
        history: bool,
    ) -> Result<Vec<BlockedNumber>, StoreError> {
        const ACTIVE: &str = concat!(
            block_select!(),
            " WHERE b.ended_at IS NULL AND (b.until IS NULL OR b.until > $1) \
             ORDER BY b.blocked_at DESC, b.id"
        );
        const ALL: &str = concat!(
            block_select!(),
            " WHERE b.blocked_at <= $1 ORDER BY b.blocked_at DESC, b.id"
        );
        let sql = if history { ALL } else { ACTIVE };
        on_pool!(self, |pool| decode_all(
            sqlx::query(sql)
                .bind(DbTime::new(now))
                .fetch_all(pool)
                .await
                .map_err(query_err("list blocked numbers"))?,
            block_from_row
        ))
    }
}
