//! Reading and building SIP messages: the header values the transaction and
//! dialog layers need (branch, sent-by, tags, CSeq), and responses built from
//! a request as RFC 3261 §8.2.6 prescribes.
//!
//! Pure functions over `rsip` types; no state, no IO.

use std::net::SocketAddr;

use rsip::headers::UntypedHeader;
use rsip::message::HasHeaders;
use rsip::prelude::*;
use rsip::{Header, Method, Request, Response, SipMessage};

/// The branch prefix of RFC 3261 §8.1.1.7.
pub const MAGIC_COOKIE: &str = "z9hG4bK";

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum MessageError {
    #[error("missing {0} header")]
    Missing(&'static str),
    #[error("malformed {0} header")]
    Malformed(&'static str),
}

/// The parts of a `Via` value we act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViaInfo {
    pub transport: String,
    pub host: String,
    pub port: Option<u16>,
    pub branch: Option<String>,
    pub rport: bool,
}

impl ViaInfo {
    /// `host[:port]` as the transaction key uses it.
    pub fn sent_by(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.clone(),
        }
    }
}

/// Parses `SIP/2.0/UDP host:port;branch=…;rport` by hand: rsip's typed Via
/// rejects valid forms such as IPv6 references with parameters after them.
pub fn parse_via(value: &str) -> Result<ViaInfo, MessageError> {
    let bad = MessageError::Malformed("Via");
    let mut parts = value.split(';');
    let sent = parts.next().ok_or(bad.clone())?.trim();
    let (protocol, sent_by) = sent.split_once(char::is_whitespace).ok_or(bad.clone())?;
    let mut proto = protocol.trim().split('/');
    let (name, version, transport) = (proto.next(), proto.next(), proto.next());
    if !name.is_some_and(|n| n.eq_ignore_ascii_case("SIP")) || version != Some("2.0") {
        return Err(bad);
    }
    let transport = transport.ok_or(bad.clone())?.to_ascii_uppercase();
    let sent_by = sent_by.trim();
    let (host, port) = split_host_port(sent_by).ok_or(bad.clone())?;
    let mut info = ViaInfo {
        transport,
        host,
        port,
        branch: None,
        rport: false,
    };
    for param in parts {
        let (key, val) = match param.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim())),
            None => (param.trim(), None),
        };
        if key.eq_ignore_ascii_case("branch") {
            info.branch = val.map(str::to_string);
        } else if key.eq_ignore_ascii_case("rport") {
            info.rport = true;
        }
    }
    Ok(info)
}

/// Splits `host`, `host:port`, `[v6]` or `[v6]:port`.
pub fn split_host_port(s: &str) -> Option<(String, Option<u16>)> {
    if s.is_empty() {
        return None;
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        return Some((format!("[{host}]"), port));
    }
    match s.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => {
            Some((host.to_string(), Some(port.parse().ok()?)))
        }
        _ => Some((s.to_string(), None)),
    }
}

/// The top `Via` of a message.
pub fn top_via(msg: &impl HasHeaders) -> Result<ViaInfo, MessageError> {
    let via = msg.headers().iter().find_map(|h| match h {
        Header::Via(v) => Some(v.value().to_string()),
        _ => None,
    });
    parse_via(&via.ok_or(MessageError::Missing("Via"))?)
}

/// `(sequence number, method)` from CSeq.
pub fn cseq(msg: &impl HeadersExt) -> Result<(u32, Method), MessageError> {
    let value = msg
        .cseq_header()
        .map_err(|_| MessageError::Missing("CSeq"))?
        .value()
        .to_string();
    let (num, method) = value
        .trim()
        .split_once(char::is_whitespace)
        .ok_or(MessageError::Malformed("CSeq"))?;
    let num = num
        .parse::<u32>()
        .map_err(|_| MessageError::Malformed("CSeq"))?;
    let method = method
        .trim()
        .parse::<Method>()
        .map_err(|_| MessageError::Malformed("CSeq"))?;
    Ok((num, method))
}

pub fn call_id(msg: &impl HeadersExt) -> Result<String, MessageError> {
    Ok(msg
        .call_id_header()
        .map_err(|_| MessageError::Missing("Call-ID"))?
        .value()
        .trim()
        .to_string())
}

/// The `tag` parameter of From.
pub fn from_tag(msg: &impl HeadersExt) -> Result<Option<String>, MessageError> {
    let from = msg
        .from_header()
        .map_err(|_| MessageError::Missing("From"))?;
    Ok(tag_param(from.value()))
}

/// The `tag` parameter of To.
pub fn to_tag(msg: &impl HeadersExt) -> Result<Option<String>, MessageError> {
    let to = msg.to_header().map_err(|_| MessageError::Missing("To"))?;
    Ok(tag_param(to.value()))
}

