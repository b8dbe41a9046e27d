//! People who sign in to the console, with a role, and their sessions.
//!
//! * Roles: operator (takes calls; linked to an operator and their SIP
//!   extension), supervisor, executor, admin. What each may do is decided
//!   by the HTTP layer (`api::auth`); the store keeps who is who.
//! * Passwords: Argon2id PHC strings, as for operators; hashing runs on the
//!   blocking pool. An unknown login costs as long as a wrong password.
//! * Sessions: the cookie carries a random token; the database keeps only
//!   its SHA-256, with a CSRF token, the time it was last used and an
//!   absolute expiry. A session idle for longer than the idle limit, or
//!   past its expiry, is gone.

use chrono::{DateTime, Duration, Utc};
use sha2::Digest;
use uuid::Uuid;

use super::encoding::{Cols, DbTime, DbUuid, StoreRow};
use super::operators::{
    blocking, check_display_name, check_login, check_password, hash_password, password_matches,
    waste_a_verification,
};
use super::{Store, StoreError, decode_all, insert_err, query_err};

text_enum! {
    /// What a user may do in the console.
    Role {
        /// Takes calls: their own calls, cards and state.
        Operator => "operator",
        /// Watches queues and operators, searches and listens to recordings.
        Supervisor => "supervisor",
        /// Works the cards assigned to their organisation.
        Executor => "executor",
        /// Everything, including users and the IVR.
        Admin => "admin",
    }
}

/// A user as stored (without the password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: Uuid,
    pub login: String,
    pub display_name: String,
    pub role: Role,
    /// For an operator user: the operator (extension) they are.
    pub operator_id: Option<Uuid>,
    /// For a supervisor: their own softphone (an operator record in no
    /// queue), rung when they listen in on a conversation.
    pub phone_id: Option<Uuid>,
    /// For an executor user: its organisation's code in the classifier.
    pub executor: Option<String>,
    /// For an executor user: whether they are the organisation's head.
    pub head: bool,
    /// Where reports are e-mailed (an executor's head gets the daily one).
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
}

/// A user to add.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub login: String,
    pub display_name: String,
    pub role: Role,
    /// The operator's login: an operator user's (required), or a
    /// supervisor's softphone (optional); no other role has one.
    pub operator_login: Option<String>,
    /// The organisation's code in the classifier, for (and only for) an
    /// executor user.
    pub executor: Option<String>,
    /// An executor user who heads the organisation.
    pub head: bool,
}

impl NewUser {
    /// A user shown by its login; an operator's user is the operator of
    /// the same login; an executor's user belongs to `executor`.
    pub fn named(login: &str, role: Role, executor: Option<&str>, head: bool) -> NewUser {
        NewUser {
            login: login.into(),
            display_name: login.into(),
            role,
            operator_login: (role == Role::Operator).then(|| login.to_string()),
            executor: executor.map(str::to_string),
            head,
        }
    }
}

/// What an admin changes of a user: each field left `None` stays.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    pub display_name: Option<String>,
    pub role: Option<Role>,
    /// `Some(None)` clears it (the user leaves the organisation).
    pub executor: Option<Option<String>>,
    pub head: Option<bool>,
    pub email: Option<Option<String>>,
    pub disabled: Option<bool>,
    /// A supervisor's softphone, by its operator login; `Some(None)`
    /// unlinks it.
    pub phone: Option<Option<String>>,
}

/// A signed-in user's session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user: User,
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A new session's secrets: the token for the cookie (only its hash is
/// kept) and the CSRF token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

/// How long sessions last.
#[derive(Debug, Clone, Copy)]
pub struct SessionLimits {
    /// From sign-in, whatever happens (a shift and some).
    pub lifetime: Duration,
    /// Without any request.
    pub idle: Duration,
}

impl Default for SessionLimits {
    fn default() -> Self {
        Self {
            lifetime: Duration::hours(12),
            idle: Duration::hours(2),
        }
    }
}

/// 32 random bytes, hex.
fn random_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

