//! HTTP of the public pages (docs/web.md), no sign-in:
//! * `GET /public/appeal`, `GET /public/status`, `GET /public/works`: the
//!   pages (the works page's JSON and feeds are in [`super::works`]);
//! * `GET /public/api/form`: the classifier as the form offers it, the
//!   map, the files' limits;
//! * `POST /public/api/appeals`: an appeal (multipart: the fields and up
//!   to `[public] max_files` files), registered with channel `web`;
//! * `GET /public/api/status?number=&digits=`: an appeal's public status.
//!
//! Abuse: forms and registrations per address and per contact, a field
//! only scripts fill in, the body's and each file's size, the block list
//! (000 §2.5.2). Nothing here is under `/api`, so nothing here takes or
//! needs a session.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Multipart, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Redirect, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracing::info;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;
use uuid::Uuid;

use super::limits::{RateLimit, Taken, address_key, client_ip};
use super::outbox::OutboxBell;
use super::status::{PublicStep, phone_matches, public_step, status_text};
use super::{MAX_TEXT_BYTES, PublicSettings};
use crate::api::console::Consoles;
use crate::api::error::{ErrorBody, FieldsBody};
use crate::api::{ApiError, AppState};
use crate::appeal::attachments::{AttachmentError, AttachmentFiles, StoredFile, Uploads};
use crate::appeal::lifecycle::{EntryKind, Lifecycle};
use crate::appeal::lifecycle_store::Author;
use crate::appeal::store::{AlsoWritten, ConfirmationTo};
use crate::appeal::watcher::WatcherHandle;
use crate::appeal::{Attachment, Channel, FieldError, NewAppeal};
use crate::phone::NumberingPlan;
use crate::store::Store;

/// The longest text field, in characters (the essence's 4,000 and room).
const MAX_FIELD_CHARS: usize = 8_000;

/// The most of one text field that is read, in bytes: past it the field is
/// refused unread (its characters are at most 4 bytes each).
const MAX_FIELD_BYTES: usize = 4 * MAX_FIELD_CHARS;

/// What the public routes share: the settings, the limits' counts, and
/// where the citizens' files go (the cards' folder, the public size).
#[derive(Clone)]
pub struct Public {
    pub settings: Arc<PublicSettings>,
    limits: Arc<Mutex<Limits>>,
    files: AttachmentFiles,
    /// Wakes the e-mail sender when a confirmation is queued.
    bell: OutboxBell,
}

struct Limits {
    attempts: RateLimit<IpAddr>,
    appeals_by_address: RateLimit<IpAddr>,
    appeals_by_contact: RateLimit<String>,
    status_failures: RateLimit<IpAddr>,
    status_failures_by_number: RateLimit<String>,
    /// Open311 requests filed per application's key.
    open311_by_key: RateLimit<Uuid>,
    /// Open311 reads per client address.
    open311_reads: RateLimit<IpAddr>,
}

/// A place taken in one of the limits.
enum Place {
    Appeal(IpAddr, Taken),
    Contact(String, Taken),
    StatusFailure(IpAddr, Taken),
    NumberFailure(String, Taken),
}

/// Places taken in the limits before the thing they count is done: taken
/// and counted in one step (two requests at once cannot both pass on the
/// last place), given back when dropped unless [`Places::keep`] says the
/// thing happened. A form that is refused, or whose client goes away,
/// does not count as an appeal.
struct Places {
    public: Public,
    taken: Vec<Place>,
}

impl Places {
    fn new(public: &Public) -> Places {
        Places {
            public: public.clone(),
            taken: Vec::new(),
        }
    }

    /// Takes the places `take` asks for, all or none.
    fn take(
        &mut self,
        take: impl FnOnce(&mut Limits, Instant) -> Result<Vec<Place>, Duration>,
    ) -> Result<(), Duration> {
        let mut limits = self.public.limits();
        let places = take(&mut limits, Instant::now())?;
        self.taken.extend(places);
        Ok(())
    }

    /// What was counted stays counted.
    fn keep(mut self) {
        self.taken.clear();
    }
}

impl Drop for Places {
    fn drop(&mut self) {
        if self.taken.is_empty() {
            return;
        }
        let mut limits = self.public.limits();
        limits.give_back(self.taken.drain(..));
    }
}

