//! SIP on the wire: framing a byte stream into messages, normalising what
//! RFC 3261 allows but `rsip` does not read, and printing messages back out.
//!
//! Framing follows mini-redis: [`check_frame`] decides whether a buffer holds a
//! complete message (start line, headers, and `Content-Length` bytes of body)
//! before anything is parsed, so a TCP connection's buffer is only consumed
//! whole messages at a time. [`parse`] then normalises the header section —
//! line folding, compact header names (`v:`, `i:` …), white space before the
//! colon, several values in one `Via`/`Route`/`Record-Route` line —
//! and hands the result to `rsip`.
//!
//! This module knows nothing of transactions or sockets.

use rsip::SipMessage;

/// Largest message we accept. RFC 3261 §18.1.1 caps UDP at the path MTU
/// for requests we send, but peers do send larger INVITEs over UDP with big
/// SDP bodies; 64 KiB is the datagram limit and a generous cap for TCP.
pub const MAX_MESSAGE: usize = 65_535;

/// Longest Request-URI we read; longer ones get 414 (§21.4.12). A
/// telephone number or an operator's address is far shorter.
pub const MAX_URI: usize = 1024;

/// Longest header line (after unfolding). RFC 4475's long but valid
/// message (§3.1.1.3) has lines of about 2,000 bytes.
pub const MAX_HEADER_LINE: usize = 8192;

/// Most header lines in one message, and most header values once comma
/// lists are split into one value a line.
pub const MAX_HEADERS: usize = 256;

/// Headers that may appear once (§7.3.1, §20): a second one makes the
/// message ambiguous, and ambiguity is what an attacker exploits.
const SINGLE_VALUED: [&str; 8] = [
    "Call-ID",
    "From",
    "To",
    "CSeq",
    "Max-Forwards",
    "Content-Length",
    "Content-Type",
    "Expires",
];

/// Methods `rsip` knows. Methods are case-sensitive (§7.1): `invite` is an
/// unknown method, answered 501.
const KNOWN_METHODS: [&str; 14] = [
    "INVITE",
    "ACK",
    "BYE",
    "CANCEL",
    "OPTIONS",
    "REGISTER",
    "INFO",
    "PRACK",
    "UPDATE",
    "SUBSCRIBE",
    "NOTIFY",
    "REFER",
    "MESSAGE",
    "PUBLISH",
];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    #[error("message exceeds {MAX_MESSAGE} bytes")]
    TooLarge,
    #[error("malformed start line")]
    StartLine,
    #[error("SIP version {0} is not supported")]
    Version(String),
    #[error("method {0} is not implemented")]
    UnknownMethod(String),
    #[error("URI scheme {0} is not supported")]
    UnsupportedScheme(String),
    #[error("Request-URI of {0} bytes is longer than {MAX_URI}")]
    UriTooLong(usize),
    #[error("malformed header line: {0}")]
    HeaderLine(String),
    #[error("header line of {0} bytes is longer than {MAX_HEADER_LINE}")]
    HeaderTooLong(usize),
    #[error("more than {MAX_HEADERS} header lines")]
    TooManyHeaders,
    #[error("{0} appears more than once")]
    Duplicate(&'static str),
    #[error("unterminated quoted string in {0}")]
    UnterminatedQuote(String),
    #[error("Content-Length is not a number")]
    ContentLength,
    #[error("stream framing requires Content-Length")]
    MissingContentLength,
    #[error("body is shorter than Content-Length ({declared} declared, {actual} present)")]
    TruncatedBody { declared: usize, actual: usize },
    #[error("rsip could not parse the message: {0}")]
    Rsip(String),
}

impl WireError {
    /// The response a request that fails this way gets (§8.2, §21.4, §21.5).
    pub fn status(&self) -> u16 {
        match self {
            WireError::TooLarge => 513,
            WireError::Version(_) => 505,
            WireError::UnknownMethod(_) => 501,
            WireError::UriTooLong(_) => 414,
            WireError::UnsupportedScheme(_) => 416,
            _ => 400,
        }
    }
}

