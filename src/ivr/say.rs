//! Speaking values from prompt pieces: digits, registration numbers, counts,
//! times and dates become sequences of prompt names ("digits/1",
//! "day/23", "word/hour-5") that the call plays one after another.
//!
//! Names are paths under a language's prompt folder without the extension,
//! as `scripts/make-prompts` generates them for `ivr-scripts/prompts/uk/`
//! (the texts are in `TEXTS.md` there). The Ukrainian grammar lives here:
//! feminine "одна"/"дві" before "година"/"хвилина", the plural forms
//! (одна година, дві години, п'ять годин) and genitive dates ("двадцять
//! третього листопада дві тисячі двадцять шостого року").
//!
//! Pure: no IO and no clock. It does not check that the prompts exist; the
//! tests here do that for every name it can produce.

use std::ops::RangeInclusive;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};

/// Years with a `year/YYYY` prompt. [`date`] reads any other year digit by
/// digit.
pub const YEARS: RangeInclusive<i32> = 2025..=2030;

/// The largest number [`number`] and [`number_feminine`] say as a word (tens
/// and units); larger ones are read digit by digit.
pub const MAX_WORD_NUMBER: u32 = 59;

/// Which form a noun takes after a count in Ukrainian.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plural {
    /// 1, 21, 31, 101 … година, хвилина.
    One,
    /// 2–4, 22–24, 102 … години, хвилини.
    Few,
    /// 0, 5–20, 25–30, 111–114 … годин, хвилин.
    Many,
}

/// The form a noun takes after `n`: by the last digit, except that 11–14
/// (and 111–114, …) take the "many" form.
pub fn plural_form(n: u64) -> Plural {
    match (n % 10, n % 100) {
        (_, 11..=14) => Plural::Many,
        (1, _) => Plural::One,
        (2..=4, _) => Plural::Few,
        _ => Plural::Many,
    }
}

/// Key presses or any string of digits, one prompt per character: `0`–`9`,
/// `*` ("зірочка"), `#` ("решітка") and `-` (`digits/dash`, a short pause).
/// Other characters are skipped.
pub fn digits(s: &str) -> Vec<String> {
    s.chars()
        .filter_map(|c| match c {
            '0'..='9' => Some(format!("digits/{c}")),
            '*' => Some("digits/star".to_string()),
            '#' => Some("digits/hash".to_string()),
            '-' => Some("digits/dash".to_string()),
            _ => None,
        })
        .collect()
}

/// A registration number such as "1580-2026-000123": each group of digits
/// read digit by digit, with `digits/dash` (a short pause) between groups.
///
/// Groups are the runs of digits, so any separator (or several) makes one
/// pause and nothing else is spoken. Leading zeros are read ("нуль нуль нуль
/// один два три"): that is what the citizen keys in and sees in the SMS, and
/// a caller copying it down needs every digit.
pub fn registration_number(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    for group in s
        .split(|c: char| !c.is_ascii_digit())
        .filter(|g| !g.is_empty())
    {
        if !out.is_empty() {
            out.push("digits/dash".to_string());
        }
        out.extend(digits(group));
    }
    out
}

/// A cardinal number, masculine ("один", "двадцять два"): 0–19, the tens
/// 20–50 and tens + units up to [`MAX_WORD_NUMBER`]. Larger numbers are read
/// digit by digit, since there are no prompts for them.
pub fn number(n: u32) -> Vec<String> {
    cardinal(n, false)
}

/// A cardinal number in the feminine, as before "година" and "хвилина":
/// units 1 and 2 become "одна", "дві" (`num/1f`, `num/2f`), so 21 is
/// "двадцять одна"; 11 and 12 do not change. Otherwise as [`number`].
pub fn number_feminine(n: u32) -> Vec<String> {
    cardinal(n, true)
}

