//! Open311's rows: the applications' keys (`api_keys`, only a key's
//! SHA-256 kept), the requests they filed (`open311_requests`, written
//! with the card), and the public list of requests.

use chrono::{DateTime, Utc};
use sha2::Digest;
use uuid::Uuid;

use super::wire::Extra;
use crate::store::encoding::{Cols, DbTime, DbUuid, StoreRow};
use crate::store::{Store, StoreError, decode_all, insert_err, on_pool, query_err};

/// Written with the card ([`Store::register_appeal_with_files`]).
pub(crate) const INSERT_ORIGIN: &str = "INSERT INTO open311_requests \
    (appeal_id, api_key_id, token, media_url, account_id, device_id, created_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// Where an Open311 card came from.
#[derive(Debug, Clone)]
pub struct Origin {
    pub api_key: Uuid,
    pub token: String,
    pub extra: Extra,
}

/// An application allowed to file requests.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiKey {
    pub id: Uuid,
    pub name: String,
    /// `id` or `token`: what its POSTs are answered with.
    pub answer: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

fn key_from_row(row: &impl StoreRow) -> Result<ApiKey, StoreError> {
    let c = Cols::new(row, "api_keys");
    Ok(ApiKey {
        id: c.uuid("id")?,
        name: c.get("name")?,
        answer: c.get("answer")?,
        created_at: c.time("created_at")?,
        revoked_at: c.opt_time("revoked_at")?,
        last_used_at: c.opt_time("last_used_at")?,
    })
}

fn sha256(key: &str) -> String {
    hex::encode(sha2::Sha256::digest(key.trim().as_bytes()))
}

/// A request in the public list, before it is put on the wire.
#[derive(Debug, Clone)]
pub struct RequestRow {
    pub number: String,
    pub status: crate::appeal::AppealStatus,
    pub finished: bool,
    pub category: String,
    pub type_code: Option<String>,
    pub executor: String,
    pub address: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub media_url: Option<String>,
}

/// Which requests a list asks for. Only requests filed through Open311
/// are listed: a card from a call or the web form was not given to be
/// published.
#[derive(Debug, Clone, Default)]
pub struct RequestQuery {
    /// Registration numbers: when given, the rest is not looked at.
    pub numbers: Vec<String>,
    /// Type codes.
    pub codes: Vec<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// `Some(true)`: closed only; `Some(false)`: open only.
    pub closed: Option<bool>,
    pub limit: usize,
}

const REQUEST_SELECT: &str = "SELECT a.registration_number, a.status, a.finished_at, a.category, \
    ct.type_code, COALESCE(e.name, a.executor) AS executor_name, a.address, a.created_at, \
    (SELECT max(h.at) FROM appeal_history h WHERE h.appeal_id = a.id) AS updated_at, \
    a.deadline, a.latitude, a.longitude, o.media_url \
    FROM appeals a \
    LEFT JOIN classifier_categories ct ON ct.id = a.category_id \
    LEFT JOIN classifier_executors e ON e.version = ct.version AND e.code = a.executor \
    JOIN open311_requests o ON o.appeal_id = a.id";

fn request_from_row(row: &impl StoreRow) -> Result<RequestRow, StoreError> {
    let c = Cols::new(row, "appeals");
    let created_at = c.time("created_at")?;
    Ok(RequestRow {
        number: c.get("registration_number")?,
        status: c.parsed("status", crate::appeal::AppealStatus::parse)?,
        finished: c.opt_time("finished_at")?.is_some(),
        category: c.get("category")?,
        type_code: c.get("type_code")?,
        executor: c.get("executor_name")?,
        address: c.get("address")?,
        created_at,
        updated_at: c.opt_time("updated_at")?.unwrap_or(created_at),
        deadline: c.time("deadline")?,
        latitude: c.get("latitude")?,
        longitude: c.get("longitude")?,
        media_url: c.get("media_url")?,
    })
}

