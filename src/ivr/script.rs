//! IVR menus as files: the TOML format (documented in
//! `ivr-scripts/README.md`), loading a directory of them, and validation
//! that reports every problem with its file and line: unknown node, missing
//! prompt, bad key, a loop that never waits for the caller.
//!
//! Reads files; runs nothing. The result, a [`ScriptSet`], is immutable and
//! shared by every call's [`super::machine::Ivr`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

/// Extensions a prompt may have, in the order they are looked for.
pub const PROMPT_EXTENSIONS: [&str; 4] = ["wav", "flac", "ogg", "mp3"];

/// One problem in a menu file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

/// Identifies a node across files: `file` is the file stem (`main` for
/// `main.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    pub file: String,
    pub node: String,
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.node)
    }
}

/// A day-of-week and time window for a `branch` on the clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Monday = 0 … Sunday = 6.
    pub days: [bool; 7],
    /// Minutes since midnight, `from` inclusive, `to` exclusive.
    pub from: u32,
    pub to: u32,
    pub next: NodeId,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// Play prompts, then go on.
    Play {
        prompts: Vec<String>,
        interruptible: bool,
        next: NodeId,
    },
    /// A menu in FreeSWITCH's sense.
    Menu {
        greet_long: Vec<String>,
        greet_short: Vec<String>,
        invalid_sound: Vec<String>,
        timeout_sound: Vec<String>,
        exit_sound: Vec<String>,
        timeout: Duration,
        inter_digit_timeout: Duration,
        digit_len: usize,
        max_failures: u32,
        max_timeouts: u32,
        keys: BTreeMap<String, NodeId>,
        on_failure: NodeId,
    },
    /// Collect digits into a variable.
    Collect {
        prompts: Vec<String>,
        invalid_sound: Vec<String>,
        min_digits: usize,
        max_digits: usize,
        terminator: Option<char>,
        timeout: Duration,
        inter_digit_timeout: Duration,
        max_attempts: u32,
        variable: String,
        next: NodeId,
        on_failure: NodeId,
    },
    /// Go on by a variable's value, or by the day and time.
    Branch {
        variable: Option<String>,
        cases: BTreeMap<String, NodeId>,
        schedule: Vec<Window>,
        default: NodeId,
    },
    /// Hand the caller to a queue (until the queues land: "please wait" in a
    /// loop, recorded like every call).
    Queue { queue: String, prompts: Vec<String> },
    /// Say goodbye and hang up.
    Hangup { prompts: Vec<String> },
    /// Jump to another node, in this file or another.
    Goto { next: NodeId },
    /// Read back an appeal's status by the number in `variable`.
    AppealStatus { variable: String, next: NodeId },
    /// Read back the appeal a call out is about (the survey of
    /// verification): "appeal number …" and its subject, from the
    /// variables the dialer sets ([`PRESET_NUMBER`], [`PRESET_SUBJECT`]).
    SayAppeal { next: NodeId },
    /// Announce active outages and repair works; with `at_caller_address`,
    /// only those at the caller's known address. Says nothing when there are
    /// none if `at_caller_address` or `quiet_if_none` (before a queue).
    Outages {
        at_caller_address: bool,
        quiet_if_none: bool,
        next: NodeId,
    },
}

