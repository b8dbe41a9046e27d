//! Repair works (outages): registered by executors, announced by the IVR
//! to callers (at the caller's address first) and shown on the operator's
//! card. Whether a work affects a caller is decided by matching the
//! caller's free-text address against the work's streets and houses
//! ([`super::address`]).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::encoding::{Cols, DbTime, DbUuid, StoreRow};
use super::{Store, StoreError, insert_err, query_err};

text_enum! {
    /// Whether a repair work was planned or answers a failure.
    WorkKind {
        /// Registered at least a day before it starts.
        Planned => "planned",
        /// Registered online when the failure happened.
        Emergency => "emergency",
    }
}

text_enum! {
    /// The utility a repair work interrupts.
    Service as "WorkService" {
        Water => "water",
        Heating => "heating",
        Power => "power",
        Gas => "gas",
        Other => "other",
    }
}

text_enum! {
    /// Where a repair work record is. Whether a work is in progress is
    /// decided by its times (see `Store::active_repair_works`), so an
    /// `announced` work whose start has passed counts as active.
    WorkStatus {
        Announced => "announced",
        Active => "active",
        Closed => "closed",
    }
}

/// One street, or one house on it, that a repair work affects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkAddress {
    /// Street name as the executor wrote it ("вул. Соборна", "Соборна").
    /// Must not be blank.
    pub street: String,
    /// House number ("12", "12-А", "12/1"); `None` for the whole street.
    /// Must not be blank when given.
    pub house: Option<String>,
}

impl WorkAddress {
    /// "вул. Соборна 12", or the street alone.
    pub fn label(&self) -> String {
        match &self.house {
            Some(h) => format!("{} {h}", self.street),
            None => self.street.clone(),
        }
    }
}

/// A repair work as the executor registers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRepairWork {
    pub id: Uuid,
    pub kind: WorkKind,
    pub service: Service,
    /// What is done and what is cut off, for operators and announcements.
    pub description: String,
    pub starts_at: DateTime<Utc>,
    pub expected_end: DateTime<Utc>,
    pub status: WorkStatus,
    pub created_at: DateTime<Utc>,
    /// Affected addresses, in the executor's order. May be empty (a work
    /// described only in words), but then no address matches it.
    pub addresses: Vec<WorkAddress>,
    /// The executor (classifier code) whose work it is; `None` for works
    /// entered otherwise (the demo's sample).
    pub executor: Option<String>,
    /// The login of the user who registered it.
    pub registered_by: Option<String>,
}

/// A repair work as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepairWork {
    pub id: Uuid,
    pub kind: WorkKind,
    pub service: Service,
    pub description: String,
    pub starts_at: DateTime<Utc>,
    pub expected_end: DateTime<Utc>,
    /// `None` until the record is closed.
    pub ended_at: Option<DateTime<Utc>>,
    pub status: WorkStatus,
    pub created_at: DateTime<Utc>,
    pub addresses: Vec<WorkAddress>,
    pub executor: Option<String>,
    pub registered_by: Option<String>,
}

impl RepairWork {
    /// Whether any of the work's addresses matches the caller's free-text
    /// `address` (see [`WorkAddress::matches`]).
    pub fn affects(&self, address: &str) -> bool {
        self.addresses.iter().any(|a| a.matches(address))
    }
}

/// A repair work joined with its addresses: one row per address (one row
/// with NULL street if it has none). Callers order by work, then
/// `a.ordinal`, for [`works_from_rows`].
macro_rules! repair_work_select {
    () => {
        "SELECT w.id, w.kind, w.service, w.description, w.starts_at, w.expected_end, \
         w.ended_at, w.status, w.created_at, w.executor_code, w.registered_by, a.street, a.house \
         FROM repair_works w LEFT JOIN repair_work_addresses a ON a.work_id = w.id"
    };
}

