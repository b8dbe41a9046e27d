//! The reports' queries: the facts of the cards a period touches, the
//! steps and verifications counted in the period, the queue events,
//! wrap-ups and calls per hour counted in the database, the lists of
//! overdue and due-soon cards, and the names that stand for codes.
//!
//! Role: reads only. Counting that the database does well (grouped
//! counts, sums) is done there; what needs the city's clock or the
//! percentile is done by the plain code in [`super::indicators`] and
//! [`super::calls`], which these queries feed.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDateTime, Utc};
use futures_util::TryStreamExt;
use uuid::Uuid;

use super::call_days::{DayFigures, SETTLING};
use super::calls::{HourRow, QueueOutcome, QueueRow, WrapUpRow};
use super::indicators::{CardFact, Step, StepCount, Tally};
use super::kinds::{CardLine, Names};
use crate::appeal::record::AppealStatus;
use crate::store::encoding::{Cols, DbTime, StoreRow};
use crate::store::{Backend, Store, StoreError, decode_all, on_pool, query_err};

/// A category's codes, by its id (every classifier version's).
#[derive(Debug, Clone, Default)]
pub struct Categories {
    by_id: HashMap<Uuid, (String, String)>,
}

impl Categories {
    fn of(&self, id: Option<Uuid>) -> (Option<String>, Option<String>) {
        match id.and_then(|id| self.by_id.get(&id)) {
            Some((category, section)) => (Some(category.clone()), Some(section.clone())),
            None => (None, None),
        }
    }
}

/// Seconds from `a` to `b`, as each backend writes it.
fn seconds_between(backend: &Backend, a: &str, b: &str) -> String {
    match backend {
        Backend::Sqlite(_) => {
            format!("CAST(round((julianday({b}) - julianday({a})) * 86400.0) AS INTEGER)")
        }
        Backend::Postgres(_) => format!("CAST(round(extract(epoch FROM ({b} - {a}))) AS bigint)"),
    }
}

/// The columns of a card's facts.
const CARD_FACT: &str = "SELECT executor, category_id, COALESCE(channel, 'phone') AS channel, \
    status, created_at, deadline, finished_at, resolved_at, \
    (repeat_of IS NOT NULL) AS is_repeat FROM appeals WHERE ";

/// The states in which the deadline runs on the executor, for SQL.
const ON_THE_EXECUTOR: &str =
    "status IN ('registered', 'delivered', 'in_progress', 'rework', 'long_term')";

const CARD_LINE: &str = "SELECT registration_number, executor, category_id, status, control, \
    direct_control, extensions, created_at, deadline FROM appeals WHERE finished_at IS NULL AND ";

impl Store {
    /// The names reports print for codes: executors and categories as the
    /// newest classifier names them, operators by display name.
    pub async fn report_names(&self) -> Result<(Names, Categories), StoreError> {
        let mut names = Names::default();
        let mut categories = Categories::default();
        let executors = on_pool!(self, |pool| decode_all(
            sqlx::query("SELECT code, name FROM classifier_executors ORDER BY version")
                .fetch_all(pool)
                .await
                .map_err(query_err("read the executors' names"))?,
            |row| {
                let c = Cols::new(row, "classifier_executors");
                Ok((c.get::<String>("code")?, c.get::<String>("name")?))
            }
        ))?;
        names.executors.extend(executors);
        let rows = on_pool!(self, |pool| decode_all(
            sqlx::query(
                "SELECT id, type_code, type_name, section_code, section_name \
                 FROM classifier_categories ORDER BY version"
            )
            .fetch_all(pool)
            .await
            .map_err(query_err("read the categories' names"))?,
            |row| {
                let c = Cols::new(row, "classifier_categories");
                Ok((
                    c.uuid("id")?,
                    c.get::<String>("type_code")?,
                    c.get::<String>("type_name")?,
                    c.get::<String>("section_code")?,
                    c.get::<String>("section_name")?,
                ))
            }
        ))?;
        for (id, code, name, section, section_name) in rows {
            names.categories.insert(code.clone(), name);
            names.sections.insert(section.clone(), section_name);
            categories.by_id.insert(id, (code, section));
        }
        let operators = on_pool!(self, |pool| decode_all(
            sqlx::query("SELECT id, display_name FROM operators")
                .fetch_all(pool)
                .await
                .map_err(query_err("read the operators' names"))?,
            |row| {
                let c = Cols::new(row, "operators");
                Ok((c.uuid("id")?.to_string(), c.get::<String>("display_name")?))
            }
        ))?;
        names.operators.extend(operators);
        Ok((names, categories))
    }