impl NodeKind {
    /// The kind as the files spell it (`type = "…"`).
    pub fn name(&self) -> &'static str {
        match self {
            NodeKind::Play { .. } => "play",
            NodeKind::Menu { .. } => "menu",
            NodeKind::Collect { .. } => "collect",
            NodeKind::Branch { .. } => "branch",
            NodeKind::Queue { .. } => "queue",
            NodeKind::Hangup { .. } => "hangup",
            NodeKind::Goto { .. } => "goto",
            NodeKind::AppealStatus { .. } => "appeal-status",
            NodeKind::SayAppeal { .. } => "say-appeal",
            NodeKind::Outages { .. } => "outages",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub id: NodeId,
    pub kind: NodeKind,
    pub line: usize,
    /// What people call the node ("Головне меню"), shown with the
    /// caller's path through the menu (`super::path`).
    pub title: Option<String>,
}

/// Every menu file of a directory, validated.
#[derive(Debug, Clone)]
pub struct ScriptSet {
    pub nodes: HashMap<NodeId, Node>,
    pub entry: NodeId,
    /// Each menu file's start node, by file stem.
    pub starts: HashMap<String, NodeId>,
    /// Prompt name → file, for every prompt a node uses.
    pub prompts: HashMap<String, PathBuf>,
    /// Where prompts are looked up (`<dir>/prompts/<language>`).
    pub prompts_dir: PathBuf,
}

impl ScriptSet {
    pub fn node(&self, id: &NodeId) -> Option<&Node> {
        self.nodes.get(id)
    }
}

// ----- the file format, as serde reads it -----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileFormat {
    /// The first node when a call enters this file.
    start: Spanned<String>,
    #[serde(default)]
    nodes: BTreeMap<String, Spanned<RawNode>>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
enum RawKind {
    Play,
    Menu,
    Collect,
    Branch,
    Queue,
    Hangup,
    Goto,
    AppealStatus,
    SayAppeal,
    Outages,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Prompts {
    One(String),
    Many(Vec<String>),
}

impl Prompts {
    fn list(&self) -> Vec<String> {
        match self {
            Prompts::One(p) => vec![p.clone()],
            Prompts::Many(v) => v.clone(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWindow {
    days: String,
    from: String,
    to: String,
    next: String,
}

/// Every field any node kind may have; which are required or allowed is
/// checked per kind, so errors can point at the line.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawNode {
    #[serde(rename = "type")]
    kind: RawKind,
    title: Option<Spanned<String>>,
    prompt: Option<Spanned<Prompts>>,
    interruptible: Option<bool>,
    next: Option<Spanned<String>>,
    greet_long: Option<Spanned<Prompts>>,
    greet_short: Option<Spanned<Prompts>>,
    invalid_sound: Option<Spanned<Prompts>>,
    timeout_sound: Option<Spanned<Prompts>>,
    exit_sound: Option<Spanned<Prompts>>,
    timeout: Option<u64>,
    inter_digit_timeout: Option<u64>,
    digit_len: Option<usize>,
    max_failures: Option<u32>,
    max_timeouts: Option<u32>,
    keys: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
    on_failure: Option<Spanned<String>>,
    min_digits: Option<usize>,
    max_digits: Option<usize>,
    terminator: Option<Spanned<String>>,
    max_attempts: Option<u32>,
    variable: Option<String>,
    cases: Option<BTreeMap<String, Spanned<String>>>,
    schedule: Option<Spanned<Vec<RawWindow>>>,
    default: Option<Spanned<String>>,
    queue: Option<String>,
    at_caller_address: Option<bool>,
    quiet_if_none: Option<bool>,
}

/// Line (1-based) of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|b| *b == b'\n')
        .count()
        + 1
}

struct FileCtx<'a> {
    path: &'a Path,
    stem: &'a str,
    text: &'a str,
    diags: &'a mut Vec<Diagnostic>,
    /// References to check once every file is read: (target, file, line).
    refs: &'a mut Vec<(NodeId, PathBuf, usize)>,
    /// Prompts to check: (name, file, line).
    prompts: &'a mut Vec<(String, PathBuf, usize)>,
}

impl FileCtx<'_> {
    fn error(&mut self, line: usize, message: impl Into<String>) {
        self.diags.push(Diagnostic {
            file: self.path.to_path_buf(),
            line,
            message: message.into(),
        });
    }

    /// `node` (this file) or `file:node`.
    fn target(&mut self, s: &Spanned<String>) -> NodeId {
        let line = line_of(self.text, s.span().start);
        let id = match s.get_ref().split_once(':') {
            Some((file, node)) => NodeId {
                file: file.to_string(),
                node: node.to_string(),
            },
            None => NodeId {
                file: self.stem.to_string(),
                node: s.get_ref().clone(),
            },
        };
        self.refs.push((id.clone(), self.path.to_path_buf(), line));
        id
    }

