//! Operators: the people who answer calls, the SIP extension their softphone
//! registers as, the queues they serve, their credentials, and every change
//! of their state (kept so reports can compute occupancy).
//!
//! Role: the operators' part of the store, plus the small pure helpers the
//! `hotline operator` command needs (queue lists, reading a password, the
//! listing table), which are tested here because `main` is kept thin. It
//! knows nothing about SIP messages: the registrar reads the HA1s stored
//! here and does the digest arithmetic itself.
//!
//! Credentials. A password is stored three ways, never in clear:
//! * `ha1_md5` and `ha1_sha256`: HA1 = H(username ":" realm ":" password),
//!   lower-case hex, for RFC 7616 digest with MD5 and SHA-256. The username
//!   is the operator's extension (what a softphone puts in Authorization),
//!   the realm is passed in and stored beside them, because they are only
//!   good for that realm. An HA1 lets anyone answer a digest challenge of
//!   that realm, so it is as secret as the password: [`Operator`]'s `Debug`
//!   hides it.
//! * `password_hash`: an Argon2id PHC string (argon2's default parameters,
//!   a random salt), for the console's sign-in.
//!
//! Argon2 takes tens of milliseconds of CPU on purpose, so hashing and
//! verifying run on tokio's blocking pool, not on the async workers.
//!
//! Validation happens here, before anything is written, and fails with
//! [`StoreError::Invalid`] naming the field: logins are `[a-z0-9._-]`,
//! extensions 2 to 10 digits, queue names `[a-z0-9_-]`, passwords at least 8
//! characters.

use std::collections::HashSet;
use std::io::BufRead;
use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::{DateTime, Utc};
use sha2::Digest;
use uuid::Uuid;

use super::encoding::{Cols, DbTime, DbUuid, StoreRow};
use super::{Store, StoreError, decode_all, insert_err, query_err, storage_precision};

/// The digest realm operators' softphones authenticate in, until the
/// configuration has a key for it.
pub const DEFAULT_REALM: &str = "hotline";

/// Shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest login and queue name, in characters (they are ASCII).
const MAX_NAME_CHARS: usize = 64;
/// Extensions are this many digits (what a desk phone's keypad can dial).
const EXTENSION_DIGITS: std::ops::RangeInclusive<usize> = 2..=10;

text_enum! {
    /// What an operator is doing, as far as call routing is concerned.
    OperatorState {
        /// Signed in, idle, may be offered a call.
        Available => "available",
        /// Their phone is ringing with a queued call.
        Ringing => "ringing",
        /// In a conversation.
        OnCall => "on_call",
        /// After-call work (filling in the card); not offered calls yet.
        WrapUp => "wrap_up",
        /// Away on purpose (with a reason), or paused by the system after
        /// not answering.
        Paused => "paused",
        /// Not working: offered no calls.
        LoggedOut => "logged_out",
    }
}

/// A queue an operator serves, with Asterisk's member penalty: among the
/// free operators of a queue, those with a lower penalty are offered calls
/// first.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QueueMembership {
    /// Queue name as in `sip-config/`: `[a-z0-9_-]`.
    pub queue: String,
    pub penalty: u32,
}

impl QueueMembership {
    pub fn new(queue: &str, penalty: u32) -> Self {
        QueueMembership {
            queue: queue.to_owned(),
            penalty,
        }
    }
}

/// An operator as they are added; the password is given separately (see
/// [`Store::add_operator`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOperator {
    pub id: Uuid,
    /// Sign-in name: `[a-z0-9._-]`, at most 64 characters.
    pub login: String,
    /// Name shown to supervisors and on the console; stored trimmed.
    pub display_name: String,
    /// SIP extension, 2 to 10 digits: the softphone's user name.
    pub extension: String,
    /// Queues served; names must not repeat.
    pub queues: Vec<QueueMembership>,
    pub created_at: DateTime<Utc>,
}

impl NewOperator {
    /// An operator with a fresh id; the display name defaults to the login.
    pub fn new(
        login: &str,
        extension: &str,
        display_name: Option<&str>,
        queues: Vec<QueueMembership>,
        created_at: DateTime<Utc>,
    ) -> Self {
        NewOperator {
            id: Uuid::new_v4(),
            login: login.to_owned(),
            display_name: display_name.unwrap_or(login).to_owned(),
            extension: extension.to_owned(),
            queues,
            created_at,
        }
    }
}

/// An operator as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct Operator {
    pub id: Uuid,
    pub login: String,
    pub display_name: String,
    pub extension: String,
    /// The digest realm the HA1s were computed for.
    pub realm: String,
    /// MD5(extension:realm:password), lower-case hex. Secret.
    pub ha1_md5: String,
    /// SHA-256(extension:realm:password), lower-case hex. Secret.
    pub ha1_sha256: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
    /// Set when the operator may no longer sign in or register.
    pub disabled_at: Option<DateTime<Utc>>,
    /// Queues served, by name (byte order).
    pub queues: Vec<QueueMembership>,
}

impl std::fmt::Debug for Operator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The HA1s answer digest challenges by themselves, and the PHC
        // string can be attacked offline: none of them goes into a log.
        const HIDDEN: &str = "<hidden>";
        f.debug_struct("Operator")
            .field("id", &self.id)
            .field("login", &self.login)
            .field("display_name", &self.display_name)
            .field("extension", &self.extension)
            .field("realm", &self.realm)
            .field("ha1_md5", &HIDDEN)
            .field("ha1_sha256", &HIDDEN)
            .field("password_hash", &HIDDEN)
            .field("created_at", &self.created_at)
            .field("disabled_at", &self.disabled_at)
            .field("queues", &self.queues)
            .finish()
    }
}

