//! What the pruner reads and writes: recordings and cards past their
//! retention period, claimed so that two pruners never take the same row;
//! legal holds that keep them; and the rows the start-up sweep reconciles
//! with the files on disk.
//!
//! The database decides what is due (the file side is the pruner's, in
//! `crate::retention`). A recording is claimed by marking it purged in one
//! statement, before its file is removed: a crash in between leaves a
//! purged row whose file the sweep removes, never a row pointing at a
//! missing file. Cards are deleted in one transaction per batch, their
//! attachments' paths returned for the pruner to remove after the commit.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::encoding::{Cols, DbTime, DbUuid, StoreRow};
use super::{Backend, BeginWrite, Store, StoreError, decode_all, insert_err, query_err};

/// A recording the pruner removes (or would).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueRecording {
    pub id: Uuid,
    pub call_id: Uuid,
    /// Relative to the recordings directory.
    pub path: String,
    pub started_at: DateTime<Utc>,
}

/// A card the pruner deletes (or would).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueAppeal {
    pub id: Uuid,
    pub registration_number: String,
    pub created_at: DateTime<Utc>,
}

/// What a legal hold keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldTarget {
    Recording(Uuid),
    /// A card, and the recordings of its calls.
    Appeal(Uuid),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegalHold {
    pub id: Uuid,
    pub target: HoldTarget,
    pub reason: String,
    pub set_by: Option<String>,
    pub set_at: DateTime<Utc>,
    pub released_at: Option<DateTime<Utc>>,
}

/// No hold in force on the recording `r`, nor on a card of its call.
macro_rules! recording_not_held {
    () => {
        "NOT EXISTS (SELECT 1 FROM legal_holds h WHERE h.released_at IS NULL AND \
         (h.recording_id = r.id OR h.appeal_id IN \
           (SELECT a.id FROM appeals a WHERE a.call_id = r.call_id \
            UNION SELECT ac.appeal_id FROM appeal_calls ac WHERE ac.call_id = r.call_id)))"
    };
}

macro_rules! appeal_not_held {
    () => {
        "NOT EXISTS (SELECT 1 FROM legal_holds h WHERE h.released_at IS NULL AND h.appeal_id = a.id)"
    };
}

fn due_recording(row: &impl StoreRow) -> Result<DueRecording, StoreError> {
    let c = Cols::new(row, "recordings");
    Ok(DueRecording {
        id: c.uuid("id")?,
        call_id: c.uuid("call_id")?,
        path: c.get("path")?,
        started_at: c.time("started_at")?,
    })
}

fn hold_from_row(row: &impl StoreRow) -> Result<LegalHold, StoreError> {
    let c = Cols::new(row, "legal_holds");
    let target = match (c.opt_uuid("recording_id")?, c.opt_uuid("appeal_id")?) {
        (Some(r), None) => HoldTarget::Recording(r),
        (None, Some(a)) => HoldTarget::Appeal(a),
        _ => {
            return Err(StoreError::Corrupt {
                table: "legal_holds",
                column: "recording_id",
                reason: "a hold must name one recording or one card".into(),
            });
        }
    };
    Ok(LegalHold {
        id: c.uuid("id")?,
        target,
        reason: c.get("reason")?,
        set_by: c.get("login")?,
        set_at: c.time("set_at")?,
        released_at: c.opt_time("released_at")?,
    })
}

impl Store {
    /// Recordings started before `cutoff`, not purged and not held, oldest
    /// first: what a prune would remove.
    pub async fn recordings_due(
        &self,
        cutoff: DateTime<Utc>,
    ) -> Result<Vec<DueRecording>, StoreError> {
        const SQL: &str = concat!(
            "SELECT r.id, r.call_id, r.path, r.started_at FROM recordings r \
             WHERE r.purged_at IS NULL AND r.started_at < $1 AND ",
            recording_not_held!(),
            " ORDER BY r.started_at, r.id"
        );
        on_pool!(self, |pool| decode_all(
            sqlx::query(SQL)
                .bind(DbTime::new(cutoff))
                .fetch_all(pool)
                .await
                .map_err(query_err("list recordings due"))?,
            due_recording
        ))
    }

