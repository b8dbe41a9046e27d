//! The caller's path through the voice menu in words people use. The call
//! stores each step as the machine wrote it (`main:greeting barge-in 0`:
//! the node, then what happened); operators and supervisors read it on the
//! card and in the recording's details as "Привітання — перервано
//! клавішею 0".
//!
//! Role: read a stored step back into its parts, with the node's title
//! from the menu files (`title = "…"` on a node) and, for a queue node,
//! the queue's title. [`describe`] is plain code: the scripts and the
//! queue titles are handed in ([`PathWords`] holds the ones in force); the
//! words for what happened are the page's (i18n), keyed by [`StepWhat`].

use serde::Serialize;

use super::assets::CurrentIvr;
use super::script::{NodeId, NodeKind, ScriptSet};
use crate::queue::service::QueueService;
use crate::store::text_enum;

text_enum! {
    /// What happened at a node of the voice menu.
    StepWhat as "IvrStepWhat" {
        Enter => "enter",
        Exit => "exit",
        Timeout => "timeout",
        Key => "key",
        Invalid => "invalid",
        BargeIn => "barge-in",
        Collected => "collected",
        TooShort => "too-short",
        Outages => "outages",
        LookupTimedOut => "lookup-timed-out",
        LookupFailed => "lookup-failed",
        AppealNotFound => "appeal-not-found",
        Appeal => "appeal",
        /// A step this version does not know (an older or newer server's).
        Other => "other",
    }
}

/// One step of the path, ready to be put in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = IvrStep)]
pub struct PathStep {
    /// The node as the menu files name it (`main:greeting`).
    pub node: String,
    /// The node's title in the menu file, or for a queue node the queue's
    /// title; `None` if it has neither (the page names the kind).
    pub title: Option<String>,
    /// The node's kind (`play`, `menu`, `queue`…), or `None` if the node
    /// is no longer in the menu files.
    pub kind: Option<&'static str>,
    pub what: StepWhat,
    /// The key, the digits, the number of outages, the appeal's number…;
    /// for [`StepWhat::Other`] the whole stored text.
    pub value: Option<String>,
}

/// The menu files in force and the queues' titles: what [`describe`]
/// needs, cheap to clone and handed to the HTTP edge and the consoles.
#[derive(Clone)]
pub struct PathWords {
    ivr: CurrentIvr,
    queues: QueueService,
}

impl PathWords {
    pub fn new(ivr: CurrentIvr, queues: QueueService) -> PathWords {
        PathWords { ivr, queues }
    }

    /// The queues, for their titles.
    pub fn queues(&self) -> &crate::queue::QueueSet {
        self.queues.queues()
    }

    /// A call's stored steps, each described against the menu in force.
    pub fn describe(&self, path: &[String]) -> Vec<PathStep> {
        let assets = self.ivr.get();
        let queues = self.queues.queues();
        path.iter()
            .map(|detail| {
                describe(detail, &assets.script, |name| {
                    queues.get(name).map(|q| q.title.clone())
                })
            })
            .collect()
    }
}

/// `detail` as stored (`<file>:<node> <what> [value]`), described against
/// the menu files and the queues' titles.
pub fn describe(
    detail: &str,
    scripts: &ScriptSet,
    queue_title: impl Fn(&str) -> Option<String>,
) -> PathStep {
    let (node, rest) = detail.split_once(' ').unwrap_or((detail, ""));
    let (what, value) = what_of(rest);
    let found = node.split_once(':').and_then(|(file, name)| {
        scripts.node(&NodeId {
            file: file.to_string(),
            node: name.to_string(),
        })
    });
    let title = found.and_then(|n| {
        n.title.clone().or_else(|| match &n.kind {
            NodeKind::Queue { queue, .. } => queue_title(queue),
            _ => None,
        })
    });
    PathStep {
        node: node.to_string(),
        title,
        kind: found.map(|n| n.kind.name()),
        what,
        value: match what {
            StepWhat::Other => Some(detail.to_string()),
            _ => value.filter(|v| !v.is_empty()).map(str::to_string),
        },
    }
}

