//! Recordings: a recording's row from the call's answer to its end (through
//! the group commit, [`super::batch`]); what supervisors search and listen
//! to: recordings with their calls (caller, queue, operator, wait, linked
//! appeals), found by date, caller, operator, queue, call id, appeal or
//! duration; and the access log that every play or download writes (000
//! §2.7: personal data).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::batch::{RecordingEnd, RecordingRow, Write};
use super::encoding::{Cols, DbTime, DbUuid, StoreRow};
use super::{Store, StoreError, decode_all, query_err};
use crate::appeal::number::digits as registration_digits;

/// A recording as first recorded, when its file is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecording {
    pub id: Uuid,
    pub call_id: Uuid,
    /// File path relative to the recordings directory.
    pub path: String,
    pub started_at: DateTime<Utc>,
    pub sample_rate: u32,
    pub channels: u16,
}

/// A recording as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingRecord {
    pub id: Uuid,
    pub call_id: Uuid,
    /// File path relative to the recordings directory.
    pub path: String,
    pub started_at: DateTime<Utc>,
    /// `None` until [`Store::finish_recording`](super::Store::finish_recording).
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<u64>,
    pub size_bytes: Option<u64>,
    pub sample_rate: u32,
    pub channels: u16,
    /// When the pruner removed the file (the row stays); `None` while the
    /// file is kept.
    pub purged_at: Option<DateTime<Utc>>,
}

/// A recording's end, stored with its call's
/// ([`Store::call_finished`](super::Store::call_finished)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FinishedRecording {
    pub id: Uuid,
    pub ended_at: DateTime<Utc>,
    pub duration_ms: u64,
    pub size_bytes: u64,
}

macro_rules! recording_columns {
    () => {
        "id, call_id, path, started_at, ended_at, duration_ms, size_bytes, sample_rate, channels, \
         purged_at"
    };
}

fn recording_from_row(row: &impl StoreRow) -> Result<RecordingRecord, StoreError> {
    let c = Cols::new(row, "recordings");
    Ok(RecordingRecord {
        id: c.uuid("id")?,
        call_id: c.uuid("call_id")?,
        path: c.get("path")?,
        started_at: c.time("started_at")?,
        ended_at: c.opt_time("ended_at")?,
        duration_ms: c.opt_int::<i64, u64>("duration_ms")?,
        size_bytes: c.opt_int::<i64, u64>("size_bytes")?,
        sample_rate: c.int::<i32, u32>("sample_rate")?,
        channels: c.int::<i32, u16>("channels")?,
        purged_at: c.opt_time("purged_at")?,
    })
}

impl Store {
    /// Records that a recording has started.
    /// `NotFound` if its call does not exist, `AlreadyExists` if the id is
    /// taken.
    pub async fn insert_recording(&self, rec: &NewRecording) -> Result<(), StoreError> {
        let write = Write::Recording(RecordingRow::new(rec)?);
        self.writer.write(write).await.map(drop)
    }

    /// Removes the row of a recording not to be kept: a call never
    /// confirmed by ACK, where nothing was said (a flood's unacknowledged
    /// 2xx). Removing its file is the caller's part.
    pub async fn discard_recording(&self, id: Uuid) -> Result<(), StoreError> {
        const SQL: &str = "DELETE FROM recordings WHERE id = $1";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(DbUuid(id))
            .execute(pool)
            .await
            .map(drop))
        .map_err(query_err("discard a recording"))
    }

    /// Records that a recording's file is complete. Only the first call
    /// counts: returns `false` (changing nothing) if it was already
    /// finished. `NotFound` if there is no such recording.
    pub async fn finish_recording(
        &self,
        id: Uuid,
        ended_at: DateTime<Utc>,
        duration_ms: u64,
        size_bytes: u64,
    ) -> Result<bool, StoreError> {
        let end = RecordingEnd::new(FinishedRecording {
            id,
            ended_at,
            duration_ms,
            size_bytes,
        })?;
        let changed = self.writer.write(Write::RecordingEnd(end)).await?.changed;
        if changed == 0 && self.get_recording(id).await?.is_none() {
            return Err(StoreError::NotFound {
                what: "recording",
                id,
            });
        }
        Ok(changed > 0)
    }

    pub async fn get_recording(&self, id: Uuid) -> Result<Option<RecordingRecord>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            recording_columns!(),
            " FROM recordings WHERE id = $1"
        );
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(DbUuid(id))
            .fetch_optional(pool)
            .await
            .map_err(query_err("read a recording"))?
            .map(|row| recording_from_row(&row))
            .transpose())
    }

    /// Recordings of a call, in the order they started.
    pub async fn recordings_for_call(
        &self,
        call_id: Uuid,
    ) -> Result<Vec<RecordingRecord>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            recording_columns!(),
            " FROM recordings WHERE call_id = $1 ORDER BY started_at, id"
        );
        on_pool!(self, |pool| decode_all(
            sqlx::query(SQL)
                .bind(DbUuid(call_id))
                .fetch_all(pool)
                .await
                .map_err(query_err("list recordings of a call"))?,
            recording_from_row
        ))
    }

    /// Recordings never finished (after a crash, their files need their
    /// headers fixed and their length measured), oldest first.
    pub async fn unfinished_recordings(&self) -> Result<Vec<RecordingRecord>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            recording_columns!(),
            " FROM recordings WHERE ended_at IS NULL ORDER BY started_at, id"
        );
        on_pool!(self, |pool| decode_all(
            sqlx::query(SQL)
                .fetch_all(pool)
                .await
                .map_err(query_err("list unfinished recordings"))?,
            recording_from_row
        ))
    }
}

