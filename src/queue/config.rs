//! Queue definitions: `sip-config/queues.toml`, with Asterisk `queues.conf`
//! key names where they fit.
//!
//! Role: read the file once (at start-up and on reload), check every value,
//! and hand the router typed [`QueueConfig`]s. Reading the file is the only
//! IO here; [`QueueSet::parse`] works on text and is what the tests use.
//!
//! Serde (with `deny_unknown_fields`, so a misspelt key is an error rather
//! than a silently ignored line) checks the shape; [`QueueSet::parse`] then
//! checks the values and fails with [`ConfigError::Invalid`] naming the
//! queue and the key.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Longest queue name, in characters (as the store allows).
const MAX_NAME_CHARS: usize = 64;
/// Longest ring time, retry, announcement period and service level, in
/// seconds: anything longer is a typo for something shorter.
const MAX_SECS: i64 = 3600;
/// Shortest announcement period, in seconds (Asterisk's
/// `min-announce-frequency` default): a prompt every few seconds would
/// leave no room for the music.
const MIN_ANNOUNCE_SECS: i64 = 10;
/// Largest `maxlen` and `weight` accepted.
const MAX_COUNT: i64 = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Not TOML, a misspelt key or a value of the wrong type; the message
    /// shows the line.
    #[error("queues.toml: {0}")]
    Syntax(#[from] toml::de::Error),
    #[error("queue {queue:?}: {key}: {reason}")]
    Invalid {
        /// The queue's name, or `#N` (from 1) when the name itself is bad.
        queue: String,
        key: &'static str,
        reason: String,
    },
    #[error("queues.toml: no [[queue]] is defined")]
    Empty,
}

/// How a queue picks among the operators free to take its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// The one idle the longest (Asterisk's `leastrecent`, in effect).
    LongestIdle,
    /// All of them at once; the first to answer takes the call.
    RingAll,
    /// The one who answered the fewest calls today.
    FewestCalls,
}

impl Strategy {
    pub const ALL: &'static [(&'static str, Strategy)] = &[
        ("longest-idle", Strategy::LongestIdle),
        ("ring-all", Strategy::RingAll),
        ("fewest-calls", Strategy::FewestCalls),
    ];
}

/// `announce-position`, as in Asterisk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnnouncePosition {
    /// Say the position.
    Yes,
    /// Say only the expected wait.
    No,
    /// Say the position up to `announce-position-limit`, beyond it "more
    /// than <limit> callers are ahead of you".
    More,
}

/// `joinempty`, with Asterisk's meaning. A member on a call or in wrap-up
/// counts as present: they will be free soon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinEmpty {
    /// Join whatever the operators are doing.
    Yes,
    /// Refuse when no member of the queue is logged in.
    No,
    /// Refuse also when every logged-in member is paused: no one is working
    /// the queue.
    Strict,
}

/// One queue, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueConfig {
    /// `[a-z0-9_-]`, as the IVR's `queue` nodes and operators' memberships
    /// name it.
    pub name: String,
    /// `title` (ours, not Asterisk's): what people read, in reports and
    /// on the supervisors' screen ("Аварійна"); the name if not given.
    pub title: String,
    pub strategy: Strategy,
    /// `timeout`: how long one offer rings before it counts as not answered.
    pub ring_timeout: Duration,
    /// `retry`: the pause after an offer was not answered before the caller
    /// is offered to the next operator.
    pub retry: Duration,
    /// `wrapuptime`: after-call work before the operator is offered again.
    pub wrapup: Duration,
    /// `maxlen`: callers waiting at most; `None` = unlimited (0 in the file).
    pub max_waiting: Option<usize>,
    /// `announce-frequency`: position and expected wait; `None` = off.
    pub announce_frequency: Option<Duration>,
    pub announce_position: AnnouncePosition,
    /// `announce-position-limit`, for `announce-position = "more"`.
    pub announce_position_limit: usize,
    /// `periodic-announce` and `periodic-announce-frequency`: a prompt
    /// played every so often ("all operators are busy…"); `None` = off.
    pub periodic_announce: Option<PeriodicAnnounce>,
    /// `servicelevel`: the answer time reports measure against.
    pub service_level: Duration,
    pub join_empty: JoinEmpty,
    /// `weight`: operators serving several queues take the callers of the
    /// heaviest queue first.
    pub weight: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodicAnnounce {
    pub prompt: String,
    pub every: Duration,
}