/// The step's kind and its value, as the machine writes them
/// (`crate::ivr::machine`).
fn what_of(rest: &str) -> (StepWhat, Option<&str>) {
    const WITH_VALUE: &[(&str, StepWhat)] = &[
        ("key ", StepWhat::Key),
        ("invalid ", StepWhat::Invalid),
        ("barge-in ", StepWhat::BargeIn),
        ("collected ", StepWhat::Collected),
        ("too short ", StepWhat::TooShort),
        ("outages ", StepWhat::Outages),
        ("appeal ", StepWhat::Appeal),
    ];
    const BARE: &[(&str, StepWhat)] = &[
        ("enter", StepWhat::Enter),
        ("exit", StepWhat::Exit),
        ("timeout", StepWhat::Timeout),
        ("lookup timed out", StepWhat::LookupTimedOut),
        ("lookup failed", StepWhat::LookupFailed),
        ("appeal not found", StepWhat::AppealNotFound),
    ];
    if let Some((_, what)) = BARE.iter().find(|(text, _)| rest == *text) {
        return (*what, None);
    }
    for (prefix, what) in WITH_VALUE {
        if let Some(value) = rest.strip_prefix(prefix) {
            return (*what, Some(value));
        }
    }
    (StepWhat::Other, None)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn shipped() -> ScriptSet {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("ivr-scripts");
        super::super::script::load(&dir, "main", "uk").unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn queue_title(name: &str) -> Option<String> {
        (name == "emergency").then(|| "Аварійна".to_string())
    }

    #[test]
    fn every_step_the_machine_writes_is_read_back() {
        let scripts = shipped();
        let d = |detail: &str| describe(detail, &scripts, queue_title);
        let greeting = d("main:greeting barge-in 0");
        assert_eq!(greeting.title.as_deref(), Some("Привітання"));
        assert_eq!(greeting.kind, Some("play"));
        assert_eq!(
            (greeting.what, greeting.value.as_deref()),
            (StepWhat::BargeIn, Some("0"))
        );
        let outages = d("main:outage-check outages 1");
        assert_eq!(
            (outages.what, outages.value.as_deref()),
            (StepWhat::Outages, Some("1"))
        );
        assert!(outages.title.is_some());
        for (detail, what, value) in [
            ("main:main-menu enter", StepWhat::Enter, None),
            ("main:main-menu key 0", StepWhat::Key, Some("0")),
            ("main:main-menu invalid 7", StepWhat::Invalid, Some("7")),
            ("main:main-menu timeout", StepWhat::Timeout, None),
            (
                "main:status-number collected 1580202600012",
                StepWhat::Collected,
                Some("1580202600012"),
            ),
            (
                "main:status-number too short 12",
                StepWhat::TooShort,
                Some("12"),
            ),
            (
                "main:status lookup timed out",
                StepWhat::LookupTimedOut,
                None,
            ),
            ("main:status lookup failed", StepWhat::LookupFailed, None),
            (
                "main:status appeal not found",
                StepWhat::AppealNotFound,
                None,
            ),
            (
                "main:status appeal 1580-2026-000123 in_progress",
                StepWhat::Appeal,
                Some("1580-2026-000123 in_progress"),
            ),
            ("main:main-menu exit", StepWhat::Exit, None),
        ] {
            let step = d(detail);
            assert_eq!(
                (step.what, step.value.as_deref()),
                (what, value),
                "{detail}"
            );
            assert!(step.kind.is_some(), "{detail}");
        }
    }

    #[test]
    fn a_queue_node_is_named_by_its_queue() {
        let scripts = shipped();
        let step = describe("main:emergency-queue enter", &scripts, queue_title);
        assert_eq!(step.kind, Some("queue"));
        assert!(step.title.is_some());
    }

    #[test]
    fn what_it_cannot_read_is_kept_whole() {
        let scripts = shipped();
        let gone = describe("old:removed enter", &scripts, queue_title);
        assert_eq!(
            (gone.kind, gone.title, gone.what),
            (None, None, StepWhat::Enter)
        );
        let odd = describe("main:greeting something new", &scripts, queue_title);
        assert_eq!(odd.what, StepWhat::Other);
        assert_eq!(odd.value.as_deref(), Some("main:greeting something new"));
        let bare = describe("main", &scripts, queue_title);
        assert_eq!(bare.what, StepWhat::Other);
    }
}