/// Result of checking a stream buffer for a complete message.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// More bytes are needed.
    Incomplete,
    /// Keep-alive CRLFs (RFC 5626 §3.5.1) to discard: this many bytes.
    KeepAlive(usize),
    /// A complete message occupies the first `len` bytes.
    Complete(usize),
}

/// Checks whether `buf` begins with a complete message (stream transports).
///
/// Over a stream `Content-Length` is mandatory (RFC 3261 §18.3); its absence
/// is an error because we could not tell where the next message starts.
pub fn check_frame(buf: &[u8]) -> Result<Frame, WireError> {
    let leading = buf
        .iter()
        .take_while(|b| **b == b'\r' || **b == b'\n')
        .count();
    if leading > 0 {
        return Ok(Frame::KeepAlive(leading));
    }
    let Some(head_end) = find(buf, b"\r\n\r\n") else {
        if buf.len() > MAX_MESSAGE {
            return Err(WireError::TooLarge);
        }
        return Ok(Frame::Incomplete);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]);
    let length = content_length(&head)?.ok_or(WireError::MissingContentLength)?;
    let total = head_end + 4 + length;
    if total > MAX_MESSAGE {
        return Err(WireError::TooLarge);
    }
    if buf.len() < total {
        return Ok(Frame::Incomplete);
    }
    Ok(Frame::Complete(total))
}

/// Parses one whole message (a datagram, or a frame cut by [`check_frame`]).
///
/// For datagrams a missing `Content-Length` means "the rest of the packet"
/// (RFC 3261 §18.3); a body longer than declared is cut to the declared
/// length, a shorter one is an error (the message was truncated).
pub fn parse(bytes: &[u8]) -> Result<SipMessage, WireError> {
    if bytes.len() > MAX_MESSAGE {
        return Err(WireError::TooLarge);
    }
    // Leading CRLFs before the start line must be ignored (§7.5).
    let start = bytes
        .iter()
        .take_while(|b| **b == b'\r' || **b == b'\n')
        .count();
    let bytes = &bytes[start..];
    let (head, body) = match find(bytes, b"\r\n\r\n") {
        Some(end) => (&bytes[..end], &bytes[end + 4..]),
        // Bare-LF messages exist in the wild; accept them as well.
        None => match find(bytes, b"\n\n") {
            Some(end) => (&bytes[..end], &bytes[end + 2..]),
            None => (bytes, &[][..]),
        },
    };
    // Headers should be UTF-8, but gateways send display names in legacy
    // encodings (CP1251); replace what is not UTF-8 rather than refuse.
    let head = String::from_utf8_lossy(head);
    let body = match content_length(&head)? {
        Some(declared) if declared > body.len() => {
            return Err(WireError::TruncatedBody {
                declared,
                actual: body.len(),
            });
        }
        Some(declared) => &body[..declared],
        None => body,
    };
    let normalised = normalise_head(&head)?;
    let mut message = Vec::with_capacity(normalised.len() + body.len() + 4);
    message.extend_from_slice(normalised.as_bytes());
    message.extend_from_slice(b"\r\n\r\n");
    let mut parsed =
        SipMessage::try_from(&message[..]).map_err(|e| WireError::Rsip(e.to_string()))?;
    // rsip keeps the body as whatever followed the blank line; we give it
    // exactly the declared body (which may contain CRLFCRLF itself).
    *parsed.body_mut() = body.to_vec();
    Ok(parsed)
}

/// Prints a message with a correct `Content-Length` for its body.
pub fn serialize(message: &SipMessage) -> Vec<u8> {
    use rsip::Header;
    use rsip::message::HasHeaders;
    let mut out = String::with_capacity(512);
    match message {
        SipMessage::Request(r) => {
            out.push_str(&format!("{} {} SIP/2.0\r\n", r.method, r.uri));
        }
        SipMessage::Response(r) => {
            out.push_str(&format!(
                "SIP/2.0 {} {}\r\n",
                r.status_code.code(),
                reason_phrase(r.status_code.code())
            ));
        }
    }
    for header in message.headers().iter() {
        if matches!(header, Header::ContentLength(_)) {
            continue;
        }
        out.push_str(&header.to_string());
        out.push_str("\r\n");
    }
    let body = message.body();
    out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// Reason phrases for the codes we send; the phrase is informational only.
pub fn reason_phrase(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        180 => "Ringing",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        603 => "Decline",
        _ => "Unknown",
    }
}

