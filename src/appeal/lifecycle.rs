//! The card's life as a state machine: who may do what in which state, what
//! each step needs, and what it changes (000 §2.4, §3; 001 §7.2, §9; 004
//! §5–6). The diagram, the table of roles and the rules are in
//! `docs/lifecycle.md`.
//!
//! Role: [`Lifecycle::handle`] takes a card, an action, its actor and the
//! time, and returns the card as it is after the action, the entry for the
//! card's history and who is to be told; or a [`Refusal`] that says why not.
//! [`Lifecycle::register`] makes a new card's life. Plain code like the IVR
//! machine: no database, no clock, no sockets; the store writes the outcome
//! (the new state and its history entry in one transaction) and the
//! websocket tells the people named in it.
//!
//! The working calendar is the one thing it consults: when a card reaches an
//! executor (its working hours) and when a decision is due (the end of the
//! contact centre's next working day).

use std::fmt;

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::calendar::WorkingCalendar;
use super::classifier::DeadlineClass;
use super::control::{self, ControlRule, TrackRecord};
use super::record::AppealStatus;
use super::verification::{AttemptResult, Attempts, Channel, Mode, Next, Verifying};
use crate::store::text_enum;
use crate::store::users::Role;

/// Longest comment, reason or summary, in characters.
pub const MAX_TEXT_CHARS: usize = 4000;

/// Longest name of a responsible person, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// The code of an executor of the classifier ("vodokanal"): the key a card
/// holds, never the organisation's name.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(try_from = "String", into = "String")]
pub struct ExecutorCode(String);

impl ExecutorCode {
    /// Longest code, as the classifier allows.
    pub const MAX_CHARS: usize = 64;

    /// A code: `[a-z0-9_-]`, 1 to 64 characters.
    pub fn parse(text: &str) -> Result<ExecutorCode, String> {
        let ok = !text.is_empty()
            && text.len() <= Self::MAX_CHARS
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        match ok {
            true => Ok(ExecutorCode(text.to_string())),
            false => Err(format!("{text:?} is not an executor code")),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ExecutorCode {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        ExecutorCode::parse(&text)
    }
}

impl From<ExecutorCode> for String {
    fn from(code: ExecutorCode) -> String {
        code.0
    }
}

impl fmt::Display for ExecutorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

text_enum! {
    /// The level of control a card is under (000 §2.4).
    Control {
        /// The deadline of its class.
        Regular => "regular",
        /// Additional control: an extension was granted (000 §2.4.2).
        Additional => "additional",
        /// Long-term control: in the SER plan (000 §2.4.3).
        LongTerm => "long_term",
    }
}

/// An executor on a card: the lead, or one of the others (001 §7.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Part {
    pub executor: ExecutorCode,
    pub lead: bool,
    /// The person the executor named when it accepted (000 §3.1.1).
    pub responsible: Option<String>,
    /// Why the executor said the issue is not theirs; it then has no part
    /// in the work.
    pub declined: Option<String>,
}

/// An executor to put on a card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Assignment {
    pub executor: ExecutorCode,
    pub lead: bool,
}

/// What an executor asks the contact centre to decide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[schema(as = PendingRequest)]
pub enum Request {
    /// Another executor: not its competence, or others must join (000
    /// §3.3.1).
    ChangeExecutor { suggested: Option<ExecutorCode> },
    /// Additional control: a concrete new deadline (000 §3.3.2, 001 §9.3).
    Extension { until: DateTime<Utc> },
    /// The socio-economic development plan: long-term control until the
    /// planned date (000 §3.3.3, 001 §9.4).
    LongTerm { planned: NaiveDate },
    /// Closure: the issue is resolved (000 §3.4, 001 §9.5).
    Closure,
}

impl Request {
    /// The request's name in history entries and messages.
    pub fn name(&self) -> &'static str {
        match self {
            Request::ChangeExecutor { .. } => "change_executor",
            Request::Extension { .. } => "extension",
            Request::LongTerm { .. } => "long_term",
            Request::Closure => "closure",
        }
    }
}

/// A request awaiting a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Pending {
    pub request: Request,
    pub by: ExecutorCode,
    pub made_at: DateTime<Utc>,
    /// The end of the contact centre's next working day.
    pub due: DateTime<Utc>,
    /// The state the card goes back to if the request is withdrawn or
    /// rejected (a rejected closure goes to rework instead).
    pub return_to: AppealStatus,
    /// A second extension needs the curator's approval as well (000 §3.3.2,
    /// 001 §9.3).
    pub needs_curator: bool,
    /// The supervisor who approved, while the curator has not.
    pub approved_by_supervisor: Option<String>,
    /// The curator who approved, while the supervisor has not.
    pub approved_by_curator: Option<String>,
}

/// A card as the state machine sees it: the facts its rules depend on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    /// The card's id: the control rule's draw is made from it.
    pub id: Uuid,
    pub status: AppealStatus,
    pub deadline: DateTime<Utc>,
    /// When the current deadline was set: the time left is counted from
    /// it (the "due soon" warning).
    pub term_start: DateTime<Utc>,
    pub control: Control,
    pub parts: Vec<Part>,
    pub pending: Option<Pending>,
    /// Extensions granted so far.
    pub extensions: u32,
    /// For a card in the SER plan, the planned date of the work.
    pub planned: Option<NaiveDate>,
    /// When a registered card is to reach its executor (the start of its
    /// working hours); `None` once delivered.
    pub delivery_at: Option<DateTime<Utc>>,
    /// The login of the lead executor's curator, if it has one.
    pub curator: Option<String>,
    /// Attachments on the card marked as proof of the work.
    pub proofs: u32,
    /// Whether the watcher has said the deadline passed, or is near.
    pub overdue_noted: bool,
    pub due_soon_noted: bool,
    /// An emergency-class card: always verified.
    pub emergency: bool,
    /// No name, no contact (003 §10): nobody to ask.
    pub anonymous: bool,
    /// The staff marked it contested (000 §4.2.1.2 б): verified.
    pub contested: bool,
    /// Under the direct control of the analytics staff (000 §4.1.4):
    /// repeated about the same problem, or escalated.
    pub direct_control: bool,
    /// While the citizen is being asked: who asks, how often so far, when
    /// next.
    pub verification: Option<Verifying>,
    /// When the executor finished the work: the moment of the closure
    /// proposal the contact centre accepted. Set on that approval, cleared
    /// when a closure is sent back for rework. Whether a card was closed on
    /// time is this against its deadline (reports), so the contact
    /// centre's decision and the citizen's verification do not count
    /// against the executor.
    pub resolved_at: Option<DateTime<Utc>>,
}

impl Card {
    /// The lead executor's part.
    /// A card just registered at `now`, its deadline from `class`, no
    /// executor on it yet.
    fn new(id: Uuid, class: DeadlineClass, now: DateTime<Utc>) -> Card {
        Card {
            id,
            status: AppealStatus::Registered,
            deadline: class.deadline(now),
            term_start: now,
            control: Control::Regular,
            parts: Vec::new(),
            pending: None,
            extensions: 0,
            planned: None,
            delivery_at: None,
            curator: None,
            proofs: 0,
            overdue_noted: false,
            due_soon_noted: false,
            emergency: class == DeadlineClass::Emergency,
            anonymous: false,
            contested: false,
            direct_control: false,
            verification: None,
            resolved_at: None,
        }
    }

    pub fn lead(&self) -> Option<&Part> {
        self.parts.iter().find(|p| p.lead)
    }