/// One stored change of an operator's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChange {
    /// Increases with every change stored, so it orders changes that share
    /// a timestamp.
    pub id: i64,
    pub operator_id: Uuid,
    pub at: DateTime<Utc>,
    pub state: OperatorState,
    /// Why: a pause's reason, "no answer twice"...
    pub reason: Option<String>,
}

/// What [`Store::operator_figure_rows`] reads for a period.
#[derive(Debug, Clone, Default)]
pub struct FigureRows {
    pub before: std::collections::HashMap<Uuid, OperatorState>,
    pub changes: Vec<crate::queue::figures::Change>,
    pub offers: Vec<crate::queue::figures::Offer>,
}

// --- validation -------------------------------------------------------------------

fn invalid(field: &'static str, reason: impl Into<String>) -> StoreError {
    StoreError::Invalid {
        field,
        reason: reason.into(),
    }
}

/// An identifier of at most [`MAX_NAME_CHARS`] characters drawn from a-z,
/// 0-9 and `extra`.
fn check_name(field: &'static str, name: &str, extra: &[char]) -> Result<(), StoreError> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || extra.contains(&c);
    if name.is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if let Some(c) = name.chars().find(|&c| !allowed(c)) {
        let extra: Vec<String> = extra.iter().map(|c| format!("'{c}'")).collect();
        return Err(invalid(
            field,
            format!(
                "{name:?} contains {c:?}: only a-z, 0-9 and {} are allowed",
                extra.join(", ")
            ),
        ));
    }
    if name.len() > MAX_NAME_CHARS {
        return Err(invalid(
            field,
            format!("{name:?} is longer than {MAX_NAME_CHARS} characters"),
        ));
    }
    Ok(())
}

pub(super) fn check_login(login: &str) -> Result<(), StoreError> {
    check_name("login", login, &['.', '_', '-'])
}

/// Whether an account could have this login (sign-in looks up no other).
pub fn is_possible_login(login: &str) -> bool {
    check_login(login).is_ok()
}

/// A queue name as in `sip-config/`: `[a-z0-9_-]`, at most 64 characters.
/// Shared with the queue events ([`super::queues`]), so events name queues
/// the way memberships do.
pub(super) fn check_queue_name(queue: &str) -> Result<(), StoreError> {
    check_name("queue", queue, &['_', '-'])
}

fn check_extension(extension: &str) -> Result<(), StoreError> {
    let digits = extension.chars().all(|c| c.is_ascii_digit());
    if !digits || !EXTENSION_DIGITS.contains(&extension.len()) {
        return Err(invalid(
            "extension",
            format!(
                "{extension:?} must be {} to {} digits",
                EXTENSION_DIGITS.start(),
                EXTENSION_DIGITS.end()
            ),
        ));
    }
    Ok(())
}

/// The name as it is stored: trimmed.
pub(super) fn check_display_name(name: &str) -> Result<&str, StoreError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(invalid("display name", "must not be empty"));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid(
            "display name",
            "must not contain control characters",
        ));
    }
    Ok(name)
}

/// Never puts the password itself in the error.
pub(super) fn check_password(password: &str) -> Result<(), StoreError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(invalid(
            "password",
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    // A stray newline or tab is a mistake (a password file read whole), and
    // a softphone's settings could not type it anyway.
    if password.chars().any(char::is_control) {
        return Err(invalid("password", "must not contain control characters"));
    }
    Ok(())
}

/// The realm goes into `WWW-Authenticate: Digest realm="..."`.
fn check_realm(realm: &str) -> Result<(), StoreError> {
    if realm.is_empty()
        || realm
            .chars()
            .any(|c| c == '"' || c == '\\' || c.is_control())
    {
        return Err(invalid(
            "realm",
            format!(
                "{realm:?} must be non-empty, without quotes, backslashes or control characters"
            ),
        ));
    }
    Ok(())
}

/// Checks queue names, repeats and penalties; returns them as stored.
fn check_queues(queues: &[QueueMembership]) -> Result<Vec<(&str, i32)>, StoreError> {
    let mut seen = HashSet::new();
    queues
        .iter()
        .map(|m| {
            check_queue_name(&m.queue)?;
            if !seen.insert(m.queue.as_str()) {
                return Err(invalid("queue", format!("{:?} is listed twice", m.queue)));
            }
            let penalty = i32::try_from(m.penalty).map_err(|_| {
                invalid(
                    "queue",
                    format!(
                        "penalty {} of {:?} is above {}",
                        m.penalty,
                        m.queue,
                        i32::MAX
                    ),
                )
            })?;
            Ok((m.queue.as_str(), penalty))
        })
        .collect()
}

// --- credentials -------------------------------------------------------------------

fn ha1<D: Digest>(username: &str, realm: &str, password: &str) -> String {
    let mut h = D::new();
    for (i, part) in [username, realm, password].into_iter().enumerate() {
        if i > 0 {
            h.update(b":");
        }
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// RFC 7616 HA1 for `algorithm=MD5`: MD5(username:realm:password), hex.
pub fn ha1_md5(username: &str, realm: &str, password: &str) -> String {
    ha1::<md5::Md5>(username, realm, password)
}

/// RFC 7616 HA1 for `algorithm=SHA-256`: SHA-256(username:realm:password),
/// hex.
pub fn ha1_sha256(username: &str, realm: &str, password: &str) -> String {
    ha1::<sha2::Sha256>(username, realm, password)
}

/// An Argon2id PHC string for `password`, with a fresh random salt.
pub(super) fn hash_password(password: &str) -> Result<String, StoreError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| StoreError::PasswordHashing(e.to_string()))
}

/// Whether `password` matches the PHC string `phc` (whose own parameters
/// are used). A string that does not parse is corrupt data.
pub(super) fn password_matches(phc: &str, password: &str) -> Result<bool, StoreError> {
    let corrupt = |e: argon2::password_hash::Error| StoreError::Corrupt {
        table: "operators",
        column: "password_hash",
        reason: e.to_string(),
    };
    let parsed = PasswordHash::new(phc).map_err(corrupt)?;
    match Argon2::default().verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(e) => Err(corrupt(e)),
    }
}

