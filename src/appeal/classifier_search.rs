//! Finding an issue type by a few typed letters: the operator's "освітл"
//! and Enter must file the card under street lighting, not under a lift's
//! cabin lighting that merely comes first in the file. A mis-filed card goes
//! to the wrong department with the wrong deadline.
//!
//! Role: rank the classifier's types against a query, plain code with no
//! IO. The store gives the candidates (the current version's categories),
//! the HTTP edge gives the query; this module decides the order.
//!
//! How a type is scored: each word of the query must match some word of
//! the type, its section, its synonyms or its executor, else the type is
//! not a match at all. A word matches another, best first, as the same
//! word, as the same word inflected ("вода" and "води" share a stem), as
//! its beginning ("освітл" of "освітлення"), as the beginning by stem
//! ("вода" of "водопостачання"), or with one slip of the keyboard
//! ("освитлення"; two in a word of nine letters or more). How much a match counts depends on
//! where it is: the type's own name most, then its synonyms, then its
//! section's name and synonyms, the executor least. A type collects the
//! best match of each place for each query word, so the street-lighting
//! types (the word in the type and in the section "Зовнішнє освітлення")
//! outrank the lift type that has it only in its name. Equal scores keep
//! the file's order, which puts a section's common issue first.

use std::cmp::Reverse;

use super::CategoryRecord;

/// What one issue type offers to the search.
#[derive(Debug, Clone, Copy)]
pub struct Searchable<'a> {
    pub type_name: &'a str,
    pub type_synonyms: &'a [String],
    pub section_name: &'a str,
    pub section_synonyms: &'a [String],
    pub executor_name: &'a str,
    pub type_code: &'a str,
}

/// A type that matched: its index among the candidates and its score
/// (higher is better; only the order means anything).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ranked {
    pub index: usize,
    pub score: u32,
}

/// Words of this many letters or fewer are function words ("у", "на").
const SHORT_WORD: usize = 2;

/// The longest query looked at, in characters; the rest is ignored.
const MAX_QUERY_CHARS: usize = 100;

/// How well one query word matches one word, in hundredths.
fn word_match(query: &Word, word: &Word) -> u32 {
    if query.text == word.text {
        return 100;
    }
    if query.stem.chars().count() >= 3 && query.stem == word.stem {
        return 90;
    }
    if word.text.starts_with(&query.text) {
        return 70;
    }
    if query.stem.chars().count() >= 3 && word.text.starts_with(&query.stem) {
        return 60;
    }
    let allowed = match query.text.chars().count() {
        0..=4 => 0,
        5..=8 => 1,
        _ => 2,
    };
    if allowed > 0 && slips(&query.text, &word.text) <= allowed {
        return 40;
    }
    0
}

/// Weights of the places a word can be found, in the order of the rule:
/// the type's name, its synonyms, its section's name and synonyms, the
/// executor, the type's code.
const TYPE_NAME: u32 = 100;
const TYPE_SYNONYM: u32 = 80;
const SECTION: u32 = 40;
const EXECUTOR: u32 = 20;
const CODE: u32 = 10;

/// The candidates that match every word of `query` (but the shortest),
/// best first (equal
/// scores in the candidates' order). An empty query matches nothing: the
/// caller shows the whole tree then.
pub fn rank(query: &str, candidates: &[Searchable<'_>]) -> Vec<Ranked> {
    let query: String = query.chars().take(MAX_QUERY_CHARS).collect();
    let words = words(&query);
    if words.is_empty() {
        return Vec::new();
    }
    let mut ranked: Vec<Ranked> = candidates
        .iter()
        .enumerate()
        .filter_map(|(index, c)| score(&words, c).map(|score| Ranked { index, score }))
        .collect();
    // A stable sort: ties stay in file order.
    ranked.sort_by_key(|r| Reverse(r.score));
    ranked
}

/// [`rank`] over a classifier version's categories, best first.
pub fn rank_categories<'a>(
    query: &str,
    categories: &'a [CategoryRecord],
) -> impl Iterator<Item = &'a CategoryRecord> {
    let candidates: Vec<Searchable<'_>> = categories
        .iter()
        .map(|c| Searchable {
            type_name: &c.type_name,
            type_synonyms: &c.type_synonyms,
            section_name: &c.section_name,
            section_synonyms: &c.section_synonyms,
            executor_name: &c.executor.name,
            type_code: &c.type_code,
        })
        .collect();
    rank(query, &candidates)
        .into_iter()
        .map(move |r| &categories[r.index])
}

