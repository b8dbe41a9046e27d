//! Reports sent by e-mail, on file (`report_deliveries`,
//! `report_schedules`; migration 0015): stored once per occurrence,
//! claimed by one sender at a time, marked sent or failed with why.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::delivery::{Delivery, DeliveryStatus, ExecutorMail, Planned};
use super::kinds::ReportKind;
use crate::store::encoding::{Cols, DbTime, DbUuid, StoreRow};
use crate::store::{BeginWrite, Store, StoreError, on_pool, query_err};

const DELIVERY_COLUMNS: &str = "id, key, kind, period_first, period_last, executor, format, \
     recipients, status, due_at, next_attempt_at, attempts, last_error, file_name, file_bytes, \
     file_sha256, created_at, sent_at";

fn delivery_from_row(row: &impl StoreRow) -> Result<Delivery, StoreError> {
    let c = Cols::new(row, "report_deliveries");
    let date =
        |column: &'static str| c.parsed(column, |t| NaiveDate::parse_from_str(t, "%Y-%m-%d").ok());
    let recipients: String = c.get("recipients")?;
    Ok(Delivery {
        id: c.uuid("id")?,
        key: c.get("key")?,
        kind: c.parsed("kind", ReportKind::parse)?,
        period_first: date("period_first")?,
        period_last: date("period_last")?,
        executor: c.get("executor")?,
        format: c.get("format")?,
        recipients: recipients
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
        status: c.parsed("status", DeliveryStatus::parse)?,
        due_at: c.time("due_at")?,
        next_attempt_at: c.opt_time("next_attempt_at")?,
        attempts: c.int::<i32, u32>("attempts")?,
        last_error: c.get("last_error")?,
        file_name: c.get("file_name")?,
        file_bytes: c
            .get::<Option<i64>>("file_bytes")?
            .and_then(|b| u64::try_from(b).ok()),
        file_sha256: c.get("file_sha256")?,
        created_at: c.time("created_at")?,
        sent_at: c.opt_time("sent_at")?,
    })
}

/// A report file as it was sent, kept with its delivery.
#[derive(Debug, Clone)]
pub struct SentFile {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
}

