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

use super::encoding::{DbTime, DbUuid};
use super::model::{AppealRecord, AppealStatus, text_enum};
use super::{Backend, Store, StoreError, registration_digits};

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
