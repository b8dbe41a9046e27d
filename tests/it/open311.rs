//! Open311 GeoReport v2 (docs/open311.md), spoken to by `georeport`, an
//! independent Python client of the standard (GET methods, JSON and XML
//! read with xmltodict), and by plain form-encoded POSTs as the
//! specification gives them: services, a definition, a request filed with
//! a key, read back by id and by filters, a token, the errors, no personal
//! data. On SQLite and on PostgreSQL.

use chrono::Utc;
use serde_json::Value;

use crate::public::{category, with_classifier};
use crate::{AppOptions, Backend, TestApp, request, request_bytes, spawn_app};

/// Reads the endpoint at `argv[1]` with georeport, in JSON and in XML,
/// and prints what it got as one JSON document.
const CLIENT: &str = r#"
import json, sys
from georeport import GeoReport
root, number, code = sys.argv[1], sys.argv[2], sys.argv[3]
out = {}
for fmt in ("json", "xml"):
    c = GeoReport(root, jurisdiction="zp.gov.ua", output_format=fmt)
    services = c.get_service_list()
    definition = c.get_service_definition(code)
    one = c.get_service_request(number)
    many = c.get_service_requests(service_code=code, status="open")
    if isinstance(many, dict):
        many = [many]
    if fmt == "xml":
        many = many if isinstance(many, list) else [many]
    out[fmt] = {
        "services": len(services),
        "codes": [s["service_code"] for s in services][:200],
        "groups": sorted({s.get("group") or "" for s in services}),
        "definition": definition,
        "one": one,
        "many": [r["service_request_id"] for r in many],
    }
print(json.dumps(out, ensure_ascii=False))
"#;

/// Awaited, not blocked on: the server under test runs on this runtime.
async fn python_client(root: &str, number: &str, code: &str) -> Value {
    let out = tokio::process::Command::new(crate::reports::python_bin())
        .args(["-c", CLIENT, root, number, code])
        .output()
        .await
        .expect("python runs");
    assert!(
        out.status.success(),
        "georeport failed (scripts/test installs it in a venv; HOTLINE_TEST_PYTHON names \
         that python): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the client's JSON")
}

/// `POST /open311/v2/requests.{fmt}` with `args`, form-encoded.
async fn post(app: &TestApp, fmt: &str, args: &[(&str, &str)]) -> crate::HttpResponse {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(args)
        .finish();
    request_bytes(
        app.http_addr,
        "POST",
        &format!("/open311/v2/requests.{fmt}"),
        &[(
            "Content-Type",
            "application/x-www-form-urlencoded; charset=utf-8".to_string(),
        )],
        body.as_bytes(),
    )
    .await
}

async fn get(app: &TestApp, path: &str) -> crate::HttpResponse {
    request(app.http_addr, "GET", path, &[], "").await
}

/// The specification's field lists (GeoReport v2, each method's response
/// table): every field a response carries must be one of these.
const SERVICE_FIELDS: &[&str] = &[
    "service_code",
    "service_name",
    "description",
    "metadata",
    "type",
    "keywords",
    "group",
];
const DEFINITION_FIELDS: &[&str] = &["service_code", "attributes"];
const ATTRIBUTE_FIELDS: &[&str] = &[
    "variable",
    "code",
    "datatype",
    "required",
    "datatype_description",
    "order",
    "description",
    "values",
];
const REQUEST_FIELDS: &[&str] = &[
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
];
const CREATED_FIELDS: &[&str] = &[
    "service_request_id",
    "token",
    "service_notice",
    "account_id",
];
const DISCOVERY_FIELDS: &[&str] = &["changeset", "contact", "key_service", "endpoints"];
const ENDPOINT_FIELDS: &[&str] = &["specification", "url", "changeset", "type", "formats"];

/// `object`'s fields are among `allowed` and include `required`.
fn fields_as_specified(what: &str, object: &Value, allowed: &[&str], required: &[&str]) {
    let map = object
        .as_object()
        .unwrap_or_else(|| panic!("{what}: an object: {object}"));
    for key in map.keys() {
        assert!(
            allowed.contains(&key.as_str()),
            "{what}: {key:?} is not the specification's"
        );
    }
    for key in required {
        assert!(
            map.contains_key(*key),
            "{what}: {key:?} missing in {object}"
        );
    }
}

