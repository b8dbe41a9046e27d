//! A report as an Excel workbook (rust_xlsxwriter): a sheet per section,
//! each headed by the report's title, scope and period; a bold, shaded,
//! wrapped header row that stays in view (frozen) and repeats on every
//! printed page; widths fitted to the columns' kinds; numbers kept as
//! numbers with their formats (whole numbers, per cent with one decimal,
//! durations as hours and minutes, moments as dates and times), so the
//! city's staff can sum, chart, sort and filter them; A4 landscape, fitted to the page's width.
//!
//! Plain code: a document in, bytes out.

use chrono::{Datelike, NaiveDateTime, Timelike};
use rust_xlsxwriter::{
    Color, DocProperties, ExcelDateTime, Format, FormatAlign, FormatBorder, Workbook, Worksheet,
    XlsxError,
};

use super::document::{Cell, ColumnKind, Report, Section};

/// The first row of a section's table (0-based): after the title, scope,
/// period, section title, note and an empty row.
const HEADER_ROW: u32 = 5;

/// A longer table is written row by row with its strings inline (no
/// shared-string table to look each one up in): a year's overdue list
/// writes in three quarters of the time, in a tenth larger a file.
const ROWS_KEPT_IN_MEMORY: usize = 5_000;

/// Writes `report` as an .xlsx file's bytes.
pub fn write(report: &Report) -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    workbook.set_properties(
        &DocProperties::new()
            .set_title(&report.title)
            .set_subject(format!("{} — {}", report.scope, report.period_text))
            .set_author("hotline"),
    );
    let mut used: Vec<String> = Vec::new();
    for section in &report.sections {
        let sheet = if section.table.rows.len() > ROWS_KEPT_IN_MEMORY {
            workbook.add_worksheet_with_constant_memory()
        } else {
            workbook.add_worksheet()
        };
        sheet.set_name(sheet_name(&section.title, &mut used))?;
        write_section(sheet, report, section)?;
    }
    workbook.save_to_buffer()
}

/// A sheet name Excel accepts: at most 31 characters, none of `[]:*?/\`,
/// unique in the workbook.
fn sheet_name(title: &str, used: &mut Vec<String>) -> String {
    let clean: String = title
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { ' ' } else { c })
        .collect();
    let base: String = clean.trim().chars().take(28).collect();
    let mut name = base.clone();
    let mut n = 2;
    while used.iter().any(|u| u.eq_ignore_ascii_case(&name)) {
        name = format!("{base} {n}");
        n += 1;
    }
    used.push(name.clone());
    name
}

fn write_section(
    sheet: &mut Worksheet,
    report: &Report,
    section: &Section,
) -> Result<(), XlsxError> {
    let title = Format::new().set_bold().set_font_size(14);
    let bold = Format::new().set_bold();
    let plain = Format::new();
    let header = Format::new()
        .set_bold()
        .set_text_wrap()
        .set_align(FormatAlign::Center)
        .set_align(FormatAlign::VerticalCenter)
        .set_background_color(Color::RGB(0xDDE6F0))
        .set_border(FormatBorder::Thin);
    // Widths first: a long table's sheet is written row by row.
    let columns = &section.table.columns;
    for (n, column) in columns.iter().enumerate() {
        sheet.set_column_width(column_index(n), width(column.kind, n))?;
    }
    sheet.write_string_with_format(0, 0, &report.title, &title)?;
    sheet.write_string(1, 0, &report.scope)?;
    sheet.write_string(
        2,
        0,
        format!(
            "Період: {}. Сформовано: {}",
            report.period_text, report.made_at_text
        ),
    )?;
    sheet.write_string_with_format(3, 0, &section.title, &bold)?;
    if let Some(note) = &section.note {
        sheet.write_string(4, 0, note)?;
    }
    for (n, column) in columns.iter().enumerate() {
        sheet.write_string_with_format(HEADER_ROW, column_index(n), &column.title, &header)?;
    }
    sheet.set_row_height(HEADER_ROW, 45)?;
    let mut row = HEADER_ROW + 1;
    let body = CellFormats::new(&plain);
    for cells in &section.table.rows {
        write_row(sheet, row, cells, section, &body)?;
        row += 1;
    }
    if let Some(total) = &section.table.total {
        write_row(sheet, row, total, section, &CellFormats::new(&bold))?;
    }
    // Keep the header (and the first, naming, column) in view.
    sheet.set_freeze_panes(HEADER_ROW + 1, 1)?;
    sheet.set_repeat_rows(HEADER_ROW, HEADER_ROW)?;
    sheet.set_landscape();
    sheet.set_paper_size(9);
    sheet.set_print_fit_to_pages(1, 0);
    Ok(())
}

