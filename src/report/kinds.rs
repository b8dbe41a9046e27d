//! The regulation's report set (000 §4.1, 002 §3.3) drawn as documents
//! from counted figures: the daily report to an executor's head, the
//! weekly and monthly reports to the city's leadership (every executor,
//! ranked), the analytic note every two weeks (against the two weeks
//! before), the weekly list of cards unresolved at every control level,
//! the call centre's figures, and any period on demand.
//!
//! Plain code: figures in, [`Report`] out; the store counts them
//! ([`super::build`]).

use std::cmp::Reverse;
use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;

use super::calls::{CallFigures, CallReport};
use super::document::{self, Cell, Chart, Column, ColumnKind, Report, Section, Series, Table};
use super::indicators::{Breakdown, Indicators};
use super::period::{Period, Span, weekday_short};
use crate::store::text_enum;

text_enum! {
    /// Which report.
    ReportKind {
        /// To each executor's head: their organisation's day and their
        /// overdue and due-soon cards (000 §4.1.1).
        Daily => "daily",
        /// To the city's leadership: every executor, ranked (000 §4.1.2).
        Weekly => "weekly",
        Monthly => "monthly",
        /// The analytic note every two weeks, against the two before
        /// (000 §4.1.3).
        Fortnight => "fortnight",
        /// Cards unresolved at every control level (000 §4.1.5).
        Unresolved => "unresolved",
        /// The contact centre's calls.
        Calls => "calls",
        /// Any period on demand: the weekly report's contents.
        Period => "period",
    }
}

impl ReportKind {
    /// The report's title in Ukrainian.
    pub fn title(self) -> &'static str {
        match self {
            ReportKind::Daily => "Щоденний звіт виконавця",
            ReportKind::Weekly => "Тижневий звіт про розгляд звернень",
            ReportKind::Monthly => "Місячний звіт про розгляд звернень",
            ReportKind::Fortnight => "Аналітична довідка за два тижні",
            ReportKind::Unresolved => "Звернення, не вирішені на всіх рівнях контролю",
            ReportKind::Calls => "Робота контакт-центру: дзвінки",
            ReportKind::Period => "Звіт про розгляд звернень за період",
        }
    }

    /// The period a scheduled report covers when made on `today`: the
    /// day, week, month or two weeks just over.
    pub fn default_period(self, today: NaiveDate) -> Period {
        let yesterday = today.pred_opt().unwrap_or(today);
        match self {
            ReportKind::Daily | ReportKind::Calls => Period::day(yesterday),
            ReportKind::Weekly | ReportKind::Unresolved | ReportKind::Period => {
                Period::week(today).previous()
            }
            ReportKind::Monthly => Period::month(today).previous(),
            ReportKind::Fortnight => {
                let last_week = Period::week(today).previous();
                Period::fortnight(last_week.first - chrono::Days::new(7))
            }
        }
    }

    /// The period asked for: `from` alone is that one day, neither is the
    /// period just over as of `today` (the command line's and the API's
    /// rule alike).
    pub fn period(
        self,
        from: Option<&str>,
        to: Option<&str>,
        today: NaiveDate,
    ) -> Result<Period, super::period::PeriodError> {
        match (from, to) {
            (None, None) => Ok(self.default_period(today)),
            (Some(from), None) => Period::parse(from, from),
            (Some(from), Some(to)) => Period::parse(from, to),
            (None, Some(to)) => Err(super::period::PeriodError::NoStart(to.to_string())),
        }
    }

    /// Whether the report is for one executor.
    pub fn per_executor(self) -> bool {
        self == ReportKind::Daily
    }
}

/// Names people read in place of codes.
#[derive(Debug, Clone, Default)]
pub struct Names {
    /// Executor code → name.
    pub executors: BTreeMap<String, String>,
    /// Issue type code → name.
    pub categories: BTreeMap<String, String>,
    /// Section code → name.
    pub sections: BTreeMap<String, String>,
    /// Operator key (as in the call figures) → display name.
    pub operators: BTreeMap<String, String>,
    /// Queue name → title (`title` in the queues file).
    pub queues: BTreeMap<String, String>,
}

/// The name `map` gives `code`, or the code itself when it has none (an
/// executor or category since removed from the classifier).
fn name_in(map: &BTreeMap<String, String>, code: &str) -> String {
    map.get(code).cloned().unwrap_or_else(|| code.to_string())
}

impl Names {
    fn executor(&self, code: &str) -> String {
        if code.is_empty() {
            return crate::appeal::store::TRIAGE_NAME.into();
        }
        name_in(&self.executors, code)
    }

