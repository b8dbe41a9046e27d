//! E-mails to citizens (docs/web.md, "The confirmation"): the message an
//! appeal filed on the web is confirmed with, its row in `mail_outbox`,
//! and the task that sends what is due through `[reports.mail]`, retrying
//! as the mail settings say. Without `[reports.mail]` the messages wait.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tokio::sync::{Notify, watch};
use tracing::{info, warn};
use uuid::Uuid;

use crate::mail::{MailSettings, Mailer, Outgoing};
use crate::store::encoding::{Cols, DbTime, DbUuid};
use crate::store::{Store, StoreError, on_pool, query_err};

/// How long a sender holds a message it is sending before another node
/// may take it.
const CLAIM: Duration = Duration::from_secs(10 * 60);
/// How often the queue is looked at without being woken.
const PASS: Duration = Duration::from_secs(60);

/// What an appeal's confirmation says.
pub struct Confirmed<'a> {
    pub number: &'a str,
    pub category: &'a str,
    pub executor: &'a str,
    pub deadline: DateTime<Utc>,
    /// The site the status page is on (`[public] site_url`), if known.
    pub site_url: &'a str,
}

/// The confirmation's subject and plain text, in Ukrainian, times on the
/// city's clock. No personal data but the number: the address it goes to
/// is the citizen's own.
pub fn confirmation(c: &Confirmed, tz: Tz) -> (String, String) {
    let deadline = c.deadline.with_timezone(&tz).format("%d.%m.%Y %H:%M");
    let subject = format!("Звернення {} зареєстровано", c.number);
    let mut body = format!(
        "Ваше звернення до гарячої лінії 15-80 зареєстровано.\n\n\
         Реєстраційний номер: {}\n\
         Тема: {}\n\
         Виконавець: {}\n\
         Строк розгляду: до {deadline} (за київським часом)\n",
        c.number, c.category, c.executor
    );
    let site = c.site_url.trim().trim_end_matches('/');
    if !site.is_empty() {
        body.push_str(&format!(
            "\nСтан звернення: {site}/public/status?number={}\n\
             (потрібні номер звернення й останні 4 цифри вашого телефону)\n",
            c.number
        ));
    }
    body.push_str(
        "\nЦей лист надіслано автоматично, відповідати на нього не потрібно. \
         Якщо ви не подавали звернення, просто видаліть лист.\n",
    );
    (subject, body)
}

/// A message waiting to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    pub id: Uuid,
    pub to: String,
    pub subject: String,
    pub body: String,
    pub attempts: u32,
}

/// A confirmation queued, as one statement a caller's transaction runs
/// (the registration's): id, appeal, to, subject, body, now.
pub(crate) const INSERT_MAIL: &str = "INSERT INTO mail_outbox (id, appeal_id, kind, to_address, \
    subject, body, status, created_at, next_attempt_at) \
    VALUES ($1, $2, 'appeal_confirmation', $3, $4, $5, 'pending', $6, $6)";

impl Store {
    /// Queues a message about `appeal` to `to`, due now.
    pub async fn queue_mail(
        &self,
        appeal: Uuid,
        to: &str,
        subject: &str,
        body: &str,
        now: DateTime<Utc>,
    ) -> Result<Uuid, StoreError> {
        let id = Uuid::new_v4();
        on_pool!(self, |pool| sqlx::query(INSERT_MAIL)
            .bind(DbUuid(id))
            .bind(DbUuid(appeal))
            .bind(to)
            .bind(subject)
            .bind(body)
            .bind(DbTime::new(now))
            .execute(pool)
            .await
            .map(|_| id)
            .map_err(query_err("queue an e-mail")))
    }

    /// The next message due at `now` that no other sender holds, claimed
    /// until `until`.
    pub async fn claim_mail(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<Queued>, StoreError> {
        const PICK: &str = "SELECT id, to_address, subject, body, attempts FROM mail_outbox \
            WHERE status = 'pending' AND next_attempt_at <= $1 \
            AND (claimed_until IS NULL OR claimed_until <= $1) \
            ORDER BY next_attempt_at LIMIT 5";
        const CLAIM_ROW: &str = "UPDATE mail_outbox SET claimed_until = $3 \
            WHERE id = $1 AND status = 'pending' \
            AND (claimed_until IS NULL OR claimed_until <= $2)";
        on_pool!(self, |pool| {
            let rows = sqlx::query(PICK)
                .bind(DbTime::new(now))
                .fetch_all(pool)
                .await
                .map_err(query_err("find e-mails due"))?;
            for row in &rows {
                let c = Cols::new(row, "mail_outbox");
                let queued = Queued {
                    id: c.uuid("id")?,
                    to: c.get("to_address")?,
                    subject: c.get("subject")?,
                    body: c.get("body")?,
                    attempts: u32::try_from(c.get::<i32>("attempts")?).unwrap_or(0),
                };
                let claimed = sqlx::query(CLAIM_ROW)
                    .bind(DbUuid(queued.id))
                    .bind(DbTime::new(now))
                    .bind(DbTime::new(until))
                    .execute(pool)
                    .await
                    .map_err(query_err("claim an e-mail"))?;
                if claimed.rows_affected() == 1 {
                    return Ok(Some(queued));
                }
            }
            Ok(None)
        })
    }

    /// The message went.
    pub async fn mail_sent(&self, id: Uuid, at: DateTime<Utc>) -> Result<(), StoreError> {
        const SQL: &str = "UPDATE mail_outbox SET status = 'sent', sent_at = $2, \
            attempts = attempts + 1, claimed_until = NULL, last_error = NULL WHERE id = $1";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(DbUuid(id))
            .bind(DbTime::new(at))
            .execute(pool)
            .await
            .map(drop)
            .map_err(query_err("mark an e-mail sent")))
    }