    /// Claims up to `limit` recordings due (as [`Store::recordings_due`]):
    /// marks them purged at `now` and returns them. A row is claimed by one
    /// caller only, however many run at once.
    pub async fn claim_recordings(
        &self,
        cutoff: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DueRecording>, StoreError> {
        // On PostgreSQL the rows are locked as they are picked, in order,
        // once (a CTE with a locking clause is evaluated once; a locking
        // subquery under `IN` may be rescanned and pick again), and rows
        // another claimant holds are passed over: two claimants take
        // disjoint batches and never wait on each other's rows (an UPDATE
        // of an unlocked pick locks in whatever order the plan visits, and
        // two of them deadlock). SQLite's write lock lets one claimant in
        // at a time.
        const PICK: &str = concat!(
            "SELECT r.id FROM recordings r WHERE r.purged_at IS NULL AND r.started_at < $1 AND ",
            recording_not_held!(),
            " ORDER BY r.started_at, r.id LIMIT $3"
        );
        const SET: &str = "UPDATE recordings SET purged_at = $2, purge_reason = 'retention'";
        const RETURNING: &str = " RETURNING recordings.id, recordings.call_id, \
            recordings.path, recordings.started_at";
        let claim = match self.backend {
            Backend::Sqlite(_) => format!("{SET} WHERE id IN ({PICK}){RETURNING}"),
            Backend::Postgres(_) => format!(
                "WITH picked AS ({PICK} FOR UPDATE OF r SKIP LOCKED) \
                 {SET} FROM picked WHERE recordings.id = picked.id{RETURNING}"
            ),
        };
        // Holds set while the claim ran (PostgreSQL reads the subquery from
        // the statement's snapshot) are seen by a second statement; those
        // recordings are given back before the claim commits. A hold that
        // comes later waits for the claim's row locks, then finds the
        // recording purged (`set_hold`).
        const HELD: &str = concat!(
            "SELECT r.id FROM recordings r WHERE r.id = $1 AND NOT ",
            recording_not_held!()
        );
        const GIVE_BACK: &str =
            "UPDATE recordings SET purged_at = NULL, purge_reason = NULL WHERE id = $1";
        on_pool!(self, |pool| async {
            let mut tx = pool.begin_write().await?;
            let rows = sqlx::query(&claim)
                .bind(DbTime::new(cutoff))
                .bind(DbTime::new(now))
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await?;
            let mut claimed = Vec::with_capacity(rows.len());
            for row in rows {
                let Ok(rec) = due_recording(&row) else {
                    continue;
                };
                let held = sqlx::query(HELD)
                    .bind(DbUuid(rec.id))
                    .fetch_optional(&mut *tx)
                    .await?
                    .is_some();
                if held {
                    sqlx::query(GIVE_BACK)
                        .bind(DbUuid(rec.id))
                        .execute(&mut *tx)
                        .await?;
                } else {
                    claimed.push(rec);
                }
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(claimed)
        }
        .await
        .map_err(query_err("claim recordings to prune")))
    }

    /// Of these recording ids, the ones with a row, and whether (and why)
    /// each was purged: `None` kept, `Some("retention")`, `Some("missing")`.
    /// Asked in batches, so a sweep of a full volume stays quick.
    pub async fn recordings_known(
        &self,
        ids: &[Uuid],
    ) -> Result<Vec<(Uuid, Option<String>)>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for batch in ids.chunks(500) {
            let marks: Vec<String> = (1..=batch.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT id, purged_at, purge_reason FROM recordings WHERE id IN ({})",
                marks.join(", ")
            );
            let rows = on_pool!(self, |pool| {
                let mut q = sqlx::query(&sql);
                for id in batch {
                    q = q.bind(DbUuid(*id));
                }
                decode_all(
                    q.fetch_all(pool)
                        .await
                        .map_err(query_err("look up recordings"))?,
                    |row| {
                        let c = Cols::new(row, "recordings");
                        let purged = c.opt_time("purged_at")?.map(|_| ());
                        let reason: Option<String> = c.get("purge_reason")?;
                        Ok((c.uuid("id")?, purged.map(|_| reason.unwrap_or_default())))
                    },
                )
            })?;
            out.extend(rows);
        }
        Ok(out)
    }

    /// Every finished recording whose file should exist: (id, path).
    /// Recordings still being written (calls in progress) are left out.
    pub async fn kept_recordings(&self) -> Result<Vec<(Uuid, String)>, StoreError> {
        const SQL: &str = "SELECT id, path FROM recordings \
            WHERE purged_at IS NULL AND ended_at IS NOT NULL ORDER BY id";
        on_pool!(self, |pool| decode_all(
            sqlx::query(SQL)
                .fetch_all(pool)
                .await
                .map_err(query_err("list kept recordings"))?,
            |row| {
                let c = Cols::new(row, "recordings");
                Ok((c.uuid("id")?, c.get("path")?))
            }
        ))
    }

    /// A recording marked missing whose file is back (a volume mounted
    /// late): kept again. `false` if it was not marked missing.
    pub async fn unmark_recording_missing(&self, id: Uuid) -> Result<bool, StoreError> {
        const SQL: &str = "UPDATE recordings SET purged_at = NULL, purge_reason = NULL \
            WHERE id = $1 AND purge_reason = 'missing'";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(DbUuid(id))
            .execute(pool)
            .await
            .map(|r| r.rows_affected() > 0)
            .map_err(query_err("unmark a recording")))
    }