    fn prompts(&mut self, p: &Option<Spanned<Prompts>>) -> Vec<String> {
        let Some(p) = p else { return Vec::new() };
        let line = line_of(self.text, p.span().start);
        let list = p.get_ref().list();
        for name in &list {
            self.prompts
                .push((name.clone(), self.path.to_path_buf(), line));
        }
        list
    }

    fn required<'b, T>(
        &mut self,
        line: usize,
        kind: &str,
        field: &str,
        v: &'b Option<T>,
    ) -> Option<&'b T> {
        if v.is_none() {
            self.error(line, format!("a {kind} node needs `{field}`"));
        }
        v.as_ref()
    }
}

/// The duration of a `*_timeout` field given in milliseconds.
fn millis(v: Option<u64>, default: u64) -> Duration {
    Duration::from_millis(v.unwrap_or(default))
}

fn parse_days(s: &str) -> Option<[bool; 7]> {
    const NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let idx = |d: &str| NAMES.iter().position(|n| n.eq_ignore_ascii_case(d.trim()));
    let mut days = [false; 7];
    for part in s.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (idx(a)?, idx(b)?);
                let mut d = a;
                loop {
                    days[d] = true;
                    if d == b {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => days[idx(part)?] = true,
        }
    }
    Some(days)
}

fn parse_hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 24 && m < 60 && h * 60 + m <= 24 * 60).then_some(h * 60 + m)
}

const KEYS: &str = "0123456789*#";

/// The longest node title: a few words, as a menu's name.
const MAX_TITLE_CHARS: usize = 80;

/// Prompts an `appeal-status` node speaks besides numbers and dates.
pub const APPEAL_PROMPTS: [&str; 16] = [
    "lookup-failed",
    "appeal",
    "appeal-status",
    "appeal-deadline",
    "appeal-planned",
    "appeal-not-found",
    "status/registered",
    "status/delivered",
    "status/in-progress",
    "status/closure-proposed",
    "status/closed",
    "status/rejected",
    "status/rework",
    "status/long-term",
    "status/verification",
    "status/overdue",
];

/// The variable holding the registration number of the appeal a call out
/// is about, set before the call's menu starts.
pub const PRESET_NUMBER: &str = "appeal-number";
/// The variable holding the subject's prompt (`subject/<section code>`) of
/// that appeal, set when such a prompt exists.
pub const PRESET_SUBJECT: &str = "appeal-subject";

/// Prompts an `outages` node speaks besides dates.
pub const OUTAGE_PROMPTS: [&str; 12] = [
    "lookup-failed",
    "no-outages",
    "outages-intro",
    "outage-at-your-address",
    "outage-until",
    "outage/planned",
    "outage/emergency",
    "service/water",
    "service/heating",
    "service/power",
    "service/gas",
    "service/other",
];