/// The answer to a request that could not be parsed ([`WireError::status`]:
/// 400, 414, 501, 505, 513), if it is recognisably a request whose Via,
/// From, To, Call-ID and CSeq we can copy (§8.2.6 needs them to route the
/// response); anything else, and ACK, gets nothing (§16.3, §18.1.2). Where a
/// single-valued header is duplicated the first is copied.
pub fn error_response(bytes: &[u8], error: &WireError) -> Option<Vec<u8>> {
    let head_end = find(bytes, b"\r\n\r\n").unwrap_or(bytes.len());
    let text = String::from_utf8_lossy(&bytes[..head_end.min(MAX_MESSAGE)]);
    // Lines end at LF, as the parser reads them: a bare LF inside what
    // looks like one line must not carry a header into our answer.
    let mut lines = text
        .trim_start_matches(['\r', '\n'])
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l));
    // Method first and version last, whatever is between (a URI with
    // spaces in it still gets its 400).
    let parts: Vec<&str> = lines.next()?.split_whitespace().collect();
    let (&method, &version) = (parts.first()?, parts.last()?);
    if parts.len() < 3 {
        return None;
    }
    if method == "ACK"
        || !is_token(method)
        || !version
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("SIP/"))
    {
        return None;
    }
    const COPIED: [&str; 5] = ["Via", "From", "To", "Call-ID", "CSeq"];
    let mut vias = Vec::new();
    let mut single: [Option<&str>; 4] = [None; 4];
    for line in lines.take_while(|l| !l.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        // A CR left in a line is a bare one: a line break to some readers.
        // (Other control bytes may come quoted, as in RFC 4475 §3.1.1.2.)
        if line.len() > MAX_HEADER_LINE || line.contains('\r') {
            continue;
        }
        let name = expand_compact(name.trim());
        match COPIED.iter().position(|h| name.eq_ignore_ascii_case(h)) {
            Some(0) => vias.push(value.trim()),
            Some(i) => {
                single[i - 1].get_or_insert(value.trim());
            }
            None => {}
        }
    }
    if vias.is_empty() || single.iter().any(Option::is_none) {
        return None;
    }
    let code = error.status();
    let reason: String = error
        .to_string()
        .chars()
        .filter(|c| !c.is_control() && *c != '"' && *c != '\\')
        .take(120)
        .collect();
    let mut out = format!("SIP/2.0 {code} {}\r\n", reason_phrase(code));
    for via in vias {
        out.push_str(&format!("Via: {via}\r\n"));
    }
    for (name, value) in COPIED[1..].iter().zip(single) {
        let value = value.unwrap_or_default();
        // A final response carries our tag in To (§8.2.6.2).
        let tag = match *name == "To" && !value.to_ascii_lowercase().contains(";tag=") {
            true => format!(";tag={}", crate::msg::random_token()),
            false => String::new(),
        };
        out.push_str(&format!("{name}: {value}{tag}\r\n"));
    }
    out.push_str(&format!(
        "Warning: 399 hotline \"{reason}\"\r\nServer: {}\r\nContent-Length: 0\r\n\r\n",
        crate::USER_AGENT
    ));
    Some(out.into_bytes())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Reads `Content-Length` (or its compact form `l`) from a header section.
/// Two of them, even equal, make the framing ambiguous: an error.
fn content_length(head: &str) -> Result<Option<usize>, WireError> {
    let mut found = None;
    for line in head.lines().skip(1) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("l") {
            if found.is_some() {
                return Err(WireError::Duplicate("Content-Length"));
            }
            let value = value.trim();
            if value.is_empty() || value.len() > 9 || !value.bytes().all(|b| b.is_ascii_digit()) {
                return Err(WireError::ContentLength);
            }
            found = Some(
                value
                    .parse::<usize>()
                    .map_err(|_| WireError::ContentLength)?,
            );
        }
    }
    Ok(found)
}