/// Spends about as long as checking a real password, so a sign-in with an
/// unknown login does not answer faster than one with a wrong password
/// (which would tell which logins exist).
pub(super) fn waste_a_verification(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let phc = DUMMY.get_or_init(|| hash_password("not anyone's password").unwrap_or_default());
    // The outcome is meaningless; only the time spent matters.
    let _ = password_matches(phc, password);
}

/// Runs CPU-heavy hashing on tokio's blocking pool.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        // A panic in the hashing is a bug: let it surface as one.
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(StoreError::PasswordHashing(e.to_string())),
    }
}

/// What is stored for a password.
struct Credentials {
    realm: String,
    ha1_md5: String,
    ha1_sha256: String,
    password_hash: String,
}

impl Credentials {
    /// Validates the password and realm, then hashes (off the async
    /// workers).
    async fn compute(extension: &str, realm: &str, password: &str) -> Result<Self, StoreError> {
        check_password(password)?;
        check_realm(realm)?;
        let password_hash = {
            let password = password.to_owned();
            blocking(move || hash_password(&password)).await?
        };
        Ok(Credentials {
            realm: realm.to_owned(),
            ha1_md5: ha1_md5(extension, realm, password),
            ha1_sha256: ha1_sha256(extension, realm, password),
            password_hash,
        })
    }
}

// --- reading rows -------------------------------------------------------------------

/// An operator joined with their queues: one row per queue (one row with
/// NULL queue if none). Callers order by operator, then `q.queue`, for
/// [`operators_from_rows`].
macro_rules! operator_select {
    () => {
        "SELECT o.id, o.login, o.display_name, o.extension, o.realm, o.ha1_md5, o.ha1_sha256, \
         o.password_hash, o.created_at, o.disabled_at, q.queue, q.penalty \
         FROM operators o LEFT JOIN operator_queues q ON q.operator_id = o.id"
    };
}

macro_rules! state_change_columns {
    () => {
        "id, operator_id, at, state, reason"
    };
}

/// Groups rows of [`operator_select!`] into operators, each with their
/// queues in row order. Rows of one operator must be adjacent.
fn operators_from_rows(rows: &[impl StoreRow]) -> Result<Vec<Operator>, StoreError> {
    let mut operators: Vec<Operator> = Vec::new();
    for row in rows {
        let o = Cols::new(row, "operators");
        let id = o.uuid("id")?;
        if operators.last().is_none_or(|last| last.id != id) {
            operators.push(Operator {
                id,
                login: o.get("login")?,
                display_name: o.get("display_name")?,
                extension: o.get("extension")?,
                realm: o.get("realm")?,
                ha1_md5: o.get("ha1_md5")?,
                ha1_sha256: o.get("ha1_sha256")?,
                password_hash: o.get("password_hash")?,
                created_at: o.time("created_at")?,
                disabled_at: o.opt_time("disabled_at")?,
                queues: Vec::new(),
            });
        }
        let q = Cols::new(row, "operator_queues");
        // NULL queue: the LEFT JOIN found none (queue is NOT NULL).
        if let (Some(queue), Some(operator)) =
            (q.get::<Option<String>>("queue")?, operators.last_mut())
        {
            operator.queues.push(QueueMembership {
                queue,
                penalty: q.int::<i32, u32>("penalty")?,
            });
        }
    }
    Ok(operators)
}

fn state_change_from_row(row: &impl StoreRow) -> Result<StateChange, StoreError> {
    let c = Cols::new(row, "operator_state_changes");
    Ok(StateChange {
        id: c.get("id")?,
        operator_id: c.uuid("operator_id")?,
        at: c.time("at")?,
        state: c.parsed("state", OperatorState::parse)?,
        reason: c.get("reason")?,
    })
}

