//! GeoReport v2 on the wire, as plain code: the format a path asks for,
//! the documents in JSON and in XML (the specification's element names,
//! its JSON mapping: the root and the repeating element dropped, a list
//! always an array), its error document, and the checks of a POST's
//! arguments into a card. No IO.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::appeal::{Channel, NewAppeal};
use crate::phone::NumberingPlan;

/// The service code of "I don't know": the card goes to the contact
/// centre's triage.
pub const TRIAGE_CODE: &str = "unknown";

/// The most requests a list gives, and the longest period it spans
/// (the specification's defaults).
pub const MAX_REQUESTS: usize = 1000;
pub const MAX_DAYS: i64 = 90;

/// The response's format, from the path's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ToSchema)]
#[schema(as = Open311Format, rename_all = "lowercase")]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json; charset=utf-8",
            Format::Xml => "text/xml; charset=utf-8",
        }
    }
}

/// `services.json` → `("services", Json)`. `None` without a known
/// extension.
pub fn split_format(file: &str) -> Option<(&str, Format)> {
    let (name, ext) = file.rsplit_once('.')?;
    let format = match ext {
        "json" => Format::Json,
        "xml" => Format::Xml,
        _ => return None,
    };
    (!name.is_empty()).then_some((name, format))
}

/// A document in either format: JSON from `json`, XML from `xml` with the
/// declaration the specification asks for.
pub fn render<J: Serialize, X: Serialize>(
    format: Format,
    json: &J,
    xml: &X,
) -> Result<String, String> {
    match format {
        Format::Json => serde_json::to_string(json).map_err(|e| e.to_string()),
        Format::Xml => quick_xml::se::to_string(xml)
            .map(|body| format!("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n{body}"))
            .map_err(|e| e.to_string()),
    }
}

/// One error of the specification's error document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = Open311Error, xml(name = "error"))]
pub struct Error {
    pub code: u16,
    pub description: String,
}

#[derive(Serialize)]
#[serde(rename = "errors")]
struct ErrorsXml<'a> {
    error: &'a [Error],
}

/// `[{code, description}]` or `<errors><error>…`.
pub fn errors(format: Format, errors: &[Error]) -> String {
    render(format, &errors, &ErrorsXml { error: errors }).unwrap_or_else(|_| {
        // Our own types always serialise; should one not, still an answer.
        String::from("[{\"code\":400,\"description\":\"error\"}]")
    })
}

/// `discovery.json`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename = "discovery")]
pub struct Discovery {
    pub changeset: String,
    pub contact: String,
    pub key_service: String,
    pub endpoints: Endpoints,
}

#[derive(Debug, Clone, Serialize)]
pub struct Endpoints {
    pub endpoint: Vec<Endpoint>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Endpoint {
    pub specification: &'static str,
    pub url: String,
    pub changeset: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub formats: Formats,
}

#[derive(Debug, Clone, Serialize)]
pub struct Formats {
    pub format: Vec<&'static str>,
}

/// The JSON shape of discovery: `endpoints` and `formats` as plain
/// arrays. The OpenAPI document describes both formats with it: the `xml`
/// names are [`Discovery`]'s.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Open311Discovery, xml(name = "discovery"))]
pub struct DiscoveryJson {
    /// When the list of endpoints last changed (here: hotline's version).
    pub changeset: String,
    pub contact: String,
    /// Where an application asks for an API key.
    pub key_service: String,
    #[schema(xml(wrapped(name = "endpoints"), name = "endpoint"))]
    pub endpoints: Vec<EndpointJson>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Open311Endpoint)]
pub struct EndpointJson {
    /// `http://wiki.open311.org/GeoReport_v2`.
    pub specification: String,
    pub url: String,
    pub changeset: String,
    /// `production`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `text/xml` and `application/json`.
    #[schema(xml(wrapped(name = "formats"), name = "format"))]
    pub formats: Vec<String>,
}

