//! Versions of the classifier of issue types: each import of a classifier
//! file ([`crate::appeal::classifier::Classifier`]) that changes its content adds a
//! version with rows of its own for the executors and for the categories
//! (one per issue type, carrying its section). The newest version is the
//! current one; rows of older versions stay as they were, so a card keeps
//! the category, executor and deadline class it was filed under.
//!
//! Role: the classifier's part of the store, plus the listing the
//! `hotline classifier list` command prints (tested here because `main` is
//! kept thin). Parsing and checking the file is [`super::classifier`]'s
//! job: a [`Classifier`] is valid by construction, so nothing is checked
//! again here beyond what the database's constraints refuse.
//!
//! An import is one transaction: a version is stored whole or not at all.
//! Whether the content changed is decided by its hash
//! ([`Classifier::content_hash`]) against the current version's; importing
//! an older content again makes it current as a new version.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::classifier::{Classifier, DeadlineClass};

use crate::store::encoding::{Cols, DbTime, DbUuid, StoreRow};
use crate::store::{Store, StoreError, decode_all, on_pool, query_err, storage_precision};

/// One imported classifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassifierVersion {
    /// 1 for the first import, then each import that changed the content
    /// adds one.
    pub number: u32,
    pub imported_at: DateTime<Utc>,
    /// The file imported, as named to the command.
    pub source: String,
    /// [`Classifier::content_hash`] of what was imported.
    pub content_hash: String,
}

/// What [`Store::import_classifier`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOutcome {
    /// The version added, or the current one if the content was unchanged.
    pub version: ClassifierVersion,
    /// `false`: the current version has this content already; nothing was
    /// written.
    pub created: bool,
    pub sections: usize,
    pub types: usize,
    pub executors: usize,
}

/// An executor organisation of one classifier version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutorRecord {
    /// This version's row; the same organisation in another version has
    /// another id but the same code.
    pub id: Uuid,
    pub version: u32,
    pub code: String,
    pub name: String,
    pub responsible: String,
    pub position: Option<String>,
    pub phone: String,
    pub email: String,
    pub address: String,
}

/// An issue type of one classifier version, with its section and executor:
/// what a card is filed under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryRecord {
    pub id: Uuid,
    pub version: u32,
    pub section_code: String,
    pub section_name: String,
    pub type_code: String,
    pub type_name: String,
    pub deadline: DeadlineClass,
    /// The executor as it was in this version.
    pub executor: ExecutorRecord,
    /// Other words for the type and for its section, as the file lists
    /// them (the classifier search's).
    pub type_synonyms: Vec<String>,
    pub section_synonyms: Vec<String>,
}

impl CategoryRecord {
    /// "Водопостачання / Відсутнє холодне водопостачання": the card's
    /// category as stored and shown.
    pub fn path(&self) -> String {
        format!("{} / {}", self.section_name, self.type_name)
    }

    /// Its executor as a card's lead.
    pub fn lead(&self) -> Result<super::lifecycle::Assignment, StoreError> {
        Ok(super::lifecycle::Assignment {
            executor: super::lifecycle::ExecutorCode::parse(&self.executor.code).map_err(
                |reason| StoreError::Corrupt {
                    table: "classifier_executors",
                    column: "code",
                    reason,
                },
            )?,
            lead: true,
        })
    }
}

macro_rules! version_columns {
    () => {
        "version, imported_at, source, content_hash"
    };
}

/// Columns of `classifier_executors e` for [`executor_from_row`], named so
/// they do not clash with a category's when joined.
macro_rules! executor_columns {
    () => {
        "e.id AS executor_id, e.version AS executor_version, e.code AS executor_code, \
         e.name AS executor_name, e.responsible, e.position, e.phone, e.email, e.address"
    };
}

/// Categories joined with their executors; callers add the WHERE and
/// ORDER BY.
macro_rules! category_select {
    () => {
        concat!(
            "SELECT c.id, c.version, c.section_code, c.section_name, c.type_code, c.type_name, \
             c.deadline_class, c.type_synonyms, c.section_synonyms, ",
            executor_columns!(),
            " FROM classifier_categories c JOIN classifier_executors e \
              ON e.version = c.version AND e.id = c.executor_id"
        )
    };
}

