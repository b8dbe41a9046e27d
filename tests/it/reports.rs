//! Reports as files, read back by readers we did not write: the demo city
//! seeded and reported from the command line, each report of the set in
//! each format; the workbook read by Python's openpyxl (every cell against
//! the report's own JSON, the header frozen, numbers kept as numbers with
//! their formats), the CSV by Python's csv module as Excel in Ukraine
//! reads it (BOM, ';', decimal comma), the PDF's text by poppler's
//! pdftotext.

use std::path::{Path, PathBuf};
use std::process::Command;

use hotline::store::testing::EmptyDb;
use serde_json::Value;

/// The Python that `scripts/test` prepared, with its packages.
pub(crate) fn python_bin() -> String {
    std::env::var("HOTLINE_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Runs `script` on `path` with the Python that `scripts/test` prepared
/// (openpyxl installed): what it prints, as JSON.
pub(crate) fn python<T: serde::de::DeserializeOwned>(script: &str, path: &Path) -> T {
    let out = Command::new(python_bin())
        .args(["-c", script])
        .arg(path)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "the reader failed (scripts/test installs openpyxl in a venv; \
         HOTLINE_TEST_PYTHON names that python): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the reader's JSON")
}

struct City {
    db: EmptyDb,
    dir: tempfile::TempDir,
}

impl City {
    fn hotline(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_hotline"))
            .arg("--config")
            .arg(crate::repo().join("sip-config/hotline.toml"))
            .args(args)
            .current_dir(crate::repo())
            .env("HOTLINE_STORAGE__DATABASE_URL", self.db.url())
            .env(
                "HOTLINE_STORAGE__RECORDINGS_DIR",
                self.dir.path().join("rec"),
            )
            .env(
                "HOTLINE_STORAGE__ATTACHMENTS_DIR",
                self.dir.path().join("att"),
            )
            .output()
            .expect("hotline runs");
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }

    /// `hotline report KIND ARGS --format F --out FILE`: the file.
    fn report(&self, kind: &str, args: &[&str], format: &str) -> PathBuf {
        let out = self.dir.path().join(format!("{kind}.{format}"));
        let mut all = vec!["report", kind, "--format", format, "--out"];
        let path = out.to_string_lossy().to_string();
        all.push(&path);
        all.extend_from_slice(args);
        let (ok, said) = self.hotline(&all);
        assert!(ok, "hotline report {kind}: {said}");
        out
    }
}

fn seeded() -> City {
    let city = City {
        db: EmptyDb::sqlite(),
        dir: tempfile::tempdir().expect("a folder"),
    };
    let (ok, said) = city.hotline(&["demo", "seed"]);
    assert!(ok, "demo seed: {said}");
    city
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("the JSON")).expect("JSON")
}

/// What openpyxl finds in the workbook: per sheet, its cells' values and
/// number formats, and where the panes are frozen.
fn read_xlsx(path: &Path) -> Value {
    const READER: &str = r#"
import datetime, json, sys, openpyxl
from openpyxl.utils.datetime import to_excel
book = openpyxl.load_workbook(sys.argv[1])
def raw(v):
    # openpyxl turns numbers with time formats into times: back to the
    # number stored (days).
    if isinstance(v, datetime.timedelta):
        return v.total_seconds() / 86400
    if isinstance(v, (datetime.datetime, datetime.time)):
        return to_excel(v)
    return v
out = []
for sheet in book.worksheets:
    rows = []
    for row in sheet.iter_rows():
        rows.append([[raw(c.value), c.number_format, bool(c.font and c.font.b)] for c in row])
    out.append({"title": sheet.title, "freeze": sheet.freeze_panes, "rows": rows,
                "widths": {k: v.width for k, v in sheet.column_dimensions.items()}})
print(json.dumps(out, ensure_ascii=False))
"#;
    python(READER, path)
}

