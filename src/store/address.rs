//! Whether a repair work's address covers a caller's free-text address.
//!
//! Role: plain text matching, no database and no IO. It runs in Rust rather
//! than in SQL because SQLite's `lower()` folds ASCII only: "Соборна" and
//! "соборна" would be different on SQLite and equal on PostgreSQL. And
//! "street inside a caller's address" is no lookup an index serves, so
//! nothing is lost by filtering the (few) active works here.
//!
//! The rule, on text folded to lower case with apostrophes unified:
//! * the work's street, without words like "вул." or "проспект", must occur
//!   in the address as whole consecutive words ("Соборна" is in
//!   "вул. Соборна, 12", but "Миру" is not in "вул. Мирутенка");
//! * if the work names a house, the first number after that street in the
//!   address must be that house ("12" matches "Соборна, 12, кв. 5" but not
//!   "Соборна, 5, кв. 12" nor "Соборна, 12а"). "12-А", "12 а" and "12а" are
//!   the same house. An address with no house number matches only works on
//!   the whole street;
//! * a work may name several houses and ranges, separated by commas:
//!   "10-20" covers every house numbered 10 to 20 ("12а" too), "2, 4, 10-16"
//!   those and that range (a range is two plain numbers, the smaller first).

use super::WorkAddress;

/// Words naming a kind of street, ignored in a work's street name so that
/// "вул. Соборна" matches "вулиця Соборна, 12". Only in the work's name:
/// the address may say anything around the street.
const STREET_TYPES: &[&str] = &[
    "вул",
    "вулиця",
    "пров",
    "пр-т",
    "провулок",
    "пр",
    "просп",
    "проспект",
    "бул",
    "бульв",
    "бульвар",
    "б-р",
    "пл",
    "площа",
    "наб",
    "набережна",
    "узвіз",
    "проїзд",
    "тупик",
    "шосе",
    "майдан",
    "алея",
    "мкр",
    "мікрорайон",
];

impl WorkAddress {
    /// Whether this street (or house on it) is the caller's `address`; see
    /// the module notes for the rule.
    pub fn matches(&self, address: &str) -> bool {
        let street = street_words(&self.street);
        if street.is_empty() {
            return false;
        }
        let houses = self.house.as_deref().map(houses);
        let address = words(address);
        (0..address.len())
            .filter(|&i| address[i..].starts_with(&street))
            .any(|i| match &houses {
                None => true,
                Some(houses) => {
                    let after = &address[i + street.len()..];
                    after
                        .iter()
                        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))
                        .is_some_and(|number| houses.iter().any(|h| h.covers(number)))
                }
            })
    }
}

/// A house a work names, or a range of them.
enum House {
    One(String),
    Range(u32, u32),
}

impl House {
    /// Whether the caller's house `number` (a folded word) is this one.
    fn covers(&self, number: &str) -> bool {
        match self {
            House::One(house) => number == house,
            House::Range(from, to) => {
                let digits: String = number.chars().take_while(char::is_ascii_digit).collect();
                digits
                    .parse::<u32>()
                    .is_ok_and(|n| (*from..=*to).contains(&n))
            }
        }
    }
}

/// The houses of a work's house field: "12", "12-А", "10-20", "2, 4, 10-16".
fn houses(text: &str) -> Vec<House> {
    text.split([',', ';'])
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            let range = item
                .split_once(['-', '–', '—'])
                .and_then(|(a, b)| {
                    Some((a.trim().parse::<u32>().ok()?, b.trim().parse::<u32>().ok()?))
                })
                .filter(|(a, b)| a < b);
            match range {
                Some((from, to)) => House::Range(from, to),
                None => House::One(words(item).concat()),
            }
        })
        .collect()
}