impl Limits {
    fn give_back(&mut self, places: impl IntoIterator<Item = Place>) {
        for place in places {
            match place {
                Place::Appeal(ip, t) => self.appeals_by_address.give_back(&ip, t),
                Place::Contact(c, t) => self.appeals_by_contact.give_back(&c, t),
                Place::StatusFailure(ip, t) => self.status_failures.give_back(&ip, t),
                Place::NumberFailure(n, t) => self.status_failures_by_number.give_back(&n, t),
            }
        }
    }

    /// A place per contact, all or none.
    fn take_contacts(&mut self, contacts: &[String], now: Instant) -> Result<Vec<Place>, Duration> {
        let mut taken = Vec::new();
        for c in contacts {
            match self.appeals_by_contact.take(c, now) {
                Ok(t) => taken.push(Place::Contact(c.clone(), t)),
                Err(wait) => {
                    self.give_back(taken);
                    return Err(wait);
                }
            }
        }
        Ok(taken)
    }
}

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);

impl Public {
    pub fn new(
        settings: PublicSettings,
        attachments: &AttachmentFiles,
        bell: OutboxBell,
    ) -> Public {
        let limits = Limits {
            attempts: RateLimit::new(settings.attempts_per_address_hour, HOUR),
            appeals_by_address: RateLimit::new(settings.appeals_per_address_hour, HOUR),
            appeals_by_contact: RateLimit::new(settings.appeals_per_contact_day, DAY),
            status_failures: RateLimit::new(settings.status_failures_per_address_hour, HOUR),
            status_failures_by_number: RateLimit::new(
                settings.status_failures_per_number_hour,
                HOUR,
            ),
            open311_by_key: RateLimit::new(settings.open311.requests_per_key_hour, HOUR),
            open311_reads: RateLimit::new(settings.open311.reads_per_address_minute, MINUTE),
        };
        let files = AttachmentFiles::new(attachments.dir(), settings.file_max_bytes());
        Public {
            settings: Arc::new(settings),
            limits: Arc::new(Mutex::new(limits)),
            files,
            bell,
        }
    }

    fn limits(&self) -> std::sync::MutexGuard<'_, Limits> {
        self.limits.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One Open311 request filed with `key`, counted; or how long until
    /// the application may file again.
    pub(crate) fn take_open311_request(&self, key: Uuid) -> Result<(), Duration> {
        let mut limits = self.limits();
        limits.open311_by_key.take(&key, Instant::now()).map(drop)
    }

    /// One Open311 read by the client at `peer`, counted; or how long
    /// until it may read again.
    pub(crate) fn take_open311_read(
        &self,
        peer: SocketAddr,
        headers: &HeaderMap,
    ) -> Result<(), Duration> {
        let ip = self.client(peer, headers);
        let mut limits = self.limits();
        limits.open311_reads.take(&ip, Instant::now()).map(drop)
    }

    /// The key the client is counted by (its address; an IPv6 one by /64).
    fn client(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        address_key(client_ip(
            peer.ip(),
            headers,
            &self.settings.trusted_proxies,
        ))
    }
}

pub fn routes(public: &Public) -> OpenApiRouter<AppState> {
    if !public.settings.enabled {
        return OpenApiRouter::new();
    }
    OpenApiRouter::new()
        .route("/public", get(|| async { Redirect::to("/public/appeal") }))
        .route("/public/appeal", get(page))
        .route("/public/status", get(page))
        .route("/public/works", get(page))
        .routes(routes!(super::works::works_json))
        .routes(routes!(super::works::atom))
        .routes(routes!(super::works::rss))
        .routes(routes!(form))
        .routes(routes!(search_classifier))
        .routes(routes!(file_appeal).layer(DefaultBodyLimit::max(public.settings.max_body())))
        .routes(routes!(status))
}

/// The public page, with a policy that lets the map's tiles in.
async fn page(State(public): State<Public>, headers: HeaderMap) -> Response {
    let mut response = crate::api::web::serve("public.html", &headers);
    let img = match public.settings.map.tile_origin() {
        Some(origin) => format!("img-src 'self' data: blob: {origin}"),
        None => "img-src 'self' data: blob:".to_string(),
    };
    let policy =
        crate::api::web::CONTENT_SECURITY_POLICY.replace("img-src 'self' data: blob:", &img);
    if let Ok(v) = HeaderValue::from_str(&policy) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, v);
    }
    // Tile servers ask to know the site their tiles are shown on (the
    // origin only: the page's path and query stay here).
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin"),
    );
    response
}

