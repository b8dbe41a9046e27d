//! The `hotline` command: `serve` runs the server; `config check` shows the
//! effective settings. Kept thin: the work is in the library.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use hotline::config::{DEFAULT_PATH, Settings};
use hotline::server::Application;

#[derive(Parser)]
#[command(
    name = "hotline",
    version,
    about = "Call-centre server for citizen hotlines"
)]
struct Cli {
    /// Configuration file.
    #[arg(long, global = true, default_value = DEFAULT_PATH)]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve,
    /// Configuration tools.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// IVR menu tools.
    Ivr {
        #[command(subcommand)]
        action: IvrAction,
    },
    /// Demonstration data.
    Demo {
        #[command(subcommand)]
        action: DemoAction,
    },
    /// Operators: who answers calls, on which extension, in which queues.
    Operator {
        #[command(subcommand)]
        action: OperatorAction,
    },
    /// Console users: who signs in, with which role.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// The classifier of issue types: sections, types, executors and
    /// deadline classes.
    Classifier {
        #[command(subcommand)]
        action: ClassifierAction,
    },
    /// Blocked callers: numbers whose calls never reach the menu or an
    /// operator.
    Block {
        #[command(subcommand)]
        action: BlockCommand,
    },
    /// Remove recordings and cards past their retention period
    /// (`[retention]`), except those under legal hold; first make files and
    /// rows agree after any crash.
    Prune {
        /// List what would be removed; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Count ages from this moment (RFC 3339) instead of now: to see
        /// what a prune on a given day would remove.
        #[arg(long)]
        now: Option<String>,
    },
}

#[derive(Subcommand)]
enum BlockCommand {
    /// Block a number, written in any form (`+380 61 123-45-67`,
    /// `0611234567`, `(061) 123 45 67`, `tel:+380611234567`…).
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
    /// Lift the block on a number.
    Remove { number: String },
}

/// Who ran a command, for the log (the command line has no console user).
fn os_user() -> String {
    std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into())
}

/// `hotline block ...`; the work is in `hotline::store::blocking`.
async fn block_command(settings: &Settings, action: BlockCommand) -> anyhow::Result<()> {
    use hotline::store::Store;
    use hotline::store::blocking::NewBlock;
    let numbering = settings.numbering.plan();
    let normalise = |raw: &str| {
        numbering
            .normalise(raw)
            .with_context(|| format!("{raw:?} is not a phone number"))
    };
    let store = Store::connect(&settings.storage.database_url).await?;
    let now = chrono::Utc::now();
    let outcome = async {
        match action {
            BlockCommand::Add {
                number,
                reason,
                until,
            } => {
                let number = normalise(&number)?;
                let until = match until {
                    Some(text) => Some(
                        hotline::api::blocking::parse_until(&text)
                            .with_context(|| format!("--until {text:?}: YYYY-MM-DD or RFC 3339"))?,
                    ),
                    None => None,
                };
                let (block, new) = store
                    .block_number(
                        &NewBlock {
                            number: number.as_str(),
                            reason: &reason,
                            by: None,
                            until,
                            call_id: None,
                        },
                        now,
                    )
                    .await?;
                if new {
                    tracing::info!(number = %block.number, until = ?block.until, by = %os_user(), "number blocked from the command line");
                }
                println!(
                    "{} {}{}",
                    block.number,
                    if new { "blocked" } else { "already blocked" },
                    block
                        .until
                        .map(|u| format!(" until {}", u.to_rfc3339()))
                        .unwrap_or_else(|| " until lifted".into())
                );
            }
            BlockCommand::List { history } => {
                for b in store.blocked_numbers(now, history).await? {
                    let state = match (&b.end_reason, b.until) {
                        (Some(end), _) => end.clone(),
                        (None, Some(u)) => format!("until {}", u.format("%Y-%m-%d %H:%M UTC")),
                        (None, None) => "until lifted".into(),
                    };
                    println!(
                        "{:<15} {:<24} {:>4} calls  since {}  by {:<12} {}",
                        b.number,
                        state,
                        b.attempts,
                        b.blocked_at.format("%Y-%m-%d %H:%M"),
                        b.blocked_by.as_deref().unwrap_or("-"),
                        b.reason
                    );
                }
            }
            BlockCommand::Remove { number } => {
                let number = normalise(&number)?;
                match store.lift_block(number.as_str(), None, now).await? {
                    Some(b) => {
                        tracing::info!(number = %b.number, by = %os_user(), "block lifted from the command line");
                        println!("{} unblocked", b.number);
                    }
                    None => anyhow::bail!("{} is not blocked", number.as_str()),
                }
            }
        }
        Ok(())
    }
    .await;
    store.close().await;
    outcome
}

