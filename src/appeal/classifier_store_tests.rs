//! Classifier store tests, each body run on SQLite and on PostgreSQL (see
//! `store::testing::both_backends!`).

use std::path::Path;

use chrono::{DateTime, Duration, TimeZone, Utc};
use uuid::Uuid;

use super::classifier::{Classifier, ClassifierError, DEFAULT_PATH, DeadlineClass};
use super::classifier_store::{CategoryRecord, ClassifierVersion};
use crate::store::testing::{TestDb, both_backends};
use crate::store::{Store, StoreError, on_pool, storage_precision};

both_backends!(
    classifier_sample_import,
    classifier_reimport_unchanged,
    classifier_new_version_keeps_old_categories,
    classifier_invalid_file_imports_nothing,
    classifier_import_is_atomic,
    classifier_corrupt_deadline_class_is_reported,
);

/// Version 1 of a small classifier.
const V1: &str = r#"
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
phone = "+380 61 270-16-06"
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

/// Version 2: lifts go to a new executor with a shorter deadline, and
/// Vodokanal has a new responsible person.
fn v2_text() -> String {
    let v2 = V1
        .replace("Гнатюк Олег Васильович", "Дорошенко Ігор Миколайович")
        .replace(
            "executor = \"zaporizhlift\"\ndeadline = \"short\"",
            "executor = \"liftservice\"\ndeadline = \"emergency\"",
        );
    format!(
        "{v2}\n\
         [[executor]]\n\
         code = \"liftservice\"\n\
         name = \"ТОВ «Ліфтсервіс»\"\n\
         responsible = \"Олійник Марина Сергіївна\"\n\
         phone = \"+380 61 270-30-30\"\n\
         email = \"dispatch@liftservice.example\"\n\
         address = \"м. Запоріжжя, вул. Лермонтова, 9\"\n"
    )
}

fn parse(text: &str) -> Classifier {
    Classifier::parse(Path::new("test.toml"), text).unwrap_or_else(|e| panic!("{e}"))
}

fn t0() -> DateTime<Utc> {
    // A sub-microsecond part, to see it truncated.
    Utc.with_ymd_and_hms(2026, 1, 15, 8, 30, 0)
        .single()
        .expect("valid fixed date")
        + Duration::nanoseconds(123_456_789)
}

/// Runs raw SQL on the store's pool (for what the API does not offer).
async fn raw_execute(store: &Store, sql: &str) {
    use sqlx::Executor;
    on_pool!(store, |pool| {
        pool.execute(sql).await.expect("raw SQL");
    })
}

/// Rows in each classifier table: versions, executors, categories.
async fn row_counts(store: &Store) -> [i64; 3] {
    let mut counts = [0; 3];
    for (count, table) in counts.iter_mut().zip([
        "classifier_versions",
        "classifier_executors",
        "classifier_categories",
    ]) {
        let sql = format!("SELECT count(*) FROM {table}");
        *count = on_pool!(store, |pool| sqlx::query_scalar::<_, i64>(&sql)
            .fetch_one(pool)
            .await
            .expect("count"));
    }
    counts
}

/// The category of `type_code` in `list`.
fn find<'a>(list: &'a [CategoryRecord], type_code: &str) -> &'a CategoryRecord {
    list.iter()
        .find(|c| c.type_code == type_code)
        .unwrap_or_else(|| panic!("no category {type_code:?}"))
}