/// The element names directly inside each `<parent>` of an XML document.
fn xml_children(xml: &str, parent: &str) -> Vec<String> {
    let open = format!("<{parent}>");
    let close = format!("</{parent}>");
    let mut out = Vec::new();
    for chunk in xml.split(&open).skip(1) {
        let mut rest = chunk.split(&close).next().unwrap_or("");
        while let Some(start) = rest.find('<') {
            let tag: String = rest[start + 1..]
                .chars()
                .take_while(|c| *c != '>' && *c != '/' && *c != ' ')
                .collect();
            if tag.is_empty() {
                break;
            }
            let end = format!("</{tag}>");
            rest = match rest.find(&end) {
                Some(e) => &rest[e + end.len()..],
                None => &rest[start + 1..],
            };
            out.push(tag);
        }
    }
    out
}

/// Every response's fields, in JSON and in XML, are the specification's.
async fn fields_follow_the_specification(app: &TestApp, number: &str) {
    async fn json(app: &TestApp, path: &str) -> Value {
        let r = get(app, path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        serde_json::from_str::<Value>(&r.body).unwrap()
    }
    for s in json(app, "/open311/v2/services.json")
        .await
        .as_array()
        .unwrap()
    {
        fields_as_specified("service", s, SERVICE_FIELDS, SERVICE_FIELDS);
    }
    let d = json(app, "/open311/v2/services/no-cold-water.json").await;
    fields_as_specified("definition", &d, DEFINITION_FIELDS, DEFINITION_FIELDS);
    for a in d["attributes"].as_array().unwrap() {
        fields_as_specified("attribute", a, ATTRIBUTE_FIELDS, ATTRIBUTE_FIELDS);
    }
    let core = [
        "service_request_id",
        "status",
        "service_name",
        "service_code",
        "requested_datetime",
        "updated_datetime",
    ];
    let one = json(app, &format!("/open311/v2/requests/{number}.json")).await;
    for r in one.as_array().unwrap() {
        fields_as_specified("request", r, REQUEST_FIELDS, &core);
        // W3C date-times with their zone.
        for field in [
            "requested_datetime",
            "updated_datetime",
            "expected_datetime",
        ] {
            let text = r[field].as_str().unwrap();
            assert!(
                chrono::DateTime::parse_from_rfc3339(text).is_ok(),
                "{field}: {text}"
            );
        }
    }
    let discovery = json(app, "/open311/v2/discovery.json").await;
    fields_as_specified("discovery", &discovery, DISCOVERY_FIELDS, DISCOVERY_FIELDS);
    for e in discovery["endpoints"].as_array().unwrap() {
        fields_as_specified("endpoint", e, ENDPOINT_FIELDS, ENDPOINT_FIELDS);
    }
    // The same in XML: the elements inside each repeated element.
    let xml_of = |path: String| async move { get(app, &path).await.body };
    let checks = [
        (
            "/open311/v2/services.xml".to_string(),
            "service",
            SERVICE_FIELDS,
        ),
        (
            format!("/open311/v2/requests/{number}.xml"),
            "request",
            REQUEST_FIELDS,
        ),
        (
            "/open311/v2/services/no-cold-water.xml".to_string(),
            "attribute",
            ATTRIBUTE_FIELDS,
        ),
        (
            "/open311/v2/discovery.xml".to_string(),
            "endpoint",
            ENDPOINT_FIELDS,
        ),
    ];
    for (path, element, allowed) in checks {
        let body = xml_of(path.clone()).await;
        let tags = xml_children(&body, element);
        assert!(!tags.is_empty(), "{path}: no <{element}> in {body}");
        for tag in tags {
            assert!(
                allowed.contains(&tag.as_str()),
                "{path}: <{tag}> in <{element}>"
            );
        }
    }
}

async fn open311_round_trip(backend: Backend) {
    let app = spawn_app(AppOptions {
        backend,
        extra: "[public.open311]\njurisdiction_id = \"zp.gov.ua\"\n".into(),
        ..AppOptions::default()
    })
    .await;
    with_classifier(&app).await;
    let (_, executor) = category(&app, "холодн").await;
    let code = "no-cold-water";
    let (key, _) = app
        .store()
        .add_api_key("Міський застосунок", false, Utc::now())
        .await
        .unwrap();
    let request_args = |key: &'static str| -> Vec<(&'static str, &'static str)> {
        vec![
            ("api_key", key),
            ("jurisdiction_id", "zp.gov.ua"),
            ("service_code", "no-cold-water"),
            ("lat", "47.8401"),
            ("long", "35.1102"),
            ("address_string", "вул. Соборна, 12, кв. 5"),
            ("first_name", "Марія"),
            ("last_name", "Коваленко"),
            ("attribute[patronymic]", "Іванівна"),
            ("attribute[consent]", "yes"),
            ("phone", "067 123 45 67"),
            ("email", "maria@example.com"),
            ("description", "Третій день немає холодної води в під'їзді."),
            ("media_url", "https://app.example/photos/1.jpg"),
            ("account_id", "acc-42"),
        ]
    };
    let key: &'static str = Box::leak(key.into_boxed_str());

    // Filed with the key: a card with channel open311, by the application.
    let r = post(&app, "json", &request_args(key)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.headers
            .iter()
            .any(|(n, v)| n == "content-type" && v.starts_with("application/json")),
        "{:?}",
        r.headers
    );
    let created: Value = serde_json::from_str(&r.body).unwrap();
    let number = created[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_string();
    fields_as_specified(
        "created",
        &created[0],
        CREATED_FIELDS,
        &["service_request_id", "service_notice"],
    );
    assert!(
        created[0].get("token").is_none(),
        "an id, not both: {created}"
    );
    assert_eq!(created[0]["account_id"], "acc-42");
    assert!(
        created[0]["service_notice"]
            .as_str()
            .unwrap()
            .contains("строк"),
        "{created}"
    );
    let card = app.store().appeal_detail(&number).await.unwrap().unwrap();
    assert_eq!(card.channel, Some(hotline::appeal::Channel::Open311));
    assert_eq!(card.record.executor, executor);
    assert_eq!(
        (card.latitude, card.longitude),
        (Some(47.8401), Some(35.1102))
    );
    let history = app.store().appeal_history(card.record.id).await.unwrap();
    assert_eq!(history[0].login, "open311:Міський застосунок");
    let (app_name, media) = app
        .store()
        .open311_origin(card.record.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(app_name, "Міський застосунок");
    assert_eq!(media.as_deref(), Some("https://app.example/photos/1.jpg"));

    fields_follow_the_specification(&app, &number).await;

    // The independent client reads services, a definition and requests,
    // in JSON and in XML, and finds the same things in both.
    let root = format!("http://{}/open311/v2", app.http_addr);
    let read = python_client(&root, &number, code).await;
    for fmt in ["json", "xml"] {
        let got = &read[fmt];
        assert!(got["services"].as_u64().unwrap() > 50, "{fmt}: {got}");
        assert!(
            got["codes"].as_array().unwrap().iter().any(|c| c == code),
            "{fmt}: {got}"
        );
        assert!(
            got["groups"].to_string().contains("Водопостачання"),
            "{fmt}"
        );
        assert_eq!(got["definition"]["service_code"], code, "{fmt}");
        let one = &got["one"];
        assert_eq!(one["service_request_id"], number.as_str(), "{fmt}: {one}");
        assert_eq!(one["status"], "open", "{fmt}");
        assert_eq!(one["service_code"], code, "{fmt}");
        assert_eq!(one["address"], "вул. Соборна", "{fmt}: the street only");
        assert_eq!(
            one["media_url"], "https://app.example/photos/1.jpg",
            "{fmt}"
        );
        assert!(
            one["agency_responsible"]
                .as_str()
                .unwrap()
                .contains("Водоканал"),
            "{fmt}"
        );
        assert!(
            one["expected_datetime"].as_str().unwrap().ends_with('Z'),
            "{fmt}"
        );
        assert_eq!(got["many"][0], number.as_str(), "{fmt}");
    }
    // The definition's attributes, as the client saw them in JSON.
    let attributes = read["json"]["definition"]["attributes"].as_array().unwrap();
    let codes: Vec<&str> = attributes
        .iter()
        .map(|a| a["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["patronymic", "consent", "other_contact"]);

    // No personal data anywhere a GET reaches.
    for path in [
        format!("/open311/v2/requests/{number}.json"),
        format!("/open311/v2/requests/{number}.xml"),
        "/open311/v2/requests.xml".to_string(),
        "/open311/v2/requests.json?status=open,closed".to_string(),
    ] {
        let r = get(&app, &path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        for private in [
            "Коваленко",
            "Марія",
            "380671234567",
            "maria@",
            "12, кв",
            "Третій день",
            "acc-42",
        ] {
            assert!(!r.body.contains(private), "{private} in {path}: {}", r.body);
        }
    }
    let r = get(&app, "/open311/v2/requests.xml").await;
    assert!(
        r.body
            .starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<service_requests><request>"),
        "{}",
        r.body
    );
    let r = get(&app, "/open311/v2/requests.json?status=closed").await;
    assert_eq!(r.body, "[]", "none closed yet");
    let r = get(&app, "/open311/v2/discovery.xml").await;
    assert_eq!(r.status, 200);
    assert!(
        r.body
            .contains("<specification>http://wiki.open311.org/GeoReport_v2</specification>"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains(
            "<formats><format>text/xml</format><format>application/json</format></formats>"
        ),
        "{}",
        r.body
    );

    // Errors in the specification's document.
    let r = post(&app, "xml", &request_args("not-a-key")).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        r.body.contains("<errors><error><code>403</code>"),
        "{}",
        r.body
    );
    let r = post(&app, "json", &[("api_key", key), ("service_code", code)]).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let errors: Value = serde_json::from_str(&r.body).unwrap();
    let named: Vec<&str> = errors
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e["description"]
                .as_str()
                .unwrap()
                .split(':')
                .next()
                .unwrap()
        })
        .collect();
    for arg in [
        "address_string",
        "first_name",
        "last_name",
        "attribute[patronymic]",
        "attribute[consent]",
        "description",
        "phone",
    ] {
        assert!(named.contains(&arg), "{arg} in {named:?}");
    }
    let mut unknown = request_args(key);
    unknown[2] = ("service_code", "no-such-service");
    let r = post(&app, "json", &unknown).await;
    assert_eq!(r.status, 404, "{}", r.body);
    let mut elsewhere = request_args(key);
    elsewhere[1] = ("jurisdiction_id", "kyivcity.gov.ua");
    let r = post(&app, "json", &elsewhere).await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = get(&app, "/open311/v2/requests/1580-2000-000001.json").await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.body.starts_with("[{\"code\":404,"), "{}", r.body);
    let r = get(
        &app,
        "/open311/v2/requests.json?start_date=2026-01-01T00:00:00Z&end_date=2026-12-01T00:00:00Z",
    )
    .await;
    assert_eq!(r.status, 400, "more than 90 days: {}", r.body);
    let r = get(&app, "/open311/v2/services.html").await;
    assert_eq!(r.status, 404);
    let r = request_bytes(
        app.http_addr,
        "POST",
        "/open311/v2/discovery.json",
        &[(
            "Content-Type",
            "application/x-www-form-urlencoded".to_string(),
        )],
        b"",
    )
    .await;
    assert_eq!(r.status, 405, "{}", r.body);
    // The key in the query is not taken: it would stay in proxies' logs.
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            request_args(key)
                .into_iter()
                .filter(|(n, _)| *n != "api_key"),
        )
        .finish();
    let r = request_bytes(
        app.http_addr,
        "POST",
        &format!("/open311/v2/requests.json?api_key={key}"),
        &[(
            "Content-Type",
            "application/x-www-form-urlencoded".to_string(),
        )],
        body.as_bytes(),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    // A card from a call is not published here, not even by its number.
    let phone_card = hotline::appeal::NewAppeal {
        surname: "Петренко".into(),
        first_name: "Іван".into(),
        patronymic: "Петрович".into(),
        address: "вул. Гоголя, 5".into(),
        contact_phone: "+380501112233".into(),
        essence: "Немає води".into(),
        category_id: category(&app, "холодн").await.0.parse().ok(),
        channel: Some(hotline::appeal::Channel::Phone),
        ..Default::default()
    };
    let rules = hotline::appeal::lifecycle::Lifecycle::new(
        hotline::appeal::calendar::WorkingCalendar::default(),
        0.25,
    );
    let phone = app
        .store()
        .register_appeal(
            &phone_card,
            &rules,
            &hotline::appeal::lifecycle_store::Author::system(),
            Utc::now(),
        )
        .await
        .unwrap();
    let phone_number = phone.record.registration_number.to_string();
    let r = get(&app, &format!("/open311/v2/requests/{phone_number}.json")).await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = get(&app, "/open311/v2/requests.json").await;
    assert!(!r.body.contains(&phone_number), "{}", r.body);
    // "unknown": filed to triage, found by its code.
    let mut unsure = request_args(key);
    unsure[2] = ("service_code", "unknown");
    unsure.retain(|(n, _)| *n != "email" && *n != "phone");
    unsure.push(("phone", "063 111 22 33"));
    let r = post(&app, "json", &unsure).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let unsure_number = serde_json::from_str::<Value>(&r.body).unwrap()[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = get(&app, "/open311/v2/requests.json?service_code=unknown").await;
    let found: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(found.as_array().map(Vec::len), Some(1), "{found}");
    assert_eq!(found[0]["service_request_id"], unsure_number.as_str());
    assert_eq!(found[0]["service_code"], "unknown");
    assert_eq!(found[0]["lat"], 47.84, "to about a hundred metres");
    assert_eq!(
        app.store()
            .appeals_by_phone("+380671234567", 10)
            .await
            .unwrap()
            .len(),
        1,
        "nothing else filed"
    );

    // A blocked e-mail: refused, nothing registered.
    let blocked = serde_json::json!({ "number": "maria@example.com", "reason": "спам" });
    let (status, _) = app.api("POST", "/api/blocked", &blocked.to_string()).await;
    assert_eq!(status, 201);
    let r = post(&app, "json", &request_args(key)).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(
        app.store()
            .appeals_by_phone("+380671234567", 10)
            .await
            .unwrap()
            .len(),
        1
    );

    // An application that asked for tokens gets one, and the token finds
    // the request.
    let (token_key, _) = app
        .store()
        .add_api_key("Пакетний клієнт", true, Utc::now())
        .await
        .unwrap();
    let token_key: &'static str = Box::leak(token_key.into_boxed_str());
    let mut args = request_args(token_key);
    args.retain(|(n, _)| *n != "email");
    args.push(("phone", "050 765 43 21"));
    args.retain(|(n, v)| !(*n == "phone" && *v == "067 123 45 67"));
    let r = post(&app, "xml", &args).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        !r.body.contains("service_request_id"),
        "a token, not both: {}",
        r.body
    );
    let token = r
        .body
        .split("<token>")
        .nth(1)
        .and_then(|t| t.split("</token>").next())
        .unwrap()
        .to_string();
    let r = get(&app, &format!("/open311/v2/tokens/{token}.json")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let found: Value = serde_json::from_str(&r.body).unwrap();
    let by_token = found[0]["service_request_id"].as_str().unwrap();
    assert!(app.store().appeal_detail(by_token).await.unwrap().is_some());

    // Revoked: refused.
    app.store()
        .revoke_api_key("Міський застосунок", Utc::now())
        .await
        .unwrap()
        .unwrap();
    let mut again = request_args(key);
    again.retain(|(n, _)| *n != "email");
    let r = post(&app, "json", &again).await;
    assert_eq!(r.status, 403, "{}", r.body);
}

#[tokio::test]
async fn open311_speaks_georeport_v2_on_sqlite() {
    open311_round_trip(Backend::Sqlite).await;
}

#[tokio::test]
async fn open311_speaks_georeport_v2_on_postgres() {
    open311_round_trip(Backend::Postgres).await;
}

#[tokio::test]
async fn open311_is_limited_per_key_and_per_reader() {
    let app = spawn_app(AppOptions {
        extra: "[public.open311]\nrequests_per_key_hour = 1\nreads_per_address_minute = 3\n".into(),
        ..AppOptions::default()
    })
    .await;
    with_classifier(&app).await;
    let (key, _) = app
        .store()
        .add_api_key("Швидкий клієнт", false, Utc::now())
        .await
        .unwrap();
    let args = |phone: &'static str| -> Vec<(&'static str, &'static str)> {
        vec![
            ("service_code", "no-cold-water"),
            ("address_string", "вул. Соборна, 12"),
            ("first_name", "Марія"),
            ("last_name", "Коваленко"),
            ("attribute[patronymic]", "Іванівна"),
            ("attribute[consent]", "yes"),
            ("phone", phone),
            ("description", "Немає води"),
        ]
    };
    let mut first = args("067 000 11 22");
    first.push(("api_key", &key));
    let r = post(&app, "json", &first).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut second = args("067 000 11 23");
    second.push(("api_key", &key));
    let r = post(&app, "xml", &second).await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.headers.iter().any(|(n, _)| n == "retry-after"));
    assert!(
        r.body.contains("<errors><error><code>429</code>"),
        "{}",
        r.body
    );
    // Reads: three a minute here, then the spec's error document.
    for _ in 0..3 {
        assert_eq!(get(&app, "/open311/v2/services.json").await.status, 200);
    }
    let r = get(&app, "/open311/v2/services.xml").await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.body.contains("<code>429</code>"), "{}", r.body);
}