    fn category(&self, code: &str) -> String {
        if code.is_empty() {
            return "Без категорії (розподіл контакт-центром)".into();
        }
        name_in(&self.categories, code)
    }

    fn section(&self, code: &str) -> String {
        if code.is_empty() {
            return "Без розділу".into();
        }
        name_in(&self.sections, code)
    }

    fn operator(&self, key: &str) -> String {
        name_in(&self.operators, key)
    }

    fn queue(&self, name: &str) -> String {
        name_in(&self.queues, name)
    }
}

/// A channel's name in Ukrainian.
pub fn channel_name(code: &str) -> String {
    match code {
        "phone" => "Телефон".into(),
        "walk_in" => "Особистий прийом".into(),
        "web" => "Веб-сайт".into(),
        "chatbot" => "Чат-бот".into(),
        "open311" => "Open311 (застосунки)".into(),
        other => other.to_string(),
    }
}

/// A card in a report's list: no personal data (no names, phones or
/// addresses), only what the executor's head or the leadership acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardLine {
    pub number: String,
    pub executor: String,
    pub category: Option<String>,
    pub status: String,
    pub control: String,
    pub direct_control: bool,
    pub extensions: u32,
    pub created_at: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
}

/// What every report shares: when, for which period, read how.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub period: Period,
    pub made_at: DateTime<Utc>,
    pub tz: Tz,
    pub names: &'a Names,
}

impl Context<'_> {
    /// The report of the whole city (`executor` = `None`) or of one
    /// organisation.
    fn report(&self, kind: ReportKind, executor: Option<&str>, sections: Vec<Section>) -> Report {
        Report {
            kind: kind.as_str(),
            title: kind.title().to_string(),
            scope: executor.map_or_else(|| CITY.to_string(), |e| self.names.executor(e)),
            executor: executor.map(str::to_string),
            period: self.period,
            period_text: self.period.to_string(),
            made_at: self.made_at,
            made_at_text: self.time(self.made_at),
            sections,
        }
    }

    fn time(&self, at: DateTime<Utc>) -> String {
        document::time_text(at.with_timezone(&self.tz).naive_local())
    }

    /// A moment as a cell, on the city's clock, to the minute as every
    /// format shows it.
    fn at(&self, at: DateTime<Utc>) -> Cell {
        let local = at.with_timezone(&self.tz).naive_local();
        Cell::At(
            local
                - chrono::Duration::seconds(i64::from(local.second()))
                - chrono::Duration::nanoseconds(i64::from(local.nanosecond())),
        )
    }
}

const CITY: &str = "Усі виконавці міста";

fn col(title: &str, kind: ColumnKind) -> Column {
    Column {
        title: title.to_string(),
        kind,
    }
}

/// The indicator columns after a first (name) column.
fn indicator_columns(first: &str) -> Vec<Column> {
    use ColumnKind::*;
    vec![
        col(first, Text),
        col("Надійшло", Count),
        col("Закрито вчасно", Count),
        col("Закрито із запізненням", Count),
        col("Вчасно, %", Percent),
        col("Відкрито зараз", Count),
        col("Прострочено зараз", Count),
        col("Продовжень запитано", Count),
        col("Продовжень надано", Count),
        col("До плану СЕР", Count),
        col("Перевірено", Count),
        col("Підтверджено", Count),
        col("Підтверджено, %", Percent),
        col("Повторні", Count),
        col("Середній час закриття", Duration),
        col("90 % закрито за", Duration),
    ]
}

fn indicator_cells(name: String, i: &Indicators) -> Vec<Cell> {
    vec![
        Cell::Text(name),
        Cell::count(i.received),
        Cell::count(i.closed_on_time),
        Cell::count(i.closed_late),
        Cell::opt(i.on_time_pct()),
        Cell::count(i.open_now),
        Cell::count(i.overdue_now),
        Cell::count(i.extensions_asked),
        Cell::count(i.extensions_granted),
        Cell::count(i.moved_to_long_term),
        Cell::count(i.verified),
        Cell::count(i.confirmed),
        Cell::opt(i.confirmation_pct()),
        Cell::count(i.repeats),
        Cell::secs(i.mean_close_secs()),
        Cell::secs(i.p90_close_secs()),
    ]
}

fn indicator_table<'a>(
    first: &str,
    groups: impl Iterator<Item = (String, &'a Indicators)>,
    total: Option<&Indicators>,
) -> Table {
    Table {
        columns: indicator_columns(first),
        rows: groups.map(|(name, i)| indicator_cells(name, i)).collect(),
        total: total.map(|t| indicator_cells("Усього".into(), t)),
        omitted: 0,
    }
}