/// What to look for; every part is optional.
#[derive(Debug, Clone, Default)]
pub struct RecordingFilter {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// E.164, or as the call had it when it could not be normalised.
    pub caller: Option<String>,
    /// An operator's login: calls they answered.
    pub operator: Option<String>,
    pub queue: Option<String>,
    pub call_id: Option<Uuid>,
    /// A registration number (dashes optional): the calls of that card.
    pub appeal: Option<String>,
    pub min_duration_ms: Option<u64>,
    pub max_duration_ms: Option<u64>,
    /// Only calls this operator (by id) answered: an operator's own view.
    pub taken_by: Option<Uuid>,
    /// Also recordings whose file the pruner removed.
    pub include_purged: bool,
}

/// A recording in a list: the recording with its call's particulars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingItem {
    pub id: Uuid,
    pub call_id: Uuid,
    pub started_at: DateTime<Utc>,
    pub duration_ms: Option<u64>,
    pub size_bytes: Option<u64>,
    pub purged_at: Option<DateTime<Utc>>,
    pub caller: String,
    pub sip_call_id: String,
    /// The queue the caller first joined.
    pub queue: Option<String>,
    /// Who answered first, and after how long in the queue.
    pub operator: Option<String>,
    /// That operator's name, as people read it.
    pub operator_name: Option<String>,
    pub waited_ms: Option<u64>,
    /// Registration numbers of the cards the call is linked to.
    pub appeals: Vec<String>,
}

/// One line of the access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingAccess {
    pub id: i64,
    pub recording_id: Uuid,
    pub call_id: Uuid,
    pub login: String,
    pub role: String,
    pub at: DateTime<Utc>,
    /// `play` or `download`.
    pub action: String,
    pub range: Option<String>,
    pub address: String,
    pub user_agent: Option<String>,
}

/// A new access, as the API writes it.
#[derive(Debug, Clone)]
pub struct NewAccess<'a> {
    pub recording_id: Uuid,
    pub call_id: Uuid,
    pub user_id: Uuid,
    pub login: &'a str,
    pub role: &'a str,
    pub at: DateTime<Utc>,
    pub action: &'a str,
    pub range: Option<&'a str>,
    pub address: &'a str,
    pub user_agent: Option<&'a str>,
}

