//! `hotline-load city`: a year of a large city's data for the reports'
//! benchmark (docs/BENCHMARKS.md, "Reports"): cards through their life
//! (statuses, deadlines, closures on time and late, extensions, moves to
//! the SER plan, verification answers, repeats, streets), inbound calls
//! with their queue events, operators' wrap-ups and the voice menu's
//! self-service, spread over the 365 days before `--until` (midnight UTC
//! of that day; today by default, so no data lie in the future and every
//! day but the last ones has settled, as in a running city) with a day's
//! rhythm. Written with
//! multi-row INSERTs in large transactions (SQLite) or COPY (PostgreSQL),
//! after `Store::connect` has made the schema.
//!
//! Deterministic: the same seed writes the same city.

use anyhow::Context;
use chrono::{DateTime, Datelike, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::postgres::PgPoolCopyExt;
use uuid::Uuid;

/// What to generate.
#[derive(clap::Args)]
pub struct CityArgs {
    /// `sqlite://…` or `postgres://…`: a new, empty database.
    #[arg(long)]
    database_url: String,
    #[arg(long, default_value_t = 1_000_000)]
    cards: usize,
    #[arg(long, default_value_t = 3_000_000)]
    calls: usize,
    /// The day the data end (not included): the year before it is
    /// written. Today if not given.
    #[arg(long)]
    until: Option<chrono::NaiveDate>,
    #[arg(long, default_value_t = 40)]
    operators: usize,
    #[arg(long, default_value_t = 1580)]
    seed: u64,
}

/// A column value, written as each backend wants it.
#[derive(Clone)]
enum V {
    Text(String),
    Int(i64),
    Time(DateTime<Utc>),
    Id(Uuid),
    Null,
}

impl V {
    fn sqlite_literal(&self) -> String {
        match self {
            V::Text(s) => format!("'{}'", s.replace('\'', "''")),
            V::Int(n) => n.to_string(),
            V::Time(t) => format!("'{}'", t.format("%Y-%m-%dT%H:%M:%S%.6fZ")),
            V::Id(u) => format!("'{u}'"),
            V::Null => "NULL".into(),
        }
    }

    fn copy_text(&self) -> String {
        match self {
            V::Text(s) => s
                .replace('\\', "\\\\")
                .replace('\t', "\\t")
                .replace('\n', "\\n"),
            V::Int(n) => n.to_string(),
            V::Time(t) => t.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string(),
            V::Id(u) => u.to_string(),
            V::Null => "\\N".into(),
        }
    }
}

enum Sink {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// Rows of one table, flushed in batches.
struct Table<'a> {
    sink: &'a Sink,
    name: &'static str,
    columns: &'static [&'static str],
    rows: Vec<Vec<V>>,
    written: usize,
}

impl<'a> Table<'a> {
    fn new(sink: &'a Sink, name: &'static str, columns: &'static [&'static str]) -> Table<'a> {
        Table {
            sink,
            name,
            columns,
            rows: Vec::new(),
            written: 0,
        }
    }

    /// Adds a row; the caller flushes (rows that refer to other tables'
    /// rows must go after those).
    async fn push(&mut self, row: Vec<V>) -> anyhow::Result<()> {
        debug_assert_eq!(row.len(), self.columns.len());
        self.rows.push(row);
        Ok(())
    }

    fn full(&self) -> bool {
        self.rows.len() >= 50_000
    }

    async fn flush(&mut self) -> anyhow::Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.rows);
        self.written += rows.len();
        let columns = self.columns.join(", ");
        match self.sink {
            Sink::Sqlite(pool) => {
                let mut tx = pool.begin().await?;
                for chunk in rows.chunks(500) {
                    let values: Vec<String> = chunk
                        .iter()
                        .map(|r| {
                            let cells: Vec<String> = r.iter().map(V::sqlite_literal).collect();
                            format!("({})", cells.join(", "))
                        })
                        .collect();
                    let sql = format!(
                        "INSERT INTO {} ({columns}) VALUES {}",
                        self.name,
                        values.join(", ")
                    );
                    sqlx::query(&sql).execute(&mut *tx).await?;
                }
                tx.commit().await?;
            }
            Sink::Postgres(pool) => {
                let mut copy = pool
                    .copy_in_raw(&format!("COPY {} ({columns}) FROM STDIN", self.name))
                    .await?;
                let mut text = String::new();
                for r in &rows {
                    let cells: Vec<String> = r.iter().map(V::copy_text).collect();
                    text.push_str(&cells.join("\t"));
                    text.push('\n');
                }
                copy.send(text.into_bytes()).await?;
                copy.finish().await?;
            }
        }
        Ok(())
    }
}

