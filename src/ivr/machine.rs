//! The IVR machine for one call, sans-IO: it takes digits, "prompt
//! finished", lookup results and the time, and returns what to play, what to
//! look up, where to route and when to hang up. It never reads a clock and
//! never touches a socket, the database or a file.
//!
//! Menus follow FreeSWITCH's `ivr` semantics: `greet-long` the first time,
//! `greet-short` after an invalid entry or a timeout, `max-failures` and
//! `max-timeouts`, `inter-digit-timeout` for multi-digit keys; a key pressed
//! during an interruptible prompt stops it (barge-in) and counts.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::{Datelike, NaiveDateTime, Timelike};

use super::say;
use super::script::{NodeId, NodeKind, PRESET_NUMBER, PRESET_SUBJECT, ScriptSet};

/// The time, both ways: a monotonic instant for timeouts and the local wall
/// clock for schedules.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub now: Instant,
    pub wall: NaiveDateTime,
}

/// An appeal as the IVR reads it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppealSummary {
    pub registration_number: String,
    /// Status as in the store (`in_progress`…).
    pub status: String,
    /// The deadline, on the city's clock.
    pub deadline: NaiveDateTime,
    /// For a card in the SER plan: the planned date of the work.
    pub planned: Option<chrono::NaiveDate>,
}

/// A repair work as the IVR announces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutageSummary {
    /// `planned` or `emergency`.
    pub kind: String,
    /// `water`, `heating`, `power`, `gas`, `other`.
    pub service: String,
    pub expected_end: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Digit(char),
    PlaybackDone,
    Appeal(Option<AppealSummary>),
    Outages(Vec<OutageSummary>),
    /// The lookup asked for failed (database error); not the same as
    /// "not found", which would tell the caller something false.
    LookupFailed,
}

/// One step of the caller's path, for the call record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub node: String,
    pub what: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Play these prompts (names, see `ScriptSet::prompts` and `say`), then
    /// report `PlaybackDone`. Replaces whatever is playing.
    Play {
        prompts: Vec<String>,
        interruptible: bool,
    },
    StopPlayback,
    LookupAppeal {
        number: String,
    },
    FetchOutages {
        at_caller_address: bool,
    },
    /// The caller is handed to this queue (its prompts play in a loop).
    Queue {
        queue: String,
    },
    Hangup,
    Step(Step),
}

/// What the machine is waiting for.
#[derive(Debug, Clone, PartialEq)]
enum Wait {
    /// A prompt plays; then `after`.
    Playback { interruptible: bool, after: After },
    /// Digits, until the deadline.
    Digits { deadline: Instant },
    /// A lookup result, until the deadline.
    Lookup { deadline: Instant },
    /// Nothing more (hung up, or in a queue between prompt loops).
    Done,
}

#[derive(Debug, Clone, PartialEq)]
enum After {
    Goto(NodeId),
    /// Listen for the menu's or collection's digits.
    Listen,
    HangUp,
    /// Play the queue prompts again.
    QueueLoop(Vec<String>),
}

pub struct Ivr {
    script: Arc<ScriptSet>,
    node: NodeId,
    wait: Wait,
    buffer: String,
    /// Digits pressed during an interruptible `play` that moved on: the
    /// next menu or collection takes them.
    carry: String,
    failures: u32,
    timeouts: u32,
    vars: HashMap<String, String>,
}

/// How long a lookup may take before the caller is told the service is
/// unavailable (or, where nothing need be said, the IVR simply goes on).
pub const LOOKUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// Automatic moves allowed in one go (validation forbids cycles; this is a
/// second guard).
const MAX_HOPS: usize = 64;

impl Ivr {
    pub fn new(script: Arc<ScriptSet>) -> Self {
        let node = script.entry.clone();
        Self {
            script,
            node,
            wait: Wait::Done,
            buffer: String::new(),
            carry: String::new(),
            failures: 0,
            timeouts: 0,
            vars: HashMap::new(),
        }
    }