/// Executors ranked: the highest share closed on time first, then the
/// fewest overdue, then the most closed; executors with nothing closed
/// after those with closures.
fn ranked(by_executor: &BTreeMap<String, Indicators>) -> Vec<(&String, &Indicators)> {
    let mut list: Vec<_> = by_executor.iter().collect();
    list.sort_by(|(a_code, a), (b_code, b)| {
        let share = |i: &Indicators| i.on_time_pct().unwrap_or(-1.0);
        share(b)
            .total_cmp(&share(a))
            .then(a.overdue_now.cmp(&b.overdue_now))
            .then(b.closed().cmp(&a.closed()))
            .then(a_code.cmp(b_code))
    });
    list
}

fn executors_section(ctx: &Context, appeals: &Breakdown) -> Section {
    let ranked = ranked(&appeals.by_executor);
    let mut table = indicator_table(
        "Виконавець",
        ranked
            .iter()
            .map(|(code, i)| (ctx.names.executor(code), *i)),
        Some(&appeals.total),
    );
    table.columns.insert(0, col("Місце", ColumnKind::Count));
    for (n, row) in table.rows.iter_mut().enumerate() {
        row.insert(0, Cell::count(n as u64 + 1));
    }
    if let Some(total) = &mut table.total {
        total.insert(0, Cell::Empty);
    }
    let labels = ranked.iter().map(|(c, _)| ctx.names.executor(c)).collect();
    let series = |name: &str, f: fn(&Indicators) -> u64| Series {
        name: name.to_string(),
        values: ranked.iter().map(|(_, i)| f(i) as f64).collect(),
    };
    Section {
        key: "executors",
        title: "Виконавці (рейтинг)".into(),
        note: Some(
            "Місце: за часткою закритих вчасно, далі за меншою кількістю прострочених. \
             Вчасно — виконавець запропонував закриття не пізніше строку."
                .into(),
        ),
        table,
        chart: Some(Chart::RankedBars {
            labels,
            series: vec![
                series("Закрито вчасно", |i| i.closed_on_time),
                series("Закрито із запізненням", |i| {
                    i.closed_late
                }),
                series("Прострочено зараз", |i| i.overdue_now),
            ],
        }),
    }
}

fn grouped_section(
    key: &'static str,
    title: &str,
    first: &str,
    groups: &BTreeMap<String, Indicators>,
    name: impl Fn(&str) -> String,
) -> Section {
    let mut list: Vec<_> = groups.iter().collect();
    list.sort_by_key(|(code, i)| (Reverse(i.received), *code));
    Section {
        key,
        title: title.to_string(),
        note: None,
        table: indicator_table(first, list.into_iter().map(|(c, i)| (name(c), i)), None),
        chart: None,
    }
}

fn volume_section(ctx: &Context, appeals: &Breakdown, calls: Option<&CallReport>) -> Section {
    let days: Vec<NaiveDate> = ctx.period.dates().collect();
    let mut series = vec![Series {
        name: "Звернення".into(),
        values: days
            .iter()
            .map(|d| appeals.received_by_day.get(d).copied().unwrap_or(0) as f64)
            .collect(),
    }];
    let mut columns = vec![
        col("День", ColumnKind::Text),
        col("Звернень", ColumnKind::Count),
    ];
    if let Some(calls) = calls {
        columns.push(col("Дзвінків", ColumnKind::Count));
        series.push(Series {
            name: "Дзвінки".into(),
            values: days
                .iter()
                .map(|d| calls.by_day.get(d).copied().unwrap_or(0) as f64)
                .collect(),
        });
    }
    let day_text =
        |d: &NaiveDate| format!("{} {}", d.format("%d.%m.%Y"), weekday_short(d.weekday()));
    let rows = days
        .iter()
        .enumerate()
        .map(|(n, d)| {
            let mut row = vec![Cell::text(day_text(d))];
            row.extend(series.iter().map(|s| Cell::Number(s.values[n])));
            row
        })
        .collect();
    Section {
        key: "volume",
        title: "Надходження за днями".into(),
        note: None,
        table: Table {
            columns,
            rows,
            total: None,
            omitted: 0,
        },
        chart: Some(Chart::TimeSeries {
            days: days
                .iter()
                .map(|d| d.format("%Y-%m-%d").to_string())
                .collect(),
            series,
        }),
    }
}