    /// The message did not go: tried again at `retry_at`, or given up.
    pub async fn mail_failed(
        &self,
        id: Uuid,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        const SQL: &str = "UPDATE mail_outbox SET status = $2, \
            next_attempt_at = COALESCE($3, next_attempt_at), attempts = attempts + 1, \
            claimed_until = NULL, last_error = $4 WHERE id = $1";
        let status = if retry_at.is_some() {
            "pending"
        } else {
            "failed"
        };
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(DbUuid(id))
            .bind(status)
            .bind(retry_at.map(DbTime::new))
            .bind(error)
            .execute(pool)
            .await
            .map(drop)
            .map_err(query_err("mark an e-mail failed")))
    }

    /// How many messages wait to be sent.
    pub async fn mail_waiting(&self) -> Result<i64, StoreError> {
        const SQL: &str = "SELECT count(*) FROM mail_outbox WHERE status = 'pending'";
        on_pool!(self, |pool| sqlx::query_scalar::<_, i64>(SQL)
            .fetch_one(pool)
            .await
            .map_err(query_err("count the e-mails waiting")))
    }
}

/// Wakes the sender when a message is queued.
#[derive(Clone, Default)]
pub struct OutboxBell(Arc<Notify>);

impl OutboxBell {
    pub fn ring(&self) {
        self.0.notify_one();
    }
}

/// Sends what is due, one at a time; retries a failure as `mail` says
/// (a permanent refusal, like an unknown recipient, is given up at once).
pub async fn send_due(
    store: &Store,
    mailer: &Mailer,
    mail: &MailSettings,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let mut sent = 0;
    let until = now + chrono::Duration::from_std(CLAIM).unwrap_or_default();
    while let Some(m) = store.claim_mail(now, until).await? {
        let message = Outgoing {
            to: vec![m.to.clone()],
            subject: m.subject.clone(),
            body: m.body.clone(),
            attachment: None,
        };
        match mailer.send(&message).await {
            Ok(()) => {
                store.mail_sent(m.id, Utc::now()).await?;
                info!(mail = %m.id, "citizen e-mail sent");
                sent += 1;
            }
            Err(e) => {
                let retry_at = (!e.permanent())
                    .then(|| mail.retry_after(m.attempts + 1))
                    .flatten()
                    .and_then(|wait| chrono::Duration::from_std(wait).ok())
                    .map(|wait| Utc::now() + wait);
                // The citizen's address stays out of the log and the row.
                let error = e.without(&message.to);
                warn!(mail = %m.id, attempt = m.attempts + 1, %error, retry_at = ?retry_at, "a citizen e-mail could not be sent");
                store.mail_failed(m.id, &error, retry_at).await?;
            }
        }
    }
    Ok(sent)
}