/// All the queues of `queues.toml`, in file order, names unique.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSet {
    queues: Vec<QueueConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    queue: Vec<RawQueue>,
}

/// Numbers are read as `i64` so that a negative one gets our message
/// naming the queue and key, not a type error.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawQueue {
    name: String,
    title: Option<String>,
    strategy: Option<String>,
    timeout: Option<i64>,
    retry: Option<i64>,
    wrapuptime: Option<i64>,
    maxlen: Option<i64>,
    announce_frequency: Option<i64>,
    announce_position: Option<String>,
    announce_position_limit: Option<i64>,
    periodic_announce: Option<String>,
    periodic_announce_frequency: Option<i64>,
    servicelevel: Option<i64>,
    joinempty: Option<String>,
    weight: Option<i64>,
}

impl QueueSet {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let raw: RawFile = toml::from_str(text)?;
        if raw.queue.is_empty() {
            return Err(ConfigError::Empty);
        }
        let mut seen = HashSet::new();
        let mut queues = Vec::with_capacity(raw.queue.len());
        for (i, raw) in raw.queue.into_iter().enumerate() {
            let queue = check_queue(i, raw)?;
            if !seen.insert(queue.name.clone()) {
                return Err(invalid(&queue.name, "name", "is defined twice"));
            }
            queues.push(queue);
        }
        Ok(QueueSet { queues })
    }

    pub fn queues(&self) -> &[QueueConfig] {
        &self.queues
    }

    pub fn get(&self, name: &str) -> Option<&QueueConfig> {
        self.queues.iter().find(|q| q.name == name)
    }

    /// The title people read for queue `name`; the name itself for a
    /// queue no longer configured.
    pub fn title_of(&self, name: &str) -> String {
        self.get(name)
            .map_or_else(|| name.to_string(), |q| q.title.clone())
    }

    /// Each queue's title, by name.
    pub fn titles(&self) -> std::collections::BTreeMap<String, String> {
        self.queues
            .iter()
            .map(|q| (q.name.clone(), q.title.clone()))
            .collect()
    }
}

fn invalid(queue: &str, key: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        queue: queue.to_owned(),
        key,
        reason: reason.into(),
    }
}

/// A name of `[a-z0-9_-]`, at most [`MAX_NAME_CHARS`] long.
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-';
    if let Some(c) = name.chars().find(|&c| !allowed(c)) {
        return Err(format!(
            "{name:?} contains {c:?}: only a-z, 0-9, '_' and '-' are allowed"
        ));
    }
    if name.len() > MAX_NAME_CHARS {
        return Err(format!("is longer than {MAX_NAME_CHARS} characters"));
    }
    Ok(())
}