fn call_columns(first: &str) -> Vec<Column> {
    use ColumnKind::*;
    vec![
        col(first, Text),
        col("Надійшло в чергу", Count),
        col("Відповіли", Count),
        col("Відповіли за 20 с", Count),
        col("Рівень обслуговування, %", Percent),
        col("Покинули", Count),
        col("Покинули, %", Percent),
        col("Черга не прийняла", Count),
        col("Середнє очікування", Duration),
        col("Середня розмова", Duration),
        col("Середня післяобробка", Duration),
    ]
}

fn call_cells(name: String, f: &CallFigures) -> Vec<Cell> {
    vec![
        Cell::Text(name),
        Cell::count(f.offered),
        Cell::count(f.answered),
        Cell::count(f.answered_within),
        Cell::opt(f.service_level_pct()),
        Cell::count(f.abandoned),
        Cell::opt(f.abandon_pct()),
        Cell::count(f.refused),
        Cell::secs(f.mean_wait_secs()),
        Cell::secs(f.mean_talk_secs()),
        Cell::secs(f.mean_wrap_up_secs()),
    ]
}

fn call_sections(ctx: &Context, calls: &CallReport) -> Vec<Section> {
    use ColumnKind::*;
    let summary = Section {
        key: "calls_summary",
        title: "Дзвінки: підсумок".into(),
        note: Some(
            "Рівень обслуговування: відповіли за 20 с із тих, кому відповіли або хто покинув \
             чергу, прочекавши довше 20 с."
                .into(),
        ),
        table: Table {
            columns: vec![col("Показник", Text), col("Значення", Count)],
            rows: [
                ("Вхідних дзвінків", Cell::count(calls.calls), Count),
                ("Із заблокованих номерів", Cell::count(calls.blocked), Count),
                ("Надійшло в черги", Cell::count(calls.total.offered), Count),
                ("Відповіли", Cell::count(calls.total.answered), Count),
                ("Покинули", Cell::count(calls.total.abandoned), Count),
                ("Покинули, %", Cell::opt(calls.total.abandon_pct()), Percent),
                (
                    "Рівень обслуговування (20 с), %",
                    Cell::opt(calls.total.service_level_pct()),
                    Percent,
                ),
                (
                    "Середнє очікування",
                    Cell::secs(calls.total.mean_wait_secs()),
                    Duration,
                ),
                (
                    "Середня розмова",
                    Cell::secs(calls.total.mean_talk_secs()),
                    Duration,
                ),
                (
                    "Середня післяобробка",
                    Cell::secs(calls.total.mean_wrap_up_secs()),
                    Duration,
                ),
                (
                    "Самообслуговування: статус звернення",
                    Cell::count(calls.status_lookups),
                    Count,
                ),
                (
                    "Самообслуговування: відключення",
                    Cell::count(calls.outage_announcements),
                    Count,
                ),
            ]
            .into_iter()
            .map(|(name, value, kind)| {
                let value = value.number().map_or(Cell::Empty, |n| Cell::Of(n, kind));
                vec![Cell::text(name), value]
            })
            .collect(),
            total: None,
            omitted: 0,
        },
        chart: None,
    };
    let queues = Section {
        key: "queues",
        title: "Черги".into(),
        note: None,
        table: Table {
            columns: call_columns("Черга"),
            rows: calls
                .by_queue
                .iter()
                .map(|(q, f)| call_cells(ctx.names.queue(q), f))
                .collect(),
            total: Some(call_cells("Усього".into(), &calls.total)),
            omitted: 0,
        },
        chart: None,
    };
    let mut operators: Vec<_> = calls.by_operator.iter().collect();
    operators.sort_by_key(|(key, f)| (Reverse(f.answered), ctx.names.operator(key)));
    let operators = Section {
        key: "operators",
        title: "Оператори".into(),
        note: None,
        table: Table {
            columns: vec![
                col("Оператор", Text),
                col("Відповів", Count),
                col("Відповів за 20 с", Count),
                col("Середнє очікування", Duration),
                col("Середня розмова", Duration),
                col("Середня післяобробка", Duration),
            ],
            rows: operators
                .into_iter()
                .map(|(key, f)| {
                    vec![
                        Cell::Text(ctx.names.operator(key)),
                        Cell::count(f.answered),
                        Cell::count(f.answered_within),
                        Cell::secs(f.mean_wait_secs()),
                        Cell::secs(f.mean_talk_secs()),
                        Cell::secs(f.mean_wrap_up_secs()),
                    ]
                })
                .collect(),
            total: None,
            omitted: 0,
        },
        chart: None,
    };
    let hours: Vec<String> = (0..24).map(|h| format!("{h:02}")).collect();
    let weekdays: Vec<String> = [
        chrono::Weekday::Mon,
        chrono::Weekday::Tue,
        chrono::Weekday::Wed,
        chrono::Weekday::Thu,
        chrono::Weekday::Fri,
        chrono::Weekday::Sat,
        chrono::Weekday::Sun,
    ]
    .iter()
    .map(|d| weekday_short(*d).to_string())
    .collect();
    let mut hour_columns = vec![col("День тижня", Text)];
    hour_columns.extend(hours.iter().map(|h| col(h, Count)));
    let by_hour = Section {
        key: "hours",
        title: "Дзвінки за годинами доби".into(),
        note: Some("За київським часом.".into()),
        table: Table {
            columns: hour_columns,
            rows: weekdays
                .iter()
                .zip(calls.by_weekday_hour.iter())
                .map(|(day, row)| {
                    let mut cells = vec![Cell::text(day.clone())];
                    cells.extend(row.iter().map(|n| Cell::count(*n)));
                    cells
                })
                .collect(),
            total: Some({
                let mut cells = vec![Cell::text("Усього")];
                cells.extend(calls.by_hour.iter().map(|n| Cell::count(*n)));
                cells
            }),
            omitted: 0,
        },
        chart: Some(Chart::HeatMap {
            rows: weekdays,
            columns: hours,
            values: calls.by_weekday_hour.iter().map(|r| r.to_vec()).collect(),
        }),
    };
    vec![summary, queues, operators, by_hour]
}