fn column_index(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

/// A column's width in characters: names wide, figures narrow.
fn width(kind: ColumnKind, n: usize) -> f64 {
    match kind {
        ColumnKind::Text if n == 0 => 42.0,
        ColumnKind::Text => 22.0,
        ColumnKind::Time => 17.0,
        ColumnKind::Duration => 13.0,
        _ => 12.0,
    }
}

/// A table cell's formats on one base (plain or bold), made once per
/// table rather than once per cell: a list of 90,000 overdue cards is
/// 800,000 cells.
struct CellFormats {
    blank: Format,
    text: Format,
    /// By the number's kind.
    count: Format,
    percent: Format,
    duration: Format,
    change: Format,
    /// A moment: a date and time Excel sorts and filters.
    time: Format,
}

impl CellFormats {
    fn new(base: &Format) -> CellFormats {
        let cell = base.clone().set_border(FormatBorder::Thin);
        CellFormats {
            text: cell.clone().set_text_wrap(),
            // Kept as a fraction so Excel knows it is a share.
            percent: cell.clone().set_num_format("0.0%"),
            // A duration in days, shown as hours and minutes.
            duration: cell.clone().set_num_format("[h]:mm"),
            change: cell.clone().set_num_format("+0;-0;0"),
            count: cell.clone().set_num_format("0"),
            time: cell.clone().set_num_format("dd.mm.yyyy hh:mm"),
            blank: cell,
        }
    }
}

fn write_row(
    sheet: &mut Worksheet,
    row: u32,
    cells: &[Cell],
    section: &Section,
    formats: &CellFormats,
) -> Result<(), XlsxError> {
    for (n, (cell, column)) in cells.iter().zip(&section.table.columns).enumerate() {
        let col = column_index(n);
        match cell {
            // An empty text is a blank cell, as Excel keeps it.
            Cell::Text(text) if text.is_empty() => {
                sheet.write_blank(row, col, &formats.blank)?;
            }
            Cell::Empty => {
                sheet.write_blank(row, col, &formats.blank)?;
            }
            Cell::Text(text) => {
                sheet.write_string_with_format(row, col, text, &formats.text)?;
            }
            Cell::At(at) => {
                sheet.write_datetime_with_format(row, col, excel_time(*at)?, &formats.time)?;
            }
            Cell::Number(_) | Cell::Of(..) => {
                let (value, kind) = match cell {
                    Cell::Of(value, own) => (*value, *own),
                    _ => (cell.number().unwrap_or_default(), column.kind),
                };
                let (value, format) = match kind {
                    ColumnKind::Percent => (value / 100.0, &formats.percent),
                    ColumnKind::Duration => (value / 86_400.0, &formats.duration),
                    ColumnKind::Change => (value, &formats.change),
                    _ => (value, &formats.count),
                };
                sheet.write_number_with_format(row, col, value, format)?;
            }
        }
    }
    Ok(())
}

fn excel_time(at: NaiveDateTime) -> Result<ExcelDateTime, XlsxError> {
    // Years outside u16 are outside Excel's calendar too (1900–9999).
    let year = u16::try_from(at.year()).map_err(|_| {
        XlsxError::DateTimeRangeError(format!("year {} is outside Excel's range", at.year()))
    })?;
    ExcelDateTime::from_ymd(year, at.month() as u8, at.day() as u8)?.and_hms(
        at.hour() as u16,
        at.minute() as u8,
        at.second(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheet_names_are_ones_excel_accepts() {
        let mut used = Vec::new();
        assert_eq!(sheet_name("Черги", &mut used), "Черги");
        assert_eq!(sheet_name("Черги", &mut used), "Черги 2");
        let long = sheet_name("Адреси (вулиці), що зросли найбільше: усі", &mut used);
        assert!(long.chars().count() <= 31, "{long}");
        assert!(!long.contains(':'));
    }
}
