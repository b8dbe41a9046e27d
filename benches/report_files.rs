//! The report files of a big city's unresolved list: 90,000 overdue cards
//! drawn as the report (`kinds::unresolved`) and written as XLSX, PDF (a
//! printed table stops at 2,000 rows), CSV and the page's JSON. The
//! database's part is measured apart (`scripts/bench-reports`); this is
//! what the report's files add to it. `cargo bench --bench report_files`;
//! the figures go into docs/BENCHMARKS.md.

use std::collections::BTreeMap;
use std::hint::black_box;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use hotline::report::kinds::{self, CardLine, Context, Names};
use hotline::report::{Period, Report, csv, pdf, xlsx};

/// As many overdue cards as `hotline-load city` leaves a year of a big
/// city with (89,626).
const CARDS: usize = 90_000;
const EXECUTORS: usize = 40;
const CATEGORIES: usize = 300;

fn names() -> Names {
    Names {
        executors: (0..EXECUTORS)
            .map(|n| (format!("e{n}"), format!("КП «Міське підприємство № {n}»")))
            .collect(),
        categories: (0..CATEGORIES)
            .map(|n| (format!("c{n}"), format!("Категорія звернень номер {n}")))
            .collect(),
        ..Names::default()
    }
}

fn cards() -> Vec<CardLine> {
    let start = Utc.with_ymd_and_hms(2025, 12, 1, 6, 0, 0).unwrap();
    (0..CARDS)
        .map(|n| {
            let created_at = start + Duration::seconds(n as i64 * 331);
            CardLine {
                number: format!("1580-2026-{n:07}"),
                executor: format!("e{}", n * 7 % EXECUTORS),
                category: (n % 50 != 0).then(|| format!("c{}", n * 13 % CATEGORIES)),
                status: ["delivered", "in_progress", "rework", "long_term"][n % 4].into(),
                control: ["main", "additional", "long_term"][n % 3].into(),
                direct_control: n % 17 == 0,
                extensions: (n % 3) as u32,
                created_at,
                deadline: created_at + Duration::days(5 + (n % 25) as i64),
            }
        })
        .collect()
}

fn unresolved(names: &Names, cards: &[CardLine]) -> Report {
    let ctx = Context {
        period: Period::week(NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()),
        made_at: Utc.with_ymd_and_hms(2026, 12, 6, 6, 0, 0).unwrap(),
        tz: chrono_tz::Europe::Kyiv,
        names,
    };
    kinds::unresolved(&ctx, cards)
}

fn files(c: &mut Criterion) {
    let (names, cards) = (names(), cards());
    let report = unresolved(&names, &cards);
    let rows: usize = report.sections.iter().map(|s| s.table.rows.len()).sum();
    assert!(rows > CARDS, "{rows} rows");
    let mut g = c.benchmark_group("unresolved list, 90,000 cards");
    g.sample_size(10);
    g.bench_function("draw the report", |b| {
        b.iter(|| unresolved(black_box(&names), black_box(&cards)))
    });
    g.bench_function("XLSX", |b| {
        b.iter(|| xlsx::write(black_box(&report)).unwrap())
    });
    g.bench_function("PDF", |b| {
        b.iter(|| pdf::write(black_box(&report), "Запорізька міська рада").unwrap())
    });
    g.bench_function("CSV", |b| b.iter(|| csv::write(black_box(&report), b';')));
    g.bench_function("JSON", |b| {
        b.iter(|| serde_json::to_vec(black_box(&report)).unwrap())
    });
    g.finish();
    let sizes: BTreeMap<&str, usize> = [
        ("XLSX", xlsx::write(&report).unwrap().len()),
        ("PDF", pdf::write(&report, "").unwrap().len()),
        ("CSV", csv::write(&report, b';').len()),
        ("JSON", serde_json::to_vec(&report).unwrap().len()),
    ]
    .into();
    for (format, bytes) in sizes {
        println!("{format}: {:.1} MB", bytes as f64 / 1e6);
    }
}

criterion_group!(benches, files);
criterion_main!(benches);
