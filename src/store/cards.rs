//! Registering an appeal card: the fields checked one by one (every problem
//! named with its field, in the operator's language), a registration number
//! given, the deadline computed from the category's deadline class and the
//! category's executor assigned, all in one transaction.
//!
//! Registration numbers read `1580-YYYY-NNNNNN`: the line's short number,
//! the year of registration and a sequence number within that year (six
//! digits, more once a year passes 999 999). They are given in order by a
//! per-year counter in the database, so two operators saving at once never
//! get the same one, and a number that is taken already (an imported card)
//! is skipped.

use chrono::{DateTime, Datelike, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::encoding::{Cols, DbTime, DbUuid, StoreRow};
use super::model::{AppealRecord, AppealStatus, text_enum};
use super::{Backend, Store, StoreError, decode_all, insert_err, query_err, registration_digits};

/// The first part of every registration number: the hotline's number.
pub const REGISTRATION_PREFIX: &str = "1580";

text_enum! {
    /// How the appeal came in.
    Channel {
        Phone => "phone",
        WalkIn => "walk_in",
        Web => "web",
        Chatbot => "chatbot",
    }
}

/// A card as the operator filled it in.
#[derive(Debug, Clone, Default)]
pub struct AppealCard {
    pub surname: String,
    pub first_name: String,
    pub patronymic: String,
    pub address: String,
    /// In E.164 (normalised by the caller of [`Store::register_appeal`]);
    /// empty when the citizen gave another contact.
    pub contact_phone: String,
    pub other_contact: String,
    pub essence: String,
    pub email: String,
    pub category_id: Option<Uuid>,
    pub call_id: Option<Uuid>,
    /// The registration number of the appeal this one repeats.
    pub repeat_of: String,
    pub channel: Option<Channel>,
    pub registered_by: Option<Uuid>,
}

/// A field that is wrong, and what to tell the operator (Ukrainian).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

fn required(out: &mut Vec<FieldError>, field: &'static str, value: &str, what: &str) {
    if value.trim().is_empty() {
        out.push(FieldError {
            field,
            message: format!("Вкажіть {what}."),
        });
    } else if value.chars().any(char::is_control) && field != "essence" {
        out.push(FieldError {
            field,
            message: "Поле містить недопустимі символи.".into(),
        });
    }
}

impl AppealCard {
    /// Every problem with the card, field by field; empty when it may be
    /// registered. The mandatory fields follow the regulation (000
    /// §2.2.1): surname, first name, patronymic, address, a contact (phone
    /// or other), the essence of the issue; and a category.
    pub fn check(&self) -> Vec<FieldError> {
        let mut out = Vec::new();
        required(&mut out, "surname", &self.surname, "прізвище");
        required(&mut out, "first_name", &self.first_name, "ім'я");
        required(&mut out, "patronymic", &self.patronymic, "по батькові");
        required(&mut out, "address", &self.address, "адресу");
        if self.contact_phone.trim().is_empty() && self.other_contact.trim().is_empty() {
            out.push(FieldError {
                field: "contact_phone",
                message: "Вкажіть контактний телефон або інший контакт.".into(),
            });
        }
        required(&mut out, "essence", &self.essence, "суть звернення");
        if self.essence.chars().count() > 4000 {
            out.push(FieldError {
                field: "essence",
                message: "Суть звернення — не довше 4000 символів.".into(),
            });
        }
        let email = self.email.trim();
        if !email.is_empty() {
            let ok = email
                .split_once('@')
                .is_some_and(|(user, host)| !user.is_empty() && host.contains('.'))
                && !email.contains(char::is_whitespace);
            if !ok {
                out.push(FieldError {
                    field: "email",
                    message: "Електронна пошта має вигляд name@example.com.".into(),
                });
            }
        }
        if self.category_id.is_none() {
            out.push(FieldError {
                field: "category",
                message: "Оберіть категорію з класифікатора.".into(),
            });
        }
        for (field, value) in [
            ("surname", &self.surname),
            ("first_name", &self.first_name),
            ("patronymic", &self.patronymic),
            ("address", &self.address),
        ] {
            if value.chars().count() > 200 {
                out.push(FieldError {
                    field,
                    message: "Не довше 200 символів.".into(),
                });
            }
        }
        out
    }
}

/// A registration number from its year and sequence number.
pub fn registration_number(year: i32, n: i64) -> String {
    format!("{REGISTRATION_PREFIX}-{year}-{n:06}")
}

/// Why a card was not registered.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("the card has {} problem(s)", .0.len())]
    Fields(Vec<FieldError>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Registers the card: checks it (every problem at once), gives it the
    /// next registration number of the year, the deadline from its
    /// category's class and the category's executor, in one transaction.
    pub async fn register_appeal(
        &self,
        card: &AppealCard,
        now: DateTime<Utc>,
    ) -> Result<AppealRecord, RegisterError> {
        let mut problems = card.check();
        let category = match card.category_id {
            Some(id) => self.category(id).await?,
            None => None,
        };
        if card.category_id.is_some() && category.is_none() {
            problems.push(FieldError {
                field: "category",
                message: "Такої категорії немає в класифікаторі.".into(),
            });
        }
        let repeat_of = match card.repeat_of.trim() {
            "" => None,
            number => match self.appeal_by_registration_number(number).await? {
                Some(original) => Some(original.id),
                None => {
                    problems.push(FieldError {
                        field: "repeat_of",
                        message: format!("Звернення {number} не знайдено."),
                    });
                    None
                }
            },
        };
        let Some(category) = category.filter(|_| problems.is_empty()) else {
            return Err(RegisterError::Fields(problems));
        };

        let id = Uuid::new_v4();
        let year = now.year();
        let deadline = category.deadline.deadline(now);
        let category_text = format!("{} / {}", category.section_name, category.type_name);
        let trimmed = |s: &str| s.trim().to_owned();
        let optional = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        const COUNTER_INIT: &str = "INSERT INTO registration_counters (year, last) VALUES ($1, 0) ON CONFLICT (year) DO NOTHING";
        const COUNTER_NEXT: &str =
            "UPDATE registration_counters SET last = last + 1 WHERE year = $1 RETURNING last";
        const TAKEN: &str = "SELECT 1 FROM appeals WHERE registration_digits = $1";
        const INSERT: &str = "INSERT INTO appeals \
            (id, registration_number, registration_digits, status, category, executor, deadline, \
             caller_phone, address, created_at, call_id, surname, first_name, patronymic, \
             other_contact, essence, email, channel, category_id, repeat_of, registered_by) \
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
                    $18, $19, $20, $21)";
        let channel = card.channel.unwrap_or(if card.call_id.is_some() {
            Channel::Phone
        } else {
            Channel::WalkIn
        });
        let number: Result<String, sqlx::Error> = on_pool!(self, |pool| async {
            let mut tx = pool.begin().await?;
            sqlx::query(COUNTER_INIT)
                .bind(year)
                .execute(&mut *tx)
                .await?;
            // Skip numbers already taken (cards registered another way).
            let number = loop {
                let n: i64 = sqlx::query_scalar::<_, i32>(COUNTER_NEXT)
                    .bind(year)
                    .fetch_one(&mut *tx)
                    .await?
                    .into();
                let number = registration_number(year, n);
                let taken = sqlx::query(TAKEN)
                    .bind(registration_digits(&number))
                    .fetch_optional(&mut *tx)
                    .await?
                    .is_some();
                if !taken {
                    break number;
                }
            };
            sqlx::query(INSERT)
                .bind(DbUuid(id))
                .bind(&number)
                .bind(registration_digits(&number))
                .bind(AppealStatus::Registered.as_str())
                .bind(&category_text)
                .bind(&category.executor.name)
                .bind(DbTime::new(deadline))
                .bind(trimmed(&card.contact_phone))
                .bind(trimmed(&card.address))
                .bind(DbTime::new(now))
                .bind(card.call_id.map(DbUuid))
                .bind(trimmed(&card.surname))
                .bind(trimmed(&card.first_name))
                .bind(trimmed(&card.patronymic))
                .bind(optional(&card.other_contact))
                .bind(card.essence.trim())
                .bind(optional(&card.email))
                .bind(channel.as_str())
                .bind(DbUuid(category.id))
                .bind(repeat_of.map(DbUuid))
                .bind(card.registered_by.map(DbUuid))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(number)
        }
        .await);
        let number = number.map_err(|source| StoreError::Query {
            op: "register an appeal",
            source,
        })?;
        Ok(self
            .appeal_by_registration_number(&number)
            .await?
            .ok_or(StoreError::NotFound { what: "appeal", id })?)
    }
}