impl Store {
    /// Adds an operator with their queues, all or nothing, and the
    /// credentials for `password`: HA1s for `realm` with the extension as
    /// the digest username, and an Argon2id hash. Returns the operator as
    /// stored.
    ///
    /// `Invalid` (nothing written) if a field breaks the rules in the
    /// module notes; `AlreadyExists` with what = "operator login" or
    /// "operator extension" (key = the value) if another operator has it,
    /// or "operator" if the id is taken.
    pub async fn add_operator(
        &self,
        new: &NewOperator,
        password: &str,
        realm: &str,
    ) -> Result<Operator, StoreError> {
        const OPERATOR_SQL: &str = "INSERT INTO operators \
            (id, login, display_name, extension, realm, ha1_md5, ha1_sha256, password_hash, \
             created_at) \
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
        const QUEUE_SQL: &str =
            "INSERT INTO operator_queues (operator_id, queue, penalty) VALUES ($1, $2, $3)";
        check_login(&new.login)?;
        check_extension(&new.extension)?;
        let display_name = check_display_name(&new.display_name)?;
        let queues = check_queues(&new.queues)?;
        let credentials = Credentials::compute(&new.extension, realm, password).await?;

        // Err((op, error)): which statement failed, so a unique violation
        // is known to be on `operators`.
        let inserted: Result<(), (&'static str, sqlx::Error)> = on_pool!(self, |pool| async {
            // Dropping the transaction on an early return rolls it back.
            let mut tx = pool
                .begin()
                .await
                .map_err(|e| ("start adding an operator", e))?;
            sqlx::query(OPERATOR_SQL)
                .bind(DbUuid(new.id))
                .bind(&new.login)
                .bind(display_name)
                .bind(&new.extension)
                .bind(&credentials.realm)
                .bind(&credentials.ha1_md5)
                .bind(&credentials.ha1_sha256)
                .bind(&credentials.password_hash)
                .bind(DbTime::new(new.created_at))
                .execute(&mut *tx)
                .await
                .map_err(|e| ("insert an operator", e))?;
            for &(queue, penalty) in &queues {
                sqlx::query(QUEUE_SQL)
                    .bind(DbUuid(new.id))
                    .bind(queue)
                    .bind(penalty)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| ("insert an operator's queue", e))?;
            }
            tx.commit().await.map_err(|e| ("commit an operator", e))
        }
        .await);
        if let Err((op, source)) = inserted {
            let unique = source
                .as_database_error()
                .is_some_and(|e| e.is_unique_violation());
            if unique && op == "insert an operator" {
                return Err(self.which_operator_value_is_taken(new, op, source).await);
            }
            return Err(StoreError::Query { op, source });
        }

        let mut queues = new.queues.clone();
        queues.sort_by(|a, b| a.queue.cmp(&b.queue));
        Ok(Operator {
            id: new.id,
            login: new.login.clone(),
            display_name: display_name.to_owned(),
            extension: new.extension.clone(),
            realm: credentials.realm,
            ha1_md5: credentials.ha1_md5,
            ha1_sha256: credentials.ha1_sha256,
            password_hash: credentials.password_hash,
            created_at: storage_precision(new.created_at),
            disabled_at: None,
            queues,
        })
    }

    /// After a unique violation inserting `new`: the `AlreadyExists` for
    /// the value another operator has. The backends name the violated
    /// constraint differently (or not at all), so ask.
    async fn which_operator_value_is_taken(
        &self,
        new: &NewOperator,
        op: &'static str,
        source: sqlx::Error,
    ) -> StoreError {
        const ID_SQL: &str = "SELECT 1 FROM operators WHERE id = $1";
        const LOGIN_SQL: &str = "SELECT 1 FROM operators WHERE login = $1";
        const EXTENSION_SQL: &str = "SELECT 1 FROM operators WHERE extension = $1";
        let taken = async {
            if self.exists(ID_SQL, new.id, "look up an operator").await? {
                return Ok(Some(("operator", new.id.to_string())));
            }
            for (sql, what, value) in [
                (LOGIN_SQL, "operator login", &new.login),
                (EXTENSION_SQL, "operator extension", &new.extension),
            ] {
                if self.text_exists(sql, value, "look up an operator").await? {
                    return Ok(Some((what, value.clone())));
                }
            }
            Ok::<_, StoreError>(None)
        };
        match taken.await {
            Ok(Some((what, key))) => StoreError::AlreadyExists { what, key },
            // Gone again already (removed meanwhile): report what happened.
            Ok(None) => StoreError::Query { op, source },
            Err(e) => e,
        }
    }

    /// Whether `sql` (`SELECT 1 FROM ... WHERE column = $1`) finds a row.
    async fn text_exists(
        &self,
        sql: &'static str,
        value: &str,
        op: &'static str,
    ) -> Result<bool, StoreError> {
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(value)
            .fetch_optional(pool)
            .await
            .map(|row| row.is_some()))
        .map_err(query_err(op))
    }

    /// The login of the operator with this id, if any.
    pub async fn operator_login(&self, id: Uuid) -> Result<Option<String>, StoreError> {
        const SQL: &str = "SELECT login FROM operators WHERE id = $1";
        on_pool!(self, |pool| sqlx::query_scalar(SQL)
            .bind(DbUuid(id))
            .fetch_optional(pool)
            .await
            .map_err(query_err("read an operator's login")))
    }

    /// The operator (with queues) whose login is `login`, disabled or not.
    pub async fn operator_by_login(&self, login: &str) -> Result<Option<Operator>, StoreError> {
        const SQL: &str = concat!(operator_select!(), " WHERE o.login = $1 ORDER BY q.queue");
        self.one_operator(SQL, login, "read an operator by login")
            .await
    }

    /// The operator (with queues) whose SIP extension is `extension`,
    /// disabled or not: what the registrar looks up for a REGISTER.
    pub async fn operator_by_extension(
        &self,
        extension: &str,
    ) -> Result<Option<Operator>, StoreError> {
        const SQL: &str = concat!(
            operator_select!(),
            " WHERE o.extension = $1 ORDER BY q.queue"
        );
        self.one_operator(SQL, extension, "read an operator by extension")
            .await
    }

    async fn one_operator(
        &self,
        sql: &'static str,
        key: &str,
        op: &'static str,
    ) -> Result<Option<Operator>, StoreError> {
        let operators = on_pool!(self, |pool| operators_from_rows(
            &sqlx::query(sql)
                .bind(key)
                .fetch_all(pool)
                .await
                .map_err(query_err(op))?
        ))?;
        Ok(operators.into_iter().next())
    }

    /// Every operator, disabled ones too, with their queues, by login.
    pub async fn list_operators(&self) -> Result<Vec<Operator>, StoreError> {
        // One statement, so an operator's queues cannot change halfway; login
        // is unique, so it keeps each operator's rows together.
        const SQL: &str = concat!(operator_select!(), " ORDER BY o.login, q.queue");
        on_pool!(self, |pool| operators_from_rows(
            &sqlx::query(SQL)
                .fetch_all(pool)
                .await
                .map_err(query_err("list operators"))?
        ))
    }

    /// Changes the operator's shown name and whether they may work (a
    /// disabled operator's phone cannot register nor their console sign in
    /// as them): the operator before and after, or `None` if there is no
    /// such operator. `Invalid` (nothing written) for a blank name.
    pub async fn update_operator(
        &self,
        login: &str,
        display_name: Option<&str>,
        disabled: Option<bool>,
        now: DateTime<Utc>,
    ) -> Result<Option<(Operator, Operator)>, StoreError> {
        const SQL: &str =
            "UPDATE operators SET display_name = $1, disabled_at = $2 WHERE login = $3";
        let Some(before) = self.operator_by_login(login).await? else {
            return Ok(None);
        };
        let name = match display_name {
            Some(name) => check_display_name(name)?.to_owned(),
            None => before.display_name.clone(),
        };
        let disabled_at = match disabled {
            Some(true) => before.disabled_at.or(Some(now)),
            Some(false) => None,
            None => before.disabled_at,
        };
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(&name)
            .bind(disabled_at.map(DbTime::new))
            .bind(login)
            .execute(pool)
            .await
            .map(drop))
        .map_err(query_err("change an operator"))?;
        let after = self
            .operator_by_login(login)
            .await?
            .ok_or(StoreError::NotFound {
                what: "operator",
                id: before.id,
            })?;
        Ok(Some((before, after)))
    }

    /// Removes the operator, their queues and their state history. Returns
    /// `false` if there was no such operator.
    pub async fn remove_operator(&self, login: &str) -> Result<bool, StoreError> {
        const SQL: &str = "DELETE FROM operators WHERE login = $1";
        let removed = on_pool!(self, |pool| sqlx::query(SQL)
            .bind(login)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(query_err("remove an operator"))?;
        Ok(removed > 0)
    }

    /// Replaces the operator's password: both HA1s (for `realm`, which
    /// replaces the stored realm) and the Argon2id hash. Returns `false` if
    /// there is no such operator. `Invalid` for a password or realm that
    /// breaks the rules.
    pub async fn set_operator_password(
        &self,
        login: &str,
        password: &str,
        realm: &str,
    ) -> Result<bool, StoreError> {
        const EXTENSION_SQL: &str = "SELECT extension FROM operators WHERE login = $1";
        // The extension is the HA1's username: only write HA1s computed
        // with the extension the row still has.
        const SQL: &str = "UPDATE operators \
            SET realm = $3, ha1_md5 = $4, ha1_sha256 = $5, password_hash = $6 \
            WHERE login = $1 AND extension = $2";
        check_password(password)?;
        check_realm(realm)?;
        let extension = on_pool!(self, |pool| sqlx::query(EXTENSION_SQL)
            .bind(login)
            .fetch_optional(pool)
            .await
            .map_err(query_err("look up an operator's extension"))?
            .map(|row| Cols::new(&row, "operators").get::<String>("extension"))
            .transpose())?;
        let Some(extension) = extension else {
            return Ok(false);
        };
        let credentials = Credentials::compute(&extension, realm, password).await?;
        let changed = on_pool!(self, |pool| sqlx::query(SQL)
            .bind(login)
            .bind(&extension)
            .bind(&credentials.realm)
            .bind(&credentials.ha1_md5)
            .bind(&credentials.ha1_sha256)
            .bind(&credentials.password_hash)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(query_err("set an operator's password"))?;
        Ok(changed > 0)
    }

    /// Whether `password` is the operator's (Argon2id check), for signing
    /// in. `false` for an unknown login or a disabled operator, after about
    /// the same time as a wrong password.
    pub async fn verify_operator_password(
        &self,
        login: &str,
        password: &str,
    ) -> Result<bool, StoreError> {
        const SQL: &str = "SELECT password_hash, disabled_at FROM operators WHERE login = $1";
        let stored = on_pool!(self, |pool| sqlx::query(SQL)
            .bind(login)
            .fetch_optional(pool)
            .await
            .map_err(query_err("read an operator's password hash"))?
            .map(|row| {
                let c = Cols::new(&row, "operators");
                Ok::<_, StoreError>((
                    c.get::<String>("password_hash")?,
                    c.opt_time("disabled_at")?,
                ))
            })
            .transpose())?;
        let password = password.to_owned();
        blocking(move || match stored {
            Some((phc, None)) => password_matches(&phc, &password),
            Some((phc, Some(_disabled))) => password_matches(&phc, &password).map(|_| false),
            None => {
                waste_a_verification(&password);
                Ok(false)
            }
        })
        .await
    }

    /// Replaces the queues the operator serves with `queues`, in one
    /// transaction: readers see the old set or the new one, never a mix.
    /// `Invalid` (nothing changed) for a bad name, a repeated queue or a
    /// penalty above `i32::MAX`; `NotFound` if there is no such operator.
    pub async fn set_operator_queues(
        &self,
        id: Uuid,
        queues: &[QueueMembership],
    ) -> Result<(), StoreError> {
        let queues = check_queues(queues)?;
        self.replace_operator_queues(id, &queues).await
    }

    /// [`Store::set_operator_queues`] without the checks (tests use it to
    /// make the database refuse a row halfway through).
    pub(super) async fn replace_operator_queues(
        &self,
        id: Uuid,
        queues: &[(&str, i32)],
    ) -> Result<(), StoreError> {
        // A no-op write first: it takes the operator's row lock on
        // PostgreSQL (and SQLite's write lock), so two replacements for one
        // operator run one after the other instead of both deleting and
        // then colliding on insert; and it tells whether the operator exists.
        const LOCK_SQL: &str = "UPDATE operators SET disabled_at = disabled_at WHERE id = $1";
        const DELETE_SQL: &str = "DELETE FROM operator_queues WHERE operator_id = $1";
        const INSERT_SQL: &str =
            "INSERT INTO operator_queues (operator_id, queue, penalty) VALUES ($1, $2, $3)";
        on_pool!(self, |pool| async {
            // Dropping the transaction on an early return rolls it back.
            let mut tx = pool
                .begin()
                .await
                .map_err(query_err("start replacing an operator's queues"))?;
            let found = sqlx::query(LOCK_SQL)
                .bind(DbUuid(id))
                .execute(&mut *tx)
                .await
                .map_err(query_err("lock an operator"))?
                .rows_affected();
            if found == 0 {
                return Err(StoreError::NotFound {
                    what: "operator",
                    id,
                });
            }
            sqlx::query(DELETE_SQL)
                .bind(DbUuid(id))
                .execute(&mut *tx)
                .await
                .map_err(query_err("clear an operator's queues"))?;
            for &(queue, penalty) in queues {
                sqlx::query(INSERT_SQL)
                    .bind(DbUuid(id))
                    .bind(queue)
                    .bind(penalty)
                    .execute(&mut *tx)
                    .await
                    .map_err(query_err("insert an operator's queue"))?;
            }
            tx.commit()
                .await
                .map_err(query_err("commit an operator's queues"))
        }
        .await)
    }

    /// Stores a change of the operator's state; returns its id. `NotFound`
    /// if there is no such operator.
    pub async fn record_operator_state(
        &self,
        operator_id: Uuid,
        at: DateTime<Utc>,
        state: OperatorState,
        reason: Option<&str>,
    ) -> Result<i64, StoreError> {
        const SQL: &str = "INSERT INTO operator_state_changes (operator_id, at, state, reason) \
            VALUES ($1, $2, $3, $4) RETURNING id";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(DbUuid(operator_id))
            .bind(DbTime::new(at))
            .bind(state.as_str())
            .bind(reason)
            .fetch_one(pool)
            .await
            .map_err(insert_err(
                "record an operator state",
                None,
                Some(("operator", operator_id))
            ))
            .and_then(
                |row| Cols::new(&row, "operator_state_changes").get::<i64>("id")
            ))
    }

    /// The operator's state changes in the order they happened (by time,
    /// then by the order they were stored). Empty if there is no such
    /// operator.
    pub async fn operator_state_history(
        &self,
        operator_id: Uuid,
    ) -> Result<Vec<StateChange>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            state_change_columns!(),
            " FROM operator_state_changes WHERE operator_id = $1 ORDER BY at, id"
        );
        on_pool!(self, |pool| decode_all(
            sqlx::query(SQL)
                .bind(DbUuid(operator_id))
                .fetch_all(pool)
                .await
                .map_err(query_err("read an operator's state history"))?,
            state_change_from_row
        ))
    }

    /// What each operator's figures for `[from, to)` are counted from
    /// ([`crate::queue::figures`]): each operator's state as the period
    /// starts (those with a change before it), their changes within in
    /// order, and the queue's ringing and answered steps with an operator
    /// within.
    pub async fn operator_figure_rows(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<FigureRows, StoreError> {
        const BEFORE: &str = "SELECT o.id AS operator_id, \
            (SELECT s.state FROM operator_state_changes s WHERE s.operator_id = o.id AND s.at < $1 \
             ORDER BY s.at DESC, s.id DESC LIMIT 1) AS state FROM operators o";
        const CHANGES: &str = "SELECT operator_id, at, state FROM operator_state_changes \
            WHERE at >= $1 AND at < $2 ORDER BY at, id";
        const OFFERS: &str = "SELECT call_id, operator_id, queue, kind FROM queue_events \
            WHERE at >= $1 AND at < $2 AND operator_id IS NOT NULL \
            AND kind IN ('ringing', 'answered') ORDER BY at, id";
        use crate::queue::figures::{Change, Offer};
        on_pool!(self, |pool| async {
            let mut before = std::collections::HashMap::new();
            for row in sqlx::query(BEFORE)
                .bind(DbTime::new(from))
                .fetch_all(pool)
                .await
                .map_err(query_err("read the operators' states before a period"))?
            {
                let c = Cols::new(&row, "operator_state_changes");
                if let Some(state) = c.get::<Option<String>>("state")? {
                    let state =
                        OperatorState::parse(&state).ok_or_else(|| StoreError::Corrupt {
                            table: "operator_state_changes",
                            column: "state",
                            reason: format!("unknown state {state:?}"),
                        })?;
                    before.insert(c.uuid("operator_id")?, state);
                }
            }
            let changes = decode_all(
                sqlx::query(CHANGES)
                    .bind(DbTime::new(from))
                    .bind(DbTime::new(to))
                    .fetch_all(pool)
                    .await
                    .map_err(query_err("read the operators' state changes"))?,
                |row| {
                    let c = Cols::new(row, "operator_state_changes");
                    Ok(Change {
                        operator: c.uuid("operator_id")?,
                        at: c.time("at")?,
                        state: c.parsed("state", OperatorState::parse)?,
                    })
                },
            )?;
            let offers = decode_all(
                sqlx::query(OFFERS)
                    .bind(DbTime::new(from))
                    .bind(DbTime::new(to))
                    .fetch_all(pool)
                    .await
                    .map_err(query_err("read the queues' offers"))?,
                |row| {
                    let c = Cols::new(row, "queue_events");
                    Ok(Offer {
                        call: c.uuid("call_id")?,
                        operator: c.uuid("operator_id")?,
                        queue: c.get("queue")?,
                        answered: c.get::<String>("kind")? == "answered",
                    })
                },
            )?;
            Ok(FigureRows {
                before,
                changes,
                offers,
            })
        }
        .await)
    }

    /// The operator's latest state change (by time, then by the order
    /// stored), or `None` if none was ever stored: such an operator counts
    /// as logged out.
    pub async fn current_operator_state(
        &self,
        operator_id: Uuid,
    ) -> Result<Option<StateChange>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            state_change_columns!(),
            " FROM operator_state_changes WHERE operator_id = $1 \
             ORDER BY at DESC, id DESC LIMIT 1"
        );
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(DbUuid(operator_id))
            .fetch_optional(pool)
            .await
            .map_err(query_err("read an operator's state"))?
            .map(|row| state_change_from_row(&row))
            .transpose())
    }
}