/// Long names for the compact forms of RFC 3261 §7.3.3 and later RFCs.
fn expand_compact(name: &str) -> &str {
    if name.len() != 1 {
        return name;
    }
    match name.as_bytes()[0].to_ascii_lowercase() {
        b'i' => "Call-ID",
        b'm' => "Contact",
        b'e' => "Content-Encoding",
        b'l' => "Content-Length",
        b'c' => "Content-Type",
        b'f' => "From",
        b's' => "Subject",
        b'k' => "Supported",
        b't' => "To",
        b'v' => "Via",
        b'o' => "Event",
        b'r' => "Refer-To",
        b'b' => "Referred-By",
        b'x' => "Session-Expires",
        b'u' => "Allow-Events",
        _ => name,
    }
}

/// Headers whose comma-separated values `rsip` wants on separate lines.
fn is_list_header(name: &str) -> bool {
    ["via", "route", "record-route"]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
}

/// Headers holding one or more addresses or hops, each with parameters.
const ADDRESS_HEADERS: [&str; 8] = [
    "from",
    "to",
    "contact",
    "route",
    "record-route",
    "reply-to",
    "via",
    "p-asserted-identity",
];

/// Headers whose grammar has quoted strings (display names, parameters):
/// an unterminated quote in them leaves the rest of the line ambiguous.
/// An unknown header's value is opaque and not checked (RFC 4475 §3.1.1.1).
fn has_quoted_strings(name: &str) -> bool {
    is_address_header(name)
        || [
            "authorization",
            "proxy-authorization",
            "content-type",
            "content-disposition",
            "refer-to",
            "referred-by",
        ]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
}

fn is_address_header(name: &str) -> bool {
    ADDRESS_HEADERS.iter().any(|h| name.eq_ignore_ascii_case(h))
}

/// `token` of §25.1: the characters a method or a header name is made of.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b))
}

/// Whether every quoted string in `value` ends (a backslash escapes the
/// next character inside quotes, §25.1 quoted-pair).
fn quotes_balanced(value: &str) -> bool {
    let (mut quoted, mut escaped) = (false, false);
    for b in value.bytes() {
        if escaped {
            escaped = false;
        } else if quoted && b == b'\\' {
            escaped = true;
        } else if b == b'"' {
            quoted = !quoted;
        }
    }
    !quoted
}

/// What §25.1 forbids in an address header and a lenient reading would
/// guess at (RFC 4475 §3.1.2.1, §3.1.2.13, §3.1.2.15): empty elements of a
/// list (`,,`), empty parameters (`;;`), a bare URI with `?headers` (it must
/// be in `<>`), an unquoted display name with separators in it. Only what
/// lies outside quotes and `<>` is looked at: a URI's user part may hold
/// `;;` and `,`.
fn check_address_syntax(name: &str, value: &str) -> Result<(), &'static str> {
    if !is_address_header(name) || (name.eq_ignore_ascii_case("contact") && value == "*") {
        return Ok(());
    }
    let elements: Vec<&str> = match is_list_header(name) || name.eq_ignore_ascii_case("contact") {
        true => split_list_keep_empty(value),
        false => vec![value],
    };
    for element in elements {
        let element = element.trim();
        if element.is_empty() {
            return Err("empty list element");
        }
        let outside = outside_quotes_and_brackets(element);
        let mut params = outside.split(';');
        let head = params.next().unwrap_or_default();
        if params.any(|p| p.trim().is_empty()) {
            return Err("empty parameter");
        }
        let bracketed = element.contains('<');
        if !bracketed && head.contains('?') && !name.eq_ignore_ascii_case("via") {
            return Err("a URI with headers must be enclosed in <>");
        }
        if bracketed && !element.trim_start().starts_with('"') {
            let display = &element[..element.find('<').unwrap_or(0)];
            let separator = |c: char| {
                c.is_ascii() && !c.is_ascii_alphanumeric() && !" \t-.!%*_+`'~".contains(c)
            };
            if display.chars().any(separator) {
                return Err("a display name with separators must be quoted");
            }
        }
    }
    Ok(())
}

