//! The classifier of issue types: sections (water supply, heating, roads…),
//! each with its issue types, and the executor organisations the types are
//! sent to. Each type names its executor and a deadline class, from which
//! a card's deadline follows ([`DeadlineClass::duration`]). The file format
//! is documented in `classifier/README.md`; `classifier/zaporizhzhia.toml`
//! is the shipped sample.
//!
//! Role: read one classifier file and check it, reporting every problem
//! with its file and line (unknown executor, duplicate code, unknown
//! deadline class, empty name…). Reading the file is the only IO here;
//! [`Classifier::parse`] works on text and is what the tests use. Storing
//! and versioning a classifier is the store's business
//! (`crate::store::classifier`); this module knows nothing of databases.
//!
//! A [`Classifier`] can only be built by parsing, so holding one means the
//! checks passed: every type's executor exists, codes are unique, names are
//! not blank.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use toml::Spanned;

/// The classifier a fresh install imports when no file is named.
pub const DEFAULT_PATH: &str = "classifier/zaporizhzhia.toml";

/// Longest code, in characters (codes are ASCII).
const MAX_CODE_CHARS: usize = 64;
/// Longest name, responsible person, position or address, in characters:
/// anything longer is a paste gone wrong.
const MAX_TEXT_CHARS: usize = 300;
/// Synonyms one section or type may list, and the longest one: words
/// people say, not a second description.
const MAX_SYNONYMS: usize = 30;
const MAX_SYNONYM_CHARS: usize = 60;
/// Digits in an international phone number (E.164 allows at most 15).
const PHONE_DIGITS: std::ops::RangeInclusive<usize> = 11..=15;

/// How long an executor has to resolve an issue of a type (regulation 000,
/// §2.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeadlineClass {
    /// Аварійний: 3 hours.
    Emergency,
    /// Short-term: 24 hours.
    Short,
    /// Medium-term: 72 hours.
    Medium,
    /// Long-term: 1 week.
    Long,
    /// A written answer: 30 days.
    Written,
}

impl DeadlineClass {
    /// Every class, from the most urgent.
    pub const ALL: &'static [DeadlineClass] = &[
        DeadlineClass::Emergency,
        DeadlineClass::Short,
        DeadlineClass::Medium,
        DeadlineClass::Long,
        DeadlineClass::Written,
    ];

    /// The name in classifier files and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            DeadlineClass::Emergency => "emergency",
            DeadlineClass::Short => "short",
            DeadlineClass::Medium => "medium",
            DeadlineClass::Long => "long",
            DeadlineClass::Written => "written",
        }
    }

    /// The term as citizens read it, in Ukrainian (000 §2.2.3).
    pub fn term_uk(self) -> &'static str {
        match self {
            DeadlineClass::Emergency => "3 години (аварійна)",
            DeadlineClass::Short => "24 години",
            DeadlineClass::Medium => "72 години",
            DeadlineClass::Long => "тиждень",
            DeadlineClass::Written => "30 днів (письмова відповідь)",
        }
    }

    /// The class named `text` (exactly, lower case), or `None`.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.as_str() == text)
    }

    /// The time to resolve an issue of this class: the one place the
    /// regulation's table lives.
    pub fn duration(self) -> TimeDelta {
        match self {
            DeadlineClass::Emergency => TimeDelta::hours(3),
            DeadlineClass::Short => TimeDelta::hours(24),
            DeadlineClass::Medium => TimeDelta::hours(72),
            DeadlineClass::Long => TimeDelta::days(7),
            DeadlineClass::Written => TimeDelta::days(30),
        }
    }

    /// The deadline of an issue of this class registered at `registered_at`.
    pub fn deadline(self, registered_at: DateTime<Utc>) -> DateTime<Utc> {
        registered_at + self.duration()
    }
}

impl fmt::Display for DeadlineClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An organisation that resolves issues: a utility, a city department.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Executor {
    /// Stable identifier, `[a-z0-9_-]`: what types name, and what stays
    /// the same across versions of the classifier.
    pub code: String,
    /// E.g. "КП «Водоканал»".
    pub name: String,
    /// The responsible person (regulation 000, §3.1.1).
    pub responsible: String,
    /// Their position, if given.
    pub position: Option<String>,
    /// International format, as written in the file: "+380 61 270-11-01".
    pub phone: String,
    pub email: String,
    pub address: String,
}

