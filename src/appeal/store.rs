//! The appeal's queries: registering one (a number from the year's
//! counter, the deadline from its category's class, the category's executor,
//! all in one transaction), writing a row directly, looking one up by its
//! number (any way it is written) or a caller's by phone, linking calls and
//! attachments, and reading everything on it.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::classifier_store::CategoryRecord;
use super::lifecycle::{Assignment, Card, ExecutorCode, Lifecycle, Notice, Outcome};
use super::lifecycle_store::{Author, StepValues};
use super::number::{RegistrationNumber, digits};
use super::record::{AppealDetail, AppealRecord, AppealRow, AppealStatus, Attachment, LinkedCall};
use super::registration::{AppealKind, Channel, FieldError, NewAppeal, RegisterError};
use crate::store::encoding::{Cols, DbTime, DbUuid, StoreRow};
use crate::store::{Store, StoreError, decode_all, insert_err, on_pool, query_err, to_i64};

macro_rules! appeal_columns {
    () => {
        "id, registration_number, status, category, executor, deadline, caller_phone, address, \
         created_at, call_id"
    };
}

fn appeal_from_row(row: &impl StoreRow) -> Result<AppealRecord, StoreError> {
    let c = Cols::new(row, "appeals");
    Ok(AppealRecord {
        id: c.uuid("id")?,
        registration_number: RegistrationNumber::new(c.get::<String>("registration_number")?),
        status: c.parsed("status", AppealStatus::parse)?,
        category: c.get("category")?,
        executor: c.get("executor")?,
        deadline: c.time("deadline")?,
        caller_phone: c.get("caller_phone")?,
        address: c.get("address")?,
        created_at: c.time("created_at")?,
        call_id: c.opt_uuid("call_id")?,
    })
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

/// Who has a card that waits in triage, as people read it.
pub const TRIAGE_NAME: &str = "Контакт-центр (розподіл)";

const INSERT_ATTACHMENT: &str = "INSERT INTO appeal_attachments \
    (id, appeal_id, file_name, content_type, size_bytes, sha256, path, uploaded_by, \
     uploaded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

impl Store {
    /// The appeal with this registration number (dashes optional), with its
    /// calls, their recordings and its attachments.
    pub async fn appeal_detail(&self, number: &str) -> Result<Option<AppealDetail>, StoreError> {
        const CARD: &str = "SELECT a.surname, a.first_name, a.patronymic, a.other_contact, \
            a.essence, a.email, a.channel, a.category_id, o.registration_number AS original, \
            u.login AS registered_by, a.kind, a.anonymous, a.latitude, a.longitude \
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
        let (fields, attached, attachments) = on_pool!(self, |pool| {
            let row = sqlx::query(CARD)
                .bind(DbUuid(id))
                .fetch_one(pool)
                .await
                .map_err(query_err("read an appeal card"))?;
            let fields = {
                let c = Cols::new(&row, "appeals");
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
                    c.opt_parsed("kind", AppealKind::parse)?,
                    c.get::<bool>("anonymous")?,
                    c.get::<Option<f64>>("latitude")?,
                    c.get::<Option<f64>>("longitude")?,
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
            Ok::<_, StoreError>((fields, attached, attachments))
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
            (fields.0, fields.1, fields.2, fields.3, fields.4, fields.5);
        let open311 = match fields.6 {
            Some(super::Channel::Open311) => {
                self.open311_origin(record.id)
                    .await?
                    .map(|(application, media_url)| super::record::Open311Origin {
                        application,
                        media_url,
                    })
            }
            _ => None,
        };
        Ok(Some(AppealDetail {
            record,
            surname,
            first_name,
            patronymic,
            other_contact,
            essence,
            email,
            channel: fields.6,
            category_id: fields.7,
            repeat_of: fields.8,
            registered_by: fields.9,
            kind: fields.10.unwrap_or(AppealKind::Statement),
            anonymous: fields.11,
            latitude: fields.12,
            longitude: fields.13,
            calls,
            attachments,
            open311,
        }))
    }

    /// Attaches a call to a registered appeal (the citizen called again about
    /// it). `false` if it was attached already, or it is the call the appeal
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

    /// Records a file stored for an appeal. `NotFound` for an unknown appeal.
    pub async fn add_attachment(
        &self,
        attachment: &Attachment,
        by: Option<Uuid>,
    ) -> Result<(), StoreError> {
        let size = to_i64("size_bytes", attachment.size_bytes)?;
        on_pool!(self, |pool| sqlx::query(INSERT_ATTACHMENT)
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

    /// One attachment of one appeal (both must match: an id from another
    /// appeal finds nothing).
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

impl Store {
    /// Stores a registered appeal. `AlreadyExists` with what = "appeal" if
    /// the id is taken, or what = "appeal registration number" if another
    /// appeal has this number or one with the same digits ("1580-2026-1"
    /// and "15802026-1" cannot both exist: a caller types only digits).
    /// `NotFound` if `call_id` names no stored call. A number without
    /// digits is refused by the database (a `Query` error).
    pub async fn insert_appeal(&self, appeal: &AppealRow) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO appeals \
            (id, registration_number, registration_digits, status, category, executor, \
             deadline, caller_phone, address, created_at, call_id) \
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
        let digits = digits(&appeal.registration_number);
        let inserted = on_pool!(self, |pool| sqlx::query(SQL)
            .bind(DbUuid(appeal.id))
            .bind(appeal.registration_number.as_str())
            .bind(&digits)
            .bind(appeal.status.as_str())
            .bind(&appeal.category)
            .bind(&appeal.executor)
            .bind(DbTime::new(appeal.deadline))
            .bind(&appeal.caller_phone)
            .bind(appeal.address.as_deref())
            .bind(DbTime::new(appeal.created_at))
            .bind(appeal.call_id.map(DbUuid))
            .execute(pool)
            .await
            .map(|_| ()));
        let Err(source) = inserted else {
            return Ok(());
        };
        // Two unique columns: the backends name the violated constraint
        // differently (or not at all), so ask which one it was.
        if source
            .as_database_error()
            .is_some_and(|e| e.is_unique_violation())
        {
            const ID_SQL: &str = "SELECT 1 FROM appeals WHERE id = $1";
            let (what, key) = if self.exists(ID_SQL, appeal.id, "look up an appeal").await? {
                ("appeal", appeal.id.to_string())
            } else {
                (
                    "appeal registration number",
                    appeal.registration_number.to_string(),
                )
            };
            return Err(StoreError::AlreadyExists { what, key });
        }
        let call = appeal.call_id.map(|id| ("call", id));
        Err(insert_err("insert an appeal", None, call)(source))
    }

    /// The appeal whose registration number is `number`, written with or
    /// without its dashes (any non-digit is ignored on both sides:
    /// "15802026000123" and "1580 2026 000123" find "1580-2026-000123").
    /// `None` if there is none, or if `number` has no digits.
    pub async fn appeal_by_registration_number(
        &self,
        number: &str,
    ) -> Result<Option<AppealRecord>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            appeal_columns!(),
            " FROM appeals WHERE registration_digits = $1"
        );
        let digits = digits(number);
        if digits.is_empty() {
            return Ok(None);
        }
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(&digits)
            .fetch_optional(pool)
            .await
            .map_err(query_err("look up an appeal by number"))?
            .map(|row| appeal_from_row(&row))
            .transpose())
    }

    /// The `limit` most recent appeals from the caller number `e164`, newest
    /// first (by registration time).
    pub async fn appeals_by_phone(
        &self,
        e164: &str,
        limit: u32,
    ) -> Result<Vec<AppealRecord>, StoreError> {
        // id breaks ties so the order is stable between requests.
        const SQL: &str = concat!(
            "SELECT ",
            appeal_columns!(),
            " FROM appeals WHERE caller_phone = $1 \
             ORDER BY created_at DESC, id DESC LIMIT $2"
        );
        on_pool!(self, |pool| decode_all(
            sqlx::query(SQL)
                .bind(e164)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
                .map_err(query_err("list appeals by phone"))?,
            appeal_from_row
        ))
    }

    /// The address of the most recent appeal from `e164` that gave one (a
    /// blank address counts as none): where the caller probably lives.
    pub async fn latest_address_for_phone(&self, e164: &str) -> Result<Option<String>, StoreError> {
        const SQL: &str = "SELECT address FROM appeals \
            WHERE caller_phone = $1 AND address IS NOT NULL AND trim(address) <> '' \
            ORDER BY created_at DESC, id DESC LIMIT 1";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(e164)
            .fetch_optional(pool)
            .await
            .map_err(query_err("look up a caller's address"))?
            .map(|row| Cols::new(&row, "appeals").get::<String>("address"))
            .transpose())
    }
}

/// A registration checked and decided, ready to be written: the card's
/// life from the rules, and the values of its row.
pub(crate) struct Prepared<'a> {
    pub(crate) appeal: &'a NewAppeal,
    pub(crate) id: Uuid,
    pub(crate) year: i32,
    /// None while the card waits in triage (sent without a subject).
    pub(crate) lead: Option<ExecutorCode>,
    pub(crate) category: Option<CategoryRecord>,
    pub(crate) category_text: String,
    pub(crate) repeat_of: Option<Uuid>,
    pub(crate) channel: Channel,
    /// The registration's step.
    pub(crate) outcome: Outcome,
    pub(crate) values: StepValues,
    /// The same problem again (000 §4.1.4): the step that puts the card
    /// under direct control, by the server, right after.
    pub(crate) direct: Option<(Outcome, StepValues)>,
}

impl Prepared<'_> {
    /// The card as it is once registered (and under direct control, if so).
    pub(crate) fn card(&self) -> &Card {
        match &self.direct {
            Some((outcome, _)) => &outcome.card,
            None => &self.outcome.card,
        }
    }
}