/// `hotline prune`; the work is in `hotline::retention`.
async fn prune_command(
    settings: &Settings,
    dry_run: bool,
    now: Option<String>,
) -> anyhow::Result<()> {
    // Another "now" only to look: a prune dated later would remove what is
    // younger than the limit today.
    if now.is_some() && !dry_run {
        anyhow::bail!("--now goes with --dry-run only: a prune always counts from the real time");
    }
    let now = match now {
        Some(text) => chrono::DateTime::parse_from_rfc3339(&text)
            .with_context(|| format!("--now {text:?}: RFC 3339, e.g. 2026-11-25T12:00:00Z"))?
            .with_timezone(&chrono::Utc),
        None => chrono::Utc::now(),
    };
    let store = hotline::store::Store::connect(&settings.storage.database_url).await?;
    let pruner = hotline::retention::Pruner::from_settings(store.clone(), settings)?;
    let outcome = async {
        if !dry_run {
            let fixed = pruner.reconcile(now).await?;
            if fixed.fixed() > 0 {
                println!("reconciled {} file(s) and row(s) left by an earlier crash", fixed.fixed());
            }
        }
        let report = pruner.prune(now, dry_run).await?;
        let verb = if dry_run { "would remove" } else { "removed" };
        for r in &report.recordings {
            println!(
                "recording {}  {}  {}",
                r.id,
                r.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
                r.path
            );
        }
        for c in &report.appeals {
            println!(
                "card {}  {}",
                c.registration_number,
                c.created_at.format("%Y-%m-%d %H:%M:%S UTC")
            );
        }
        println!(
            "{verb} the caller's number of {} call(s) older than {}",
            report.calls_anonymised, settings.retention.cards
        );
        println!(
            "{verb} {} recording(s) started before {} ({} kept) and {} card(s) registered before {} ({} kept)",
            report.recordings.len(),
            report.recordings_cutoff.map(|c| c.to_rfc3339()).unwrap_or_default(),
            settings.retention.recordings,
            report.appeals.len(),
            report.appeals_cutoff.map(|c| c.to_rfc3339()).unwrap_or_default(),
            settings.retention.cards,
        );
        for e in &report.errors {
            eprintln!("could not delete {e}");
        }
        Ok::<_, anyhow::Error>(())
    }
    .await;
    store.close().await;
    outcome
}

#[derive(Subcommand)]
enum UserAction {
    /// Add a user who signs in to the console.
    Add {
        /// Sign-in name: a-z, 0-9, '.', '_' and '-'.
        #[arg(long)]
        login: String,
        /// operator, supervisor, executor or admin.
        #[arg(long)]
        role: String,
        /// Password, at least 8 characters; `-` reads one line from
        /// standard input.
        #[arg(long)]
        password: String,
        /// For an operator user: the operator (`hotline operator add`) they
        /// are; default: the operator with the same login.
        #[arg(long)]
        operator: Option<String>,
        /// Display name (default: the login).
        #[arg(long)]
        name: Option<String>,
    },
    /// List the users: login, role, name, operator.
    List,
    /// Remove a user and end their sessions.
    Remove { login: String },
    /// Set a user's password (ends their sessions).
    Passwd {
        login: String,
        /// New password, at least 8 characters; `-` reads one line from
        /// standard input.
        #[arg(long)]
        password: String,
    },
}