/// The weekly, monthly or on-demand report: the city's indicators, every
/// executor ranked, by section, category and channel, the volume by day,
/// and the calls. For one executor (`calls` is then `None`): that
/// executor's own, without the contact centre's calls.
pub fn summary(
    ctx: &Context,
    kind: ReportKind,
    appeals: &Breakdown,
    calls: Option<&CallReport>,
    executor: Option<&str>,
) -> Report {
    let names = ctx.names;
    let mut sections = vec![
        executors_section(ctx, appeals),
        volume_section(ctx, appeals, calls),
        grouped_section(
            "sections",
            "За розділами класифікатора",
            "Розділ",
            &appeals.by_section,
            |c| names.section(c),
        ),
        grouped_section(
            "categories",
            "За категоріями",
            "Категорія",
            &appeals.by_category,
            |c| names.category(c),
        ),
        grouped_section(
            "channels",
            "За каналами надходження",
            "Канал",
            &appeals.by_channel,
            channel_name,
        ),
    ];
    if let Some(calls) = calls {
        sections.extend(call_sections(ctx, calls));
    }
    ctx.report(kind, executor, sections)
}

/// The contact centre's calls alone.
pub fn calls(ctx: &Context, calls: &CallReport) -> Report {
    let mut sections = call_sections(ctx, calls);
    let days: Vec<NaiveDate> = ctx.period.dates().collect();
    if days.len() > 1 {
        let empty = Breakdown::default();
        let mut volume = volume_section(ctx, &empty, Some(calls));
        // Calls only: drop the appeals' column and series.
        for row in &mut volume.table.rows {
            row.remove(1);
        }
        volume.table.columns.remove(1);
        if let Some(Chart::TimeSeries { series, .. }) = &mut volume.chart {
            series.remove(0);
        }
        volume.title = "Дзвінки за днями".into();
        sections.insert(1, volume);
    }
    let mut report = ctx.report(ReportKind::Calls, None, sections);
    report.scope = "Контакт-центр".into();
    report
}

fn card_list(ctx: &Context, key: &'static str, title: &str, cards: &[CardLine]) -> Section {
    use ColumnKind::*;
    let now = ctx.made_at;
    Section {
        key,
        title: title.to_string(),
        note: None,
        table: Table {
            columns: vec![
                col("Реєстраційний номер", Text),
                col("Виконавець", Text),
                col("Категорія", Text),
                col("Стан", Text),
                col("Контроль", Text),
                col("Зареєстровано", Time),
                col("Строк", Time),
                col("Прострочено на", Duration),
                col("Продовжень", Count),
            ],
            rows: cards
                .iter()
                .map(|c| {
                    let late = now.signed_duration_since(c.deadline).num_seconds();
                    let mut control = control_name(&c.control).to_string();
                    if c.direct_control {
                        control.push_str(", безпосередній");
                    }
                    vec![
                        Cell::text(c.number.clone()),
                        Cell::text(ctx.names.executor(&c.executor)),
                        Cell::text(
                            c.category
                                .as_deref()
                                .map_or_else(|| ctx.names.category(""), |k| ctx.names.category(k)),
                        ),
                        Cell::text(status_name(&c.status)),
                        Cell::text(control),
                        ctx.at(c.created_at),
                        ctx.at(c.deadline),
                        if late > 0 {
                            Cell::Number(late as f64)
                        } else {
                            Cell::Empty
                        },
                        Cell::count(u64::from(c.extensions)),
                    ]
                })
                .collect(),
            total: None,
            omitted: 0,
        },
        chart: None,
    }
}