    /// The executors still on the card (those that said "not ours" are
    /// not), as assignments: to give the card's work to the same ones.
    pub fn assignments(&self) -> Vec<Assignment> {
        self.parts
            .iter()
            .filter(|p| p.declined.is_none())
            .map(|p| Assignment {
                executor: p.executor.clone(),
                lead: p.lead,
            })
            .collect()
    }

    /// The part of `executor` on this card, if it has one.
    pub fn part(&self, executor: &ExecutorCode) -> Option<&Part> {
        self.parts.iter().find(|p| &p.executor == executor)
    }

    /// Whether the deadline counts against the executor in this state: a
    /// card whose closure is being decided waits on the contact centre.
    pub fn deadline_runs(&self) -> bool {
        ON_THE_CLOCK.contains(&self.status)
    }

    /// Whether the card is past its deadline at `now`.
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.deadline_runs() && now > self.deadline
    }
}

/// Who acts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The server itself: delivery, the deadline watcher.
    System,
    User {
        login: String,
        role: Role,
        /// An executor user's organisation.
        executor: Option<ExecutorCode>,
    },
}

impl Actor {
    pub fn login(&self) -> &str {
        match self {
            Actor::System => "system",
            Actor::User { login, .. } => login,
        }
    }
}

/// What someone does to a card. As JSON (the API's steps):
/// `{"action": "accept", "responsible": "…"}`; the server's own steps
/// (deliver, mark_*) are refused to any user by the rules.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// The card reaches its executor (System, in the executor's hours).
    Deliver,
    /// The executor accepts: competence confirmed, the responsible person
    /// named (000 §3.1.1, §3.1.3).
    Accept {
        responsible: String,
    },
    Comment {
        text: String,
    },
    /// A question to the citizen (004 §5.1: an executor clarifies only
    /// through the service): the chat-bot carries it to a citizen who came
    /// through it; the contact centre reads it on the card for the others.
    AskCitizen {
        text: String,
    },
    /// The citizen's answer, as the chat-bot brought it (the server only).
    CitizenAnswer {
        #[serde(default)]
        text: Option<String>,
        #[serde(default)]
        files: Vec<Uuid>,
    },
    /// Files already stored on the card; proof of the work if `proof`.
    Attach {
        files: Vec<Uuid>,
        #[serde(default)]
        proof: bool,
    },
    RequestChange {
        reason: String,
        #[serde(default)]
        suggested: Option<ExecutorCode>,
    },
    /// One of several executors: not ours (001 §7.2).
    NotOurs {
        reason: String,
    },
    RequestExtension {
        until: DateTime<Utc>,
        reason: String,
        #[serde(default)]
        documents: Vec<Uuid>,
    },
    RequestLongTerm {
        planned: NaiveDate,
        reason: String,
        #[serde(default)]
        documents: Vec<Uuid>,
    },
    ProposeClosure {
        summary: String,
        #[serde(default)]
        proof: Vec<Uuid>,
    },
    /// The executor takes its pending request back.
    Withdraw,
    /// The pending request granted; a change of executor names the new
    /// ones. Approving a closure asks the control rule whether the citizen
    /// is to be asked: `record` is the lead executor's record for the
    /// rule's previous period, filled in by the server (never from a
    /// request's body).
    Approve {
        #[serde(default)]
        note: Option<String>,
        #[serde(default)]
        executors: Vec<Assignment>,
        #[serde(skip)]
        record: Option<TrackRecord>,
    },
    /// The pending request refused; a refused closure sends the card back
    /// for rework.
    Reject {
        reason: String,
    },
    /// The contact centre puts other executors on the card.
    Reassign {
        executors: Vec<Assignment>,
        reason: String,
    },
    /// The appeal is not to be considered (000 §2.5.2).
    Dismiss {
        reason: String,
    },
    /// The staff mark the card contested (000 §4.2.1.2 б): its closure
    /// will be verified.
    MarkContested {
        reason: String,
    },
    /// The analytics staff take the card under direct control (000
    /// §4.1.4): an escalated conflict, a problem that keeps coming back.
    DirectControl {
        reason: String,
    },
    /// The contact centre files a card the citizen sent without a subject
    /// ("не знаю") under a category of the classifier: its executor and
    /// deadline class are filled in by the server from the category (never
    /// from a request's body).
    Classify {
        category: Uuid,
        #[serde(skip)]
        executors: Vec<Assignment>,
        #[serde(skip)]
        class: Option<DeadlineClass>,
    },
    /// An attempt to ask the citizen, and what it came to: by an operator
    /// (a user), or by an automated call or the chat-bot (the server).
    Verify {
        result: AttemptResult,
        /// The citizen's rating of the work, 1 to 5.
        #[serde(default)]
        rating: Option<u8>,
        /// The citizen's words: why not confirmed (required from an
        /// operator), or a note.
        #[serde(default)]
        reason: Option<String>,
        #[serde(default = "operator_channel")]
        channel: Channel,
        /// The call that asked, if a call did.
        #[serde(default)]
        call: Option<Uuid>,
    },
    /// The deadline passed (System, the watcher).
    MarkOverdue,
    /// The deadline is near (System, the watcher).
    MarkDueSoon,
}

impl Action {
    /// The attachments the step carries (to be the card's own), and the
    /// executors it names (to be the classifier's).
    pub fn references(&self) -> (Vec<Uuid>, Vec<ExecutorCode>) {
        match self {
            Action::Attach { files, .. }
            | Action::RequestExtension {
                documents: files, ..
            }
            | Action::RequestLongTerm {
                documents: files, ..
            }
            | Action::ProposeClosure { proof: files, .. }
            | Action::CitizenAnswer { files, .. } => (files.clone(), Vec::new()),
            Action::RequestChange {
                suggested: Some(code),
                ..
            } => (Vec::new(), vec![code.clone()]),
            Action::Approve { executors, .. }
            | Action::Reassign { executors, .. }
            | Action::Classify { executors, .. } => (
                Vec::new(),
                executors.iter().map(|a| a.executor.clone()).collect(),
            ),
            _ => (Vec::new(), Vec::new()),
        }
    }

    /// The action's name, as the UI and the API spell it.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Deliver => "deliver",
            Action::Accept { .. } => "accept",
            Action::Comment { .. } => "comment",
            Action::AskCitizen { .. } => "ask_citizen",
            Action::CitizenAnswer { .. } => "citizen_answer",
            Action::Attach { .. } => "attach",
            Action::RequestChange { .. } => "request_change",
            Action::NotOurs { .. } => "not_ours",
            Action::RequestExtension { .. } => "request_extension",
            Action::RequestLongTerm { .. } => "request_long_term",
            Action::ProposeClosure { .. } => "propose_closure",
            Action::Withdraw => "withdraw",
            Action::Approve { .. } => "approve",
            Action::Reject { .. } => "reject",
            Action::Reassign { .. } => "reassign",
            Action::Classify { .. } => "classify",
            Action::Dismiss { .. } => "dismiss",
            Action::MarkContested { .. } => "mark_contested",
            Action::DirectControl { .. } => "direct_control",
            Action::Verify { .. } => "verify",
            Action::MarkOverdue => "mark_overdue",
            Action::MarkDueSoon => "mark_due_soon",
        }
    }
}

fn operator_channel() -> Channel {
    Channel::Operator
}