/// `hotline user ...`; the work is in `hotline::store::users`.
async fn user_command(database_url: &str, action: UserAction) -> anyhow::Result<()> {
    use hotline::store::{NewUser, Role, Store};
    let store = Store::connect(database_url).await?;
    let outcome = async {
        match action {
            UserAction::Add {
                login,
                role,
                password: arg,
                operator,
                name,
            } => {
                let role = Role::parse(&role).with_context(|| {
                    format!("unknown role {role:?}: operator, supervisor, executor or admin")
                })?;
                let operator = match role {
                    Role::Operator => Some(operator.unwrap_or_else(|| login.clone())),
                    _ => operator,
                };
                let new = NewUser {
                    display_name: name.unwrap_or_else(|| login.clone()),
                    login,
                    role,
                    operator_login: operator,
                };
                let password = read_password(&arg, &new.login)?;
                let user = store.add_user(&new, &password, chrono::Utc::now()).await?;
                println!(
                    "user {} added: {}{}",
                    user.login,
                    user.role,
                    new.operator_login
                        .map(|o| format!(", operator {o}"))
                        .unwrap_or_default()
                );
            }
            UserAction::List => {
                for u in store.list_users().await? {
                    println!(
                        "{:<20} {:<11} {}{}",
                        u.login,
                        u.role.as_str(),
                        u.display_name,
                        if u.disabled_at.is_some() {
                            " (disabled)"
                        } else {
                            ""
                        }
                    );
                }
            }
            UserAction::Remove { login } => {
                if !store.remove_user(&login).await? {
                    anyhow::bail!("no user with login {login:?}");
                }
                println!("user {login} removed");
            }
            UserAction::Passwd {
                login,
                password: arg,
            } => {
                let password = read_password(&arg, &login)?;
                if !store.set_user_password(&login, &password).await? {
                    anyhow::bail!("no user with login {login:?}");
                }
                println!("password of {login} changed; their sessions ended");
            }
        }
        Ok(())
    }
    .await;
    store.close().await;
    outcome
}

/// A password argument; `-`: one line of standard input, with a prompt if
/// a person types it.
fn read_password(arg: &str, login: &str) -> anyhow::Result<String> {
    use std::io::IsTerminal;
    let stdin = std::io::stdin();
    if arg == "-" && stdin.is_terminal() {
        eprint!("password for {login}: ");
    }
    hotline::store::operators::read_password_arg(arg, &mut stdin.lock())
        .context("reading the password from standard input")
}

#[derive(Subcommand)]
enum ClassifierAction {
    /// Check a classifier file and store it as the new current version
    /// (unless the current version has the same content). Reports each
    /// problem as file:line and imports nothing if there is any.
    Import {
        /// The classifier file.
        #[arg(default_value = hotline::appeal::classifier::DEFAULT_PATH)]
        file: PathBuf,
    },
    /// Show a classifier version (default: the current one): its sections
    /// and types with their executor and deadline class, then the
    /// executors.
    List {
        /// Version number.
        #[arg(long)]
        version: Option<u32>,
    },
}