fn convert(ctx: &mut FileCtx, name: &str, raw: &Spanned<RawNode>) -> Option<Node> {
    let line = line_of(ctx.text, raw.span().start);
    let r = raw.get_ref();
    let id = NodeId {
        file: ctx.stem.to_string(),
        node: name.to_string(),
    };
    let kind_name = format!("{:?}", r.kind)
        .to_lowercase()
        .replace("appealstatus", "appeal-status")
        .replace("sayappeal", "say-appeal");
    let kind = match r.kind {
        RawKind::Play => {
            let prompts = ctx.prompts(&r.prompt);
            if prompts.is_empty() {
                ctx.error(line, "a play node needs `prompt`");
            }
            let next = ctx.required(line, &kind_name, "next", &r.next)?.clone();
            NodeKind::Play {
                prompts,
                interruptible: r.interruptible.unwrap_or(true),
                next: ctx.target(&next),
            }
        }
        RawKind::Menu => {
            let greet_long = ctx.prompts(&r.greet_long);
            if greet_long.is_empty() {
                ctx.error(line, "a menu node needs `greet-long`");
            }
            let greet_short = match &r.greet_short {
                Some(_) => ctx.prompts(&r.greet_short),
                None => greet_long.clone(),
            };
            let digit_len = r.digit_len.unwrap_or(1);
            let mut keys = BTreeMap::new();
            match &r.keys {
                None => ctx.error(line, "a menu node needs `keys`"),
                Some(table) => {
                    for (key, target) in table.get_ref() {
                        let kline = line_of(ctx.text, target.span().start);
                        if key.is_empty() || !key.chars().all(|c| KEYS.contains(c)) {
                            ctx.error(
                                kline,
                                format!("bad key {key:?}: keys are made of 0-9, * and #"),
                            );
                        } else if key.chars().count() > digit_len {
                            ctx.error(
                                kline,
                                format!("key {key:?} is longer than digit-len {digit_len}"),
                            );
                        }
                        keys.insert(key.clone(), ctx.target(target));
                    }
                }
            }
            let on_failure = ctx
                .required(line, &kind_name, "on-failure", &r.on_failure)?
                .clone();
            NodeKind::Menu {
                greet_long,
                greet_short,
                invalid_sound: ctx.prompts(&r.invalid_sound),
                timeout_sound: ctx.prompts(&r.timeout_sound),
                exit_sound: ctx.prompts(&r.exit_sound),
                timeout: millis(r.timeout, 5000),
                inter_digit_timeout: millis(r.inter_digit_timeout, 2000),
                digit_len,
                max_failures: r.max_failures.unwrap_or(3),
                max_timeouts: r.max_timeouts.unwrap_or(3),
                keys,
                on_failure: ctx.target(&on_failure),
            }
        }
        RawKind::Collect => {
            let prompts = ctx.prompts(&r.prompt);
            let (min, max) = (r.min_digits.unwrap_or(1), r.max_digits.unwrap_or(20));
            if min == 0 || min > max {
                ctx.error(
                    line,
                    format!("min-digits {min} and max-digits {max} do not make a range"),
                );
            }
            let terminator = match &r.terminator {
                None => None,
                Some(t) => {
                    let mut chars = t.get_ref().chars();
                    match (chars.next(), chars.next()) {
                        (Some(c), None) if KEYS.contains(c) => Some(c),
                        _ => {
                            ctx.error(
                                line_of(ctx.text, t.span().start),
                                "terminator must be one key",
                            );
                            None
                        }
                    }
                }
            };
            let variable = ctx
                .required(line, &kind_name, "variable", &r.variable)?
                .clone();
            let next = ctx.required(line, &kind_name, "next", &r.next)?.clone();
            let on_failure = ctx
                .required(line, &kind_name, "on-failure", &r.on_failure)?
                .clone();
            NodeKind::Collect {
                prompts,
                invalid_sound: ctx.prompts(&r.invalid_sound),
                min_digits: min,
                max_digits: max,
                terminator,
                timeout: millis(r.timeout, 7000),
                inter_digit_timeout: millis(r.inter_digit_timeout, 3000),
                max_attempts: r.max_attempts.unwrap_or(3),
                variable,
                next: ctx.target(&next),
                on_failure: ctx.target(&on_failure),
            }
        }
        RawKind::Branch => {
            let default = ctx
                .required(line, &kind_name, "default", &r.default)?
                .clone();
            let mut cases = BTreeMap::new();
            for (value, target) in r.cases.iter().flatten() {
                cases.insert(value.clone(), ctx.target(target));
            }
            if r.variable.is_some() != r.cases.is_some() {
                ctx.error(line, "`variable` and `cases` go together");
            }
            let mut schedule = Vec::new();
            if let Some(s) = &r.schedule {
                let sline = line_of(ctx.text, s.span().start);
                for w in s.get_ref() {
                    match (parse_days(&w.days), parse_hhmm(&w.from), parse_hhmm(&w.to)) {
                        (Some(days), Some(from), Some(to)) if from < to => {
                            let next = Spanned::new(s.span(), w.next.clone());
                            schedule.push(Window { days, from, to, next: ctx.target(&next) });
                        }
                        _ => ctx.error(
                            sline,
                            format!("bad schedule entry: days {:?} (e.g. \"mon-fri,sun\"), from {:?} to {:?} (HH:MM, from < to)", w.days, w.from, w.to),
                        ),
                    }
                }
            }
            if r.variable.is_none() && schedule.is_empty() {
                ctx.error(
                    line,
                    "a branch node needs `variable` with `cases`, or `schedule`",
                );
            }
            NodeKind::Branch {
                variable: r.variable.clone(),
                cases,
                schedule,
                default: ctx.target(&default),
            }
        }
        RawKind::Queue => {
            let queue = ctx.required(line, &kind_name, "queue", &r.queue)?.clone();
            let prompts = ctx.prompts(&r.prompt);
            if prompts.is_empty() {
                ctx.error(
                    line,
                    "a queue node needs `prompt` (what the caller hears while waiting)",
                );
            }
            // What the queue itself says: position, wait, refusal.
            for name in super::say::QUEUE_PROMPTS
                .iter()
                .map(|s| s.to_string())
                .chain(super::say::vocabulary().iter().cloned())
            {
                ctx.prompts.push((name, ctx.path.to_path_buf(), line));
            }
            NodeKind::Queue { queue, prompts }
        }
        RawKind::Hangup => NodeKind::Hangup {
            prompts: ctx.prompts(&r.prompt),
        },
        RawKind::Goto => {
            let next = ctx.required(line, &kind_name, "next", &r.next)?.clone();
            NodeKind::Goto {
                next: ctx.target(&next),
            }
        }
        RawKind::AppealStatus => {
            for name in APPEAL_PROMPTS
                .iter()
                .map(|s| s.to_string())
                .chain(super::say::vocabulary().iter().cloned())
            {
                ctx.prompts.push((name, ctx.path.to_path_buf(), line));
            }
            let variable = ctx
                .required(line, &kind_name, "variable", &r.variable)?
                .clone();
            let next = ctx.required(line, &kind_name, "next", &r.next)?.clone();
            NodeKind::AppealStatus {
                variable,
                next: ctx.target(&next),
            }
        }
        RawKind::SayAppeal => {
            // The subject prompts are optional: a section without one is
            // not named.
            for name in std::iter::once("appeal".to_string())
                .chain(super::say::vocabulary().iter().cloned())
            {
                ctx.prompts.push((name, ctx.path.to_path_buf(), line));
            }
            let next = ctx.required(line, &kind_name, "next", &r.next)?.clone();
            NodeKind::SayAppeal {
                next: ctx.target(&next),
            }
        }
        RawKind::Outages => {
            for name in OUTAGE_PROMPTS
                .iter()
                .map(|s| s.to_string())
                .chain(super::say::vocabulary().iter().cloned())
            {
                ctx.prompts.push((name, ctx.path.to_path_buf(), line));
            }
            let next = ctx.required(line, &kind_name, "next", &r.next)?.clone();
            NodeKind::Outages {
                at_caller_address: r.at_caller_address.unwrap_or(false),
                quiet_if_none: r.quiet_if_none.unwrap_or(false),
                next: ctx.target(&next),
            }
        }
    };
    let title = r.title.as_ref().and_then(|t| {
        let text = t.get_ref().trim();
        let tline = line_of(ctx.text, t.span().start);
        if text.is_empty() || text.chars().any(char::is_control) {
            ctx.error(tline, "`title` must be a line of text");
            None
        } else if text.chars().count() > MAX_TITLE_CHARS {
            ctx.error(
                tline,
                format!("`title` is longer than {MAX_TITLE_CHARS} characters"),
            );
            None
        } else {
            Some(text.to_string())
        }
    });
    Some(Node {
        id,
        kind,
        line,
        title,
    })
}