fn version_from_row(row: &impl StoreRow) -> Result<ClassifierVersion, StoreError> {
    let c = Cols::new(row, "classifier_versions");
    Ok(ClassifierVersion {
        number: c.int::<i32, u32>("version")?,
        imported_at: c.time("imported_at")?,
        source: c.get("source")?,
        content_hash: c.get("content_hash")?,
    })
}

fn executor_from_row(row: &impl StoreRow) -> Result<ExecutorRecord, StoreError> {
    let e = Cols::new(row, "classifier_executors");
    Ok(ExecutorRecord {
        id: e.uuid("executor_id")?,
        version: e.int::<i32, u32>("executor_version")?,
        code: e.get("executor_code")?,
        name: e.get("executor_name")?,
        responsible: e.get("responsible")?,
        position: e.get("position")?,
        phone: e.get("phone")?,
        email: e.get("email")?,
        address: e.get("address")?,
    })
}

fn category_from_row(row: &impl StoreRow) -> Result<CategoryRecord, StoreError> {
    let c = Cols::new(row, "classifier_categories");
    Ok(CategoryRecord {
        id: c.uuid("id")?,
        version: c.int::<i32, u32>("version")?,
        section_code: c.get("section_code")?,
        section_name: c.get("section_name")?,
        type_code: c.get("type_code")?,
        type_name: c.get("type_name")?,
        deadline: c.parsed("deadline_class", DeadlineClass::parse)?,
        executor: executor_from_row(row)?,
        type_synonyms: synonyms_from(&c.get::<String>("type_synonyms")?),
        section_synonyms: synonyms_from(&c.get::<String>("section_synonyms")?),
    })
}

/// Synonyms are kept one per line: the classifier's checks refuse control
/// characters in them, so a newline never belongs to one.
fn synonyms_to(list: &[String]) -> String {
    list.join("\n")
}