text_enum! {
    /// What a history entry records.
    EntryKind {
        Registered => "registered",
        Delivered => "delivered",
        Accepted => "accepted",
        Commented => "commented",
        /// A question to the citizen (the chat-bot carries it).
        AskedCitizen => "asked_citizen",
        /// The citizen's answer through the chat-bot.
        CitizenAnswered => "citizen_answered",
        Attached => "attached",
        ChangeRequested => "change_requested",
        NotOurs => "not_ours",
        ExtensionRequested => "extension_requested",
        LongTermRequested => "long_term_requested",
        ClosureProposed => "closure_proposed",
        Withdrawn => "withdrawn",
        /// The supervisor approved a second extension; the curator has not yet.
        AwaitingCurator => "awaiting_curator",
        /// The curator approved a second extension; the supervisor has not yet.
        CuratorApproved => "curator_approved",
        ExecutorChanged => "executor_changed",
        Extended => "extended",
        MovedToLongTerm => "moved_to_long_term",
        Closed => "closed",
        RequestRejected => "request_rejected",
        ReturnedForRework => "returned_for_rework",
        Reassigned => "reassigned",
        Dismissed => "dismissed",
        Overdue => "overdue",
        DueSoon => "due_soon",
        /// The closure was accepted; the citizen is to be asked.
        SentToVerification => "sent_to_verification",
        /// The citizen confirmed: closed.
        Confirmed => "confirmed",
        /// The citizen did not confirm: closed, a repeat appeal made.
        NotConfirmed => "not_confirmed",
        /// An attempt reached nobody; the next is planned.
        VerificationAttempt => "verification_attempt",
        /// Every attempt reached nobody: closed as not verified.
        NotVerified => "not_verified",
        MarkedContested => "marked_contested",
        DirectControl => "direct_control",
        /// A card sent without a subject filed under a category: its
        /// executors and deadline set.
        Classified => "classified",
    }
}

/// One entry of a card's history, as the state machine makes it; the store
/// adds the card, the author's login and the time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: EntryKind,
    pub from: AppealStatus,
    pub to: AppealStatus,
    /// The comment, reason or summary.
    pub text: Option<String>,
    /// Attachments the step carries (documents, proof).
    pub files: Vec<Uuid>,
    /// What else changed, for the history's reader.
    pub details: Details,
}

/// The changes an entry records beyond its state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Details {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline: Option<DeadlineChange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub executors: Option<Vec<Assignment>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub executor: Option<ExecutorCode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub responsible: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<Request>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub planned: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub proof: bool,
    /// The control rule's decision on an accepted closure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub control: Option<control::Decision>,
    /// An attempt to ask the citizen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<VerificationDetails>,
    /// The repeat appeal made when the citizen did not confirm (its
    /// registration number).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeat: Option<String>,
}

/// What a history entry says of an attempt to ask the citizen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VerificationDetails {
    pub channel: Channel,
    pub result: AttemptResult,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rating: Option<u8>,
    /// The attempt's number in its mode (1 for the first).
    pub attempt: u32,
    /// What follows an attempt that reached nobody: who asks next, when.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<Verifying>,
    /// The call that asked.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub call: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeadlineChange {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// Whom to tell of a step, at once (their consoles' inboxes and queues).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Notice {
    /// The executor's signed-in users.
    Executor(ExecutorCode),
    /// The contact centre's control staff.
    Supervisors,
    /// The contact centre's desk: its operators and supervisors (a card
    /// waiting in triage for one of them to classify).
    ContactCentre,
    /// A curator, by login: a second extension waits for them.
    Curator(String),
}

/// What an action did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub card: Card,
    pub entry: Entry,
    pub notices: Vec<Notice>,
    /// The citizen did not confirm: a repeat appeal is to be made, with
    /// this reason, for the same executor (000 §4.2).
    pub repeat: Option<String>,
}

