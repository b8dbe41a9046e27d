//! The call figures kept per city day (`report_call_days` and its rows;
//! migration 0016): a day is counted from the events once it has settled
//! and kept whole, replaced whole if counted again; a period's kept days
//! are read added up.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};

use super::call_days::DayFigures;
use super::store::{HOUR, hour_row, queue_row, wrap_up_row};
use crate::store::encoding::{Cols, DbTime, DbUuid};
use crate::store::{BeginWrite, Store, StoreError, decode_all, on_pool, query_err};

fn day_text(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

fn threshold(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

impl Store {
    /// The days from `first` to `last` kept with the threshold `threshold_ms`.
    pub async fn counted_call_days(
        &self,
        first: NaiveDate,
        last: NaiveDate,
        threshold_ms: u64,
    ) -> Result<BTreeSet<NaiveDate>, StoreError> {
        const SQL: &str = "SELECT day FROM report_call_days \
             WHERE day >= $1 AND day <= $2 AND threshold_ms = $3";
        let days = on_pool!(self, |pool| decode_all(
            sqlx::query(SQL)
                .bind(day_text(first))
                .bind(day_text(last))
                .bind(threshold(threshold_ms))
                .fetch_all(pool)
                .await
                .map_err(query_err("read the counted days"))?,
            |row| Cols::new(row, "report_call_days")
                .parsed("day", |t| NaiveDate::parse_from_str(t, "%Y-%m-%d").ok())
        ))?;
        Ok(days.into_iter().collect())
    }

    /// The kept figures of the days from `first` to `last` counted with
    /// `threshold_ms`, added up.
    pub async fn counted_call_figures(
        &self,
        first: NaiveDate,
        last: NaiveDate,
        threshold_ms: u64,
    ) -> Result<DayFigures, StoreError> {
        let _leave = self.report_read().await;
        const DAYS: &str = "SELECT day FROM report_call_days \
             WHERE day >= $1 AND day <= $2 AND threshold_ms = $3";
        let queues = format!(
            "SELECT queue, operator_id, kind, within, CAST(sum(n) AS bigint) AS n, \
             CAST(sum(wait_ms) AS bigint) AS wait_ms, CAST(sum(talk) AS bigint) AS talk \
             FROM report_call_day_queues WHERE day IN ({DAYS}) \
             GROUP BY queue, operator_id, kind, within"
        );
        let wrap_ups = format!(
            "SELECT operator_id, CAST(sum(n) AS bigint) AS n, CAST(sum(secs) AS bigint) AS secs \
             FROM report_call_day_wrap_ups WHERE day IN ({DAYS}) GROUP BY operator_id"
        );
        let hours = format!(
            "SELECT hour, CAST(sum(n) AS bigint) AS n, CAST(sum(blocked) AS bigint) AS blocked \
             FROM report_call_day_hours WHERE day IN ({DAYS}) GROUP BY hour"
        );
        let service = "SELECT CAST(COALESCE(sum(lookups), 0) AS bigint) AS lookups, \
             CAST(COALESCE(sum(outages), 0) AS bigint) AS outages FROM report_call_days \
             WHERE day >= $1 AND day <= $2 AND threshold_ms = $3";
        let (first, last, threshold) = (day_text(first), day_text(last), threshold(threshold_ms));
        on_pool!(self, |pool| {
            // The same days for each query.
            macro_rules! read {
                ($sql:expr) => {
                    sqlx::query($sql)
                        .bind(first.as_str())
                        .bind(last.as_str())
                        .bind(threshold)
                };
            }
            let queues = decode_all(
                read!(&queues)
                    .fetch_all(pool)
                    .await
                    .map_err(query_err("read the counted queue figures"))?,
                queue_row,
            )?;
            let wrap_ups = decode_all(
                read!(&wrap_ups)
                    .fetch_all(pool)
                    .await
                    .map_err(query_err("read the counted wrap-ups"))?,
                wrap_up_row,
            )?;
            let hours = decode_all(
                read!(&hours)
                    .fetch_all(pool)
                    .await
                    .map_err(query_err("read the counted calls by hour"))?,
                hour_row,
            )?;
            let row = read!(service)
                .fetch_one(pool)
                .await
                .map_err(query_err("read the counted self-service"))?;
            let c = Cols::new(&row, "report_call_days");
            Ok(DayFigures {
                queues,
                wrap_ups,
                hours,
                lookups: c.int::<i64, u64>("lookups")?,
                outages: c.int::<i64, u64>("outages")?,
            })
        })
    }

    /// Keeps `figures` as `day`'s, counted with `threshold_ms`, replacing
    /// what was kept for it, in one transaction.
    pub async fn keep_call_day(
        &self,
        day: NaiveDate,
        threshold_ms: u64,
        figures: &DayFigures,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        const INSERT_DAY: &str = "INSERT INTO report_call_days \
             (day, threshold_ms, lookups, outages, counted_at) VALUES ($1, $2, $3, $4, $5)";
        const INSERT_QUEUE: &str = "INSERT INTO report_call_day_queues \
             (day, queue, operator_id, kind, within, n, wait_ms, talk) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        const INSERT_WRAP_UP: &str = "INSERT INTO report_call_day_wrap_ups \
             (day, operator_id, n, secs) VALUES ($1, $2, $3, $4)";
        const INSERT_HOUR: &str = "INSERT INTO report_call_day_hours \
             (day, hour, n, blocked) VALUES ($1, $2, $3, $4)";
        let day = day_text(day);
        let int = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let uuid = |id: &str| {
            id.parse::<uuid::Uuid>()
                .map(DbUuid)
                .map_err(|e| StoreError::Corrupt {
                    table: "queue_events",
                    column: "operator_id",
                    reason: format!("{id:?}: {e}"),
                })
        };
        on_pool!(self, |pool| {
            let mut tx = pool
                .begin_write()
                .await
                .map_err(query_err("begin keeping a day's call figures"))?;
            for table in [
                "report_call_day_queues",
                "report_call_day_wrap_ups",
                "report_call_day_hours",
                "report_call_days",
            ] {
                sqlx::query(&format!("DELETE FROM {table} WHERE day = $1"))
                    .bind(&day)
                    .execute(&mut *tx)
                    .await
                    .map_err(query_err("replace a day's call figures"))?;
            }
            sqlx::query(INSERT_DAY)
                .bind(&day)
                .bind(threshold(threshold_ms))
                .bind(int(figures.lookups))
                .bind(int(figures.outages))
                .bind(DbTime::new(now))
                .execute(&mut *tx)
                .await
                .map_err(query_err("keep a day's call figures"))?;
            for q in &figures.queues {
                sqlx::query(INSERT_QUEUE)
                    .bind(&day)
                    .bind(&q.queue)
                    .bind(q.operator.as_deref().map(uuid).transpose()?)
                    .bind(q.outcome.kind().as_str())
                    .bind(q.within_threshold)
                    .bind(int(q.count))
                    .bind(int(q.wait_ms))
                    .bind(int(q.talk_secs))
                    .execute(&mut *tx)
                    .await
                    .map_err(query_err("keep a day's queue figures"))?;
            }
            for w in &figures.wrap_ups {
                sqlx::query(INSERT_WRAP_UP)
                    .bind(&day)
                    .bind(uuid(&w.operator)?)
                    .bind(int(w.count))
                    .bind(int(w.secs))
                    .execute(&mut *tx)
                    .await
                    .map_err(query_err("keep a day's wrap-ups"))?;
            }
            for h in &figures.hours {
                sqlx::query(INSERT_HOUR)
                    .bind(&day)
                    .bind(h.hour.format(HOUR).to_string())
                    .bind(int(h.calls))
                    .bind(int(h.blocked))
                    .execute(&mut *tx)
                    .await
                    .map_err(query_err("keep a day's calls by hour"))?;
            }
            tx.commit()
                .await
                .map_err(query_err("commit a day's call figures"))
        })
    }

    /// When the first call arrived, if there was one.
    pub async fn first_call_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        const SQL: &str = "SELECT min(arrived_at) AS first FROM calls";
        on_pool!(self, |pool| {
            let row = sqlx::query(SQL)
                .fetch_one(pool)
                .await
                .map_err(query_err("find the first call"))?;
            Cols::new(&row, "calls").opt_time("first")
        })
    }

    /// When the earliest call still going arrived, if one is.
    pub async fn first_call_going(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        const SQL: &str = "SELECT min(arrived_at) AS first FROM calls WHERE ended_at IS NULL";
        on_pool!(self, |pool| {
            let row = sqlx::query(SQL)
                .fetch_one(pool)
                .await
                .map_err(query_err("look for calls still going"))?;
            Cols::new(&row, "calls").opt_time("first")
        })
    }
}