/// Groups rows of [`repair_work_select!`] into works, each with its
/// addresses in order. Rows of one work must be adjacent.
fn works_from_rows(rows: &[impl StoreRow]) -> Result<Vec<RepairWork>, StoreError> {
    let mut works: Vec<RepairWork> = Vec::new();
    for row in rows {
        let w = Cols::new(row, "repair_works");
        let id = w.uuid("id")?;
        if works.last().is_none_or(|last| last.id != id) {
            works.push(RepairWork {
                id,
                kind: w.parsed("kind", WorkKind::parse)?,
                service: w.parsed("service", Service::parse)?,
                description: w.get("description")?,
                starts_at: w.time("starts_at")?,
                expected_end: w.time("expected_end")?,
                ended_at: w.opt_time("ended_at")?,
                status: w.parsed("status", WorkStatus::parse)?,
                created_at: w.time("created_at")?,
                addresses: Vec::new(),
                executor: w.get("executor_code")?,
                registered_by: w.get("registered_by")?,
            });
        }
        let a = Cols::new(row, "repair_work_addresses");
        // NULL street: the LEFT JOIN found no address (streets are NOT NULL).
        if let (Some(street), Some(work)) = (a.get::<Option<String>>("street")?, works.last_mut()) {
            work.addresses.push(WorkAddress {
                street,
                house: a.get("house")?,
            });
        }
    }
    Ok(works)
}

impl Store {
    /// Stores a repair work with its addresses, all or nothing: if any part
    /// fails (e.g. a blank street, which the database refuses), nothing is
    /// stored. `AlreadyExists` if the id is taken.
    pub async fn insert_repair_work(&self, work: &NewRepairWork) -> Result<(), StoreError> {
        const WORK_SQL: &str = "INSERT INTO repair_works \
            (id, kind, service, description, starts_at, expected_end, status, created_at, \
             executor_code, registered_by) \
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
        const ADDRESS_SQL: &str = "INSERT INTO repair_work_addresses \
            (work_id, ordinal, street, house) VALUES ($1, $2, $3, $4)";
        on_pool!(self, |pool| async {
            // Dropping the transaction on an early return rolls it back.
            let mut tx = pool
                .begin()
                .await
                .map_err(query_err("start storing a repair work"))?;
            sqlx::query(WORK_SQL)
                .bind(DbUuid(work.id))
                .bind(work.kind.as_str())
                .bind(work.service.as_str())
                .bind(&work.description)
                .bind(DbTime::new(work.starts_at))
                .bind(DbTime::new(work.expected_end))
                .bind(work.status.as_str())
                .bind(DbTime::new(work.created_at))
                .bind(work.executor.as_deref())
                .bind(work.registered_by.as_deref())
                .execute(&mut *tx)
                .await
                .map_err(insert_err(
                    "insert a repair work",
                    Some(("repair work", work.id)),
                    None,
                ))?;
            for (ordinal, address) in work.addresses.iter().enumerate() {
                let ordinal = i32::try_from(ordinal).map_err(|_| StoreError::OutOfRange {
                    field: "repair work addresses",
                    value: ordinal as u64,
                })?;
                sqlx::query(ADDRESS_SQL)
                    .bind(DbUuid(work.id))
                    .bind(ordinal)
                    .bind(&address.street)
                    .bind(address.house.as_deref())
                    .execute(&mut *tx)
                    .await
                    .map_err(query_err("insert a repair work's address"))?;
            }
            tx.commit().await.map_err(query_err("commit a repair work"))
        }
        .await)
    }

    pub async fn get_repair_work(&self, id: Uuid) -> Result<Option<RepairWork>, StoreError> {
        const SQL: &str = concat!(repair_work_select!(), " WHERE w.id = $1 ORDER BY a.ordinal");
        let works = on_pool!(self, |pool| works_from_rows(
            &sqlx::query(SQL)
                .bind(DbUuid(id))
                .fetch_all(pool)
                .await
                .map_err(query_err("read a repair work"))?
        ))?;
        Ok(works.into_iter().next())
    }

