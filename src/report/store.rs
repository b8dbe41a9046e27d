//! The reports' queries: the cards a period touches and the steps and
//! verifications in it, counted by group; the queue events, wrap-ups and
//! calls per hour counted in the database; the lists of overdue and
//! due-soon cards; and the names that stand for codes.
//!
//! Role: reads only. Counting that the database does well (grouped
//! counts, sums, and the times to closure gathered per group) is done
//! there, so a year of a large city is a few thousand rows, not a million;
//! what needs the city's clock or the percentile is done by the plain code
//! in [`super::indicators`] and [`super::calls`], which these queries feed.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDateTime, Utc};
use uuid::Uuid;

use super::call_days::{DayFigures, SETTLING};
use super::calls::{HourRow, QueueOutcome, QueueRow, WrapUpRow};
use super::indicators::{CardCount, Group, ON_THE_EXECUTOR, Step, StepCount, Tally};
use super::kinds::{CardLine, Names};
use crate::store::encoding::{Cols, DbTime, StoreRow};
use crate::store::{Backend, QueueEventKind, Store, StoreError, decode_all, on_pool, query_err};

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
        // date_part is double precision; extract's numeric is slower.
        Backend::Postgres(_) => format!("CAST(round(date_part('epoch', {b} - {a})) AS bigint)"),
    }
}

/// Counts by the UTC hour of the moment in `column`: `counts` (the
/// aggregates, `n` first) of `FROM … WHERE …` in `rest`, as `hour` (text
/// in [`HOUR`]'s format) and the counts' names. PostgreSQL groups by the
/// truncated moment and writes the text once per hour, not once per row.
fn by_hour(backend: &Backend, column: &str, counts: &str, rest: &str) -> String {
    match backend {
        Backend::Sqlite(_) => {
            format!("SELECT substr({column}, 1, 13) AS hour, {counts} {rest} GROUP BY 1")
        }
        Backend::Postgres(_) => format!(
            "SELECT to_char(h, 'YYYY-MM-DD\"T\"HH24') AS hour, s.* FROM (SELECT \
             date_trunc('hour', {column} AT TIME ZONE 'UTC') AS h, {counts} {rest} GROUP BY 1) s"
        ),
    }
}

/// The states in which the deadline runs on the executor, for SQL.
fn on_the_executor() -> String {
    let states: Vec<String> = ON_THE_EXECUTOR
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect();
    format!("status IN ({})", states.join(", "))
}

/// On SQLite, the index a count of cards is to read (migration 0017):
/// its planner, seeing a narrower index on the period's column, would
/// otherwise visit a year's cards one by one and sort them.
fn indexed(backend: &Backend, index: &str) -> String {
    match backend {
        Backend::Sqlite(_) => format!(" INDEXED BY {index}"),
        Backend::Postgres(_) => String::new(),
    }
}

/// The cards a period touches, counted ([`Store::count_cards`]).
#[derive(Debug, Default)]
pub struct CardCounts {
    pub groups: Vec<(Group, CardCount)>,
    /// Registered in each UTC hour.
    pub hours: Vec<(DateTime<Utc>, u64)>,
}

impl CardCounts {
    /// Adds them to `tally`.
    pub fn feed(&self, tally: &mut Tally) {
        for (group, count) in &self.groups {
            tally.cards(group, count);
        }
        for &(hour, count) in &self.hours {
            tally.received_in_hour(hour, count);
        }
    }
}

/// A row of one of [`Store::count_cards`]'s counts.
trait CountRow: Sized {
    fn decode(row: &impl StoreRow, categories: &Categories) -> Result<Self, StoreError>;
}

/// Cards registered in an hour: `hour` ([`HOUR`], UTC), `n`.
struct InHour {
    hour: DateTime<Utc>,
    count: u64,
}

impl CountRow for InHour {
    fn decode(row: &impl StoreRow, _: &Categories) -> Result<Self, StoreError> {
        let c = Cols::new(row, "appeals");
        Ok(InHour {
            hour: hour_at(&c)?,
            count: c.int::<i64, u64>("n")?,
        })
    }
}

/// One group's count of cards, as [`Store::count_group`] reads it: `n`
/// cards, `part` of them with the count's mark (repeats, closed on time,
/// overdue), and their times to closure if it asks for them.
struct Counted {
    group: Group,
    count: u64,
    part: u64,
    close_secs: Vec<u64>,
}

const CARD_LINE: &str = "SELECT registration_number, executor, category_id, status, control, \
    direct_control, extensions, created_at, deadline FROM appeals WHERE finished_at IS NULL AND ";

