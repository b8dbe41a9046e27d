//! The IVR machine in simulated time, and script validation on good and
//! broken files. No sockets, no real prompts: prompt files are empty
//! placeholders, which is all validation looks at.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;

use super::machine::*;
use super::testing::scripts;

const MAIN: &str = r##"
start = "greeting"

[nodes.greeting]
type = "play"
prompt = "greeting"
next = "menu"

[nodes.menu]
type = "menu"
greet-long = "main-menu"
greet-short = "main-menu-short"
invalid-sound = "invalid"
timeout-sound = "no-input"
exit-sound = "goodbye"
timeout = 5000
max-failures = 3
max-timeouts = 2
on-failure = "bye"
keys = { "1" = "emergency", "4" = "ask-number", "5" = "outages", "0" = "operator", "9" = "other:start-here" }

[nodes.emergency]
type = "queue"
queue = "emergency"
prompt = "please-wait"

[nodes.operator]
type = "queue"
queue = "general"
prompt = ["please-wait"]

[nodes.ask-number]
type = "collect"
prompt = "enter-number"
invalid-sound = "invalid"
min-digits = 4
max-digits = 15
terminator = "#"
timeout = 7000
inter-digit-timeout = 3000
max-attempts = 2
variable = "reg"
next = "status"
on-failure = "menu"

[nodes.status]
type = "appeal-status"
variable = "reg"
next = "menu"

[nodes.outages]
type = "outages"
next = "menu"

[nodes.bye]
type = "hangup"
prompt = "goodbye"
"##;

const OTHER: &str = r#"
start = "start-here"

[nodes.start-here]
type = "branch"
default = "closed"
schedule = [ { days = "mon-fri", from = "08:00", to = "20:00", next = "open" } ]

[nodes.open]
type = "play"
prompt = "greeting"
interruptible = false
next = "main:bye"

[nodes.closed]
type = "hangup"
"#;

fn ivr() -> Ivr {
    let (_dir, set) = scripts(&[("main.toml", MAIN), ("other.toml", OTHER)]);
    Ivr::new(Arc::new(set.expect("valid scripts")))
}

struct Sim {
    t0: Instant,
    at: Duration,
    wall: chrono::NaiveDateTime,
}

impl Sim {
    fn new() -> Self {
        // A Monday, 10:00.
        let wall = NaiveDate::from_ymd_opt(2026, 11, 23)
            .unwrap()
            .and_hms_opt(10, 0, 0)
            .unwrap();
        Sim {
            t0: Instant::now(),
            at: Duration::ZERO,
            wall,
        }
    }
    fn clock(&self) -> Clock {
        Clock {
            now: self.t0 + self.at,
            wall: self.wall,
        }
    }
    fn after(&mut self, ms: u64) -> Clock {
        self.at += Duration::from_millis(ms);
        self.clock()
    }
}

/// The standard script, past the greeting, listening in the main menu.
fn at_main_menu() -> (Ivr, Sim) {
    let mut m = ivr();
    let mut sim = Sim::new();
    m.start(sim.clock());
    m.handle_input(sim.after(100), Input::PlaybackDone);
    m.handle_input(sim.after(100), Input::PlaybackDone);
    (m, sim)
}

fn plays(actions: &[Action]) -> Vec<Vec<String>> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Play { prompts, .. } => Some(prompts.clone()),
            _ => None,
        })
        .collect()
}

fn steps(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Step(s) => Some(format!("{} {}", s.node, s.what)),
            _ => None,
        })
        .collect()
}

