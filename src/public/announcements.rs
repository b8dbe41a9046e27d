//! Announcements staff publish to residents ("До відома мешканців": a
//! water schedule, a road closed for a day), shown on the public works
//! page and in its feeds until they end or are withdrawn. The checks are
//! plain code; the rows are below them.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::appeal::FieldError;
use crate::store::encoding::{Cols, DbTime, DbUuid, StoreRow};
use crate::store::{Store, StoreError, decode_all, insert_err, on_pool, query_err};

pub const TITLE_MAX: usize = 200;
pub const BODY_MAX: usize = 4000;

/// An announcement as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Announcement {
    pub id: Uuid,
    pub title: String,
    pub body: String,
    pub published_at: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
    /// Who published it (staff only see this; the public pages do not).
    pub author: String,
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub withdrawn_by: Option<String>,
}

impl Announcement {
    /// Shown to residents at `now`.
    pub fn current(&self, now: DateTime<Utc>) -> bool {
        self.withdrawn_at.is_none()
            && self.published_at <= now
            && self.until.is_none_or(|u| u > now)
    }
}

/// A new announcement, as a supervisor wrote it.
#[derive(Debug, Clone, Default)]
pub struct NewAnnouncement {
    pub title: String,
    pub body: String,
    pub until: Option<DateTime<Utc>>,
}

/// Every problem with `a`, field by field, in Ukrainian.
pub fn check(a: &NewAnnouncement, now: DateTime<Utc>) -> Vec<FieldError> {
    let mut out = Vec::new();
    let mut field = |field: &'static str, message: String| out.push(FieldError { field, message });
    let title = a.title.trim();
    if title.is_empty() {
        field("title", "Вкажіть заголовок.".into());
    } else if title.chars().count() > TITLE_MAX || title.chars().any(char::is_control) {
        field(
            "title",
            format!("Заголовок — один рядок до {TITLE_MAX} символів."),
        );
    }
    let body = a.body.trim();
    if body.is_empty() {
        field("body", "Напишіть текст оголошення.".into());
    } else if body.chars().count() > BODY_MAX {
        field("body", format!("Текст — не довше {BODY_MAX} символів."));
    } else if body
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        field("body", "Текст містить недопустимі символи.".into());
    }
    if a.until.is_some_and(|u| u <= now) {
        field("until", "Дата завершення має бути в майбутньому.".into());
    }
    out
}

const SELECT: &str = "SELECT id, title, body, published_at, until, author_login, withdrawn_at, \
    withdrawn_by FROM announcements";

fn from_row(row: &impl StoreRow) -> Result<Announcement, StoreError> {
    let c = Cols::new(row, "announcements");
    Ok(Announcement {
        id: c.uuid("id")?,
        title: c.get("title")?,
        body: c.get("body")?,
        published_at: c.time("published_at")?,
        until: c.opt_time("until")?,
        author: c.get("author_login")?,
        withdrawn_at: c.opt_time("withdrawn_at")?,
        withdrawn_by: c.get("withdrawn_by")?,
    })
}