pub fn discovery_json(d: &Discovery) -> DiscoveryJson {
    DiscoveryJson {
        changeset: d.changeset.clone(),
        contact: d.contact.clone(),
        key_service: d.key_service.clone(),
        endpoints: d
            .endpoints
            .endpoint
            .iter()
            .map(|e| EndpointJson {
                specification: e.specification.to_owned(),
                url: e.url.clone(),
                changeset: e.changeset.clone(),
                kind: e.kind.to_owned(),
                formats: e.formats.format.iter().map(|f| (*f).to_owned()).collect(),
            })
            .collect(),
    }
}

/// A service: a type of the classifier.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = Open311Service, xml(name = "service"))]
pub struct Service {
    /// The type's code in the classifier (stable across its versions), or
    /// `unknown` ("не знаю": the contact centre picks the subject).
    pub service_code: String,
    pub service_name: String,
    /// The executor and the term.
    pub description: String,
    /// Always true: every service asks for the patronymic and the consent.
    pub metadata: bool,
    /// `realtime`.
    #[serde(rename = "type")]
    #[schema(value_type = String, example = "realtime")]
    pub kind: &'static str,
    /// The section's code.
    pub keywords: String,
    /// The section of the classifier.
    pub group: String,
}

#[derive(Serialize)]
#[serde(rename = "services")]
pub struct ServicesXml<'a> {
    pub service: &'a [Service],
}

/// `services/{code}`: what a request of the service must carry beyond
/// the specification's own arguments.
#[derive(Debug, Clone, Serialize)]
#[serde(rename = "service_definition")]
pub struct Definition {
    pub service_code: String,
    pub attributes: Attributes,
}

#[derive(Debug, Clone, Serialize)]
pub struct Attributes {
    pub attribute: Vec<Attribute>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Attribute {
    pub variable: bool,
    pub code: &'static str,
    pub datatype: &'static str,
    pub required: bool,
    pub datatype_description: &'static str,
    pub order: u32,
    pub description: &'static str,
    pub values: Values,
}

#[derive(Debug, Clone, Serialize)]
pub struct Values {
    pub value: Vec<Value>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Open311Value)]
pub struct Value {
    #[schema(value_type = String)]
    pub key: &'static str,
    #[schema(value_type = String)]
    pub name: &'static str,
}

/// The attributes every service has: the card's mandatory patronymic
/// (000 §2.1: the full name), the consent the law on personal data asks
/// for, and a contact other than the phone.
pub fn definition(service_code: &str) -> Definition {
    let attribute = vec![
        Attribute {
            variable: true,
            code: "patronymic",
            datatype: "string",
            required: true,
            datatype_description: "",
            order: 1,
            description: "По батькові заявника / The citizen's patronymic",
            values: Values { value: Vec::new() },
        },
        Attribute {
            variable: true,
            code: "consent",
            datatype: "singlevaluelist",
            required: true,
            datatype_description: "",
            order: 2,
            description: "Згода на обробку персональних даних (Закон України «Про захист \
                персональних даних») / Consent to the processing of personal data",
            values: Values {
                value: vec![Value {
                    key: "yes",
                    name: "Згоден(на) / I agree",
                }],
            },
        },
        Attribute {
            variable: true,
            code: "other_contact",
            datatype: "string",
            required: false,
            datatype_description: "Коли немає телефону: e-mail, месенджер / Without a phone: \
                e-mail, messenger",
            order: 3,
            description: "Інший контакт / Another contact",
            values: Values { value: Vec::new() },
        },
    ];
    Definition {
        service_code: service_code.to_owned(),
        attributes: Attributes { attribute },
    }
}

/// The JSON shape of a definition: `attributes` and `values` as arrays
/// (the `xml` names are [`Definition`]'s).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Open311ServiceDefinition, xml(name = "service_definition"))]
pub struct DefinitionJson {
    pub service_code: String,
    #[schema(xml(wrapped(name = "attributes"), name = "attribute"))]
    pub attributes: Vec<AttributeJson>,
}