impl Store {
    /// Waits for leave to run one of the reports' long reads.
    pub(super) async fn report_read(&self) -> tokio::sync::SemaphorePermit<'_> {
        self.report_reads
            .acquire()
            .await
            .expect("the store never closes its semaphore")
    }

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

    /// Counts every card the period from `start` to `end` touches (only
    /// `only`'s, if given), by group: registered in it (and by hour),
    /// closed in it, open at `now`; each as [`CardCount`] says. The four
    /// counts run at once.
    pub async fn count_cards(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        now: DateTime<Utc>,
        only: Option<&str>,
        categories: &Categories,
    ) -> Result<CardCounts, StoreError> {
        let whose = if only.is_some() {
            " AND executor = $4"
        } else {
            ""
        };
        let group = "executor, category_id, channel";
        let received = format!(
            "SELECT {group}, count(*) AS n, \
             CAST(sum(CASE WHEN repeat_of IS NOT NULL THEN 1 ELSE 0 END) AS bigint) AS part, \
             CAST(NULL AS text) AS secs FROM appeals{} \
             WHERE created_at >= $1 AND created_at < $2{whose} GROUP BY {group}",
            indexed(&self.backend, "appeals_report_received")
        );
        // The work finished by the deadline, to the second.
        let secs = seconds_between(&self.backend, "created_at", "finished_at");
        let list = match self.backend {
            Backend::Sqlite(_) => format!("group_concat({secs}, ',')"),
            Backend::Postgres(_) => format!("string_agg(CAST({secs} AS text), ',')"),
        };
        let closed = format!(
            "SELECT {group}, count(*) AS n, CAST(sum(CASE WHEN \
             COALESCE(resolved_at, finished_at) <= deadline THEN 1 ELSE 0 END) AS bigint) AS part, \
             {list} AS secs FROM appeals{} \
             WHERE status = 'closed' AND finished_at >= $1 AND finished_at < $2{whose} \
             GROUP BY {group}",
            indexed(&self.backend, "appeals_report_closed")
        );
        let open = format!(
            "SELECT {group}, count(*) AS n, CAST(sum(CASE WHEN {} AND deadline < $3 \
             THEN 1 ELSE 0 END) AS bigint) AS part, CAST(NULL AS text) AS secs FROM appeals{} \
             WHERE finished_at IS NULL AND status NOT IN ('closed', 'rejected'){whose} \
             GROUP BY {group}",
            on_the_executor(),
            indexed(&self.backend, "appeals_report_open")
        );
        let by_hour = by_hour(
            &self.backend,
            "created_at",
            "count(*) AS n",
            &format!("FROM appeals WHERE created_at >= $1 AND created_at < $2{whose}"),
        );
        let count = |sql| self.count_group::<Counted>(sql, start, end, now, only, categories);
        let (received, closed, open, hours) = futures_util::try_join!(
            count(&received),
            count(&closed),
            count(&open),
            self.count_group::<InHour>(&by_hour, start, end, now, only, categories)
        )?;
        let mut counts = CardCounts {
            groups: Vec::new(),
            hours: hours.into_iter().map(|h| (h.hour, h.count)).collect(),
        };
        for c in received {
            let count = CardCount::Received {
                count: c.count,
                repeats: c.part,
            };
            counts.groups.push((c.group, count));
        }
        for c in closed {
            let count = CardCount::Closed {
                on_time: c.part,
                late: c.count.saturating_sub(c.part),
                close_secs: c.close_secs,
            };
            counts.groups.push((c.group, count));
        }
        for c in open {
            let count = CardCount::Open {
                count: c.count,
                overdue: c.part,
            };
            counts.groups.push((c.group, count));
        }
        Ok(counts)
    }

    /// Runs one of [`Store::count_cards`]'s grouped counts: `$1` and `$2`
    /// the period, `$3` now, `$4` the one executor.
    async fn count_group<T: CountRow>(
        &self,
        sql: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        now: DateTime<Utc>,
        only: Option<&str>,
        categories: &Categories,
    ) -> Result<Vec<T>, StoreError> {
        let _leave = self.report_read().await;
        on_pool!(self, |pool| decode_all(
            sqlx::query(sql)
                .bind(DbTime::new(start))
                .bind(DbTime::new(end))
                .bind(DbTime::new(now))
                .bind(only.unwrap_or_default())
                .fetch_all(pool)
                .await
                .map_err(query_err("count the cards of a report"))?,
            |row| T::decode(row, categories)
        ))
    }

    /// Counts the steps (extensions asked and granted, moves to the SER
    /// plan) and the verification answers of the period, by the card's
    /// group (the answers by the executor asked about); the two at once.
    pub async fn count_steps(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        categories: &Categories,
    ) -> Result<Vec<StepCount>, StoreError> {
        let (history, answers, cards) = (
            indexed(&self.backend, "appeal_history_report"),
            indexed(&self.backend, "verification_attempts_report"),
            indexed(&self.backend, "appeals_report_group"),
        );
        let queries = [
            format!(
                "SELECT a.executor AS executor, a.category_id, a.channel, h.kind AS kind, \
                 count(*) AS n FROM appeal_history h{history} \
                 JOIN appeals a{cards} ON a.id = h.appeal_id \
                 WHERE h.kind IN ('extension_requested', 'extended', 'moved_to_long_term') \
                 AND h.at >= $1 AND h.at < $2 \
                 GROUP BY a.executor, a.category_id, a.channel, h.kind"
            ),
            format!(
                "SELECT v.executor_code AS executor, a.category_id, a.channel, \
                 v.result AS kind, count(*) AS n FROM verification_attempts v{answers} \
                 JOIN appeals a{cards} ON a.id = v.appeal_id \
                 WHERE v.at >= $1 AND v.at < $2 AND v.result IN ('confirmed', 'not_confirmed') \
                 GROUP BY v.executor_code, a.category_id, a.channel, v.result"
            ),
        ];
        let count = |sql: String| async move {
            let _leave = self.report_read().await;
            on_pool!(self, |pool| decode_all(
                sqlx::query(&sql)
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
                    Ok(StepCount {
                        group: group_of(&c, categories)?,
                        step,
                        count: c.int::<i64, u64>("n")?,
                    })
                }
            ))
        };
        let [steps, answers] = queries;
        let (mut steps, answers) = futures_util::try_join!(count(steps), count(answers))?;
        steps.extend(answers);
        Ok(steps)
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
        let _leave = self.report_read().await;
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

        let sql = by_hour(
            &self.backend,
            "arrived_at",
            "count(*) AS n, \
             CAST(sum(CASE WHEN disposition = 'blocked' THEN 1 ELSE 0 END) AS bigint) AS blocked",
            "FROM calls WHERE arrived_at >= $1 AND arrived_at < $2 AND direction = 'inbound'",
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
            "{CARD_LINE}{} AND {when}{whose} ORDER BY deadline, registration_number",
            on_the_executor()
        );
        let _leave = self.report_read().await;
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
        let _leave = self.report_read().await;
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
    let outcome = c.parsed("kind", |t| {
        QueueEventKind::parse(t).and_then(QueueOutcome::of)
    })?;
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
    Ok(HourRow {
        hour: hour_at(&c)?,
        calls: c.int::<i64, u64>("n")?,
        blocked: c.int::<i64, u64>("blocked")?,
    })
}