/// A card's state in Ukrainian.
pub fn status_name(status: &str) -> &str {
    match status {
        "registered" => "зареєстровано",
        "delivered" => "доставлено виконавцю",
        "in_progress" => "у роботі",
        "closure_proposed" => "запропоновано закрити",
        "rework" => "на доопрацюванні",
        "long_term" => "довгостроковий контроль (план СЕР)",
        "verification" => "перевірка виконання",
        "closed" => "закрито",
        "rejected" => "не підлягає розгляду",
        other => other,
    }
}

fn control_name(control: &str) -> &str {
    match control {
        "regular" => "основний",
        "additional" => "додатковий",
        "long_term" => "довгостроковий",
        other => other,
    }
}

/// The daily report to an executor's head: the day's indicators of their
/// organisation, and their overdue and due-soon cards.
pub fn daily(
    ctx: &Context,
    executor: &str,
    appeals: &Breakdown,
    overdue: &[CardLine],
    due_soon: &[CardLine],
) -> Report {
    let empty = Indicators::default();
    let own = appeals.by_executor.get(executor).unwrap_or(&empty);
    let day = Section {
        key: "indicators",
        title: "Показники".into(),
        note: Some(format!(
            "Надійшло, закрито, продовжено й перевірено — за {}; відкриті й прострочені — \
             на {}.",
            ctx.period,
            ctx.time(ctx.made_at)
        )),
        table: indicator_table(
            "Виконавець",
            std::iter::once((ctx.names.executor(executor), own)),
            None,
        ),
        chart: None,
    };
    let by_category = grouped_section(
        "categories",
        "За категоріями",
        "Категорія",
        &appeals.by_category,
        |c| ctx.names.category(c),
    );
    let sections = vec![
        day,
        card_list(ctx, "overdue", "Прострочені картки", overdue),
        card_list(
            ctx,
            "due_soon",
            "Строк спливає до кінця наступного робочого дня",
            due_soon,
        ),
        by_category,
    ];
    ctx.report(ReportKind::Daily, Some(executor), sections)
}

/// The weekly list of cards unresolved at every control level.
pub fn unresolved(ctx: &Context, cards: &[CardLine]) -> Report {
    let mut per_executor: BTreeMap<&str, u64> = BTreeMap::new();
    for c in cards {
        *per_executor.entry(&c.executor).or_default() += 1;
    }
    let mut counts: Vec<_> = per_executor.into_iter().collect();
    counts.sort_by_key(|(code, n)| (Reverse(*n), *code));
    let summary = Section {
        key: "unresolved_by_executor",
        title: "За виконавцями".into(),
        note: Some(
            "Відкриті картки, строк яких минув, на будь-якому рівні контролю: основному, \
             додатковому (після продовження), довгостроковому (план СЕР) і безпосередньому."
                .into(),
        ),
        table: Table {
            columns: vec![
                col("Виконавець", ColumnKind::Text),
                col("Невирішених", ColumnKind::Count),
            ],
            rows: counts
                .iter()
                .map(|(code, n)| vec![Cell::text(ctx.names.executor(code)), Cell::count(*n)])
                .collect(),
            total: Some(vec![Cell::text("Усього"), Cell::count(cards.len() as u64)]),
            omitted: 0,
        },
        chart: None,
    };
    let list = card_list(ctx, "unresolved", "Картки", cards);
    let mut report = ctx.report(ReportKind::Unresolved, None, vec![summary, list]);
    // A list of the cards as they stand, not of a period.
    report.period_text = format!("станом на {}", report.made_at_text);
    report
}