/// `value` with quoted strings and `<…>` blanked out (each byte kept as a
/// space or a placeholder, so positions of `;` and `?` outside them stay).
fn outside_quotes_and_brackets(value: &str) -> String {
    let (mut quoted, mut escaped, mut depth) = (false, false, 0i32);
    value
        .chars()
        .map(|c| {
            let inside = quoted || depth > 0;
            if escaped {
                escaped = false;
            } else if quoted && c == '\\' {
                escaped = true;
            } else if c == '"' {
                quoted = !quoted;
                return 'q';
            } else if !quoted && c == '<' {
                depth += 1;
            } else if !quoted && c == '>' {
                depth -= 1;
                return 'u';
            }
            if inside || depth > 0 { 'u' } else { c }
        })
        .collect()
}

/// The Request-URI's user part with `;` escaped (`%3B`, an equal URI,
/// §19.1.4), for `rsip`, which reads `;` there as the start of parameters
/// (RFC 4475 §3.1.1.9: the user is `user;par=u@example.net`).
fn escape_user_part(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once(':') else {
        return uri.to_string();
    };
    match rest.rfind('@') {
        Some(at) if rest[..at].contains(';') => {
            format!("{scheme}:{}{}", rest[..at].replace(';', "%3B"), &rest[at..])
        }
        _ => uri.to_string(),
    }
}

/// `SIP / 2.0 / UDP host` → `SIP/2.0/UDP host`: §25.1 allows LWS around
/// the slashes of a Via's sent-protocol (RFC 4475 §3.1.1.1).
fn tidy_via(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value.trim_start();
    for field in 0..3 {
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '/')
            .unwrap_or(rest.len());
        out.push_str(&rest[..end]);
        rest = rest[end..].trim_start();
        if field < 2 {
            match rest.strip_prefix('/') {
                Some(after) => {
                    out.push('/');
                    rest = after.trim_start();
                }
                // Not a sent-protocol: leave it for parse_via to refuse.
                None => return value.to_string(),
            }
        }
    }
    out.push(' ');
    out.push_str(rest);
    out
}

/// The start line, checked and tidied; for a request also its method, which
/// is checked once the headers are known to be sound.
fn start_line(line: &str) -> Result<(String, Option<&str>), WireError> {
    // No CR but the line's own end, no other control byte (§25.1): a bare
    // CR would be read as a space here and as a line end elsewhere.
    if line.chars().any(|c| c.is_control() && c != '\t') {
        return Err(WireError::StartLine);
    }
    let parts: Vec<&str> = line.split_whitespace().collect();
    let sip_slash = |p: &str| p.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("SIP/"));
    if parts.first().is_some_and(|p| sip_slash(p)) {
        // A status line: version, three digits, a phrase of any words.
        let code = parts.get(1).ok_or(WireError::StartLine)?;
        // Three digits of a class 1 to 6 (§7.2, §21): "010" is none.
        if code.len() != 3
            || !code.bytes().all(|b| b.is_ascii_digit())
            || !(b'1'..=b'6').contains(&code.as_bytes()[0])
        {
            return Err(WireError::StartLine);
        }
        if !parts[0].eq_ignore_ascii_case("SIP/2.0") {
            return Err(WireError::Version(parts[0].to_string()));
        }
        // The phrase may be empty (RFC 4475 §3.1.1.13); rsip wants one.
        if parts.len() == 2 {
            let code = code.parse().unwrap_or(0);
            return Ok((format!("SIP/2.0 {code} {}", reason_phrase(code)), None));
        }
        return Ok((parts.join(" "), None));
    }
    // A request line: exactly method, URI and version (a URI with spaces
    // in it is malformed, §25.1).
    let [method, uri, version] = parts[..] else {
        return Err(WireError::StartLine);
    };
    if !is_token(method) {
        return Err(WireError::StartLine);
    }
    if uri.len() > MAX_URI {
        return Err(WireError::UriTooLong(uri.len()));
    }
    // A Request-URI is a bare URI: `<sip:…>` is malformed (RFC 4475 §3.1.2.7).
    let scheme = uri.split_once(':').map(|(s, _)| s).unwrap_or("");
    if uri.starts_with('<') || scheme.is_empty() || !is_token(scheme) {
        return Err(WireError::StartLine);
    }
    if !["sip", "sips", "tel"]
        .iter()
        .any(|s| scheme.eq_ignore_ascii_case(s))
    {
        return Err(WireError::UnsupportedScheme(scheme.to_string()));
    }
    let uri = escape_user_part(uri);
    // Measured again as it will be printed: escaping ';' in the user part
    // lengthens it, and what we print must be what we would read.
    if uri.len() > MAX_URI {
        return Err(WireError::UriTooLong(uri.len()));
    }
    if !version.eq_ignore_ascii_case("SIP/2.0") {
        let numbered = sip_slash(version)
            && version[4..].split_once('.').is_some_and(|(a, b)| {
                [a, b]
                    .iter()
                    .all(|n| !n.is_empty() && n.bytes().all(|d| d.is_ascii_digit()))
            });
        return Err(match numbered {
            true => WireError::Version(version.to_string()),
            false => WireError::StartLine,
        });
    }
    Ok((format!("{method} {uri} SIP/2.0"), Some(method)))
}