impl Store {
    /// A new key for application `name`: the key itself (shown once,
    /// never stored) and its row. `AlreadyExists` for a name in use.
    pub async fn add_api_key(
        &self,
        name: &str,
        answer_with_token: bool,
        now: DateTime<Utc>,
    ) -> Result<(String, ApiKey), StoreError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(StoreError::Invalid {
                field: "name",
                reason: "must be 1 to 100 printable characters".into(),
            });
        }
        let key = format!("h311_{}", hex::encode(rand::random::<[u8; 24]>()));
        let id = Uuid::new_v4();
        const SQL: &str = "INSERT INTO api_keys (id, name, key_sha256, answer, created_at) \
            VALUES ($1, $2, $3, $4, $5)";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(DbUuid(id))
            .bind(name)
            .bind(sha256(&key))
            .bind(if answer_with_token { "token" } else { "id" })
            .bind(DbTime::new(now))
            .execute(pool)
            .await
            .map(drop)
            .map_err(|e| {
                if e.as_database_error()
                    .is_some_and(|d| d.is_unique_violation())
                {
                    StoreError::AlreadyExists {
                        what: "API key named",
                        key: name.to_owned(),
                    }
                } else {
                    insert_err("add an API key", None, None)(e)
                }
            }))?;
        let row = self
            .api_keys()
            .await?
            .into_iter()
            .find(|k| k.id == id)
            .ok_or(StoreError::NotFound {
                what: "API key",
                id,
            })?;
        Ok((key, row))
    }

    /// A new key for application `name` (revoked or not): the old key stops
    /// working at once, its cards keep naming the application. `None` for
    /// an application that has no key.
    pub async fn rotate_api_key(
        &self,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(String, ApiKey)>, StoreError> {
        let key = format!("h311_{}", hex::encode(rand::random::<[u8; 24]>()));
        const SQL: &str = "UPDATE api_keys SET key_sha256 = $2, revoked_at = NULL, \
            created_at = $3, last_used_at = NULL WHERE name = $1 RETURNING id";
        let id: Option<DbUuid> = on_pool!(self, |pool| sqlx::query_scalar(SQL)
            .bind(name.trim())
            .bind(sha256(&key))
            .bind(DbTime::new(now))
            .fetch_optional(pool)
            .await
            .map_err(query_err("rotate an API key")))?;
        let Some(id) = id else { return Ok(None) };
        Ok(self
            .api_keys()
            .await?
            .into_iter()
            .find(|k| k.id == id.0)
            .map(|row| (key, row)))
    }

    /// Every key, revoked ones too, by name.
    pub async fn api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        const SQL: &str = "SELECT id, name, answer, created_at, revoked_at, last_used_at \
            FROM api_keys ORDER BY name";
        on_pool!(self, |pool| decode_all(
            sqlx::query(SQL)
                .fetch_all(pool)
                .await
                .map_err(query_err("list API keys"))?,
            key_from_row
        ))
    }

    /// Revokes application `name`'s key; `None` if it has none in force.
    pub async fn revoke_api_key(
        &self,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<ApiKey>, StoreError> {
        const SQL: &str = "UPDATE api_keys SET revoked_at = $2 \
            WHERE name = $1 AND revoked_at IS NULL RETURNING id";
        let id: Option<DbUuid> = on_pool!(self, |pool| sqlx::query_scalar(SQL)
            .bind(name.trim())
            .bind(DbTime::new(now))
            .fetch_optional(pool)
            .await
            .map_err(query_err("revoke an API key")))?;
        Ok(match id {
            Some(id) => self.api_keys().await?.into_iter().find(|k| k.id == id.0),
            None => None,
        })
    }

    /// The key in force that `key` is, marked used at `now`.
    pub async fn use_api_key(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<ApiKey>, StoreError> {
        const SQL: &str = "UPDATE api_keys SET last_used_at = $2 \
            WHERE key_sha256 = $1 AND revoked_at IS NULL \
            RETURNING id, name, answer, created_at, revoked_at, last_used_at";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(sha256(key))
            .bind(DbTime::new(now))
            .fetch_optional(pool)
            .await
            .map_err(query_err("check an API key"))?
            .map(|row| key_from_row(&row))
            .transpose())
    }

    /// The registration number a token stands for.
    pub async fn open311_token(&self, token: &str) -> Result<Option<String>, StoreError> {
        const SQL: &str = "SELECT a.registration_number FROM open311_requests o \
            JOIN appeals a ON a.id = o.appeal_id WHERE o.token = $1";
        on_pool!(self, |pool| sqlx::query_scalar(SQL)
            .bind(token)
            .fetch_optional(pool)
            .await
            .map_err(query_err("look up an Open311 token")))
    }

    /// The application a card came through, by the key's name.
    pub async fn open311_origin(
        &self,
        appeal: Uuid,
    ) -> Result<Option<(String, Option<String>)>, StoreError> {
        const SQL: &str = "SELECT k.name, o.media_url FROM open311_requests o \
            JOIN api_keys k ON k.id = o.api_key_id WHERE o.appeal_id = $1";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(DbUuid(appeal))
            .fetch_optional(pool)
            .await
            .map_err(query_err("read a card's Open311 origin"))?
            .map(|row| {
                let c = Cols::new(&row, "open311_requests");
                Ok((c.get("name")?, c.get("media_url")?))
            })
            .transpose())
    }

    /// The Open311 requests `q` asks for, newest first, at most `q.limit`.
    pub async fn open311_requests(&self, q: &RequestQuery) -> Result<Vec<RequestRow>, StoreError> {
        let mut sql = format!("{REQUEST_SELECT} WHERE ");
        let mut n = 0;
        let mut param = || {
            n += 1;
            format!("${n}")
        };
        let mut texts: Vec<String> = Vec::new();
        if !q.numbers.is_empty() {
            let list: Vec<String> = q.numbers.iter().map(|_| param()).collect();
            sql.push_str(&format!("a.registration_number IN ({})", list.join(", ")));
            texts.extend(q.numbers.iter().cloned());
        } else {
            let from = param();
            let to = param();
            sql.push_str(&format!("a.created_at >= {from} AND a.created_at <= {to}"));
            if !q.codes.is_empty() {
                // "unknown" is a card still without a subject (triage).
                let triage = q.codes.iter().any(|c| c == super::wire::TRIAGE_CODE);
                let codes: Vec<&String> = q
                    .codes
                    .iter()
                    .filter(|c| *c != super::wire::TRIAGE_CODE)
                    .collect();
                let list: Vec<String> = codes.iter().map(|_| param()).collect();
                let mut any = Vec::new();
                if !list.is_empty() {
                    any.push(format!("ct.type_code IN ({})", list.join(", ")));
                }
                if triage {
                    any.push("a.category_id IS NULL".to_string());
                }
                sql.push_str(&format!(" AND ({})", any.join(" OR ")));
                texts.extend(codes.into_iter().cloned());
            }
            match q.closed {
                Some(true) => sql.push_str(" AND a.finished_at IS NOT NULL"),
                Some(false) => sql.push_str(" AND a.finished_at IS NULL"),
                None => {}
            }
        }
        sql.push_str(&format!(" ORDER BY a.created_at DESC LIMIT {}", q.limit));
        let times = if q.numbers.is_empty() {
            vec![
                q.from.unwrap_or(DateTime::<Utc>::MIN_UTC),
                q.to.unwrap_or(DateTime::<Utc>::MAX_UTC),
            ]
        } else {
            Vec::new()
        };
        on_pool!(self, |pool| {
            let mut query = sqlx::query(&sql);
            for t in &times {
                query = query.bind(DbTime::new(*t));
            }
            for text in &texts {
                query = query.bind(text);
            }
            decode_all(
                query
                    .fetch_all(pool)
                    .await
                    .map_err(query_err("list Open311 requests"))?,
                request_from_row,
            )
        })
    }
}