/// Nodes a node moves on to without waiting for the caller.
fn automatic_edges(kind: &NodeKind) -> Vec<&NodeId> {
    match kind {
        NodeKind::Play { next, .. }
        | NodeKind::Goto { next }
        | NodeKind::AppealStatus { next, .. }
        | NodeKind::SayAppeal { next }
        | NodeKind::Outages { next, .. } => vec![next],
        NodeKind::Branch {
            cases,
            schedule,
            default,
            ..
        } => cases
            .values()
            .chain(schedule.iter().map(|w| &w.next))
            .chain(std::iter::once(default))
            .collect(),
        // Menus and collections wait for the caller; queues and hang-ups end.
        NodeKind::Menu { .. }
        | NodeKind::Collect { .. }
        | NodeKind::Queue { .. }
        | NodeKind::Hangup { .. } => Vec::new(),
    }
}

/// Finds a prompt file for a name.
pub fn find_prompt(prompts_dir: &Path, name: &str) -> Option<PathBuf> {
    if name.contains("..") || name.starts_with('/') {
        return None;
    }
    PROMPT_EXTENSIONS
        .iter()
        .map(|ext| prompts_dir.join(format!("{name}.{ext}")))
        .find(|p| p.is_file())
}

/// Loads and validates every `*.toml` in `dir`. `entry` is the file stem a
/// call starts in; prompts are looked for in `<dir>/prompts/<language>/`.
pub fn load(dir: &Path, entry: &str, language: &str) -> Result<ScriptSet, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let mut refs = Vec::new();
    let mut prompt_refs = Vec::new();
    let mut nodes = HashMap::new();
    let mut starts = HashMap::new();
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect(),
        Err(e) => {
            return Err(vec![Diagnostic {
                file: dir.to_path_buf(),
                line: 0,
                message: format!("cannot read: {e}"),
            }]);
        }
    };
    files.sort();
    for path in &files {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                diags.push(Diagnostic {
                    file: path.clone(),
                    line: 0,
                    message: format!("cannot read: {e}"),
                });
                continue;
            }
        };
        let parsed: FileFormat = match toml::from_str(&text) {
            Ok(p) => p,
            Err(e) => {
                let line = e.span().map(|s| line_of(&text, s.start)).unwrap_or(0);
                diags.push(Diagnostic {
                    file: path.clone(),
                    line,
                    message: e.message().to_string(),
                });
                continue;
            }
        };
        let mut ctx = FileCtx {
            path,
            stem: &stem,
            text: &text,
            diags: &mut diags,
            refs: &mut refs,
            prompts: &mut prompt_refs,
        };
        let start = parsed.start.clone();
        let start_id = ctx.target(&start);
        starts.insert(stem.clone(), start_id);
        for (name, raw) in &parsed.nodes {
            if let Some(node) = convert(&mut ctx, name, raw) {
                nodes.insert(node.id.clone(), node);
            }
        }
    }
    for (target, file, line) in &refs {
        if !nodes.contains_key(target) {
            diags.push(Diagnostic {
                file: file.clone(),
                line: *line,
                message: format!("unknown node {target}"),
            });
        }
    }
    let prompts_dir = dir.join("prompts").join(language);
    let mut prompts = HashMap::new();
    for (name, file, line) in prompt_refs {
        match find_prompt(&prompts_dir, &name) {
            Some(path) => {
                prompts.insert(name, path);
            }
            None => diags.push(Diagnostic {
                file,
                line,
                message: format!(
                    "missing prompt {name:?} (looked for {}/{name}.{{wav,flac,ogg,mp3}})",
                    prompts_dir.display()
                ),
            }),
        }
    }
    // A cycle of nodes that never wait for the caller spins for ever.
    let mut reported = HashSet::new();
    let mut ordered: Vec<&Node> = nodes.values().collect();
    ordered.sort_by(|a, b| (&a.id.file, a.line).cmp(&(&b.id.file, b.line)));
    for node in &ordered {
        if let Some(cycle) = automatic_cycle(&nodes, &node.id) {
            let key: Vec<_> = {
                let mut k = cycle.clone();
                k.sort();
                k
            };
            if reported.insert(key) {
                let names: Vec<String> = cycle.iter().map(|n| n.to_string()).collect();
                let first = &nodes[&cycle[0]];
                diags.push(Diagnostic {
                    file: dir.join(format!("{}.toml", first.id.file)),
                    line: first.line,
                    message: format!(
                        "loop with no exit: {} never wait for the caller",
                        names.join(" → ")
                    ),
                });
            }
        }
    }
    // A caller who stays silent must reach a queue or a hang-up: follow the
    // no-input path (automatic moves, and menus' and collections'
    // on-failure) from every menu and collection.
    for node in &ordered {
        if !matches!(node.kind, NodeKind::Menu { .. } | NodeKind::Collect { .. }) {
            continue;
        }
        if let Some(cycle) = silent_cycle(&nodes, &node.id) {
            let mut key = cycle.clone();
            key.sort();
            if reported.insert(key) {
                let names: Vec<String> = cycle.iter().map(|n| n.to_string()).collect();
                diags.push(Diagnostic {
                    file: dir.join(format!("{}.toml", node.id.file)),
                    line: node.line,
                    message: format!(
                        "loop with no exit for a silent caller: {} (make on-failure lead to a queue or a hangup)",
                        names.join(" → ")
                    ),
                });
            }
        }
    }
    // Variables read must be set by some collection (or be the appeal's,
    // set before a call out starts).
    let set: HashSet<&str> = nodes
        .values()
        .filter_map(|n| match &n.kind {
            NodeKind::Collect { variable, .. } => Some(variable.as_str()),
            _ => None,
        })
        .chain([PRESET_NUMBER, PRESET_SUBJECT])
        .collect();
    for node in &ordered {
        let read = match &node.kind {
            NodeKind::AppealStatus { variable, .. } => Some(variable),
            NodeKind::Branch {
                variable: Some(variable),
                ..
            } => Some(variable),
            _ => None,
        };
        if let Some(v) = read.filter(|v| !set.contains(v.as_str())) {
            diags.push(Diagnostic {
                file: dir.join(format!("{}.toml", node.id.file)),
                line: node.line,
                message: format!("variable {v:?} is read here but no collect node sets it"),
            });
        }
    }
    let entry_file = dir.join(format!("{entry}.toml"));
    let entry_id = match starts.get(entry) {
        Some(id) => id.clone(),
        // Its own errors are reported already.
        None if entry_file.is_file() => NodeId {
            file: entry.into(),
            node: String::new(),
        },
        None => {
            diags.push(Diagnostic {
                file: dir.join(format!("{entry}.toml")),
                line: 0,
                message: format!("the entry menu file {entry}.toml is missing"),
            });
            NodeId {
                file: entry.into(),
                node: String::new(),
            }
        }
    };
    if diags.is_empty() {
        Ok(ScriptSet {
            nodes,
            entry: entry_id,
            starts,
            prompts,
            prompts_dir,
        })
    } else {
        diags.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        Err(diags)
    }
}