/// The hour in the `hour` column ([`HOUR`], UTC).
fn hour_at<R: StoreRow>(c: &Cols<'_, R>) -> Result<DateTime<Utc>, StoreError> {
    c.parsed("hour", |text| {
        NaiveDateTime::parse_from_str(&format!("{text}:00"), &format!("{HOUR}:%M"))
            .ok()
            .map(|t| t.and_utc())
    })
}

/// A card's group: `executor`, `category_id`, `channel`.
fn group_of<R: StoreRow>(c: &Cols<'_, R>, categories: &Categories) -> Result<Group, StoreError> {
    let (category, section) = categories.of(c.opt_uuid("category_id")?);
    Ok(Group {
        executor: c.get("executor")?,
        category,
        section,
        // Cards from before channels were kept came by phone.
        channel: c
            .get::<Option<String>>("channel")?
            .unwrap_or_else(|| "phone".into()),
    })
}

/// A grouped count of cards: the group, `n`, `part`, `secs` (times to
/// closure, separated by commas, or null).
impl CountRow for Counted {
    fn decode(row: &impl StoreRow, categories: &Categories) -> Result<Self, StoreError> {
        let c = Cols::new(row, "appeals");
        let close_secs = match c.get::<Option<String>>("secs")? {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(|n| {
                    n.parse::<i64>()
                        .map(|n| n.max(0).unsigned_abs())
                        .map_err(|e| StoreError::Corrupt {
                            table: "appeals",
                            column: "finished_at",
                            reason: format!("time to closure {n:?}: {e}"),
                        })
                })
                .collect::<Result<_, _>>()?,
        };
        Ok(Counted {
            group: group_of(&c, categories)?,
            count: c.int::<i64, u64>("n")?,
            part: c.int::<i64, u64>("part")?,
            close_secs,
        })
    }
}