/// Filters shared by the count and the page: each `$n` is NULL to leave
/// that part out.
macro_rules! recording_where {
    () => {
        " FROM recordings r JOIN calls c ON c.id = r.call_id \
          WHERE ($1 IS NULL OR r.started_at >= $1) \
            AND ($2 IS NULL OR r.started_at < $2) \
            AND ($3 IS NULL OR c.caller_e164 = $3 OR c.caller_raw = $3) \
            AND ($4 IS NULL OR EXISTS (SELECT 1 FROM queue_events e JOIN operators o ON o.id = e.operator_id \
                 WHERE e.call_id = c.id AND e.kind = 'answered' AND o.login = $4)) \
            AND ($5 IS NULL OR EXISTS (SELECT 1 FROM queue_events e \
                 WHERE e.call_id = c.id AND e.kind = 'joined' AND e.queue = $5)) \
            AND ($6 IS NULL OR r.call_id = $6) \
            AND ($7 IS NULL OR EXISTS (SELECT 1 FROM appeals a WHERE a.registration_digits = $7 \
                 AND (a.call_id = c.id OR EXISTS (SELECT 1 FROM appeal_calls ac \
                      WHERE ac.appeal_id = a.id AND ac.call_id = c.id)))) \
            AND ($8 IS NULL OR r.duration_ms >= $8) \
            AND ($9 IS NULL OR r.duration_ms <= $9) \
            AND ($10 IS NULL OR EXISTS (SELECT 1 FROM queue_events e \
                 WHERE e.call_id = c.id AND e.kind = 'answered' AND e.operator_id = $10)) \
            AND ($11 OR r.purged_at IS NULL)"
    };
}

macro_rules! item_select {
    () => {
        "SELECT r.id, r.call_id, r.started_at, r.duration_ms, r.size_bytes, r.purged_at, \
         COALESCE(c.caller_e164, c.caller_raw) AS caller, c.sip_call_id, \
         (SELECT e.queue FROM queue_events e WHERE e.call_id = c.id AND e.kind = 'joined' \
          ORDER BY e.at, e.id LIMIT 1) AS queue, \
         (SELECT o.login FROM queue_events e JOIN operators o ON o.id = e.operator_id \
          WHERE e.call_id = c.id AND e.kind = 'answered' ORDER BY e.at, e.id LIMIT 1) AS operator, \
         (SELECT o.display_name FROM queue_events e JOIN operators o ON o.id = e.operator_id \
          WHERE e.call_id = c.id AND e.kind = 'answered' ORDER BY e.at, e.id LIMIT 1) AS operator_name, \
         (SELECT e.wait_ms FROM queue_events e WHERE e.call_id = c.id AND e.kind = 'answered' \
          ORDER BY e.at, e.id LIMIT 1) AS waited_ms"
    };
}

fn to_i64_opt(field: &'static str, v: Option<u64>) -> Result<Option<i64>, StoreError> {
    v.map(|v| super::to_i64(field, v)).transpose()
}

fn item_from_row(row: &impl StoreRow) -> Result<RecordingItem, StoreError> {
    let c = Cols::new(row, "recordings");
    Ok(RecordingItem {
        id: c.uuid("id")?,
        call_id: c.uuid("call_id")?,
        started_at: c.time("started_at")?,
        duration_ms: c.opt_int::<i64, u64>("duration_ms")?,
        size_bytes: c.opt_int::<i64, u64>("size_bytes")?,
        purged_at: c.opt_time("purged_at")?,
        caller: c.get("caller")?,
        sip_call_id: c.get("sip_call_id")?,
        queue: c.get("queue")?,
        operator: c.get("operator")?,
        operator_name: c.get("operator_name")?,
        waited_ms: c.opt_int::<i64, u64>("waited_ms")?,
        appeals: Vec::new(),
    })
}

impl Store {
    /// A page of recordings matching `filter`, newest first, and how many
    /// match in all.
    pub async fn search_recordings(
        &self,
        filter: &RecordingFilter,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<RecordingItem>, u64), StoreError> {
        const COUNT: &str = concat!("SELECT count(*)", recording_where!());
        const PAGE: &str = concat!(
            item_select!(),
            recording_where!(),
            " ORDER BY r.started_at DESC, r.id LIMIT $12 OFFSET $13"
        );
        let appeal = filter
            .appeal
            .as_deref()
            .map(registration_digits)
            .filter(|d| !d.is_empty());
        let min = to_i64_opt("min_duration_ms", filter.min_duration_ms)?;
        let max = to_i64_opt("max_duration_ms", filter.max_duration_ms)?;
        let offset = super::to_i64("offset", offset)?;
        macro_rules! bind_filter {
            ($q:expr) => {
                $q.bind(filter.from.map(DbTime::new))
                    .bind(filter.to.map(DbTime::new))
                    .bind(filter.caller.as_deref())
                    .bind(filter.operator.as_deref())
                    .bind(filter.queue.as_deref())
                    .bind(filter.call_id.map(DbUuid))
                    .bind(appeal.as_deref())
                    .bind(min)
                    .bind(max)
                    .bind(filter.taken_by.map(DbUuid))
                    .bind(filter.include_purged)
            };
        }
        let (total, mut items) = on_pool!(self, |pool| {
            let total: i64 = bind_filter!(sqlx::query_scalar(COUNT))
                .fetch_one(pool)
                .await
                .map_err(query_err("count recordings"))?;
            let rows = bind_filter!(sqlx::query(PAGE))
                .bind(i64::from(limit))
                .bind(offset)
                .fetch_all(pool)
                .await
                .map_err(query_err("search recordings"))?;
            Ok::<_, StoreError>((total, decode_all(rows, item_from_row)?))
        })?;
        for item in &mut items {
            item.appeals = self.appeal_numbers_of_call(item.call_id).await?;
        }
        Ok((items, total.max(0) as u64))
    }