/// Writes a prepared registration inside `tx`: the next number of the
/// city's year (skipping any taken another way), the card's row, its
/// executors and its history. The number.
macro_rules! insert_registration {
    ($tx:expr, $p:expr, $author:expr, $now:expr) => {{
        const COUNTER_INIT: &str = "INSERT INTO registration_counters (year, last) VALUES ($1, 0) \
            ON CONFLICT (year) DO NOTHING";
        const COUNTER_NEXT: &str =
            "UPDATE registration_counters SET last = last + 1 WHERE year = $1 RETURNING last";
        const TAKEN: &str = "SELECT 1 FROM appeals WHERE registration_digits = $1";
        const INSERT: &str = "INSERT INTO appeals \
            (id, registration_number, registration_digits, status, category, executor, deadline, \
             caller_phone, address, created_at, call_id, surname, first_name, patronymic, \
             other_contact, essence, email, channel, category_id, repeat_of, registered_by, \
             term_start, control, delivery_at, kind, anonymous, emergency, direct_control, \
             latitude, longitude) \
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
                    $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30)";
        use $crate::appeal::lifecycle_store::{Author, write_parts_and_entry};
        use $crate::appeal::number::RegistrationNumber;
        use $crate::appeal::registration::AppealKind;
        use $crate::store::encoding::{DbTime, DbUuid};
        let p: &$crate::appeal::store::Prepared = $p;
        let (appeal, card) = (p.appeal, p.card());
        let trimmed = |s: &str| s.trim().to_owned();
        let optional = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        sqlx::query(COUNTER_INIT)
            .bind(p.year)
            .execute(&mut *$tx)
            .await?;
        let number = loop {
            let n: i64 = sqlx::query_scalar::<_, i32>(COUNTER_NEXT)
                .bind(p.year)
                .fetch_one(&mut *$tx)
                .await?
                .into();
            let number = RegistrationNumber::issue(p.year, n);
            let taken = sqlx::query(TAKEN)
                .bind(number.digits())
                .fetch_optional(&mut *$tx)
                .await?
                .is_some();
            if !taken {
                break number;
            }
        };
        sqlx::query(INSERT)
            .bind(DbUuid(p.id))
            .bind(number.as_str())
            .bind(number.digits())
            .bind(card.status.as_str())
            .bind(&p.category_text)
            .bind(p.lead.as_ref().map_or("", ExecutorCode::as_str))
            .bind(DbTime::new(card.deadline))
            .bind(trimmed(&appeal.contact_phone))
            .bind(trimmed(&appeal.address))
            .bind(DbTime::new($now))
            .bind(appeal.call_id.map(DbUuid))
            .bind(trimmed(&appeal.surname))
            .bind(trimmed(&appeal.first_name))
            .bind(trimmed(&appeal.patronymic))
            .bind(optional(&appeal.other_contact))
            .bind(appeal.essence.trim())
            .bind(optional(&appeal.email))
            .bind(p.channel.as_str())
            .bind(p.category.as_ref().map(|c| DbUuid(c.id)))
            .bind(p.repeat_of.map(DbUuid))
            .bind(appeal.registered_by.map(DbUuid))
            .bind(DbTime::new(card.term_start))
            .bind(card.control.as_str())
            .bind(card.delivery_at.map(DbTime::new))
            .bind(appeal.kind.unwrap_or(AppealKind::Statement).as_str())
            .bind(appeal.anonymous)
            .bind(card.emergency)
            .bind(card.direct_control)
            .bind(appeal.latitude)
            .bind(appeal.longitude)
            .execute(&mut *$tx)
            .await?;
        write_parts_and_entry!($tx, p.id, card, &p.outcome.entry, $author, $now, p.values);
        if let Some((outcome, values)) = &p.direct {
            let system = Author::system();
            write_parts_and_entry!($tx, p.id, card, &outcome.entry, system, $now, values);
        }
        number
    }};
}
pub(crate) use insert_registration;

