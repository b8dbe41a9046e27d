//! A report as a printable PDF: A4 landscape, the city's heading and the
//! report's title on the first page, each section's table with its header
//! repeated on every page it runs onto, text wrapped within its column,
//! numbers right-aligned, page numbers "сторінка N з M" at the foot.
//!
//! The text is set in DejaVu Sans Condensed (`web/fonts/`, cut to Latin
//! and Cyrillic by `scripts/make-fonts`), embedded and subset by krilla,
//! which shapes it (kerning, ligatures), so Ukrainian prints as written
//! and `pdftotext` reads it back.
//!
//! Two steps, so the layout can be tested without a PDF: [`layout`]
//! places every piece of text and every shaded box on its page (plain
//! code, measuring text with the font's advance widths); [`write`] draws
//! them with krilla.

use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::text::{Font, TextDirection};
use skrifa::instance::{LocationRef, Size};
use skrifa::{FontRef, MetadataProvider};

use super::document::{ColumnKind, Report, Section};

const REGULAR: &[u8] = include_bytes!("../../web/fonts/DejaVuSansCondensed.ttf");
const BOLD: &[u8] = include_bytes!("../../web/fonts/DejaVuSansCondensed-Bold.ttf");

/// A4 landscape, in points.
const PAGE_W: f32 = 842.0;
const PAGE_H: f32 = 595.0;
const MARGIN: f32 = 36.0;
/// Room kept at the foot for the page number.
const FOOT: f32 = 22.0;
const CELL_PAD: f32 = 2.5;

/// Something placed on a page.
#[derive(Debug, Clone, PartialEq)]
pub enum Mark {
    /// Text with its baseline's left end at (x, y), y from the top.
    Text {
        x: f32,
        y: f32,
        size: f32,
        bold: bool,
        text: String,
    },
    /// A box, shaded (header cells) or outlined (every cell).
    Box {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        shaded: bool,
    },
}

/// Text widths from a font's advance widths.
struct Measure<'a> {
    regular: FontRef<'a>,
    bold: FontRef<'a>,
}

impl Measure<'_> {
    fn new() -> Measure<'static> {
        // The fonts are part of the binary and were checked to parse when
        // made (scripts/make-fonts); the tests below load them.
        Measure {
            regular: FontRef::new(REGULAR).expect("the embedded regular font parses"),
            bold: FontRef::new(BOLD).expect("the embedded bold font parses"),
        }
    }

    fn width(&self, text: &str, size: f32, bold: bool) -> f32 {
        let font = if bold { &self.bold } else { &self.regular };
        let charmap = font.charmap();
        let metrics = font.glyph_metrics(Size::new(size), LocationRef::default());
        text.chars()
            .map(|c| {
                charmap
                    .map(c)
                    .and_then(|g| metrics.advance_width(g))
                    .unwrap_or(size * 0.6)
            })
            .sum()
    }

    /// `text` broken into lines no wider than `width`: at spaces, or
    /// inside a word too long for a line.
    fn wrap(&self, text: &str, size: f32, bold: bool, width: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for paragraph in text.split('\n') {
            let mut line = String::new();
            for word in paragraph.split(' ') {
                let candidate = if line.is_empty() {
                    word.to_string()
                } else {
                    format!("{line} {word}")
                };
                if self.width(&candidate, size, bold) <= width {
                    line = candidate;
                    continue;
                }
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                // A word wider than the column is cut where it must be.
                for c in word.chars() {
                    let longer = format!("{line}{c}");
                    if !line.is_empty() && self.width(&longer, size, bold) > width {
                        lines.push(std::mem::take(&mut line));
                        line.push(c);
                    } else {
                        line = longer;
                    }
                }
            }
            lines.push(line);
        }
        lines
    }
}

/// Pages being filled, top to bottom.
struct Pages {
    pages: Vec<Vec<Mark>>,
    y: f32,
}

impl Pages {
    fn bottom() -> f32 {
        PAGE_H - MARGIN - FOOT
    }

    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = MARGIN;
    }

    fn room(&self) -> f32 {
        Pages::bottom() - self.y
    }

    fn put(&mut self, mark: Mark) {
        if let Some(page) = self.pages.last_mut() {
            page.push(mark);
        }
    }

    fn text(&mut self, x: f32, size: f32, bold: bool, text: &str) {
        self.y += size * 1.25;
        let y = self.y;
        self.put(Mark::Text {
            x,
            y,
            size,
            bold,
            text: text.to_string(),
        });
    }
}

