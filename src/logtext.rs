//! Text from outside in the log: escaped and cut, so that nothing a client
//! sends can forge a line or grow the log without bound.
//!
//! Two guards. [`Untrusted`] wraps a field a client chose (a login, a SIP
//! user name, a Range header) where it is logged: control characters are
//! escaped and the text is cut to [`Untrusted::LIMIT`] characters. And
//! [`OneLine`], the writer under the text log, makes every event exactly one
//! line whatever a field holds: line breaks and other control characters
//! inside an event are escaped, and an event longer than [`OneLine::LIMIT`]
//! bytes is cut. The JSON log needs neither for line breaks (JSON escapes
//! them), but the cut applies to both.

use std::fmt;
use std::io::{self, Write};

/// A client's text in a log field: control characters escaped (`\n`, `\u{1b}`),
/// cut to [`Untrusted::LIMIT`] characters with the rest counted.
pub struct Untrusted<'a>(pub &'a str);

impl Untrusted<'_> {
    /// Characters shown; a login or an extension is far shorter.
    pub const LIMIT: usize = 64;
}

impl fmt::Display for Untrusted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (shown, (at, c)) in self.0.char_indices().enumerate() {
            if shown == Self::LIMIT {
                return write!(f, "…(+{} bytes)", self.0.len() - at);
            }
            if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
                write!(f, "{}", c.escape_default())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// The log's writer: each event written whole becomes one line.
///
/// `tracing-subscriber` formats an event into one buffer and writes it with
/// one `write_all`, ending in a line break; this writer escapes every other
/// line break and control character in it (tab kept) and cuts it at
/// [`OneLine::LIMIT`] bytes.
pub struct OneLine<W> {
    inner: W,
    /// Whether escape sequences are the formatter's own colours (a terminal).
    ansi: bool,
}

impl<W: Write> OneLine<W> {
    /// Longest event kept, in bytes.
    pub const LIMIT: usize = 16 * 1024;

    pub fn new(inner: W, ansi: bool) -> Self {
        OneLine { inner, ansi }
    }
}

impl<W: Write> Write for OneLine<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let body = buf.strip_suffix(b"\n").unwrap_or(buf);
        let mut out = Vec::with_capacity(body.len().min(Self::LIMIT) + 32);
        let mut cut = 0;
        for (i, &b) in body.iter().enumerate() {
            if out.len() >= Self::LIMIT {
                cut = body.len() - i;
                break;
            }
            match b {
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.push(b),
                0x1b if self.ansi => out.push(b),
                0..=0x1f | 0x7f => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
                _ => out.push(b),
            }
        }
        if cut > 0 {
            // Never leave half a UTF-8 character before the marker.
            while out.last().is_some_and(|b| b & 0xc0 == 0x80) {
                out.pop();
            }
            if out.last().is_some_and(|b| *b >= 0xc0) {
                out.pop();
            }
            out.extend_from_slice(format!(" …(event cut: {cut} more bytes)").as_bytes());
        }
        out.push(b'\n');
        self.inner.write_all(&out)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// `MakeWriter` for the server's log on standard output.
pub fn stdout_one_line(ansi: bool) -> impl Fn() -> OneLine<io::Stdout> {
    move || OneLine::new(io::stdout(), ansi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_escapes_control_characters() {
        let forged = "ivan\n2026-12-04T10:00:00Z  INFO signed in login=admin\x1b[2J";
        let shown = Untrusted(forged).to_string();
        assert!(!shown.contains('\n') && !shown.contains('\x1b'), "{shown}");
        assert!(shown.starts_with("ivan\\n2026"), "{shown}");
        assert_eq!(Untrusted("олена.k").to_string(), "олена.k");
    }

    #[test]
    fn untrusted_cuts_long_text_and_counts_the_rest() {
        let long = "я".repeat(1_000_000);
        let shown = Untrusted(&long).to_string();
        assert_eq!(
            shown.chars().filter(|c| *c == 'я').count(),
            Untrusted::LIMIT
        );
        assert!(
            shown.ends_with(&format!("…(+{} bytes)", 2_000_000 - 2 * 64)),
            "{}",
            &shown[shown.len() - 40..]
        );
        assert_eq!(Untrusted(&"a".repeat(64)).to_string(), "a".repeat(64));
    }

    fn one_line(event: &[u8], ansi: bool) -> String {
        let mut out = Vec::new();
        let mut w = OneLine::new(&mut out, ansi);
        w.write_all(event).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn an_event_is_one_line_whatever_it_holds() {
        let line = one_line(
            b"WARN sign-in failed login=a\nINFO forged\r\x07\t!\n",
            false,
        );
        assert_eq!(
            line,
            "WARN sign-in failed login=a\\nINFO forged\\r\\x07\t!\n"
        );
        assert_eq!(line.matches('\n').count(), 1);
        assert_eq!(
            one_line(b"\x1b[2mtime\x1b[0m x\n", false),
            "\\x1b[2mtime\\x1b[0m x\n"
        );
        assert_eq!(
            one_line(b"\x1b[2mtime\x1b[0m x\n", true),
            "\x1b[2mtime\x1b[0m x\n"
        );
    }

    #[test]
    fn a_huge_event_is_cut_on_a_character_boundary() {
        let mut event = "ж".repeat(20_000).into_bytes();
        event.push(b'\n');
        let line = one_line(&event, false);
        assert!(
            line.len() < OneLine::<Vec<u8>>::LIMIT + 64,
            "{}",
            line.len()
        );
        assert!(line.ends_with(" more bytes)\n"));
        assert_eq!(line.matches('\n').count(), 1);
    }
}