    /// Counts every card the period from `start` to `end` touches into
    /// `tally`: registered or closed in it, or open now. Rows are read as
    /// they come, not gathered first: a year of a large city is a million
    /// cards.
    pub async fn tally_cards(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        categories: &Categories,
        tally: &mut Tally,
    ) -> Result<(), StoreError> {
        // Three disjoint sets, so each can use its own index and no card
        // is counted twice.
        let sets = [
            "created_at >= $1 AND created_at < $2",
            "finished_at >= $1 AND finished_at < $2 AND created_at < $1",
            "finished_at IS NULL AND NOT (created_at >= $1 AND created_at < $2)",
        ];
        for set in sets {
            let sql = format!("{CARD_FACT}{set}");
            on_pool!(self, |pool| {
                let mut rows = sqlx::query(&sql)
                    .bind(DbTime::new(start))
                    .bind(DbTime::new(end))
                    .fetch(pool);
                while let Some(row) = rows
                    .try_next()
                    .await
                    .map_err(query_err("read the cards of a report"))?
                {
                    tally.card(&card_fact(&row, categories)?);
                }
            });
        }
        Ok(())
    }

    /// Counts the steps (extensions asked and granted, moves to the SER
    /// plan) and the verification answers of the period into `tally`, by
    /// the card's lead executor (the asked executor for answers).
    pub async fn tally_steps(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        categories: &Categories,
        tally: &mut Tally,
    ) -> Result<(), StoreError> {
        let queries = [
            "SELECT a.executor AS executor, a.category_id, COALESCE(a.channel, 'phone') AS channel, \
             h.kind AS kind, count(*) AS n FROM appeal_history h JOIN appeals a ON a.id = h.appeal_id \
             WHERE h.kind IN ('extension_requested', 'extended', 'moved_to_long_term') \
             AND h.at >= $1 AND h.at < $2 \
             GROUP BY a.executor, a.category_id, COALESCE(a.channel, 'phone'), h.kind",
            "SELECT v.executor_code AS executor, a.category_id, \
             COALESCE(a.channel, 'phone') AS channel, v.result AS kind, count(*) AS n \
             FROM verification_attempts v JOIN appeals a ON a.id = v.appeal_id \
             WHERE v.at >= $1 AND v.at < $2 AND v.result IN ('confirmed', 'not_confirmed') \
             GROUP BY v.executor_code, a.category_id, COALESCE(a.channel, 'phone'), v.result",
        ];
        for sql in queries {
            let rows = on_pool!(self, |pool| decode_all(
                sqlx::query(sql)
                    .bind(DbTime::new(start))
                    .bind(DbTime::new(end))
                    .fetch_all(pool)
                    .await
                    .map_err(query_err("count the steps of a report"))?,
                |row| {
                    let c = Cols::new(row, "appeal_history");
                    let step = match c.get::<String>("kind")?.as_str() {
                        "extension_requested" => Step::ExtensionAsked,
                        "extended" => Step::ExtensionGranted,
                        "moved_to_long_term" => Step::MovedToLongTerm,
                        "confirmed" => Step::Confirmed,
                        _ => Step::NotConfirmed,
                    };
                    let (category, section) = categories.of(c.opt_uuid("category_id")?);
                    Ok(StepCount {
                        executor: c.get("executor")?,
                        category,
                        section,
                        channel: c.get("channel")?,
                        step,
                        count: c.int::<i64, u64>("n")?,
                    })
                }
            ))?;
            for row in &rows {
                tally.steps(row);
            }
        }
        Ok(())
    }