/// Where every piece of the report goes, page by page; `heading` is the
/// city's heading printed above the title.
pub fn layout(report: &Report, heading: &str) -> Vec<Vec<Mark>> {
    let measure = Measure::new();
    let mut pages = Pages {
        pages: Vec::new(),
        y: MARGIN,
    };
    pages.new_page();
    let width = PAGE_W - 2.0 * MARGIN;
    for line in measure.wrap(heading, 10.0, false, width) {
        pages.text(MARGIN, 10.0, false, &line);
    }
    pages.y += 6.0;
    for line in measure.wrap(&report.title, 16.0, true, width) {
        pages.text(MARGIN, 16.0, true, &line);
    }
    pages.text(MARGIN, 11.0, false, &report.scope);
    pages.text(
        MARGIN,
        11.0,
        false,
        &format!(
            "Період: {}. Сформовано: {}.",
            report.period_text, report.made_at_text
        ),
    );
    for section in &report.sections {
        place_section(&mut pages, &measure, section);
    }
    pages.pages
}

/// The font sizes a table may be set in, largest first: the first that
/// lets every column hold its header's longest word and its widest value.
const SIZES: [f32; 5] = [9.0, 8.0, 7.0, 6.5, 6.0];

/// A column's share of the room left once every column has its minimum:
/// names and text more, figures less.
fn weight(kind: ColumnKind, n: usize) -> f32 {
    match kind {
        ColumnKind::Text if n == 0 => 4.0,
        ColumnKind::Text | ColumnKind::Time => 2.2,
        ColumnKind::Duration => 1.4,
        _ => 1.0,
    }
}

/// The font size and column widths of a table filling the page's width:
/// each column at least as wide as its header's longest word and (for
/// figures and times) its widest value, so words break only between
/// words; what is left shared by [`weight`]. Text columns' values wrap.
fn table_layout(section: &Section, measure: &Measure) -> (f32, Vec<f32>) {
    let width = PAGE_W - 2.0 * MARGIN;
    let columns = &section.table.columns;
    let cells = |n: usize| {
        section
            .table
            .rows
            .iter()
            .chain(section.table.total.iter())
            .filter_map(move |r| r.get(n))
    };
    let minima = |size: f32| -> Vec<f32> {
        columns
            .iter()
            .enumerate()
            .map(|(n, c)| {
                let word = c
                    .title
                    .split(' ')
                    .map(|w| measure.width(w, size, true))
                    .fold(0.0, f32::max);
                let value = match c.kind {
                    // Names wrap; a long one must not starve the figures.
                    ColumnKind::Text => cells(n)
                        .map(|v| v.display(c.kind, true))
                        .flat_map(|t| {
                            t.split(' ')
                                .map(|w| measure.width(w, size, true))
                                .collect::<Vec<_>>()
                        })
                        .fold(0.0, f32::max),
                    _ => cells(n)
                        .map(|v| measure.width(&v.display(c.kind, true), size, true))
                        .fold(0.0, f32::max),
                };
                word.max(value) + 2.0 * CELL_PAD + 1.0
            })
            .collect()
    };
    let (size, minimum) = SIZES
        .iter()
        .map(|&size| (size, minima(size)))
        .find(|(_, m)| m.iter().sum::<f32>() <= width)
        .unwrap_or_else(|| (SIZES[SIZES.len() - 1], minima(SIZES[SIZES.len() - 1])));
    let total: f32 = minimum.iter().sum();
    if total > width {
        // Even the smallest size does not fit: shrink every column alike;
        // words are cut where they must be.
        return (size, minimum.iter().map(|m| m * width / total).collect());
    }
    let weights: Vec<f32> = columns
        .iter()
        .enumerate()
        .map(|(n, c)| weight(c.kind, n))
        .collect();
    let spare = width - total;
    let sum: f32 = weights.iter().sum();
    let widths = minimum
        .iter()
        .zip(&weights)
        .map(|(m, w)| m + spare * w / sum)
        .collect();
    (size, widths)
}

