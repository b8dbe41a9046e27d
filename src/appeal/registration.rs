//! Registering an appeal: the fields a new appeal must have, checked one by
//! one (every problem named with its field, in the operator's language),
//! before [`Store::register_appeal`](crate::store::Store::register_appeal)
//! gives it a number, a deadline and an executor.
//!
//! Plain rules: no IO.

use serde::Serialize;
use uuid::Uuid;

use crate::store::{StoreError, text_enum};

text_enum! {
    /// How the appeal came in.
    Channel {
        Phone => "phone",
        WalkIn => "walk_in",
        Web => "web",
        Chatbot => "chatbot",
        Open311 => "open311",
    }
}

text_enum! {
    /// The appeal's kind under the law on citizens' appeals (004 §4.2).
    AppealKind {
        /// Зауваження.
        Remark => "remark",
        /// Пропозиція.
        Proposal => "proposal",
        /// Заява (клопотання): the default.
        Statement => "statement",
        /// Скарга.
        Complaint => "complaint",
        /// Запит.
        Request => "request",
        /// Вимога.
        Demand => "demand",
    }
}

/// An appeal to register, as the operator (or the citizen, on the web or
/// in a messenger) filled it in.
#[derive(Debug, Clone, Default)]
pub struct NewAppeal {
    pub surname: String,
    pub first_name: String,
    pub patronymic: String,
    pub address: String,
    /// In E.164 (normalised by the caller of [`Store::register_appeal`](crate::store::Store::register_appeal));
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
    /// A statement when not given.
    pub kind: Option<AppealKind>,
    /// Anonymous (003 §10, where the city allows it): no name and no
    /// contact, so no callback; still a number and an executor.
    pub anonymous: bool,
    /// The citizen did not know the subject ("не знаю"): no category; the
    /// contact centre classifies the card (lifecycle `Classify`).
    pub triage: bool,
    /// Where the problem is on the map (WGS 84 degrees): both or neither.
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

/// Whether the city takes anonymous appeals (`[appeals] anonymous`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AnonymousAppeals(pub bool);

/// A field that is wrong, and what to tell the operator (Ukrainian).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// The field's name, as the request gave it.
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

impl NewAppeal {
    /// Every problem with the appeal, field by field; empty when it may be
    /// registered. The mandatory fields follow the regulation (000
    /// §2.2.1): surname, first name, patronymic, address, a contact (phone
    /// or other), the essence of the issue; and a category. An anonymous
    /// appeal has the address (where the issue is), the essence and the
    /// category, and no name or contact at all.
    pub fn check(&self) -> Vec<FieldError> {
        let mut out = Vec::new();
        if !self.anonymous {
            required(&mut out, "surname", &self.surname, "прізвище");
            required(&mut out, "first_name", &self.first_name, "ім'я");
            required(&mut out, "patronymic", &self.patronymic, "по батькові");
        }
        required(&mut out, "address", &self.address, "адресу");
        if self.anonymous {
            for (field, value) in [
                ("surname", &self.surname),
                ("first_name", &self.first_name),
                ("patronymic", &self.patronymic),
                ("contact_phone", &self.contact_phone),
                ("other_contact", &self.other_contact),
                ("email", &self.email),
            ] {
                if !value.trim().is_empty() {
                    out.push(FieldError {
                        field,
                        message: "Анонімне звернення не містить імені й контактів: \
                                  зніміть позначку «анонімно» або очистьте поле."
                            .into(),
                    });
                }
            }
        } else if self.contact_phone.trim().is_empty() && self.other_contact.trim().is_empty() {
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
        match (self.category_id, self.triage) {
            (None, false) => out.push(FieldError {
                field: "category",
                message: "Оберіть категорію з класифікатора.".into(),
            }),
            (Some(_), true) => out.push(FieldError {
                field: "category",
                message: "Оберіть категорію або «не знаю», не обидва.".into(),
            }),
            _ => {}
        }
        check_place(&mut out, self.latitude, self.longitude);
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

/// The contact phone as typed ("067 123 45 67", "(061) 234-56-78") in
/// E.164, so a later call from it finds the appeal; empty stays empty. One
/// that is not recognised is an error on `contact_phone` and is kept as
/// typed, so it does not count as missing too.
pub fn contact_phone(
    numbering: &crate::phone::NumberingPlan,
    typed: &str,
    errors: &mut Vec<FieldError>,
) -> String {
    let phone = typed.trim();
    if phone.is_empty() {
        return String::new();
    }
    match numbering.normalise(phone) {
        Some(e164) => e164.to_string(),
        None => {
            errors.push(FieldError {
                field: "contact_phone",
                message: "Номер телефону не розпізнано: наприклад, 067 123 45 67 або \
                          +380 67 123 45 67."
                    .into(),
            });
            phone.to_owned()
        }
    }
}

/// A point on the map: both coordinates or neither, each a number of
/// degrees in its range.
fn check_place(out: &mut Vec<FieldError>, latitude: Option<f64>, longitude: Option<f64>) {
    let mut range = |field, value: f64, limit: f64, what: &str| {
        if !(value.is_finite() && (-limit..=limit).contains(&value)) {
            out.push(FieldError {
                field,
                message: format!("{what} — число градусів від −{limit} до {limit}."),
            });
        }
    };
    match (latitude, longitude) {
        (None, None) => {}
        (Some(lat), Some(lon)) => {
            range("latitude", lat, 90.0, "Широта");
            range("longitude", lon, 180.0, "Довгота");
        }
        (Some(_), None) => out.push(FieldError {
            field: "longitude",
            message: "Вкажіть і довготу, або не вказуйте місця на карті.".into(),
        }),
        (None, Some(_)) => out.push(FieldError {
            field: "latitude",
            message: "Вкажіть і широту, або не вказуйте місця на карті.".into(),
        }),
    }
}

/// Why an appeal was not registered.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("the appeal has {} problem(s)", .0.len())]
    Fields(Vec<FieldError>),
    #[error(transparent)]
    Store(#[from] StoreError),
}
