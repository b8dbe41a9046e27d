//! The deadline watcher: the one task that applies what time alone does to
//! cards (delivery when an executor's hours start, "due soon", "overdue"),
//! the moment it is due, from the deadlines stored, so a restart loses
//! nothing.
//!
//! The decisions are [`Lifecycle::next_due`]'s and [`Lifecycle::handle`]'s;
//! [`watch_once`] applies those due at a given moment and says when to look
//! again (tested with chosen moments, no clock); [`spawn`] runs it on the
//! real clock, woken early by [`WatcherHandle::poke`] when a step may have
//! brought a moment nearer (a registration, a moved deadline).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, watch};
use tracing::{debug, warn};
use uuid::Uuid;

use super::lifecycle::{Action, Actor, EntryKind, Lifecycle, Notice};
use super::lifecycle_store::Author;
use crate::store::{Store, StoreError};

/// The longest sleep: cards changed by hand in the database, or a clock
/// that jumped, are noticed within this.
const LONGEST_SLEEP: Duration = Duration::from_secs(60);

/// A step the watcher took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub appeal: Uuid,
    pub registration_number: String,
    pub step: EntryKind,
    pub status: super::record::AppealStatus,
    pub notices: Vec<Notice>,
}

/// Applies to every card what is due at `now` (each card as far as it goes:
/// a card seen late is delivered and marked overdue in one pass), and
/// returns the steps taken and the next moment something falls due.
pub async fn watch_once(
    store: &Store,
    rules: &Lifecycle,
    now: DateTime<Utc>,
) -> Result<(Vec<Applied>, Option<DateTime<Utc>>), StoreError> {
    let mut applied = Vec::new();
    let mut next: Option<DateTime<Utc>> = None;
    for mut stored in store.cards_to_watch().await? {
        // A handful of steps at most (deliver, warn, overdue).
        for _ in 0..4 {
            let Some((at, action)) = rules.next_due(&stored.card, now) else {
                break;
            };
            if at > now {
                next = Some(next.map_or(at, |n| n.min(at)));
                break;
            }
            match step(store, rules, &stored, action, now).await {
                Ok(Some(done)) => {
                    stored.card = done.0;
                    stored.revision += 1;
                    applied.push(done.1);
                }
                // Changed by someone else meanwhile, or refused: the next
                // pass reads it afresh.
                Ok(None) => break,
                Err(e) => return Err(e),
            }
        }
    }
    Ok((applied, next))
}

/// One system step on a stored card; `None` if the card changed meanwhile
/// or the rules refused it (the next pass sees the card as it is).
async fn step(
    store: &Store,
    rules: &Lifecycle,
    stored: &super::lifecycle_store::StoredCard,
    action: Action,
    now: DateTime<Utc>,
) -> Result<Option<(super::lifecycle::Card, Applied)>, StoreError> {
    let outcome = match rules.handle(&stored.card, action, &Actor::System, now) {
        Ok(outcome) => outcome,
        Err(refusal) => {
            debug!(number = %stored.registration_number, %refusal, "watcher step refused");
            return Ok(None);
        }
    };
    match store
        .write_step(stored.id, stored.revision, &outcome, &Author::system(), now)
        .await
    {
        Ok(()) => Ok(Some((
            outcome.card.clone(),
            Applied {
                appeal: stored.id,
                registration_number: stored.registration_number.clone(),
                step: outcome.entry.kind,
                status: outcome.card.status,
                notices: outcome.notices,
            },
        ))),
        Err(StoreError::Stale { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Wakes the watcher early: a step may have brought a moment nearer.
#[derive(Clone, Default)]
pub struct WatcherHandle(Arc<Notify>);

impl WatcherHandle {
    pub fn poke(&self) {
        self.0.notify_one();
    }
}

/// Runs the watcher on the real clock until `shutdown`; each step is told
/// through `tell` (the consoles).
pub fn spawn(
    store: Store,
    rules: Arc<Lifecycle>,
    tell: impl Fn(&Applied) + Send + 'static,
    mut shutdown: watch::Receiver<bool>,
) -> WatcherHandle {
    let handle = WatcherHandle::default();
    let woken = handle.0.clone();
    tokio::spawn(async move {
        loop {
            let now = Utc::now();
            let sleep = match watch_once(&store, &rules, now).await {
                Ok((applied, next)) => {
                    for a in &applied {
                        tell(a);
                    }
                    // A moment already past (the pass took time) means at once.
                    next.map(|at| (at - Utc::now()).to_std().unwrap_or(Duration::ZERO))
                        .unwrap_or(LONGEST_SLEEP)
                        .min(LONGEST_SLEEP)
                }
                Err(e) => {
                    warn!(error = %e, "the deadline watcher cannot read or write cards");
                    LONGEST_SLEEP
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(sleep) => {}
                _ = woken.notified() => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
        }
    });
    handle
}