/// The most rows a section prints. A list of cards longer than this (the
/// city's every overdue card, in a bad year tens of thousands) is read in
/// the XLSX or CSV file; the printed report keeps its first rows (the
/// longest overdue) and says how many more there are.
pub const MAX_PRINTED_ROWS: usize = 2_000;

fn place_section(pages: &mut Pages, measure: &Measure, section: &Section) {
    let cut;
    let section = if section.table.rows.len() > MAX_PRINTED_ROWS {
        let mut first = section.clone();
        first.table.keep_first(MAX_PRINTED_ROWS);
        cut = first;
        &cut
    } else {
        section
    };
    let hidden = section.table.omitted;
    let (size, widths) = table_layout(section, measure);
    let header: Vec<Vec<String>> = section
        .table
        .columns
        .iter()
        .zip(&widths)
        .map(|(c, w)| measure.wrap(&c.title, size, true, w - 2.0 * CELL_PAD))
        .collect();
    let line_h = size * 1.25;
    let row_height = |lines: &[Vec<String>]| {
        lines.iter().map(Vec::len).max().unwrap_or(1) as f32 * line_h + 2.0 * CELL_PAD
    };
    let header_h = row_height(&header);
    let title_h = 14.0 * 1.25 + 10.0;
    // A section's title does not stand alone at a page's foot.
    if pages.room() < title_h + header_h + line_h * 2.0 {
        pages.new_page();
    }
    pages.y += 10.0;
    pages.text(MARGIN, 12.0, true, &section.title);
    if let Some(note) = &section.note {
        for line in measure.wrap(note, 8.5, false, PAGE_W - 2.0 * MARGIN) {
            pages.text(MARGIN, 8.5, false, &line);
        }
    }
    pages.y += 4.0;
    let put_row = |pages: &mut Pages,
                   lines: &[Vec<String>],
                   bold: bool,
                   shaded: bool,
                   kinds: &[ColumnKind]| {
        let h = row_height(lines);
        let mut x = MARGIN;
        for ((cell, w), kind) in lines.iter().zip(&widths).zip(kinds) {
            pages.put(Mark::Box {
                x,
                y: pages.y,
                w: *w,
                h,
                shaded,
            });
            for (n, line) in cell.iter().enumerate() {
                let text_w = measure.width(line, size, bold);
                let right = !shaded && *kind != ColumnKind::Text && *kind != ColumnKind::Time;
                let tx = if right {
                    x + w - CELL_PAD - text_w
                } else {
                    x + CELL_PAD
                };
                pages.put(Mark::Text {
                    x: tx,
                    y: pages.y + CELL_PAD + size + n as f32 * line_h,
                    size,
                    bold,
                    text: line.clone(),
                });
            }
            x += w;
        }
        pages.y += h;
    };
    let kinds: Vec<ColumnKind> = section.table.columns.iter().map(|c| c.kind).collect();
    put_row(pages, &header, true, true, &kinds);
    // A total of nothing says nothing: an empty table says "none".
    let total = section
        .table
        .total
        .iter()
        .filter(|_| !section.table.rows.is_empty());
    let rows = section
        .table
        .rows
        .iter()
        .map(|r| (r, false))
        .chain(total.map(|r| (r, true)));
    for (row, bold) in rows {
        let lines: Vec<Vec<String>> = row
            .iter()
            .zip(&kinds)
            .zip(&widths)
            .map(|((cell, kind), w)| {
                measure.wrap(&cell.display(*kind, true), size, bold, w - 2.0 * CELL_PAD)
            })
            .collect();
        if pages.room() < row_height(&lines) {
            pages.new_page();
            put_row(pages, &header, true, true, &kinds);
        }
        put_row(pages, &lines, bold, false, &kinds);
    }
    if section.table.rows.is_empty() {
        pages.text(MARGIN + CELL_PAD, 8.5, false, "Немає.");
    }
    if hidden > 0 {
        pages.y += 4.0;
        let note = format!(
            "Надруковано перші {} з {} рядків; решта ({}) — у файлі XLSX або CSV цього звіту.",
            section.table.rows.len(),
            section.table.rows.len() + hidden,
            hidden
        );
        let lines = measure.wrap(&note, 8.5, false, PAGE_W - 2.0 * MARGIN);
        if pages.room() < lines.len() as f32 * 8.5 * 1.25 {
            pages.new_page();
        }
        for line in lines {
            pages.text(MARGIN, 8.5, false, &line);
        }
    }
}