/// What a request of the service carries beyond the specification's
/// arguments, as `attribute[code]`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Open311Attribute)]
pub struct AttributeJson {
    pub variable: bool,
    #[schema(value_type = String, example = "patronymic")]
    pub code: &'static str,
    /// `string` or `singlevaluelist`.
    #[schema(value_type = String, example = "string")]
    pub datatype: &'static str,
    pub required: bool,
    #[schema(value_type = String)]
    pub datatype_description: &'static str,
    pub order: u32,
    #[schema(value_type = String)]
    pub description: &'static str,
    #[schema(xml(wrapped(name = "values"), name = "value"))]
    pub values: Vec<Value>,
}

pub fn definition_json(d: &Definition) -> DefinitionJson {
    DefinitionJson {
        service_code: d.service_code.clone(),
        attributes: d
            .attributes
            .attribute
            .iter()
            .map(|a| AttributeJson {
                variable: a.variable,
                code: a.code,
                datatype: a.datatype,
                required: a.required,
                datatype_description: a.datatype_description,
                order: a.order,
                description: a.description,
                values: a.values.value.clone(),
            })
            .collect(),
    }
}

/// A request as the public sees it: no name, contact, description or
/// house number.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = Open311Request, xml(name = "request"))]
pub struct Request {
    /// The card's registration number.
    pub service_request_id: String,
    /// `open` or `closed`.
    #[schema(value_type = String, example = "open")]
    pub status: &'static str,
    /// The card's status as citizens read it (Ukrainian).
    pub status_notes: String,
    pub service_name: String,
    pub service_code: String,
    pub agency_responsible: String,
    pub requested_datetime: DateTime<Utc>,
    pub updated_datetime: DateTime<Utc>,
    /// The deadline.
    pub expected_datetime: DateTime<Utc>,
    /// The street only (no house, no flat).
    pub address: String,
    /// Rounded to 3 decimals (about 100 m).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub long: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_url: Option<String>,
}

#[derive(Serialize)]
#[serde(rename = "service_requests")]
pub struct RequestsXml<'a, T> {
    pub request: &'a [T],
}

/// What a POST answers: the request's id, or a token to look it up.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = Open311Created, xml(name = "request"))]
pub struct Created {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    pub service_notice: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}

/// What `tokens/{token}` answers.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = Open311TokenFound, xml(name = "request"))]
pub struct TokenFound {
    pub service_request_id: String,
    pub token: String,
}

/// The public address: the street without the house or the flat (the
/// card's address is the citizen's). "вул. Соборна, 12, кв. 5" →
/// "вул. Соборна"; "Соборна 12 кв. 5" → "Соборна"; "вул. 8 Березня 3а"
/// → "вул. 8 Березня" (a numeral followed by a capitalised word is part
/// of the street's name; any other number starts the house).
pub fn street_only(address: &str) -> String {
    let first = address.split([',', ';']).next().unwrap_or("").trim();
    let words: Vec<&str> = first.split_whitespace().collect();
    let has_digit = |w: &str| w.chars().any(|c| c.is_ascii_digit());
    let capitalised = |w: &str| w.chars().next().is_some_and(char::is_uppercase);
    let cut = (0..words.len())
        .find(|&i| has_digit(words[i]) && !words.get(i + 1).is_some_and(|n| capitalised(n)))
        .unwrap_or(words.len());
    let mut kept = &words[..cut];
    // "буд.", "будинок", "д." left before the number.
    while let Some((last, rest)) = kept.split_last() {
        let folded = last.to_lowercase();
        if matches!(
            folded.as_str(),
            "буд." | "буд" | "будинок" | "б." | "д." | "кв." | "№"
        ) {
            kept = rest;
        } else {
            break;
        }
    }
    kept.join(" ")
}

/// A POST's arguments (`application/x-www-form-urlencoded`), as sent.
#[derive(Debug, Clone, Default)]
pub struct PostArgs {
    pub service_code: String,
    pub lat: String,
    pub long: String,
    pub address_string: String,
    pub address_id: String,
    pub email: String,
    pub device_id: String,
    pub account_id: String,
    pub first_name: String,
    pub last_name: String,
    pub phone: String,
    pub description: String,
    pub media_url: String,
    pub patronymic: String,
    pub consent: String,
    pub other_contact: String,
}