/// A call linked to a card: the one it was registered on, or one attached
/// later, with the recordings of that call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedCall {
    pub call_id: Uuid,
    /// `None` for the call the card was registered on.
    pub attached_at: Option<DateTime<Utc>>,
    pub recordings: Vec<Uuid>,
}

/// A file attached to a card, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub id: Uuid,
    pub appeal_id: Uuid,
    /// The name it had on the operator's computer; never a path.
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: u64,
    pub sha256: String,
    /// Relative to `[storage] attachments_dir`, chosen by the server.
    pub path: String,
    pub uploaded_at: DateTime<Utc>,
}

/// A card with everything on it, for the console.
#[derive(Clone, PartialEq, Eq)]
pub struct AppealDetail {
    pub record: AppealRecord,
    pub surname: Option<String>,
    pub first_name: Option<String>,
    pub patronymic: Option<String>,
    pub other_contact: Option<String>,
    pub essence: Option<String>,
    pub email: Option<String>,
    pub channel: Option<Channel>,
    pub category_id: Option<Uuid>,
    /// The registration number of the appeal this one repeats.
    pub repeat_of: Option<String>,
    /// The login of the user who registered it.
    pub registered_by: Option<String>,
    /// The call it was registered on first, then attached calls in order.
    pub calls: Vec<LinkedCall>,
    pub attachments: Vec<Attachment>,
}