// --- for the `hotline operator` command ---------------------------------------------

/// Parses `--queues`: comma-separated queue names, each with an optional
/// `:penalty` (`general,emergency:2`; no penalty means 0). Blank text is no
/// queue at all. Names and repeats are checked as the store checks them.
pub fn parse_queue_list(text: &str) -> Result<Vec<QueueMembership>, StoreError> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let queues = text
        .split(',')
        .map(|item| {
            let item = item.trim();
            let (queue, penalty) = match item.split_once(':') {
                Some((queue, penalty)) => {
                    let penalty = penalty.trim();
                    let parsed = penalty.parse::<u32>().map_err(|_| {
                        invalid(
                            "queue",
                            format!("penalty {penalty:?} of {item:?} is not a whole number ≥ 0"),
                        )
                    })?;
                    (queue.trim(), parsed)
                }
                None => (item, 0),
            };
            if queue.is_empty() {
                return Err(invalid("queue", format!("empty queue name in {text:?}")));
            }
            Ok(QueueMembership::new(queue, penalty))
        })
        .collect::<Result<Vec<_>, _>>()?;
    check_queues(&queues)?;
    Ok(queues)
}

/// Queues in `--queues` syntax, `-` for none: the inverse of
/// [`parse_queue_list`].
pub fn format_queue_list(queues: &[QueueMembership]) -> String {
    if queues.is_empty() {
        return "-".to_owned();
    }
    let items: Vec<String> = queues
        .iter()
        .map(|m| match m.penalty {
            0 => m.queue.clone(),
            p => format!("{}:{p}", m.queue),
        })
        .collect();
    items.join(",")
}