/// Every section of `report` is a sheet whose header row and cells hold
/// the report's values: text as text, numbers as numbers (a share as a
/// fraction), in the formats people read.
fn check_workbook(report: &Value, book: &Value) {
    let sections = report["sections"].as_array().expect("sections");
    let sheets = book.as_array().expect("sheets");
    assert_eq!(sheets.len(), sections.len(), "a sheet per section");
    for (section, sheet) in sections.iter().zip(sheets) {
        let rows = sheet["rows"].as_array().expect("rows");
        assert_eq!(
            rows[0][0][0], report["title"],
            "the title heads every sheet"
        );
        assert_eq!(rows[0][0][2], true, "in bold");
        assert_eq!(rows[3][0][0], section["title"]);
        assert_eq!(
            sheet["freeze"], "B7",
            "the header row and first column stay in view"
        );
        let columns = section["table"]["columns"].as_array().expect("columns");
        assert!(
            sheet["widths"]["A"].as_f64() >= Some(12.0),
            "the columns' widths are set: {}",
            sheet["widths"]
        );
        let header = &rows[5];
        for (n, column) in columns.iter().enumerate() {
            assert_eq!(
                header[n][0], column["title"],
                "header of {}",
                section["key"]
            );
            assert_eq!(header[n][2], true, "a bold header");
        }
        let mut expected: Vec<&Value> = section["table"]["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .collect();
        if !section["table"]["total"].is_null() {
            expected.push(&section["table"]["total"]);
        }
        assert_eq!(rows.len(), 6 + expected.len(), "rows of {}", section["key"]);
        for (r, row) in expected.iter().enumerate() {
            for (n, (cell, column)) in row
                .as_array()
                .expect("cells")
                .iter()
                .zip(columns)
                .enumerate()
            {
                let [value, format, _] = &rows[6 + r][n].as_array().expect("a cell")[..] else {
                    panic!("a cell is [value, format, bold]");
                };
                // `Cell::Of`: [value, kind], a number of its own kind.
                let (cell, kind) = match cell {
                    Value::Array(of) => (&of[0], of[1].as_str().expect("its kind")),
                    _ => (cell, column["kind"].as_str().expect("a kind")),
                };
                match (cell, kind) {
                    (Value::Null, _) => assert!(value.is_null(), "{cell} vs {value}"),
                    (Value::String(s), _) if s.is_empty() => assert!(value.is_null()),
                    (Value::String(s), "time") => {
                        // A moment on the city's clock, stored as Excel's
                        // serial date: days since 30 December 1899.
                        let at = chrono::NaiveDateTime::parse_from_str(s, "%d.%m.%Y %H:%M")
                            .unwrap_or_else(|e| panic!("{s}: {e}"));
                        let epoch = chrono::NaiveDate::from_ymd_opt(1899, 12, 30)
                            .and_then(|d| d.and_hms_opt(0, 0, 0))
                            .expect("Excel's epoch");
                        let days = (at - epoch).num_seconds() as f64 / 86_400.0;
                        assert!(
                            (value.as_f64().expect("a date") - days).abs() < 1e-6,
                            "{} row {r}: {value} in the workbook, {s} in the report",
                            section["key"]
                        );
                        assert_eq!(format, "dd.mm.yyyy hh:mm");
                    }
                    (Value::String(s), _) => assert_eq!(value.as_str(), Some(s.as_str())),
                    (Value::Number(x), "percent") => {
                        let x = x.as_f64().expect("a number") / 100.0;
                        assert!((value.as_f64().expect("a number") - x).abs() < 1e-9);
                        assert_eq!(format, "0.0%");
                    }
                    (Value::Number(x), "duration") => {
                        let x = x.as_f64().expect("a number") / 86_400.0;
                        // How long a card is overdue counts to the moment
                        // each file was made: the workbook is made by
                        // another run, a moment later.
                        let slack = match column["title"].as_str() {
                            Some("Прострочено на") => 120.0 / 86_400.0,
                            _ => 1e-9,
                        };
                        assert!(
                            (value.as_f64().expect("a number") - x).abs() <= slack,
                            "{} row {r}: {value} in the workbook, {x} in the report",
                            section["key"]
                        );
                        assert_eq!(format, "[h]:mm");
                    }
                    (Value::Number(x), _) => {
                        assert_eq!(value.as_f64(), x.as_f64(), "{} row {r}", section["key"]);
                    }
                    other => panic!("unexpected cell {other:?}"),
                }
            }
        }
    }
}

/// The CSV as Excel with Ukrainian settings reads it: BOM, ';', every
/// section's title and header, numbers with a decimal comma.
fn check_csv(report: &Value, path: &Path) {
    const READER: &str = r#"
import csv, json, sys
with open(sys.argv[1], encoding="utf-8-sig", newline="") as f:
    print(json.dumps(list(csv.reader(f, delimiter=";")), ensure_ascii=False))
"#;
    let bytes = std::fs::read(path).expect("the CSV");
    assert!(
        bytes.starts_with(b"\xEF\xBB\xBF"),
        "a byte-order mark for Excel"
    );
    let rows: Vec<Vec<String>> = python(READER, path);
    assert_eq!(
        rows[0],
        vec![report["title"].as_str().expect("a title").to_string()]
    );
    for section in report["sections"].as_array().expect("sections") {
        let columns: Vec<String> = section["table"]["columns"]
            .as_array()
            .expect("columns")
            .iter()
            .map(|c| c["title"].as_str().expect("a title").to_string())
            .collect();
        let title = section["title"].as_str().expect("a title").to_string();
        let start = rows
            .iter()
            .position(|r| *r == vec![title.clone()])
            .unwrap_or_else(|| panic!("the title of {} is a row", section["key"]));
        let at = start
            + rows[start..]
                .iter()
                .position(|r| *r == columns)
                .unwrap_or_else(|| panic!("the header of {} is a row", section["key"]));
        let first = &section["table"]["rows"][0];
        if let Some(cells) = first.as_array() {
            assert_eq!(rows[at + 1].len(), cells.len(), "one field per column");
            for (cell, field) in cells.iter().zip(&rows[at + 1]) {
                if let Some(s) = cell.as_str() {
                    assert_eq!(field, s);
                }
                if let Some(x) = cell.as_f64() {
                    assert!(!field.contains('.'), "a decimal comma: {field}");
                    if x.fract() == 0.0 && field.chars().all(|c| c.is_ascii_digit()) {
                        assert_eq!(field.parse::<f64>().ok(), Some(x));
                    }
                }
            }
        }
    }
}

pub(crate) fn pdftotext(path: &Path) -> String {
    let out = Command::new("pdftotext")
        .args(["-layout"])
        .arg(path)
        .arg("-")
        .output()
        .expect("pdftotext runs (scripts/test installs poppler-utils)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 text")
}

/// A list longer than a sheet kept in memory (written row by row, its
/// strings inline) reads back as the short ones do.
#[test]
fn a_long_list_reads_back_as_a_short_one() {
    use chrono::{Duration, TimeZone, Utc};
    use hotline::report::kinds::{CardLine, Context, Names, unresolved};
    let start = Utc.with_ymd_and_hms(2026, 3, 20, 6, 0, 0).unwrap();
    let cards: Vec<CardLine> = (0..6_000)
        .map(|n| CardLine {
            number: format!("1580-2026-{n:06}"),
            executor: ["vodokanal", "teplo"][n % 2].into(),
            category: (n % 7 != 0).then(|| "leak".to_string()),
            status: "in_progress".into(),
            control: "main".into(),
            direct_control: n % 5 == 0,
            extensions: (n % 3) as u32,
            created_at: start + Duration::minutes(n as i64 * 7),
            deadline: start + Duration::minutes(n as i64 * 7) + Duration::days(3),
        })
        .collect();
    let names = Names {
        executors: [("vodokanal".to_string(), "КП «Водоканал»".to_string())].into(),
        ..Names::default()
    };
    let report = unresolved(
        &Context {
            period: hotline::report::Period::day(start.date_naive()),
            made_at: Utc.with_ymd_and_hms(2026, 12, 6, 6, 0, 0).unwrap(),
            tz: chrono_tz::Europe::Kyiv,
            names: &names,
        },
        &cards,
    );
    let dir = tempfile::tempdir().expect("a folder");
    let path = dir.path().join("long.xlsx");
    std::fs::write(
        &path,
        hotline::report::xlsx::write(&report).expect("a workbook"),
    )
    .expect("written");
    let report = serde_json::to_value(&report).expect("JSON");
    assert_eq!(
        report["sections"][1]["table"]["rows"]
            .as_array()
            .map(Vec::len),
        Some(6_000)
    );
    check_workbook(&report, &read_xlsx(&path));
}

#[test]
fn every_report_is_read_back_by_independent_readers() {
    let city = seeded();
    // The demo city's cards are registered today: a period to today.
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Kyiv)
        .date_naive();
    let from = (today - chrono::Days::new(6))
        .format("%Y-%m-%d")
        .to_string();
    let to = today.format("%Y-%m-%d").to_string();
    let period = ["--from", from.as_str(), "--to", to.as_str()];
    let day = ["--from", to.as_str()];
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("period", period.to_vec()),
        ("unresolved", vec![]),
        ("calls", period.to_vec()),
        ("fortnight", vec![]),
        ("daily", [&day[..], &["--executor", "vodokanal"]].concat()),
    ];
    for (kind, args) in cases {
        let report = json(&city.report(kind, &args, "json"));
        assert_eq!(report["kind"], kind);
        check_workbook(&report, &read_xlsx(&city.report(kind, &args, "xlsx")));
        check_csv(&report, &city.report(kind, &args, "csv"));
        let text = pdftotext(&city.report(kind, &args, "pdf"));
        assert!(
            text.contains(report["title"].as_str().expect("a title")),
            "{kind}: {text}"
        );
        for section in report["sections"].as_array().expect("sections") {
            let title = section["title"].as_str().expect("a title");
            assert!(text.contains(title), "{kind}: no {title:?} in\n{text}");
        }
        assert!(text.contains("сторінка 1 з"), "{text}");
    }
    // What the daily report to КП «Водоканал» says, in the PDF's own words.
    let daily = pdftotext(&city.report(
        "daily",
        &[&day[..], &["--executor", "vodokanal"]].concat(),
        "pdf",
    ));
    assert!(daily.contains("КП «Водоканал»"), "{daily}");
    assert!(daily.contains("Прострочені картки"), "{daily}");

    let (ok, said) = city.hotline(&["report", "monthly", "--format", "docx"]);
    assert!(!ok && said.contains("xlsx, pdf, csv or json"), "{said}");
    let (ok, said) = city.hotline(&[
        "report",
        "period",
        "--from",
        "2026-12-01",
        "--to",
        "2026-11-01",
    ]);
    assert!(
        !ok && said.contains("ends (2026-11-01) before it begins"),
        "{said}"
    );
}