/// Personal data stays out of logs: only the record's redacted form.
impl std::fmt::Debug for AppealDetail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppealDetail")
            .field("record", &self.record)
            .field("channel", &self.channel)
            .field("calls", &self.calls.len())
            .field("attachments", &self.attachments.len())
            .finish_non_exhaustive()
    }
}

fn attachment_from_row(row: &impl StoreRow) -> Result<Attachment, StoreError> {
    let c = Cols::new(row, "appeal_attachments");
    Ok(Attachment {
        id: c.uuid("id")?,
        appeal_id: c.uuid("appeal_id")?,
        file_name: c.get("file_name")?,
        content_type: c.get("content_type")?,
        size_bytes: c.int::<i64, u64>("size_bytes")?,
        sha256: c.get("sha256")?,
        path: c.get("path")?,
        uploaded_at: c.time("uploaded_at")?,
    })
}

impl Store {
    /// The card with this registration number (dashes optional), with its
    /// calls, their recordings and its attachments.
    pub async fn appeal_detail(&self, number: &str) -> Result<Option<AppealDetail>, StoreError> {
        const CARD: &str = "SELECT a.surname, a.first_name, a.patronymic, a.other_contact, \
            a.essence, a.email, a.channel, a.category_id, o.registration_number AS original, \
            u.login AS registered_by \
            FROM appeals a LEFT JOIN appeals o ON o.id = a.repeat_of \
            LEFT JOIN users u ON u.id = a.registered_by WHERE a.id = $1";
        const ATTACHED: &str = "SELECT call_id, attached_at FROM appeal_calls \
            WHERE appeal_id = $1 ORDER BY attached_at, call_id";
        const ATTACHMENTS: &str = "SELECT id, appeal_id, file_name, content_type, size_bytes, \
            sha256, path, uploaded_at FROM appeal_attachments \
            WHERE appeal_id = $1 ORDER BY uploaded_at, id";
        let Some(record) = self.appeal_by_registration_number(number).await? else {
            return Ok(None);
        };
        let id = record.id;
        let (card, attached, attachments) = on_pool!(self, |pool| {
            let card = sqlx::query(CARD)
                .bind(DbUuid(id))
                .fetch_one(pool)
                .await
                .map_err(query_err("read an appeal card"))?;
            let card = {
                let c = Cols::new(&card, "appeals");
                (
                    c.get::<Option<String>>("surname")?,
                    c.get::<Option<String>>("first_name")?,
                    c.get::<Option<String>>("patronymic")?,
                    c.get::<Option<String>>("other_contact")?,
                    c.get::<Option<String>>("essence")?,
                    c.get::<Option<String>>("email")?,
                    c.opt_parsed("channel", Channel::parse)?,
                    c.opt_uuid("category_id")?,
                    c.get::<Option<String>>("original")?,
                    c.get::<Option<String>>("registered_by")?,
                )
            };
            let attached = decode_all(
                sqlx::query(ATTACHED)
                    .bind(DbUuid(id))
                    .fetch_all(pool)
                    .await
                    .map_err(query_err("list an appeal's calls"))?,
                |row| {
                    let c = Cols::new(row, "appeal_calls");
                    Ok((c.uuid("call_id")?, c.time("attached_at")?))
                },
            )?;
            let attachments = decode_all(
                sqlx::query(ATTACHMENTS)
                    .bind(DbUuid(id))
                    .fetch_all(pool)
                    .await
                    .map_err(query_err("list an appeal's attachments"))?,
                attachment_from_row,
            )?;
            Ok::<_, StoreError>((card, attached, attachments))
        })?;
        let mut calls = Vec::new();
        let linked = record
            .call_id
            .map(|c| (c, None))
            .into_iter()
            .chain(attached.into_iter().map(|(c, at)| (c, Some(at))));
        for (call_id, attached_at) in linked {
            let recordings = self
                .recordings_for_call(call_id)
                .await?
                .into_iter()
                .map(|r| r.id)
                .collect();
            calls.push(LinkedCall {
                call_id,
                attached_at,
                recordings,
            });
        }
        let (surname, first_name, patronymic, other_contact, essence, email) =
            (card.0, card.1, card.2, card.3, card.4, card.5);
        Ok(Some(AppealDetail {
            record,
            surname,
            first_name,
            patronymic,
            other_contact,
            essence,
            email,
            channel: card.6,
            category_id: card.7,
            repeat_of: card.8,
            registered_by: card.9,
            calls,
            attachments,
        }))
    }