/// Finds `;tag=` in a name-addr value, outside the `<…>` URI.
fn tag_param(value: &str) -> Option<String> {
    header_param(value, "tag")
}

/// A header parameter of a name-addr or addr-spec value (`;tag=`,
/// `;expires=`), looked for after the `<…>` URI so that the URI's own
/// parameters are not taken for the header's.
pub fn header_param(value: &str, name: &str) -> Option<String> {
    let params = match value.rfind('>') {
        Some(i) => &value[i + 1..],
        None => value.split_once(';').map(|(_, p)| p).unwrap_or(""),
    };
    params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_string())
    })
}

/// The URI inside a name-addr or addr-spec header value
/// (`"Name" <sip:u@h>;tag=1` → `sip:u@h`).
pub fn addr_uri(value: &str) -> Option<&str> {
    let value = value.trim();
    if let (Some(start), Some(end)) = (value.find('<'), value.find('>')) {
        return (start < end).then(|| value[start + 1..end].trim());
    }
    // addr-spec: parameters after ';' belong to the header, not the URI.
    Some(value.split(';').next().unwrap_or(value).trim()).filter(|s| !s.is_empty())
}

/// The user part of a SIP/tel URI (`sip:0611234567@host` → `0611234567`).
pub fn uri_user(uri: &str) -> Option<&str> {
    let rest = uri.split_once(':').map(|(_, r)| r)?;
    let user = match rest.split_once('@') {
        Some((user, _)) => user,
        // tel:+380… has no host part.
        None if uri.to_ascii_lowercase().starts_with("tel:") => rest,
        None => return None,
    };
    Some(user.split([';', '?']).next().unwrap_or(user)).filter(|s| !s.is_empty())
}

/// Values of every header with this name (case-insensitive), including
/// headers rsip keeps as `Other`, split at top-level commas.
pub fn header_values(msg: &impl HasHeaders, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for h in msg.headers().iter() {
        let text = h.to_string();
        let Some((n, v)) = text.split_once(':') else {
            continue;
        };
        if !n.trim().eq_ignore_ascii_case(name) {
            continue;
        }
        if is_single_valued(name) {
            out.push(v.trim().to_string());
        } else {
            out.extend(
                super::wire::split_list(v.trim())
                    .into_iter()
                    .map(str::to_string),
            );
        }
    }
    out
}

/// Headers whose values contain commas that do not separate values
/// (digest parameters, dates, free text).
fn is_single_valued(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.contains("auth")
        || [
            "date",
            "subject",
            "user-agent",
            "server",
            "warning",
            "retry-after",
        ]
        .contains(&lower.as_str())
}

pub fn first_header(msg: &impl HasHeaders, name: &str) -> Option<String> {
    header_values(msg, name).into_iter().next()
}

/// A random token for tags and branches: 64 bits of entropy, hex.
pub fn random_token() -> String {
    format!("{:016x}", rand::random::<u64>())
}

pub fn new_branch() -> String {
    format!("{MAGIC_COOKIE}{}", random_token())
}

/// Builds a response to `req` as RFC 3261 §8.2.6.2 says: Via, From, To,
/// Call-ID and CSeq copied; To gets `to_tag` unless it has one or this is a
/// 100; the top Via gets `received` and, when asked for, `rport` (RFC 3581)
/// with the real source so the peer can tell it was NATed.
pub fn response_to(req: &Request, code: u16, to_tag: Option<&str>, source: SocketAddr) -> Response {
    let mut headers = rsip::Headers::default();
    let mut first_via = true;
    for h in req.headers().iter() {
        match h {
            Header::Via(v) if first_via => {
                first_via = false;
                headers.push(Header::Via(rsip::headers::Via::new(stamp_via(
                    v.value(),
                    source,
                ))));
            }
            Header::Via(_) | Header::From(_) | Header::CallId(_) | Header::CSeq(_) => {
                headers.push(h.clone())
            }
            Header::To(t) => {
                let has_tag = tag_param(t.value()).is_some();
                let value = match to_tag {
                    Some(tag) if !has_tag && code > 100 => format!("{};tag={tag}", t.value()),
                    _ => t.value().to_string(),
                };
                headers.push(Header::To(rsip::headers::To::new(value)));
            }
            // A Timestamp in a request is echoed in the 100 (§8.2.6.1).
            Header::Timestamp(_) if code == 100 => headers.push(h.clone()),
            _ => {}
        }
    }
    headers.push(Header::Server(rsip::headers::Server::new(
        super::USER_AGENT,
    )));
    Response {
        status_code: rsip::StatusCode::from(code),
        version: rsip::Version::V2,
        headers,
        body: Vec::new(),
    }
}