/// A group of issue types: "Водопостачання", "Ліфти"…
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Section {
    pub code: String,
    pub name: String,
    /// Other words people use for the section's issues ("вода" for
    /// "Водопостачання"): the classifier search finds its types by them.
    /// Left out of the content hash when empty, so a file without them
    /// keeps the hash it had.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub synonyms: Vec<String>,
    /// In file order; never empty.
    pub types: Vec<IssueType>,
}

/// One kind of issue a card can be filed under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssueType {
    /// Unique in the whole classifier, not only in its section.
    pub code: String,
    pub name: String,
    /// Code of an [`Executor`] of the same classifier.
    pub executor: String,
    pub deadline: DeadlineClass,
    /// Other words for the issue ("сміття" for "Не вивезено побутові
    /// відходи"), as [`Section::synonyms`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub synonyms: Vec<String>,
}

/// A checked classifier: executors and sections in file order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Classifier {
    executors: Vec<Executor>,
    sections: Vec<Section>,
}

/// One problem in a classifier file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// From 1; 0 when the problem has no place in the file.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClassifierError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Every problem found, in file order (a syntax error stops the reading,
    /// so it comes alone).
    #[error("{}", DiagnosticList(.0))]
    Invalid(Vec<Diagnostic>),
}

/// Shows diagnostics one a line.
struct DiagnosticList<'a>(&'a [Diagnostic]);

impl fmt::Display for DiagnosticList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

// --- the file's shape ------------------------------------------------------------