/// Rewrites a header section into the shape `rsip` parses: one header a
/// line, long names, `Name: value`, list headers split into one value a line.
/// On the way it refuses what would be ambiguous: duplicated single-valued
/// headers, unterminated quotes, lines and URIs beyond the limits.
fn normalise_head(head: &str) -> Result<String, WireError> {
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let first = lines.next().ok_or(WireError::StartLine)?.trim();
    let (start, method) = start_line(first)?;
    // Unfold: a line starting with white space continues the previous one.
    let mut unfolded: Vec<String> = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            let last = unfolded
                .last_mut()
                .ok_or_else(|| WireError::HeaderLine(line.to_string()))?;
            last.push(' ');
            last.push_str(line.trim());
        } else if !line.is_empty() {
            unfolded.push(line.to_string());
        }
    }
    if unfolded.len() > MAX_HEADERS {
        return Err(WireError::TooManyHeaders);
    }
    let mut out = String::with_capacity(head.len() + 64);
    out.push_str(&start);
    let mut seen = [false; SINGLE_VALUED.len()];
    // Counted as printed, one value a line: 256 lines of comma lists must
    // not become thousands of headers (nor print what we would not read).
    // The Content-Length that serialize() always writes is one of them.
    let mut printed = 1usize;
    for line in unfolded {
        if line.len() > MAX_HEADER_LINE {
            return Err(WireError::HeaderTooLong(line.len()));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| WireError::HeaderLine(line.clone()))?;
        let name = name.trim();
        if !is_token(name) {
            return Err(WireError::HeaderLine(line.clone()));
        }
        let name = expand_compact(name);
        let value = value.trim();
        if let Some(i) = SINGLE_VALUED
            .iter()
            .position(|h| name.eq_ignore_ascii_case(h))
        {
            if std::mem::replace(&mut seen[i], true) {
                return Err(WireError::Duplicate(SINGLE_VALUED[i]));
            }
        }
        if has_quoted_strings(name) && !quotes_balanced(value) {
            return Err(WireError::UnterminatedQuote(name.to_string()));
        }
        if let Err(why) = check_address_syntax(name, value) {
            return Err(WireError::HeaderLine(format!("{name}: {why}")));
        }
        if name.eq_ignore_ascii_case("content-length") {
            // serialize() and parse() own the body length.
            continue;
        }
        if is_list_header(name) {
            let via = name.eq_ignore_ascii_case("via");
            for part in split_list(value) {
                let part = match via {
                    true => tidy_via(part),
                    false => part.to_string(),
                };
                out.push_str(&format!("\r\n{name}: {part}"));
                printed += 1;
            }
        } else {
            out.push_str(&format!("\r\n{name}: {value}"));
            printed += 1;
        }
        if printed > MAX_HEADERS {
            return Err(WireError::TooManyHeaders);
        }
    }
    if let Some(method) = method {
        if !KNOWN_METHODS.contains(&method) {
            return Err(WireError::UnknownMethod(method.to_string()));
        }
    }
    Ok(out)
}