fn token_hash(token: &str) -> String {
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

const USER_COLUMNS: &str = "u.id, u.login, u.display_name, u.role, u.operator_id, \
    u.phone_operator_id, u.executor_code, u.executor_head, u.email, u.created_at, u.disabled_at";

/// A user's e-mail address: a bare address (no display name), at most
/// 254 characters.
pub fn check_email(email: &str) -> Result<(), StoreError> {
    let e = email.trim();
    if crate::mail::looks_like_address(e) && !e.contains(['<', '>']) && e.len() <= 254 {
        Ok(())
    } else {
        Err(StoreError::Invalid {
            field: "email",
            reason: format!("{e:?} is not an e-mail address (name@example.ua)"),
        })
    }
}

fn user_from_row(row: &impl StoreRow) -> Result<User, StoreError> {
    let c = Cols::new(row, "users");
    Ok(User {
        id: c.uuid("id")?,
        login: c.get("login")?,
        display_name: c.get("display_name")?,
        role: c.parsed("role", Role::parse)?,
        operator_id: c.opt_uuid("operator_id")?,
        phone_id: c.opt_uuid("phone_operator_id")?,
        executor: c.get("executor_code")?,
        head: c.get::<bool>("executor_head")?,
        email: c.get("email")?,
        created_at: c.time("created_at")?,
        disabled_at: c.opt_time("disabled_at")?,
    })
}

impl Store {
    /// An executor user names an organisation the current classifier has;
    /// no other user names one or is a head.
    async fn check_executor_of_user(&self, new: &NewUser) -> Result<(), StoreError> {
        let invalid = |reason: String| StoreError::Invalid {
            field: "executor",
            reason,
        };
        match (new.role, new.executor.as_deref()) {
            (Role::Executor, Some(code)) => {
                let Some(version) = self.current_classifier_version().await? else {
                    return Err(invalid(
                        "no classifier imported yet: run `hotline classifier import`".into(),
                    ));
                };
                let executors = self.executors(version.number).await?;
                if !executors.iter().any(|e| e.code == code) {
                    let mut known: Vec<&str> = executors.iter().map(|e| e.code.as_str()).collect();
                    known.sort_unstable();
                    return Err(invalid(format!(
                        "the classifier (version {}) has no executor {code:?}; it has {}",
                        version.number,
                        known.join(", ")
                    )));
                }
                Ok(())
            }
            (Role::Executor, None) => Err(invalid(
                "an executor user must name their organisation (--executor CODE)".into(),
            )),
            (_, Some(_)) => Err(invalid(
                "only executor users belong to an executor organisation".into(),
            )),
            (_, None) if new.head => Err(invalid("only an executor user can be a head".into())),
            (_, None) => Ok(()),
        }
    }

    /// Adds a user with an Argon2id hash of `password`. `Invalid` (nothing
    /// written) for a bad login or name, an operator user without an
    /// existing operator, or an operator named for another role;
    /// `AlreadyExists` ("user login", or "operator's user" when the
    /// operator already has one).
    pub async fn add_user(
        &self,
        new: &NewUser,
        password: &str,
        now: DateTime<Utc>,
    ) -> Result<User, StoreError> {
        const SQL: &str = "INSERT INTO users \
            (id, login, display_name, role, password_hash, operator_id, executor_code, \
             executor_head, created_at, phone_operator_id) \
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
        check_login(&new.login)?;
        let display_name = check_display_name(&new.display_name)?.to_owned();
        check_password(password)?;
        let linked = match &new.operator_login {
            Some(login) if new.role == Role::Supervisor => {
                Some(self.phone_for_supervisor(login).await?)
            }
            Some(login) => Some(self.operator_id_for_user(login).await?),
            None => None,
        };
        // (An operator's second user is refused below, as a duplicate.)
        if let Some(id) = linked {
            let phone = self.user_of_operator(id).await?.and_then(|u| u.phone_id);
            if new.role == Role::Supervisor || phone == Some(id) {
                self.check_phone_free(id, None).await?;
            }
        }
        let phone_id = linked.filter(|_| new.role == Role::Supervisor);
        let operator_id = match (new.role, linked) {
            (Role::Operator, Some(id)) => Some(id),
            (Role::Supervisor, _) => None,
            (Role::Operator, None) => {
                return Err(StoreError::Invalid {
                    field: "operator",
                    reason: "an operator user must name their operator".into(),
                });
            }
            (_, Some(_)) => {
                return Err(StoreError::Invalid {
                    field: "operator",
                    reason: "only operator and supervisor users are linked to an operator".into(),
                });
            }
            (_, None) => None,
        };
        self.check_executor_of_user(new).await?;
        let password = password.to_owned();
        let hash = blocking(move || hash_password(&password)).await?;
        let id = Uuid::new_v4();
        let result = on_pool!(self, |pool| sqlx::query(SQL)
            .bind(DbUuid(id))
            .bind(&new.login)
            .bind(&display_name)
            .bind(new.role.as_str())
            .bind(&hash)
            .bind(operator_id.map(DbUuid))
            .bind(new.executor.as_deref())
            .bind(new.head)
            .bind(DbTime::new(now))
            .bind(phone_id.map(DbUuid))
            .execute(pool)
            .await
            .map(drop));
        if let Err(source) = result {
            if source
                .as_database_error()
                .is_some_and(|e| e.is_unique_violation())
            {
                let login_taken = self.user_by_login(&new.login).await?.is_some();
                return Err(StoreError::AlreadyExists {
                    what: if login_taken {
                        "user login"
                    } else {
                        "operator's user"
                    },
                    key: new.login.clone(),
                });
            }
            return Err(insert_err("add a user", None, None)(source));
        }
        // Read back: the stored times have the storage's precision.
        self.user_by_login(&new.login)
            .await?
            .ok_or(StoreError::NotFound { what: "user", id })
    }

    /// The id of the operator record `login` names, as a supervisor's
    /// softphone: it must serve no queue (it would be offered calls).
    async fn phone_for_supervisor(&self, login: &str) -> Result<Uuid, StoreError> {
        match self.operator_by_login(login).await? {
            Some(op) if op.queues.is_empty() => Ok(op.id),
            Some(_) => Err(StoreError::Invalid {
                field: "operator",
                reason: format!(
                    "the operator {login:?} serves queues: a supervisor's softphone serves none"
                ),
            }),
            None => Err(StoreError::Invalid {
                field: "operator",
                reason: format!("no operator has the login {login:?}"),
            }),
        }
    }

    /// The id of the operator `login` names, for a user's link.
    async fn operator_id_for_user(&self, login: &str) -> Result<Uuid, StoreError> {
        Ok(self
            .operator_by_login(login)
            .await?
            .ok_or_else(|| StoreError::Invalid {
                field: "operator",
                reason: format!("no operator has the login {login:?}"),
            })?
            .id)
    }

    pub async fn user_by_login(&self, login: &str) -> Result<Option<User>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.login = $1");
        on_pool!(self, |pool| sqlx::query(&sql)
            .bind(login)
            .fetch_optional(pool)
            .await
            .map_err(query_err("read a user"))?
            .map(|row| user_from_row(&row))
            .transpose())
    }

    /// Every user, by login.
    pub async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u ORDER BY u.login");
        on_pool!(self, |pool| decode_all(
            sqlx::query(&sql)
                .fetch_all(pool)
                .await
                .map_err(query_err("list users"))?,
            user_from_row
        ))
    }

    /// Refused (`Invalid`) when the operator record is already another
    /// user's: an operator user's operator, or a supervisor's softphone.
    async fn check_phone_free(&self, id: Uuid, user: Option<Uuid>) -> Result<(), StoreError> {
        match self.user_of_operator(id).await? {
            Some(other) if Some(other.id) != user => Err(StoreError::Invalid {
                field: "operator",
                reason: format!("this operator record is {:?}'s already", other.login),
            }),
            _ => Ok(()),
        }
    }

    /// The user linked to an operator record, if any: the operator user,
    /// or the supervisor whose softphone it is.
    pub async fn user_of_operator(&self, operator_id: Uuid) -> Result<Option<User>, StoreError> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.operator_id = $1 OR u.phone_operator_id = $1"
        );
        on_pool!(self, |pool| sqlx::query(&sql)
            .bind(DbUuid(operator_id))
            .fetch_optional(pool)
            .await
            .map_err(query_err("read an operator's user"))?
            .map(|row| user_from_row(&row))
            .transpose())
    }

    /// Removes the user and their sessions; `false` if there was none.
    pub async fn remove_user(&self, login: &str) -> Result<bool, StoreError> {
        const SQL: &str = "DELETE FROM users WHERE login = $1";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(login)
            .execute(pool)
            .await
            .map(|r| r.rows_affected() > 0)
            .map_err(query_err("remove a user")))
    }

    /// Changes a user as an admin asks, in one transaction; the user before
    /// and after, or `None` if there is no such user. A user who is
    /// disabled has their sessions ended at once. `Invalid` (nothing
    /// written) for a blank name, an executor the classifier lacks, an
    /// executor or head given to another role, a bad e-mail, or a role
    /// change to or from operator (an operator user comes with its
    /// operator: `hotline operator add`).
    pub async fn update_user(
        &self,
        login: &str,
        change: &UserChange,
        now: DateTime<Utc>,
    ) -> Result<Option<(User, User)>, StoreError> {
        const SQL: &str = "UPDATE users SET display_name = $1, role = $2, executor_code = $3, \
            executor_head = $4, email = $5, disabled_at = $6, phone_operator_id = $7 \
            WHERE login = $8";
        const END: &str = "DELETE FROM sessions WHERE user_id IN \
            (SELECT id FROM users WHERE login = $1)";
        let Some(before) = self.user_by_login(login).await? else {
            return Ok(None);
        };
        let role = change.role.unwrap_or(before.role);
        if role != before.role && (role == Role::Operator || before.role == Role::Operator) {
            return Err(StoreError::Invalid {
                field: "role",
                reason: "an operator user comes with its operator (a phone extension); \
                         add or remove the operator instead"
                    .into(),
            });
        }
        let display_name = match &change.display_name {
            Some(name) => check_display_name(name)?.to_owned(),
            None => before.display_name.clone(),
        };
        let executor = match &change.executor {
            Some(e) => e
                .as_deref()
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(str::to_owned),
            // A user leaving the executor role leaves its organisation.
            None if role != Role::Executor => None,
            None => before.executor.clone(),
        };
        let head = change.head.unwrap_or(before.head) && role == Role::Executor;
        self.check_executor_of_user(&NewUser {
            login: login.to_owned(),
            display_name: display_name.clone(),
            role,
            operator_login: None,
            executor: executor.clone(),
            head,
        })
        .await?;
        let email = match &change.email {
            Some(e) => e
                .as_deref()
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(str::to_owned),
            None => before.email.clone(),
        };
        if let Some(e) = &email {
            check_email(e)?;
        }
        // An operator keeps their operator; a supervisor's softphone is
        // theirs to change; other roles have none.
        // A supervisor's softphone is theirs to change; other roles have
        // none (a supervisor who changes role loses theirs).
        let phone_id = match (role, &change.phone) {
            (Role::Supervisor, Some(Some(phone))) => {
                let id = self.phone_for_supervisor(phone.trim()).await?;
                self.check_phone_free(id, Some(before.id)).await?;
                Some(id)
            }
            (Role::Supervisor, Some(None)) => None,
            (Role::Supervisor, None) => before.phone_id,
            (_, Some(Some(_))) => {
                return Err(StoreError::Invalid {
                    field: "operator",
                    reason: "only a supervisor has a softphone to listen in with".into(),
                });
            }
            _ => None,
        };
        let disabled_at = match change.disabled {
            Some(true) => before.disabled_at.or(Some(now)),
            Some(false) => None,
            None => before.disabled_at,
        };
        on_pool!(self, |pool| async {
            let mut tx = pool.begin().await?;
            sqlx::query(SQL)
                .bind(&display_name)
                .bind(role.as_str())
                .bind(executor.as_deref())
                .bind(head)
                .bind(email.as_deref())
                .bind(disabled_at.map(DbTime::new))
                .bind(phone_id.map(DbUuid))
                .bind(login)
                .execute(&mut *tx)
                .await?;
            if disabled_at.is_some() {
                sqlx::query(END).bind(login).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(())
        }
        .await)
        .map_err(query_err("change a user"))?;
        let after = self
            .user_by_login(login)
            .await?
            .ok_or(StoreError::NotFound {
                what: "user",
                id: before.id,
            })?;
        Ok(Some((before, after)))
    }

    /// Sets (or with `None` clears) the address the user's reports are
    /// e-mailed to; `false` if there is no such user. `Invalid` for text
    /// that is not an address.
    pub async fn set_user_email(
        &self,
        login: &str,
        email: Option<&str>,
    ) -> Result<bool, StoreError> {
        const SQL: &str = "UPDATE users SET email = $1 WHERE login = $2";
        let email = email.map(str::trim).filter(|e| !e.is_empty());
        if let Some(e) = email {
            check_email(e)?;
        }
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(email)
            .bind(login)
            .execute(pool)
            .await
            .map(|r| r.rows_affected() > 0)
            .map_err(query_err("set a user's e-mail address")))
    }

    /// Sets a new password and ends the user's sessions; `false` if there
    /// is no such user.
    pub async fn set_user_password(&self, login: &str, password: &str) -> Result<bool, StoreError> {
        const SQL: &str = "UPDATE users SET password_hash = $1 WHERE login = $2";
        const END: &str = "DELETE FROM sessions WHERE user_id IN \
            (SELECT id FROM users WHERE login = $1)";
        check_password(password)?;
        let owned = password.to_owned();
        let hash = blocking(move || hash_password(&owned)).await?;
        on_pool!(self, |pool| async {
            let mut tx = pool.begin().await?;
            let changed = sqlx::query(SQL)
                .bind(&hash)
                .bind(login)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query(END).bind(login).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(changed > 0)
        }
        .await)
        .map_err(query_err("set a user's password"))
    }

    /// The user, if `password` is theirs and they are not disabled; `None`
    /// otherwise, after about as long either way.
    pub async fn verify_user_password(
        &self,
        login: &str,
        password: &str,
    ) -> Result<Option<User>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS}, u.password_hash FROM users u WHERE u.login = $1");
        let stored = on_pool!(self, |pool| sqlx::query(&sql)
            .bind(login)
            .fetch_optional(pool)
            .await
            .map_err(query_err("read a user's password hash"))?
            .map(|row| {
                let hash = Cols::new(&row, "users").get::<String>("password_hash")?;
                Ok::<_, StoreError>((user_from_row(&row)?, hash))
            })
            .transpose())?;
        let password = password.to_owned();
        blocking(move || match stored {
            Some((user, phc)) => {
                let matches = password_matches(&phc, &password)?;
                Ok((matches && user.disabled_at.is_none()).then_some(user))
            }
            None => {
                waste_a_verification(&password);
                Ok(None)
            }
        })
        .await
    }

    /// Starts a session for the user.
    pub async fn create_session(
        &self,
        user_id: Uuid,
        now: DateTime<Utc>,
        limits: SessionLimits,
    ) -> Result<NewSession, StoreError> {
        const SQL: &str = "INSERT INTO sessions \
            (token_hash, user_id, csrf_token, created_at, last_seen_at, expires_at) \
            VALUES ($1, $2, $3, $4, $5, $6)";
        let session = NewSession {
            token: random_token(),
            csrf_token: random_token(),
            expires_at: now + limits.lifetime,
        };
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(token_hash(&session.token))
            .bind(DbUuid(user_id))
            .bind(&session.csrf_token)
            .bind(DbTime::new(now))
            .bind(DbTime::new(now))
            .bind(DbTime::new(session.expires_at))
            .execute(pool)
            .await
            .map(drop)
            .map_err(insert_err(
                "start a session",
                None,
                Some(("user", user_id))
            )))?;
        Ok(session)
    }

    /// The live session for a cookie's token, its use recorded (at most
    /// once a minute, to spare the database). `None` for an unknown,
    /// expired or idle session, or a disabled user; such a session is
    /// deleted.
    pub async fn session(
        &self,
        token: &str,
        now: DateTime<Utc>,
        limits: SessionLimits,
    ) -> Result<Option<Session>, StoreError> {
        let sql = format!(
            "SELECT {USER_COLUMNS}, s.csrf_token, s.created_at AS s_created, \
             s.last_seen_at, s.expires_at \
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1"
        );
        let hash = token_hash(token);
        let found = on_pool!(self, |pool| sqlx::query(&sql)
            .bind(&hash)
            .fetch_optional(pool)
            .await
            .map_err(query_err("read a session"))?
            .map(|row| {
                let c = Cols::new(&row, "sessions");
                Ok::<_, StoreError>((
                    Session {
                        user: user_from_row(&row)?,
                        csrf_token: c.get("csrf_token")?,
                        created_at: c.time("s_created")?,
                        expires_at: c.time("expires_at")?,
                    },
                    c.time("last_seen_at")?,
                ))
            })
            .transpose())?;
        let Some((session, last_seen)) = found else {
            return Ok(None);
        };
        let live = session.expires_at > now
            && now - last_seen < limits.idle
            && session.user.disabled_at.is_none();
        if !live {
            self.end_session(token).await?;
            return Ok(None);
        }
        if now - last_seen >= Duration::minutes(1) {
            const TOUCH: &str = "UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2";
            on_pool!(self, |pool| sqlx::query(TOUCH)
                .bind(DbTime::new(now))
                .bind(&hash)
                .execute(pool)
                .await
                .map(drop)
                .map_err(query_err("record a session's use")))?;
        }
        Ok(Some(session))
    }

    /// Ends a session (sign-out); ending an unknown one is not an error.
    pub async fn end_session(&self, token: &str) -> Result<(), StoreError> {
        const SQL: &str = "DELETE FROM sessions WHERE token_hash = $1";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(token_hash(token))
            .execute(pool)
            .await
            .map(drop)
            .map_err(query_err("end a session")))
    }

    /// Deletes sessions past their expiry; returns how many.
    pub async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        const SQL: &str = "DELETE FROM sessions WHERE expires_at <= $1";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(DbTime::new(now))
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
            .map_err(query_err("delete expired sessions")))
    }
}