    /// The calls' figures from `start` to `end`, read from the events:
    /// queue events by queue, operator, outcome and wait against
    /// `threshold_ms`; wrap-ups begun in it (their ends looked for up to
    /// [`SETTLING`] later); calls per hour; the voice menu's self-service.
    pub async fn call_figures(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        threshold_ms: u64,
    ) -> Result<DayFigures, StoreError> {
        let mut figures = DayFigures::default();
        let talk = seconds_between(
            &self.backend,
            "q.at",
            "COALESCE((SELECT min(j.at) FROM queue_events j WHERE j.call_id = q.call_id \
             AND j.kind = 'joined' AND j.at > q.at), c.ended_at)",
        );
        let sql = format!(
            "SELECT q.queue, q.operator_id, q.kind, \
             (q.wait_ms IS NOT NULL AND q.wait_ms <= $3) AS within, count(*) AS n, \
             CAST(COALESCE(sum(q.wait_ms), 0) AS bigint) AS wait_ms, \
             CAST(COALESCE(sum(CASE WHEN q.kind = 'answered' AND c.ended_at IS NOT NULL \
             THEN {talk} ELSE 0 END), 0) AS bigint) AS talk \
             FROM queue_events q JOIN calls c ON c.id = q.call_id \
             WHERE q.kind IN ('joined', 'refused', 'answered', 'abandoned', 'transferred', 'left') \
             AND q.at >= $1 AND q.at < $2 \
             GROUP BY q.queue, q.operator_id, q.kind, (q.wait_ms IS NOT NULL AND q.wait_ms <= $3)"
        );
        let threshold = i64::try_from(threshold_ms).unwrap_or(i64::MAX);
        figures.queues = on_pool!(self, |pool| decode_all(
            sqlx::query(&sql)
                .bind(DbTime::new(start))
                .bind(DbTime::new(end))
                .bind(threshold)
                .fetch_all(pool)
                .await
                .map_err(query_err("count the queue events of a report"))?,
            queue_row
        ))?;

        // A wrap-up counts on the day it began, if it ended within a day
        // (a longer one is an operator who never left it): its end is
        // looked for in the day after, so a day counted alone and a month
        // read whole agree.
        let wrap = seconds_between(&self.backend, "at", "next_at");
        let sql = format!(
            "SELECT operator_id, count(*) AS n, CAST(COALESCE(sum({wrap}), 0) AS bigint) AS secs \
             FROM (SELECT operator_id, state, at, \
             LEAD(at) OVER (PARTITION BY operator_id ORDER BY at, id) AS next_at \
             FROM operator_state_changes WHERE at >= $1 AND at < $3) s \
             WHERE state = 'wrap_up' AND at < $2 AND next_at IS NOT NULL \
             AND {wrap} <= 86400 GROUP BY operator_id"
        );
        figures.wrap_ups = on_pool!(self, |pool| decode_all(
            sqlx::query(&sql)
                .bind(DbTime::new(start))
                .bind(DbTime::new(end))
                .bind(DbTime::new(end + SETTLING))
                .fetch_all(pool)
                .await
                .map_err(query_err("count the wrap-ups of a report"))?,
            wrap_up_row
        ))?;

        let hour = match self.backend {
            Backend::Sqlite(_) => "substr(arrived_at, 1, 13)",
            Backend::Postgres(_) => "to_char(arrived_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24')",
        };
        let sql = format!(
            "SELECT {hour} AS hour, count(*) AS n, \
             CAST(sum(CASE WHEN disposition = 'blocked' THEN 1 ELSE 0 END) AS bigint) AS blocked \
             FROM calls WHERE arrived_at >= $1 AND arrived_at < $2 AND direction = 'inbound' \
             GROUP BY {hour}"
        );
        figures.hours = on_pool!(self, |pool| decode_all(
            sqlx::query(&sql)
                .bind(DbTime::new(start))
                .bind(DbTime::new(end))
                .fetch_all(pool)
                .await
                .map_err(query_err("count the calls of a report by hour"))?,
            hour_row
        ))?;

        (figures.lookups, figures.outages) = on_pool!(self, |pool| {
            let row = sqlx::query(
                "SELECT CAST(COALESCE(sum(CASE WHEN detail LIKE '% appeal %' THEN 1 ELSE 0 END), 0) \
                 AS bigint) AS lookups, \
                 CAST(COALESCE(sum(CASE WHEN detail LIKE '% outages %' \
                 AND detail NOT LIKE '% outages 0' THEN 1 ELSE 0 END), 0) AS bigint) AS outages \
                 FROM call_events \
                 WHERE kind = 'ivr' AND (detail LIKE '% appeal %' OR detail LIKE '% outages %') \
                 AND at >= $1 AND at < $2",
            )
            .bind(DbTime::new(start))
            .bind(DbTime::new(end))
            .fetch_one(pool)
            .await
            .map_err(query_err("count the voice menu's self-service"))?;
            let c = Cols::new(&row, "call_events");
            (c.int::<i64, u64>("lookups")?, c.int::<i64, u64>("outages")?)
        });
        Ok(figures)
    }

    /// Open cards on the executor (of one, or of all): overdue at `now`
    /// (`due_before` = `None`), or due between `now` and `due_before`.
    /// Most overdue, or soonest due, first.
    pub async fn report_cards(
        &self,
        executor: Option<&str>,
        now: DateTime<Utc>,
        due_before: Option<DateTime<Utc>>,
        categories: &Categories,
    ) -> Result<Vec<CardLine>, StoreError> {
        let when = match due_before {
            None => "deadline < $1",
            Some(_) => "deadline >= $1 AND deadline < $2",
        };
        let whose = if executor.is_some() {
            " AND executor = $3"
        } else {
            ""
        };
        let sql = format!(
            "{CARD_LINE}{ON_THE_EXECUTOR} AND {when}{whose} ORDER BY deadline, registration_number"
        );
        on_pool!(self, |pool| decode_all(
            sqlx::query(&sql)
                .bind(DbTime::new(now))
                .bind(DbTime::new(due_before.unwrap_or(now)))
                .bind(executor.unwrap_or(""))
                .fetch_all(pool)
                .await
                .map_err(query_err("list the cards of a report"))?,
            |row| {
                let c = Cols::new(row, "appeals");
                Ok(CardLine {
                    number: c.get("registration_number")?,
                    executor: c.get("executor")?,
                    category: categories.of(c.opt_uuid("category_id")?).0,
                    status: c.get("status")?,
                    control: c.get("control")?,
                    direct_control: c.get("direct_control")?,
                    extensions: c.int::<i32, u32>("extensions")?,
                    created_at: c.time("created_at")?,
                    deadline: c.time("deadline")?,
                })
            }
        ))
    }