/// Why an action is refused: a stable code for the UI's words and an
/// English message for logs and the API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{role} may not {action}")]
    Role { role: String, action: &'static str },
    #[error("cannot {action} a card that is {status}")]
    State {
        action: &'static str,
        status: AppealStatus,
    },
    #[error("the card is not this executor's")]
    NotYourCard,
    #[error("only the lead executor may {0}")]
    NotLead(&'static str),
    #[error("the lead executor asks for a change of executor instead")]
    LeadCannotDecline,
    #[error("this executor has already accepted the card")]
    AlreadyAccepted,
    #[error("{0} is required")]
    Missing(&'static str),
    #[error("{what} is longer than {max} characters")]
    TooLong { what: &'static str, max: usize },
    #[error("the new deadline must be later than the current one ({0})")]
    NotLater(DateTime<Utc>),
    #[error("the planned date must be after today ({0})")]
    PlannedNotFuture(NaiveDate),
    #[error("documents that justify the request are required")]
    NeedsDocuments,
    #[error("proof of the work (a photo or document marked as proof) is required")]
    NeedsProof,
    #[error("a request is already awaiting a decision")]
    AlreadyPending,
    #[error("no request is awaiting a decision")]
    NothingPending,
    #[error("the request was made by another executor")]
    NotYourRequest,
    #[error("a second extension needs the curator's approval, and {0} has no curator")]
    NoCurator(ExecutorCode),
    #[error("this extension waits for the curator, not for another supervisor")]
    AwaitingCurator,
    #[error("the curator has approved; this extension waits for a supervisor")]
    AwaitingSupervisor,
    #[error("the executors must be listed, each once, with exactly one lead")]
    Executors,
    #[error("the new executors are the same as the current ones")]
    SameExecutors,
    #[error("the card is not due for this ({0})")]
    NotDue(&'static str),
    #[error("the card is not ready to be delivered yet")]
    NotYetDeliverable,
    #[error("a rating is 1 to 5, not {0}")]
    Rating(u8),
    #[error("the card is marked so already")]
    AlreadyMarked,
    #[error("the card awaits its category: classify it first")]
    AwaitsCategory,
    #[error("the card has its category and executors already")]
    HasCategory,
}

impl Refusal {
    /// A stable name for the UI's translation.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Role { .. } => "role",
            Refusal::State { .. } => "state",
            Refusal::NotYourCard => "not_your_card",
            Refusal::NotLead(_) => "not_lead",
            Refusal::LeadCannotDecline => "lead_cannot_decline",
            Refusal::AlreadyAccepted => "already_accepted",
            Refusal::Missing(_) => "missing",
            Refusal::TooLong { .. } => "too_long",
            Refusal::NotLater(_) => "not_later",
            Refusal::PlannedNotFuture(_) => "planned_not_future",
            Refusal::NeedsDocuments => "needs_documents",
            Refusal::NeedsProof => "needs_proof",
            Refusal::AlreadyPending => "already_pending",
            Refusal::NothingPending => "nothing_pending",
            Refusal::NotYourRequest => "not_your_request",
            Refusal::NoCurator(_) => "no_curator",
            Refusal::AwaitingCurator => "awaiting_curator",
            Refusal::AwaitingSupervisor => "awaiting_supervisor",
            Refusal::Executors => "executors",
            Refusal::SameExecutors => "same_executors",
            Refusal::NotDue(_) => "not_due",
            Refusal::NotYetDeliverable => "not_yet_deliverable",
            Refusal::Rating(_) => "rating",
            Refusal::AlreadyMarked => "already_marked",
            Refusal::AwaitsCategory => "awaits_category",
            Refusal::HasCategory => "has_category",
        }
    }
}

/// The rules, with the calendar they count days by.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    calendar: WorkingCalendar,
    /// The share of a term left at which a card is "due soon" (0.25: the
    /// last quarter).
    due_soon_share: f64,
    /// Which accepted closures are verified.
    control: ControlRule,
    /// How the citizen is asked, how often.
    attempts: Attempts,
    /// Appeals at one address in one category within these days are about
    /// the same problem.
    same_problem_days: u32,
}

use AppealStatus as S;

/// The contact centre's time to classify a card sent without a subject.
pub const TRIAGE_CLASS: DeadlineClass = DeadlineClass::Short;

/// States in which the executor works the card.
const WORKING: &[AppealStatus] = &[S::InProgress, S::Rework];
/// States before the lead executor accepts.
const INCOMING: &[AppealStatus] = &[S::Registered, S::Delivered];
/// States in which an executor has the card and its deadline runs.
const ON_THE_CLOCK: &[AppealStatus] = &[
    S::Registered,
    S::Delivered,
    S::InProgress,
    S::Rework,
    S::LongTerm,
];
/// States before the contact centre has decided a closure.
const UNDECIDED: &[AppealStatus] = &[
    S::Registered,
    S::Delivered,
    S::InProgress,
    S::ClosureProposed,
    S::Rework,
    S::LongTerm,
];
/// States in which the card's life goes on.
const OPEN: &[AppealStatus] = &[
    S::Registered,
    S::Delivered,
    S::InProgress,
    S::ClosureProposed,
    S::Rework,
    S::LongTerm,
    S::Verification,
];

impl Default for Lifecycle {
    /// The default calendar (Monday to Friday 08:00–17:00, Europe/Kyiv)
    /// and "due soon" in the last quarter of a term.
    fn default() -> Self {
        Lifecycle::new(WorkingCalendar::default(), 0.25)
    }
}

impl Lifecycle {
    pub fn new(calendar: WorkingCalendar, due_soon_share: f64) -> Lifecycle {
        Lifecycle {
            calendar,
            due_soon_share: due_soon_share.clamp(0.0, 1.0),
            control: ControlRule::default(),
            attempts: Attempts::default(),
            same_problem_days: 30,
        }
    }

    /// The same rules with verification's settings: the control rule, the
    /// plan of attempts, the days within which appeals are about the same
    /// problem.
    pub fn with_verification(
        self,
        control: ControlRule,
        attempts: Attempts,
        same_problem_days: u32,
    ) -> Lifecycle {
        Lifecycle {
            control,
            attempts,
            same_problem_days,
            ..self
        }
    }

    pub fn same_problem_days(&self) -> u32 {
        self.same_problem_days
    }

    pub fn calendar(&self) -> &WorkingCalendar {
        &self.calendar
    }

    pub fn control(&self) -> &ControlRule {
        &self.control
    }

    pub fn attempts(&self) -> &Attempts {
        &self.attempts
    }

    /// A new card's life: its deadline from its class, counted from `now`,
    /// and delivered at once if its lead executor is at work, else marked to
    /// be delivered when work starts.
    pub fn register(
        &self,
        id: Uuid,
        executors: Vec<Assignment>,
        class: DeadlineClass,
        curator: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Outcome, Refusal> {
        check_assignments(&executors)?;
        let mut card = Card::new(id, class, now);
        card.curator = curator;
        self.put_on(&mut card, &executors, now);
        let details = Details {
            executors: Some(executors),
            deadline: Some(DeadlineChange {
                from: card.deadline,
                to: card.deadline,
            }),
            ..Details::default()
        };
        let notices = self.executors_of(&card);
        Ok(Outcome {
            entry: Entry {
                kind: EntryKind::Registered,
                from: S::Registered,
                to: card.status,
                text: None,
                files: Vec::new(),
                details,
            },
            card,
            notices,
            repeat: None,
        })
    }

    /// A card the citizen sent without a subject ("не знаю"): no executor
    /// yet; it waits in the contact centre's triage, which has
    /// [`TRIAGE_CLASS`]'s time to classify it. Not delivered to anyone.
    pub fn register_for_triage(&self, id: Uuid, now: DateTime<Utc>) -> Outcome {
        let card = Card::new(id, TRIAGE_CLASS, now);
        Outcome {
            entry: Entry {
                kind: EntryKind::Registered,
                from: S::Registered,
                to: S::Registered,
                text: None,
                files: Vec::new(),
                details: Details {
                    deadline: Some(DeadlineChange {
                        from: card.deadline,
                        to: card.deadline,
                    }),
                    ..Details::default()
                },
            },
            card,
            notices: vec![Notice::ContactCentre],
            repeat: None,
        }
    }

    /// Puts `executors` on the card, delivered at once if the lead is at
    /// work, else waiting for its hours.
    fn put_on(&self, card: &mut Card, executors: &[Assignment], now: DateTime<Utc>) {
        card.parts = executors
            .iter()
            .map(|a| Part {
                executor: a.executor.clone(),
                lead: a.lead,
                responsible: None,
                declined: None,
            })
            .collect();
        let lead = executors
            .iter()
            .find(|a| a.lead)
            .map(|a| a.executor.as_str());
        let schedule = self.calendar.executor(lead.unwrap_or_default());
        let at = self.calendar.next_working_moment(schedule, now);
        if at <= now {
            card.status = S::Delivered;
            card.delivery_at = None;
        } else {
            card.status = S::Registered;
            card.delivery_at = Some(at);
        }
    }

    /// The notices for every executor on the card that has not declined.
    fn executors_of(&self, card: &Card) -> Vec<Notice> {
        card.parts
            .iter()
            .filter(|p| p.declined.is_none())
            .map(|p| Notice::Executor(p.executor.clone()))
            .collect()
    }

    /// The warning point of the current term: "due soon" from here on.
    pub fn due_soon_at(&self, card: &Card) -> DateTime<Utc> {
        let term = (card.deadline - card.term_start).num_milliseconds().max(0) as f64;
        let left = chrono::TimeDelta::milliseconds((term * self.due_soon_share) as i64);
        card.deadline - left
    }

    /// The next thing time alone does to the card, and when: its delivery
    /// when its executor's hours start, the "due soon" warning, then
    /// "overdue" the first moment past the deadline. `None` when time can
    /// do nothing more to it (its life is over, the deadline does not run
    /// in its state, or both are noted). A card already past its deadline
    /// at `now` is overdue at once, with no warning before it. The deadline
    /// watcher sleeps until the earliest of these over all cards, then
    /// applies the action.
    pub fn next_due(&self, card: &Card, now: DateTime<Utc>) -> Option<(DateTime<Utc>, Action)> {
        let delivery = match card.status {
            S::Registered => card.delivery_at.map(|at| (at, Action::Deliver)),
            _ => None,
        };
        let deadline = if !card.deadline_runs() || card.overdue_noted {
            None
        } else {
            // The first instant after the deadline that the store keeps
            // (microseconds): "overdue the moment it passes".
            let overdue = card.deadline + chrono::TimeDelta::microseconds(1);
            if card.due_soon_noted || overdue <= now {
                Some((overdue, Action::MarkOverdue))
            } else {
                Some((self.due_soon_at(card), Action::MarkDueSoon))
            }
        };
        match (delivery, deadline) {
            (Some(d), Some(t)) => Some(if d.0 <= t.0 { d } else { t }),
            (d, t) => d.or(t),
        }
    }

    /// Applies `action` by `actor` at `now` to `card`.
    pub fn handle(
        &self,
        card: &Card,
        action: Action,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Outcome, Refusal> {
        let name = action.name();
        let status = card.status;
        let in_state = |states: &[AppealStatus]| match states.contains(&status) {
            true => Ok(()),
            false => Err(Refusal::State {
                action: name,
                status,
            }),
        };
        let role = match actor {
            Actor::System => None,
            Actor::User { role, .. } => Some(*role),
        };
        let refuse_role = || Refusal::Role {
            role: role.map_or("the system".to_string(), |r| r.to_string()),
            action: name,
        };
        let mut next = card.clone();
        let mut entry = Entry {
            kind: EntryKind::Commented,
            from: status,
            to: status,
            text: None,
            files: Vec::new(),
            details: Details::default(),
        };
        let mut notices: Vec<Notice> = Vec::new();
        let mut repeat = None;

        match action {
            Action::Deliver => {
                if role.is_some() {
                    return Err(refuse_role());
                }
                in_state(&[S::Registered])?;
                if card.parts.is_empty() {
                    return Err(Refusal::AwaitsCategory);
                }
                if card.delivery_at.is_some_and(|at| at > now) {
                    return Err(Refusal::NotYetDeliverable);
                }
                next.status = S::Delivered;
                next.delivery_at = None;
                entry.kind = EntryKind::Delivered;
                notices = self.executors_of(card);
            }
            Action::MarkOverdue | Action::MarkDueSoon => {
                if role.is_some() {
                    return Err(refuse_role());
                }
                let overdue = matches!(action, Action::MarkOverdue);
                if !card.deadline_runs() {
                    return Err(Refusal::State {
                        action: name,
                        status,
                    });
                }
                let (due, noted) = match overdue {
                    true => (card.is_overdue(now), card.overdue_noted),
                    false => (now >= self.due_soon_at(card), card.due_soon_noted),
                };
                if !due || noted {
                    return Err(Refusal::NotDue(name));
                }
                // Overdue says more than "due soon": no warning after it.
                next.due_soon_noted = true;
                next.overdue_noted |= overdue;
                entry.kind = if overdue {
                    EntryKind::Overdue
                } else {
                    EntryKind::DueSoon
                };
                entry.details.deadline = Some(DeadlineChange {
                    from: card.deadline,
                    to: card.deadline,
                });
                notices = self.executors_of(card);
                if overdue {
                    notices.push(Notice::Supervisors);
                }
            }
            Action::Accept { responsible } => {
                let part = self.executor_part(card, actor, name)?;
                in_state(ON_THE_CLOCK)?;
                if part.responsible.is_some() {
                    return Err(Refusal::AlreadyAccepted);
                }
                let responsible = text(&responsible, "the responsible person", MAX_NAME_CHARS)?;
                let executor = part.executor.clone();
                let lead = part.lead;
                for p in next.parts.iter_mut().filter(|p| p.executor == executor) {
                    p.responsible = Some(responsible.clone());
                }
                if lead && INCOMING.contains(&status) {
                    next.status = S::InProgress;
                    next.delivery_at = None;
                }
                entry.kind = EntryKind::Accepted;
                entry.details.executor = Some(executor);
                entry.details.responsible = Some(responsible);
                notices.push(Notice::Supervisors);
            }
            Action::Comment { text: body } => {
                match role {
                    Some(Role::Executor) => {
                        self.executor_part(card, actor, name)?;
                        in_state(OPEN)?;
                    }
                    Some(Role::Operator) => in_state(OPEN)?,
                    Some(Role::Supervisor) => {}
                    _ => return Err(refuse_role()),
                }
                entry.kind = EntryKind::Commented;
                entry.text = Some(text(&body, "a comment", MAX_TEXT_CHARS)?);
                notices = self.everyone_but(card, actor);
            }
            Action::AskCitizen { text: body } => {
                match role {
                    Some(Role::Executor) => {
                        self.executor_part(card, actor, name)?;
                        in_state(OPEN)?;
                    }
                    Some(Role::Operator | Role::Supervisor) => in_state(OPEN)?,
                    _ => return Err(refuse_role()),
                }
                entry.kind = EntryKind::AskedCitizen;
                entry.text = Some(text(&body, "a question", MAX_TEXT_CHARS)?);
                notices = self.everyone_but(card, actor);
            }
            Action::CitizenAnswer { text: body, files } => {
                if role.is_some() {
                    return Err(refuse_role());
                }
                in_state(OPEN)?;
                let body = body.filter(|b| !b.trim().is_empty());
                if body.is_none() && files.is_empty() {
                    return Err(Refusal::Missing("an answer"));
                }
                entry.kind = EntryKind::CitizenAnswered;
                entry.text = body
                    .map(|b| text(&b, "the answer", MAX_TEXT_CHARS))
                    .transpose()?;
                entry.files = files;
                notices = self.everyone_but(card, actor);
            }
            Action::Attach { files, proof } => {
                match role {
                    Some(Role::Executor) => {
                        self.executor_part(card, actor, name)?;
                        in_state(OPEN)?;
                    }
                    Some(Role::Operator | Role::Supervisor) if !proof => in_state(OPEN)?,
                    _ => return Err(refuse_role()),
                }
                if files.is_empty() {
                    return Err(Refusal::Missing("a file"));
                }
                if proof {
                    next.proofs += files.len() as u32;
                }
                entry.kind = EntryKind::Attached;
                entry.files = files;
                entry.details.proof = proof;
                notices = self.everyone_but(card, actor);
            }
            Action::RequestChange { reason, suggested } => {
                let part = self.lead_part(card, actor, name)?;
                in_state(&[S::Registered, S::Delivered, S::InProgress, S::Rework])?;
                let reason = text(&reason, "a reason", MAX_TEXT_CHARS)?;
                let request = Request::ChangeExecutor { suggested };
                self.file_request(&mut next, part, request, now)?;
                entry.kind = EntryKind::ChangeRequested;
                entry.text = Some(reason);
                entry.details.request = next.pending.as_ref().map(|p| p.request.clone());
                entry.details.due = next.pending.as_ref().map(|p| p.due);
                notices.push(Notice::Supervisors);
            }
            Action::NotOurs { reason } => {
                let part = self.executor_part(card, actor, name)?;
                if part.lead {
                    return Err(Refusal::LeadCannotDecline);
                }
                in_state(ON_THE_CLOCK)?;
                let reason = text(&reason, "a reason", MAX_TEXT_CHARS)?;
                let executor = part.executor.clone();
                for p in next.parts.iter_mut().filter(|p| p.executor == executor) {
                    p.declined = Some(reason.clone());
                }
                entry.kind = EntryKind::NotOurs;
                entry.text = Some(reason);
                entry.details.executor = Some(executor);
                notices = vec![Notice::Supervisors];
                notices.extend(self.executors_of(&next));
            }
            Action::RequestExtension {
                until,
                reason,
                documents,
            } => {
                let part = self.lead_part(card, actor, name)?;
                in_state(WORKING)?;
                let reason = text(&reason, "a justification", MAX_TEXT_CHARS)?;
                if until <= card.deadline {
                    return Err(Refusal::NotLater(card.deadline));
                }
                if documents.is_empty() {
                    return Err(Refusal::NeedsDocuments);
                }
                if card.extensions >= 1 && card.curator.is_none() {
                    return Err(Refusal::NoCurator(part.executor.clone()));
                }
                self.file_request(&mut next, part, Request::Extension { until }, now)?;
                entry.kind = EntryKind::ExtensionRequested;
                entry.text = Some(reason);
                entry.files = documents;
                entry.details.request = Some(Request::Extension { until });
                entry.details.due = next.pending.as_ref().map(|p| p.due);
                notices.push(Notice::Supervisors);
                if let Some(curator) = card.curator.as_ref().filter(|_| card.extensions >= 1) {
                    notices.push(Notice::Curator(curator.clone()));
                }
            }
            Action::RequestLongTerm {
                planned,
                reason,
                documents,
            } => {
                let part = self.lead_part(card, actor, name)?;
                in_state(WORKING)?;
                let reason = text(&reason, "a justification", MAX_TEXT_CHARS)?;
                let today = self.calendar.date(now);
                if planned <= today {
                    return Err(Refusal::PlannedNotFuture(today));
                }
                if documents.is_empty() {
                    return Err(Refusal::NeedsDocuments);
                }
                self.file_request(&mut next, part, Request::LongTerm { planned }, now)?;
                entry.kind = EntryKind::LongTermRequested;
                entry.text = Some(reason);
                entry.files = documents;
                entry.details.request = Some(Request::LongTerm { planned });
                entry.details.planned = Some(planned);
                entry.details.due = next.pending.as_ref().map(|p| p.due);
                notices.push(Notice::Supervisors);
            }
            Action::ProposeClosure { summary, proof } => {
                let part = self.lead_part(card, actor, name)?;
                in_state(&[S::InProgress, S::Rework, S::LongTerm])?;
                let summary = text(&summary, "what was done", MAX_TEXT_CHARS)?;
                if proof.is_empty() && card.proofs == 0 {
                    return Err(Refusal::NeedsProof);
                }
                self.file_request(&mut next, part, Request::Closure, now)?;
                next.status = S::ClosureProposed;
                next.proofs += proof.len() as u32;
                entry.kind = EntryKind::ClosureProposed;
                entry.text = Some(summary);
                entry.files = proof;
                entry.details.proof = true;
                entry.details.due = next.pending.as_ref().map(|p| p.due);
                notices.push(Notice::Supervisors);
            }
            Action::Withdraw => {
                let part = self.executor_part(card, actor, name)?;
                let pending = card.pending.as_ref().ok_or(Refusal::NothingPending)?;
                if pending.by != part.executor {
                    return Err(Refusal::NotYourRequest);
                }
                next.status = pending.return_to;
                next.pending = None;
                entry.kind = EntryKind::Withdrawn;
                entry.details.request = Some(pending.request.clone());
                notices.push(Notice::Supervisors);
            }
            Action::Approve {
                note,
                executors,
                record,
            } => {
                let pending = card.pending.as_ref().ok_or(Refusal::NothingPending)?;
                let curator = self.is_curator(card, actor);
                let supervisor = role == Some(Role::Supervisor);
                if !supervisor && !curator {
                    return Err(refuse_role());
                }
                let note = note
                    .filter(|n| !n.trim().is_empty())
                    .map(|n| text(&n, "a note", MAX_TEXT_CHARS))
                    .transpose()?;
                entry.text = note;
                entry.details.request = Some(pending.request.clone());
                if pending.needs_curator {
                    // Both must approve, in either order; a supervisor acting
                    // as curator counts once.
                    let mut approval = pending.clone();
                    if curator && approval.approved_by_curator.is_none() {
                        approval.approved_by_curator = Some(actor.login().to_string());
                    } else if supervisor && approval.approved_by_supervisor.is_none() {
                        approval.approved_by_supervisor = Some(actor.login().to_string());
                    } else {
                        return Err(match approval.approved_by_curator.is_some() {
                            true => Refusal::AwaitingSupervisor,
                            false => Refusal::AwaitingCurator,
                        });
                    }
                    if approval.approved_by_curator.is_none()
                        || approval.approved_by_supervisor.is_none()
                    {
                        entry.kind = match approval.approved_by_curator.is_some() {
                            true => EntryKind::CuratorApproved,
                            false => EntryKind::AwaitingCurator,
                        };
                        notices.push(Notice::Supervisors);
                        if let Some(login) = card.curator.clone() {
                            notices.push(Notice::Curator(login));
                        }
                        next.pending = Some(approval);
                        return Ok(Outcome {
                            card: next,
                            entry,
                            notices,
                            repeat: None,
                        });
                    }
                } else if !supervisor {
                    return Err(refuse_role());
                }
                next.pending = None;
                match &pending.request {
                    Request::ChangeExecutor { .. } => {
                        check_assignments(&executors)?;
                        if same_executors(card, &executors) {
                            return Err(Refusal::SameExecutors);
                        }
                        notices = self.executors_of(card);
                        self.put_on(&mut next, &executors, now);
                        next.due_soon_noted = false;
                        notices.extend(self.executors_of(&next));
                        entry.kind = EntryKind::ExecutorChanged;
                        entry.details.executors = Some(executors);
                    }
                    Request::Extension { until } => {
                        next.status = pending.return_to;
                        self.move_deadline(&mut next, *until, now, &mut entry);
                        next.extensions += 1;
                        next.control = Control::Additional;
                        entry.kind = EntryKind::Extended;
                        notices = self.executors_of(card);
                    }
                    Request::LongTerm { planned } => {
                        next.status = S::LongTerm;
                        next.planned = Some(*planned);
                        let end = self.end_of_day(*planned);
                        self.move_deadline(&mut next, end, now, &mut entry);
                        next.control = Control::LongTerm;
                        entry.kind = EntryKind::MovedToLongTerm;
                        entry.details.planned = Some(*planned);
                        notices = self.executors_of(card);
                    }
                    Request::Closure => {
                        let facts = control::CardFacts {
                            id: card.id,
                            emergency: card.emergency,
                            contested: card.contested,
                            anonymous: card.anonymous,
                        };
                        let decision = self.control.decide(facts, record.as_ref());
                        next.resolved_at = Some(pending.made_at);
                        if decision.verify {
                            next.status = S::Verification;
                            next.verification = Some(self.attempts.start(&self.calendar, now));
                            entry.kind = EntryKind::SentToVerification;
                        } else {
                            next.status = S::Closed;
                            entry.kind = EntryKind::Closed;
                        }
                        entry.details.control = Some(decision);
                        notices = self.executors_of(card);
                    }
                }
            }
            Action::Reject { reason } => {
                let pending = card.pending.as_ref().ok_or(Refusal::NothingPending)?;
                let curator = pending.needs_curator && self.is_curator(card, actor);
                if role != Some(Role::Supervisor) && !curator {
                    return Err(refuse_role());
                }
                let reason = text(&reason, "a reason", MAX_TEXT_CHARS)?;
                next.pending = None;
                entry.text = Some(reason);
                entry.details.request = Some(pending.request.clone());
                if pending.request == Request::Closure {
                    next.status = S::Rework;
                    next.resolved_at = None;
                    entry.kind = EntryKind::ReturnedForRework;
                } else {
                    next.status = pending.return_to;
                    entry.kind = EntryKind::RequestRejected;
                }
                notices = self.executors_of(card);
            }
            Action::Reassign { executors, reason } => {
                if role != Some(Role::Supervisor) {
                    return Err(refuse_role());
                }
                in_state(ON_THE_CLOCK)?;
                if card.parts.is_empty() {
                    return Err(Refusal::AwaitsCategory);
                }
                if card.pending.is_some() {
                    return Err(Refusal::AlreadyPending);
                }
                let reason = text(&reason, "a reason", MAX_TEXT_CHARS)?;
                check_assignments(&executors)?;
                if same_executors(card, &executors) {
                    return Err(Refusal::SameExecutors);
                }
                notices = self.executors_of(card);
                self.put_on(&mut next, &executors, now);
                if status == S::LongTerm {
                    // Still in the plan: the new executor works to its date.
                    next.status = S::LongTerm;
                    next.delivery_at = None;
                }
                notices.extend(self.executors_of(&next));
                entry.kind = EntryKind::Reassigned;
                entry.text = Some(reason);
                entry.details.executors = Some(executors);
            }
            Action::Classify {
                executors, class, ..
            } => {
                if !matches!(role, Some(Role::Operator | Role::Supervisor)) {
                    return Err(refuse_role());
                }
                if !card.parts.is_empty() {
                    return Err(Refusal::HasCategory);
                }
                in_state(&[S::Registered])?;
                check_assignments(&executors)?;
                let class = class.ok_or(Refusal::Executors)?;
                // The citizen's term runs from the registration, not from
                // the classifying.
                next.deadline = class.deadline(card.term_start);
                next.emergency = class == DeadlineClass::Emergency;
                next.overdue_noted = false;
                next.due_soon_noted = false;
                self.put_on(&mut next, &executors, now);
                notices = self.executors_of(&next);
                entry.kind = EntryKind::Classified;
                entry.details.executors = Some(executors);
                entry.details.deadline = Some(DeadlineChange {
                    from: card.deadline,
                    to: next.deadline,
                });
            }
            Action::Dismiss { reason } => {
                if role != Some(Role::Supervisor) {
                    return Err(refuse_role());
                }
                in_state(INCOMING)?;
                let reason = text(&reason, "a reason", MAX_TEXT_CHARS)?;
                next.status = S::Rejected;
                next.pending = None;
                next.delivery_at = None;
                entry.kind = EntryKind::Dismissed;
                entry.text = Some(reason);
                notices = self.executors_of(card);
            }
            Action::MarkContested { reason } => {
                if role != Some(Role::Supervisor) {
                    return Err(refuse_role());
                }
                // A contested closure is verified: marked before the
                // closure is decided.
                in_state(UNDECIDED)?;
                entry.text = Some(raise(&mut next.contested, &reason)?);
                entry.kind = EntryKind::MarkedContested;
                notices = self.everyone_but(card, actor);
            }
            Action::DirectControl { reason } => {
                // The server too: a problem that keeps coming back.
                if role.is_some_and(|r| r != Role::Supervisor) {
                    return Err(refuse_role());
                }
                in_state(OPEN)?;
                entry.text = Some(raise(&mut next.direct_control, &reason)?);
                entry.kind = EntryKind::DirectControl;
                notices = self.everyone_but(card, actor);
            }
            Action::Verify {
                result,
                rating,
                reason,
                channel,
                call,
            } => {
                // An operator asks by phone; the server records its own
                // calls and the chat-bot's answers.
                let by_server = channel != Channel::Operator;
                match role {
                    None if by_server => {}
                    Some(Role::Operator | Role::Supervisor) if !by_server => {}
                    _ => return Err(refuse_role()),
                }
                in_state(&[S::Verification])?;
                let Some(current) = card.verification.clone() else {
                    return Err(Refusal::State {
                        action: name,
                        status,
                    });
                };
                // An automated call's answer for a card the operators have
                // taken over comes too late.
                if channel == Channel::Automated && current.mode != Mode::Automated {
                    return Err(Refusal::NotDue(name));
                }
                if let Some(r) = rating.filter(|r| !(1..=5).contains(r)) {
                    return Err(Refusal::Rating(r));
                }
                let reason = reason
                    .filter(|r| !r.trim().is_empty())
                    .map(|r| text(&r, "the citizen's reason", MAX_TEXT_CHARS))
                    .transpose()?;
                let mut details = VerificationDetails {
                    channel,
                    result,
                    rating: rating.filter(|_| result.answered()),
                    attempt: current.attempts + 1,
                    next: None,
                    call,
                };
                match result {
                    AttemptResult::Confirmed => {
                        next.status = S::Closed;
                        next.verification = None;
                        entry.kind = EntryKind::Confirmed;
                        notices = self.executors_of(card);
                    }
                    AttemptResult::NotConfirmed => {
                        // The citizen's reason goes to the executor with the
                        // repeat appeal: an operator must write it down.
                        if reason.is_none() && !by_server {
                            return Err(Refusal::Missing("the citizen's reason"));
                        }
                        next.status = S::Closed;
                        next.verification = None;
                        entry.kind = EntryKind::NotConfirmed;
                        repeat = Some(reason.clone().unwrap_or_default());
                        notices = self.executors_of(card);
                        notices.push(Notice::Supervisors);
                    }
                    AttemptResult::NoAnswer
                    | AttemptResult::Busy
                    | AttemptResult::NoKey
                    | AttemptResult::Failed => {
                        match self.attempts.after_no_answer(&self.calendar, &current, now) {
                            Next::Retry(v) | Next::ToOperators(v) => {
                                details.next = Some(v.clone());
                                next.verification = Some(v);
                                entry.kind = EntryKind::VerificationAttempt;
                            }
                            Next::GiveUp => {
                                next.status = S::Closed;
                                next.verification = None;
                                entry.kind = EntryKind::NotVerified;
                                notices = self.executors_of(card);
                                notices.push(Notice::Supervisors);
                            }
                        }
                    }
                }
                entry.text = reason;
                entry.details.verification = Some(details);
            }
        }
        entry.to = next.status;
        dedup(&mut notices);
        Ok(Outcome {
            card: next,
            entry,
            notices,
            repeat,
        })
    }

    /// The acting executor's part on the card, or why it has none.
    fn executor_part<'c>(
        &self,
        card: &'c Card,
        actor: &Actor,
        action: &'static str,
    ) -> Result<&'c Part, Refusal> {
        let Actor::User { role, executor, .. } = actor else {
            return Err(Refusal::Role {
                role: "the system".to_string(),
                action,
            });
        };
        if *role != Role::Executor {
            return Err(Refusal::Role {
                role: role.to_string(),
                action,
            });
        }
        executor
            .as_ref()
            .and_then(|code| card.part(code))
            .filter(|p| p.declined.is_none())
            .ok_or(Refusal::NotYourCard)
    }

    /// The acting executor's part, which must be the lead's (requests and
    /// closure are the lead executor's to make).
    fn lead_part<'c>(
        &self,
        card: &'c Card,
        actor: &Actor,
        action: &'static str,
    ) -> Result<&'c Part, Refusal> {
        let part = self.executor_part(card, actor, action)?;
        match part.lead {
            true => Ok(part),
            false => Err(Refusal::NotLead(action)),
        }
    }

    /// Whether `actor` is the curator of the card's lead executor.
    fn is_curator(&self, card: &Card, actor: &Actor) -> bool {
        matches!(actor, Actor::User { .. }) && card.curator.as_deref() == Some(actor.login())
    }

    /// Everyone concerned with a card but the actor's own side.
    fn everyone_but(&self, card: &Card, actor: &Actor) -> Vec<Notice> {
        let mut notices = vec![Notice::Supervisors];
        let own = match actor {
            Actor::User { executor, .. } => executor.clone(),
            Actor::System => None,
        };
        notices.extend(self.executors_of(card).into_iter().filter(|n| {
            own.as_ref()
                .is_none_or(|o| *n != Notice::Executor(o.clone()))
        }));
        notices
    }

    /// Files a request on `card`: one at a time, due by the end of the
    /// contact centre's next working day.
    fn file_request(
        &self,
        card: &mut Card,
        part: &Part,
        request: Request,
        now: DateTime<Utc>,
    ) -> Result<(), Refusal> {
        if card.pending.is_some() {
            return Err(Refusal::AlreadyPending);
        }
        let needs_curator = matches!(request, Request::Extension { .. }) && card.extensions >= 1;
        card.pending = Some(Pending {
            request,
            by: part.executor.clone(),
            made_at: now,
            due: self
                .calendar
                .end_of_next_working_day(self.calendar.centre(), now),
            return_to: card.status,
            needs_curator,
            approved_by_supervisor: None,
            approved_by_curator: None,
        });
        Ok(())
    }

    /// Moves the deadline (an extension, the SER plan): the term and its
    /// warnings start again.
    fn move_deadline(
        &self,
        card: &mut Card,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
        entry: &mut Entry,
    ) {
        entry.details.deadline = Some(DeadlineChange {
            from: card.deadline,
            to,
        });
        card.deadline = to;
        card.term_start = now;
        card.overdue_noted = false;
        card.due_soon_noted = false;
    }

    /// The end of a local day (its last moment before midnight).
    fn end_of_day(&self, date: NaiveDate) -> DateTime<Utc> {
        let next = date.checked_add_days(Days::new(1)).unwrap_or(date);
        self.calendar.moment(next, 0) - chrono::TimeDelta::seconds(1)
    }
}