impl PostArgs {
    /// From the body's pairs; the attributes as `attribute[code]`. An
    /// argument repeated keeps its first value; unknown ones are ignored.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> PostArgs {
        let mut args = PostArgs::default();
        let mut seen = std::collections::HashSet::new();
        for (name, value) in pairs {
            if !seen.insert(name) {
                continue;
            }
            let slot = match name {
                "service_code" => &mut args.service_code,
                "lat" => &mut args.lat,
                "long" => &mut args.long,
                "address_string" => &mut args.address_string,
                "address_id" => &mut args.address_id,
                "email" => &mut args.email,
                "device_id" => &mut args.device_id,
                "account_id" => &mut args.account_id,
                "first_name" => &mut args.first_name,
                "last_name" => &mut args.last_name,
                "phone" => &mut args.phone,
                "description" => &mut args.description,
                "media_url" => &mut args.media_url,
                "attribute[patronymic]" => &mut args.patronymic,
                "attribute[consent]" => &mut args.consent,
                "attribute[other_contact]" => &mut args.other_contact,
                _ => continue,
            };
            *slot = value.to_owned();
        }
        args
    }
}

/// What a POST brings beyond the card.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extra {
    pub media_url: Option<String>,
    pub account_id: Option<String>,
    pub device_id: Option<String>,
}

/// The card a POST makes, or every problem with it (each a 400 with the
/// argument's name). The service code is looked up by the caller.
pub fn new_appeal(
    args: &PostArgs,
    numbering: &NumberingPlan,
) -> Result<(NewAppeal, Extra), Vec<Error>> {
    let mut problems: Vec<String> = Vec::new();
    let mut need = |ok: bool, text: &str| {
        if !ok {
            problems.push(text.to_owned());
        }
    };
    need(
        !args.service_code.trim().is_empty(),
        "service_code: required",
    );
    let degrees = |text: &str, range: f64| -> Result<Option<f64>, ()> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        match text.parse::<f64>() {
            Ok(n) if n.is_finite() && n.abs() <= range => Ok(Some(n)),
            _ => Err(()),
        }
    };
    let lat = degrees(&args.lat, 90.0);
    let long = degrees(&args.long, 180.0);
    need(lat.is_ok(), "lat: WGS 84 degrees, e.g. 47.8388");
    need(long.is_ok(), "long: WGS 84 degrees, e.g. 35.1396");
    let (latitude, longitude) = (lat.unwrap_or(None), long.unwrap_or(None));
    need(
        latitude.is_some() == longitude.is_some(),
        "lat and long: both or neither",
    );
    // The card's address is mandatory (000 §2.1): a point alone is not
    // enough here.
    need(
        !args.address_string.trim().is_empty(),
        "address_string: required here (the citizen's address, 000 §2.1)",
    );
    need(
        !args.first_name.trim().is_empty(),
        "first_name: required here (the citizen's full name, 000 §2.1)",
    );
    need(
        !args.last_name.trim().is_empty(),
        "last_name: required here (the citizen's full name, 000 §2.1)",
    );
    need(
        !args.patronymic.trim().is_empty(),
        "attribute[patronymic]: required (see the service definition)",
    );
    need(
        args.consent.trim() == "yes",
        "attribute[consent]: required, \"yes\" (consent to processing personal data)",
    );
    need(
        !args.description.trim().is_empty(),
        "description: required (what the problem is)",
    );
    need(
        args.description.chars().count() <= 4000,
        "description: at most 4,000 characters",
    );
    let phone = args.phone.trim();
    let normalised = numbering.normalise(phone);
    need(
        phone.is_empty() || normalised.is_some(),
        "phone: not a phone number, e.g. +380671234567",
    );
    let contact_phone = normalised.map(|n| n.to_string()).unwrap_or_default();
    let email = args.email.trim();
    need(
        email.is_empty() || crate::mail::looks_like_address(email) && !email.contains(['<', '>']),
        "email: not an e-mail address",
    );
    let other_contact = match args.other_contact.trim() {
        "" if contact_phone.is_empty() => email.to_owned(),
        other => other.to_owned(),
    };
    need(
        !contact_phone.is_empty() || !other_contact.is_empty(),
        "phone: required, or email, or attribute[other_contact] (a way to reach the citizen)",
    );
    let media_url = args.media_url.trim();
    need(
        media_url.is_empty()
            || (media_url.starts_with("https://") || media_url.starts_with("http://"))
                && media_url.len() <= 2000
                && !media_url.contains(char::is_whitespace),
        "media_url: an http(s) address",
    );
    for (name, value) in [
        ("account_id", &args.account_id),
        ("device_id", &args.device_id),
    ] {
        need(
            value.chars().count() <= 200,
            &format!("{name}: at most 200 characters"),
        );
    }
    if !problems.is_empty() {
        return Err(problems
            .into_iter()
            .map(|description| Error {
                code: 400,
                description,
            })
            .collect());
    }
    let some = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    Ok((
        NewAppeal {
            surname: args.last_name.trim().to_owned(),
            first_name: args.first_name.trim().to_owned(),
            patronymic: args.patronymic.trim().to_owned(),
            address: args.address_string.trim().to_owned(),
            contact_phone,
            other_contact,
            essence: args.description.trim().to_owned(),
            email: email.to_owned(),
            channel: Some(Channel::Open311),
            triage: args.service_code.trim() == TRIAGE_CODE,
            latitude,
            longitude,
            ..NewAppeal::default()
        },
        Extra {
            media_url: some(media_url),
            account_id: some(&args.account_id),
            device_id: some(&args.device_id),
        },
    ))
}