/// Serde (with `deny_unknown_fields`, so a misspelt key is an error, not a
/// silently ignored line) checks the shape; every value is spanned so the
/// checks after it can name the line.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    executor: Vec<Spanned<RawExecutor>>,
    #[serde(default)]
    section: Vec<Spanned<RawSection>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExecutor {
    code: Spanned<String>,
    name: Spanned<String>,
    responsible: Spanned<String>,
    position: Option<Spanned<String>>,
    phone: Spanned<String>,
    email: Spanned<String>,
    address: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSection {
    code: Spanned<String>,
    name: Spanned<String>,
    #[serde(default)]
    synonyms: Vec<Spanned<String>>,
    #[serde(default, rename = "type")]
    types: Vec<Spanned<RawType>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawType {
    code: Spanned<String>,
    name: Spanned<String>,
    executor: Spanned<String>,
    deadline: Spanned<String>,
    #[serde(default)]
    synonyms: Vec<Spanned<String>>,
}

// --- checking ----------------------------------------------------------------------

/// Line (from 1) of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|b| *b == b'\n')
        .count()
        + 1
}

/// Collects the problems of one file.
struct Checker<'a> {
    file: &'a Path,
    text: &'a str,
    problems: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn line<T>(&self, value: &Spanned<T>) -> usize {
        line_of(self.text, value.span().start)
    }

    fn error<T>(&mut self, at: &Spanned<T>, message: impl Into<String>) {
        let line = self.line(at);
        self.problems.push(Diagnostic {
            file: self.file.to_owned(),
            line,
            message: message.into(),
        });
    }

    /// A code: `[a-z0-9_-]`, 1 to [`MAX_CODE_CHARS`] characters.
    fn code(&mut self, what: &str, code: &Spanned<String>) -> String {
        let c = code.get_ref();
        let allowed =
            |ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "_-".contains(ch);
        if c.is_empty() {
            self.error(code, format!("{what} code must not be empty"));
        } else if let Some(ch) = c.chars().find(|&ch| !allowed(ch)) {
            self.error(
                code,
                format!(
                    "{what} code {c:?} contains {ch:?}: only a-z, 0-9, '_' and '-' are allowed"
                ),
            );
        } else if c.len() > MAX_CODE_CHARS {
            self.error(
                code,
                format!("{what} code {c:?} is longer than {MAX_CODE_CHARS} characters"),
            );
        }
        c.clone()
    }

    /// A human-readable text (name, person, address): kept trimmed; must
    /// not be blank, hold control characters (a stray newline or tab), or
    /// be absurdly long.
    fn text(&mut self, what: &str, value: &Spanned<String>) -> String {
        let v = value.get_ref().trim();
        if v.is_empty() {
            self.error(value, format!("{what} must not be empty"));
        } else if v.chars().any(char::is_control) {
            self.error(
                value,
                format!("{what} {v:?} must not contain control characters"),
            );
        } else if v.chars().count() > MAX_TEXT_CHARS {
            self.error(
                value,
                format!("{what} is longer than {MAX_TEXT_CHARS} characters"),
            );
        }
        v.to_owned()
    }

    /// International format: '+', then 11 to 15 digits, which spaces,
    /// dashes and parentheses may group.
    fn phone(&mut self, value: &Spanned<String>) -> String {
        let v = value.get_ref().trim();
        let digits = v.chars().filter(char::is_ascii_digit).count();
        let valid = v.starts_with('+')
            && v[1..]
                .chars()
                .all(|c| c.is_ascii_digit() || " -()".contains(c))
            && PHONE_DIGITS.contains(&digits);
        if !valid {
            self.error(
                value,
                format!(
                    "phone {v:?} must be in international format: '+' and {} to {} digits, \
                     e.g. \"+380 61 270-11-01\"",
                    PHONE_DIGITS.start(),
                    PHONE_DIGITS.end()
                ),
            );
        }
        v.to_owned()
    }

    /// `local@domain.tld`, no spaces. Deliverability is not our business;
    /// this catches a phone number or a name typed into the wrong key.
    fn email(&mut self, value: &Spanned<String>) -> String {
        let v = value.get_ref().trim();
        let valid = match v.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !v.chars().any(|c| c.is_whitespace() || c.is_control())
            }
            None => false,
        };
        if !valid {
            self.error(
                value,
                format!("e-mail {v:?} is not an address like \"name@example.org\""),
            );
        }
        v.to_owned()
    }

    /// Synonyms of a section or type: each a text as a name, at most
    /// [`MAX_SYNONYM_CHARS`], and no more than [`MAX_SYNONYMS`].
    fn synonyms(&mut self, of: &str, values: &[Spanned<String>]) -> Vec<String> {
        if let Some(extra) = values.get(MAX_SYNONYMS) {
            self.error(extra, format!("{of} has more than {MAX_SYNONYMS} synonyms"));
        }
        values
            .iter()
            .map(|v| {
                let text = self.text("synonym", v);
                if text.chars().count() > MAX_SYNONYM_CHARS {
                    self.error(
                        v,
                        format!("synonym {text:?} is longer than {MAX_SYNONYM_CHARS} characters"),
                    );
                }
                text
            })
            .collect()
    }

    /// Remembers `code` in `seen`; reports it if it was there already.
    fn unique(&mut self, seen: &mut HashMap<String, usize>, what: &str, code: &Spanned<String>) {
        let line = self.line(code);
        if let Some(first) = seen.get(code.get_ref()) {
            let message = format!(
                "{what} code {:?} is already used on line {first}",
                code.get_ref()
            );
            self.error(code, message);
        } else {
            seen.insert(code.get_ref().clone(), line);
        }
    }
}