async fn classifier_sample_import(db: &TestDb) {
    assert_eq!(
        db.current_classifier_version().await.expect("current"),
        None
    );
    assert!(db.categories(1).await.expect("categories").is_empty());

    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_PATH);
    let sample = Classifier::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let outcome = db
        .import_classifier(&sample, DEFAULT_PATH, t0())
        .await
        .expect("import");
    let version = ClassifierVersion {
        number: 1,
        imported_at: storage_precision(t0()),
        source: DEFAULT_PATH.into(),
        content_hash: sample.content_hash(),
    };
    assert_eq!(outcome.version, version);
    assert!(outcome.created);
    assert_eq!(
        (outcome.sections, outcome.types, outcome.executors),
        (
            sample.sections().len(),
            sample.type_count(),
            sample.executors().len()
        )
    );
    assert_eq!(
        db.current_classifier_version().await.expect("current"),
        Some(version.clone())
    );
    assert_eq!(
        db.classifier_version(1).await.expect("version 1"),
        Some(version)
    );
    assert_eq!(db.classifier_version(2).await.expect("version 2"), None);
    assert_eq!(db.classifier_version(u32::MAX).await.expect("huge"), None);

    // Executors in file order, as the file has them.
    let executors = db.executors(1).await.expect("executors");
    assert_eq!(executors.len(), sample.executors().len());
    for (stored, file) in executors.iter().zip(sample.executors()) {
        assert_eq!(stored.version, 1);
        assert_eq!(
            (
                &stored.code,
                &stored.name,
                &stored.responsible,
                &stored.position,
                &stored.phone,
                &stored.email,
                &stored.address
            ),
            (
                &file.code,
                &file.name,
                &file.responsible,
                &file.position,
                &file.phone,
                &file.email,
                &file.address
            )
        );
    }

    // Categories in tree order, each with its section and its executor's
    // row of this version.
    let categories = db.categories(1).await.expect("categories");
    let stored: Vec<(&str, &str, &str, &str, &str, DeadlineClass)> = categories
        .iter()
        .map(|c| {
            (
                c.section_code.as_str(),
                c.section_name.as_str(),
                c.type_code.as_str(),
                c.type_name.as_str(),
                c.executor.code.as_str(),
                c.deadline,
            )
        })
        .collect();
    let expected: Vec<(&str, &str, &str, &str, &str, DeadlineClass)> = sample
        .sections()
        .iter()
        .flat_map(|s| {
            s.types.iter().map(move |t| {
                (
                    s.code.as_str(),
                    s.name.as_str(),
                    t.code.as_str(),
                    t.name.as_str(),
                    t.executor.as_str(),
                    t.deadline,
                )
            })
        })
        .collect();
    assert_eq!(stored, expected);
    // Synonyms as the file lists them, of the type and of its section.
    let synonyms: Vec<(&[String], &[String])> = categories
        .iter()
        .map(|c| (&c.type_synonyms[..], &c.section_synonyms[..]))
        .collect();
    let listed: Vec<(&[String], &[String])> = sample
        .sections()
        .iter()
        .flat_map(|s| {
            s.types
                .iter()
                .map(move |t| (&t.synonyms[..], &s.synonyms[..]))
        })
        .collect();
    assert_eq!(synonyms, listed);
    assert_eq!(
        find(&categories, "no-cold-water").type_synonyms,
        ["немає води", "нема води", "немає холодної води"]
    );
    for c in &categories {
        assert_eq!(c.version, 1);
        let executor = executors
            .iter()
            .find(|e| e.code == c.executor.code)
            .expect("executor of the version");
        assert_eq!(&c.executor, executor);
    }

    // One category by id gives what the list gave.
    let gas = find(&categories, "gas-smell");
    assert_eq!(gas.deadline, DeadlineClass::Emergency);
    assert_eq!(
        db.category(gas.id).await.expect("category").as_ref(),
        Some(gas)
    );
    assert_eq!(db.category(Uuid::new_v4()).await.expect("category"), None);
    assert!(db.executors(2).await.expect("executors").is_empty());
}

async fn classifier_reimport_unchanged(db: &TestDb) {
    let first = db
        .import_classifier(&parse(V1), "classifier/a.toml", t0())
        .await
        .expect("import");
    assert!(first.created);
    let counts = row_counts(db).await;
    assert_eq!(counts, [1, 2, 3]);

    // The same content, laid out differently, under another name, later.
    let relaid = format!("# edited\n{}", V1.replace(" = ", "="));
    let again = db
        .import_classifier(
            &parse(&relaid),
            "classifier/b.toml",
            t0() + Duration::days(1),
        )
        .await
        .expect("import again");
    assert!(!again.created);
    assert_eq!(
        again.version, first.version,
        "the current version, as it was"
    );
    assert_eq!((again.sections, again.types, again.executors), (2, 3, 2));
    assert_eq!(row_counts(db).await, counts, "nothing written");
    assert_eq!(
        db.current_classifier_version().await.expect("current"),
        Some(first.version)
    );
}

async fn classifier_new_version_keeps_old_categories(db: &TestDb) {
    let v1 = db
        .import_classifier(&parse(V1), "classifier/v1.toml", t0())
        .await
        .expect("import v1");
    let old = db.categories(1).await.expect("v1 categories");
    let old_lift = find(&old, "lift-stopped").clone();
    assert_eq!(old_lift.executor.code, "zaporizhlift");
    assert_eq!(old_lift.deadline, DeadlineClass::Short);

    let later = t0() + Duration::days(30);
    let v2 = db
        .import_classifier(&parse(&v2_text()), "classifier/v2.toml", later)
        .await
        .expect("import v2");
    assert!(v2.created);
    assert_eq!(v2.version.number, 2);
    assert_eq!(v2.version.source, "classifier/v2.toml");
    assert_eq!(v2.executors, 3);
    assert_eq!(
        db.current_classifier_version().await.expect("current"),
        Some(v2.version.clone())
    );

    // A card filed under version 1 still reads its category as it was:
    // the old executor, the old deadline class.
    let read_back = db
        .category(old_lift.id)
        .await
        .expect("category")
        .expect("version 1 category");
    assert_eq!(read_back, old_lift);
    assert_eq!(read_back.version, 1);
    assert_eq!(read_back.executor.name, "КП «Запоріжліфт»");
    let old_water = find(&old, "no-cold-water");
    assert_eq!(
        db.category(old_water.id)
            .await
            .expect("category")
            .expect("present")
            .executor
            .responsible,
        "Гнатюк Олег Васильович"
    );
    assert_eq!(db.categories(1).await.expect("v1 again"), old);
    assert_eq!(db.executors(1).await.expect("v1 executors").len(), 2);

    // Version 2 has rows of its own.
    let new = db.categories(2).await.expect("v2 categories");
    let new_lift = find(&new, "lift-stopped");
    assert_ne!(new_lift.id, old_lift.id);
    assert_eq!(new_lift.version, 2);
    assert_eq!(new_lift.executor.code, "liftservice");
    assert_eq!(new_lift.executor.name, "ТОВ «Ліфтсервіс»");
    assert_eq!(new_lift.deadline, DeadlineClass::Emergency);
    let new_water = find(&new, "no-cold-water");
    assert_ne!(new_water.executor.id, old_water.executor.id);
    assert_eq!(new_water.executor.code, old_water.executor.code);
    assert_eq!(new_water.executor.responsible, "Дорошенко Ігор Миколайович");
    let codes: Vec<String> = db
        .executors(2)
        .await
        .expect("v2 executors")
        .into_iter()
        .map(|e| e.code)
        .collect();
    assert_eq!(codes, ["vodokanal", "zaporizhlift", "liftservice"]);

    // Going back to version 1's content makes it current again, as a new
    // version: version 2 stays what it was.
    let back = db
        .import_classifier(&parse(V1), "classifier/v1.toml", later + Duration::days(1))
        .await
        .expect("import v1 again");
    assert!(back.created);
    assert_eq!(back.version.number, 3);
    assert_eq!(back.version.content_hash, v1.version.content_hash);
    assert_eq!(
        find(&db.categories(3).await.expect("v3"), "lift-stopped")
            .executor
            .code,
        "zaporizhlift"
    );
    assert_eq!(db.categories(2).await.expect("v2 again"), new);
}