    /// Cards registered from `start` to `end` by street (the key folded,
    /// with the street's name as first written).
    pub async fn report_streets(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<BTreeMap<String, (String, u64)>, StoreError> {
        let addresses = on_pool!(self, |pool| decode_all(
            sqlx::query(
                "SELECT address FROM appeals WHERE created_at >= $1 AND created_at < $2 \
                 AND address IS NOT NULL"
            )
            .bind(DbTime::new(start))
            .bind(DbTime::new(end))
            .fetch_all(pool)
            .await
            .map_err(query_err("read the addresses of a report"))?,
            |row| Cols::new(row, "appeals").get::<String>("address")
        ))?;
        let mut streets: BTreeMap<String, (String, u64)> = BTreeMap::new();
        for address in addresses {
            if let Some((key, name)) = crate::store::address::street_of(&address) {
                streets.entry(key).or_insert((name, 0)).1 += 1;
            }
        }
        Ok(streets)
    }
}

/// A queue row counted from the events or kept for a day: `queue`,
/// `operator_id`, `kind`, `within`, `n`, `wait_ms`, `talk`.
pub(super) fn queue_row(row: &impl StoreRow) -> Result<QueueRow, StoreError> {
    let c = Cols::new(row, "queue_events");
    let outcome = match c.get::<String>("kind")?.as_str() {
        "joined" => QueueOutcome::Joined,
        "refused" => QueueOutcome::Refused,
        "answered" => QueueOutcome::Answered,
        "abandoned" => QueueOutcome::Abandoned,
        _ => QueueOutcome::Left,
    };
    Ok(QueueRow {
        queue: c.get("queue")?,
        operator: c.opt_uuid("operator_id")?.map(|id| id.to_string()),
        outcome,
        within_threshold: c.get("within")?,
        count: c.int::<i64, u64>("n")?,
        wait_ms: c.int::<i64, u64>("wait_ms")?,
        talk_secs: c.int::<i64, u64>("talk")?,
    })
}

/// How a queue row's outcome is kept: read back by [`queue_row`].
pub(super) fn outcome_name(outcome: QueueOutcome) -> &'static str {
    match outcome {
        QueueOutcome::Joined => "joined",
        QueueOutcome::Refused => "refused",
        QueueOutcome::Answered => "answered",
        QueueOutcome::Abandoned => "abandoned",
        QueueOutcome::Left => "left",
    }
}

/// An operator's wrap-ups: `operator_id`, `n`, `secs`.
pub(super) fn wrap_up_row(row: &impl StoreRow) -> Result<WrapUpRow, StoreError> {
    let c = Cols::new(row, "operator_state_changes");
    Ok(WrapUpRow {
        operator: c.uuid("operator_id")?.to_string(),
        count: c.int::<i64, u64>("n")?,
        secs: c.int::<i64, u64>("secs")?,
    })
}

/// The format of an hour's text, `hour` of [`hour_row`].
pub(super) const HOUR: &str = "%Y-%m-%dT%H";

/// An hour's inbound calls: `hour` ("YYYY-MM-DDTHH", UTC), `n`, `blocked`.
pub(super) fn hour_row(row: &impl StoreRow) -> Result<HourRow, StoreError> {
    let c = Cols::new(row, "calls");
    let text: String = c.get("hour")?;
    let hour = NaiveDateTime::parse_from_str(&format!("{text}:00"), &format!("{HOUR}:%M"))
        .map_err(|e| StoreError::Corrupt {
            table: "calls",
            column: "arrived_at",
            reason: format!("{text:?}: {e}"),
        })?
        .and_utc();
    Ok(HourRow {
        hour,
        calls: c.int::<i64, u64>("n")?,
        blocked: c.int::<i64, u64>("blocked")?,
    })
}

fn card_fact(row: &impl StoreRow, categories: &Categories) -> Result<CardFact, StoreError> {
    let c = Cols::new(row, "appeals");
    let (category, section) = categories.of(c.opt_uuid("category_id")?);
    Ok(CardFact {
        executor: c.get("executor")?,
        category,
        section,
        channel: c.get("channel")?,
        status: c.parsed("status", AppealStatus::parse)?,
        created_at: c.time("created_at")?,
        deadline: c.time("deadline")?,
        finished_at: c.opt_time("finished_at")?,
        resolved_at: c.opt_time("resolved_at")?,
        repeat: c.get("is_repeat")?,
    })
}