    /// One recording with its call's particulars.
    pub async fn recording_item(&self, id: Uuid) -> Result<Option<RecordingItem>, StoreError> {
        const SQL: &str = concat!(
            item_select!(),
            " FROM recordings r JOIN calls c ON c.id = r.call_id WHERE r.id = $1"
        );
        let item = on_pool!(self, |pool| sqlx::query(SQL)
            .bind(DbUuid(id))
            .fetch_optional(pool)
            .await
            .map_err(query_err("read a recording"))?
            .map(|row| item_from_row(&row))
            .transpose())?;
        match item {
            Some(mut item) => {
                item.appeals = self.appeal_numbers_of_call(item.call_id).await?;
                Ok(Some(item))
            }
            None => Ok(None),
        }
    }

    /// Registration numbers of the cards a call is linked to (registered
    /// on it, or attached later), oldest first.
    pub async fn appeal_numbers_of_call(&self, call_id: Uuid) -> Result<Vec<String>, StoreError> {
        const SQL: &str = "SELECT registration_number FROM appeals a WHERE a.call_id = $1 \
            OR EXISTS (SELECT 1 FROM appeal_calls ac WHERE ac.appeal_id = a.id AND ac.call_id = $1) \
            ORDER BY a.created_at, a.id";
        on_pool!(self, |pool| sqlx::query_scalar(SQL)
            .bind(DbUuid(call_id))
            .fetch_all(pool)
            .await
            .map_err(query_err("list a call's appeals")))
    }

    /// Writes one access to a recording.
    pub async fn log_recording_access(&self, access: &NewAccess<'_>) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO recording_access \
            (recording_id, call_id, user_id, login, role, at, action, range, address, user_agent) \
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(DbUuid(access.recording_id))
            .bind(DbUuid(access.call_id))
            .bind(DbUuid(access.user_id))
            .bind(access.login)
            .bind(access.role)
            .bind(DbTime::new(access.at))
            .bind(access.action)
            .bind(access.range)
            .bind(access.address)
            .bind(access.user_agent)
            .execute(pool)
            .await
            .map(|_| ())
            .map_err(query_err("log an access to a recording")))
    }

    /// The access log between `from` and `to`, newest first; for one
    /// recording if given.
    pub async fn recording_accesses(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        recording: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<RecordingAccess>, StoreError> {
        const SQL: &str = "SELECT id, recording_id, call_id, login, role, at, action, range, \
            address, user_agent FROM recording_access \
            WHERE ($1 IS NULL OR at >= $1) AND ($2 IS NULL OR at < $2) \
              AND ($3 IS NULL OR recording_id = $3) \
            ORDER BY at DESC, id DESC LIMIT $4";
        on_pool!(self, |pool| decode_all(
            sqlx::query(SQL)
                .bind(from.map(DbTime::new))
                .bind(to.map(DbTime::new))
                .bind(recording.map(DbUuid))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
                .map_err(query_err("read the recordings' access log"))?,
            |row| {
                let c = Cols::new(row, "recording_access");
                Ok(RecordingAccess {
                    id: c.get("id")?,
                    recording_id: c.uuid("recording_id")?,
                    call_id: c.uuid("call_id")?,
                    login: c.get("login")?,
                    role: c.get("role")?,
                    at: c.time("at")?,
                    action: c.get("action")?,
                    range: c.get("range")?,
                    address: c.get("address")?,
                    user_agent: c.get("user_agent")?,
                })
            }
        ))
    }
}