/// Where a silent caller goes from a node: automatic moves, and the
/// on-failure of menus and collections (timeouts lead there).
fn silent_edges(kind: &NodeKind) -> Vec<&NodeId> {
    match kind {
        NodeKind::Menu { on_failure, .. } | NodeKind::Collect { on_failure, .. } => {
            vec![on_failure]
        }
        other => automatic_edges(other),
    }
}

/// A cycle through `start` on the silent caller's path, if any. Branches
/// are followed by their first edge: enough for the plain mistake of an
/// on-failure that leads back.
fn silent_cycle(nodes: &HashMap<NodeId, Node>, start: &NodeId) -> Option<Vec<NodeId>> {
    let mut path = vec![start.clone()];
    let mut at = start.clone();
    let mut seen = HashSet::new();
    loop {
        let next = nodes
            .get(&at)
            .and_then(|n| silent_edges(&n.kind).first().map(|id| (*id).clone()))?;
        if next == *start {
            return Some(path);
        }
        if !seen.insert(next.clone()) {
            return None;
        }
        path.push(next.clone());
        at = next;
    }
}

/// A cycle through `start` along automatic edges, if any.
fn automatic_cycle(nodes: &HashMap<NodeId, Node>, start: &NodeId) -> Option<Vec<NodeId>> {
    // Depth-first search keeping the path; nodes are few (tens).
    fn visit(
        nodes: &HashMap<NodeId, Node>,
        at: &NodeId,
        start: &NodeId,
        path: &mut Vec<NodeId>,
        seen: &mut HashSet<NodeId>,
    ) -> bool {
        let Some(node) = nodes.get(at) else {
            return false;
        };
        for next in automatic_edges(&node.kind) {
            if next == start {
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if visit(nodes, next, start, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.clone()];
    let mut seen = HashSet::new();
    visit(nodes, start, start, &mut path, &mut seen).then_some(path)
}