/// `start_date` and `end_date` of a list: the specification's window
/// (90 days at most, the last 90 days by default). A one-sided range
/// reaches 90 days from its side.
pub fn window(
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), Error> {
    let span = chrono::Duration::days(MAX_DAYS);
    let (from, to) = match (start, end) {
        (Some(s), Some(e)) => (s, e),
        (Some(s), None) => (s, s + span),
        (None, Some(e)) => (e - span, e),
        (None, None) => (now - span, now),
    };
    if to < from {
        return Err(Error {
            code: 400,
            description: "end_date is before start_date".into(),
        });
    }
    if to - from > span {
        return Err(Error {
            code: 400,
            description: format!("start_date to end_date spans more than {MAX_DAYS} days"),
        });
    }
    Ok((from, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> PostArgs {
        PostArgs::from_pairs([
            ("service_code", "no-cold-water"),
            ("address_string", "вул. Соборна, 12, кв. 5"),
            ("first_name", "Марія"),
            ("last_name", "Коваленко"),
            ("attribute[patronymic]", "Іванівна"),
            ("attribute[consent]", "yes"),
            ("phone", "067 123 45 67"),
            ("description", "Немає холодної води"),
            ("lat", "47.84"),
            ("long", "35.14"),
            ("media_url", "https://app.example/p/1.jpg"),
            ("api_key", "ignored here"),
        ])
    }

    #[test]
    fn a_good_post_makes_an_open311_card() {
        let (appeal, extra) = new_appeal(&good(), &NumberingPlan::default()).unwrap();
        assert_eq!(appeal.channel, Some(Channel::Open311));
        assert_eq!(appeal.contact_phone, "+380671234567");
        assert_eq!(
            (appeal.latitude, appeal.longitude),
            (Some(47.84), Some(35.14))
        );
        assert_eq!(
            (appeal.surname.as_str(), appeal.patronymic.as_str()),
            ("Коваленко", "Іванівна")
        );
        assert!(!appeal.triage);
        assert_eq!(
            extra.media_url.as_deref(),
            Some("https://app.example/p/1.jpg")
        );
        // The category comes from the service code, looked up by the route.
        let named: Vec<&str> = appeal.check().iter().map(|e| e.field).collect();
        assert_eq!(named, ["category"]);
    }

    #[test]
    fn every_problem_is_named_by_its_argument() {
        let args = PostArgs::from_pairs([
            ("lat", "91"),
            ("phone", "12"),
            ("email", "nobody"),
            ("media_url", "javascript:alert(1)"),
        ]);
        let problems: Vec<String> = new_appeal(&args, &NumberingPlan::default())
            .unwrap_err()
            .into_iter()
            .map(|e| {
                assert_eq!(e.code, 400);
                e.description.split(':').next().unwrap().to_owned()
            })
            .collect();
        for arg in [
            "service_code",
            "lat",
            "address_string",
            "first_name",
            "last_name",
            "attribute[patronymic]",
            "attribute[consent]",
            "description",
            "phone",
            "email",
            "media_url",
        ] {
            assert!(problems.iter().any(|p| p == arg), "{arg} in {problems:?}");
        }
        let mut half = good();
        half.long.clear();
        let problems = new_appeal(&half, &NumberingPlan::default()).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert!(problems[0].description.starts_with("lat and long:"));
    }

    #[test]
    fn an_e_mail_alone_is_the_contact_and_unknown_goes_to_triage() {
        let mut args = good();
        args.phone.clear();
        args.email = "maria@example.ua".into();
        args.service_code = TRIAGE_CODE.into();
        let (appeal, _) = new_appeal(&args, &NumberingPlan::default()).unwrap();
        assert_eq!(appeal.other_contact, "maria@example.ua");
        assert!(appeal.triage);
        args.email.clear();
        assert!(new_appeal(&args, &NumberingPlan::default()).is_err());
    }

    #[test]
    fn the_format_is_the_extension() {
        assert_eq!(
            split_format("services.json"),
            Some(("services", Format::Json))
        );
        assert_eq!(
            split_format("1580-2026-000001.xml"),
            Some(("1580-2026-000001", Format::Xml))
        );
        assert_eq!(split_format("services"), None);
        assert_eq!(split_format("services.html"), None);
        assert_eq!(split_format(".json"), None);
    }

    #[test]
    fn the_xml_has_the_specification_s_names() {
        let services = [Service {
            service_code: "no-cold-water".into(),
            service_name: "Відсутнє холодне водопостачання".into(),
            description: "КП «Водоканал»".into(),
            metadata: true,
            kind: "realtime",
            keywords: String::new(),
            group: "Водопостачання".into(),
        }];
        let xml = render(Format::Xml, &services, &ServicesXml { service: &services }).unwrap();
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<services><service>"));
        assert!(
            xml.contains("<metadata>true</metadata><type>realtime</type>"),
            "{xml}"
        );
        assert!(xml.contains("КП «Водоканал»"), "{xml}");
        let json = render(Format::Json, &services, &ServicesXml { service: &services }).unwrap();
        assert!(
            json.starts_with("[{\"service_code\":\"no-cold-water\""),
            "{json}"
        );
        let e = errors(
            Format::Xml,
            &[Error {
                code: 403,
                description: "api_key <bad>".into(),
            }],
        );
        assert!(
            e.ends_with("<errors><error><code>403</code><description>api_key &lt;bad&gt;</description></error></errors>"),
            "{e}"
        );
        let d = definition("x");
        let xml = render(Format::Xml, &definition_json(&d), &d).unwrap();
        assert!(
            xml.contains("<attributes><attribute><variable>true</variable><code>patronymic</code>"),
            "{xml}"
        );
        assert!(xml.contains("<values><value><key>yes</key>"), "{xml}");
    }

    #[test]
    fn only_the_street_is_public() {
        assert_eq!(street_only("вул. Соборна, 12, кв. 5"), "вул. Соборна");
        assert_eq!(street_only("Соборний проспект 120"), "Соборний проспект");
        assert_eq!(street_only("вул. 8 Березня 3а"), "вул. 8 Березня");
        assert_eq!(street_only("вул. Соборна 12 кв. 5"), "вул. Соборна");
        assert_eq!(street_only("вул. Соборна буд. 12"), "вул. Соборна");
        assert_eq!(street_only(""), "");
    }

    #[test]
    fn the_window_is_ninety_days_at_most() {
        let now: DateTime<Utc> = "2026-12-07T10:00:00Z".parse().unwrap();
        let (from, to) = window(None, None, now).unwrap();
        assert_eq!((to - from).num_days(), 90);
        let s: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(
            window(Some(s), None, now).unwrap().1,
            s + chrono::Duration::days(90)
        );
        assert!(window(Some(s), Some(now), now).is_err());
        assert!(window(Some(now), Some(s), now).is_err());
    }
}