#[derive(Subcommand)]
enum IvrAction {
    /// Check the menu files (and decode every prompt); report each problem
    /// as file:line. Exits 1 if there is any.
    Check {
        /// Directory of menu files (default: `[ivr] scripts_dir`).
        dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum DemoAction {
    /// Add a sample appeal (registration number 1580-2026-000123, caller
    /// +380611234567) and an active water outage on вул. Соборна, to try
    /// menu 4 and 5 by phone.
    Seed,
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Load the configuration (file plus HOTLINE_* overrides), check it and
    /// print the effective values with passwords hidden.
    Check,
}

#[derive(Subcommand)]
enum OperatorAction {
    /// Add an operator: sign-in name, softphone extension, password and
    /// the queues they serve.
    Add {
        /// Sign-in name: a-z, 0-9, '.', '_' and '-'.
        #[arg(long)]
        login: String,
        /// SIP extension the softphone registers as: 2 to 10 digits.
        #[arg(long)]
        extension: String,
        /// Password, at least 8 characters; `-` reads one line from
        /// standard input, which keeps it out of the shell history and `ps`.
        #[arg(long)]
        password: String,
        /// Queues served, comma-separated, each with an optional penalty
        /// (lower is offered calls first): `general,emergency:1`.
        #[arg(long)]
        queues: String,
        /// Display name (default: the login).
        #[arg(long)]
        name: Option<String>,
    },
    /// List the operators: login, extension, name and queues.
    List,
    /// Remove an operator with their queues and state history.
    Remove { login: String },
    /// Set an operator's password (softphone and console alike).
    Passwd {
        login: String,
        /// New password, at least 8 characters; `-` reads one line from
        /// standard input.
        #[arg(long)]
        password: String,
    },
}

/// `hotline operator ...`; the work is in `hotline::store::operators`.
async fn operator_command(database_url: &str, action: OperatorAction) -> anyhow::Result<()> {
    use hotline::store::operators::{self, DEFAULT_REALM};
    use hotline::store::{NewOperator, Store};
    let password = read_password;

    let store = Store::connect(database_url).await?;
    let outcome = async {
        match action {
            OperatorAction::Add {
                login,
                extension,
                password: arg,
                queues,
                name,
            } => {
                // Checked before asking for the password.
                let queues = operators::parse_queue_list(&queues)?;
                let new = NewOperator::new(
                    &login,
                    &extension,
                    name.as_deref(),
                    queues,
                    chrono::Utc::now(),
                );
                let password = password(&arg, &login)?;
                let added = store.add_operator(&new, &password, DEFAULT_REALM).await?;
                println!(
                    "operator {} added: extension {}, queues {}",
                    added.login,
                    added.extension,
                    operators::format_queue_list(&added.queues)
                );
            }
            OperatorAction::List => {
                let listed = store.list_operators().await?;
                print!("{}", operators::operator_table(&listed));
            }
            OperatorAction::Remove { login } => {
                if !store.remove_operator(&login).await? {
                    anyhow::bail!("no operator with login {login:?}");
                }
                println!("operator {login} removed");
            }
            OperatorAction::Passwd {
                login,
                password: arg,
            } => {
                let password = password(&arg, &login)?;
                if !store
                    .set_operator_password(&login, &password, DEFAULT_REALM)
                    .await?
                {
                    anyhow::bail!("no operator with login {login:?}");
                }
                println!("password of {login} changed");
            }
        }
        Ok(())
    }
    .await;
    store.close().await;
    outcome
}

/// `hotline classifier ...`; the work is in `hotline::classifier` and
/// `hotline::store::classifier`.
async fn classifier_command(database_url: &str, action: ClassifierAction) -> anyhow::Result<()> {
    use hotline::appeal::classifier::{Classifier, ClassifierError};
    use hotline::appeal::classifier_store::classifier_listing;
    use hotline::store::Store;

    match action {
        ClassifierAction::Import { file } => {
            // Checked before the database is opened.
            let classifier = match Classifier::load(&file) {
                Ok(classifier) => classifier,
                Err(ClassifierError::Invalid(problems)) => {
                    for p in &problems {
                        println!("{p}");
                    }
                    eprintln!("{} problem(s) found; nothing imported", problems.len());
                    std::process::exit(1);
                }
                Err(e) => return Err(e.into()),
            };
            let source = file.display().to_string();
            let store = Store::connect(database_url).await?;
            let outcome = store
                .import_classifier(&classifier, &source, chrono::Utc::now())
                .await;
            store.close().await;
            let outcome = outcome?;
            let counts = format!(
                "{} sections, {} types, {} executors",
                outcome.sections, outcome.types, outcome.executors
            );
            if outcome.created {
                println!(
                    "classifier version {} imported from {source}: {counts}",
                    outcome.version.number
                );
            } else {
                println!(
                    "classifier unchanged: version {} (imported from {} on {}) has the same \
                     content ({counts})",
                    outcome.version.number,
                    outcome.version.source,
                    outcome.version.imported_at.format("%Y-%m-%d %H:%M UTC")
                );
            }
            Ok(())
        }
        ClassifierAction::List { version } => {
            let store = Store::connect(database_url).await?;
            let listing = async {
                let found = match version {
                    Some(number) => store.classifier_version(number).await?,
                    None => store.current_classifier_version().await?,
                };
                let Some(found) = found else {
                    match version {
                        Some(number) => anyhow::bail!("there is no classifier version {number}"),
                        None => anyhow::bail!(
                            "no classifier imported yet: run `hotline classifier import`"
                        ),
                    }
                };
                let categories = store.categories(found.number).await?;
                let executors = store.executors(found.number).await?;
                Ok(classifier_listing(&found, &categories, &executors))
            }
            .await;
            store.close().await;
            print!("{}", listing?);
            Ok(())
        }
    }
}

/// Commands that change what the server keeps log what they did, to
/// standard error (`RUST_LOG` to change the level).
fn init_cli_logging() {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn,hotline=info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn init_logging(settings: &Settings) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(&settings.logging.level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if settings.logging.format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
    hotline::phone::reveal_personal_data(settings.logging.reveal_personal_data);
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings =
        Settings::load(&cli.config).with_context(|| format!("loading {}", cli.config.display()))?;
    match cli.command {
        Command::Config {
            action: ConfigAction::Check,
        } => {
            let mut shown = settings.clone();
            for t in &mut shown.trunk {
                t.password = "********".into();
            }
            println!("{shown:#?}");
            Ok(())
        }
        Command::Ivr {
            action: IvrAction::Check { dir },
        } => {
            let mut source = hotline::ivr::assets::IvrSource::from_settings(&settings.ivr);
            if let Some(dir) = dir {
                source.dir = dir;
            }
            let cache = hotline::media::PromptCache::new();
            let loaded = match hotline::queue::QueueSet::load(&settings.queues.file) {
                Ok(queues) => {
                    hotline::ivr::assets::load_checked(&source, &cache, &queues, &settings.blocking)
                }
                Err(e) => Err(vec![hotline::ivr::Diagnostic {
                    file: settings.queues.file.clone(),
                    line: 0,
                    message: e.to_string(),
                }]),
            };
            let dir = &source.dir;
            match loaded {
                Ok(assets) => {
                    println!(
                        "{}: OK, {} nodes, {} prompts",
                        dir.display(),
                        assets.script.nodes.len(),
                        assets.prompts.len()
                    );
                    Ok(())
                }
                Err(errors) => {
                    for e in &errors {
                        println!("{e}");
                    }
                    eprintln!("{} problem(s) found", errors.len());
                    std::process::exit(1);
                }
            }
        }
        Command::Demo {
            action: DemoAction::Seed,
        } => {
            let store = hotline::store::Store::connect(&settings.storage.database_url).await?;
            let (appeal, work) = hotline::store::demo::seed(&store, chrono::Utc::now()).await?;
            println!("appeal {appeal} and repair work {work} added");
            Ok(())
        }
        Command::Operator { action } => {
            operator_command(&settings.storage.database_url, action).await
        }
        Command::User { action } => user_command(&settings.storage.database_url, action).await,
        Command::Classifier { action } => {
            classifier_command(&settings.storage.database_url, action).await
        }
        Command::Block { action } => {
            init_cli_logging();
            block_command(&settings, action).await
        }
        Command::Prune { dry_run, now } => {
            init_cli_logging();
            prune_command(&settings, dry_run, now).await
        }
        Command::Serve => {
            init_logging(&settings);
            // Before start-up work, so an early SIGHUP cannot kill us (its
            // default action); reloads wait until the server is built.
            #[cfg(unix)]
            let hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
            let app = Application::build(settings)
                .await
                .context("starting hotline")?;
            let stop = app.shutdown_handle();
            tokio::spawn(async move {
                wait_for_signal().await;
                tracing::info!("signal received; stopping");
                let _ = stop.send(true);
            });
            #[cfg(unix)]
            {
                let reloader = app.ivr_reloader();
                if let Some(mut hup) = hup {
                    tokio::spawn(async move {
                        while hup.recv().await.is_some() {
                            tracing::info!("SIGHUP: reloading the IVR");
                            let r = reloader.clone();
                            let _ = tokio::task::spawn_blocking(move || r.reload()).await;
                        }
                    });
                }
            }
            app.run_until_stopped().await;
            Ok(())
        }
    }
}

/// Ctrl-C or SIGTERM.
async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
