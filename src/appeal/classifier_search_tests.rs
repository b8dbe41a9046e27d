//! The search on the shipped classifier, as an operator types.

use std::path::Path;

use super::*;
use crate::appeal::classifier::{Classifier, DEFAULT_PATH};

/// The shipped classifier's types as "section / type", with what the
/// search is given.
struct Shipped {
    classifier: Classifier,
}

impl Shipped {
    fn load() -> Self {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_PATH);
        let classifier = Classifier::load(&path).unwrap_or_else(|e| panic!("{e}"));
        Self { classifier }
    }

    /// The names of the types `query` finds, best first.
    fn find(&self, query: &str) -> Vec<String> {
        let c = &self.classifier;
        let mut names = Vec::new();
        let mut candidates = Vec::new();
        for s in c.sections() {
            for t in &s.types {
                names.push(format!("{} / {}", s.name, t.name));
                candidates.push(Searchable {
                    type_name: &t.name,
                    type_synonyms: &t.synonyms,
                    section_name: &s.name,
                    section_synonyms: &s.synonyms,
                    executor_name: c.executor(&t.executor).map_or("", |e| e.name.as_str()),
                    type_code: &t.code,
                });
            }
        }
        rank(query, &candidates)
            .into_iter()
            .map(|r| names[r.index].clone())
            .collect()
    }

    fn best(&self, query: &str) -> String {
        self.find(query)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("{query:?} finds nothing"))
    }
}

#[test]
fn street_lighting_is_found_before_a_lifts_cabin_lighting() {
    let s = Shipped::load();
    for query in ["освітл", "освітлення", "Освітлення", "освітлення вулиці"]
    {
        assert_eq!(
            s.best(query),
            "Зовнішнє освітлення / Не працює освітлення вулиці",
            "{query:?}"
        );
    }
    // The street-lighting types that say it in their name first, then
    // the lift's (in its name only), then a street type that has it in
    // its section only ("Не працює окремий ліхтар").
    let found = s.find("освітл");
    assert!(
        found[..4]
            .iter()
            .all(|n| n.starts_with("Зовнішнє освітлення /")),
        "{found:#?}"
    );
    assert_eq!(
        found[4],
        "Ліфти / Несправність ліфта: двері, кнопки, освітлення кабіни"
    );
    assert!(found.contains(&"Зовнішнє освітлення / Не працює окремий ліхтар".to_string()));
}

#[test]
fn water_finds_the_water_supply_first() {
    let s = Shipped::load();
    for query in ["вода", "води", "водою", "немає води"] {
        assert_eq!(
            s.best(query),
            "Водопостачання / Відсутнє холодне водопостачання",
            "{query:?}"
        );
    }
    assert_eq!(
        s.best("гаряча вода"),
        "Теплопостачання та гаряча вода / Відсутнє гаряче водопостачання"
    );
    assert_eq!(
        s.best("тиск води"),
        "Водопостачання / Низький тиск холодної води"
    );
}

#[test]
fn a_lift_by_the_whole_word_then_its_section() {
    let s = Shipped::load();
    assert_eq!(s.best("ліфт"), "Ліфти / Ліфт не працює");
    assert_eq!(
        s.best("застряг у ліфті"),
        "Ліфти / Застрягання людей у ліфті"
    );
    let found = s.find("ліфт");
    assert!(
        found.iter().take(4).all(|n| n.starts_with("Ліфти /")),
        "the lift types first: {found:#?}"
    );
    assert!(
        !found.iter().any(|n| n.contains("ліхтар")),
        "a short word is not taken for another by a slip: {found:#?}"
    );
}

#[test]
fn rubbish_by_the_word_people_say() {
    let s = Shipped::load();
    assert_eq!(
        s.best("сміття"),
        "Поводження з відходами / Не вивезено побутові відходи"
    );
    assert_eq!(
        s.best("сміттєзвалище"),
        "Поводження з відходами / Стихійне сміттєзвалище"
    );
}

#[test]
fn slips_of_the_keyboard_still_find_the_type() {
    let s = Shipped::load();
    // и for і, a letter doubled, two letters swapped, a Latin i.
    for query in [
        "освитлення",
        "освітллення",
        "освітлнеия вулиці",
        "свiтлофор",
    ] {
        let best = s.best(query);
        assert!(
            best.contains("освітлення вулиці") || best.contains("світлофор"),
            "{query:?} -> {best}"
        );
    }
    assert_eq!(
        s.best("каналізацыя"),
        "Водовідведення / Засмічення каналізаційної мережі, вилив стоків"
    );
}

#[test]
fn every_word_must_match_somewhere() {
    let s = Shipped::load();
    assert!(s.find("ліфт трамвай").is_empty());
    assert!(s.find("").is_empty());
    assert!(s.find("  ,. ").is_empty());
    assert!(s.find("qqqq").is_empty());
}

#[test]
fn the_executor_finds_its_types() {
    let s = Shipped::load();
    let found = s.find("водоканал");
    assert!(!found.is_empty());
    assert!(
        found
            .iter()
            .all(|n| n.starts_with("Водопостачання") || n.starts_with("Водовідведення")),
        "{found:#?}"
    );
}

#[test]
fn stems_and_slips() {
    assert_eq!(stem("вода"), "вод");
    assert_eq!(stem("водою"), "вод");
    assert_eq!(stem("ліфті"), "ліфт");
    assert_eq!(stem("ліфт"), "ліфт");
    // Too short to lose an ending.
    assert_eq!(stem("дно"), "дно");
    assert_eq!(slips("освитлення", "освітлення"), 1);
    assert_eq!(slips("освітл", "освітлення"), 0);
    assert_eq!(slips("оствілення", "освітлення"), 2);
    assert_eq!(distance(&['а', 'б'], &['б', 'а']), 1);
    assert_eq!(fold("Під’їзд"), "під'їзд");
    assert_eq!(fold("Свiтло"), "світло");
}

#[test]
fn a_long_query_is_cut_not_refused() {
    let s = Shipped::load();
    let long = "освітлення ".repeat(1000);
    assert_eq!(
        s.best(&long),
        "Зовнішнє освітлення / Не працює освітлення вулиці"
    );
}