impl Store {
    /// Registers the appeal: checks it (every problem at once), gives it the
    /// next registration number of the city's year, and starts its life as
    /// the lifecycle says (the category's executor as lead, the deadline
    /// from its class, delivered now or at the executor's next working
    /// hour), with the first entry of its history, in one transaction. A
    /// problem that keeps coming back puts the card under direct control.
    pub async fn register_appeal(
        &self,
        appeal: &NewAppeal,
        rules: &Lifecycle,
        author: &Author,
        now: DateTime<Utc>,
    ) -> Result<Registration, RegisterError> {
        self.register_appeal_with_files(appeal, rules, author, &[], &AlsoWritten::default(), now)
            .await
    }

    /// [`Store::register_appeal`] with files the citizen sent with the
    /// appeal (already stored under `[storage] attachments_dir`; their
    /// `appeal_id` is set here): the card, its files and the registration's
    /// entry that names them are written together or not at all; with
    /// `open311`, the application's request is written with them too.
    #[allow(clippy::too_many_arguments)]
    pub async fn register_appeal_with_files(
        &self,
        appeal: &NewAppeal,
        rules: &Lifecycle,
        author: &Author,
        files: &[Attachment],
        also: &AlsoWritten<'_>,
        now: DateTime<Utc>,
    ) -> Result<Registration, RegisterError> {
        let mut prepared = self.prepare_registration(appeal, rules, None, now).await?;
        if !files.is_empty() {
            prepared.outcome.entry.files = files.iter().map(|f| f.id).collect();
            prepared.values = StepValues::new(&prepared.outcome.card, &prepared.outcome.entry)?;
        }
        let sizes = files
            .iter()
            .map(|f| to_i64("size_bytes", f.size_bytes))
            .collect::<Result<Vec<_>, _>>()?;
        let number: Result<RegistrationNumber, sqlx::Error> = on_pool!(self, |pool| async {
            let mut tx = pool.begin().await?;
            let number = insert_registration!(tx, &prepared, author, now);
            for (file, size) in files.iter().zip(&sizes) {
                sqlx::query(INSERT_ATTACHMENT)
                    .bind(DbUuid(file.id))
                    .bind(DbUuid(prepared.id))
                    .bind(&file.file_name)
                    .bind(&file.content_type)
                    .bind(*size)
                    .bind(&file.sha256)
                    .bind(&file.path)
                    .bind(None::<DbUuid>)
                    .bind(DbTime::new(file.uploaded_at))
                    .execute(&mut *tx)
                    .await?;
            }
            if let Some(c) = &also.confirmation {
                let card = prepared.card();
                let (subject, body) = crate::public::outbox::confirmation(
                    &crate::public::outbox::Confirmed {
                        number: number.as_str(),
                        category: &prepared.category_text,
                        executor: prepared
                            .category
                            .as_ref()
                            .map_or(TRIAGE_NAME, |c| c.executor.name.as_str()),
                        deadline: card.deadline,
                        site_url: c.site_url,
                    },
                    c.tz,
                );
                sqlx::query(crate::public::outbox::INSERT_MAIL)
                    .bind(DbUuid(Uuid::new_v4()))
                    .bind(DbUuid(prepared.id))
                    .bind(c.to)
                    .bind(&subject)
                    .bind(&body)
                    .bind(DbTime::new(now))
                    .execute(&mut *tx)
                    .await?;
            }
            if let Some((messenger, account)) = also.chatbot {
                sqlx::query(crate::chatbot::store::INSERT_CARD)
                    .bind(DbUuid(prepared.id))
                    .bind(messenger)
                    .bind(account)
                    .bind(DbTime::new(now))
                    .execute(&mut *tx)
                    .await?;
            }
            if let Some(o) = also.open311 {
                sqlx::query(crate::open311::store::INSERT_ORIGIN)
                    .bind(DbUuid(prepared.id))
                    .bind(DbUuid(o.api_key))
                    .bind(&o.token)
                    .bind(o.extra.media_url.as_deref())
                    .bind(o.extra.account_id.as_deref())
                    .bind(o.extra.device_id.as_deref())
                    .bind(DbTime::new(now))
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(number)
        }
        .await);
        let number = number.map_err(|source| StoreError::Query {
            op: "register an appeal",
            source,
        })?;
        Ok(self.registered(prepared, &number).await?)
    }

    /// The registration of `number`, written from `prepared`.
    pub(crate) async fn registered(
        &self,
        prepared: Prepared<'_>,
        number: &RegistrationNumber,
    ) -> Result<Registration, StoreError> {
        let record =
            self.appeal_by_registration_number(number)
                .await?
                .ok_or(StoreError::NotFound {
                    what: "appeal",
                    id: prepared.id,
                })?;
        let mut notices = prepared.outcome.notices;
        if let Some((direct, _)) = prepared.direct {
            notices.extend(direct.notices);
        }
        Ok(Registration {
            record,
            executor_name: prepared
                .category
                .as_ref()
                .map_or_else(|| TRIAGE_NAME.to_string(), |c| c.executor.name.clone()),
            notices,
        })
    }

    /// Checks a new appeal and decides its life: its category's executor
    /// as lead (or `executors`, for a repeat that goes back to the same
    /// ones), its deadline, whether the same problem came before often
    /// enough for direct control.
    pub(crate) async fn prepare_registration<'a>(
        &self,
        appeal: &'a NewAppeal,
        rules: &Lifecycle,
        executors: Option<Vec<Assignment>>,
        now: DateTime<Utc>,
    ) -> Result<Prepared<'a>, RegisterError> {
        let mut problems = appeal.check();
        let category = match appeal.category_id {
            Some(id) => self.category(id).await?,
            None => None,
        };
        if appeal.category_id.is_some() && category.is_none() {
            problems.push(FieldError {
                field: "category",
                message: "Такої категорії немає в класифікаторі.".into(),
            });
        }
        let repeat_of = match appeal.repeat_of.trim() {
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
        if !problems.is_empty() {
            return Err(RegisterError::Fields(problems));
        }
        let id = Uuid::new_v4();
        // The city's year: a card filed at 00:30 on 1 January Kyiv time is
        // the new year's.
        let year = rules.calendar().year(now);
        let channel = appeal.channel.unwrap_or(if appeal.call_id.is_some() {
            Channel::Phone
        } else {
            Channel::WalkIn
        });
        if appeal.triage && executors.is_none() {
            // Sent without a subject: the contact centre classifies it.
            let mut outcome = rules.register_for_triage(id, now);
            outcome.card.anonymous = appeal.anonymous;
            let values = StepValues::new(&outcome.card, &outcome.entry)?;
            return Ok(Prepared {
                appeal,
                id,
                year,
                lead: None,
                category: None,
                category_text: String::new(),
                repeat_of,
                channel,
                outcome,
                values,
                direct: None,
            });
        }
        let Some(category) = category else {
            return Err(RegisterError::Fields(vec![FieldError {
                field: "category",
                message: "Оберіть категорію з класифікатора.".into(),
            }]));
        };
        let executors = match executors {
            Some(executors) => executors,
            None => vec![category.lead()?],
        };
        let invalid = |refusal: super::lifecycle::Refusal| StoreError::Invalid {
            field: "executor",
            reason: refusal.to_string(),
        };
        let lead = executors
            .iter()
            .find(|a| a.lead)
            .map(|a| a.executor.clone())
            .ok_or_else(|| invalid(super::lifecycle::Refusal::Executors))?;
        let curator = self.curator_of(lead.as_str()).await?;
        let mut outcome = rules
            .register(id, executors, category.deadline, curator, now)
            .map_err(invalid)?;
        outcome.card.anonymous = appeal.anonymous;
        let values = StepValues::new(&outcome.card, &outcome.entry)?;
        let category_text = category.path();
        let earlier = self
            .same_problem(repeat_of, &category_text, &appeal.address, rules, now)
            .await?;
        let direct = match super::verification::direct_control_reason(&earlier) {
            None => None,
            Some(reason) => {
                let step = rules
                    .handle(
                        &outcome.card,
                        super::lifecycle::Action::DirectControl { reason },
                        &super::lifecycle::Actor::System,
                        now,
                    )
                    .map_err(invalid)?;
                let values = StepValues::new(&step.card, &step.entry)?;
                Some((step, values))
            }
        };
        Ok(Prepared {
            appeal,
            id,
            year,
            lead: Some(lead),
            category: Some(category),
            category_text,
            repeat_of,
            channel,
            outcome,
            values,
            direct,
        })
    }