    /// Works in progress at `now`, each with its addresses: started
    /// (`starts_at <= now`), not ended and not closed. A work past its
    /// expected end stays in progress until it is closed: the outage may
    /// well go on. Emergency works come first, then by start.
    pub async fn active_repair_works(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<RepairWork>, StoreError> {
        // One statement, so a work closed meanwhile cannot lose its
        // addresses halfway; w.id keeps each work's rows together.
        const SQL: &str = concat!(
            repair_work_select!(),
            " WHERE w.starts_at <= $1 AND w.ended_at IS NULL AND w.status <> $2 \
             ORDER BY CASE WHEN w.kind = $3 THEN 0 ELSE 1 END, w.starts_at, w.id, a.ordinal"
        );
        on_pool!(self, |pool| works_from_rows(
            &sqlx::query(SQL)
                .bind(DbTime::new(now))
                .bind(WorkStatus::Closed.as_str())
                .bind(WorkKind::Emergency.as_str())
                .fetch_all(pool)
                .await
                .map_err(query_err("list active repair works"))?
        ))
    }

    /// Works in progress at `now` (as [`Store::active_repair_works`], in the
    /// same order) with an address matching the caller's free-text
    /// `address`; see [`WorkAddress::matches`] for the rule. The matching
    /// runs here, not in SQL, so it folds Ukrainian case alike on both
    /// backends; works in progress in a city are few.
    pub async fn repair_works_at(
        &self,
        address: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<RepairWork>, StoreError> {
        let mut works = self.active_repair_works(now).await?;
        works.retain(|w| w.affects(address));
        Ok(works)
    }

    /// Works not yet ended at `now`: those in progress and those planned,
    /// by start; only `executor`'s when given.
    pub async fn open_repair_works(
        &self,
        executor: Option<&str>,
    ) -> Result<Vec<RepairWork>, StoreError> {
        const SQL: &str = concat!(
            repair_work_select!(),
            " WHERE w.ended_at IS NULL AND w.status <> $1 \
             AND ($2 IS NULL OR w.executor_code = $2) \
             ORDER BY w.starts_at, w.id, a.ordinal"
        );
        on_pool!(self, |pool| works_from_rows(
            &sqlx::query(SQL)
                .bind(WorkStatus::Closed.as_str())
                .bind(executor)
                .fetch_all(pool)
                .await
                .map_err(query_err("list open repair works"))?
        ))
    }

    /// Moves a work's expected end (an extension). `false` if it had ended.
    pub async fn extend_repair_work(
        &self,
        id: Uuid,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        const SQL: &str =
            "UPDATE repair_works SET expected_end = $2 WHERE id = $1 AND ended_at IS NULL";
        let changed = on_pool!(self, |pool| sqlx::query(SQL)
            .bind(DbUuid(id))
            .bind(DbTime::new(until))
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(query_err("extend a repair work"))?;
        Ok(changed > 0)
    }

    /// Closes a work's record: it ended at `at`. Only the first close
    /// counts: returns `false` (changing nothing) if it had already ended.
    /// `NotFound` if there is no such work.
    pub async fn close_repair_work(&self, id: Uuid, at: DateTime<Utc>) -> Result<bool, StoreError> {
        const SQL: &str = "UPDATE repair_works SET ended_at = $2, status = $3 \
            WHERE id = $1 AND ended_at IS NULL";
        const ID_SQL: &str = "SELECT 1 FROM repair_works WHERE id = $1";
        let changed = on_pool!(self, |pool| sqlx::query(SQL)
            .bind(DbUuid(id))
            .bind(DbTime::new(at))
            .bind(WorkStatus::Closed.as_str())
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(query_err("close a repair work"))?;
        if changed == 0 && !self.exists(ID_SQL, id, "look up a repair work").await? {
            return Err(StoreError::NotFound {
                what: "repair work",
                id,
            });
        }
        Ok(changed > 0)
    }
}