/// The street of a free-text address, for counting appeals by street:
/// `(key, name)`, the key folded as the matching rule folds (so
/// "вул. Соборна, 12" and "вулиця соборна 5" count together) and the name
/// as first written. The street is the words before the first house
/// number, in the comma-separated part that holds it, or the part before
/// it when the number stands alone ("Соборна, 12"); `None` when there is
/// no street word.
pub fn street_of(address: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = address.split(',').map(str::trim).collect();
    let numbered = |w: &String| w.starts_with(|c: char| c.is_ascii_digit());
    let house_at = parts
        .iter()
        .position(|p| words(p).iter().any(numbered))
        .unwrap_or(parts.len().saturating_sub(1));
    let candidates = [Some(house_at), house_at.checked_sub(1)];
    for at in candidates.into_iter().flatten() {
        let part = parts.get(at)?;
        let before_number: Vec<String> = words(part)
            .into_iter()
            .take_while(|w| !numbered(w))
            .collect();
        let named: Vec<&String> = before_number
            .iter()
            .filter(|w| !STREET_TYPES.contains(&w.as_str()) && w.chars().count() > 1)
            .collect();
        if named.is_empty() {
            continue;
        }
        let key = named
            .iter()
            .map(|w| w.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let cut = part
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit())
            .map_or(part.len(), |(i, _)| i);
        let name = part[..cut]
            .trim()
            .trim_end_matches([',', '.', ' '])
            .to_string();
        return Some((key, name));
    }
    None
}

/// The words of a street name without the kind of street (all of them if
/// that would leave none: a street may be called "Майдан").
fn street_words(street: &str) -> Vec<String> {
    let all = words(street);
    let named: Vec<String> = all
        .iter()
        .filter(|w| !STREET_TYPES.contains(&w.as_str()))
        .cloned()
        .collect();
    if named.is_empty() { all } else { named }
}

/// Lower-case words of `text`: runs of letters, digits, apostrophes, '/'
/// and '-' ("12/1", "пр-т", "Нижньо-Дніпровська" stay whole). A house's
/// letter joins its number however written: "12-а", "12 а" -> "12а".
fn words(text: &str) -> Vec<String> {
    let folded: String = text
        .chars()
        .flat_map(char::to_lowercase)
        .map(unify_apostrophe)
        .collect();
    let is_joiner = |c: char| matches!(c, '\'' | '/' | '-');
    let mut out: Vec<String> = Vec::new();
    for raw in folded.split(|c: char| !(c.is_alphanumeric() || is_joiner(c))) {
        let word = join_house_letter(raw.trim_matches(is_joiner));
        if word.is_empty() {
            continue;
        }
        let mut chars = word.chars();
        let single_letter = chars.next().is_some_and(char::is_alphabetic) && chars.next().is_none();
        match out.last_mut() {
            Some(prev) if single_letter && prev.ends_with(|c: char| c.is_ascii_digit()) => {
                prev.push_str(&word)
            }
            _ => out.push(word),
        }
    }
    out
}

/// Drops a '-' between a digit and a letter: "12-а" -> "12а".
fn join_house_letter(word: &str) -> String {
    let chars: Vec<char> = word.chars().collect();
    chars
        .iter()
        .enumerate()
        .filter(|&(i, &c)| {
            let between = i > 0
                && chars[i - 1].is_ascii_digit()
                && chars.get(i + 1).is_some_and(|n| n.is_alphabetic());
            !(c == '-' && between)
        })
        .map(|(_, &c)| c)
        .collect()
}