impl Store {
    /// Publishes `a` at `now` (checked by [`check`] first: `Invalid` names
    /// the first problem).
    pub async fn publish_announcement(
        &self,
        a: &NewAnnouncement,
        by: Option<Uuid>,
        login: &str,
        now: DateTime<Utc>,
    ) -> Result<Announcement, StoreError> {
        if let Some(problem) = check(a, now).into_iter().next() {
            return Err(StoreError::Invalid {
                field: problem.field,
                reason: problem.message,
            });
        }
        const SQL: &str = "INSERT INTO announcements \
            (id, title, body, published_at, until, published_by, author_login) \
            VALUES ($1, $2, $3, $4, $5, $6, $7)";
        let id = Uuid::new_v4();
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(DbUuid(id))
            .bind(a.title.trim())
            .bind(a.body.trim())
            .bind(DbTime::new(now))
            .bind(a.until.map(DbTime::new))
            .bind(by.map(DbUuid))
            .bind(login)
            .execute(pool)
            .await
            .map(drop)
            .map_err(insert_err("publish an announcement", None, None)))?;
        self.announcement(id).await?.ok_or(StoreError::NotFound {
            what: "announcement",
            id,
        })
    }

    pub async fn announcement(&self, id: Uuid) -> Result<Option<Announcement>, StoreError> {
        let sql = format!("{SELECT} WHERE id = $1");
        on_pool!(self, |pool| sqlx::query(&sql)
            .bind(DbUuid(id))
            .fetch_optional(pool)
            .await
            .map_err(query_err("read an announcement"))?
            .map(|row| from_row(&row))
            .transpose())
    }

    /// Shown at `now`, newest first.
    pub async fn current_announcements(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<Announcement>, StoreError> {
        let sql = format!(
            "{SELECT} WHERE withdrawn_at IS NULL AND published_at <= $1 \
             AND (until IS NULL OR until > $1) ORDER BY published_at DESC, id"
        );
        on_pool!(self, |pool| decode_all(
            sqlx::query(&sql)
                .bind(DbTime::new(now))
                .fetch_all(pool)
                .await
                .map_err(query_err("list announcements"))?,
            from_row
        ))
    }

    /// The staff's list: those in force at `now` and every one published
    /// since `since` (ended and withdrawn ones too), newest first (at most
    /// 200).
    pub async fn recent_announcements(
        &self,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Announcement>, StoreError> {
        let sql = format!(
            "{SELECT} WHERE published_at >= $1 \
             OR (withdrawn_at IS NULL AND (until IS NULL OR until > $2)) \
             ORDER BY published_at DESC, id LIMIT 200"
        );
        on_pool!(self, |pool| decode_all(
            sqlx::query(&sql)
                .bind(DbTime::new(since))
                .bind(DbTime::new(now))
                .fetch_all(pool)
                .await
                .map_err(query_err("list announcements"))?,
            from_row
        ))
    }

    /// Withdraws an announcement in force; `None` if there is none.
    pub async fn withdraw_announcement(
        &self,
        id: Uuid,
        login: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Announcement>, StoreError> {
        const SQL: &str = "UPDATE announcements SET withdrawn_at = $2, withdrawn_by = $3 \
            WHERE id = $1 AND withdrawn_at IS NULL RETURNING id";
        let done: Option<DbUuid> = on_pool!(self, |pool| sqlx::query_scalar(SQL)
            .bind(DbUuid(id))
            .bind(DbTime::new(now))
            .bind(login)
            .fetch_optional(pool)
            .await
            .map_err(query_err("withdraw an announcement")))?;
        match done {
            Some(_) => self.announcement(id).await,
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_announcement_needs_a_title_a_text_and_a_future_end() {
        let now: DateTime<Utc> = "2026-12-07T10:00:00Z".parse().unwrap();
        let named = |a: &NewAnnouncement| -> Vec<&'static str> {
            check(a, now).into_iter().map(|e| e.field).collect()
        };
        assert_eq!(
            named(&NewAnnouncement {
                until: Some(now),
                ..Default::default()
            }),
            ["title", "body", "until"]
        );
        let good = NewAnnouncement {
            title: "Графік подачі води".into(),
            body: "8 грудня вода з 6:00 до 22:00.".into(),
            until: Some(now + chrono::Duration::days(1)),
        };
        assert!(named(&good).is_empty());
        let control = NewAnnouncement {
            body: "рядок\u{c}розрив".into(),
            ..good.clone()
        };
        assert_eq!(
            named(&control),
            ["body"],
            "a form feed breaks the feeds' XML"
        );
        let long = NewAnnouncement {
            title: "а\nб".into(),
            body: "ж".repeat(BODY_MAX + 1),
            ..good.clone()
        };
        assert_eq!(named(&long), ["title", "body"]);
        let a = Announcement {
            id: Uuid::nil(),
            title: good.title,
            body: good.body,
            published_at: now,
            until: good.until,
            author: "sveta".into(),
            withdrawn_at: None,
            withdrawn_by: None,
        };
        assert!(a.current(now) && !a.current(now + chrono::Duration::days(2)));
        assert!(!a.current(now - chrono::Duration::seconds(1)));
    }
}
