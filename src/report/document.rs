//! A report as a document: a heading and sections, each a table (typed
//! columns, rows, a total) and optionally a chart. The page, the CSV, the
//! XLSX and the PDF are all drawn from this one model, so they cannot
//! disagree.
//!
//! Plain data: no IO.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Serialize, Serializer};

use super::period::Period;

/// A finished report.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Report {
    /// Which report of the set ([`super::ReportKind::as_str`]).
    #[schema(value_type = super::ReportKind)]
    pub kind: &'static str,
    /// "Щоденний звіт виконавця", in Ukrainian.
    pub title: String,
    /// The organisation it is for (the daily report), or the whole city.
    pub scope: String,
    /// The code of the organisation it is for, if one.
    pub executor: Option<String>,
    pub period: Period,
    /// The period as people read it ("листопад 2026").
    pub period_text: String,
    /// When it was made, on the city's clock ("06.12.2026 08:00").
    pub made_at: DateTime<Utc>,
    pub made_at_text: String,
    pub sections: Vec<Section>,
}

/// A titled part of a report.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = ReportSection)]
pub struct Section {
    /// Stable name, for CSV file names and the page's anchors.
    #[schema(value_type = String)]
    pub key: &'static str,
    pub title: String,
    /// A sentence under the title (what is counted, a comparison's gist).
    pub note: Option<String>,
    pub table: Table,
    pub chart: Option<Chart>,
}

/// A table: typed columns, rows and an optional total row.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = ReportTable)]
pub struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
    pub total: Option<Vec<Cell>>,
    /// Rows left out of this copy after its first ones ([`Table::keep_first`]):
    /// a printed report or the page, where the files hold them all.
    pub omitted: usize,
}

impl Table {
    /// A table of `columns` and `rows`, with no total.
    pub fn new(columns: Vec<Column>, rows: Vec<Vec<Cell>>) -> Table {
        Table {
            columns,
            rows,
            total: None,
            omitted: 0,
        }
    }

    /// Keeps the first `max` rows (the lists come most urgent first) and
    /// counts the rest as omitted.
    pub fn keep_first(&mut self, max: usize) {
        if self.rows.len() > max {
            self.omitted += self.rows.len() - max;
            self.rows.truncate(max);
        }
    }
}

/// A column's heading and what its cells hold.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = ReportColumn)]
pub struct Column {
    pub title: String,
    pub kind: ColumnKind,
}

/// How a column's cells are written and aligned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = ReportColumnKind)]
pub enum ColumnKind {
    Text,
    /// A whole number.
    Count,
    /// A share in per cent, one decimal.
    Percent,
    /// A length of time, in seconds (written as hours and minutes).
    Duration,
    /// A moment, written on the city's clock.
    Time,
    /// A signed change against the previous period.
    Change,
}

/// One cell. Numbers stay numbers so spreadsheets can sum them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Cell {
    Text(String),
    Number(f64),
    /// A number written as its own kind says, not its column's: the value
    /// column of a list of figures, where each row is another kind (a
    /// count, a share, a duration). Serialised as `[value, "kind"]`.
    Of(f64, ColumnKind),
    /// A moment on the city's clock (its wall time, Europe/Kyiv): a date
    /// and time a spreadsheet can sort and filter, "06.12.2026 08:00" on
    /// the page, in the CSV and in the PDF.
    At(#[serde(serialize_with = "city_time")] NaiveDateTime),
    /// Nothing to show (a share of nothing, a mean of no calls).
    Empty,
}

/// In the OpenAPI document: text, a number, `[value, "kind"]`, a moment
/// as people read it, or null.
impl utoipa::PartialSchema for Cell {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Type};
        let of = ArrayBuilder::new()
            .prefix_items([
                ObjectBuilder::new().schema_type(Type::Number).build(),
                ObjectBuilder::new().schema_type(Type::String).build(),
            ])
            .min_items(Some(2))
            .max_items(Some(2));
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::String))
            .item(ObjectBuilder::new().schema_type(Type::Number))
            .item(of)
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .description(Some(
                "Text, a number, `[value, kind]` (a number written as its own kind \
                 says), a moment on the city's clock (\"06.12.2026 08:00\"), or null",
            ))
            .into()
    }
}

impl utoipa::ToSchema for Cell {
    fn name() -> std::borrow::Cow<'static, str> {
        "ReportCell".into()
    }
}

impl Cell {
    pub fn count(n: u64) -> Cell {
        Cell::Number(n as f64)
    }