    /// Marks a recording whose file is gone; `false` if it was marked
    /// already.
    pub async fn mark_recording_missing(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        const SQL: &str = "UPDATE recordings SET purged_at = $2, purge_reason = 'missing' \
            WHERE id = $1 AND purged_at IS NULL";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(DbUuid(id))
            .bind(DbTime::new(now))
            .execute(pool)
            .await
            .map(|r| r.rows_affected() > 0)
            .map_err(query_err("mark a recording missing")))
    }

    /// Cards whose life ended (closed or dismissed) before `cutoff` and not
    /// held, oldest first: a card's retention counts from its closure, and
    /// open or long-term cards are never due.
    pub async fn appeals_due(&self, cutoff: DateTime<Utc>) -> Result<Vec<DueAppeal>, StoreError> {
        const SQL: &str = concat!(
            "SELECT a.id, a.registration_number, a.created_at FROM appeals a \
             WHERE a.finished_at < $1 AND ",
            appeal_not_held!(),
            " ORDER BY a.finished_at, a.id"
        );
        on_pool!(self, |pool| decode_all(
            sqlx::query(SQL)
                .bind(DbTime::new(cutoff))
                .fetch_all(pool)
                .await
                .map_err(query_err("list cards due"))?,
            due_appeal_from_row
        ))
    }

    /// Deletes up to `limit` cards due (as [`Store::appeals_due`]) with
    /// everything that hangs off them (attached calls' links, attachment
    /// rows, released holds; repeats of them lose the link), in one
    /// transaction. Returns the cards this call deleted (another pruner
    /// running at once deletes the others) and their attachments' paths,
    /// for the files to be removed after.
    pub async fn delete_appeals(
        &self,
        cutoff: DateTime<Utc>,
        limit: u32,
    ) -> Result<(Vec<DueAppeal>, Vec<String>), StoreError> {
        const PICK: &str = concat!(
            "SELECT a.id FROM appeals a WHERE a.finished_at < $1 AND ",
            appeal_not_held!(),
            " ORDER BY a.finished_at, a.id LIMIT $2"
        );
        // The card is locked before its holds are read (PostgreSQL): a hold
        // being set waits, then finds the card gone; a hold set just before
        // is seen by the statements that follow the lock.
        let lock: &str = match self.backend {
            Backend::Sqlite(_) => "SELECT id FROM appeals WHERE id = $1 AND finished_at < $2",
            Backend::Postgres(_) => {
                "SELECT id FROM appeals WHERE id = $1 AND finished_at < $2 FOR UPDATE"
            }
        };
        const HELD: &str = "SELECT 1 FROM legal_holds WHERE appeal_id = $1 AND released_at IS NULL";
        const FILES: &str = "DELETE FROM appeal_attachments WHERE appeal_id = $1 RETURNING path";
        const UNLINK: &str = "UPDATE appeals SET repeat_of = NULL WHERE repeat_of = $1";
        const DELETE: &str = concat!(
            "DELETE FROM appeals AS a WHERE a.id = $1 AND a.finished_at < $2 AND ",
            appeal_not_held!(),
            " RETURNING id, registration_number, created_at"
        );
        on_pool!(self, |pool| async {
            let mut tx = pool.begin_write().await?;
            let ids: Vec<DbUuid> = sqlx::query_scalar(PICK)
                .bind(DbTime::new(cutoff))
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await?;
            let mut cards = Vec::new();
            let mut files = Vec::new();
            for id in ids {
                let locked = sqlx::query(lock)
                    .bind(DbUuid(id.0))
                    .bind(DbTime::new(cutoff))
                    .fetch_optional(&mut *tx)
                    .await?
                    .is_some();
                let held = sqlx::query(HELD)
                    .bind(DbUuid(id.0))
                    .fetch_optional(&mut *tx)
                    .await?
                    .is_some();
                if !locked || held {
                    continue;
                }
                let paths: Vec<String> = sqlx::query_scalar(FILES)
                    .bind(DbUuid(id.0))
                    .fetch_all(&mut *tx)
                    .await?;
                sqlx::query(UNLINK)
                    .bind(DbUuid(id.0))
                    .execute(&mut *tx)
                    .await?;
                let row = sqlx::query(DELETE)
                    .bind(DbUuid(id.0))
                    .bind(DbTime::new(cutoff))
                    .fetch_optional(&mut *tx)
                    .await?;
                if let Some(row) = row {
                    cards.push(row);
                    files.extend(paths);
                }
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>((cards, files))
        }
        .await
        .map_err(query_err("delete cards past retention"))
        .and_then(|(rows, files)| {
            let cards = decode_all(rows, due_appeal_from_row)?;
            Ok((cards, files))
        }))
    }

    /// Every attachment row: (id, path), for the start-up sweep.
    pub async fn attachment_paths(&self) -> Result<Vec<(Uuid, String)>, StoreError> {
        const SQL: &str = "SELECT id, path FROM appeal_attachments ORDER BY id";
        on_pool!(self, |pool| decode_all(
            sqlx::query(SQL)
                .fetch_all(pool)
                .await
                .map_err(query_err("list attachments"))?,
            |row| {
                let c = Cols::new(row, "appeal_attachments");
                Ok((c.uuid("id")?, c.get("path")?))
            }
        ))
    }

    /// Removes an attachment's row (its file is gone).
    pub async fn delete_attachment_row(&self, id: Uuid) -> Result<bool, StoreError> {
        const SQL: &str = "DELETE FROM appeal_attachments WHERE id = $1";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(DbUuid(id))
            .execute(pool)
            .await
            .map(|r| r.rows_affected() > 0)
            .map_err(query_err("delete an attachment row")))
    }

    // --- legal holds ----------------------------------------------------------------

    /// Puts a recording or a card under legal hold. `NotFound` if it does
    /// not exist, `Invalid` for a blank reason.
    pub async fn set_hold(
        &self,
        target: HoldTarget,
        reason: &str,
        by: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<Uuid, StoreError> {
        const SQL: &str = "INSERT INTO legal_holds \
            (id, recording_id, appeal_id, reason, set_by, set_at) VALUES ($1, $2, $3, $4, $5, $6)";
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 500 {
            return Err(StoreError::Invalid {
                field: "reason",
                reason: "must be 1 to 500 characters".into(),
            });
        }
        let id = Uuid::new_v4();
        let (recording, appeal, parent) = match target {
            HoldTarget::Recording(r) => (Some(r), None, ("recording", r)),
            HoldTarget::Appeal(a) => (None, Some(a), ("appeal", a)),
        };
        // What the hold keeps is locked first (PostgreSQL), so a prune
        // running now either finishes before (and the hold sees what is
        // left) or waits for the hold.
        let (lock, target_id): (&str, Uuid) = match (target, &self.backend) {
            (HoldTarget::Recording(r), Backend::Postgres(_)) => (
                "SELECT id FROM recordings WHERE id = $1 AND purged_at IS NULL FOR UPDATE",
                r,
            ),
            (HoldTarget::Recording(r), Backend::Sqlite(_)) => (
                "SELECT id FROM recordings WHERE id = $1 AND purged_at IS NULL",
                r,
            ),
            (HoldTarget::Appeal(a), Backend::Postgres(_)) => (
                "SELECT r.id FROM recordings r WHERE r.purged_at IS NULL AND r.call_id IN \
                 (SELECT a.call_id FROM appeals a WHERE a.id = $1 \
                  UNION SELECT ac.call_id FROM appeal_calls ac WHERE ac.appeal_id = $1) \
                 FOR UPDATE",
                a,
            ),
            (HoldTarget::Appeal(a), Backend::Sqlite(_)) => ("SELECT $1", a),
        };
        let outcome = on_pool!(self, |pool| async {
            let mut tx = pool.begin_write().await?;
            let found = sqlx::query(lock)
                .bind(DbUuid(target_id))
                .fetch_all(&mut *tx)
                .await?;
            if recording.is_some() && found.is_empty() {
                return Ok(false);
            }
            sqlx::query(SQL)
                .bind(DbUuid(id))
                .bind(recording.map(DbUuid))
                .bind(appeal.map(DbUuid))
                .bind(reason)
                .bind(by.map(DbUuid))
                .bind(DbTime::new(now))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(true)
        }
        .await
        .map_err(insert_err("set a legal hold", None, Some(parent))))?;
        if outcome {
            return Ok(id);
        }
        // No kept recording: purged already, or none at all.
        match self.get_recording(target_id).await? {
            Some(_) => Err(StoreError::Invalid {
                field: "recording",
                reason: "its file was removed already (retention)".into(),
            }),
            None => Err(StoreError::NotFound {
                what: "recording",
                id: target_id,
            }),
        }
    }

    /// Releases a hold; `false` if it was released already. `NotFound` for
    /// an unknown hold.
    pub async fn release_hold(
        &self,
        id: Uuid,
        by: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        const SQL: &str = "UPDATE legal_holds SET released_at = $2, released_by = $3 \
            WHERE id = $1 AND released_at IS NULL";
        const EXISTS: &str = "SELECT 1 FROM legal_holds WHERE id = $1";
        let changed = on_pool!(self, |pool| sqlx::query(SQL)
            .bind(DbUuid(id))
            .bind(DbTime::new(now))
            .bind(by.map(DbUuid))
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
            .map_err(query_err("release a legal hold")))?;
        if changed == 0 && !self.exists(EXISTS, id, "look up a legal hold").await? {
            return Err(StoreError::NotFound {
                what: "legal hold",
                id,
            });
        }
        Ok(changed > 0)
    }

    /// Holds on a recording (directly, or through a card of its call) or on
    /// a card, newest first; released ones too.
    pub async fn holds_on(&self, target: HoldTarget) -> Result<Vec<LegalHold>, StoreError> {
        const ON_RECORDING: &str = "SELECT h.id, h.recording_id, h.appeal_id, h.reason, \
            u.login, h.set_at, h.released_at FROM legal_holds h \
            LEFT JOIN users u ON u.id = h.set_by \
            WHERE h.recording_id = $1 OR h.appeal_id IN \
              (SELECT a.id FROM appeals a JOIN recordings r ON r.call_id = a.call_id WHERE r.id = $1 \
               UNION SELECT ac.appeal_id FROM appeal_calls ac JOIN recordings r ON r.call_id = ac.call_id \
               WHERE r.id = $1) \
            ORDER BY h.set_at DESC, h.id";
        const ON_APPEAL: &str = "SELECT h.id, h.recording_id, h.appeal_id, h.reason, \
            u.login, h.set_at, h.released_at FROM legal_holds h \
            LEFT JOIN users u ON u.id = h.set_by WHERE h.appeal_id = $1 \
            ORDER BY h.set_at DESC, h.id";
        let (sql, id) = match target {
            HoldTarget::Recording(r) => (ON_RECORDING, r),
            HoldTarget::Appeal(a) => (ON_APPEAL, a),
        };
        on_pool!(self, |pool| decode_all(
            sqlx::query(sql)
                .bind(DbUuid(id))
                .fetch_all(pool)
                .await
                .map_err(query_err("list legal holds"))?,
            hold_from_row
        ))
    }
}