/// One queue's values, checked in the order of the file's keys.
fn check_queue(index: usize, raw: RawQueue) -> Result<QueueConfig, ConfigError> {
    check_name(&raw.name).map_err(|reason| invalid(&format!("#{}", index + 1), "name", reason))?;
    let q = raw.name.as_str();

    // A number of seconds (or a count) in `range`, or the default.
    let number = |key: &'static str,
                  value: Option<i64>,
                  default: i64,
                  range: std::ops::RangeInclusive<i64>|
     -> Result<i64, ConfigError> {
        let value = value.unwrap_or(default);
        if range.contains(&value) {
            Ok(value)
        } else {
            Err(invalid(
                q,
                key,
                format!(
                    "{value} is out of range: {} to {}",
                    range.start(),
                    range.end()
                ),
            ))
        }
    };
    // 0 = off; otherwise at least MIN_ANNOUNCE_SECS.
    let period = |key: &'static str, value: Option<i64>| -> Result<Option<Duration>, ConfigError> {
        match value.unwrap_or(0) {
            0 => Ok(None),
            s if (MIN_ANNOUNCE_SECS..=MAX_SECS).contains(&s) => Ok(Some(secs(s))),
            s => Err(invalid(
                q,
                key,
                format!("{s} must be 0 (off) or {MIN_ANNOUNCE_SECS} to {MAX_SECS} seconds"),
            )),
        }
    };
    fn choose<T: Copy>(
        queue: &str,
        key: &'static str,
        value: Option<&str>,
        default: T,
        choices: &[(&str, T)],
    ) -> Result<T, ConfigError> {
        let Some(value) = value else {
            return Ok(default);
        };
        choices
            .iter()
            .find(|(name, _)| *name == value)
            .map(|(_, v)| *v)
            .ok_or_else(|| {
                let names: Vec<String> = choices.iter().map(|(n, _)| format!("{n:?}")).collect();
                invalid(
                    queue,
                    key,
                    format!("{value:?} is not one of {}", names.join(", ")),
                )
            })
    }

    let strategy = choose(
        q,
        "strategy",
        raw.strategy.as_deref(),
        Strategy::LongestIdle,
        Strategy::ALL,
    )?;
    // 0 would ring for ever: Asterisk allows it, a hotline should not.
    let ring_timeout = secs(number("timeout", raw.timeout, 15, 1..=MAX_SECS)?);
    let retry = secs(number("retry", raw.retry, 5, 0..=MAX_SECS)?);
    let wrapup = secs(number("wrapuptime", raw.wrapuptime, 10, 0..=MAX_SECS)?);
    let max_waiting = match number("maxlen", raw.maxlen, 0, 0..=MAX_COUNT)? {
        0 => None,
        // In range 1..=MAX_COUNT, so it fits any usize.
        n => Some(n as usize),
    };
    let announce_frequency = period("announce-frequency", raw.announce_frequency)?;
    let announce_position = choose(
        q,
        "announce-position",
        raw.announce_position.as_deref(),
        AnnouncePosition::Yes,
        &[
            ("yes", AnnouncePosition::Yes),
            ("no", AnnouncePosition::No),
            ("more", AnnouncePosition::More),
        ],
    )?;
    // In range 1..=100, so it fits any usize.
    let announce_position_limit = number(
        "announce-position-limit",
        raw.announce_position_limit,
        5,
        1..=100,
    )? as usize;
    let periodic_every = period(
        "periodic-announce-frequency",
        raw.periodic_announce_frequency,
    )?;
    let periodic_announce = match (raw.periodic_announce, periodic_every) {
        (None, None) => None,
        (Some(prompt), Some(every)) => {
            check_name(&prompt).map_err(|reason| invalid(q, "periodic-announce", reason))?;
            Some(PeriodicAnnounce { prompt, every })
        }
        (Some(_), None) => {
            return Err(invalid(
                q,
                "periodic-announce-frequency",
                "must be set (seconds) when periodic-announce is",
            ));
        }
        (None, Some(_)) => {
            return Err(invalid(
                q,
                "periodic-announce",
                "must name a prompt when periodic-announce-frequency is set",
            ));
        }
    };
    let service_level = secs(number("servicelevel", raw.servicelevel, 60, 1..=MAX_SECS)?);
    let join_empty = choose(
        q,
        "joinempty",
        raw.joinempty.as_deref(),
        JoinEmpty::Yes,
        &[
            ("yes", JoinEmpty::Yes),
            ("no", JoinEmpty::No),
            ("strict", JoinEmpty::Strict),
        ],
    )?;
    // In range 0..=MAX_COUNT, so it fits a u32.
    let weight = number("weight", raw.weight, 0, 0..=MAX_COUNT)? as u32;

    let title = match raw.title {
        None => raw.name.clone(),
        Some(t)
            if t.trim().is_empty() || t.chars().count() > 80 || t.chars().any(char::is_control) =>
        {
            return Err(invalid(q, "title", "must be 1 to 80 printable characters"));
        }
        Some(t) => t.trim().to_string(),
    };
    Ok(QueueConfig {
        name: raw.name,
        title,
        strategy,
        ring_timeout,
        retry,
        wrapup,
        max_waiting,
        announce_frequency,
        announce_position,
        announce_position_limit,
        periodic_announce,
        service_level,
        join_empty,
        weight,
    })
}