fn cardinal(n: u32, feminine: bool) -> Vec<String> {
    let unit = |u: u32| match (u, feminine) {
        (1, true) => "num/1f".to_string(),
        (2, true) => "num/2f".to_string(),
        _ => format!("num/{u}"),
    };
    match n {
        0..=9 => vec![unit(n)],
        10..=19 => vec![format!("num/{n}")],
        20..=MAX_WORD_NUMBER => {
            let units = n % 10;
            let mut out = vec![format!("num/{}", n - units)];
            if units != 0 {
                out.push(unit(units));
            }
            out
        }
        _ => digits(&n.to_string()),
    }
}

/// A time of day, "чотирнадцять годин п'ять хвилин" for 14:05: hours and
/// minutes in the feminine, each followed by its noun in the right plural
/// form. Minutes are left out on the hour ("дванадцять годин").
pub fn time(h: u32, m: u32) -> Vec<String> {
    let mut out = number_feminine(h);
    out.push(format!("word/hour-{}", form_suffix(h)));
    if m != 0 {
        out.extend(number_feminine(m));
        out.push(format!("word/minute-{}", form_suffix(m)));
    }
    out
}

/// A number of minutes, "п'ять хвилин", "одна хвилина": feminine, with
/// the noun in the right plural form.
pub fn minutes(m: u32) -> Vec<String> {
    let mut out = number_feminine(m);
    out.push(format!("word/minute-{}", form_suffix(m)));
    out
}

/// The prompts a queue says on its own: its place and expected wait
/// ([`crate::call::machine::announcement`]), the refusal, the music while an
/// operator holds the caller and the words of a transfer.
pub const QUEUE_PROMPTS: [&str; 7] = [
    "queue/position",
    "queue/more-than",
    "queue/wait",
    "queue/unavailable",
    "hold-music",
    "transfer-operator",
    "goodbye",
];

fn form_suffix(n: u32) -> &'static str {
    match plural_form(n.into()) {
        Plural::One => "1",
        Plural::Few => "2-4",
        Plural::Many => "5",
    }
}

/// A date in the genitive, "двадцять третього листопада дві тисячі двадцять
/// шостого року", to follow "до" ("Орієнтовно до …", "Термін виконання: до
/// …"). A year outside [`YEARS`] is read digit by digit ("два нуль три
/// один") rather than left out, so the caller never hears a wrong year.
pub fn date(d: NaiveDate) -> Vec<String> {
    let mut out = vec![
        format!("day/{}", d.day()),
        format!("month/{:02}", d.month()),
    ];
    if YEARS.contains(&d.year()) {
        out.push(format!("year/{}", d.year()));
    } else {
        out.extend(digits(&d.year().to_string()));
    }
    out
}

/// A deadline: the [`date`], then the [`time`] (seconds are dropped).
pub fn deadline(dt: NaiveDateTime) -> Vec<String> {
    let mut out = date(dt.date());
    out.extend(time(dt.hour(), dt.minute()));
    out
}

/// Every prompt name the builders here can produce, so menus that speak
/// numbers and dates can be checked for all of them before a call needs one.
/// Computed once: it walks every date of the supported years.
pub fn vocabulary() -> &'static [String] {
    static WORDS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    WORDS.get_or_init(build_vocabulary)
}