/// A moment in the 365 days from `start`: days uniform, hours following
/// a day's rhythm (few at night, most 9:00–17:00 Kyiv time, that is
/// 6:00–14:00 UTC in summer).
fn moment(rng: &mut StdRng, start: DateTime<Utc>) -> DateTime<Utc> {
    let day = rng.gen_range(0..365);
    let hour = match rng.gen_range(0..100) {
        0..=4 => rng.gen_range(0..5),
        5..=79 => rng.gen_range(5..15),
        _ => rng.gen_range(15..24),
    };
    start + Duration::days(day) + Duration::hours(hour) + Duration::seconds(rng.gen_range(0..3600))
}

const STREETS: &[&str] = &[
    "вул. Соборна",
    "просп. Соборний",
    "вул. Перемоги",
    "вул. Незалежної України",
    "бул. Шевченка",
    "вул. Гоголя",
    "вул. Троїцька",
    "вул. Олександрівська",
    "просп. Металургів",
    "вул. Українська",
    "вул. Запорізька",
    "вул. Дніпровська",
    "вул. Чарівна",
    "вул. Патріотична",
    "вул. Культурна",
    "вул. Космічна",
    "вул. Лермонтова",
    "вул. Академіка Амосова",
    "вул. Нижньодніпровська",
    "вул. Рибалка",
];