/// The type's score, or `None` if some query word matches nowhere.
fn score(query: &[Word], c: &Searchable<'_>) -> Option<u32> {
    let places: [(u32, Vec<Word>); 5] = [
        (TYPE_NAME, words(c.type_name)),
        (
            TYPE_SYNONYM,
            c.type_synonyms.iter().flat_map(|s| words(s)).collect(),
        ),
        (
            SECTION,
            words(c.section_name)
                .into_iter()
                .chain(c.section_synonyms.iter().flat_map(|s| words(s)))
                .collect(),
        ),
        (EXECUTOR, words(c.executor_name)),
        (CODE, words(&c.type_code.replace(['-', '_'], " "))),
    ];
    let mut total = 0;
    for q in query {
        // "у", "на", "не": a word this short counts little and excludes
        // nothing, else "застряг у ліфті" would turn on the "у".
        let short = q.text.chars().count() <= SHORT_WORD;
        let mut found = false;
        for (weight, place) in &places {
            let best = place.iter().map(|w| word_match(q, w)).max().unwrap_or(0);
            if best > 0 {
                found = true;
                total += weight * best / if short { 10 } else { 1 };
            }
        }
        if !found && !short {
            return None;
        }
    }
    Some(total)
}

/// A word as compared: its text folded ([`fold`]) and its stem.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Word {
    text: String,
    stem: String,
}

/// The words of a text: letters and digits (an apostrophe inside a word,
/// as in "під'їзд", belongs to it), folded.
fn words(text: &str) -> Vec<Word> {
    fold(text)
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|w| w.trim_matches('\''))
        .filter(|w| !w.is_empty())
        .map(|w| Word {
            text: w.to_string(),
            stem: stem(w),
        })
        .collect()
}

/// Lower case, one apostrophe, and the letters a Ukrainian typed on the
/// wrong layout gives (Latin "i" for "і", Russian "ы", "э", "ё", "ъ")
/// taken as the Ukrainian ones.
fn fold(text: &str) -> String {
    text.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'ʼ' | '’' | '‘' | '`' | '´' => '\'',
            'i' => 'і',
            'ы' => 'и',
            'э' => 'е',
            'ё' => 'е',
            'ъ' => '\'',
            c => c,
        })
        .collect()
}

/// Inflectional endings of Ukrainian nouns and adjectives, longest first:
/// "водою" and "вода" both become "вод". Light by design: a stem only has
/// to let two forms of a word meet, not be a linguist's root.
const ENDINGS: &[&str] = &[
    "ями", "ами", "ого", "ому", "ими", "ій", "их", "ою", "ею", "ів", "ям", "ам", "ях", "ах", "ом",
    "ем", "ий", "ої", "ня", "а", "я", "о", "е", "и", "і", "ї", "у", "ю", "ь", "й",
];

/// The word without its ending, if at least three letters are left.
fn stem(word: &str) -> String {
    for ending in ENDINGS {
        if let Some(rest) = word.strip_suffix(ending)
            && rest.chars().count() >= 3
        {
            return rest.to_string();
        }
    }
    word.to_string()
}

/// Slips of the keyboard between a query word and a word: the edit
/// distance (insert, delete, substitute, swap two neighbours) between the
/// query and the word's beginning of about the query's length, so a slip in
/// a word still being typed counts as one.
fn slips(query: &str, word: &str) -> usize {
    let q: Vec<char> = query.chars().collect();
    let w: Vec<char> = word.chars().collect();
    // The query may be a beginning with one letter more or less than the
    // word's part it stands for.
    (q.len().saturating_sub(2)..=(q.len() + 2).min(w.len()))
        .map(|n| distance(&q, &w[..n]))
        .min()
        .unwrap_or(usize::MAX)
}

/// Optimal-string-alignment distance.
fn distance(a: &[char], b: &[char]) -> usize {
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = d;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
#[path = "classifier_search_tests.rs"]
mod tests;
