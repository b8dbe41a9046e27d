//! `hotline appeal …`: a card's state, deadline, executors and history, and
//! lists of cards, for scripts and support; times on the city's clock. The
//! citizen's personal data stays in the console, where every opening is
//! logged. The work is in `hotline::appeal::lifecycle_store`.

use clap::Subcommand;
use hotline::appeal::AppealStatus;
use hotline::config::Settings;

use crate::with_store;

#[derive(Subcommand)]
pub enum AppealAction {
    /// One card: its state, deadline, control, executors, pending request
    /// and every step of its history.
    Show {
        /// The registration number, with or without dashes.
        number: String,
    },
    /// Cards by deadline, one a line.
    List {
        /// Only this executor's (its code in the classifier).
        #[arg(long)]
        executor: Option<String>,
        /// Only cards in this state (registered, delivered, in_progress,
        /// closure_proposed, rework, long_term, closed, rejected).
        #[arg(long)]
        state: Option<String>,
        /// Only cards past their deadline.
        #[arg(long)]
        overdue: bool,
    },
}

/// `hotline appeal ...`.
pub async fn run(settings: &Settings, action: AppealAction) -> anyhow::Result<()> {
    let rules = settings.appeals.lifecycle()?;
    let tz = rules.calendar().time_zone();
    let local = |t: chrono::DateTime<chrono::Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M");
    with_store(settings, async |store| {
        match action {
            AppealAction::Show { number } => {
                let Some(record) = store.appeal_by_registration_number(&number).await? else {
                    anyhow::bail!("no appeal {number}");
                };
                let stored = store
                    .appeal_card(record.id)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("no appeal {number}"))?;
                let card = &stored.card;
                let now = chrono::Utc::now();
                println!("{} ({})", record.registration_number, record.category);
                println!("  state:     {}", card.status);
                println!(
                    "  deadline:  {}{} (control: {})",
                    local(card.deadline),
                    if card.is_overdue(now) {
                        ", OVERDUE"
                    } else {
                        ""
                    },
                    card.control
                );
                if let Some(planned) = card.planned {
                    println!("  planned:   {planned} (SER plan)");
                }
                if let Some(at) = card.delivery_at {
                    println!(
                        "  delivered: at {} (registered outside working hours)",
                        local(at)
                    );
                }
                for p in &card.parts {
                    println!(
                        "  executor:  {}{}{}{}",
                        p.executor,
                        if p.lead { " (lead)" } else { "" },
                        p.responsible
                            .as_deref()
                            .map(|r| format!(", responsible: {r}"))
                            .unwrap_or_default(),
                        p.declined
                            .as_deref()
                            .map(|r| format!(", declined: {r}"))
                            .unwrap_or_default()
                    );
                }
                if let Some(p) = &card.pending {
                    println!(
                        "  pending:   {} by {}, due {}",
                        p.request.name(),
                        p.by,
                        local(p.due)
                    );
                }
                println!("  history:");
                for e in store.appeal_history(record.id).await? {
                    println!(
                        "    {}  {:<22} {} ({}){}{}",
                        local(e.at),
                        e.kind.as_str(),
                        e.login,
                        e.role,
                        if e.from != e.to {
                            format!("  {} → {}", e.from, e.to)
                        } else {
                            String::new()
                        },
                        e.text.map(|t| format!(": {t}")).unwrap_or_default()
                    );
                }
            }
            AppealAction::List {
                executor,
                state,
                overdue,
            } => {
                let status = match state.as_deref() {
                    None => None,
                    Some(s) => Some(AppealStatus::parse(s).ok_or_else(|| {
                        anyhow::anyhow!(
                            "unknown state {s:?}: {}",
                            AppealStatus::ALL
                                .iter()
                                .map(|s| s.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    })?),
                };
                let now = chrono::Utc::now();
                let mut shown = 0;
                for s in store.card_list(executor.as_deref(), status).await? {
                    let card = &s.stored.card;
                    if overdue && !card.is_overdue(now) {
                        continue;
                    }
                    shown += 1;
                    println!(
                        "{}  {:<16} {}{}  {}  {}",
                        s.stored.registration_number,
                        card.status.as_str(),
                        local(card.deadline),
                        if card.is_overdue(now) {
                            " overdue"
                        } else {
                            "        "
                        },
                        card.lead().map(|p| p.executor.as_str()).unwrap_or("-"),
                        s.category
                    );
                }
                eprintln!("{shown} card(s)");
            }
        }
        Ok(())
    })
    .await
}