fn p(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn greeting_then_menu_then_key() {
    let mut m = ivr();
    let mut sim = Sim::new();
    let a = m.start(sim.clock());
    assert_eq!(plays(&a), vec![p(&["greeting"])]);
    assert_eq!(steps(&a), vec!["main:greeting enter"]);
    let a = m.handle_input(sim.after(3000), Input::PlaybackDone);
    assert_eq!(plays(&a), vec![p(&["main-menu"])]);
    let a = m.handle_input(sim.after(8000), Input::PlaybackDone);
    assert!(a.is_empty());
    assert_eq!(
        m.poll_timeout(),
        Some(sim.clock().now + Duration::from_secs(5))
    );
    let a = m.handle_input(sim.after(1000), Input::Digit('1'));
    assert!(a.contains(&Action::Queue {
        queue: "emergency".into()
    }));
    assert_eq!(plays(&a), vec![p(&["please-wait"])]);
    assert_eq!(steps(&a), vec!["main:menu key 1", "main:emergency enter"]);
    // Queue prompts loop and keys no longer count.
    assert!(m.handle_input(sim.after(10), Input::Digit('5')).is_empty());
    assert_eq!(
        plays(&m.handle_input(sim.after(2000), Input::PlaybackDone)),
        vec![p(&["please-wait"])]
    );
}

#[test]
fn barge_in_during_greeting_selects_in_the_menu() {
    let mut m = ivr();
    let mut sim = Sim::new();
    m.start(sim.clock());
    let a = m.handle_input(sim.after(500), Input::Digit('0'));
    assert_eq!(a[0], Action::StopPlayback);
    assert!(a.contains(&Action::Queue {
        queue: "general".into()
    }));
    assert!(
        !plays(&a).contains(&p(&["main-menu"])),
        "the menu greeting is skipped"
    );
}

#[test]
fn timeouts_replay_short_greeting_then_exit() {
    let (mut m, mut sim) = at_main_menu();
    let a = m.handle_timeout(sim.after(4999));
    assert!(a.is_empty(), "not yet");
    let a = m.handle_timeout(sim.after(1));
    assert_eq!(plays(&a), vec![p(&["no-input", "main-menu-short"])]);
    m.handle_input(sim.after(2000), Input::PlaybackDone);
    let a = m.handle_timeout(sim.after(5000));
    assert_eq!(
        plays(&a),
        vec![p(&["goodbye"])],
        "max-timeouts 2: exit sound"
    );
    assert_eq!(steps(&a), vec!["main:menu timeout", "main:menu exit"]);
    let a = m.handle_input(sim.after(1000), Input::PlaybackDone);
    assert_eq!(
        plays(&a),
        vec![p(&["goodbye"])],
        "on-failure: the hangup node"
    );
    let a = m.handle_input(sim.after(1000), Input::PlaybackDone);
    assert_eq!(a, vec![Action::Hangup]);
}

#[test]
fn invalid_keys_then_max_failures() {
    let mut m = ivr();
    let mut sim = Sim::new();
    m.start(sim.clock());
    m.handle_input(sim.after(100), Input::PlaybackDone);
    for attempt in 1..=3 {
        let a = m.handle_input(sim.after(100), Input::Digit('7'));
        if attempt < 3 {
            assert_eq!(plays(&a), vec![p(&["invalid", "main-menu-short"])]);
            // A key during the re-prompt barges in.
            continue;
        }
        assert_eq!(steps(&a), vec!["main:menu invalid 7", "main:menu exit"]);
        assert_eq!(plays(&a), vec![p(&["goodbye"])]);
    }
}

#[test]
fn collect_with_terminator_and_appeal_read_back() {
    let (mut m, mut sim) = at_main_menu();
    let a = m.handle_input(sim.after(100), Input::Digit('4'));
    assert_eq!(plays(&a), vec![p(&["enter-number"])]);
    for d in "15802026000123".chars() {
        m.handle_input(sim.after(300), Input::Digit(d));
    }
    let a = m.handle_input(sim.after(300), Input::Digit('#'));
    assert_eq!(
        a.iter().find(|a| matches!(a, Action::LookupAppeal { .. })),
        Some(&Action::LookupAppeal {
            number: "15802026000123".into()
        })
    );
    assert_eq!(m.variable("reg"), Some("15802026000123"));
    let deadline = NaiveDate::from_ymd_opt(2026, 11, 24)
        .unwrap()
        .and_hms_opt(14, 30, 0)
        .unwrap();
    let found = AppealSummary {
        registration_number: "1580-2026-000123".into(),
        status: "in_progress".into(),
        deadline,
        planned: None,
    };
    let a = m.handle_input(sim.after(50), Input::Appeal(Some(found)));
    let spoken = &plays(&a)[0];
    assert_eq!(spoken[0], "appeal");
    assert!(spoken.contains(&"status/in-progress".to_string()));
    let i = spoken.iter().position(|s| s == "appeal-deadline").unwrap();
    assert_eq!(&spoken[i + 1..], &super::say::deadline(deadline)[..]);
    assert_eq!(
        &spoken[1..spoken.iter().position(|s| s == "appeal-status").unwrap()],
        &super::say::registration_number("1580-2026-000123")[..]
    );
    // Then back to the menu.
    let a = m.handle_input(sim.after(9000), Input::PlaybackDone);
    assert_eq!(plays(&a), vec![p(&["main-menu"])]);
}

#[test]
fn a_card_in_the_ser_plan_is_read_back_with_its_planned_date() {
    let (mut m, mut sim) = at_main_menu();
    m.handle_input(sim.after(100), Input::Digit('4'));
    for d in "15802026000123#".chars() {
        m.handle_input(sim.after(300), Input::Digit(d));
    }
    let planned = NaiveDate::from_ymd_opt(2027, 9, 1).unwrap();
    let found = AppealSummary {
        registration_number: "1580-2026-000123".into(),
        status: "long_term".into(),
        deadline: planned.and_hms_opt(23, 59, 59).unwrap(),
        planned: Some(planned),
    };
    let a = m.handle_input(sim.after(50), Input::Appeal(Some(found)));
    let spoken = &plays(&a)[0];
    assert!(
        spoken.contains(&"status/long-term".to_string()),
        "{spoken:?}"
    );
    assert!(
        !spoken.contains(&"appeal-deadline".to_string()),
        "no hour of a plan"
    );
    let i = spoken.iter().position(|s| s == "appeal-planned").unwrap();
    assert_eq!(&spoken[i + 1..], &super::say::date(planned)[..]);
    // Every prompt it speaks is one the menu checker knows.
    for prompt in spoken {
        assert!(
            crate::ivr::script::APPEAL_PROMPTS.contains(&prompt.as_str())
                || super::say::vocabulary().contains(prompt),
            "{prompt}"
        );
    }
}

#[test]
fn collect_too_short_then_give_up_and_not_found() {
    let (mut m, mut sim) = at_main_menu();
    m.handle_input(sim.after(100), Input::Digit('4'));
    m.handle_input(sim.after(100), Input::PlaybackDone);
    m.handle_input(sim.after(100), Input::Digit('1'));
    // The inter-digit timeout ends a too-short entry.
    let a = m.handle_timeout(sim.after(3000));
    assert_eq!(plays(&a), vec![p(&["invalid", "enter-number"])]);
    for d in "99999#".chars() {
        m.handle_input(sim.after(100), Input::Digit(d));
    }
    let a = m.handle_input(sim.after(10), Input::Appeal(None));
    assert_eq!(plays(&a), vec![p(&["appeal-not-found"])]);
}

#[test]
fn outages_announced_or_none() {
    let (mut m, mut sim) = at_main_menu();
    let a = m.handle_input(sim.after(100), Input::Digit('5'));
    assert!(a.contains(&Action::FetchOutages {
        at_caller_address: false
    }));
    let until = NaiveDate::from_ymd_opt(2026, 11, 23)
        .unwrap()
        .and_hms_opt(18, 0, 0)
        .unwrap();
    let work = OutageSummary {
        kind: "emergency".into(),
        service: "water".into(),
        expected_end: until,
    };
    let a = m.handle_input(sim.after(10), Input::Outages(vec![work]));
    let spoken = &plays(&a)[0];
    assert_eq!(
        &spoken[..4],
        &p(&[
            "outages-intro",
            "outage/emergency",
            "service/water",
            "outage-until"
        ])[..]
    );
    assert_eq!(&spoken[4..], &super::say::deadline(until)[..]);
}

#[test]
fn cross_file_goto_and_schedule() {
    let (mut m, mut sim) = at_main_menu();
    // Monday 10:00: open. The greeting there is not interruptible.
    let a = m.handle_input(sim.after(100), Input::Digit('9'));
    assert!(
        steps(&a).contains(&"other:open enter".to_string()),
        "{:?}",
        steps(&a)
    );
    assert!(
        m.handle_input(sim.after(100), Input::Digit('1')).is_empty(),
        "keys ignored"
    );
    let a = m.handle_input(sim.after(100), Input::PlaybackDone);
    assert!(steps(&a).contains(&"main:bye enter".to_string()));

    // Sunday: closed, which hangs up at once.
    let mut m = ivr();
    let mut sim = Sim::new();
    sim.wall = NaiveDate::from_ymd_opt(2026, 11, 22)
        .unwrap()
        .and_hms_opt(10, 0, 0)
        .unwrap();
    m.start(sim.clock());
    m.handle_input(sim.after(100), Input::PlaybackDone);
    m.handle_input(sim.after(100), Input::PlaybackDone);
    let a = m.handle_input(sim.after(100), Input::Digit('9'));
    assert_eq!(a.last(), Some(&Action::Hangup));
}

// ----- validation -----

fn diagnostics(files: &[(&str, &str)]) -> Vec<String> {
    let (_dir, set) = scripts(files);
    set.err()
        .unwrap_or_default()
        .into_iter()
        .map(|d| {
            format!(
                "{}:{}: {}",
                Path::new(&d.file).file_name().unwrap().to_string_lossy(),
                d.line,
                d.message
            )
        })
        .collect()
}

#[test]
fn good_scripts_load() {
    assert_eq!(
        diagnostics(&[("main.toml", MAIN), ("other.toml", OTHER)]),
        Vec::<String>::new()
    );
}

#[test]
fn unknown_node_is_reported_with_its_line() {
    let bad = MAIN.replace("next = \"status\"", "next = \"stauts\"");
    let d = diagnostics(&[("main.toml", &bad), ("other.toml", OTHER)]);
    assert_eq!(d, vec!["main.toml:43: unknown node main:stauts"]);
}

#[test]
fn missing_prompt_is_reported() {
    let bad = MAIN.replace("prompt = \"greeting\"", "prompt = \"greting\"");
    let d = diagnostics(&[("main.toml", &bad), ("other.toml", OTHER)]);
    assert_eq!(d.len(), 1);
    assert!(
        d[0].starts_with("main.toml:6: missing prompt \"greting\""),
        "{d:?}"
    );
}

#[test]
fn bad_keys_are_reported() {
    let bad = MAIN.replace(
        "\"5\" = \"outages\"",
        "\"55\" = \"outages\", \"x\" = \"bye\"",
    );
    let d = diagnostics(&[("main.toml", &bad), ("other.toml", OTHER)]);
    assert!(
        d.iter()
            .any(|e| e.contains("key \"55\" is longer than digit-len 1")),
        "{d:?}"
    );
    assert!(d.iter().any(|e| e.contains("bad key \"x\"")), "{d:?}");
}

#[test]
fn loop_with_no_exit_is_reported() {
    let looped = r#"
start = "a"
[nodes.a]
type = "play"
prompt = "greeting"
next = "b"
[nodes.b]
type = "goto"
next = "a"
"#;
    let d = diagnostics(&[("main.toml", looped)]);
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(d[0].contains("loop with no exit"), "{d:?}");
}

#[test]
fn syntax_errors_and_unknown_fields_have_lines() {
    let d = diagnostics(&[(
        "main.toml",
        "start = \"a\"\n[nodes.a]\ntype = \"play\"\nprompt = [\"x\"\n",
    )]);
    assert!(
        d[0].starts_with("main.toml:4:") || d[0].starts_with("main.toml:5:"),
        "{d:?}"
    );
    let d = diagnostics(&[(
        "main.toml",
        "start = \"a\"\n[nodes.a]\ntype = \"hangup\"\nprompts = \"goodbye\"\n",
    )]);
    assert!(
        d[0].starts_with("main.toml:") && d[0].contains("unknown field `prompts`"),
        "{d:?}"
    );
    let d = diagnostics(&[("main.toml", "start = \"a\"\n[nodes.a]\ntype = \"dance\"\n")]);
    assert!(d[0].contains("unknown variant `dance`"), "{d:?}");
    let d = diagnostics(&[("other.toml", OTHER)]);
    assert!(
        d.iter()
            .any(|e| e.contains("entry menu file main.toml is missing")),
        "{d:?}"
    );
}

#[test]
fn branch_on_a_collected_variable_and_multi_digit_menu() {
    let script = r##"
start = "ask"
[nodes.ask]
type = "collect"
prompt = "enter-number"
min-digits = 1
max-digits = 2
terminator = "#"
variable = "choice"
next = "route"
on-failure = "bye"
[nodes.route]
type = "branch"
variable = "choice"
cases = { "12" = "two-digit", "7" = "bye" }
default = "bye"
[nodes.two-digit]
type = "menu"
greet-long = "main-menu"
digit-len = 2
inter-digit-timeout = 2000
keys = { "10" = "bye", "1" = "bye" }
on-failure = "bye"
[nodes.bye]
type = "hangup"
prompt = "goodbye"
"##;
    let (_dir, set) = scripts(&[("main.toml", script)]);
    let mut m = Ivr::new(Arc::new(set.expect("valid")));
    let mut sim = Sim::new();
    m.start(sim.clock());
    m.handle_input(sim.after(100), Input::Digit('1'));
    let a = m.handle_input(sim.after(100), Input::Digit('2'));
    assert!(steps(&a).contains(&"main:route enter".to_string()));
    assert!(
        steps(&a).contains(&"main:two-digit enter".to_string()),
        "{:?}",
        steps(&a)
    );
    // "1" alone is a key, but digit-len 2 waits for the inter-digit timeout.
    m.handle_input(sim.after(100), Input::PlaybackDone);
    let a = m.handle_input(sim.after(100), Input::Digit('1'));
    assert!(steps(&a).is_empty());
    let a = m.handle_timeout(sim.after(2000));
    assert_eq!(steps(&a)[0], "main:two-digit key 1");
}

#[test]
fn no_outage_at_the_callers_address_says_nothing() {
    let script = r#"
start = "check"
[nodes.check]
type = "outages"
at-caller-address = true
next = "bye"
[nodes.bye]
type = "hangup"
prompt = "goodbye"
"#;
    let (_dir, set) = scripts(&[("main.toml", script)]);
    let mut m = Ivr::new(Arc::new(set.expect("valid")));
    let mut sim = Sim::new();
    let a = m.start(sim.clock());
    assert!(a.contains(&Action::FetchOutages {
        at_caller_address: true
    }));
    let a = m.handle_input(sim.after(20), Input::Outages(Vec::new()));
    assert_eq!(
        plays(&a),
        vec![p(&["goodbye"])],
        "straight on, nothing announced"
    );
    // A late or stray result is ignored.
    assert!(
        m.handle_input(sim.after(20), Input::Outages(Vec::new()))
            .is_empty()
    );
    assert!(
        m.handle_input(sim.after(20), Input::Appeal(None))
            .is_empty()
    );
}

#[test]
fn collection_gives_up_after_max_attempts_and_goto_moves_on() {
    let script = r##"
start = "jump"
[nodes.jump]
type = "goto"
next = "ask"
[nodes.ask]
type = "collect"
prompt = "enter-number"
invalid-sound = "invalid"
min-digits = 2
max-attempts = 2
timeout = 4000
variable = "n"
next = "bye"
on-failure = "bye"
[nodes.bye]
type = "hangup"
prompt = "goodbye"
"##;
    let (_dir, set) = scripts(&[("main.toml", script)]);
    let mut m = Ivr::new(Arc::new(set.expect("valid")));
    let mut sim = Sim::new();
    let a = m.start(sim.clock());
    assert_eq!(steps(&a), vec!["main:jump enter", "main:ask enter"]);
    m.handle_input(sim.after(100), Input::PlaybackDone);
    // Silence: one timeout, asked again.
    let a = m.handle_timeout(sim.after(4000));
    assert_eq!(steps(&a), vec!["main:ask timeout"]);
    assert_eq!(plays(&a), vec![p(&["invalid", "enter-number"])]);
    m.handle_input(sim.after(100), Input::PlaybackDone);
    // A second failure ends it: on to on-failure.
    let a = m.handle_timeout(sim.after(4000));
    assert!(steps(&a).contains(&"main:ask exit".to_string()));
    assert_eq!(plays(&a), vec![p(&["goodbye"])]);
    assert_eq!(m.variable("n"), None);
}

#[test]
fn lookups_that_fail_or_hang_are_said_so_and_keys_typed_meanwhile_count() {
    let (mut m, mut sim) = at_main_menu();
    // Menu 5: the lookup never answers.
    let a = m.handle_input(sim.after(100), Input::Digit('5'));
    assert!(a.contains(&Action::FetchOutages {
        at_caller_address: false
    }));
    assert_eq!(m.poll_timeout(), Some(sim.clock().now + LOOKUP_TIMEOUT));
    // A key pressed meanwhile is kept for the next menu.
    assert!(m.handle_input(sim.after(500), Input::Digit('0')).is_empty());
    let a = m.handle_timeout(sim.after(2500));
    assert_eq!(steps(&a), vec!["main:outages lookup timed out"]);
    assert_eq!(plays(&a), vec![p(&["lookup-failed"])]);
    // The late answer is ignored.
    assert!(
        m.handle_input(sim.after(10), Input::Outages(Vec::new()))
            .is_empty()
    );
    // Back in the menu, the kept 0 chooses the operator at once.
    let a = m.handle_input(sim.after(3000), Input::PlaybackDone);
    assert!(
        a.contains(&Action::Queue {
            queue: "general".into()
        }),
        "{a:?}"
    );
    // Menu 4 with a database error: "unavailable", not "not found".
    let mut m = ivr();
    m.start(sim.clock());
    m.handle_input(sim.after(100), Input::PlaybackDone);
    m.handle_input(sim.after(100), Input::PlaybackDone);
    m.handle_input(sim.after(100), Input::Digit('4'));
    for d in "123456#".chars() {
        m.handle_input(sim.after(100), Input::Digit(d));
    }
    let a = m.handle_input(sim.after(100), Input::LookupFailed);
    assert_eq!(plays(&a), vec![p(&["lookup-failed"])]);
}

#[test]
fn menu_5_with_nothing_active_says_so() {
    let (mut m, mut sim) = at_main_menu();
    m.handle_input(sim.after(100), Input::Digit('5'));
    let a = m.handle_input(sim.after(10), Input::Outages(Vec::new()));
    assert_eq!(plays(&a), vec![p(&["no-outages"])]);
}

#[test]
fn keys_typed_ahead_during_a_lookup_go_on_and_leftovers_are_dropped() {
    let (mut m, mut sim) = at_main_menu();
    m.handle_input(sim.after(100), Input::Digit('5'));
    // "4" and "1" while the outages are looked up.
    assert!(m.handle_input(sim.after(100), Input::Digit('4')).is_empty());
    assert!(m.handle_input(sim.after(100), Input::Digit('1')).is_empty());
    m.handle_input(sim.after(100), Input::Outages(Vec::new()));
    // After "no outages", the menu takes the 4 and the collection the 1.
    let a = m.handle_input(sim.after(2000), Input::PlaybackDone);
    assert!(
        steps(&a).contains(&"main:menu key 4".to_string()),
        "{:?}",
        steps(&a)
    );
    for d in "2345#".chars() {
        m.handle_input(sim.after(100), Input::Digit(d));
    }
    assert_eq!(m.variable("reg"), Some("12345"));

    // "1" and "2" during a lookup: the 1 leads to a queue, where nothing
    // listens; the 2 is dropped, not kept for later.
    let mut m = ivr();
    m.start(sim.clock());
    m.handle_input(sim.after(100), Input::PlaybackDone);
    m.handle_input(sim.after(100), Input::PlaybackDone);
    m.handle_input(sim.after(100), Input::Digit('5'));
    m.handle_input(sim.after(100), Input::Digit('1'));
    m.handle_input(sim.after(100), Input::Digit('2'));
    m.handle_input(sim.after(100), Input::Outages(Vec::new()));
    let a = m.handle_input(sim.after(2000), Input::PlaybackDone);
    assert!(a.contains(&Action::Queue {
        queue: "emergency".into()
    }));
    assert!(
        !steps(&a).iter().any(|s| s.contains("key 2")),
        "{:?}",
        steps(&a)
    );
    let a = m.handle_input(sim.after(5000), Input::PlaybackDone);
    assert_eq!(
        plays(&a),
        vec![p(&["please-wait"])],
        "the queue loop goes on"
    );
    assert!(steps(&a).is_empty());
}

#[test]
fn silent_loops_and_unset_variables_are_reported() {
    let bad = MAIN
        .replace("on-failure = \"bye\"\nkeys", "on-failure = \"menu\"\nkeys")
        .replace(
            "variable = \"reg\"\nnext = \"menu\"",
            "variable = \"registration\"\nnext = \"menu\"",
        );
    let d = diagnostics(&[("main.toml", &bad), ("other.toml", OTHER)]);
    assert!(
        d.iter()
            .any(|e| e.contains("loop with no exit for a silent caller: main:menu")),
        "{d:?}"
    );
    assert!(
        d.iter()
            .any(|e| e
                .contains("variable \"registration\" is read here but no collect node sets it")),
        "{d:?}"
    );
}

#[test]
fn every_card_state_has_a_prompt_to_be_read_by() {
    for status in crate::appeal::AppealStatus::ALL {
        let name = format!("status/{}", status.as_str().replace('_', "-"));
        assert!(
            crate::ivr::script::APPEAL_PROMPTS.contains(&name.as_str()),
            "{name} missing"
        );
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("ivr-scripts/prompts/uk")
            .join(format!("{name}.wav"));
        assert!(file.exists(), "{} missing", file.display());
    }
}