/// Adds `received` and fills `rport` in a Via value (RFC 3581 §4).
fn stamp_via(value: &str, source: SocketAddr) -> String {
    let mut out = String::with_capacity(value.len() + 40);
    let mut parts = value.split(';');
    out.push_str(parts.next().unwrap_or(value).trim());
    for p in parts {
        let key = p.split('=').next().unwrap_or("").trim();
        if key.eq_ignore_ascii_case("received") {
            continue;
        }
        if key.eq_ignore_ascii_case("rport") {
            out.push_str(&format!(";rport={}", source.port()));
        } else {
            out.push(';');
            out.push_str(p.trim());
        }
    }
    out.push_str(&format!(";received={}", source.ip()));
    out
}

/// Adds a header given as text to a message (for headers rsip has no
/// variant for, or when we already have the value as a string).
pub fn push_header(msg: &mut impl HasHeaders, name: &str, value: impl Into<String>) {
    let value = value.into();
    let header = match name {
        "Contact" => Header::Contact(rsip::headers::Contact::new(value)),
        "Content-Type" => Header::ContentType(rsip::headers::ContentType::new(value)),
        "Allow" => Header::Allow(rsip::headers::Allow::new(value)),
        "Supported" => Header::Supported(rsip::headers::Supported::new(value)),
        "Record-Route" => Header::RecordRoute(rsip::headers::RecordRoute::new(value)),
        "Route" => Header::Route(rsip::headers::Route::new(value)),
        _ => Header::Other(name.to_string(), value),
    };
    msg.headers_mut().push(header);
}

/// Convenience: is this message a request with this method?
pub fn is_method(msg: &SipMessage, method: Method) -> bool {
    matches!(msg, SipMessage::Request(r) if r.method == method)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn via_forms() {
        let v = parse_via("SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKabc;rport").unwrap();
        assert_eq!(
            (v.transport.as_str(), v.host.as_str(), v.port),
            ("UDP", "127.0.0.1", Some(5070))
        );
        assert_eq!(v.branch.as_deref(), Some("z9hG4bKabc"));
        assert!(v.rport);
        let v = parse_via("SIP/2.0/tcp [2001:db8::1]:5061 ;branch=z9hG4bKx").unwrap();
        assert_eq!(
            (v.transport.as_str(), v.host.as_str(), v.port),
            ("TCP", "[2001:db8::1]", Some(5061))
        );
        let v = parse_via("SIP/2.0/UDP pc33.example.com").unwrap();
        assert_eq!((v.port, v.rport, v.branch), (None, false, None));
        assert!(parse_via("garbage").is_err());
        assert!(parse_via("SIP/3.0/UDP a").is_err());
        assert!(parse_via("SIP/2.0/UDP a:notaport").is_err());
    }

    #[test]
    fn via_is_stamped_with_source() {
        let src: SocketAddr = "192.0.2.7:40000".parse().unwrap();
        assert_eq!(
            stamp_via("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;rport", src),
            "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;rport=40000;received=192.0.2.7"
        );
    }

    #[test]
    fn tags_and_uris() {
        assert_eq!(
            tag_param("\"A;tag=no\" <sip:a@b;tag=no>;tag=yes").as_deref(),
            Some("yes")
        );
        assert_eq!(tag_param("sip:a@b;tag=t1").as_deref(), Some("t1"));
        assert_eq!(tag_param("<sip:a@b>"), None);
        assert_eq!(
            addr_uri("\"Ivan\" <sip:0611234567@h:5060>;tag=1"),
            Some("sip:0611234567@h:5060")
        );
        assert_eq!(addr_uri("sip:a@b;tag=1"), Some("sip:a@b"));
        assert_eq!(
            uri_user("sip:0611234567@h:5060;user=phone"),
            Some("0611234567")
        );
        assert_eq!(
            uri_user("tel:+380611234567;phone-context=x"),
            Some("+380611234567")
        );
        assert_eq!(uri_user("sip:host.example"), None);
    }

    #[test]
    fn response_copies_what_rfc_says() {
        let raw = "INVITE sip:1580@127.0.0.1 SIP/2.0\r\n\
            Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1;rport\r\n\
            Via: SIP/2.0/UDP 10.1.1.1;branch=z9hG4bK0\r\n\
            From: <sip:a@127.0.0.1>;tag=f\r\nTo: <sip:1580@127.0.0.1>\r\n\
            Call-ID: c1\r\nCSeq: 7 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
        let SipMessage::Request(req) = super::super::wire::parse(raw.as_bytes()).unwrap() else {
            panic!("request expected")
        };
        let resp = response_to(&req, 180, Some("ours"), "127.0.0.1:5070".parse().unwrap());
        assert_eq!(to_tag(&resp).unwrap().as_deref(), Some("ours"));
        assert_eq!(cseq(&resp).unwrap(), (7, Method::Invite));
        assert_eq!(header_values(&resp, "Via").len(), 2);
        let trying = response_to(&req, 100, Some("ours"), "127.0.0.1:5070".parse().unwrap());
        assert_eq!(to_tag(&trying).unwrap(), None);
    }
}