/// A growth of counts between two periods, largest first.
fn growth(now: &BTreeMap<String, u64>, before: &BTreeMap<String, u64>) -> Vec<(String, u64, u64)> {
    let mut keys: Vec<&String> = now.keys().chain(before.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut list: Vec<_> = keys
        .into_iter()
        .map(|k| {
            let (n, b) = (
                now.get(k).copied().unwrap_or(0),
                before.get(k).copied().unwrap_or(0),
            );
            (k.clone(), b, n)
        })
        .filter(|(_, b, n)| n > b)
        .collect();
    list.sort_by_key(|(k, b, n)| (Reverse(n - b), k.clone()));
    list
}

/// How many of the rows of "grew most" tables a note shows.
pub const TOP: usize = 10;

fn growth_section(
    key: &'static str,
    title: &str,
    first: &str,
    rows: Vec<(String, u64, u64)>,
) -> Section {
    use ColumnKind::*;
    Section {
        key,
        title: title.to_string(),
        note: None,
        table: Table {
            columns: vec![
                col(first, Text),
                col("Попередні два тижні", Count),
                col("Ці два тижні", Count),
                col("Зміна", Change),
            ],
            rows: rows
                .into_iter()
                .take(TOP)
                .map(|(name, b, n)| {
                    vec![
                        Cell::Text(name),
                        Cell::count(b),
                        Cell::count(n),
                        Cell::change(n as i64 - b as i64),
                    ]
                })
                .collect(),
            total: None,
            omitted: 0,
        },
        chart: None,
    }
}

/// The analytic note every two weeks: the city's indicators against the
/// two weeks before, the categories and the streets that grew most.
pub fn fortnight(
    ctx: &Context,
    now: &Breakdown,
    before: &Breakdown,
    streets_now: &BTreeMap<String, u64>,
    streets_before: &BTreeMap<String, u64>,
) -> Report {
    use ColumnKind::*;
    type Measure = fn(&Indicators) -> Option<f64>;
    let measures: [(&str, Measure, ColumnKind); 12] = [
        ("Надійшло", |i| Some(i.received as f64), Count),
        ("Закрито вчасно", |i| Some(i.closed_on_time as f64), Count),
        (
            "Закрито із запізненням",
            |i| Some(i.closed_late as f64),
            Count,
        ),
        ("Вчасно, %", Indicators::on_time_pct, Percent),
        (
            "Продовжень запитано",
            |i| Some(i.extensions_asked as f64),
            Count,
        ),
        (
            "Продовжень надано",
            |i| Some(i.extensions_granted as f64),
            Count,
        ),
        ("До плану СЕР", |i| Some(i.moved_to_long_term as f64), Count),
        ("Перевірено", |i| Some(i.verified as f64), Count),
        ("Підтверджено, %", Indicators::confirmation_pct, Percent),
        ("Повторні", |i| Some(i.repeats as f64), Count),
        (
            "Середній час закриття",
            |i| i.mean_close_secs().map(|s| s as f64),
            Duration,
        ),
        (
            "90 % закрито за",
            |i| i.p90_close_secs().map(|s| s as f64),
            Duration,
        ),
    ];
    let rows = measures
        .iter()
        .map(|(name, f, kind)| {
            let (b, n) = (f(&before.total), f(&now.total));
            let change = match (b, n) {
                (Some(b), Some(n)) => Cell::text(change_text(n - b, *kind)),
                _ => Cell::Empty,
            };
            vec![
                Cell::text(*name),
                Cell::text(Cell::opt(b).display(*kind, true)),
                Cell::text(Cell::opt(n).display(*kind, true)),
                change,
            ]
        })
        .collect();
    let received = |b: &Breakdown| b.total.received;
    let gist = match (received(before), received(now)) {
        (0, n) => format!("Надійшло {n} звернень."),
        (b, n) => format!(
            "Надійшло {n} звернень проти {b} за попередні два тижні ({:+.1} %).",
            (n as f64 - b as f64) * 100.0 / b as f64
        ),
    };
    let indicators = Section {
        key: "comparison",
        title: "Показники проти попередніх двох тижнів".into(),
        note: Some(format!(
            "{gist} Попередній період: {}.",
            ctx.period.previous()
        )),
        table: Table {
            columns: vec![
                col("Показник", Text),
                col("Попередні два тижні", Text),
                col("Ці два тижні", Text),
                col("Зміна", Text),
            ],
            rows,
            total: None,
            omitted: 0,
        },
        chart: None,
    };
    let count_of = |b: &Breakdown| -> BTreeMap<String, u64> {
        b.by_category
            .iter()
            .map(|(k, i)| (ctx.names.category(k), i.received))
            .collect()
    };
    let categories = growth_section(
        "categories_grew",
        "Категорії, що зросли найбільше",
        "Категорія",
        growth(&count_of(now), &count_of(before)),
    );
    let streets = growth_section(
        "streets_grew",
        "Адреси (вулиці), що зросли найбільше",
        "Вулиця",
        growth(streets_now, streets_before),
    );
    let executors = executors_section(ctx, now);
    ctx.report(
        ReportKind::Fortnight,
        None,
        vec![indicators, categories, streets, executors],
    )
}

fn change_text(delta: f64, kind: ColumnKind) -> String {
    match kind {
        ColumnKind::Percent => format!("{delta:+.1} п. п.").replace('.', ","),
        ColumnKind::Duration => {
            let text = super::document::duration_text(delta.abs() as u64);
            if delta < 0.0 {
                format!("−{text}")
            } else {
                format!("+{text}")
            }
        }
        _ => format!("{delta:+.0}"),
    }
}

/// Whether a period is one a kind can be made for: the daily report is of
/// one day, the others of any period.
pub fn fits(kind: ReportKind, period: Period) -> bool {
    match kind {
        ReportKind::Daily => period.span == Span::Day,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::indicators::{CardCount, Group, Tally};
    use chrono::TimeZone;

    fn kyiv() -> Tz {
        chrono_tz::Europe::Kyiv
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("a date")
    }

    #[test]
    fn scheduled_reports_cover_the_period_just_over() {
        let monday = date(2026, 12, 7);
        assert_eq!(
            ReportKind::Daily.default_period(monday),
            Period::day(date(2026, 12, 6))
        );
        assert_eq!(
            ReportKind::Weekly.default_period(monday),
            Period::week(date(2026, 11, 30))
        );
        assert_eq!(
            ReportKind::Monthly.default_period(monday),
            Period::month(date(2026, 11, 1))
        );
        let f = ReportKind::Fortnight.default_period(monday);
        assert_eq!((f.first, f.last), (date(2026, 11, 23), date(2026, 12, 6)));
    }

    /// One card of `executor` registered on `day` of November: closed
    /// on time, or open and overdue.
    fn card(tally: &mut Tally, executor: &str, closed: bool, day: u32) {
        let group = Group {
            executor: executor.into(),
            category: Some("101".into()),
            section: Some("1".into()),
            channel: "phone".into(),
        };
        let received = CardCount::Received {
            count: 1,
            repeats: 0,
        };
        tally.cards(&group, &received);
        let hour = Utc
            .with_ymd_and_hms(2026, 11, day, 8, 0, 0)
            .single()
            .expect("a time");
        tally.received_in_hour(hour, 1);
        let life = if closed {
            CardCount::Closed {
                on_time: 1,
                late: 0,
                close_secs: vec![3 * 3600],
            }
        } else {
            CardCount::Open {
                count: 1,
                overdue: 1,
            }
        };
        tally.cards(&group, &life);
    }

    #[test]
    fn executors_are_ranked_by_the_share_closed_on_time() {
        let period = Period::month(date(2026, 11, 1));
        let names = Names::default();
        let ctx = Context {
            period,
            made_at: Utc
                .with_ymd_and_hms(2026, 12, 1, 6, 0, 0)
                .single()
                .expect("a time"),
            tz: kyiv(),
            names: &names,
        };
        let mut tally = Tally::new(kyiv());
        card(&mut tally, "b", true, 3);
        card(&mut tally, "a", false, 3);
        card(&mut tally, "c", true, 4);
        card(&mut tally, "c", false, 4);
        let report = summary(
            &ctx,
            ReportKind::Monthly,
            &tally.finish(),
            Some(&CallReport::default()),
            None,
        );
        let executors = &report.sections[0];
        let order: Vec<_> = executors.table.rows.iter().map(|r| r[1].clone()).collect();
        // b and c closed all on time; c has one overdue; a closed nothing.
        assert_eq!(
            order,
            vec![Cell::text("b"), Cell::text("c"), Cell::text("a")]
        );
        let volume = &report.sections[1];
        assert_eq!(volume.table.rows.len(), 30);
        assert_eq!(volume.table.rows[2][1], Cell::count(2), "3 November");
    }

    #[test]
    fn growth_lists_only_what_grew_largest_first() {
        let now = BTreeMap::from([
            ("a".to_string(), 5),
            ("b".to_string(), 9),
            ("c".to_string(), 1),
        ]);
        let before = BTreeMap::from([
            ("a".to_string(), 1),
            ("b".to_string(), 8),
            ("d".to_string(), 4),
        ]);
        assert_eq!(
            growth(&now, &before),
            vec![("a".into(), 1, 5), ("b".into(), 8, 9), ("c".into(), 0, 1)]
        );
    }
}