fn synonyms_from(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A version number or a place in the file as the `integer` columns store
/// it.
fn to_i32(field: &'static str, value: u64) -> Result<i32, StoreError> {
    i32::try_from(value).map_err(|_| StoreError::OutOfRange { field, value })
}

impl Store {
    /// Stores `classifier`, read from `source` (a file name, kept for
    /// people), as a new version imported at `now`, in one transaction: the
    /// version, its executors and its categories are all stored, or none.
    /// If the current version has the same content (hash), nothing is
    /// written and the outcome says `created: false` with that version.
    ///
    /// `AlreadyExists` with what = "classifier version" if another import
    /// took the next number meanwhile (run it again).
    pub async fn import_classifier(
        &self,
        classifier: &Classifier,
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<ImportOutcome, StoreError> {
        const CURRENT_SQL: &str = concat!(
            "SELECT ",
            version_columns!(),
            " FROM classifier_versions ORDER BY version DESC LIMIT 1"
        );
        const VERSION_SQL: &str = "INSERT INTO classifier_versions \
            (version, imported_at, source, content_hash) VALUES ($1, $2, $3, $4)";
        const EXECUTOR_SQL: &str = "INSERT INTO classifier_executors \
            (id, version, ordinal, code, name, responsible, position, phone, email, address) \
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
        const CATEGORY_SQL: &str = "INSERT INTO classifier_categories \
            (id, version, ordinal, section_code, section_name, type_code, type_name, \
             executor_id, deadline_class, type_synonyms, section_synonyms) \
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
        let content_hash = classifier.content_hash();

        let (version, created) = on_pool!(self, |pool| async {
            // Dropping the transaction on an early return rolls it back.
            let mut tx = pool
                .begin()
                .await
                .map_err(query_err("start importing a classifier"))?;
            let current = sqlx::query(CURRENT_SQL)
                .fetch_optional(&mut *tx)
                .await
                .map_err(query_err("read the current classifier version"))?
                .map(|row| version_from_row(&row))
                .transpose()?;
            if let Some(current) = current.as_ref().filter(|c| c.content_hash == content_hash) {
                // Nothing was written; the read-only transaction just ends.
                return Ok((current.clone(), false));
            }
            let number = match &current {
                None => 1,
                Some(c) => c.number.checked_add(1).ok_or(StoreError::OutOfRange {
                    field: "classifier version",
                    value: u64::from(c.number) + 1,
                })?,
            };
            let version = ClassifierVersion {
                number,
                imported_at: storage_precision(now),
                source: source.to_owned(),
                content_hash: content_hash.clone(),
            };
            let db_version = to_i32("classifier version", u64::from(number))?;
            sqlx::query(VERSION_SQL)
                .bind(db_version)
                .bind(DbTime::new(now))
                .bind(source)
                .bind(&content_hash)
                .execute(&mut *tx)
                .await
                .map_err(|source| {
                    let taken = source
                        .as_database_error()
                        .is_some_and(|e| e.is_unique_violation());
                    if taken {
                        StoreError::AlreadyExists {
                            what: "classifier version",
                            key: number.to_string(),
                        }
                    } else {
                        StoreError::Query {
                            op: "insert a classifier version",
                            source,
                        }
                    }
                })?;

            let mut executor_ids = HashMap::new();
            for (ordinal, e) in classifier.executors().iter().enumerate() {
                let id = Uuid::new_v4();
                sqlx::query(EXECUTOR_SQL)
                    .bind(DbUuid(id))
                    .bind(db_version)
                    .bind(to_i32("classifier executors", ordinal as u64)?)
                    .bind(&e.code)
                    .bind(&e.name)
                    .bind(&e.responsible)
                    .bind(e.position.as_deref())
                    .bind(&e.phone)
                    .bind(&e.email)
                    .bind(&e.address)
                    .execute(&mut *tx)
                    .await
                    .map_err(query_err("insert a classifier executor"))?;
                executor_ids.insert(e.code.as_str(), id);
            }

            let types = classifier
                .sections()
                .iter()
                .flat_map(|s| s.types.iter().map(move |t| (s, t)));
            for (ordinal, (section, ty)) in types.enumerate() {
                // A parsed Classifier names only executors it defines; an
                // error rather than a panic all the same.
                let executor_id =
                    *executor_ids
                        .get(ty.executor.as_str())
                        .ok_or_else(|| StoreError::Invalid {
                            field: "classifier",
                            reason: format!(
                                "type {:?} names executor {:?}, which is not defined",
                                ty.code, ty.executor
                            ),
                        })?;
                sqlx::query(CATEGORY_SQL)
                    .bind(DbUuid(Uuid::new_v4()))
                    .bind(db_version)
                    .bind(to_i32("classifier categories", ordinal as u64)?)
                    .bind(&section.code)
                    .bind(&section.name)
                    .bind(&ty.code)
                    .bind(&ty.name)
                    .bind(DbUuid(executor_id))
                    .bind(ty.deadline.as_str())
                    .bind(synonyms_to(&ty.synonyms))
                    .bind(synonyms_to(&section.synonyms))
                    .execute(&mut *tx)
                    .await
                    .map_err(query_err("insert a classifier category"))?;
            }
            tx.commit()
                .await
                .map_err(query_err("commit a classifier version"))?;
            Ok::<_, StoreError>((version, true))
        }
        .await)?;

        Ok(ImportOutcome {
            version,
            created,
            sections: classifier.sections().len(),
            types: classifier.type_count(),
            executors: classifier.executors().len(),
        })
    }

    /// The newest version: the one new cards are filed under. `None` before
    /// the first import.
    pub async fn current_classifier_version(
        &self,
    ) -> Result<Option<ClassifierVersion>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            version_columns!(),
            " FROM classifier_versions ORDER BY version DESC LIMIT 1"
        );
        on_pool!(self, |pool| sqlx::query(SQL)
            .fetch_optional(pool)
            .await
            .map_err(query_err("read the current classifier version"))?
            .map(|row| version_from_row(&row))
            .transpose())
    }

    /// Version `number`, current or not; `None` if there is none.
    pub async fn classifier_version(
        &self,
        number: u32,
    ) -> Result<Option<ClassifierVersion>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            version_columns!(),
            " FROM classifier_versions WHERE version = $1"
        );
        // A number beyond the column's range names no version.
        let Ok(number) = i32::try_from(number) else {
            return Ok(None);
        };
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(number)
            .fetch_optional(pool)
            .await
            .map_err(query_err("read a classifier version"))?
            .map(|row| version_from_row(&row))
            .transpose())
    }

    /// The categories of version `version` in tree order (sections in file
    /// order, each section's types in file order), each with its executor.
    /// Empty if there is no such version.
    pub async fn categories(&self, version: u32) -> Result<Vec<CategoryRecord>, StoreError> {
        const SQL: &str = concat!(
            category_select!(),
            " WHERE c.version = $1 ORDER BY c.ordinal"
        );
        let Ok(version) = i32::try_from(version) else {
            return Ok(Vec::new());
        };
        on_pool!(self, |pool| decode_all(
            sqlx::query(SQL)
                .bind(version)
                .fetch_all(pool)
                .await
                .map_err(query_err("list classifier categories"))?,
            category_from_row
        ))
    }

    /// The current version's issue types that match `query`, best first
    /// ([`super::classifier_search`]); `None` if no classifier was
    /// imported yet.
    pub async fn search_classifier(
        &self,
        query: &str,
    ) -> Result<Option<(ClassifierVersion, Vec<Uuid>)>, StoreError> {
        let Some(version) = self.current_classifier_version().await? else {
            return Ok(None);
        };
        let categories = self.categories(version.number).await?;
        let ids = super::classifier_search::rank_categories(query, &categories)
            .map(|c| c.id)
            .collect();
        Ok(Some((version, ids)))
    }

    /// The category with this id, of whichever version (a card filed under
    /// an older version still finds its category, and that version's
    /// executor).
    pub async fn category(&self, id: Uuid) -> Result<Option<CategoryRecord>, StoreError> {
        const SQL: &str = concat!(category_select!(), " WHERE c.id = $1");
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(DbUuid(id))
            .fetch_optional(pool)
            .await
            .map_err(query_err("read a classifier category"))?
            .map(|row| category_from_row(&row))
            .transpose())
    }

    /// The executors of the current classifier, in file order; none before
    /// one is imported.
    pub async fn current_executors(&self) -> Result<Vec<ExecutorRecord>, StoreError> {
        match self.current_classifier_version().await? {
            Some(v) => self.executors(v.number).await,
            None => Ok(Vec::new()),
        }
    }

    /// The executors of version `version`, in file order. Empty if there is
    /// no such version.
    pub async fn executors(&self, version: u32) -> Result<Vec<ExecutorRecord>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            executor_columns!(),
            " FROM classifier_executors e WHERE e.version = $1 ORDER BY e.ordinal"
        );
        let Ok(version) = i32::try_from(version) else {
            return Ok(Vec::new());
        };
        on_pool!(self, |pool| decode_all(
            sqlx::query(SQL)
                .bind(version)
                .fetch_all(pool)
                .await
                .map_err(query_err("list classifier executors"))?,
            executor_from_row
        ))
    }
}