/// `GET /public/api/form`.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = PublicForm)]
struct FormView {
    sections: Vec<SectionView>,
    map: super::MapSettings,
    max_files: usize,
    file_max_mb: u64,
    /// The file types taken, by extension.
    #[schema(value_type = Vec<String>)]
    file_types: Vec<&'static str>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = PublicSection)]
struct SectionView {
    name: String,
    types: Vec<TypeView>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = PublicIssueType)]
struct TypeView {
    id: Uuid,
    name: String,
    executor: String,
    /// The deadline class (`DeadlineClass::as_str`).
    #[schema(value_type = crate::appeal::classifier::DeadlineClass)]
    deadline: &'static str,
}

/// The form's issue types that match what a citizen typed, best first
/// (the console's search: the type's name, its synonyms, its section).
#[utoipa::path(get, path = "/public/api/classifier/search", operation_id = "public_classifier_search", tag = "public",
    params(crate::appeal::routes::SearchQuery),
    responses(
        (status = 200, body = crate::appeal::routes::Matches),
        (status = 503, body = ErrorBody, description = "No classifier imported yet"),
    ))]
async fn search_classifier(
    State(store): State<Store>,
    Query(query): Query<crate::appeal::routes::SearchQuery>,
) -> Result<Json<crate::appeal::routes::Matches>, ApiError> {
    let (version, types) = store.search_classifier(&query.q).await?.ok_or_else(|| {
        ApiError::unavailable("Пошук тимчасово недоступний / Search is not available yet.")
    })?;
    Ok(Json(crate::appeal::routes::Matches {
        version: version.number,
        types,
    }))
}

/// What the public form offers: the classifier's issue types by section,
/// the map, and the files' limits.
#[utoipa::path(get, path = "/public/api/form", operation_id = "public_form", tag = "public",
    responses(
        (status = 200, body = FormView),
        (status = 503, body = ErrorBody, description = "No classifier imported yet"),
    ))]
async fn form(
    State(store): State<Store>,
    State(public): State<Public>,
) -> Result<Json<FormView>, ApiError> {
    let version = store
        .current_classifier_version()
        .await?
        .ok_or_else(|| ApiError::unavailable(
            "Форма тимчасово недоступна: класифікатор ще не завантажено / The form is not available yet.",
        ))?;
    let mut sections: Vec<(String, SectionView)> = Vec::new();
    for c in store.categories(version.number).await? {
        let item = TypeView {
            id: c.id,
            name: c.type_name,
            executor: c.executor.name,
            deadline: c.deadline.as_str(),
        };
        match sections.last_mut() {
            Some((code, s)) if *code == c.section_code => s.types.push(item),
            _ => sections.push((
                c.section_code,
                SectionView {
                    name: c.section_name,
                    types: vec![item],
                },
            )),
        }
    }
    let mut file_types: Vec<&'static str> = crate::appeal::attachments::KINDS
        .iter()
        .map(|(_, ext)| *ext)
        .collect();
    file_types.dedup();
    Ok(Json(FormView {
        sections: sections.into_iter().map(|(_, s)| s).collect(),
        map: public.settings.map.clone(),
        max_files: public.settings.max_files,
        file_max_mb: public.settings.file_max_mb,
        file_types,
    }))
}

/// The form's text fields as sent.
#[derive(Default)]
struct FormFields {
    surname: String,
    first_name: String,
    patronymic: String,
    address: String,
    contact_phone: String,
    other_contact: String,
    email: String,
    essence: String,
    category: String,
    latitude: String,
    longitude: String,
    consent: String,
    /// Hidden from people; a script fills it in.
    website: String,
}

impl FormFields {
    /// The field named `name` (its name as `&'static str`, for its error),
    /// if the form has one.
    fn slot(&mut self, name: &str) -> Option<(&'static str, &mut String)> {
        Some(match name {
            "surname" => ("surname", &mut self.surname),
            "first_name" => ("first_name", &mut self.first_name),
            "patronymic" => ("patronymic", &mut self.patronymic),
            "address" => ("address", &mut self.address),
            "contact_phone" => ("contact_phone", &mut self.contact_phone),
            "other_contact" => ("other_contact", &mut self.other_contact),
            "email" => ("email", &mut self.email),
            "essence" => ("essence", &mut self.essence),
            "category" => ("category", &mut self.category),
            "latitude" => ("latitude", &mut self.latitude),
            "longitude" => ("longitude", &mut self.longitude),
            "consent" => ("consent", &mut self.consent),
            "website" => ("website", &mut self.website),
            _ => return None,
        })
    }
}