impl Classifier {
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<Self, ClassifierError> {
        let text = std::fs::read_to_string(path).map_err(|source| ClassifierError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Checks `text`, the content of `file` (which only names it in the
    /// diagnostics). Reports every problem it finds, in file order.
    pub fn parse(file: &Path, text: &str) -> Result<Self, ClassifierError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(0, |s| line_of(text, s.start));
            ClassifierError::Invalid(vec![Diagnostic {
                file: file.to_owned(),
                line,
                message: e.message().trim_end().to_owned(),
            }])
        })?;
        let mut ck = Checker {
            file,
            text,
            problems: Vec::new(),
        };

        let mut executor_codes = HashMap::new();
        let mut executors = Vec::with_capacity(raw.executor.len());
        for raw in &raw.executor {
            let e = raw.get_ref();
            let code = ck.code("executor", &e.code);
            ck.unique(&mut executor_codes, "executor", &e.code);
            executors.push(Executor {
                code,
                name: ck.text("executor name", &e.name),
                responsible: ck.text("responsible person", &e.responsible),
                position: e.position.as_ref().map(|p| ck.text("position", p)),
                phone: ck.phone(&e.phone),
                email: ck.email(&e.email),
                address: ck.text("address", &e.address),
            });
        }

        let mut section_codes = HashMap::new();
        let mut type_codes = HashMap::new();
        let mut sections = Vec::with_capacity(raw.section.len());
        for raw in &raw.section {
            let s = raw.get_ref();
            let code = ck.code("section", &s.code);
            ck.unique(&mut section_codes, "section", &s.code);
            let name = ck.text("section name", &s.name);
            let section_synonyms = ck.synonyms(&format!("section {code:?}"), &s.synonyms);
            if s.types.is_empty() {
                ck.error(&s.code, format!("section {code:?} has no [[section.type]]"));
            }
            let mut types = Vec::with_capacity(s.types.len());
            for raw in &s.types {
                let t = raw.get_ref();
                let code = ck.code("type", &t.code);
                ck.unique(&mut type_codes, "type", &t.code);
                let name = ck.text("type name", &t.name);
                let executor = t.executor.get_ref().clone();
                if !executor_codes.contains_key(&executor) {
                    ck.error(
                        &t.executor,
                        format!("type {code:?} names executor {executor:?}, which no [[executor]] defines"),
                    );
                }
                let deadline = DeadlineClass::parse(t.deadline.get_ref());
                if deadline.is_none() {
                    let known: Vec<&str> = DeadlineClass::ALL.iter().map(|c| c.as_str()).collect();
                    ck.error(
                        &t.deadline,
                        format!(
                            "unknown deadline class {:?}: expected one of {}",
                            t.deadline.get_ref(),
                            known.join(", ")
                        ),
                    );
                }
                let synonyms = ck.synonyms(&format!("type {code:?}"), &t.synonyms);
                types.push(IssueType {
                    code,
                    name,
                    executor,
                    // Only used when there are no problems, and then it
                    // parsed.
                    deadline: deadline.unwrap_or(DeadlineClass::Written),
                    synonyms,
                });
            }
            sections.push(Section {
                code,
                name,
                synonyms: section_synonyms,
                types,
            });
        }

        if raw.executor.is_empty() {
            ck.problems.push(Diagnostic {
                file: file.to_owned(),
                line: 0,
                message: "no [[executor]] is defined".into(),
            });
        }
        if raw.section.is_empty() {
            ck.problems.push(Diagnostic {
                file: file.to_owned(),
                line: 0,
                message: "no [[section]] is defined".into(),
            });
        }
        if !ck.problems.is_empty() {
            // File order; the whole-file problems (line 0) last.
            ck.problems.sort_by_key(|d| (d.line == 0, d.line));
            return Err(ClassifierError::Invalid(ck.problems));
        }
        Ok(Classifier {
            executors,
            sections,
        })
    }

    /// In file order.
    pub fn executors(&self) -> &[Executor] {
        &self.executors
    }

    /// In file order, each with its types in file order.
    pub fn sections(&self) -> &[Section] {
        &self.sections
    }

    /// The executor whose code is `code`.
    pub fn executor(&self, code: &str) -> Option<&Executor> {
        self.executors.iter().find(|e| e.code == code)
    }

    /// Issue types in all sections.
    pub fn type_count(&self) -> usize {
        self.sections.iter().map(|s| s.types.len()).sum()
    }