    /// Attaches a call to a registered card (the citizen called again about
    /// it). `false` if it was attached already, or it is the call the card
    /// was registered on. `NotFound` for an unknown appeal or call.
    pub async fn attach_call(
        &self,
        appeal_id: Uuid,
        call_id: Uuid,
        by: Option<Uuid>,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        const OWN: &str = "SELECT 1 FROM appeals WHERE id = $1 AND call_id = $2";
        const SQL: &str = "INSERT INTO appeal_calls (appeal_id, call_id, attached_by, attached_at) \
            VALUES ($1, $2, $3, $4) ON CONFLICT (appeal_id, call_id) DO NOTHING";
        let own = on_pool!(self, |pool| sqlx::query(OWN)
            .bind(DbUuid(appeal_id))
            .bind(DbUuid(call_id))
            .fetch_optional(pool)
            .await
            .map(|row| row.is_some())
            .map_err(query_err("check an appeal's call")))?;
        if own {
            return Ok(false);
        }
        if self.get_call(call_id).await?.is_none() {
            return Err(StoreError::NotFound {
                what: "call",
                id: call_id,
            });
        }
        let inserted = on_pool!(self, |pool| sqlx::query(SQL)
            .bind(DbUuid(appeal_id))
            .bind(DbUuid(call_id))
            .bind(by.map(DbUuid))
            .bind(DbTime::new(at))
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
            .map_err(insert_err(
                "attach a call to an appeal",
                None,
                Some(("appeal", appeal_id))
            )))?;
        Ok(inserted > 0)
    }

    /// Records a file stored for a card. `NotFound` for an unknown appeal.
    pub async fn add_attachment(
        &self,
        attachment: &Attachment,
        by: Option<Uuid>,
    ) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO appeal_attachments \
            (id, appeal_id, file_name, content_type, size_bytes, sha256, path, uploaded_by, \
             uploaded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
        let size = super::to_i64("size_bytes", attachment.size_bytes)?;
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(DbUuid(attachment.id))
            .bind(DbUuid(attachment.appeal_id))
            .bind(&attachment.file_name)
            .bind(&attachment.content_type)
            .bind(size)
            .bind(&attachment.sha256)
            .bind(&attachment.path)
            .bind(by.map(DbUuid))
            .bind(DbTime::new(attachment.uploaded_at))
            .execute(pool)
            .await
            .map(|_| ())
            .map_err(insert_err(
                "store an attachment",
                Some(("attachment", attachment.id)),
                Some(("appeal", attachment.appeal_id))
            )))
    }

    /// One attachment of one card (both must match: an id from another
    /// card finds nothing).
    pub async fn attachment(
        &self,
        appeal_id: Uuid,
        id: Uuid,
    ) -> Result<Option<Attachment>, StoreError> {
        const SQL: &str = "SELECT id, appeal_id, file_name, content_type, size_bytes, sha256, \
            path, uploaded_at FROM appeal_attachments WHERE id = $1 AND appeal_id = $2";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(DbUuid(id))
            .bind(DbUuid(appeal_id))
            .fetch_optional(pool)
            .await
            .map_err(query_err("read an attachment"))?
            .map(|row| attachment_from_row(&row))
            .transpose())
    }
}