/// A file the citizen sent, stored, with the name it had.
struct SentFile {
    stored: StoredFile,
    id: Uuid,
    name: Option<String>,
}

/// What the citizen is told once the appeal is registered.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = PublicFiled)]
struct Filed {
    registration_number: String,
    deadline: DateTime<Utc>,
    executor: String,
    #[schema(value_type = String)]
    status: &'static str,
    #[schema(value_type = String)]
    status_en: &'static str,
}

/// Said when the limits are reached.
const TRY_LATER: &str = "Забагато звернень з цієї адреси. Спробуйте пізніше або зателефонуйте \
    на гарячу лінію.";
const CONTACT_TRY_LATER: &str = "З цим контактом сьогодні вже зареєстровано кілька звернень. \
    Спробуйте завтра або зателефонуйте на гарячу лінію.";

/// The public form's multipart body, as the document describes it (it
/// is read part by part, [`read_form`]).
#[derive(utoipa::ToSchema)]
#[schema(as = PublicAppealForm)]
#[allow(dead_code)]
struct AppealForm {
    surname: String,
    first_name: String,
    patronymic: String,
    /// Where the problem is: street, house, flat.
    address: String,
    /// The contact phone; or `other_contact`.
    #[schema(required = false)]
    contact_phone: String,
    #[schema(required = false)]
    other_contact: String,
    /// For the confirmation e-mail.
    #[schema(required = false)]
    email: String,
    /// What is wrong, 4,000 characters at most.
    essence: String,
    /// An issue type's id from `GET /public/api/form`, or `unknown` ("не
    /// знаю": the contact centre picks the subject).
    category: String,
    #[schema(required = false)]
    latitude: f64,
    #[schema(required = false)]
    longitude: f64,
    /// The consent to personal-data processing: `yes`.
    consent: String,
    /// Left empty: only scripts fill it in, and their forms are refused.
    #[schema(required = false)]
    website: String,
    /// Photos and documents (`[public] max_files`, each at most
    /// `file_max_mb`).
    #[schema(required = false, value_type = Vec<Value>)]
    files: Vec<Vec<u8>>,
}

#[allow(clippy::too_many_arguments)]
/// Files an appeal from the city's web site: registered with channel
/// `web`, delivered to its executor like a phone card. Limited per address
/// and per contact; a blocked contact is refused and nothing is
/// registered.
#[utoipa::path(post, path = "/public/api/appeals", operation_id = "file_public_appeal", tag = "public",
    request_body(content = AppealForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = Filed, description = "Registered: the number and the deadline"),
        (status = 400, body = ErrorBody, description = "Not a multipart form"),
        (status = 403, body = ErrorBody, description = "The contact is blocked"),
        (status = 413, body = ErrorBody, description = "The form or a file is too large"),
        (status = 422, body = FieldsBody, description = "A message per wrong field (Ukrainian)"),
        (status = 429, body = ErrorBody, description = "Too many appeals from this address or contact",
            headers(("retry-after" = u64, description = "Seconds to wait"))),
    ))]
async fn file_appeal(
    State(store): State<Store>,
    State(public): State<Public>,
    State(numbering): State<NumberingPlan>,
    State(rules): State<Arc<Lifecycle>>,
    State(consoles): State<Consoles>,
    State(watcher): State<WatcherHandle>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<Filed>), ApiError> {
    let ip = public.client(peer, &headers);
    // Every form counts as an attempt; the appeal's place is given back
    // unless it is registered.
    let mut places = Places::new(&public);
    places
        .take(|limits, now| {
            if let Some(wait) = limits
                .attempts
                .wait(&ip, now)
                .or_else(|| limits.appeals_by_address.wait(&ip, now))
            {
                return Err(wait);
            }
            limits.attempts.hit(ip, now);
            let t = limits.appeals_by_address.take(&ip, now)?;
            Ok(vec![Place::Appeal(ip, t)])
        })
        .map_err(|retry_after| ApiError::TooManyRequests {
            message: TRY_LATER,
            retry_after,
        })?;
    let mut multipart =
        multipart.map_err(|_| ApiError::bad_request("send the form as multipart/form-data"))?;
    let now = Utc::now();
    // Every file stored is removed unless the appeal is registered, also
    // if the client goes away midway.
    let mut uploads = Uploads::new(&public.files);
    let mut form = Form::default();
    read_form(&public, &mut multipart, &mut uploads, &mut form, now).await?;
    // The rest in a task of its own: a client that goes away now leaves
    // neither a card without its files nor files without a card.
    let task = Registering {
        store,
        public: public.clone(),
        numbering,
        rules,
        form,
        now,
        places,
    };
    let (record, executor_name, notices, files) = tokio::spawn(task.run(uploads))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    consoles.card_changed(
        record.registration_number.as_str(),
        EntryKind::Registered,
        record.status,
        &notices,
    );
    watcher.poke();
    info!(number = %record.registration_number, channel = "web", files, "appeal filed on the public form");
    let (status, status_en) = status_text(record.status);
    Ok((
        StatusCode::CREATED,
        Json(Filed {
            registration_number: record.registration_number.to_string(),
            deadline: record.deadline,
            executor: executor_name,
            status,
            status_en,
        }),
    ))
}