    /// SHA-256 (lower-case hex) of the content as checked, not of the
    /// file's bytes: comments, key order and layout do not change it, so
    /// importing a reformatted file is not a new version. Computed over the
    /// JSON serialisation of [`Classifier`] (fields in declaration order,
    /// texts trimmed), so adding a field to these types changes every hash
    /// once.
    pub fn content_hash(&self) -> String {
        // Serialising plain structs of strings and unit enums to a Vec
        // cannot fail: there are no maps with non-string keys and no
        // custom Serialize impls that could refuse.
        let json = serde_json::to_vec(self).expect("a classifier serialises to JSON");
        hex::encode(Sha256::digest(&json))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "classifier/test.toml";

    /// A small valid classifier; tests break one thing in it at a time.
    const VALID: &str = r#"
[[executor]]
code = "vodokanal"
name = "КП «Водоканал»"
responsible = "Гнатюк Олег Васильович"
position = "диспетчер"
phone = "+380 61 270-11-01"
email = "dispatch@vodokanal.example"
address = "м. Запоріжжя, вул. Святого Миколая, 41"

[[executor]]
code = "zaporizhlift"
name = "КП «Запоріжліфт»"
responsible = "Ткаченко Юрій Петрович"
phone = "+380612701606"
email = "dispatch@zaporizhlift.example"
address = "м. Запоріжжя, вул. Олександрівська, 52"

[[section]]
code = "water"
name = "Водопостачання"

[[section.type]]
code = "no-cold-water"
name = "Відсутнє холодне водопостачання"
executor = "vodokanal"
deadline = "emergency"

[[section.type]]
code = "water-billing"
name = "Нарахування плати за водопостачання"
executor = "vodokanal"
deadline = "written"

[[section]]
code = "lifts"
name = "Ліфти"

[[section.type]]
code = "lift-stopped"
name = "Ліфт не працює"
executor = "zaporizhlift"
deadline = "short"
"#;

    fn parse(text: &str) -> Result<Classifier, ClassifierError> {
        Classifier::parse(Path::new(FILE), text)
    }

    /// The diagnostics of an invalid `text`, as `line: message`.
    fn problems(text: &str) -> Vec<String> {
        match parse(text) {
            Ok(_) => panic!("expected problems in:\n{text}"),
            Err(ClassifierError::Invalid(list)) => list
                .iter()
                .map(|d| {
                    assert_eq!(d.file, Path::new(FILE));
                    format!("{}: {}", d.line, d.message)
                })
                .collect(),
            Err(e) => panic!("unexpected error {e}"),
        }
    }

    /// `VALID` with the first occurrence of `from` replaced by `to`.
    fn broken(from: &str, to: &str) -> String {
        assert!(VALID.contains(from), "{from:?} not in VALID");
        VALID.replacen(from, to, 1)
    }

    /// Line (from 1) in `VALID` of the first line containing `needle`.
    fn line_in_valid(needle: &str) -> usize {
        VALID
            .lines()
            .position(|l| l.contains(needle))
            .expect("needle in VALID")
            + 1
    }

    #[test]
    fn valid_file_in_order() {
        let c = parse(VALID).expect("valid");
        let codes: Vec<&str> = c.executors().iter().map(|e| e.code.as_str()).collect();
        assert_eq!(codes, ["vodokanal", "zaporizhlift"]);
        assert_eq!(
            c.executors()[0],
            Executor {
                code: "vodokanal".into(),
                name: "КП «Водоканал»".into(),
                responsible: "Гнатюк Олег Васильович".into(),
                position: Some("диспетчер".into()),
                phone: "+380 61 270-11-01".into(),
                email: "dispatch@vodokanal.example".into(),
                address: "м. Запоріжжя, вул. Святого Миколая, 41".into(),
            }
        );
        assert_eq!(c.executors()[1].position, None);
        let sections: Vec<(&str, usize)> = c
            .sections()
            .iter()
            .map(|s| (s.code.as_str(), s.types.len()))
            .collect();
        assert_eq!(sections, [("water", 2), ("lifts", 1)]);
        assert_eq!(
            c.sections()[0].types[0],
            IssueType {
                code: "no-cold-water".into(),
                name: "Відсутнє холодне водопостачання".into(),
                executor: "vodokanal".into(),
                deadline: DeadlineClass::Emergency,
                synonyms: Vec::new(),
            }
        );
        assert_eq!(c.type_count(), 3);
        assert_eq!(
            c.executor("zaporizhlift").map(|e| e.name.as_str()),
            Some("КП «Запоріжліфт»")
        );
        assert!(c.executor("nobody").is_none());
    }

    #[test]
    fn deadline_classes() {
        let hours: Vec<(&str, i64)> = DeadlineClass::ALL
            .iter()
            .map(|c| (c.as_str(), c.duration().num_hours()))
            .collect();
        assert_eq!(
            hours,
            [
                ("emergency", 3),
                ("short", 24),
                ("medium", 72),
                ("long", 7 * 24),
                ("written", 30 * 24)
            ]
        );
        for c in DeadlineClass::ALL {
            assert_eq!(DeadlineClass::parse(c.as_str()), Some(*c));
            assert_eq!(c.to_string(), c.as_str());
        }
        assert_eq!(DeadlineClass::parse("Emergency"), None);
        assert_eq!(DeadlineClass::parse("urgent"), None);
        let at = DateTime::UNIX_EPOCH;
        assert_eq!(
            DeadlineClass::Emergency.deadline(at),
            at + TimeDelta::hours(3)
        );
    }

    #[test]
    fn texts_are_trimmed() {
        let c = parse(&broken("name = \"Ліфти\"", "name = \"  Ліфти \"")).expect("valid");
        assert_eq!(c.sections()[1].name, "Ліфти");
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let p = problems(&broken("deadline = \"short\"", "deadline = short"));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with(&format!("{}: ", line_in_valid("deadline = \"short\""))),
            "{p:?}"
        );

        // A misspelt key is an error, not an ignored line.
        let p = problems(&broken("position = ", "postion = "));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("postion"), "{p:?}");
        assert!(
            p[0].starts_with(&format!("{}: ", line_in_valid("position = "))),
            "{p:?}"
        );