/// Calls older than the cut-off whose caller is still on record, and no
/// held card's: their personal data goes with the cards'.
macro_rules! calls_to_anonymise {
    () => {
        "SELECT c.id FROM calls c WHERE c.arrived_at < $1 \
         AND (c.caller_raw <> '' OR c.caller_e164 IS NOT NULL) \
         AND NOT EXISTS (SELECT 1 FROM legal_holds h WHERE h.released_at IS NULL AND h.appeal_id IN \
           (SELECT a.id FROM appeals a WHERE a.call_id = c.id \
            UNION SELECT ac.appeal_id FROM appeal_calls ac WHERE ac.call_id = c.id)) \
         AND NOT EXISTS (SELECT 1 FROM legal_holds h JOIN recordings r ON r.id = h.recording_id \
           WHERE h.released_at IS NULL AND r.call_id = c.id)"
    };
}

impl Store {
    /// How many calls [`Store::anonymise_calls`] would clear.
    pub async fn calls_due(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        const SQL: &str = concat!("SELECT count(*) FROM (", calls_to_anonymise!(), ") due");
        let n: i64 = on_pool!(self, |pool| sqlx::query_scalar(SQL)
            .bind(DbTime::new(cutoff))
            .fetch_one(pool)
            .await
            .map_err(query_err("count calls due")))?;
        Ok(n.max(0) as u64)
    }