/// Splits a header value at top-level commas, not those inside quotes or
/// angle brackets (a display name or URI may contain commas).
pub fn split_list(value: &str) -> Vec<&str> {
    let mut parts = split_list_keep_empty(value);
    parts.retain(|p| !p.is_empty());
    parts
}

/// [`split_list`] keeping empty elements (`a,,b` has three).
fn split_list_keep_empty(value: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut quoted, mut escaped, mut start) = (0i32, false, false, 0usize);
    for (i, ch) in value.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match ch {
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '<' if !quoted => depth += 1,
            '>' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                parts.push(value[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(value[start..].trim());
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsip::prelude::*;

    const INVITE: &str = "INVITE sip:1580@127.0.0.1 SIP/2.0\r\n\
        Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK776asdhds;rport\r\n\
        Max-Forwards: 70\r\n\
        To: <sip:1580@127.0.0.1>\r\n\
        From: \"Citizen\" <sip:0611234567@127.0.0.1>;tag=1928301774\r\n\
        Call-ID: a84b4c76e66710@127.0.0.1\r\n\
        CSeq: 314159 INVITE\r\n\
        Contact: <sip:0611234567@127.0.0.1:5070>\r\n\
        Content-Type: application/sdp\r\n\
        Content-Length: 4\r\n\r\nv=0\n";

    #[test]
    fn parses_plain_invite_and_cuts_body_to_content_length() {
        let mut bytes = INVITE.as_bytes().to_vec();
        bytes.extend_from_slice(b"trailing garbage");
        let msg = parse(&bytes).expect("valid INVITE");
        assert_eq!(msg.body(), b"v=0\n");
        assert_eq!(
            msg.call_id_header().unwrap().value(),
            "a84b4c76e66710@127.0.0.1"
        );
    }

    #[test]
    fn truncated_body_is_an_error() {
        let bytes = INVITE.replace("Content-Length: 4", "Content-Length: 40");
        assert_eq!(
            parse(bytes.as_bytes()).unwrap_err(),
            WireError::TruncatedBody {
                declared: 40,
                actual: 4
            }
        );
    }

    #[test]
    fn compact_forms_folding_and_lists_are_normalised() {
        let raw = "OPTIONS sip:1580@127.0.0.1 SIP/2.0\r\n\
            v: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKa, SIP/2.0/TCP 10.0.0.1;branch=z9hG4bKb\r\n\
            t : <sip:1580@127.0.0.1>\r\n\
            f: <sip:a@127.0.0.1>\r\n  ;tag=xyz\r\n\
            i: abc\r\n\
            CSeq: 1 OPTIONS\r\n\
            l: 0\r\n\r\n";
        let msg = parse(raw.as_bytes()).expect("valid OPTIONS");
        let vias: Vec<_> = msg
            .headers()
            .iter()
            .filter(|h| matches!(h, rsip::Header::Via(_)))
            .collect();
        assert_eq!(vias.len(), 2);
        assert_eq!(msg.call_id_header().unwrap().value(), "abc");
        assert_eq!(crate::msg::from_tag(&msg).unwrap().as_deref(), Some("xyz"));
    }

    #[test]
    fn a_request_uri_is_measured_as_printed() {
        // Found by fuzzing: 1,000 bytes with ';' in the user part were taken,
        // escaped to %3B past 1 KiB when printed, and not read again.
        let uri = |user: &str| INVITE.replacen("sip:1580@", &format!("sip:{user}@"), 1);
        let plain = "1".repeat(MAX_URI - "sip:@127.0.0.1".len());
        assert!(parse(uri(&plain).as_bytes()).is_ok());
        // 1,014 bytes as sent; ten ';' become ten "%3B": 1,034.
        let semis = format!("{};", "1".repeat(99)).repeat(10);
        assert_eq!(
            parse(uri(&semis).as_bytes()).unwrap_err(),
            WireError::UriTooLong(1034)
        );
    }

    #[test]
    fn header_values_count_as_printed_one_a_line() {
        // Found by fuzzing: few lines of long Via lists were taken, then
        // printed one value a line, past MAX_HEADERS, and not read again.
        let vias = |n: usize| {
            let list = vec!["SIP/2.0/UDP h;branch=z9hG4bK1"; n].join(", ");
            INVITE.replacen("Via: ", &format!("Via: {list}, "), 1)
        };
        // INVITE has 7 headers besides its Via and Content-Length: with
        // them, the n + 1 Vias of vias(n) fill MAX_HEADERS at n = MAX - 9.
        let full = parse(vias(MAX_HEADERS - 9).as_bytes()).expect("at the limit");
        assert!(parse(&serialize(&full)).is_ok(), "and read again");
        assert_eq!(
            parse(vias(MAX_HEADERS - 8).as_bytes()).unwrap_err(),
            WireError::TooManyHeaders
        );
    }

    #[test]
    fn a_status_line_has_a_class_1_to_6_and_no_bare_cr() {
        let response = |line: &str| {
            format!(
                "{line}\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKa\r\n\
                 From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\n\
                 CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
            )
        };
        assert!(parse(response("SIP/2.0 200 OK").as_bytes()).is_ok());
        assert!(parse(response("SIP/2.0 699 Whatever it is").as_bytes()).is_ok());
        // Found by fuzzing: "010" was taken, then printed as "10", which
        // did not parse again; a bare CR was read as a space.
        for line in ["SIP/2.0 010 Odd", "SIP/2.0 700 Odd", "SIP/2.0 200 \rVia: x"] {
            assert_eq!(
                parse(response(line).as_bytes()).unwrap_err(),
                WireError::StartLine,
                "{line:?}"
            );
        }
        assert_eq!(
            parse(
                INVITE
                    .replace("127.0.0.1 SIP/2.0", "127.0.0.1\r SIP/2.0")
                    .as_bytes()
            )
            .unwrap_err(),
            WireError::StartLine
        );
    }

    #[test]
    fn split_list_respects_quotes_and_brackets() {
        assert_eq!(
            split_list("\"Doe, John\" <sip:a@b>, <sip:c@d;x=1,2>"),
            vec!["\"Doe, John\" <sip:a@b>", "<sip:c@d;x=1,2>"]
        );
    }

    #[test]
    fn framing_waits_for_body_and_skips_keepalives() {
        let bytes = INVITE.as_bytes();
        assert_eq!(
            check_frame(&bytes[..bytes.len() - 2]).unwrap(),
            Frame::Incomplete
        );
        assert_eq!(check_frame(bytes).unwrap(), Frame::Complete(bytes.len()));
        assert_eq!(check_frame(b"\r\n\r\nINV").unwrap(), Frame::KeepAlive(4));
        let no_length = "OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n\r\n";
        assert_eq!(
            check_frame(no_length.as_bytes()).unwrap_err(),
            WireError::MissingContentLength
        );
    }

    #[test]
    fn legacy_encoded_display_name_is_read() {
        // "Іван" in CP1251.
        let mut bytes = INVITE.replace("\"Citizen\"", "\"NAME\"").into_bytes();
        let at = bytes.windows(4).position(|w| w == b"NAME").unwrap();
        bytes.splice(at..at + 4, [0xb2, 0xe2, 0xe0, 0xed]);
        let msg = parse(&bytes).expect("parsed despite CP1251");
        assert_eq!(
            msg.call_id_header().unwrap().value(),
            "a84b4c76e66710@127.0.0.1"
        );
    }

    #[test]
    fn garbage_is_rejected_not_panicked_on() {
        for junk in [
            &b""[..],
            b"\x00\x01\x02",
            b"hello",
            b"INVITE\r\n\r\n",
            &[0xff; 300],
        ] {
            assert!(parse(junk).is_err());
        }
    }

    #[test]
    fn serialize_round_trips_and_sets_length() {
        let msg = parse(INVITE.as_bytes()).unwrap();
        let printed = serialize(&msg);
        let text = String::from_utf8(printed.clone()).unwrap();
        assert!(text.contains("Content-Length: 4\r\n\r\nv=0\n"));
        assert_eq!(parse(&printed).unwrap(), msg);
    }
}
