//! The audit log: what staff changed in how the system runs (a
//! supervisor's change of an operator's state; an admin's change of users,
//! operators, queues, the classifier, the voice menu), who, when, from
//! where, the value before and after, and why. Only ever added to.
//!
//! Role: storage only. What an entry says is decided where the change is
//! made; cards have their own history (`appeal::lifecycle_store`) and
//! recordings and cards their access logs.

use chrono::{DateTime, Utc};

use super::encoding::{Cols, DbTime};
use super::{Store, StoreError, decode_all, query_err};

/// An entry to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAudit<'a> {
    pub at: DateTime<Utc>,
    pub actor_login: &'a str,
    pub actor_role: &'a str,
    pub address: &'a str,
    /// "operator.state", "user.add"…
    pub action: &'a str,
    /// A login, a queue's name…
    pub target: &'a str,
    /// JSON of the value before and after, where there is one.
    pub before: Option<String>,
    pub after: Option<String>,
    pub reason: Option<&'a str>,
}

/// An entry as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_login: String,
    pub actor_role: String,
    pub address: String,
    pub action: String,
    pub target: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub reason: Option<String>,
}

impl Store {
    pub async fn add_audit(&self, entry: &NewAudit<'_>) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO audit_log \
            (at, actor_login, actor_role, address, action, target, before, after, reason) \
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(DbTime::new(entry.at))
            .bind(entry.actor_login)
            .bind(entry.actor_role)
            .bind(entry.address)
            .bind(entry.action)
            .bind(entry.target)
            .bind(entry.before.as_deref())
            .bind(entry.after.as_deref())
            .bind(entry.reason)
            .execute(pool)
            .await
            .map(|_| ())
            .map_err(query_err("write to the audit log")))
    }

    /// The newest entries first, for one target if given.
    pub async fn audit_log(
        &self,
        target: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        const SQL: &str = "SELECT id, at, actor_login, actor_role, address, action, target, \
            before, after, reason FROM audit_log WHERE ($1 IS NULL OR target = $1) \
            ORDER BY at DESC, id DESC LIMIT $2";
        on_pool!(self, |pool| decode_all(
            sqlx::query(SQL)
                .bind(target)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
                .map_err(query_err("read the audit log"))?,
            |row| {
                let c = Cols::new(row, "audit_log");
                Ok(AuditEntry {
                    id: c.get("id")?,
                    at: c.time("at")?,
                    actor_login: c.get("actor_login")?,
                    actor_role: c.get("actor_role")?,
                    address: c.get("address")?,
                    action: c.get("action")?,
                    target: c.get("target")?,
                    before: c.get("before")?,
                    after: c.get("after")?,
                    reason: c.get("reason")?,
                })
            }
        ))
    }
}