    pub fn change(n: i64) -> Cell {
        Cell::Number(n as f64)
    }

    pub fn opt(value: Option<f64>) -> Cell {
        value.map_or(Cell::Empty, Cell::Number)
    }

    pub fn secs(value: Option<u64>) -> Cell {
        value.map_or(Cell::Empty, |s| Cell::Number(s as f64))
    }

    /// The number in it, if it holds one.
    pub fn number(&self) -> Option<f64> {
        match self {
            Cell::Number(n) | Cell::Of(n, _) => Some(*n),
            Cell::Text(_) | Cell::At(_) | Cell::Empty => None,
        }
    }

    pub fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }

    /// The cell as text in a column of `kind`: what the CSV and the PDF
    /// print. Per cent with one decimal, durations as "3 год 05 хв",
    /// decimals with a comma as the city writes them when `comma`.
    pub fn display(&self, kind: ColumnKind, comma: bool) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(s) => s.clone(),
            Cell::At(at) => time_text(*at),
            Cell::Of(n, own) => Cell::Number(*n).display(*own, comma),
            Cell::Number(n) => match kind {
                ColumnKind::Percent => {
                    // Half away from zero, as people round (format!
                    // rounds half to even: 72.25 would print 72.2).
                    let s = format!("{:.1}", (n * 10.0).round() / 10.0);
                    if comma { s.replace('.', ",") } else { s }
                }
                ColumnKind::Duration => duration_text(*n as u64),
                ColumnKind::Change if *n > 0.0 => format!("+{n:.0}"),
                _ => format!("{n:.0}"),
            },
        }
    }
}

/// "06.12.2026 08:00": a moment on the city's clock as people read it.
pub fn time_text(at: NaiveDateTime) -> String {
    at.format("%d.%m.%Y %H:%M").to_string()
}

fn city_time<S: Serializer>(at: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&time_text(*at))
}

/// "2 год 05 хв", "45 хв", "3 д 04 год": a duration as people read it.
pub fn duration_text(secs: u64) -> String {
    let minutes = secs / 60;
    let (days, hours, mins) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    if days > 0 {
        format!("{days} д {hours:02} год")
    } else if hours > 0 {
        format!("{hours} год {mins:02} хв")
    } else if minutes > 0 {
        format!("{mins} хв")
    } else {
        format!("{secs} с")
    }
}

/// A chart the page draws from a section's data.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
#[schema(as = ReportChart)]
pub enum Chart {
    /// Values over the period's days: one or more named series.
    TimeSeries {
        days: Vec<String>,
        series: Vec<Series>,
    },
    /// Bars, largest first (executors ranked).
    RankedBars {
        labels: Vec<String>,
        series: Vec<Series>,
    },
    /// Counts by weekday (rows, Monday first) and hour (columns).
    HeatMap {
        rows: Vec<String>,
        columns: Vec<String>,
        values: Vec<Vec<u64>>,
    },
}

/// A named run of values.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = ReportSeries)]
pub struct Series {
    pub name: String,
    pub values: Vec<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_print_as_the_city_reads_them() {
        assert_eq!(
            Cell::Number(72.25).display(ColumnKind::Percent, true),
            "72,3"
        );
        assert_eq!(
            Cell::Number(72.25).display(ColumnKind::Percent, false),
            "72.3"
        );
        assert_eq!(Cell::count(1234).display(ColumnKind::Count, true), "1234");
        assert_eq!(Cell::change(3).display(ColumnKind::Change, true), "+3");
        assert_eq!(Cell::change(-3).display(ColumnKind::Change, true), "-3");
        assert_eq!(Cell::Empty.display(ColumnKind::Percent, true), "");
        assert_eq!(duration_text(3 * 3600 + 5 * 60 + 59), "3 год 05 хв");
        assert_eq!(duration_text(45 * 60), "45 хв");
        assert_eq!(duration_text(50 * 3600), "2 д 02 год");
        assert_eq!(duration_text(19), "19 с");
        let at = chrono::NaiveDate::from_ymd_opt(2026, 3, 29)
            .unwrap()
            .and_hms_opt(4, 5, 0)
            .unwrap();
        assert_eq!(
            Cell::At(at).display(ColumnKind::Time, true),
            "29.03.2026 04:05"
        );
        assert_eq!(
            serde_json::to_string(&Cell::At(at)).unwrap(),
            r#""29.03.2026 04:05""#
        );
    }
}
