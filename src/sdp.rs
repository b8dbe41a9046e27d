//! SDP offer/answer (RFC 4566, RFC 3264) for the audio we speak: G.711
//! µ-law and A-law at 8 kHz and RFC 4733 telephone-events.
//!
//! Written by hand on purpose: we need only the audio subset, and it must
//! be tolerant of what trunks send (static payload types without rtpmap,
//! `c=` at session or media level, old-style `c=0.0.0.0` hold), which the
//! general SDP crates treat as errors. Pure text in, text out.

use std::net::{IpAddr, SocketAddr};

use crate::media::Codec;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SdpError {
    #[error("SDP body is not UTF-8")]
    NotUtf8,
    #[error("malformed SDP line: {0}")]
    Line(String),
    #[error("no audio stream offered")]
    NoAudio,
    #[error("no common codec (offered: {0})")]
    NoCommonCodec(String),
    #[error("no connection address for the audio stream")]
    NoConnection,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    #[default]
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    fn parse(s: &str) -> Option<Direction> {
        Some(match s {
            "sendrecv" => Direction::SendRecv,
            "sendonly" => Direction::SendOnly,
            "recvonly" => Direction::RecvOnly,
            "inactive" => Direction::Inactive,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The direction an answerer takes for this offered direction (§6.1).
    pub fn answer(self) -> Direction {
        match self {
            Direction::SendRecv => Direction::SendRecv,
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            Direction::Inactive => Direction::Inactive,
        }
    }

    pub fn we_send(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    pub fn we_receive(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rtpmap {
    pub payload_type: u8,
    pub encoding: String,
    pub clock_rate: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    pub kind: String,
    pub port: u16,
    pub proto: String,
    pub formats: Vec<String>,
    pub rtpmaps: Vec<Rtpmap>,
    pub direction: Option<Direction>,
    pub connection: Option<IpAddr>,
}

impl Media {
    /// The encoding of a payload type: its rtpmap, else the static table
    /// of RFC 3551 for the ones we care about.
    fn encoding(&self, pt: u8) -> Option<(String, u32)> {
        if let Some(m) = self.rtpmaps.iter().find(|m| m.payload_type == pt) {
            return Some((m.encoding.to_ascii_uppercase(), m.clock_rate));
        }
        match pt {
            0 => Some(("PCMU".into(), 8000)),
            8 => Some(("PCMA".into(), 8000)),
            9 => Some(("G722".into(), 8000)),
            18 => Some(("G729".into(), 8000)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    pub connection: Option<IpAddr>,
    pub direction: Option<Direction>,
    pub media: Vec<Media>,
}

impl SessionDescription {
    pub fn parse(body: &[u8]) -> Result<SessionDescription, SdpError> {
        let text = std::str::from_utf8(body).map_err(|_| SdpError::NotUtf8)?;
        let mut sd = SessionDescription {
            connection: None,
            direction: None,
            media: Vec::new(),
        };
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (kind, value) = line
                .split_once('=')
                .ok_or_else(|| SdpError::Line(line.into()))?;
            match kind {
                "c" => {
                    let addr =
                        parse_connection(value).ok_or_else(|| SdpError::Line(line.into()))?;
                    match sd.media.last_mut() {
                        Some(m) => m.connection = Some(addr),
                        None => sd.connection = Some(addr),
                    }
                }
                "m" => {
                    let mut parts = value.split_whitespace();
                    let kind = parts.next().ok_or_else(|| SdpError::Line(line.into()))?;
                    let port = parts
                        .next()
                        .and_then(|p| p.split('/').next())
                        .and_then(|p| p.parse().ok())
                        .ok_or_else(|| SdpError::Line(line.into()))?;
                    let proto = parts.next().ok_or_else(|| SdpError::Line(line.into()))?;
                    sd.media.push(Media {
                        kind: kind.to_string(),
                        port,
                        proto: proto.to_string(),
                        formats: parts.map(str::to_string).collect(),
                        rtpmaps: Vec::new(),
                        direction: None,
                        connection: None,
                    });
                }
                "a" => {
                    let (name, arg) = value.split_once(':').unwrap_or((value, ""));
                    if let Some(dir) = Direction::parse(name) {
                        match sd.media.last_mut() {
                            Some(m) => m.direction = Some(dir),
                            None => sd.direction = Some(dir),
                        }
                    } else if name == "rtpmap" {
                        if let (Some(m), Some(map)) = (sd.media.last_mut(), parse_rtpmap(arg)) {
                            m.rtpmaps.push(map);
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(sd)
    }
}

fn parse_connection(value: &str) -> Option<IpAddr> {
    let mut parts = value.split_whitespace();
    let (_net, _kind, addr) = (parts.next()?, parts.next()?, parts.next()?);
    // Multicast TTL suffix (`/127`) is not for us, but strip it anyway.
    addr.split('/').next()?.parse().ok()
}

fn parse_rtpmap(arg: &str) -> Option<Rtpmap> {
    let (pt, rest) = arg.split_once(char::is_whitespace)?;
    let mut enc = rest.trim().split('/');
    Some(Rtpmap {
        payload_type: pt.parse().ok()?,
        encoding: enc.next()?.to_string(),
        clock_rate: enc.next()?.parse().ok()?,
    })
}

/// The outcome of negotiating an offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    pub codec: Codec,
    /// Payload type of telephone-event, if the peer offered it.
    pub dtmf_payload_type: Option<u8>,
    /// Where the peer wants RTP; `None` for old-style hold (c=0.0.0.0).
    pub remote: Option<SocketAddr>,
    /// Our direction (what goes into the answer).
    pub direction: Direction,
    /// Index of the audio m-line we took.
    pub audio_index: usize,
}

/// Picks the first offered codec we support (the offerer's preference,
/// RFC 3264 §6.1) in the first audio stream with a non-zero port.
pub fn negotiate(offer: &SessionDescription, supported: &[Codec]) -> Result<Negotiated, SdpError> {
    let (index, audio) = offer
        .media
        .iter()
        .enumerate()
        .find(|(_, m)| m.kind == "audio" && m.port != 0 && m.proto.starts_with("RTP/AVP"))
        .ok_or(SdpError::NoAudio)?;
    let mut codec = None;
    let mut dtmf = None;
    for fmt in &audio.formats {
        let Ok(pt) = fmt.parse::<u8>() else { continue };
        let Some((name, rate)) = audio.encoding(pt) else {
            continue;
        };
        if name == "TELEPHONE-EVENT" && rate == 8000 {
            dtmf.get_or_insert(pt);
            continue;
        }
        if codec.is_none() && rate == 8000 {
            codec = supported
                .iter()
                .find(|c| c.name() == name && c.payload_type() == pt)
                .copied();
        }
    }
    let codec = codec.ok_or_else(|| SdpError::NoCommonCodec(audio.formats.join(" ")))?;
    let ip = audio
        .connection
        .or(offer.connection)
        .ok_or(SdpError::NoConnection)?;
    let offered = audio.direction.or(offer.direction).unwrap_or_default();
    let old_hold = ip.is_unspecified();
    let mut direction = offered.answer();
    if old_hold && direction.we_send() {
        // RFC 3264 §8.4: c=0.0.0.0 means "do not send to me".
        direction = if direction.we_receive() {
            Direction::RecvOnly
        } else {
            Direction::Inactive
        };
    }
    Ok(Negotiated {
        codec,
        dtmf_payload_type: dtmf,
        remote: (!old_hold).then(|| SocketAddr::new(ip, audio.port)),
        direction,
        audio_index: index,
    })
}

/// Our side of the session, for building offers and answers.
#[derive(Debug, Clone)]
pub struct LocalMedia {
    pub address: IpAddr,
    pub port: u16,
    pub session_id: u64,
    /// Incremented whenever our SDP changes (RFC 3264 §8).
    pub version: u64,
}

fn session_header(local: &LocalMedia) -> String {
    let family = if local.address.is_ipv4() {
        "IP4"
    } else {
        "IP6"
    };
    format!(
        "v=0\r\no=hotline {} {} IN {family} {}\r\ns=hotline\r\nc=IN {family} {}\r\nt=0 0\r\n",
        local.session_id, local.version, local.address, local.address
    )
}

fn audio_lines(
    local: &LocalMedia,
    codecs: &[Codec],
    dtmf_pt: Option<u8>,
    direction: Direction,
) -> String {
    let mut fmts: Vec<String> = codecs
        .iter()
        .map(|c| c.payload_type().to_string())
        .collect();
    fmts.extend(dtmf_pt.map(|p| p.to_string()));
    let mut out = format!("m=audio {} RTP/AVP {}\r\n", local.port, fmts.join(" "));
    for c in codecs {
        out.push_str(&format!(
            "a=rtpmap:{} {}/8000\r\n",
            c.payload_type(),
            c.name()
        ));
    }
    if let Some(pt) = dtmf_pt {
        out.push_str(&format!(
            "a=rtpmap:{pt} telephone-event/8000\r\na=fmtp:{pt} 0-16\r\n"
        ));
    }
    out.push_str(&format!("a=ptime:20\r\na={}\r\n", direction.as_str()));
    out
}

/// The answer to `offer` once negotiated: one codec, telephone-event if
/// offered, and every other m-line refused with port 0 (§6).
pub fn answer(offer: &SessionDescription, neg: &Negotiated, local: &LocalMedia) -> String {
    let mut out = session_header(local);
    for (i, m) in offer.media.iter().enumerate() {
        if i == neg.audio_index {
            out.push_str(&audio_lines(
                local,
                &[neg.codec],
                neg.dtmf_payload_type,
                neg.direction,
            ));
        } else {
            out.push_str(&format!(
                "m={} 0 {} {}\r\n",
                m.kind,
                m.proto,
                m.formats.join(" ")
            ));
        }
    }
    out
}

/// Our offer, for an INVITE that came without one (we offer in the 2xx).
pub fn offer(local: &LocalMedia, codecs: &[Codec]) -> String {
    session_header(local) + &audio_lines(local, codecs, Some(101), Direction::SendRecv)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
        m=audio 40000 RTP/AVP 9 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\n\
        a=fmtp:101 0-15\r\na=sendrecv\r\nm=video 40002 RTP/AVP 96\r\n";

    fn both() -> [Codec; 2] {
        [Codec::Pcmu, Codec::Pcma]
    }

    #[test]
    fn takes_offerers_first_supported_codec() {
        let sd = SessionDescription::parse(OFFER.as_bytes()).unwrap();
        let neg = negotiate(&sd, &both()).unwrap();
        assert_eq!(neg.codec, Codec::Pcma, "G722 unsupported, PCMA is next");
        assert_eq!(neg.dtmf_payload_type, Some(101));
        assert_eq!(neg.remote, Some("127.0.0.1:40000".parse().unwrap()));
        assert_eq!(neg.direction, Direction::SendRecv);
        let local = LocalMedia {
            address: "127.0.0.1".parse().unwrap(),
            port: 20000,
            session_id: 7,
            version: 1,
        };
        let ans = answer(&sd, &neg, &local);
        assert!(ans.contains("m=audio 20000 RTP/AVP 8 101\r\n"));
        assert!(
            ans.contains("m=video 0 RTP/AVP 96\r\n"),
            "other streams refused: {ans}"
        );
        let back = SessionDescription::parse(ans.as_bytes()).unwrap();
        assert_eq!(negotiate(&back, &both()).unwrap().codec, Codec::Pcma);
    }

    #[test]
    fn no_common_codec() {
        let sd =
            SessionDescription::parse(b"v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 4000 RTP/AVP 18\r\n")
                .unwrap();
        assert!(matches!(
            negotiate(&sd, &both()),
            Err(SdpError::NoCommonCodec(_))
        ));
        let sd =
            SessionDescription::parse(b"v=0\r\nc=IN IP4 127.0.0.1\r\nm=video 4000 RTP/AVP 96\r\n")
                .unwrap();
        assert_eq!(negotiate(&sd, &both()), Err(SdpError::NoAudio));
    }

    #[test]
    fn hold_forms() {
        let sendonly = OFFER.replace("a=sendrecv", "a=sendonly");
        let neg = negotiate(
            &SessionDescription::parse(sendonly.as_bytes()).unwrap(),
            &both(),
        )
        .unwrap();
        assert_eq!(neg.direction, Direction::RecvOnly);
        let old = OFFER.replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0");
        let neg = negotiate(&SessionDescription::parse(old.as_bytes()).unwrap(), &both()).unwrap();
        assert_eq!((neg.remote, neg.direction), (None, Direction::RecvOnly));
    }

    #[test]
    fn static_types_need_no_rtpmap_and_media_level_c_wins() {
        let sd = SessionDescription::parse(
            b"v=0\nc=IN IP4 10.0.0.1\nm=audio 5004 RTP/AVP 0\nc=IN IP4 127.0.0.2\na=inactive\n",
        )
        .unwrap();
        let neg = negotiate(&sd, &both()).unwrap();
        assert_eq!(neg.codec, Codec::Pcmu);
        assert_eq!(neg.remote, Some("127.0.0.2:5004".parse().unwrap()));
        assert_eq!(neg.direction, Direction::Inactive);
    }

    #[test]
    fn malformed_lines_are_errors() {
        assert!(SessionDescription::parse(b"v=0\r\nm=audio\r\n").is_err());
        assert!(SessionDescription::parse(b"garbage").is_err());
        assert!(SessionDescription::parse(&[0xff, 0xfe]).is_err());
    }
}