text_enum! {
    /// The tabs of an executor's inbox (a card may be under several: in
    /// progress and overdue).
    Tab {
        /// Not yet accepted by this executor.
        New => "new",
        /// Accepted and worked (or sent back for rework).
        InProgress => "in_progress",
        /// Past its deadline.
        Overdue => "overdue",
        /// In the last share of its term.
        DueSoon => "due_soon",
        /// A request or a closure proposal awaits the contact centre, or
        /// the citizen is being asked.
        Awaiting => "awaiting",
        /// In the SER plan.
        LongTerm => "long_term",
        /// Closed or dismissed.
        Closed => "closed",
    }
}

impl Lifecycle {
    /// The tabs `card` is under for `executor` at `now`.
    pub fn tabs(&self, card: &Card, executor: &ExecutorCode, now: DateTime<Utc>) -> Vec<Tab> {
        let mut tabs = Vec::new();
        let accepted = card.part(executor).is_some_and(|p| p.responsible.is_some());
        match card.status {
            S::Closed | S::Rejected => return vec![Tab::Closed],
            S::Registered | S::Delivered => tabs.push(Tab::New),
            S::LongTerm => tabs.push(Tab::LongTerm),
            S::InProgress | S::Rework if !accepted => tabs.push(Tab::New),
            S::InProgress | S::Rework => tabs.push(Tab::InProgress),
            S::ClosureProposed => {}
            // The contact centre asks the citizen: the executor waits.
            S::Verification => tabs.push(Tab::Awaiting),
        }
        if card.pending.is_some() {
            tabs.push(Tab::Awaiting);
        }
        if card.is_overdue(now) {
            tabs.push(Tab::Overdue);
        } else if card.deadline_runs() && now >= self.due_soon_at(card) {
            tabs.push(Tab::DueSoon);
        }
        tabs
    }
}