/// Writes `report` as PDF bytes, `heading` above its title.
pub fn write(report: &Report, heading: &str) -> Result<Vec<u8>, String> {
    let pages = layout(report, heading);
    let regular = Font::new(REGULAR.to_vec().into(), 0).ok_or("the regular font")?;
    let bold = Font::new(BOLD.to_vec().into(), 0).ok_or("the bold font")?;
    let mut document = Document::new();
    document.set_metadata(
        krilla::metadata::Metadata::new()
            .title(format!("{} — {}", report.title, report.period_text))
            .creator("hotline".to_string())
            .language("uk".to_string()),
    );
    let total = pages.len();
    let black = fill(0, 0, 0);
    for (n, marks) in pages.into_iter().enumerate() {
        let settings = PageSettings::from_wh(PAGE_W, PAGE_H).ok_or("the page size")?;
        let mut page = document.start_page_with(settings);
        let mut surface = page.surface();
        for mark in &marks {
            match mark {
                Mark::Box { x, y, w, h, shaded } => {
                    let mut path = PathBuilder::new();
                    if let Some(rect) = Rect::from_xywh(*x, *y, *w, *h) {
                        path.push_rect(rect);
                    }
                    let Some(path) = path.finish() else { continue };
                    surface.set_fill(shaded.then(|| fill(221, 230, 240)));
                    surface.set_stroke(Some(Stroke {
                        paint: rgb::Color::new(150, 150, 150).into(),
                        width: 0.4,
                        ..Stroke::default()
                    }));
                    surface.draw_path(&path);
                    surface.set_stroke(None);
                }
                Mark::Text {
                    x,
                    y,
                    size,
                    bold: is_bold,
                    text,
                } => {
                    surface.set_fill(Some(black.clone()));
                    let font = if *is_bold {
                        bold.clone()
                    } else {
                        regular.clone()
                    };
                    surface.draw_text(
                        Point::from_xy(*x, *y),
                        font,
                        *size,
                        text,
                        false,
                        TextDirection::Auto,
                    );
                }
            }
        }
        surface.set_fill(Some(black.clone()));
        surface.draw_text(
            Point::from_xy(PAGE_W - MARGIN - 90.0, PAGE_H - MARGIN + 4.0),
            regular.clone(),
            8.0,
            &format!("сторінка {} з {}", n + 1, total),
            false,
            TextDirection::Auto,
        );
        surface.draw_text(
            Point::from_xy(MARGIN, PAGE_H - MARGIN + 4.0),
            regular.clone(),
            8.0,
            &format!("{} · {}", report.title, report.period_text),
            false,
            TextDirection::Auto,
        );
        surface.finish();
        page.finish();
    }
    document.finish().map_err(|e| format!("{e:?}"))
}