async fn classifier_invalid_file_imports_nothing(db: &TestDb) {
    db.import_classifier(&parse(V1), "classifier/v1.toml", t0())
        .await
        .expect("import v1");
    let counts = row_counts(db).await;

    // The changed file has a mistake: there is no Classifier to import.
    let bad = v2_text().replace("code = \"liftservice\"", "code = \"lift-service\"");
    match Classifier::parse(Path::new("classifier/v2.toml"), &bad) {
        Err(ClassifierError::Invalid(problems)) => {
            assert_eq!(problems.len(), 1, "{problems:?}");
            assert!(
                problems[0].message.contains("\"liftservice\""),
                "{problems:?}"
            );
        }
        other => panic!("expected problems, got {other:?}"),
    }
    assert_eq!(row_counts(db).await, counts);
    assert_eq!(
        db.current_classifier_version()
            .await
            .expect("current")
            .map(|v| v.number),
        Some(1)
    );
}

async fn classifier_import_is_atomic(db: &TestDb) {
    db.import_classifier(&parse(V1), "classifier/v1.toml", t0())
        .await
        .expect("import v1");
    let counts = row_counts(db).await;

    // The database refuses the last category, after the version, every
    // executor and the other categories were written.
    let (refuse, allow) = match db.backend_name() {
        "sqlite" => (
            "CREATE TRIGGER refuse_lift BEFORE INSERT ON classifier_categories \
             WHEN NEW.type_code = 'lift-stopped' \
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
            "DROP TRIGGER refuse_lift",
        ),
        _ => (
            "CREATE FUNCTION refuse_lift() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$; \
             CREATE TRIGGER refuse_lift BEFORE INSERT ON classifier_categories \
             FOR EACH ROW WHEN (NEW.type_code = 'lift-stopped') \
             EXECUTE FUNCTION refuse_lift()",
            "DROP TRIGGER refuse_lift ON classifier_categories; DROP FUNCTION refuse_lift()",
        ),
    };
    raw_execute(db, refuse).await;
    let v2 = parse(&v2_text());
    match db.import_classifier(&v2, "classifier/v2.toml", t0()).await {
        Err(StoreError::Query { op, .. }) => assert_eq!(op, "insert a classifier category"),
        other => panic!("expected the category insert to fail, got {other:?}"),
    }
    assert_eq!(row_counts(db).await, counts, "nothing of version 2 remains");
    assert_eq!(
        db.current_classifier_version()
            .await
            .expect("current")
            .map(|v| v.number),
        Some(1)
    );

    // Once the database accepts it, the import is version 2: no gap.
    raw_execute(db, allow).await;
    let outcome = db
        .import_classifier(&v2, "classifier/v2.toml", t0())
        .await
        .expect("import v2");
    assert!(outcome.created);
    assert_eq!(outcome.version.number, 2);
    assert_eq!(row_counts(db).await, [2, 5, 6]);
}

async fn classifier_corrupt_deadline_class_is_reported(db: &TestDb) {
    db.import_classifier(&parse(V1), "classifier/v1.toml", t0())
        .await
        .expect("import");
    // No CHECK on the column, as for the other enum-like columns: reading
    // it back is what catches a bad value.
    raw_execute(
        db,
        "UPDATE classifier_categories SET deadline_class = 'urgent' \
         WHERE type_code = 'lift-stopped'",
    )
    .await;
    match db.categories(1).await {
        Err(StoreError::Corrupt { table, column, .. }) => {
            assert_eq!((table, column), ("classifier_categories", "deadline_class"))
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}