impl Lifecycle {
    /// The steps `actor` may take on `card` at `now` (the names of
    /// [`Action::name`]), for the console to offer: each tried with sample
    /// fields. A step refused only for its fields (a missing reason, a date
    /// too early, no documents yet) is offered; the form then says what it
    /// needs. The server's own steps are never offered.
    pub fn available(&self, card: &Card, actor: &Actor, now: DateTime<Utc>) -> Vec<&'static str> {
        let some_text = || "-".to_string();
        let file = vec![Uuid::nil()];
        let executors = card.assignments();
        let samples = [
            Action::Accept {
                responsible: some_text(),
            },
            Action::Comment { text: some_text() },
            Action::AskCitizen { text: some_text() },
            Action::Attach {
                files: file.clone(),
                proof: false,
            },
            Action::RequestChange {
                reason: some_text(),
                suggested: None,
            },
            Action::NotOurs {
                reason: some_text(),
            },
            Action::RequestExtension {
                until: card.deadline.max(now) + chrono::TimeDelta::days(30),
                reason: some_text(),
                documents: file.clone(),
            },
            Action::RequestLongTerm {
                planned: (now + chrono::TimeDelta::days(400)).date_naive(),
                reason: some_text(),
                documents: file.clone(),
            },
            Action::ProposeClosure {
                summary: some_text(),
                proof: file,
            },
            Action::Withdraw,
            Action::Approve {
                note: None,
                executors: Vec::new(),
                record: None,
            },
            Action::Reject {
                reason: some_text(),
            },
            Action::Reassign {
                executors,
                reason: some_text(),
            },
            Action::Dismiss {
                reason: some_text(),
            },
            Action::MarkContested {
                reason: some_text(),
            },
            Action::DirectControl {
                reason: some_text(),
            },
            Action::Classify {
                category: Uuid::nil(),
                executors: ExecutorCode::parse("sample")
                    .map(|executor| {
                        vec![Assignment {
                            executor,
                            lead: true,
                        }]
                    })
                    .unwrap_or_default(),
                class: Some(TRIAGE_CLASS),
            },
            Action::Verify {
                result: AttemptResult::Confirmed,
                rating: None,
                reason: None,
                channel: Channel::Operator,
                call: None,
            },
        ];
        samples
            .into_iter()
            .filter(
                |action| match self.handle(card, action.clone(), actor, now) {
                    Ok(_) => true,
                    // No curator for a second extension: still the
                    // executor's step to ask for; the refusal says so.
                    Err(refusal) => {
                        refusal.is_about_fields() || matches!(refusal, Refusal::NoCurator(_))
                    }
                },
            )
            .map(|action| action.name())
            .collect()
    }
}