fn fill(r: u8, g: u8, b: u8) -> Fill {
    Fill {
        paint: rgb::Color::new(r, g, b).into(),
        opacity: NormalizedF32::ONE,
        rule: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::document::{Cell, Column, Table};
    use crate::report::period::Period;
    use chrono::{NaiveDate, TimeZone, Utc};

    fn report(rows: usize) -> Report {
        let day = NaiveDate::from_ymd_opt(2026, 11, 30).expect("a date");
        Report {
            kind: "unresolved",
            title: "Звернення, не вирішені на всіх рівнях контролю".into(),
            scope: "Усі виконавці міста".into(),
            executor: None,
            period: Period::day(day),
            period_text: "станом на 01.12.2026 08:00".into(),
            made_at: Utc
                .with_ymd_and_hms(2026, 12, 1, 6, 0, 0)
                .single()
                .expect("a time"),
            made_at_text: "01.12.2026 08:00".into(),
            sections: vec![Section {
                key: "unresolved",
                title: "Картки".into(),
                note: None,
                table: Table {
                    columns: vec![
                        Column {
                            title: "Виконавець".into(),
                            kind: ColumnKind::Text,
                        },
                        Column {
                            title: "Прострочено на".into(),
                            kind: ColumnKind::Duration,
                        },
                    ],
                    rows: (0..rows)
                        .map(|n| {
                            vec![
                                Cell::text(format!(
                                    "КП «Водоканал» Запорізької міської ради, дільниця №{n}"
                                )),
                                Cell::Number(90_000.0),
                            ]
                        })
                        .collect(),
                    total: None,
                    omitted: 0,
                },
                chart: None,
            }],
        }
    }

    #[test]
    fn a_list_too_long_to_print_keeps_its_first_rows_and_says_where_the_rest_is() {
        let texts = |rows| -> Vec<String> {
            layout(&report(rows), "Контакт-центр")
                .into_iter()
                .flatten()
                .filter_map(|m| match m {
                    Mark::Text { text, .. } => Some(text),
                    _ => None,
                })
                .collect()
        };
        let long = texts(MAX_PRINTED_ROWS + 5);
        let row = |n: usize| format!("№{n}");
        let printed = |n| long.iter().any(|t| t.ends_with(&row(n)));
        assert!(printed(MAX_PRINTED_ROWS - 1), "the last printed row");
        assert!(
            !printed(MAX_PRINTED_ROWS),
            "the rows past the limit are not printed"
        );
        let note = long.join(" ");
        assert!(
            note.contains("перші 2000 з 2005 рядків; решта (5) — у файлі XLSX або CSV"),
            "{}",
            &note[note.len().saturating_sub(300)..]
        );
        assert!(!texts(80).join(" ").contains("Надруковано перші"));
    }

    #[test]
    fn long_tables_run_onto_pages_with_the_header_repeated() {
        let pages = layout(&report(80), "Запорізька міська рада · Контакт-центр 15-80");
        assert!(pages.len() >= 3, "{} pages", pages.len());
        for page in &pages[1..] {
            let headers = page
                .iter()
                .filter(
                    |m| matches!(m, Mark::Text { text, bold: true, .. } if text == "Виконавець"),
                )
                .count();
            assert_eq!(headers, 1, "the header on every page");
            for mark in page {
                if let Mark::Text { y, .. } = mark {
                    assert!(*y <= PAGE_H - MARGIN - FOOT + 1.0, "within the page: {y}");
                }
            }
        }
        let all: Vec<&str> = pages
            .iter()
            .flatten()
            .filter_map(|m| match m {
                Mark::Text { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert!(all.contains(&"1 д 01 год"), "durations as people read them");
    }

    #[test]
    fn headers_break_between_words_not_inside_them() {
        let measure = Measure::new();
        let mut wide = report(2);
        let table = &mut wide.sections[0].table;
        for title in ["Надійшло", "Закрито із запізненням", "Продовжень запитано"]
        {
            for _ in 0..5 {
                table.columns.push(Column {
                    title: title.into(),
                    kind: ColumnKind::Count,
                });
            }
        }
        for row in &mut table.rows {
            row.extend((0..15).map(|n| Cell::count(n * 1000)));
        }
        let (size, widths) = table_layout(&wide.sections[0], &measure);
        assert!(size < 9.0, "17 columns take a smaller size");
        let total: f32 = widths.iter().sum();
        assert!((total - (PAGE_W - 2.0 * MARGIN)).abs() < 0.5);
        for (column, width) in wide.sections[0].table.columns.iter().zip(&widths) {
            for word in column.title.split(' ') {
                assert!(
                    measure.width(word, size, true) + 2.0 * CELL_PAD <= *width,
                    "{word}"
                );
            }
        }
    }

    #[test]
    fn text_is_wrapped_within_its_column() {
        let measure = Measure::new();
        let lines = measure.wrap(
            "Середній час закриття звернення виконавцем",
            8.0,
            true,
            60.0,
        );
        assert!(lines.len() > 1);
        for line in &lines {
            assert!(measure.width(line, 8.0, true) <= 60.0, "{line}");
        }
        let cut = measure.wrap("Нижньодніпровськапрофспілкова", 8.0, false, 40.0);
        assert!(cut.len() > 1, "a word too long is cut");
        assert_eq!(cut.concat(), "Нижньодніпровськапрофспілкова");
    }

    #[test]
    fn it_writes_a_pdf() {
        let pdf = write(&report(3), "Запорізька міська рада").expect("a PDF");
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(pdf.len() > 2_000);
    }
}