/// The "Звіти" page in headless Chromium, as a supervisor and as an
/// executor's user: the report of the period just over is on the page at
/// once; a period of one's choosing draws its tables and its three charts
/// (the volume by day, the executors ranked, calls by weekday and hour);
/// the XLSX, PDF and CSV links download the same report. An executor's
/// user sees only their organisation's reports.
#[tokio::test]
async fn the_reports_page_draws_the_report_with_its_charts_and_files() {
    use crate::browser::{artifact, sign_in_to};
    use crate::peers::browser::Browser;
    use std::time::Duration;
    const W: Duration = Duration::from_secs(20);

    let app = crate::spawn_app(crate::AppOptions::default()).await;
    let now = chrono::Utc::now();
    hotline::store::demo::seed(app.store(), now)
        .await
        .expect("the demo");
    let attachments = tempfile::tempdir().expect("a folder");
    hotline::appeal::demo::seed_city(
        app.store(),
        &app.lifecycle,
        &crate::repo().join(hotline::appeal::classifier::DEFAULT_PATH),
        attachments.path(),
        now,
    )
    .await
    .expect("the demo city");
    app.sign_in_as("nadia", hotline::store::Role::Supervisor)
        .await;
    app.sign_in_as("vodokanal", hotline::store::Role::Executor)
        .await;

    let browser = Browser::start().await.expect("chromium starts");
    sign_in_to(&browser, &app, "/reports", "nadia", "view-reports", false).await;
    browser
        .until(
            "the default report",
            "return document.querySelector('#report-out .report-head h2')",
            W,
        )
        .await
        .unwrap();
    let today = now.with_timezone(&chrono_tz::Europe::Kyiv).date_naive();
    let from = (today - chrono::Days::new(6))
        .format("%Y-%m-%d")
        .to_string();
    browser
        .js(
            "document.getElementById('report-kind').value = 'period';
             document.getElementById('report-kind').dispatchEvent(new Event('change'));
             document.getElementById('report-from').value = arguments[0];
             document.getElementById('report-to').value = arguments[1];
             document.querySelector('#report-form button[type=submit]').click();",
            vec![
                from.clone().into(),
                today.format("%Y-%m-%d").to_string().into(),
            ],
        )
        .await
        .unwrap();
    let drawn = browser
        .until(
            "three charts drawn",
            "const c = [...document.querySelectorAll('#report-out canvas')];
             return c.length === 3 && c.every((x) => window.Chart.getChart(x)) &&
               document.querySelector('.report-head h2').textContent.includes('за період') &&
               c.map((x) => window.Chart.getChart(x).config.type).join(',')",
            W,
        )
        .await
        .unwrap();
    assert_eq!(
        drawn, "bar,line,matrix",
        "ranked bars, the volume, the heat map"
    );
    // The executors' table has every executor ranked, the total last.
    let rows = browser
        .js(
            "return [...document.querySelectorAll('#report-executors tbody tr')].map((r) => r.textContent)",
            vec![],
        )
        .await
        .unwrap();
    let rows = rows.as_array().expect("rows");
    assert!(rows.len() >= 3, "{rows:?}");
    assert!(
        rows.last()
            .and_then(|r| r.as_str())
            .is_some_and(|r| r.starts_with("Усього"))
    );
    assert!(
        rows.iter()
            .any(|r| r.as_str().is_some_and(|r| r.contains("КП «Водоканал»")))
    );
    browser
        .screenshot(&artifact("reports-supervisor.png"))
        .await
        .unwrap();
    // The links download the same report, as files.
    let files = browser
        .js(
            "return (async () => {
               const out = {};
               for (const f of ['xlsx', 'pdf', 'csv']) {
                 const r = await fetch(document.getElementById('report-' + f).href);
                 const b = new Uint8Array(await r.arrayBuffer());
                 out[f] = [r.status, r.headers.get('content-disposition'), b.length, b[0], b[1]];
               }
               return out;
             })();",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(files["xlsx"][0], 200);
    assert_eq!(files["xlsx"][3], 0x50, "a zip (XLSX) begins PK");
    assert_eq!(files["pdf"][3], 0x25, "a PDF begins %PDF");
    assert!(
        files["csv"][1].as_str().is_some_and(|d| d.contains(".csv")),
        "{files}"
    );
    // The page asks for a table's first rows only: the rest are counted.
    let cut = browser
        .js(
            "return (async () => {
               const q = '/api/reports/unresolved?from=' + arguments[0] + '&to=' + arguments[1];
               const all = await (await fetch(q)).json();
               const first = await (await fetch(q + '&rows=1')).json();
               return all.sections.map((s, n) => [s.table.rows.length, s.table.omitted,
                 first.sections[n].table.rows.length, first.sections[n].table.omitted,
                 JSON.stringify(first.sections[n].table.rows[0]) === JSON.stringify(s.table.rows[0])]);
             })();",
            vec![from.clone().into(), today.format("%Y-%m-%d").to_string().into()],
        )
        .await
        .unwrap();
    let cut = cut.as_array().expect("sections");
    assert!(
        cut.iter().any(|s| s[0].as_u64() > Some(1)),
        "the demo city has overdue cards: {cut:?}"
    );
    for s in cut {
        let all = s[0].as_u64().expect("rows");
        assert_eq!(s[1], 0, "nothing omitted unless asked: {cut:?}");
        assert_eq!(s[2].as_u64(), Some(all.min(1)), "{cut:?}");
        assert_eq!(s[3].as_u64(), Some(all.saturating_sub(1)), "{cut:?}");
        assert_eq!(s[4], true, "the first row kept: {cut:?}");
    }
    browser.close().await;

    // An executor's user: their organisation's reports only.
    let browser = Browser::start().await.expect("chromium starts");
    sign_in_to(
        &browser,
        &app,
        "/reports",
        "vodokanal",
        "view-reports",
        false,
    )
    .await;
    browser
        .until(
            "the executor's report",
            "return document.querySelector('#report-out .report-head h2')",
            W,
        )
        .await
        .unwrap();
    let offered = browser
        .js(
            "return [[...document.querySelectorAll('#report-kind option')].map((o) => o.value).join(','),
                     document.getElementById('report-executor').value,
                     document.getElementById('report-executor').disabled,
                     document.querySelector('.report-head p').textContent]",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(offered[0], "daily,weekly,monthly,period");
    assert_eq!(offered[1], "vodokanal");
    assert_eq!(offered[2], true);
    assert!(
        offered[3]
            .as_str()
            .is_some_and(|s| s.starts_with("КП «Водоканал»")),
        "{offered}"
    );
    browser
        .screenshot(&artifact("reports-executor.png"))
        .await
        .unwrap();
    browser.close().await;
}