        // A missing key names the table it is missing from.
        let p = problems(&broken("executor = \"zaporizhlift\"\n", ""));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("missing field `executor`"), "{p:?}");
        assert_ne!(p[0].split(':').next(), Some("0"), "{p:?}");
    }

    #[test]
    fn unknown_executor() {
        let text = broken("executor = \"zaporizhlift\"", "executor = \"liftservice\"");
        assert_eq!(
            problems(&text),
            [format!(
                "{}: type \"lift-stopped\" names executor \"liftservice\", which no \
                 [[executor]] defines",
                line_in_valid("executor = \"zaporizhlift\"")
            )]
        );
    }

    #[test]
    fn unknown_deadline_class() {
        let text = broken("deadline = \"short\"", "deadline = \"urgent\"");
        assert_eq!(
            problems(&text),
            [format!(
                "{}: unknown deadline class \"urgent\": expected one of emergency, short, \
                 medium, long, written",
                line_in_valid("deadline = \"short\"")
            )]
        );
    }

    #[test]
    fn duplicate_codes() {
        let executor = broken("code = \"zaporizhlift\"", "code = \"vodokanal\"");
        let p = problems(&executor);
        assert_eq!(
            p,
            [
                format!(
                    "{}: executor code \"vodokanal\" is already used on line {}",
                    line_in_valid("code = \"zaporizhlift\""),
                    line_in_valid("code = \"vodokanal\"")
                ),
                // Its type now names an executor that is not there.
                format!(
                    "{}: type \"lift-stopped\" names executor \"zaporizhlift\", which no \
                     [[executor]] defines",
                    line_in_valid("executor = \"zaporizhlift\"")
                ),
            ]
        );

        let section = broken("code = \"lifts\"", "code = \"water\"");
        assert_eq!(
            problems(&section),
            [format!(
                "{}: section code \"water\" is already used on line {}",
                line_in_valid("code = \"lifts\""),
                line_in_valid("code = \"water\"")
            )]
        );

        // Type codes are unique in the whole file, across sections.
        let ty = broken("code = \"lift-stopped\"", "code = \"no-cold-water\"");
        assert_eq!(
            problems(&ty),
            [format!(
                "{}: type code \"no-cold-water\" is already used on line {}",
                line_in_valid("code = \"lift-stopped\""),
                line_in_valid("code = \"no-cold-water\"")
            )]
        );
    }

    #[test]
    fn empty_names() {
        let line = line_in_valid("name = \"Ліфт не працює\"");
        assert_eq!(
            problems(&broken("name = \"Ліфт не працює\"", "name = \"  \"")),
            [format!("{line}: type name must not be empty")]
        );
        let line = line_in_valid("name = \"Ліфти\"");
        assert_eq!(
            problems(&broken("name = \"Ліфти\"", "name = \"\"")),
            [format!("{line}: section name must not be empty")]
        );
        let line = line_in_valid("name = \"КП «Водоканал»\"");
        assert_eq!(
            problems(&broken("name = \"КП «Водоканал»\"", "name = \"\"")),
            [format!("{line}: executor name must not be empty")]
        );
        let line = line_in_valid("responsible = \"Гнатюк");
        assert_eq!(
            problems(&broken(
                "responsible = \"Гнатюк Олег Васильович\"",
                "responsible = \"\""
            )),
            [format!("{line}: responsible person must not be empty")]
        );
        let line = line_in_valid("address = \"м. Запоріжжя, вул. Святого");
        assert_eq!(
            problems(&broken(
                "address = \"м. Запоріжжя, вул. Святого Миколая, 41\"",
                "address = \"\""
            )),
            [format!("{line}: address must not be empty")]
        );
        let line = line_in_valid("name = \"КП «Запоріжліфт»\"");
        assert_eq!(
            problems(&broken(
                "name = \"КП «Запоріжліфт»\"",
                "name = \"КП\\n«Запоріжліфт»\""
            )),
            [format!(
                "{line}: executor name \"КП\\n«Запоріжліфт»\" must not contain control characters"
            )]
        );
    }

    #[test]
    fn bad_codes() {
        let line = line_in_valid("code = \"lifts\"");
        assert_eq!(
            problems(&broken("code = \"lifts\"", "code = \"Ліфти\"")),
            [format!(
                "{line}: section code \"Ліфти\" contains 'Л': only a-z, 0-9, '_' and '-' are \
                 allowed"
            )]
        );
        assert_eq!(
            problems(&broken("code = \"lifts\"", "code = \"\"")),
            [format!("{line}: section code must not be empty")]
        );
        let long = "x".repeat(MAX_CODE_CHARS + 1);
        assert_eq!(
            problems(&broken("code = \"lifts\"", &format!("code = \"{long}\""))),
            [format!(
                "{line}: section code \"{long}\" is longer than {MAX_CODE_CHARS} characters"
            )]
        );
    }

    #[test]
    fn contacts() {
        let line = line_in_valid("phone = \"+380 61");
        for bad in ["0612701101", "+380 61 270", "+380 61 270-11-01 дод. 2", ""] {
            let p = problems(&broken(
                "phone = \"+380 61 270-11-01\"",
                &format!("phone = \"{bad}\""),
            ));
            assert_eq!(p.len(), 1, "{bad:?}: {p:?}");
            assert!(
                p[0].starts_with(&format!(
                    "{line}: phone {bad:?} must be in international format"
                )),
                "{p:?}"
            );
        }
        for good in ["+380612701101", "+380 (61) 270-11-01", "+48 22 123 45 67"] {
            parse(&broken(
                "phone = \"+380 61 270-11-01\"",
                &format!("phone = \"{good}\""),
            ))
            .unwrap_or_else(|e| panic!("{good:?}: {e}"));
        }

        let line = line_in_valid("email = \"dispatch@vodokanal");
        for bad in [
            "dispatch",
            "@vodokanal.example",
            "a@b",
            "a b@c.example",
            "a@@c.example",
            "a@c.",
        ] {
            let p = problems(&broken(
                "email = \"dispatch@vodokanal.example\"",
                &format!("email = \"{bad}\""),
            ));
            assert_eq!(
                p,
                [format!(
                    "{line}: e-mail {bad:?} is not an address like \"name@example.org\""
                )]
            );
        }
    }

    #[test]
    fn empty_parts() {
        let line = line_in_valid("code = \"lifts\"");
        let no_types = VALID
            .split("[[section.type]]\ncode = \"lift-stopped\"")
            .next()
            .expect("first part")
            .to_owned();
        assert_eq!(
            problems(&no_types),
            [format!("{line}: section \"lifts\" has no [[section.type]]")]
        );
        assert_eq!(
            problems(""),
            [
                "0: no [[executor]] is defined",
                "0: no [[section]] is defined"
            ]
        );
    }

    #[test]
    fn every_problem_is_reported() {
        let text = broken("deadline = \"short\"", "deadline = \"soon\"")
            .replacen("executor = \"vodokanal\"", "executor = \"водоканал\"", 1)
            .replacen("name = \"Водопостачання\"", "name = \"\"", 1);
        let p = problems(&text);
        assert_eq!(p.len(), 3, "{p:?}");
        let lines: Vec<usize> = p
            .iter()
            .map(|s| {
                s.split(':')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("line")
            })
            .collect();
        assert!(lines.is_sorted(), "{p:?}");
    }

    #[test]
    fn error_shows_one_problem_a_line() {
        let e = parse(&broken("deadline = \"short\"", "deadline = \"soon\""))
            .expect_err("invalid")
            .to_string();
        assert!(e.starts_with("classifier/test.toml:"), "{e}");
        let two = parse("").expect_err("invalid").to_string();
        assert_eq!(
            two,
            "classifier/test.toml:0: no [[executor]] is defined\n\
             classifier/test.toml:0: no [[section]] is defined"
        );
    }

    #[test]
    fn content_hash_ignores_layout_but_not_content() {
        let c = parse(VALID).expect("valid");
        let hash = c.content_hash();
        assert_eq!(hash.len(), 64);
        assert!(hash.chars().all(|ch| ch.is_ascii_hexdigit()));

        // Comments, blank lines, spacing and key order do not count.
        let relaid = format!("# a comment\n\n{}", VALID.replace(" = ", "   =  "))
            .replacen("position   =  \"диспетчер\"\n", "", 1)
            .replacen(
                "address   =  \"м. Запоріжжя, вул. Святого Миколая, 41\"",
                "address = \"м. Запоріжжя, вул. Святого Миколая, 41\"\nposition = \"диспетчер\" # moved",
                1,
            );
        assert_ne!(relaid, VALID);
        assert_eq!(parse(&relaid).expect("valid").content_hash(), hash);

        // Any change of a value, even a deadline, does.
        for (from, to) in [
            ("deadline = \"short\"", "deadline = \"medium\""),
            ("name = \"Ліфти\"", "name = \"Ліфти та підйомники\""),
            ("position = \"диспетчер\"\n", ""),
            ("phone = \"+380612701606\"", "phone = \"+380612701607\""),
        ] {
            assert_ne!(
                parse(&broken(from, to)).expect("valid").content_hash(),
                hash,
                "{from:?} -> {to:?}"
            );
        }
    }

    #[test]
    fn synonyms_are_read_checked_and_counted_only_when_listed() {
        let hash = parse(VALID).expect("valid").content_hash();
        let none = broken(
            "deadline = \"short\"",
            "deadline = \"short\"\nsynonyms = []",
        );
        assert_eq!(parse(&none).expect("valid").content_hash(), hash);

        let listed = broken(
            "name = \"Ліфти\"",
            "name = \"Ліфти\"\nsynonyms = [\" підйомник \"]",
        )
        .replacen(
            "deadline = \"short\"",
            "deadline = \"short\"\nsynonyms = [\"кабіна\", \"ліфтер\"]",
            1,
        );
        let c = parse(&listed).expect("valid");
        assert_eq!(c.sections()[1].synonyms, ["підйомник"]);
        assert_eq!(c.sections()[1].types[0].synonyms, ["кабіна", "ліфтер"]);
        assert_ne!(c.content_hash(), hash);

        let many: Vec<String> = (0..31).map(|n| format!("\"слово{n}\"")).collect();
        let bad = broken("name = \"Ліфти\"", "name = \"Ліфти\"\nsynonyms = [\"  \"]").replacen(
            "deadline = \"short\"",
            &format!("deadline = \"short\"\nsynonyms = [{}]", many.join(", ")),
            1,
        );
        assert_eq!(
            problems(&bad),
            [
                "38: synonym must not be empty",
                "45: type \"lift-stopped\" has more than 30 synonyms",
            ]
        );
    }

    #[test]
    fn shipped_sample_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_PATH);
        let c = Classifier::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(c.sections().len() >= 12, "{} sections", c.sections().len());
        assert!(c.type_count() >= 60, "{} types", c.type_count());
        for wanted in [
            "water",
            "sewerage",
            "heating",
            "power",
            "gas",
            "lifts",
            "roads",
            "street-lighting",
            "waste",
            "green-spaces",
            "public-transport",
            "housing",
        ] {
            assert!(
                c.sections().iter().any(|s| s.code == wanted),
                "no section {wanted:?}"
            );
        }
        // Every executor is used, and every class occurs.
        for e in c.executors() {
            assert!(
                c.sections()
                    .iter()
                    .flat_map(|s| &s.types)
                    .any(|t| t.executor == e.code),
                "executor {:?} has no types",
                e.code
            );
        }
        for class in DeadlineClass::ALL {
            assert!(
                c.sections()
                    .iter()
                    .flat_map(|s| &s.types)
                    .any(|t| t.deadline == *class),
                "no type of class {class}"
            );
        }
    }

    #[test]
    fn missing_file() {
        match Classifier::load(Path::new("classifier/no-such-file.toml")) {
            Err(ClassifierError::Read { path, .. }) => {
                assert_eq!(path, Path::new("classifier/no-such-file.toml"))
            }
            other => panic!("expected a read error, got {other:?}"),
        }
    }
}