    /// Clears the caller's number from up to `limit` calls older than
    /// `cutoff` and deletes their events (the digits a caller typed, the
    /// path through the menu), keeping the call's times and outcome for the
    /// statistics. Returns how many calls it cleared.
    pub async fn anonymise_calls(
        &self,
        cutoff: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64, StoreError> {
        const CLEAR: &str = concat!(
            "UPDATE calls SET caller_raw = '', caller_e164 = NULL WHERE id IN (",
            calls_to_anonymise!(),
            " LIMIT $2) RETURNING id"
        );
        const EVENTS: &str = "DELETE FROM call_events WHERE call_id = $1";
        on_pool!(self, |pool| async {
            let mut tx = pool.begin_write().await?;
            let ids: Vec<DbUuid> = sqlx::query_scalar(CLEAR)
                .bind(DbTime::new(cutoff))
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await?;
            for id in &ids {
                sqlx::query(EVENTS)
                    .bind(DbUuid(id.0))
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(ids.len() as u64)
        }
        .await
        .map_err(query_err("clear old calls' personal data")))
    }
}

fn due_appeal_from_row(row: &impl StoreRow) -> Result<DueAppeal, StoreError> {
    let c = Cols::new(row, "appeals");
    Ok(DueAppeal {
        id: c.uuid("id")?,
        registration_number: c.get("registration_number")?,
        created_at: c.time("created_at")?,
    })
}
