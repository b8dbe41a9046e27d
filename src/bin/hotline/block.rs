//! `hotline block …`: the block list from the command line; the work is in
//! `hotline::store::blocking`.

use anyhow::Context;
use clap::Subcommand;
use hotline::config::Settings;
use hotline::store::blocking::NewBlock;

use crate::with_store;

#[derive(Subcommand)]
pub enum BlockCommand {
    /// Block a contact: a number written in any form (`+380 61 123-45-67`,
    /// `0611234567`, `(061) 123 45 67`, `tel:+380611234567`…), an e-mail
    /// address, `telegram:<user id>` or `viber:<user id>`.
    Add {
        number: String,
        /// Why (kept with the block, shown to supervisors).
        #[arg(long)]
        reason: String,
        /// Until when: `YYYY-MM-DD` (the end of that day) or RFC 3339;
        /// default: until lifted.
        #[arg(long)]
        until: Option<String>,
    },
    /// List the blocks in force (`--history`: every block ever set).
    List {
        #[arg(long)]
        history: bool,
    },
    /// Lift the block on a contact.
    Remove { number: String },
}

/// Who ran a command, for the log (the command line has no console user).
fn os_user() -> String {
    std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into())
}

/// The city's time zone, from the working calendar (`[appeals] calendar`):
/// the day a `--until YYYY-MM-DD` ends on.
fn city_zone(settings: &Settings) -> anyhow::Result<chrono_tz::Tz> {
    let calendar = hotline::appeal::calendar::WorkingCalendar::load(&settings.appeals.calendar)
        .context("the working calendar")?;
    Ok(calendar.time_zone())
}

/// `hotline block ...`.
pub async fn run(settings: &Settings, action: BlockCommand) -> anyhow::Result<()> {
    let numbering = settings.numbering.plan();
    let normalise = |raw: &str| {
        hotline::contact::ContactKey::parse(raw, &numbering)
            .map(|key| key.stored())
            .with_context(|| {
                format!(
                    "{raw:?} is not a phone number, an e-mail address, telegram:<id> or viber:<id>"
                )
            })
    };
    let now = chrono::Utc::now();
    // The city's clock, read from the calendar only by the commands that
    // show or take a date.
    let city = |tz: chrono_tz::Tz, t: chrono::DateTime<chrono::Utc>| {
        t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
    };
    with_store(settings, async |store| {
        match action {
            BlockCommand::Add {
                number,
                reason,
                until,
            } => {
                let number = normalise(&number)?;
                let until = match until {
                    Some(text) => Some(
                        hotline::api::blocking::parse_until(&text, city_zone(settings)?)
                            .with_context(|| format!("--until {text:?}: YYYY-MM-DD or RFC 3339"))?,
                    ),
                    None => None,
                };
                let (block, new) = store
                    .block_number(
                        &NewBlock {
                            number: &number,
                            reason: &reason,
                            by: None,
                            until,
                            call_id: None,
                        },
                        now,
                    )
                    .await?;
                if new {
                    tracing::info!(contact = %hotline::phone::Pii(&block.number), until = ?block.until, by = %os_user(), "contact blocked from the command line");
                }
                let until = match block.until {
                    Some(u) => {
                        let tz = city_zone(settings)?;
                        format!(" until {} ({tz})", city(tz, u))
                    }
                    None => " until lifted".into(),
                };
                println!(
                    "{} {}{until}",
                    block.number,
                    if new { "blocked" } else { "already blocked" },
                );
            }
            BlockCommand::List { history } => {
                let tz = city_zone(settings)?;
                for b in store.blocked_numbers(now, history).await? {
                    let state = match (&b.end_reason, b.until) {
                        (Some(end), _) => end.clone(),
                        (None, Some(u)) => format!("until {}", city(tz, u)),
                        (None, None) => "until lifted".into(),
                    };
                    println!(
                        "{:<24} {:<24} {:>4} attempts  since {}  by {:<12} {}",
                        b.number,
                        state,
                        b.attempts,
                        city(tz, b.blocked_at),
                        b.blocked_by.as_deref().unwrap_or("-"),
                        b.reason
                    );
                }
            }
            BlockCommand::Remove { number } => {
                let number = normalise(&number)?;
                match store.lift_block(&number, None, now).await? {
                    Some(b) => {
                        tracing::info!(contact = %hotline::phone::Pii(&b.number), by = %os_user(), "block lifted from the command line");
                        println!("{} unblocked", b.number);
                    }
                    None => anyhow::bail!("{number} is not blocked"),
                }
            }
        }
        Ok(())
    })
    .await
}
