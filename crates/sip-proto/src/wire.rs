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

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    #[error("message exceeds {MAX_MESSAGE} bytes")]
    TooLarge,
    #[error("malformed start line")]
    StartLine,
    #[error("malformed header line: {0}")]
    HeaderLine(String),
    #[error("Content-Length is not a number")]
    ContentLength,
    #[error("stream framing requires Content-Length")]
    MissingContentLength,
    #[error("body is shorter than Content-Length ({declared} declared, {actual} present)")]
    TruncatedBody { declared: usize, actual: usize },
    #[error("rsip could not parse the message: {0}")]
    Rsip(String),
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
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
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
        603 => "Decline",
        _ => "Unknown",
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Reads `Content-Length` (or its compact form `l`) from a header section.
fn content_length(head: &str) -> Result<Option<usize>, WireError> {
    for line in head.lines().skip(1) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("l") {
            return value
                .trim()
                .parse::<usize>()
                .map(Some)
                .map_err(|_| WireError::ContentLength);
        }
    }
    Ok(None)
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

/// Rewrites a header section into the shape `rsip` parses: one header a
/// line, long names, `Name: value`, list headers split into one value a line.
fn normalise_head(head: &str) -> Result<String, WireError> {
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let start_line = lines.next().ok_or(WireError::StartLine)?.trim();
    if start_line.is_empty() || !start_line.contains(' ') {
        return Err(WireError::StartLine);
    }
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
    let mut out = String::with_capacity(head.len() + 64);
    out.push_str(&collapse_spaces(start_line));
    for line in unfolded {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| WireError::HeaderLine(line.clone()))?;
        let name = name.trim();
        if name.is_empty() || name.contains([' ', '\t']) {
            return Err(WireError::HeaderLine(line.clone()));
        }
        let name = expand_compact(name);
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            // serialize() and parse() own the body length.
            continue;
        }
        if is_list_header(name) {
            for part in split_list(value) {
                out.push_str(&format!("\r\n{name}: {part}"));
            }
        } else {
            out.push_str(&format!("\r\n{name}: {value}"));
        }
    }
    Ok(out)
}

fn collapse_spaces(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Splits a header value at top-level commas, not those inside quotes or
/// angle brackets (a display name or URI may contain commas).
pub fn split_list(value: &str) -> Vec<&str> {
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
    parts.retain(|p| !p.is_empty());
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