fn build_vocabulary() -> Vec<String> {
    let mut words: Vec<String> = digits("0123456789*#-");
    for n in 0..=MAX_WORD_NUMBER {
        words.extend(number(n));
        words.extend(number_feminine(n));
    }
    for h in 0..24 {
        for m in [0, 1, 2, 5] {
            words.extend(time(h, m));
        }
    }
    for year in YEARS {
        for month in 1..=12 {
            for d in 1..=31 {
                if let Some(day) = chrono::NaiveDate::from_ymd_opt(year, month, d) {
                    words.extend(date(day));
                }
            }
        }
    }
    words.sort();
    words.dedup();
    words
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::PathBuf;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid test date")
    }

    #[test]
    fn plural_forms_follow_the_ukrainian_rule() {
        use Plural::*;
        let cases = [
            (0, Many),
            (1, One),
            (2, Few),
            (4, Few),
            (5, Many),
            (11, Many),
            (12, Many),
            (14, Many),
            (21, One),
            (22, Few),
            (25, Many),
            (101, One),
            (111, Many),
        ];
        for (n, form) in cases {
            assert_eq!(plural_form(n), form, "{n}");
        }
    }

    #[test]
    fn digits_are_read_one_by_one() {
        assert_eq!(
            digits("0*9#-x 5"),
            names(&[
                "digits/0",
                "digits/star",
                "digits/9",
                "digits/hash",
                "digits/dash",
                "digits/5"
            ])
        );
        assert!(digits("").is_empty());
        assert!(digits("абв").is_empty());
    }

    #[test]
    fn registration_number_pauses_between_groups_and_keeps_leading_zeros() {
        assert_eq!(
            registration_number("1580-2026-000123"),
            names(&[
                "digits/1",
                "digits/5",
                "digits/8",
                "digits/0",
                "digits/dash",
                "digits/2",
                "digits/0",
                "digits/2",
                "digits/6",
                "digits/dash",
                "digits/0",
                "digits/0",
                "digits/0",
                "digits/1",
                "digits/2",
                "digits/3",
            ])
        );
        // Separators of any kind and number make one pause, never a
        // leading or trailing one.
        assert_eq!(
            registration_number(" 12 -- 3-"),
            names(&["digits/1", "digits/2", "digits/dash", "digits/3"])
        );
        assert_eq!(registration_number("007"), digits("007"));
        assert!(registration_number("--").is_empty());
    }

    #[test]
    fn numbers_are_tens_and_units() {
        assert_eq!(number(0), names(&["num/0"]));
        assert_eq!(number(1), names(&["num/1"]));
        assert_eq!(number(12), names(&["num/12"]));
        assert_eq!(number(19), names(&["num/19"]));
        assert_eq!(number(20), names(&["num/20"]));
        assert_eq!(number(21), names(&["num/20", "num/1"]));
        assert_eq!(number(40), names(&["num/40"]));
        assert_eq!(number(59), names(&["num/50", "num/9"]));
        assert_eq!(number(60), names(&["digits/6", "digits/0"]));
        assert_eq!(number(2026), digits("2026"));
    }

    #[test]
    fn feminine_numbers_change_units_one_and_two_only() {
        assert_eq!(number_feminine(1), names(&["num/1f"]));
        assert_eq!(number_feminine(2), names(&["num/2f"]));
        assert_eq!(number_feminine(3), names(&["num/3"]));
        assert_eq!(number_feminine(11), names(&["num/11"]));
        assert_eq!(number_feminine(12), names(&["num/12"]));
        assert_eq!(number_feminine(21), names(&["num/20", "num/1f"]));
        assert_eq!(number_feminine(52), names(&["num/50", "num/2f"]));
        assert_eq!(number_feminine(30), names(&["num/30"]));
        for n in 0..=MAX_WORD_NUMBER {
            let (m, f) = (number(n), number_feminine(n));
            assert_eq!(m.len(), f.len(), "{n}");
            if !matches!(n % 10, 1 | 2) || (10..20).contains(&n) {
                assert_eq!(m, f, "{n}");
            }
        }
    }

    #[test]
    fn minutes_agree_with_their_noun() {
        assert_eq!(minutes(1), names(&["num/1f", "word/minute-1"]));
        assert_eq!(minutes(3), names(&["num/3", "word/minute-2-4"]));
        assert_eq!(minutes(22), names(&["num/20", "num/2f", "word/minute-2-4"]));
        assert_eq!(minutes(5), names(&["num/5", "word/minute-5"]));
    }

    #[test]
    fn times_agree_hours_and_minutes_with_their_nouns() {
        assert_eq!(
            time(14, 5),
            names(&["num/14", "word/hour-5", "num/5", "word/minute-5"])
        );
        assert_eq!(time(12, 0), names(&["num/12", "word/hour-5"]));
        assert_eq!(time(0, 0), names(&["num/0", "word/hour-5"]));
        assert_eq!(
            time(1, 1),
            names(&["num/1f", "word/hour-1", "num/1f", "word/minute-1"])
        );
        assert_eq!(
            time(21, 22),
            names(&[
                "num/20",
                "num/1f",
                "word/hour-1",
                "num/20",
                "num/2f",
                "word/minute-2-4"
            ])
        );
        assert_eq!(
            time(23, 44),
            names(&[
                "num/20",
                "num/3",
                "word/hour-2-4",
                "num/40",
                "num/4",
                "word/minute-2-4"
            ])
        );
        assert_eq!(
            time(11, 59),
            names(&["num/11", "word/hour-5", "num/50", "num/9", "word/minute-5"])
        );
    }

    #[test]
    fn dates_are_genitive_with_the_year() {
        assert_eq!(
            date(ymd(2026, 11, 23)),
            names(&["day/23", "month/11", "year/2026"])
        );
        assert_eq!(
            date(ymd(2025, 1, 1)),
            names(&["day/1", "month/01", "year/2025"])
        );
        assert_eq!(
            date(ymd(2030, 12, 31)),
            names(&["day/31", "month/12", "year/2030"])
        );
        // Outside the recorded years: the year digit by digit.
        assert_eq!(
            date(ymd(2031, 3, 8)),
            names(&[
                "day/8", "month/03", "digits/2", "digits/0", "digits/3", "digits/1"
            ])
        );
    }

    #[test]
    fn deadline_is_the_date_then_the_time() {
        let dt = ymd(2026, 11, 23)
            .and_hms_opt(14, 5, 59)
            .expect("valid time");
        let mut want = date(dt.date());
        want.extend(time(14, 5));
        assert_eq!(deadline(dt), want);
        assert_eq!(
            deadline(dt),
            names(&[
                "day/23",
                "month/11",
                "year/2026",
                "num/14",
                "word/hour-5",
                "num/5",
                "word/minute-5"
            ])
        );
    }

    /// The shipped Ukrainian prompts; `HOTLINE_PROMPTS_DIR` points elsewhere
    /// (for building this module outside the crate).
    fn prompts_dir() -> PathBuf {
        std::env::var_os("HOTLINE_PROMPTS_DIR").map_or_else(
            || {
                PathBuf::from(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/ivr-scripts/prompts/uk"
                ))
            },
            PathBuf::from,
        )
    }

    #[test]
    fn every_name_it_can_say_is_a_shipped_prompt() {
        let mut said = BTreeSet::new();
        for n in 0..=100 {
            said.extend(number(n));
            said.extend(number_feminine(n));
        }
        for h in 0..24 {
            for m in 0..60 {
                said.extend(time(h, m));
            }
        }
        // Every day and month, every recorded year and one either side.
        let (first, last) = (*YEARS.start() - 1, *YEARS.end() + 1);
        let mut d = ymd(first, 1, 1);
        while d.year() <= last {
            said.extend(date(d));
            d = d.succ_opt().expect("dates well inside chrono's range");
        }
        said.extend(digits("0123456789*#-"));
        said.extend(registration_number("1580-2026-000123"));

        let dir = prompts_dir();
        let missing: Vec<_> = said
            .iter()
            .filter(|name| !dir.join(format!("{name}.wav")).exists())
            .collect();
        assert!(
            missing.is_empty(),
            "no prompt in {} for {missing:?}",
            dir.display()
        );
        // Sanity: the walk covered the whole vocabulary.
        for name in [
            "day/31",
            "month/02",
            "year/2030",
            "num/1f",
            "word/minute-2-4",
        ] {
            assert!(said.contains(name), "{name} never said");
        }
    }
}