/// Ukrainian text writes the apostrophe as ', ’ or ʼ (the last is the
/// official one); treat them alike so "Об'єднання" matches "Обʼєднання".
fn unify_apostrophe(c: char) -> char {
    match c {
        '\u{2019}' | '\u{02BC}' | '\u{2018}' | '`' | '\u{00B4}' => '\'',
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(street: &str, house: Option<&str>) -> WorkAddress {
        WorkAddress {
            street: street.into(),
            house: house.map(Into::into),
        }
    }

    #[test]
    fn a_work_names_houses_and_ranges() {
        let range = at("вул. Гоголя", Some("95-105"));
        assert!(range.matches("вул. Гоголя, 99, кв. 3"));
        assert!(range.matches("Гоголя 105"));
        assert!(
            range.matches("Гоголя, 101а"),
            "a lettered house in the range"
        );
        assert!(!range.matches("Гоголя, 94"));
        assert!(!range.matches("Гоголя, 106"));
        assert!(
            !range.matches("Гоголя"),
            "no house: not a work on some houses"
        );
        let list = at("Соборна", Some("2, 4, 10–16"));
        assert!(list.matches("Соборна, 4"));
        assert!(list.matches("Соборна, 12"));
        assert!(!list.matches("Соборна, 6"));
        // "12-А" is one house, not a range.
        let lettered = at("Соборна", Some("12-А"));
        assert!(lettered.matches("Соборна, 12а"));
        assert!(!lettered.matches("Соборна, 12"));
    }

    #[test]
    fn words_are_folded_and_house_letters_joined() {
        assert_eq!(words("вул. СОБОРНА, 12-А"), ["вул", "соборна", "12а"]);
        assert_eq!(words("Соборна 12 а, кв. 5"), ["соборна", "12а", "кв", "5"]);
        assert_eq!(words("пр-т Миру, 12/1"), ["пр-т", "миру", "12/1"]);
        assert_eq!(
            words("Нижньо-Дніпровська - 3-б"),
            ["нижньо-дніпровська", "3б"]
        );
        assert_eq!(words("Обʼєднання ’Січ’"), ["об'єднання", "січ"]);
        assert!(words(" ,. ").is_empty());
    }

    #[test]
    fn street_is_matched_whole_and_case_insensitively() {
        let work = at("соборна", None);
        assert!(work.matches("вул. Соборна, 12"));
        assert!(work.matches("м. Запоріжжя, ВУЛ. СОБОРНА 3, кв. 7"));
        assert!(!work.matches("вул. Соборний, 12"));
        assert!(!work.matches("вул. Незалежності, 1"));
        assert!(!at("Миру", None).matches("вул. Мирутенка, 4"));
        // Street kinds in the work's name are ignored.
        assert!(at("вул. Соборна", None).matches("вулиця Соборна, 12"));
        assert!(at("Соборний проспект", None).matches("пр. Соборний, 1"));
        assert!(at("пр-т Миру", None).matches("просп. Миру, 1"));
        // Several words, in order.
        let franko = at("вул. Івана Франка", Some("5"));
        assert!(franko.matches("Івана Франка, 5"));
        assert!(!franko.matches("Франка Івана, 5"));
        // Apostrophe variants.
        assert!(at("Обʼєднання", None).matches("вул. Об'єднання 3"));
    }

    #[test]
    fn house_is_the_first_number_after_the_street() {
        let work = at("Соборна", Some("12"));
        assert!(work.matches("вул. Соборна, 12"));
        assert!(work.matches("вул. Соборна, буд. 12, кв. 5"));
        assert!(!work.matches("вул. Соборна, 5, кв. 12"), "12 is the flat");
        assert!(!work.matches("вул. Соборна, 120"));
        assert!(!work.matches("вул. Соборна, 12а"), "another building");
        assert!(!work.matches("вул. Соборна"), "house unknown");
        // A number in the street's name is not the house.
        let march = at("вул. 8 Березня", Some("8"));
        assert!(!march.matches("вул. 8 Березня, 5"));
        assert!(march.matches("вул. 8 Березня, 8"));
        // Letters and fractions, however written.
        for address in [
            "Соборна 12-А",
            "Соборна 12 а",
            "соборна, 12а",
            "Соборна, 12-а, кв. 1",
        ] {
            assert!(at("Соборна", Some("12А")).matches(address), "{address}");
            assert!(at("Соборна", Some("12-а")).matches(address), "{address}");
        }
        assert!(at("Соборна", Some("12/1")).matches("Соборна, 12/1"));
        assert!(!at("Соборна", Some("12/1")).matches("Соборна, 12, кв. 1"));
    }

    #[test]
    fn the_street_of_an_address_is_found_whatever_its_spelling() {
        let key = |a: &str| street_of(a).map(|(k, _)| k);
        assert_eq!(key("вул. Соборна, 12, кв. 5"), Some("соборна".into()));
        assert_eq!(key("вулиця Соборна 5"), Some("соборна".into()));
        assert_eq!(key("Соборна, 12"), Some("соборна".into()));
        assert_eq!(
            key("м. Запоріжжя, просп. Маяковського, 3"),
            Some("маяковського".into())
        );
        assert_eq!(
            street_of("вул. Нижньо-Дніпровська 7а").map(|(_, n)| n),
            Some("вул. Нижньо-Дніпровська".into())
        );
        assert_eq!(key("12, 5"), None);
        assert_eq!(key(""), None);
    }

    #[test]
    fn blank_or_kind_only_streets() {
        assert!(!at("", None).matches("вул. Соборна, 12"));
        assert!(!at(" , ", None).matches("вул. Соборна, 12"));
        // Only a kind word: it is kept as the name.
        assert!(at("Майдан", None).matches("майдан, 1"));
    }
}