// --- for the command line ------------------------------------------------------------

/// "3 h", "72 h", "7 d", "30 d": how long a class gives.
fn deadline_text(class: DeadlineClass) -> String {
    let hours = class.duration().num_hours();
    if hours <= 72 {
        format!("{hours} h")
    } else {
        format!("{} d", hours / 24)
    }
}

/// Lines of cells, each column padded to its widest cell (by characters,
/// so Cyrillic lines up), two spaces apart, the last column unpadded.
fn table<const N: usize>(rows: &[[String; N]], indent: &str) -> String {
    let mut widths = [0usize; N];
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(indent);
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// `hotline classifier list`: the version, then the tree (each section,
/// then its types with their executor and deadline class), then the
/// executors with their responsible people and contacts.
pub fn classifier_listing(
    version: &ClassifierVersion,
    categories: &[CategoryRecord],
    executors: &[ExecutorRecord],
) -> String {
    let mut sections: Vec<&str> = categories.iter().map(|c| c.section_code.as_str()).collect();
    sections.dedup();
    let mut out = format!(
        "classifier version {} from {}, imported {}, content {}\n\
         {} sections, {} types, {} executors\n",
        version.number,
        version.source,
        version.imported_at.format("%Y-%m-%d %H:%M:%S UTC"),
        version
            .content_hash
            .get(..12)
            .unwrap_or(&version.content_hash),
        sections.len(),
        categories.len(),
        executors.len()
    );

    // One table for all types, so columns line up across sections; each
    // section's heading goes before its first type.
    let rows: Vec<[String; 4]> = categories
        .iter()
        .map(|c| {
            [
                c.type_code.clone(),
                c.type_name.clone(),
                c.executor.code.clone(),
                format!("{} ({})", c.deadline, deadline_text(c.deadline)),
            ]
        })
        .collect();
    let lines = table(&rows, "  ");
    let mut previous: Option<&str> = None;
    for (category, line) in categories.iter().zip(lines.lines()) {
        if previous != Some(category.section_code.as_str()) {
            out.push_str(&format!(
                "\n{}  {}\n",
                category.section_code, category.section_name
            ));
            previous = Some(&category.section_code);
        }
        out.push_str(line);
        out.push('\n');
    }

    out.push_str("\nexecutors\n");
    let mut rows = vec![["CODE", "NAME", "RESPONSIBLE", "PHONE", "E-MAIL"].map(str::to_owned)];
    rows.extend(executors.iter().map(|e| {
        let responsible = match &e.position {
            Some(position) => format!("{}, {position}", e.responsible),
            None => e.responsible.clone(),
        };
        [
            e.code.clone(),
            e.name.clone(),
            responsible,
            e.phone.clone(),
            e.email.clone(),
        ]
    }));
    out.push_str(&table(&rows, "  "));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn executor(code: &str, name: &str, position: Option<&str>) -> ExecutorRecord {
        ExecutorRecord {
            id: Uuid::nil(),
            version: 2,
            code: code.into(),
            name: name.into(),
            responsible: "Гнатюк О. В.".into(),
            position: position.map(Into::into),
            phone: "+380612701101".into(),
            email: format!("{code}@example.org"),
            address: "вул. Українська, 2".into(),
        }
    }

    fn category(
        section: (&str, &str),
        code: &str,
        name: &str,
        executor: &ExecutorRecord,
        deadline: DeadlineClass,
    ) -> CategoryRecord {
        CategoryRecord {
            id: Uuid::nil(),
            version: 2,
            section_code: section.0.into(),
            section_name: section.1.into(),
            type_code: code.into(),
            type_name: name.into(),
            deadline,
            executor: executor.clone(),
            type_synonyms: Vec::new(),
            section_synonyms: Vec::new(),
        }
    }

    #[test]
    fn deadline_texts() {
        let texts: Vec<String> = DeadlineClass::ALL
            .iter()
            .map(|c| deadline_text(*c))
            .collect();
        assert_eq!(texts, ["3 h", "24 h", "72 h", "7 d", "30 d"]);
    }

    #[test]
    fn listing() {
        let water = ("water", "Водопостачання");
        let lifts = ("lifts", "Ліфти");
        let vodokanal = executor("vodokanal", "КП «Водоканал»", Some("диспетчер"));
        let lift = executor("lift", "КП «Ліфт»", None);
        let version = ClassifierVersion {
            number: 2,
            imported_at: DateTime::UNIX_EPOCH,
            source: "classifier/zaporizhzhia.toml".into(),
            content_hash: "0123456789abcdef".repeat(4),
        };
        let listing = classifier_listing(
            &version,
            &[
                category(
                    water,
                    "no-water",
                    "Немає води",
                    &vodokanal,
                    DeadlineClass::Emergency,
                ),
                category(
                    water,
                    "bill",
                    "Нарахування",
                    &vodokanal,
                    DeadlineClass::Written,
                ),
                category(
                    lifts,
                    "lift-stopped",
                    "Ліфт не працює",
                    &lift,
                    DeadlineClass::Short,
                ),
            ],
            &[vodokanal.clone(), lift.clone()],
        );
        assert_eq!(
            listing,
            "classifier version 2 from classifier/zaporizhzhia.toml, imported \
             1970-01-01 00:00:00 UTC, content 0123456789ab\n\
             2 sections, 3 types, 2 executors\n\
             \n\
             water  Водопостачання\n\
             \x20 no-water      Немає води      vodokanal  emergency (3 h)\n\
             \x20 bill          Нарахування     vodokanal  written (30 d)\n\
             \n\
             lifts  Ліфти\n\
             \x20 lift-stopped  Ліфт не працює  lift       short (24 h)\n\
             \n\
             executors\n\
             \x20 CODE       NAME            RESPONSIBLE              PHONE          E-MAIL\n\
             \x20 vodokanal  КП «Водоканал»  Гнатюк О. В., диспетчер  +380612701101  \
             vodokanal@example.org\n\
             \x20 lift       КП «Ліфт»       Гнатюк О. В.             +380612701101  \
             lift@example.org\n"
        );
    }
}