/// What the form brought: its fields, the files stored, and the problems
/// found while reading it.
#[derive(Default)]
struct Form {
    fields: FormFields,
    files: Vec<SentFile>,
    errors: Vec<FieldError>,
}

/// The checks and the registration, in a task the client cannot cancel.
struct Registering {
    store: Store,
    public: Public,
    numbering: NumberingPlan,
    rules: Arc<Lifecycle>,
    form: Form,
    now: DateTime<Utc>,
    /// The limits' places, kept once the appeal is registered.
    places: Places,
}

type Registered = (
    crate::appeal::AppealRecord,
    String,
    Vec<crate::appeal::lifecycle::Notice>,
    usize,
);

impl Registering {
    /// Registers the appeal with its files, or removes them.
    async fn run(self, uploads: Uploads) -> Result<Registered, ApiError> {
        match self.register().await {
            Ok(done) => {
                uploads.keep();
                Ok(done)
            }
            Err(e) => {
                uploads.discard().await;
                Err(e)
            }
        }
    }

    async fn register(self) -> Result<Registered, ApiError> {
        let Registering {
            store,
            public,
            numbering,
            rules,
            mut form,
            now,
            mut places,
        } = self;
        if !form.fields.website.trim().is_empty() {
            return Err(ApiError::bad_request(
                "Форму заповнено не людиною: звернення не зареєстровано.",
            ));
        }
        let appeal = new_appeal(&form.fields, &numbering, &mut form.errors);
        let mut errors = form.errors;
        errors.extend(appeal.check());
        if !errors.is_empty() {
            errors.sort_by_key(|e| e.field);
            errors.dedup_by_key(|e| e.field);
            return Err(ApiError::Fields(errors));
        }
        // A blocked contact (000 §2.5.2): the contact phone, the e-mail,
        // or a phone, an address or an account typed as the other contact.
        // A polite refusal, and the attempt is on the block's record.
        let typed = [&appeal.contact_phone, &appeal.email, &appeal.other_contact];
        if let Some(key) = store
            .blocked_contact(&typed, &numbering, now, "web")
            .await?
        {
            info!(contact = %key, "a web appeal refused: the contact is blocked");
            return Err(ApiError::forbidden(if key.kind() == "phone" {
                "На жаль, звернення з цього номера телефону не приймаються. \
                 Якщо ви вважаєте це помилкою, зверніться до контакт-центру письмово."
            } else {
                "На жаль, звернення з цього контакту не приймаються. \
                 Якщо ви вважаєте це помилкою, зверніться до контакт-центру письмово."
            }));
        }
        let contacts = contacts_of(&appeal);
        places
            .take(|limits, now| limits.take_contacts(&contacts, now))
            .map_err(|retry_after| ApiError::TooManyRequests {
                message: CONTACT_TRY_LATER,
                retry_after,
            })?;
        let attachments: Vec<Attachment> = form
            .files
            .iter()
            .map(|f| Attachment {
                id: f.id,
                appeal_id: Uuid::nil(),
                file_name: crate::appeal::routes::clean_file_name(
                    f.name.as_deref(),
                    f.stored.path.rsplit('.').next().unwrap_or("bin"),
                ),
                content_type: f.stored.content_type.to_owned(),
                size_bytes: f.stored.size_bytes,
                sha256: f.stored.sha256.clone(),
                path: f.stored.path.clone(),
                uploaded_at: now,
            })
            .collect();
        // The confirmation is queued with the card (sent when [reports.mail]
        // is set up).
        let also = AlsoWritten {
            chatbot: None,
            open311: None,
            confirmation: (!appeal.email.is_empty()).then(|| ConfirmationTo {
                to: &appeal.email,
                site_url: &public.settings.site_url,
                tz: rules.calendar().time_zone(),
            }),
        };
        let registration = store
            .register_appeal_with_files(
                &appeal,
                &rules,
                &Author::citizen("web"),
                &attachments,
                &also,
                now,
            )
            .await?;
        if !appeal.email.is_empty() {
            public.bell.ring();
        }
        places.keep();
        Ok((
            registration.record,
            registration.executor_name,
            registration.notices,
            attachments.len(),
        ))
    }
}