    /// The registration numbers of earlier appeals about the same problem
    /// (000 §4.1.4): those the new one repeats, one after the other, and
    /// those at the same address in the same category within the
    /// configured days. Oldest first.
    pub(crate) async fn same_problem(
        &self,
        repeat_of: Option<Uuid>,
        category: &str,
        address: &str,
        rules: &Lifecycle,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError> {
        // The chain of repeats, back to the first; bounded, as a cycle
        // written by hand must not loop.
        const CHAIN: &str = "WITH RECURSIVE chain (id, repeat_of, depth) AS ( \
            SELECT id, repeat_of, 0 FROM appeals WHERE id = $1 \
            UNION ALL SELECT a.id, a.repeat_of, c.depth + 1 FROM appeals a \
            JOIN chain c ON a.id = c.repeat_of WHERE c.depth < 50) \
            SELECT a.registration_number, a.created_at FROM appeals a \
            WHERE a.id IN (SELECT id FROM chain)";
        const NEAR: &str = "SELECT registration_number, created_at, address FROM appeals \
            WHERE category = $1 AND created_at >= $2 AND address IS NOT NULL";
        let key = address_key(address);
        let since = now - chrono::TimeDelta::days(i64::from(rules.same_problem_days()));
        let mut found: Vec<(DateTime<Utc>, String)> = Vec::new();
        if let Some(original) = repeat_of {
            found = on_pool!(self, |pool| decode_all(
                sqlx::query(CHAIN)
                    .bind(DbUuid(original))
                    .fetch_all(pool)
                    .await
                    .map_err(query_err("follow a chain of repeats"))?,
                |row| {
                    let c = Cols::new(row, "appeals");
                    Ok((c.time("created_at")?, c.get("registration_number")?))
                }
            ))?;
        }
        if !key.is_empty() {
            let near = on_pool!(self, |pool| decode_all(
                sqlx::query(NEAR)
                    .bind(category)
                    .bind(DbTime::new(since))
                    .fetch_all(pool)
                    .await
                    .map_err(query_err("look for the same problem"))?,
                |row| {
                    let c = Cols::new(row, "appeals");
                    Ok((
                        c.time("created_at")?,
                        c.get::<String>("registration_number")?,
                        c.get::<String>("address")?,
                    ))
                }
            ))?;
            found.extend(
                near.into_iter()
                    .filter(|(_, _, a)| address_key(a) == key)
                    .map(|(at, number, _)| (at, number)),
            );
        }
        found.sort();
        found.dedup_by(|a, b| a.1 == b.1);
        Ok(found.into_iter().map(|(_, number)| number).collect())
    }
}

/// An address as compared for "the same address": case, punctuation and
/// spacing aside ("вул. Миру, 5" is "вул миру 5").
pub fn address_key(address: &str) -> String {
    address
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a registration writes in its transaction besides the card and its
/// files, so that nothing of it is half-written.
#[derive(Default)]
pub struct AlsoWritten<'a> {
    /// The application's request, for a card filed through Open311.
    pub open311: Option<&'a crate::open311::store::Origin>,
    /// The e-mail confirming the appeal to the citizen (docs/web.md),
    /// queued with the card.
    pub confirmation: Option<ConfirmationTo<'a>>,
    /// The messenger account that filed it, for a card filed through the
    /// chat-bot (`(messenger, account)`).
    pub chatbot: Option<(&'a str, &'a str)>,
}

/// Where a confirmation goes and what it links to.
pub struct ConfirmationTo<'a> {
    pub to: &'a str,
    /// `[public] site_url`, for the status page's link.
    pub site_url: &'a str,
    /// The city's clock, for the deadline.
    pub tz: chrono_tz::Tz,
}

/// A registered appeal, and whom to tell of it (its executors' inboxes).
#[derive(Debug, Clone)]
pub struct Registration {
    pub record: AppealRecord,
    /// The lead executor's name, to show (the record holds its code).
    pub executor_name: String,
    pub notices: Vec<Notice>,
}