/// The sender's task: at start, when rung, and every minute.
pub fn spawn(
    store: Store,
    mailer: Mailer,
    mail: MailSettings,
    bell: OutboxBell,
    mut shutdown: watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        loop {
            if let Err(e) = send_due(&store, &mailer, &mail, Utc::now()).await {
                warn!(error = %e, "the citizen e-mail sender cannot read or mark its queue");
            }
            tokio::select! {
                _ = bell.0.notified() => {}
                _ = tokio::time::sleep(PASS) => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{TestDb, both_backends};
    use chrono::TimeZone;

    both_backends!(the_outbox_claims_sends_retries_and_gives_up);
    both_backends!(a_confirmation_is_written_with_its_card_or_not_at_all);

    async fn a_confirmation_is_written_with_its_card_or_not_at_all(db: &TestDb) {
        use crate::appeal::store::{AlsoWritten, ConfirmationTo};
        let t0 = Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap();
        let category = crate::store::testing::sample_category(db, "sample", t0).await;
        let rules = crate::appeal::lifecycle::Lifecycle::default();
        let also = AlsoWritten {
            chatbot: None,
            open311: None,
            confirmation: Some(ConfirmationTo {
                to: "maria@example.ua",
                site_url: "https://1580.example",
                tz: chrono_tz::Europe::Kyiv,
            }),
        };
        let web = crate::appeal::lifecycle_store::Author::citizen("web");
        // Refused: neither the card nor its e-mail.
        let mut wrong = crate::store::testing::sample_appeal(category);
        wrong.surname.clear();
        assert!(
            db.register_appeal_with_files(&wrong, &rules, &web, &[], &also, t0)
                .await
                .is_err()
        );
        assert_eq!(db.mail_waiting().await.unwrap(), 0);
        let done = db
            .register_appeal_with_files(
                &crate::store::testing::sample_appeal(category),
                &rules,
                &web,
                &[],
                &also,
                t0,
            )
            .await
            .unwrap();
        assert_eq!(db.mail_waiting().await.unwrap(), 1);
        let mail = db
            .claim_mail(t0, t0 + chrono::Duration::minutes(10))
            .await
            .unwrap()
            .expect("queued with the card");
        let number = done.record.registration_number.to_string();
        assert!(mail.subject.contains(&number), "{}", mail.subject);
        assert!(
            mail.body.contains("https://1580.example/public/status"),
            "{}",
            mail.body
        );
        assert_eq!(mail.to, "maria@example.ua");
    }

    async fn the_outbox_claims_sends_retries_and_gives_up(db: &TestDb) {
        let t0 = Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap();
        let category = crate::store::testing::sample_category(db, "sample", t0).await;
        let appeal = db
            .register_appeal(
                &crate::store::testing::sample_appeal(category),
                &crate::appeal::lifecycle::Lifecycle::default(),
                &crate::appeal::lifecycle_store::Author::citizen("web"),
                t0,
            )
            .await
            .unwrap()
            .record;
        let a = db
            .queue_mail(appeal.id, "a@city.example", "s", "b", t0)
            .await
            .unwrap();
        let b = db
            .queue_mail(appeal.id, "b@city.example", "s", "b", t0)
            .await
            .unwrap();
        assert_eq!(db.mail_waiting().await.unwrap(), 2);
        let until = t0 + chrono::Duration::minutes(10);
        let first = db.claim_mail(t0, until).await.unwrap().expect("one due");
        let second = db.claim_mail(t0, until).await.unwrap().expect("the other");
        assert_ne!(
            first.id, second.id,
            "a claimed message is not claimed twice"
        );
        assert!(db.claim_mail(t0, until).await.unwrap().is_none());
        db.mail_sent(a, t0).await.unwrap();
        // A failure retried later, then given up.
        let retry = t0 + chrono::Duration::minutes(1);
        db.mail_failed(b, "451 try later", Some(retry))
            .await
            .unwrap();
        assert!(
            db.claim_mail(t0, until).await.unwrap().is_none(),
            "not before its time"
        );
        let again = db
            .claim_mail(retry, until)
            .await
            .unwrap()
            .expect("due again");
        assert_eq!((again.id, again.attempts), (b, 1));
        db.mail_failed(b, "550 no such mailbox", None)
            .await
            .unwrap();
        assert_eq!(db.mail_waiting().await.unwrap(), 0);
        assert!(
            db.claim_mail(
                retry + chrono::Duration::days(1),
                until + chrono::Duration::days(1)
            )
            .await
            .unwrap()
            .is_none()
        );
    }

    #[test]
    fn the_confirmation_says_the_number_executor_and_deadline_on_the_citys_clock() {
        let c = Confirmed {
            number: "1580-2026-000123",
            category: "Водопостачання / Відсутнє холодне водопостачання",
            executor: "КП «Водоканал»",
            deadline: Utc.with_ymd_and_hms(2026, 12, 7, 22, 30, 0).unwrap(),
            site_url: "https://1580.zp.gov.ua/",
        };
        let (subject, body) = confirmation(&c, chrono_tz::Europe::Kyiv);
        assert_eq!(subject, "Звернення 1580-2026-000123 зареєстровано");
        assert!(body.contains("до 08.12.2026 00:30"), "{body}");
        assert!(body.contains("КП «Водоканал»"));
        assert!(
            body.contains("https://1580.zp.gov.ua/public/status?number=1580-2026-000123"),
            "{body}"
        );
        let (_, body) = confirmation(&Confirmed { site_url: "", ..c }, chrono_tz::Europe::Kyiv);
        assert!(!body.contains("http"), "no link without the site's address");
    }
}