/// The password a `--password` argument gives: the argument itself, or for
/// `-` one line of `input` (standard input) without its line ending. No
/// line at all is an error.
pub fn read_password_arg(arg: &str, input: &mut impl BufRead) -> std::io::Result<String> {
    if arg != "-" {
        return Ok(arg.to_owned());
    }
    let mut line = String::new();
    if input.read_line(&mut line)? == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "standard input ended before a password line",
        ));
    }
    let without_newline = line.strip_suffix('\n').unwrap_or(&line);
    Ok(without_newline
        .strip_suffix('\r')
        .unwrap_or(without_newline)
        .to_owned())
}

/// `hotline operator list`: a table of login, extension, name and queues
/// (`--queues` syntax), one operator a line in the given order, with
/// "(disabled)" after a disabled operator's name.
pub fn operator_table(operators: &[Operator]) -> String {
    let header = ["LOGIN", "EXTENSION", "NAME", "QUEUES"].map(str::to_owned);
    let rows: Vec<[String; 4]> = operators
        .iter()
        .map(|o| {
            let name = match o.disabled_at {
                Some(_) => format!("{} (disabled)", o.display_name),
                None => o.display_name.clone(),
            };
            [
                o.login.clone(),
                o.extension.clone(),
                name,
                format_queue_list(&o.queues),
            ]
        })
        .collect();
    let mut widths = [0usize; 4];
    for row in std::iter::once(&header).chain(&rows) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        // `{:<w$}` pads by characters, not bytes, so Cyrillic names line
        // up; the last column is not padded.
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    if operators.is_empty() {
        out.push_str("(no operators)\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected HA1s computed independently, with Python's hashlib:
    // hashlib.md5(b'1001:hotline:secret123').hexdigest() and so on.
    #[test]
    fn ha1_matches_an_independent_computation() {
        assert_eq!(
            ha1_md5("1001", "hotline", "secret123"),
            "00e9d504bd3ff35f63137b158dde213c"
        );
        assert_eq!(
            ha1_sha256("1001", "hotline", "secret123"),
            "3767100ff63debe87e67be992d9e736fb786248442a52482a9af1de43b39d2c8"
        );
        // UTF-8 passwords are hashed as their bytes.
        assert_eq!(
            ha1_md5("1002", "example.org", "пароль-12"),
            "8ee5c11d1520b8cfdc3c8319ad8a7124"
        );
        assert_eq!(
            ha1_sha256("1002", "example.org", "пароль-12"),
            "35f892575ad5a5f78f59cc0f6894244f27106390f186a1259e8efd36882d5574"
        );
    }

    #[test]
    fn argon2_hashes_are_salted_and_verify() {
        let a = hash_password("secret123").expect("hash");
        let b = hash_password("secret123").expect("hash");
        assert_ne!(a, b, "same salt twice");
        // argon2's defaults: Argon2id, version 0x13, 19 MiB, 2 passes, 1 lane.
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert!(password_matches(&a, "secret123").expect("verify"));
        assert!(!password_matches(&a, "secret124").expect("verify"));
        assert!(matches!(
            password_matches("not a PHC string", "secret123"),
            Err(StoreError::Corrupt {
                column: "password_hash",
                ..
            })
        ));
    }

    #[test]
    fn logins() {
        for good in ["ivan", "o.petrenko", "op_7", "a-b", "x"] {
            check_login(good).unwrap_or_else(|e| panic!("{good:?}: {e}"));
        }
        for bad in [
            "",
            "Ivan",
            "іван",
            "ivan petrenko",
            "a@b",
            "a:b",
            &"a".repeat(65),
        ] {
            match check_login(bad) {
                Err(StoreError::Invalid { field: "login", .. }) => {}
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        let e = check_login("Ivan").expect_err("upper case");
        assert_eq!(
            e.to_string(),
            "invalid login: \"Ivan\" contains 'I': only a-z, 0-9 and '.', '_', '-' are allowed"
        );
    }

    #[test]
    fn extensions() {
        for good in ["10", "1001", "0123456789"] {
            check_extension(good).unwrap_or_else(|e| panic!("{good:?}: {e}"));
        }
        for bad in ["", "1", "12345678901", "10a", "+1001", " 1001", "１２"] {
            match check_extension(bad) {
                Err(StoreError::Invalid {
                    field: "extension", ..
                }) => {}
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        assert_eq!(
            check_extension("1").expect_err("short").to_string(),
            "invalid extension: \"1\" must be 2 to 10 digits"
        );
    }

    #[test]
    fn display_names_passwords_and_realms() {
        assert_eq!(
            check_display_name("  Олена Петренко ").expect("valid"),
            "Олена Петренко"
        );
        assert!(check_display_name(" \t").is_err());
        assert!(check_display_name("a\nb").is_err());

        check_password("12345678").expect("8 characters");
        check_password("пароль-1").expect("8 characters, 15 bytes");
        let e = check_password("1234567").expect_err("7 characters");
        assert_eq!(
            e.to_string(),
            "invalid password: must be at least 8 characters"
        );
        assert!(check_password("secret123\n").is_err());

        check_realm("hotline").expect("valid");
        check_realm("sip.example.org").expect("valid");
        for bad in ["", "a\"b", "a\\b", "a\nb"] {
            assert!(check_realm(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn queue_lists() {
        assert_eq!(
            parse_queue_list("general,emergency:2").expect("valid"),
            vec![
                QueueMembership::new("general", 0),
                QueueMembership::new("emergency", 2)
            ]
        );
        assert_eq!(
            parse_queue_list(" general , housing-1 : 5 ").expect("valid"),
            vec![
                QueueMembership::new("general", 0),
                QueueMembership::new("housing-1", 5)
            ]
        );
        assert_eq!(parse_queue_list("").expect("none"), vec![]);
        assert_eq!(parse_queue_list("  ").expect("none"), vec![]);
        for bad in [
            "general,,emergency",
            "general,",
            ":3",
            "general:x",
            "general:-1",
            "general:",
            "general:99999999999",
            "General",
            "gen.eral",
            "general,general:2",
            "general:2147483648",
        ] {
            match parse_queue_list(bad) {
                Err(StoreError::Invalid { field: "queue", .. }) => {}
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        assert_eq!(
            parse_queue_list("general,general:2")
                .expect_err("repeat")
                .to_string(),
            "invalid queue: \"general\" is listed twice"
        );
        let queues = parse_queue_list("emergency:1,general").expect("valid");
        assert_eq!(format_queue_list(&queues), "emergency:1,general");
        assert_eq!(format_queue_list(&[]), "-");
    }

    #[test]
    fn password_arguments() {
        let mut none = std::io::Cursor::new("");
        assert_eq!(
            read_password_arg("secret123", &mut none).expect("literal"),
            "secret123"
        );
        let mut input = std::io::Cursor::new("s3cret pass\r\nsecond line\n");
        assert_eq!(
            read_password_arg("-", &mut input).expect("from input"),
            "s3cret pass"
        );
        let mut input = std::io::Cursor::new("no newline at end");
        assert_eq!(
            read_password_arg("-", &mut input).expect("from input"),
            "no newline at end"
        );
        let mut empty = std::io::Cursor::new("");
        let e = read_password_arg("-", &mut empty).expect_err("nothing to read");
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
    }

    fn operator(login: &str, extension: &str, name: &str, queues: &str) -> Operator {
        Operator {
            id: Uuid::nil(),
            login: login.into(),
            display_name: name.into(),
            extension: extension.into(),
            realm: DEFAULT_REALM.into(),
            ha1_md5: "md5-secret".into(),
            ha1_sha256: "sha-secret".into(),
            password_hash: "$argon2id$secret".into(),
            created_at: DateTime::UNIX_EPOCH,
            disabled_at: None,
            queues: parse_queue_list(queues).expect("valid queues"),
        }
    }

    #[test]
    fn listing_table() {
        let mut disabled = operator("petro", "1002", "Петро", "");
        disabled.disabled_at = Some(DateTime::UNIX_EPOCH);
        let table = operator_table(&[
            operator("olena", "1001", "Олена Петренко", "emergency:1,general"),
            disabled,
        ]);
        assert_eq!(
            table,
            "LOGIN  EXTENSION  NAME              QUEUES\n\
             olena  1001       Олена Петренко    emergency:1,general\n\
             petro  1002       Петро (disabled)  -\n"
        );
        assert_eq!(
            operator_table(&[]),
            "LOGIN  EXTENSION  NAME  QUEUES\n(no operators)\n"
        );
    }

    #[test]
    fn debug_hides_credentials() {
        let shown = format!("{:?}", operator("olena", "1001", "Олена", "general"));
        for secret in ["md5-secret", "sha-secret", "argon2id"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("olena") && shown.contains("1001"), "{shown}");
    }

    #[test]
    fn states_round_trip_through_text() {
        for s in OperatorState::ALL {
            assert_eq!(OperatorState::parse(s.as_str()), Some(*s));
        }
        assert_eq!(OperatorState::ALL.len(), 6);
        assert_eq!(OperatorState::OnCall.as_str(), "on_call");
        assert_eq!(OperatorState::WrapUp.as_str(), "wrap_up");
        assert_eq!(OperatorState::LoggedOut.as_str(), "logged_out");
        assert_eq!(OperatorState::parse("On_Call"), None);
    }
}