/// Reads the form: text fields (each at most [`MAX_FIELD_CHARS`]) and
/// files (each stored as it arrives, at most `[public] max_files`). A
/// file that is refused (its size, its type) is a field error; a body
/// past the limit is refused whole.
async fn read_form(
    public: &Public,
    multipart: &mut Multipart,
    uploads: &mut Uploads,
    form: &mut Form,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let broken = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(format!(
                "Форма завелика: не більше {} файлів до {} МБ кожен.",
                public.settings.max_files, public.settings.file_max_mb
            ))
        } else {
            ApiError::bad_request(e.body_text())
        }
    };
    let mut text_left = MAX_TEXT_BYTES;
    while let Some(field) = multipart.next_field().await.map_err(broken)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "files" {
            let Some(file_name) = field.file_name().filter(|n| !n.is_empty()) else {
                continue; // an empty file input
            };
            let shown = file_name.to_owned();
            if form.files.len() >= public.settings.max_files {
                push_once(
                    &mut form.errors,
                    "files",
                    format!("Не більше {} файлів.", public.settings.max_files),
                );
                continue;
            }
            let id = Uuid::new_v4();
            let refusal = match public
                .files
                .store(uploads, field, id, now)
                .await
                .map_err(broken)?
            {
                Ok(stored) => {
                    form.files.push(SentFile {
                        stored,
                        id,
                        name: Some(shown),
                    });
                    continue;
                }
                Err(AttachmentError::TooLarge { .. }) => format!(
                    "Файл «{shown}» більший за {} МБ.",
                    public.settings.file_max_mb
                ),
                Err(AttachmentError::Empty) => format!("Файл «{shown}» порожній."),
                Err(AttachmentError::Kind(_)) => format!(
                    "Файл «{shown}» не прийнято: лише фото, відео, PDF і документи \
                     (JPEG, PNG, HEIC, MP4, PDF, DOCX, XLSX, ODT)."
                ),
                Err(e) => return Err(ApiError::backend(e)),
            };
            push_once(&mut form.errors, "files", refusal);
            continue;
        }
        let Some((name, slot)) = form.fields.slot(&name) else {
            continue; // a field the form does not have: skipped unread
        };
        match read_text(field, &mut text_left).await.map_err(broken)? {
            Text::Read(text) if text.chars().count() <= MAX_FIELD_CHARS => *slot = text,
            Text::Read(_) | Text::TooLong => {
                push_once(
                    &mut form.errors,
                    name,
                    format!("Задовгий текст: не більше {MAX_FIELD_CHARS} символів."),
                );
            }
            Text::OverBudget => {
                return Err(ApiError::PayloadTooLarge(format!(
                    "Форма завелика: текст усіх полів разом — не більше {} КБ.",
                    MAX_TEXT_BYTES / 1024
                )));
            }
        }
    }
    Ok(())
}

/// A text field as read.
enum Text {
    Read(String),
    /// Past [`MAX_FIELD_BYTES`]: the rest is not read.
    TooLong,
    /// The form's text together is past [`MAX_TEXT_BYTES`].
    OverBudget,
}

/// Reads a text field chunk by chunk, never holding more than
/// [`MAX_FIELD_BYTES`] of it, and counts it against `left`, the bytes of
/// text the form may still bring.
async fn read_text(
    mut field: axum::extract::multipart::Field<'_>,
    left: &mut usize,
) -> Result<Text, axum::extract::multipart::MultipartError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await? {
        let Some(rest) = left.checked_sub(chunk.len()) else {
            return Ok(Text::OverBudget);
        };
        *left = rest;
        if bytes.len() + chunk.len() > MAX_FIELD_BYTES {
            return Ok(Text::TooLong);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Text::Read(String::from_utf8_lossy(&bytes).into_owned()))
}