pub async fn run(args: CityArgs) -> anyhow::Result<()> {
    let began = std::time::Instant::now();
    // The schema, the classifier, through the server's own code.
    let store = hotline::store::Store::connect(&args.database_url)
        .await
        .context("creating the database")?;
    let classifier = hotline::appeal::classifier::Classifier::load(std::path::Path::new(
        hotline::appeal::classifier::DEFAULT_PATH,
    ))?;
    let version = store
        .import_classifier(&classifier, "bench", Utc::now())
        .await?
        .version
        .number;
    let categories = store.categories(version).await?;
    store.close().await;
    let sink = if args.database_url.starts_with("sqlite:") {
        let options: sqlx::sqlite::SqliteConnectOptions = args.database_url.parse()?;
        Sink::Sqlite(
            sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(
                    options
                        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                        .synchronous(sqlx::sqlite::SqliteSynchronous::Off),
                )
                .await?,
        )
    } else {
        Sink::Postgres(sqlx::PgPool::connect(&args.database_url).await?)
    };
    let mut rng = StdRng::seed_from_u64(args.seed);

    // Operators.
    let mut operators = Table::new(
        &sink,
        "operators",
        &[
            "id",
            "login",
            "display_name",
            "extension",
            "realm",
            "ha1_md5",
            "ha1_sha256",
            "password_hash",
            "created_at",
        ],
    );
    let operator_ids: Vec<Uuid> = (0..args.operators).map(|_| Uuid::new_v4()).collect();
    let now = args
        .until
        .unwrap_or_else(|| Utc::now().date_naive())
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc();
    let start = now - Duration::days(365);
    for (n, id) in operator_ids.iter().enumerate() {
        operators
            .push(vec![
                V::Id(*id),
                V::Text(format!("op{n:03}")),
                V::Text(format!("Оператор {n}")),
                V::Text(format!("{}", 2000 + n)),
                V::Text("hotline".into()),
                V::Text("-".into()),
                V::Text("-".into()),
                V::Text("-".into()),
                V::Time(start),
            ])
            .await?;
    }
    operators.flush().await?;

    // Cards, their history, their verification answers.
    let mut appeals = Table::new(
        &sink,
        "appeals",
        &[
            "id",
            "registration_number",
            "registration_digits",
            "status",
            "category",
            "executor",
            "deadline",
            "caller_phone",
            "address",
            "created_at",
            "category_id",
            "channel",
            "repeat_of",
            "term_start",
            "extensions",
            "control",
            "finished_at",
            "resolved_at",
        ],
    );
    let mut history = Table::new(
        &sink,
        "appeal_history",
        &[
            "appeal_id",
            "at",
            "login",
            "role",
            "kind",
            "from_status",
            "to_status",
        ],
    );
    let mut answers = Table::new(
        &sink,
        "verification_attempts",
        &[
            "appeal_id",
            "executor_code",
            "at",
            "channel",
            "result",
            "login",
        ],
    );
    let mut earlier: Vec<Uuid> = Vec::new();
    for n in 0..args.cards {
        if appeals.full() || history.full() || answers.full() {
            appeals.flush().await?;
            history.flush().await?;
            answers.flush().await?;
        }
        let id = Uuid::new_v4();
        let category = &categories[rng.gen_range(0..categories.len())];
        let created_at = moment(&mut rng, start);
        let term = category.deadline.duration();
        let deadline = created_at + term;
        let roll = rng.gen_range(0..100);
        let status = match roll {
            0..=84 => "closed",
            85..=89 => "in_progress",
            90..=91 => "delivered",
            92..=93 => "closure_proposed",
            94..=95 => "verification",
            96 => "rework",
            97 => "long_term",
            _ => "rejected",
        };
        // The work takes 20 % to 130 % of the term: most on time.
        let took = term.num_seconds() as f64 * rng.gen_range(0.2..1.3);
        let resolved = created_at + Duration::seconds(took as i64);
        let closed = status == "closed" && resolved < now;
        let finished = match status {
            "closed" if closed => Some(resolved + Duration::seconds(rng.gen_range(600..172_800))),
            "rejected" => Some(created_at + Duration::hours(2)),
            _ => None,
        };
        let finished = finished.filter(|f| *f < now);
        // What has not happened by now is still under way.
        let status = match status {
            "closed" if resolved >= now => "in_progress",
            "closed" if finished.is_none() => "closure_proposed",
            "rejected" if finished.is_none() => "delivered",
            _ => status,
        };
        let repeat_of = (rng.gen_range(0..100) < 3 && !earlier.is_empty())
            .then(|| earlier[rng.gen_range(0..earlier.len())]);
        if earlier.len() < 10_000 {
            earlier.push(id);
        }
        let channel = match rng.gen_range(0..100) {
            0..=69 => "phone",
            70..=84 => "web",
            85..=94 => "chatbot",
            _ => "walk_in",
        };
        let street = STREETS[rng.gen_range(0..STREETS.len())];
        let extended = rng.gen_range(0..100) < 8;
        let number = format!("1580-{}-{:07}", created_at.year(), n + 1);
        appeals
            .push(vec![
                V::Id(id),
                V::Text(number.clone()),
                V::Text(number.replace('-', "")),
                V::Text(status.into()),
                V::Text(category.type_name.clone()),
                V::Text(category.executor.code.clone()),
                V::Time(if extended {
                    deadline + Duration::days(7)
                } else {
                    deadline
                }),
                V::Text("+380611234567".into()),
                V::Text(format!("{street}, {}", rng.gen_range(1..120))),
                V::Time(created_at),
                V::Id(category.id),
                V::Text(channel.into()),
                repeat_of.map_or(V::Null, V::Id),
                V::Time(created_at),
                V::Int(i64::from(extended)),
                V::Text(
                    if status == "long_term" {
                        "long_term"
                    } else if extended {
                        "additional"
                    } else {
                        "regular"
                    }
                    .into(),
                ),
                finished.map_or(V::Null, V::Time),
                // Kept when the proposal is accepted: only on closed cards.
                if status == "closed" {
                    V::Time(resolved)
                } else {
                    V::Null
                },
            ])
            .await?;
        let step = |kind: &str, at: DateTime<Utc>| {
            vec![
                V::Id(id),
                V::Time(at),
                V::Text("bench".into()),
                V::Text("executor".into()),
                V::Text(kind.into()),
                V::Text("in_progress".into()),
                V::Text("in_progress".into()),
            ]
        };
        history.push(step("registered", created_at)).await?;
        // Steps happen before now and before the card's life ended.
        let until = finished.unwrap_or(now);
        let mut steps = Vec::new();
        if extended {
            steps.push(("extension_requested", created_at + term / 2));
            steps.push(("extended", created_at + term / 2 + Duration::hours(20)));
        }
        if status == "long_term" {
            steps.push(("moved_to_long_term", created_at + term / 2));
        }
        for (kind, at) in steps {
            if at < until {
                history.push(step(kind, at)).await?;
            }
        }
        if let Some(f) = finished {
            history
                .push(step(
                    if status == "closed" {
                        "closed"
                    } else {
                        "dismissed"
                    },
                    f,
                ))
                .await?;
            if status == "closed" && rng.gen_range(0..100) < 30 {
                let confirmed = rng.gen_range(0..100) < 85;
                answers
                    .push(vec![
                        V::Id(id),
                        V::Text(category.executor.code.clone()),
                        // Asked after the work was done, before closing.
                        V::Time((f - Duration::minutes(30)).max(resolved)),
                        V::Text("operator".into()),
                        V::Text(
                            if confirmed {
                                "confirmed"
                            } else {
                                "not_confirmed"
                            }
                            .into(),
                        ),
                        V::Text("bench".into()),
                    ])
                    .await?;
            }
        }
    }
    appeals.flush().await?;
    history.flush().await?;
    answers.flush().await?;
    eprintln!(
        "{} cards, {} history entries, {} answers in {:.0} s",
        appeals.written,
        history.written,
        answers.written,
        began.elapsed().as_secs_f64()
    );

    // Calls, their queue events, the operators' wrap-ups, the menu's
    // self-service.
    let mut calls = Table::new(
        &sink,
        "calls",
        &[
            "id",
            "sip_call_id",
            "caller_raw",
            "caller_e164",
            "called_number",
            "source",
            "source_addr",
            "transport",
            "arrived_at",
            "answered_at",
            "ended_at",
            "ended_by",
            "sip_status",
            "disposition",
            "direction",
        ],
    );
    let mut queue = Table::new(
        &sink,
        "queue_events",
        &["at", "queue", "call_id", "kind", "operator_id", "wait_ms"],
    );
    let mut states = Table::new(
        &sink,
        "operator_state_changes",
        &["operator_id", "at", "state"],
    );
    let mut events = Table::new(&sink, "call_events", &["call_id", "at", "kind", "detail"]);
    const QUEUES: &[&str] = &[
        "general",
        "general",
        "general",
        "housing",
        "roads",
        "emergency",
    ];
    for _ in 0..args.calls {
        if calls.full() || queue.full() || states.full() || events.full() {
            for table in [&mut calls, &mut queue, &mut states, &mut events] {
                table.flush().await?;
            }
        }
        let id = Uuid::new_v4();
        let arrived = moment(&mut rng, start);
        let roll = rng.gen_range(0..1000);
        let blocked = roll < 5;
        let queued = !blocked && roll >= 100;
        let wait = rng.gen_range(0..90_000_i64);
        let abandoned = queued && rng.gen_range(0..100) < 8;
        let talk = rng.gen_range(40..400_i64);
        let ivr_secs = rng.gen_range(10..40_i64);
        let joined = arrived + Duration::seconds(ivr_secs);
        let left = joined + Duration::milliseconds(wait);
        let ended = match (queued, abandoned) {
            (true, false) => left + Duration::seconds(talk),
            (true, true) => left,
            _ => arrived + Duration::seconds(ivr_secs + 5),
        };
        calls
            .push(vec![
                V::Id(id),
                V::Text(format!("{id}@bench")),
                V::Text("0611234567".into()),
                V::Text("+380611234567".into()),
                V::Text("1580".into()),
                V::Text("pbx".into()),
                V::Text("127.0.0.1:5060".into()),
                V::Text("udp".into()),
                V::Time(arrived),
                V::Time(arrived),
                V::Time(ended),
                V::Text("caller".into()),
                V::Int(200),
                V::Text(if blocked { "blocked" } else { "answered" }.into()),
                V::Text("inbound".into()),
            ])
            .await?;
        if !queued {
            // Served by the menu alone: a status read out, or outages.
            let detail = if roll % 2 == 0 {
                "main:status appeal 1580-2026-0000001 in_progress"
            } else {
                "main:outages outages 2"
            };
            if !blocked {
                events
                    .push(vec![
                        V::Id(id),
                        V::Time(arrived + Duration::seconds(8)),
                        V::Text("ivr".into()),
                        V::Text(detail.into()),
                    ])
                    .await?;
            }
            continue;
        }
        let name = QUEUES[rng.gen_range(0..QUEUES.len())];
        queue
            .push(vec![
                V::Time(joined),
                V::Text(name.into()),
                V::Id(id),
                V::Text("joined".into()),
                V::Null,
                V::Null,
            ])
            .await?;
        if abandoned {
            queue
                .push(vec![
                    V::Time(left),
                    V::Text(name.into()),
                    V::Id(id),
                    V::Text("abandoned".into()),
                    V::Null,
                    V::Int(wait),
                ])
                .await?;
            continue;
        }
        let operator = operator_ids[rng.gen_range(0..operator_ids.len())];
        queue
            .push(vec![
                V::Time(left),
                V::Text(name.into()),
                V::Id(id),
                V::Text("answered".into()),
                V::Id(operator),
                V::Int(wait),
            ])
            .await?;
        states
            .push(vec![
                V::Id(operator),
                V::Time(ended),
                V::Text("wrap_up".into()),
            ])
            .await?;
        states
            .push(vec![
                V::Id(operator),
                V::Time(ended + Duration::seconds(rng.gen_range(5..60))),
                V::Text("available".into()),
            ])
            .await?;
    }
    for table in [&mut calls, &mut queue, &mut states, &mut events] {
        table.flush().await?;
    }
    eprintln!(
        "{} calls, {} queue events, {} state changes, {} menu events; {:.0} s in all",
        calls.written,
        queue.written,
        states.written,
        events.written,
        began.elapsed().as_secs_f64()
    );
    if let Sink::Postgres(pool) = &sink {
        sqlx::query("ANALYZE").execute(pool).await?;
    } else if let Sink::Sqlite(pool) = &sink {
        sqlx::query("ANALYZE").execute(pool).await?;
    }
    Ok(())
}