    /// A machine that starts in another node than the script's entry (the
    /// menu a blocked caller hears).
    pub fn starting_at(script: Arc<ScriptSet>, node: NodeId) -> Self {
        Self {
            node,
            ..Self::new(script)
        }
    }

    /// With variables set before the start (the appeal a call out is
    /// about: [`super::script::PRESET_NUMBER`]).
    pub fn with_variables(mut self, vars: impl IntoIterator<Item = (String, String)>) -> Self {
        self.vars.extend(vars);
        self
    }

    /// Enters the start node.
    pub fn start(&mut self, clock: Clock) -> Vec<Action> {
        let mut out = Vec::new();
        let start = self.node.clone();
        self.enter(clock, start, &mut out);
        out
    }

    pub fn variable(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// When `handle_timeout` wants to be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.wait {
            Wait::Digits { deadline } | Wait::Lookup { deadline } => Some(deadline),
            _ => None,
        }
    }

    pub fn handle_timeout(&mut self, clock: Clock) -> Vec<Action> {
        let mut out = Vec::new();
        match self.wait {
            Wait::Digits { deadline } if clock.now >= deadline => self.on_deadline(clock, &mut out),
            Wait::Lookup { deadline } if clock.now >= deadline => {
                self.step("lookup timed out", &mut out);
                self.lookup_failed(clock, &mut out);
            }
            _ => {}
        }
        out
    }

    pub fn handle_input(&mut self, clock: Clock, input: Input) -> Vec<Action> {
        let mut out = Vec::new();
        match input {
            Input::Digit(d) => self.on_digit(clock, d, &mut out),
            Input::PlaybackDone => self.on_playback_done(clock, &mut out),
            Input::Appeal(found) => self.on_appeal(found, &mut out),
            Input::Outages(list) => self.on_outages(clock, list, &mut out),
            Input::LookupFailed => {
                if matches!(self.wait, Wait::Lookup { .. }) {
                    self.step("lookup failed", &mut out);
                    self.lookup_failed(clock, &mut out);
                }
            }
        }
        out
    }

    fn kind(&self) -> Option<NodeKind> {
        self.script.node(&self.node).map(|n| n.kind.clone())
    }

    fn step(&self, what: impl Into<String>, out: &mut Vec<Action>) {
        out.push(Action::Step(Step {
            node: self.node.to_string(),
            what: what.into(),
        }));
    }

    fn play(
        &mut self,
        prompts: Vec<String>,
        interruptible: bool,
        after: After,
        out: &mut Vec<Action>,
    ) {
        out.push(Action::Play {
            prompts,
            interruptible,
        });
        self.wait = Wait::Playback {
            interruptible,
            after,
        };
    }

    /// Moves to `target` and runs it until it waits.
    fn enter(&mut self, clock: Clock, target: NodeId, out: &mut Vec<Action>) {
        let mut target = target;
        for _ in 0..MAX_HOPS {
            self.node = target.clone();
            self.buffer.clear();
            self.failures = 0;
            self.timeouts = 0;
            self.step("enter", out);
            let Some(kind) = self.kind() else {
                // Validation makes this unreachable; hang up rather than spin.
                out.push(Action::Hangup);
                self.wait = Wait::Done;
                return;
            };
            match kind {
                NodeKind::Goto { next } => target = next,
                NodeKind::Branch {
                    variable,
                    cases,
                    schedule,
                    default,
                } => {
                    let by_var = variable
                        .and_then(|v| self.vars.get(&v).and_then(|val| cases.get(val)).cloned());
                    let (day, minute) = (
                        clock.wall.weekday().num_days_from_monday() as usize,
                        clock.wall.hour() * 60 + clock.wall.minute(),
                    );
                    let by_clock = schedule
                        .iter()
                        .find(|w| w.days[day] && w.from <= minute && minute < w.to)
                        .map(|w| w.next.clone());
                    target = by_var.or(by_clock).unwrap_or(default);
                }
                NodeKind::Play {
                    prompts,
                    interruptible,
                    next,
                } => {
                    if !self.carry.is_empty() && interruptible {
                        // Barged in earlier: the caller already chose.
                        target = next;
                        continue;
                    }
                    return self.play(prompts, interruptible, After::Goto(next), out);
                }
                NodeKind::Menu { greet_long, .. } => {
                    if self.take_carry(clock, out) {
                        return;
                    }
                    return self.play(greet_long, true, After::Listen, out);
                }
                NodeKind::Collect { prompts, .. } => {
                    if self.take_carry(clock, out) {
                        return;
                    }
                    if prompts.is_empty() {
                        return self.listen(clock);
                    }
                    return self.play(prompts, true, After::Listen, out);
                }
                NodeKind::Queue { queue, prompts } => {
                    self.carry.clear();
                    out.push(Action::Queue { queue });
                    return self.play(prompts.clone(), false, After::QueueLoop(prompts), out);
                }
                NodeKind::Hangup { prompts } => {
                    self.carry.clear();
                    if prompts.is_empty() {
                        out.push(Action::Hangup);
                        self.wait = Wait::Done;
                        return;
                    }
                    return self.play(prompts, false, After::HangUp, out);
                }
                NodeKind::AppealStatus { variable, .. } => {
                    let number = self.vars.get(&variable).cloned().unwrap_or_default();
                    out.push(Action::LookupAppeal { number });
                    self.wait = Wait::Lookup {
                        deadline: clock.now + LOOKUP_TIMEOUT,
                    };
                    return;
                }
                NodeKind::SayAppeal { next } => {
                    let number = self.vars.get(PRESET_NUMBER).cloned().unwrap_or_default();
                    let mut prompts = vec!["appeal".to_string()];
                    prompts.extend(say::registration_number(&number));
                    if let Some(subject) = self.vars.get(PRESET_SUBJECT) {
                        prompts.push(subject.clone());
                    }
                    return self.play(prompts, true, After::Goto(next), out);
                }
                NodeKind::Outages {
                    at_caller_address, ..
                } => {
                    out.push(Action::FetchOutages { at_caller_address });
                    self.wait = Wait::Lookup {
                        deadline: clock.now + LOOKUP_TIMEOUT,
                    };
                    return;
                }
            }
        }
        out.push(Action::Hangup);
        self.wait = Wait::Done;
    }

    /// Feeds carried digits to a menu or collection; true if that settled
    /// the node (it moved on or is waiting for more digits).
    fn take_carry(&mut self, clock: Clock, out: &mut Vec<Action>) -> bool {
        if self.carry.is_empty() {
            return false;
        }
        let digits = std::mem::take(&mut self.carry);
        self.listen(clock);
        for d in digits.chars() {
            // Typed ahead: each key goes to whatever listens now (this node,
            // or the next menu or collection whose prompt it interrupts).
            // Where nothing listens any more, the rest is dropped rather
            // than replayed later at an unrelated menu.
            let listening = matches!(
                self.wait,
                Wait::Digits { .. }
                    | Wait::Playback {
                        interruptible: true,
                        after: After::Listen
                    }
            );
            if !listening {
                break;
            }
            self.on_digit(clock, d, out);
        }
        true
    }

    fn listen(&mut self, clock: Clock) {
        let timeout = match self.kind() {
            Some(NodeKind::Menu { timeout, .. }) | Some(NodeKind::Collect { timeout, .. }) => {
                timeout
            }
            _ => return,
        };
        self.wait = Wait::Digits {
            deadline: clock.now + timeout,
        };
    }

    fn on_playback_done(&mut self, clock: Clock, out: &mut Vec<Action>) {
        let Wait::Playback { after, .. } = self.wait.clone() else {
            return;
        };
        match after {
            After::Goto(next) => self.enter(clock, next, out),
            After::Listen => self.listen(clock),
            After::HangUp => {
                out.push(Action::Hangup);
                self.wait = Wait::Done;
            }
            After::QueueLoop(prompts) => {
                self.play(prompts.clone(), false, After::QueueLoop(prompts), out)
            }
        }
    }

    fn on_digit(&mut self, clock: Clock, d: char, out: &mut Vec<Action>) {
        match self.wait.clone() {
            // Typed ahead while a lookup runs: for whatever listens next.
            Wait::Lookup { .. } => self.carry.push(d),
            Wait::Playback {
                interruptible: false,
                ..
            }
            | Wait::Done => {}
            Wait::Playback {
                interruptible: true,
                after,
            } => {
                out.push(Action::StopPlayback);
                match after {
                    After::Goto(next) => {
                        self.step(format!("barge-in {d}"), out);
                        self.carry.push(d);
                        self.enter(clock, next, out);
                    }
                    After::Listen => {
                        self.listen(clock);
                        self.on_digit(clock, d, out);
                    }
                    After::HangUp | After::QueueLoop(_) => {}
                }
            }
            Wait::Digits { .. } => match self.kind() {
                Some(NodeKind::Menu {
                    digit_len,
                    inter_digit_timeout,
                    ..
                }) => {
                    self.buffer.push(d);
                    if self.buffer.chars().count() >= digit_len {
                        self.evaluate_menu(clock, out);
                    } else {
                        self.wait = Wait::Digits {
                            deadline: clock.now + inter_digit_timeout,
                        };
                    }
                }
                Some(NodeKind::Collect {
                    terminator,
                    max_digits,
                    inter_digit_timeout,
                    ..
                }) => {
                    if Some(d) == terminator {
                        return self.finish_collect(clock, out);
                    }
                    self.buffer.push(d);
                    if self.buffer.chars().count() >= max_digits {
                        self.finish_collect(clock, out);
                    } else {
                        self.wait = Wait::Digits {
                            deadline: clock.now + inter_digit_timeout,
                        };
                    }
                }
                _ => {}
            },
        }
    }

    fn on_deadline(&mut self, clock: Clock, out: &mut Vec<Action>) {
        match self.kind() {
            Some(NodeKind::Menu {
                max_timeouts,
                timeout_sound,
                greet_short,
                ..
            }) => {
                if !self.buffer.is_empty() {
                    return self.evaluate_menu(clock, out);
                }
                self.timeouts += 1;
                self.step("timeout", out);
                if self.timeouts >= max_timeouts {
                    return self.menu_exit(clock, out);
                }
                let mut prompts = timeout_sound;
                prompts.extend(greet_short);
                self.play(prompts, true, After::Listen, out);
            }
            Some(NodeKind::Collect { .. }) => {
                if self.buffer.is_empty() {
                    self.step("timeout", out);
                    self.collect_failed(clock, out);
                } else {
                    self.finish_collect(clock, out);
                }
            }
            _ => {}
        }
    }

    fn evaluate_menu(&mut self, clock: Clock, out: &mut Vec<Action>) {
        let Some(NodeKind::Menu {
            keys,
            max_failures,
            invalid_sound,
            greet_short,
            ..
        }) = self.kind()
        else {
            return;
        };
        let entered = std::mem::take(&mut self.buffer);
        if let Some(target) = keys.get(&entered) {
            self.step(format!("key {entered}"), out);
            return self.enter(clock, target.clone(), out);
        }
        self.failures += 1;
        self.step(format!("invalid {entered}"), out);
        if self.failures >= max_failures {
            return self.menu_exit(clock, out);
        }
        let mut prompts = invalid_sound;
        prompts.extend(greet_short);
        self.play(prompts, true, After::Listen, out);
    }

    fn menu_exit(&mut self, clock: Clock, out: &mut Vec<Action>) {
        let Some(NodeKind::Menu {
            exit_sound,
            on_failure,
            ..
        }) = self.kind()
        else {
            return;
        };
        self.step("exit", out);
        if exit_sound.is_empty() {
            self.enter(clock, on_failure, out);
        } else {
            self.play(exit_sound, false, After::Goto(on_failure), out);
        }
    }

    fn finish_collect(&mut self, clock: Clock, out: &mut Vec<Action>) {
        let Some(NodeKind::Collect {
            min_digits,
            variable,
            next,
            ..
        }) = self.kind()
        else {
            return;
        };
        if self.buffer.chars().count() < min_digits {
            self.step(format!("too short {}", self.buffer), out);
            return self.collect_failed(clock, out);
        }
        let value = std::mem::take(&mut self.buffer);
        self.step(format!("collected {value}"), out);
        self.vars.insert(variable, value);
        self.enter(clock, next, out);
    }

    fn collect_failed(&mut self, clock: Clock, out: &mut Vec<Action>) {
        let Some(NodeKind::Collect {
            max_attempts,
            invalid_sound,
            prompts,
            on_failure,
            ..
        }) = self.kind()
        else {
            return;
        };
        self.buffer.clear();
        self.failures += 1;
        if self.failures >= max_attempts {
            self.step("exit", out);
            return self.enter(clock, on_failure, out);
        }
        let mut again = invalid_sound;
        again.extend(prompts);
        if again.is_empty() {
            self.listen(clock);
        } else {
            self.play(again, true, After::Listen, out);
        }
    }

    fn on_appeal(&mut self, found: Option<AppealSummary>, out: &mut Vec<Action>) {
        let (Wait::Lookup { .. }, Some(NodeKind::AppealStatus { next, .. })) =
            (&self.wait, self.kind())
        else {
            return;
        };
        let prompts = match found {
            None => {
                self.step("appeal not found", out);
                vec!["appeal-not-found".to_string()]
            }
            Some(a) => {
                self.step(
                    format!("appeal {} {}", a.registration_number, a.status),
                    out,
                );
                let mut p = vec!["appeal".to_string()];
                p.extend(say::registration_number(&a.registration_number));
                p.push("appeal-status".into());
                p.push(format!("status/{}", a.status.replace('_', "-")));
                // A card in the SER plan: the planned date, not an hour.
                match a.planned {
                    Some(planned) => {
                        p.push("appeal-planned".into());
                        p.extend(say::date(planned));
                    }
                    None => {
                        p.push("appeal-deadline".into());
                        p.extend(say::deadline(a.deadline));
                    }
                }
                p
            }
        };
        self.play(prompts, true, After::Goto(next), out);
    }

    /// A lookup failed or took too long: say so where the caller asked for
    /// something, go on silently where the IVR only looked on its own.
    fn lookup_failed(&mut self, clock: Clock, out: &mut Vec<Action>) {
        match self.kind() {
            Some(NodeKind::AppealStatus { next, .. }) => {
                self.play(vec!["lookup-failed".into()], true, After::Goto(next), out);
            }
            Some(NodeKind::Outages {
                at_caller_address,
                quiet_if_none,
                next,
            }) => {
                if at_caller_address || quiet_if_none {
                    self.enter(clock, next, out);
                } else {
                    self.play(vec!["lookup-failed".into()], true, After::Goto(next), out);
                }
            }
            _ => {}
        }
    }

    fn on_outages(&mut self, clock: Clock, list: Vec<OutageSummary>, out: &mut Vec<Action>) {
        let (
            Wait::Lookup { .. },
            Some(NodeKind::Outages {
                at_caller_address,
                quiet_if_none,
                next,
            }),
        ) = (&self.wait, self.kind())
        else {
            return;
        };
        self.step(format!("outages {}", list.len()), out);
        if list.is_empty() {
            if at_caller_address || quiet_if_none {
                return self.enter(clock, next, out);
            }
            return self.play(vec!["no-outages".into()], true, After::Goto(next), out);
        }
        let mut p = vec![
            if at_caller_address {
                "outage-at-your-address"
            } else {
                "outages-intro"
            }
            .to_string(),
        ];
        for o in &list {
            p.push(format!("outage/{}", o.kind));
            p.push(format!("service/{}", o.service));
            p.push("outage-until".into());
            p.extend(say::deadline(o.expected_end));
        }
        self.play(p, true, After::Goto(next), out);
    }
}