fn push_once(errors: &mut Vec<FieldError>, field: &'static str, message: String) {
    if !errors.iter().any(|e| e.field == field) {
        errors.push(FieldError { field, message });
    }
}

/// The appeal the fields make, with the problems only the form has (the
/// phone's format, the coordinates as typed, the category's id, the
/// consent); the card's own rules are checked after.
fn new_appeal(
    f: &FormFields,
    numbering: &NumberingPlan,
    errors: &mut Vec<FieldError>,
) -> NewAppeal {
    let contact_phone =
        crate::appeal::registration::contact_phone(numbering, &f.contact_phone, errors);
    let mut degrees = |field: &'static str, text: &str| -> Option<f64> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        match text.replace(',', ".").parse::<f64>() {
            Ok(n) if n.is_finite() => Some(n),
            _ => {
                push_once(
                    errors,
                    field,
                    "Координата — число градусів, наприклад 47.8388.".into(),
                );
                // Not "missing" as well.
                Some(0.0)
            }
        }
    };
    let latitude = degrees("latitude", &f.latitude);
    let longitude = degrees("longitude", &f.longitude);
    // "Не знаю": the contact centre picks the subject (triage).
    let triage = f.category.trim() == "unknown";
    let category_id = match f.category.trim() {
        "" | "unknown" => None,
        id => match Uuid::parse_str(id) {
            Ok(id) => Some(id),
            Err(_) => {
                push_once(errors, "category", "Оберіть категорію зі списку.".into());
                None
            }
        },
    };
    if !matches!(f.consent.trim(), "yes" | "true" | "on") {
        push_once(
            errors,
            "consent",
            "Без згоди на обробку персональних даних звернення не може бути зареєстроване \
             (Закон України «Про захист персональних даних»)."
                .into(),
        );
    }
    NewAppeal {
        surname: f.surname.clone(),
        first_name: f.first_name.clone(),
        patronymic: f.patronymic.clone(),
        address: f.address.clone(),
        contact_phone,
        other_contact: f.other_contact.clone(),
        essence: f.essence.clone(),
        email: f.email.trim().to_owned(),
        category_id,
        channel: Some(Channel::Web),
        triage,
        latitude,
        longitude,
        ..NewAppeal::default()
    }
}

/// The contacts an appeal is counted by: its phone, its e-mail and its
/// other contact, folded so that spellings of one do not count apart, each
/// once (an address typed in two fields is one contact).
fn contacts_of(appeal: &NewAppeal) -> Vec<String> {
    [
        appeal.contact_phone.trim().to_owned(),
        appeal.email.trim().to_lowercase(),
        appeal
            .other_contact
            .split_whitespace()
            .collect::<String>()
            .to_lowercase(),
    ]
    .into_iter()
    .filter(|c| !c.is_empty())
    .collect::<std::collections::BTreeSet<_>>()
    .into_iter()
    .collect()
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct StatusQuery {
    #[serde(default)]
    /// The registration number (`1580-2026-000123`).
    number: String,
    #[serde(default)]
    /// The last four digits of the contact phone given on the appeal.
    digits: String,
}

/// `GET /public/api/status`.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = PublicStatus)]
struct StatusView {
    registration_number: String,
    #[schema(value_type = crate::appeal::AppealStatus)]
    status: &'static str,
    #[schema(value_type = String)]
    status_text: &'static str,
    #[schema(value_type = String)]
    status_text_en: &'static str,
    category: String,
    executor: String,
    registered_at: DateTime<Utc>,
    deadline: DateTime<Utc>,
    steps: Vec<PublicStep>,
}

const NO_SUCH_PAIR: &str = "Звернення з таким номером і такими останніми цифрами телефону \
    не знайдено. Перевірте номер (наприклад, 1580-2026-000123) і цифри.";

/// An appeal's public status, by its number and the last four digits of
/// its contact phone: the status, executor, deadline and the public steps
/// of its history (no names, no internal comments, no personal data).
/// Wrong pairs are limited.
#[utoipa::path(get, path = "/public/api/status", operation_id = "public_status", tag = "public",
    params(StatusQuery),
    responses(
        (status = 200, body = StatusView),
        (status = 404, body = ErrorBody, description = "No appeal with this number and these digits"),
        (status = 429, body = ErrorBody, description = "Too many wrong pairs",
            headers(("retry-after" = u64, description = "Seconds to wait"))),
    ))]