/// Checked to be in 0..=MAX_SECS before the call.
fn secs(s: i64) -> Duration {
    Duration::from_secs(s.unsigned_abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(body: &str) -> Result<QueueConfig, ConfigError> {
        QueueSet::parse(&format!("[[queue]]\nname = \"q\"\n{body}\n"))
            .map(|set| set.queues()[0].clone())
    }

    fn error(text: &str) -> String {
        match QueueSet::parse(text) {
            Ok(set) => panic!("accepted {text:?}: {set:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn the_shipped_file_parses() {
        let text = include_str!("../../sip-config/queues.toml");
        let set = QueueSet::parse(text).expect("shipped queues.toml");
        let names: Vec<&str> = set.queues().iter().map(|q| q.name.as_str()).collect();
        assert_eq!(names, ["emergency", "housing", "roads", "general"]);
        let emergency = set.get("emergency").expect("emergency");
        for other in ["housing", "roads", "general"] {
            let other = set.get(other).expect("queue");
            assert!(emergency.weight > other.weight, "{}", other.name);
            assert!(
                emergency.ring_timeout < other.ring_timeout,
                "{}",
                other.name
            );
        }
    }

    #[test]
    fn defaults_are_asterisk_like() {
        let q = one("").expect("minimal queue");
        assert_eq!(
            q,
            QueueConfig {
                name: "q".into(),
                title: "q".into(),
                strategy: Strategy::LongestIdle,
                ring_timeout: Duration::from_secs(15),
                retry: Duration::from_secs(5),
                wrapup: Duration::from_secs(10),
                max_waiting: None,
                announce_frequency: None,
                announce_position: AnnouncePosition::Yes,
                announce_position_limit: 5,
                periodic_announce: None,
                service_level: Duration::from_secs(60),
                join_empty: JoinEmpty::Yes,
                weight: 0,
            }
        );
    }

    #[test]
    fn every_key_is_read() {
        let q = one(r#"
            strategy = "ring-all"
            timeout = 20
            retry = 0
            wrapuptime = 0
            maxlen = 7
            announce-frequency = 30
            announce-position = "more"
            announce-position-limit = 3
            periodic-announce = "all-busy"
            periodic-announce-frequency = 45
            servicelevel = 20
            joinempty = "strict"
            weight = 10
        "#)
        .expect("valid");
        assert_eq!(q.strategy, Strategy::RingAll);
        assert_eq!(q.ring_timeout, Duration::from_secs(20));
        assert_eq!(q.retry, Duration::ZERO);
        assert_eq!(q.wrapup, Duration::ZERO);
        assert_eq!(q.max_waiting, Some(7));
        assert_eq!(q.announce_frequency, Some(Duration::from_secs(30)));
        assert_eq!(q.announce_position, AnnouncePosition::More);
        assert_eq!(q.announce_position_limit, 3);
        assert_eq!(
            q.periodic_announce,
            Some(PeriodicAnnounce {
                prompt: "all-busy".into(),
                every: Duration::from_secs(45)
            })
        );
        assert_eq!(q.service_level, Duration::from_secs(20));
        assert_eq!(q.join_empty, JoinEmpty::Strict);
        assert_eq!(q.weight, 10);
        assert_eq!(
            one(r#"strategy = "fewest-calls""#).expect("valid").strategy,
            Strategy::FewestCalls
        );
    }

    #[test]
    fn bad_values_name_the_queue_and_the_key() {
        let cases = [
            (
                "strategy = \"random\"",
                "queue \"q\": strategy: \"random\" is not one of \"longest-idle\", \"ring-all\", \"fewest-calls\"",
            ),
            (
                "timeout = 0",
                "queue \"q\": timeout: 0 is out of range: 1 to 3600",
            ),
            (
                "retry = -5",
                "queue \"q\": retry: -5 is out of range: 0 to 3600",
            ),
            (
                "wrapuptime = 100000",
                "queue \"q\": wrapuptime: 100000 is out of range: 0 to 3600",
            ),
            (
                "maxlen = -1",
                "queue \"q\": maxlen: -1 is out of range: 0 to 10000",
            ),
            (
                "announce-frequency = 3",
                "queue \"q\": announce-frequency: 3 must be 0 (off) or 10 to 3600 seconds",
            ),
            (
                "announce-position = \"limit\"",
                "queue \"q\": announce-position: \"limit\" is not one of \"yes\", \"no\", \"more\"",
            ),
            (
                "joinempty = \"loose\"",
                "queue \"q\": joinempty: \"loose\" is not one of \"yes\", \"no\", \"strict\"",
            ),
            (
                "periodic-announce = \"all-busy\"",
                "queue \"q\": periodic-announce-frequency: must be set (seconds) when periodic-announce is",
            ),
            (
                "periodic-announce-frequency = 60",
                "queue \"q\": periodic-announce: must name a prompt when periodic-announce-frequency is set",
            ),
            (
                "servicelevel = 0",
                "queue \"q\": servicelevel: 0 is out of range: 1 to 3600",
            ),
            (
                "weight = -1",
                "queue \"q\": weight: -1 is out of range: 0 to 10000",
            ),
        ];
        for (body, expected) in cases {
            match one(body) {
                Err(e @ ConfigError::Invalid { .. }) => assert_eq!(e.to_string(), expected),
                other => panic!("{body}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_title_is_what_people_read_and_the_name_stands_in_for_it() {
        let q = one("title = \" Аварійна \"").expect("a titled queue");
        assert_eq!((q.name.as_str(), q.title.as_str()), ("q", "Аварійна"));
        assert_eq!(one("").expect("a queue").title, "q");
        for bad in [
            "\"\"",
            "\"   \"",
            "\"a\\nb\"",
            &format!("\"{}\"", "я".repeat(81)),
        ] {
            let e = one(&format!("title = {bad}")).expect_err(bad).to_string();
            assert!(e.contains("title"), "{bad}: {e}");
        }
    }

    #[test]
    fn names_must_be_valid_and_unique() {
        let e = error("[[queue]]\nname = \"general\"\n[[queue]]\nname = \"General\"\n");
        assert_eq!(
            e,
            "queue \"#2\": name: \"General\" contains 'G': only a-z, 0-9, '_' and '-' are allowed"
        );
        let e = error("[[queue]]\nname = \"general\"\n[[queue]]\nname = \"general\"\n");
        assert_eq!(e, "queue \"general\": name: is defined twice");
        assert_eq!(error(""), "queues.toml: no [[queue]] is defined");
    }

    #[test]
    fn shape_errors_show_the_key_and_line() {
        // A misspelt key is refused, not ignored.
        let e = error("[[queue]]\nname = \"q\"\ntimeot = 20\n");
        assert!(e.contains("unknown field `timeot`"), "{e}");
        assert!(e.contains("line 3"), "{e}");
        // Values of the wrong type.
        let e = error("[[queue]]\nname = \"q\"\ntimeout = \"15s\"\n");
        assert!(e.contains("timeout = \"15s\""), "{e}");
        assert!(e.contains("line 3"), "{e}");
        let e = error("[[queue]]\nstrategy = \"ring-all\"\n");
        assert!(e.contains("missing field `name`"), "{e}");
        let e = error("[queue]\nname = \"q\"\n");
        assert!(e.contains("queue"), "{e}");
        let e = error("[[queues]]\nname = \"q\"\n");
        assert!(e.contains("unknown field `queues`"), "{e}");
    }
}