impl Refusal {
    /// Whether the step could be taken with other fields: the refusal is
    /// about what was sent (the API's 422), not about who sends it or the
    /// card's state.
    pub fn is_about_fields(&self) -> bool {
        matches!(
            self,
            Refusal::Missing(_)
                | Refusal::TooLong { .. }
                | Refusal::NotLater(_)
                | Refusal::PlannedNotFuture(_)
                | Refusal::NeedsDocuments
                | Refusal::NeedsProof
                | Refusal::Executors
                | Refusal::SameExecutors
                | Refusal::Rating(_)
        )
    }
}

/// Raises a mark on the card (contested, direct control) for `reason`;
/// the reason, checked.
fn raise(flag: &mut bool, reason: &str) -> Result<String, Refusal> {
    if *flag {
        return Err(Refusal::AlreadyMarked);
    }
    let reason = text(reason, "a reason", MAX_TEXT_CHARS)?;
    *flag = true;
    Ok(reason)
}

/// A text a step needs: trimmed, not blank, not too long.
fn text(body: &str, what: &'static str, max: usize) -> Result<String, Refusal> {
    let body = body.trim();
    if body.is_empty() {
        return Err(Refusal::Missing(what));
    }
    if body.chars().count() > max {
        return Err(Refusal::TooLong { what, max });
    }
    Ok(body.to_string())
}

/// Executors for a card: at least one, each once, exactly one lead.
fn check_assignments(executors: &[Assignment]) -> Result<(), Refusal> {
    let leads = executors.iter().filter(|a| a.lead).count();
    let mut codes: Vec<&ExecutorCode> = executors.iter().map(|a| &a.executor).collect();
    codes.sort();
    codes.dedup();
    match leads == 1 && codes.len() == executors.len() {
        true => Ok(()),
        false => Err(Refusal::Executors),
    }
}

/// Whether `executors` are the card's executors already, lead included.
fn same_executors(card: &Card, executors: &[Assignment]) -> bool {
    let mut now: Vec<(&ExecutorCode, bool)> =
        card.parts.iter().map(|p| (&p.executor, p.lead)).collect();
    let mut new: Vec<(&ExecutorCode, bool)> =
        executors.iter().map(|a| (&a.executor, a.lead)).collect();
    now.sort();
    new.sort();
    now == new
}

/// Drops repeated notices, keeping the first of each.
fn dedup(notices: &mut Vec<Notice>) {
    let mut seen = std::collections::HashSet::new();
    notices.retain(|n| seen.insert(n.clone()));
}

#[cfg(test)]
#[path = "lifecycle_tests.rs"]
mod tests;