async fn status(
    State(store): State<Store>,
    State(public): State<Public>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(query): Query<StatusQuery>,
) -> Result<Json<StatusView>, ApiError> {
    let ip = public.client(peer, &headers);
    let number = query.number.trim();
    let number_key = number.to_uppercase();
    // A failure's places are taken before the look-up (so a burst of
    // guesses at once counts whole) and given back if the pair is right.
    let mut failure = Places::new(&public);
    failure
        .take(|limits, now| {
            let by_address = limits.status_failures.take(&ip, now)?;
            // Only a number that could be one is counted by itself (an
            // empty or absurd one is the address's failure alone).
            if number_key.is_empty() || number_key.len() > 40 {
                return Ok(vec![Place::StatusFailure(ip, by_address)]);
            }
            match limits.status_failures_by_number.take(&number_key, now) {
                Ok(by_number) => Ok(vec![
                    Place::StatusFailure(ip, by_address),
                    Place::NumberFailure(number_key.clone(), by_number),
                ]),
                Err(wait) => {
                    limits.give_back([Place::StatusFailure(ip, by_address)]);
                    Err(wait)
                }
            }
        })
        .map_err(|retry_after| ApiError::TooManyRequests {
            message: "Забагато невдалих спроб. Спробуйте пізніше або зателефонуйте на гарячу лінію.",
            retry_after,
        })?;
    let record = if number.is_empty() || number.len() > 40 {
        None
    } else {
        store.appeal_by_registration_number(number).await?
    };
    let Some(record) = record.filter(|r| phone_matches(&r.caller_phone, &query.digits)) else {
        failure.keep();
        return Err(ApiError::not_found(NO_SUCH_PAIR));
    };
    drop(failure);
    let history = store.appeal_history(record.id).await?;
    let steps = history
        .iter()
        .filter_map(|h| public_step(h.at, h.kind, &h.details))
        .collect();
    let executor = store
        .current_executors()
        .await?
        .into_iter()
        .find(|e| e.code == record.executor)
        .map_or_else(
            || match record.executor.as_str() {
                "" => crate::appeal::store::TRIAGE_NAME.to_string(),
                code => code.to_string(),
            },
            |e| e.name,
        );
    info!(number = %record.registration_number, "appeal status read on the public page");
    Ok(Json(StatusView {
        registration_number: record.registration_number.to_string(),
        status: record.status.as_str(),
        status_text: status_text(record.status).0,
        status_text_en: status_text(record.status).1,
        category: record.category,
        executor,
        registered_at: record.created_at,
        deadline: record.deadline,
        steps,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts_are_folded() {
        let appeal = NewAppeal {
            contact_phone: "+380671234567".into(),
            email: " Taras@Example.com ".into(),
            other_contact: "Telegram @Taras".into(),
            ..NewAppeal::default()
        };
        assert_eq!(
            contacts_of(&appeal),
            ["+380671234567", "taras@example.com", "telegram@taras"]
        );
        let twice = NewAppeal {
            email: "taras@example.com".into(),
            other_contact: "Taras@Example.com".into(),
            ..NewAppeal::default()
        };
        assert_eq!(contacts_of(&twice), ["taras@example.com"], "one contact");
    }

    #[test]
    fn the_form_names_its_own_problems() {
        let numbering = NumberingPlan::default();
        let mut errors = Vec::new();
        let fields = FormFields {
            contact_phone: "12".into(),
            latitude: "сорок сім".into(),
            longitude: "35,1396".into(),
            category: "not-an-id".into(),
            ..FormFields::default()
        };
        let appeal = new_appeal(&fields, &numbering, &mut errors);
        let named: Vec<&str> = errors.iter().map(|e| e.field).collect();
        assert_eq!(named, ["contact_phone", "latitude", "category", "consent"]);
        assert_eq!(appeal.longitude, Some(35.1396), "a decimal comma is taken");
        assert_eq!(appeal.channel, Some(Channel::Web));
        let mut errors = Vec::new();
        let fields = FormFields {
            consent: "yes".into(),
            ..FormFields::default()
        };
        new_appeal(&fields, &numbering, &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
    }
}