impl Store {
    /// When the schedule named `identity` was first configured: stored now
    /// if this is the first time.
    pub async fn schedule_first_seen(
        &self,
        identity: &str,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, StoreError> {
        const INSERT: &str = "INSERT INTO report_schedules (identity, first_seen) VALUES ($1, $2) \
             ON CONFLICT (identity) DO NOTHING";
        const SELECT: &str = "SELECT first_seen FROM report_schedules WHERE identity = $1";
        on_pool!(self, |pool| {
            sqlx::query(INSERT)
                .bind(identity)
                .bind(DbTime::new(now))
                .execute(pool)
                .await
                .map_err(query_err("note a report schedule"))?;
            let row = sqlx::query(SELECT)
                .bind(identity)
                .fetch_one(pool)
                .await
                .map_err(query_err("read a report schedule"))?;
            Cols::new(&row, "report_schedules").time("first_seen")
        })
    }

    /// Every executor of the current classifier with the e-mail addresses
    /// of its heads (enabled users only), in the classifier's order.
    pub async fn executor_mail(&self) -> Result<Vec<ExecutorMail>, StoreError> {
        const SQL: &str = "SELECT executor_code, email FROM users \
             WHERE role = 'executor' AND executor_head AND disabled_at IS NULL \
             AND email IS NOT NULL AND email <> '' ORDER BY login";
        let heads: Vec<(String, String)> = on_pool!(self, |pool| {
            let rows = sqlx::query(SQL)
                .fetch_all(pool)
                .await
                .map_err(query_err("read the executors' heads' addresses"))?;
            rows.iter()
                .map(|row| {
                    let c = Cols::new(row, "users");
                    Ok((c.get("executor_code")?, c.get("email")?))
                })
                .collect::<Result<Vec<_>, StoreError>>()
        })?;
        Ok(self
            .current_executors()
            .await?
            .into_iter()
            .map(|e| ExecutorMail {
                heads: heads
                    .iter()
                    .filter(|(code, _)| *code == e.code)
                    .map(|(_, email)| email.clone())
                    .collect(),
                code: e.code,
            })
            .collect())
    }

    /// Stores the deliveries not yet on file (by key), in one transaction;
    /// those with nobody to send to as skipped. Returns how many were new.
    pub async fn enqueue_deliveries(
        &self,
        planned: &[Planned],
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        const SQL: &str = "INSERT INTO report_deliveries \
             (id, key, kind, period_first, period_last, executor, format, recipients, status, \
              due_at, next_attempt_at, attempts, last_error, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, $12, $13) \
             ON CONFLICT (key) DO NOTHING";
        on_pool!(self, |pool| {
            let mut tx = pool
                .begin_write()
                .await
                .map_err(query_err("begin storing report deliveries"))?;
            let mut new = 0;
            for p in planned {
                let skipped = p.skipped();
                let status = match skipped {
                    Some(_) => DeliveryStatus::Skipped,
                    None => DeliveryStatus::Pending,
                };
                let done = sqlx::query(SQL)
                    .bind(DbUuid(Uuid::new_v4()))
                    .bind(&p.key)
                    .bind(p.kind.as_str())
                    .bind(p.period.first.to_string())
                    .bind(p.period.last.to_string())
                    .bind(p.executor.as_deref())
                    .bind(p.format.extension())
                    .bind(p.recipients.join("\n"))
                    .bind(status.as_str())
                    .bind(DbTime::new(p.due_at))
                    .bind(skipped.is_none().then(|| DbTime::new(now)))
                    .bind(skipped.as_deref())
                    .bind(DbTime::new(now))
                    .execute(&mut *tx)
                    .await
                    .map_err(query_err("store a report delivery"))?;
                new += done.rows_affected() as usize;
            }
            tx.commit()
                .await
                .map_err(query_err("commit report deliveries"))?;
            Ok(new)
        })
    }

    /// Takes the oldest delivery due for an attempt that no sender holds,
    /// holding it until `until` (a sender that dies lets it lapse).
    pub async fn claim_delivery(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<Delivery>, StoreError> {
        let pick = format!(
            "SELECT {DELIVERY_COLUMNS} FROM report_deliveries \
             WHERE status = 'pending' AND next_attempt_at <= $1 \
             AND (claimed_until IS NULL OR claimed_until <= $1) \
             ORDER BY next_attempt_at, due_at LIMIT 5"
        );
        const CLAIM: &str = "UPDATE report_deliveries SET claimed_until = $3 \
             WHERE id = $1 AND status = 'pending' \
             AND (claimed_until IS NULL OR claimed_until <= $2)";
        on_pool!(self, |pool| {
            let rows = sqlx::query(&pick)
                .bind(DbTime::new(now))
                .fetch_all(pool)
                .await
                .map_err(query_err("find report deliveries due"))?;
            for row in &rows {
                let delivery = delivery_from_row(row)?;
                let claimed = sqlx::query(CLAIM)
                    .bind(DbUuid(delivery.id))
                    .bind(DbTime::new(now))
                    .bind(DbTime::new(until))
                    .execute(pool)
                    .await
                    .map_err(query_err("claim a report delivery"))?;
                if claimed.rows_affected() == 1 {
                    return Ok(Some(delivery));
                }
            }
            Ok(None)
        })
    }

    /// Marks a delivery sent, with the file as sent.
    pub async fn delivery_sent(
        &self,
        id: Uuid,
        file: &SentFile,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        const SQL: &str = "UPDATE report_deliveries SET status = 'sent', sent_at = $2, \
             attempts = attempts + 1, claimed_until = NULL, next_attempt_at = NULL, \
             last_error = NULL, file_name = $3, file_bytes = $4, file_sha256 = $5 WHERE id = $1";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(DbUuid(id))
            .bind(DbTime::new(now))
            .bind(&file.name)
            .bind(i64::try_from(file.bytes).unwrap_or(i64::MAX))
            .bind(&file.sha256)
            .execute(pool)
            .await
            .map(drop)
            .map_err(query_err("mark a report delivery sent")))
    }

    /// Records a failed attempt: tried again at `retry_at`, or given up
    /// (`None`).
    pub async fn delivery_failed(
        &self,
        id: Uuid,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        const SQL: &str = "UPDATE report_deliveries SET status = $2, next_attempt_at = $3, \
             attempts = attempts + 1, claimed_until = NULL, last_error = $4 WHERE id = $1";
        let status = match retry_at {
            Some(_) => DeliveryStatus::Pending,
            None => DeliveryStatus::Failed,
        };
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(DbUuid(id))
            .bind(status.as_str())
            .bind(retry_at.map(DbTime::new))
            .bind(error)
            .execute(pool)
            .await
            .map(drop)
            .map_err(query_err("record a failed report delivery")))
    }

