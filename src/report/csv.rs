//! A report as CSV that Excel opens correctly in Ukraine: UTF-8 with a
//! byte-order mark (without it Excel reads the Cyrillic as Windows-1251),
//! `;` between fields and a decimal comma, as Excel expects with the
//! Ukrainian regional settings (a comma-separated file would open as one
//! column there). Both are settings (`[reports] csv_delimiter`). Sections
//! follow one another: a title row, the header, the rows, the total and
//! an empty row.
//!
//! Plain code: a document in, bytes out.

use super::document::{ColumnKind, Report};

/// The byte-order mark Excel looks for.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Writes `report`; `delimiter` is `;` or `,` (a comma delimiter takes a
/// decimal point).
pub fn write(report: &Report, delimiter: u8) -> Vec<u8> {
    let comma = delimiter != b',';
    let mut rows: Vec<Vec<String>> = vec![
        vec![report.title.clone()],
        vec![report.scope.clone()],
        vec![format!("Період: {}", report.period_text)],
        vec![format!("Сформовано: {}", report.made_at_text)],
        vec![],
    ];
    for section in &report.sections {
        rows.push(vec![section.title.clone()]);
        if let Some(note) = &section.note {
            rows.push(vec![note.clone()]);
        }
        let kinds: Vec<ColumnKind> = section.table.columns.iter().map(|c| c.kind).collect();
        rows.push(
            section
                .table
                .columns
                .iter()
                .map(|c| c.title.clone())
                .collect(),
        );
        for row in section.table.rows.iter().chain(section.table.total.iter()) {
            rows.push(
                row.iter()
                    .zip(&kinds)
                    .map(|(cell, kind)| cell.display(*kind, comma))
                    .collect(),
            );
        }
        rows.push(vec![]);
    }
    let mut out = BOM.to_vec();
    for row in rows {
        if row.is_empty() {
            // The csv crate writes an empty record as `""`; a separating
            // line is just a line break.
            out.push(b'\n');
            continue;
        }
        let mut record = csv::WriterBuilder::new()
            .delimiter(delimiter)
            .from_writer(Vec::new());
        // Writing into a Vec cannot fail.
        let _ = record.write_record(&row);
        out.extend(record.into_inner().unwrap_or_default());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::document::{Cell, Column, Section, Table};
    use crate::report::period::Period;
    use chrono::{NaiveDate, TimeZone, Utc};

    fn report() -> Report {
        let day = NaiveDate::from_ymd_opt(2026, 11, 30).expect("a date");
        Report {
            kind: "daily",
            title: "Щоденний звіт виконавця".into(),
            scope: "КП «Водоканал»".into(),
            executor: Some("vodokanal".into()),
            period: Period::day(day),
            period_text: "30.11.2026".into(),
            made_at: Utc
                .with_ymd_and_hms(2026, 12, 1, 6, 0, 0)
                .single()
                .expect("a time"),
            made_at_text: "01.12.2026 08:00".into(),
            sections: vec![Section {
                key: "indicators",
                title: "Показники".into(),
                note: None,
                table: Table {
                    columns: vec![
                        Column {
                            title: "Виконавець".into(),
                            kind: ColumnKind::Text,
                        },
                        Column {
                            title: "Вчасно, %".into(),
                            kind: ColumnKind::Percent,
                        },
                    ],
                    rows: vec![vec![
                        Cell::text("КП «Водоканал»; центр"),
                        Cell::Number(87.5),
                    ]],
                    total: None,
                    omitted: 0,
                },
                chart: None,
            }],
        }
    }

    #[test]
    fn excel_in_ukraine_reads_it_as_written() {
        let bytes = write(&report(), b';');
        assert!(bytes.starts_with(BOM));
        let text = String::from_utf8(bytes[3..].to_vec()).expect("UTF-8");
        assert!(text.contains("Виконавець;Вчасно, %\n"), "{text}");
        assert!(text.contains("\"КП «Водоканал»; центр\";87,5\n"), "{text}");
        let bytes = write(&report(), b',');
        let text = String::from_utf8(bytes[3..].to_vec()).expect("UTF-8");
        assert!(text.contains("КП «Водоканал»; центр,87.5\n"), "{text}");
    }
}