    /// A failed delivery tried once more now (an admin's
    /// "send again", after mending the address or the server's settings).
    /// False if there is no such delivery or it was sent or is pending.
    pub async fn retry_delivery(&self, id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
        const SQL: &str = "UPDATE report_deliveries SET status = 'pending', next_attempt_at = $2 \
             WHERE id = $1 AND status = 'failed'";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(DbUuid(id))
            .bind(DbTime::new(now))
            .execute(pool)
            .await
            .map(|r| r.rows_affected() == 1)
            .map_err(query_err("retry a report delivery")))
    }

    /// The deliveries an admin should look at first: the failed, then
    /// those waiting, then the latest due (sent before skipped).
    pub async fn deliveries(&self, limit: u32) -> Result<Vec<Delivery>, StoreError> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM report_deliveries \
             ORDER BY CASE status WHEN 'failed' THEN 0 WHEN 'pending' THEN 1 ELSE 2 END, \
             due_at DESC, status, key LIMIT $1"
        );
        on_pool!(self, |pool| sqlx::query(&sql)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
            .map_err(query_err("list report deliveries"))?
            .iter()
            .map(delivery_from_row)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::appeal::calendar::WorkingCalendar;
    use crate::report::delivery::plan;
    use crate::report::schedule::{Schedule, ScheduleEntry};
    use crate::store::testing::{TestDb, both_backends};

    both_backends!(
        an_occurrence_is_stored_once_and_claimed_by_one_sender,
        a_failed_attempt_waits_and_a_given_up_one_can_be_sent_again,
    );

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 3, h, m, 0).single().unwrap()
    }

    fn weekly() -> Vec<Planned> {
        let s = Schedule::parse(&ScheduleEntry {
            report: "weekly".into(),
            at: "08:00".into(),
            days: None,
            format: "xlsx".into(),
            to: vec!["mayor@city.ua".into(), "deputy@city.ua".into()],
        })
        .unwrap();
        let o = s.latest(&WorkingCalendar::default(), at(9, 0)).unwrap();
        plan(&s, &o, &[])
    }

    async fn an_occurrence_is_stored_once_and_claimed_by_one_sender(db: &TestDb) {
        let store = db.store();
        // The first note of a schedule stays its first.
        let first = store
            .schedule_first_seen("weekly|08:00", at(9, 0))
            .await
            .unwrap();
        let again = store
            .schedule_first_seen("weekly|08:00", at(10, 0))
            .await
            .unwrap();
        assert_eq!((first, again), (at(9, 0), at(9, 0)));

        // Two nodes see the same occurrence: one row.
        assert_eq!(
            store.enqueue_deliveries(&weekly(), at(9, 0)).await.unwrap(),
            1
        );
        assert_eq!(
            store.enqueue_deliveries(&weekly(), at(9, 1)).await.unwrap(),
            0
        );
        let listed = store.deliveries(10).await.unwrap();
        assert_eq!(listed.len(), 1);
        let d = &listed[0];
        assert_eq!(d.status, DeliveryStatus::Pending);
        assert_eq!(d.recipients, vec!["mayor@city.ua", "deputy@city.ua"]);
        assert_eq!(
            d.period().map(|p| p.slug()).as_deref(),
            Some("2026-11-23_2026-11-29")
        );

        // Two senders claim at once: one gets it.
        let (a, b) = tokio::join!(
            store.claim_delivery(at(9, 2), at(9, 12)),
            store.claim_delivery(at(9, 2), at(9, 12)),
        );
        let claimed: Vec<_> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
        assert_eq!(claimed.len(), 1, "one sender holds it");
        assert!(
            store
                .claim_delivery(at(9, 5), at(9, 15))
                .await
                .unwrap()
                .is_none()
        );
        // Its sender died: the claim lapses and another takes it.
        let retaken = store.claim_delivery(at(9, 12), at(9, 22)).await.unwrap();
        assert_eq!(retaken.map(|d| d.id), Some(d.id));

        let file = SentFile {
            name: "hotline-weekly-2026-11-23_2026-11-29.xlsx".into(),
            bytes: 5120,
            sha256: "ab".repeat(32),
        };
        store.delivery_sent(d.id, &file, at(9, 13)).await.unwrap();
        let sent = &store.deliveries(10).await.unwrap()[0];
        assert_eq!(sent.status, DeliveryStatus::Sent);
        assert_eq!((sent.attempts, sent.sent_at), (1, Some(at(9, 13))));
        assert_eq!(sent.file_bytes, Some(5120));
        assert!(
            store
                .claim_delivery(at(10, 0), at(10, 10))
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            !store.retry_delivery(d.id, at(10, 0)).await.unwrap(),
            "sent is sent"
        );
    }

    async fn a_failed_attempt_waits_and_a_given_up_one_can_be_sent_again(db: &TestDb) {
        let store = db.store();
        store.enqueue_deliveries(&weekly(), at(9, 0)).await.unwrap();
        let d = store
            .claim_delivery(at(9, 0), at(9, 10))
            .await
            .unwrap()
            .unwrap();
        store
            .delivery_failed(d.id, "connection refused", Some(at(9, 5)))
            .await
            .unwrap();
        assert!(
            store
                .claim_delivery(at(9, 4), at(9, 14))
                .await
                .unwrap()
                .is_none(),
            "not yet"
        );
        let d = store
            .claim_delivery(at(9, 5), at(9, 15))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(d.attempts, 1);
        assert_eq!(d.last_error.as_deref(), Some("connection refused"));
        store
            .delivery_failed(d.id, "535 authentication failed", None)
            .await
            .unwrap();
        let failed = &store.deliveries(10).await.unwrap()[0];
        assert_eq!(failed.status, DeliveryStatus::Failed);
        assert_eq!(failed.attempts, 2);
        assert!(
            store
                .claim_delivery(at(12, 0), at(12, 10))
                .await
                .unwrap()
                .is_none()
        );
        assert!(store.retry_delivery(d.id, at(12, 0)).await.unwrap());
        let again = store.claim_delivery(at(12, 0), at(12, 10)).await.unwrap();
        assert_eq!(again.map(|d| d.attempts), Some(2));

        // Nobody to send to: on file as skipped, never claimed.
        let mut nobody = weekly();
        nobody[0].key.push_str(":nobody");
        nobody[0].recipients.clear();
        store.enqueue_deliveries(&nobody, at(9, 0)).await.unwrap();
        let listed = store.deliveries(10).await.unwrap();
        assert_eq!(
            listed.iter().map(|d| d.status).collect::<Vec<_>>(),
            [DeliveryStatus::Pending, DeliveryStatus::Skipped],
            "what needs an admin's eye first"
        );
        let skipped = listed
            .into_iter()
            .find(|d| d.key.ends_with(":nobody"))
            .unwrap();
        assert_eq!(skipped.status, DeliveryStatus::Skipped);
        assert_eq!(skipped.last_error.as_deref(), Some("no recipients"));
    }
}
