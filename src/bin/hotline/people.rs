//! `hotline user …` and `hotline operator …`: who signs in to the console,
//! and who answers calls at which softphone; the work is in
//! `hotline::store::users` and `hotline::store::operators`.

use anyhow::Context;
use clap::Subcommand;
use hotline::config::Settings;

use crate::with_store;

#[derive(Subcommand)]
pub enum UserAction {
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
        /// For an executor user: the organisation's code in the classifier
        /// (`hotline classifier show` lists them), e.g. vodokanal.
        #[arg(long)]
        executor: Option<String>,
        /// For an executor user: they head the organisation.
        #[arg(long)]
        head: bool,
        /// Display name (default: the login).
        #[arg(long)]
        name: Option<String>,
        /// Where their reports are e-mailed (an executor's head gets the
        /// daily report).
        #[arg(long)]
        email: Option<String>,
    },
    /// List the users: login, role, name, operator.
    List,
    /// Set where a user's reports are e-mailed, or clear it.
    Email {
        login: String,
        /// The address, e.g. head@vodokanal.zp.ua.
        #[arg(required_unless_present = "clear")]
        address: Option<String>,
        /// Clear the address: no more reports by e-mail.
        #[arg(long, conflicts_with = "address")]
        clear: bool,
    },
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
pub async fn user(settings: &Settings, action: UserAction) -> anyhow::Result<()> {
    use hotline::store::{NewUser, Role};
    with_store(settings, async |store| {
        match action {
            UserAction::Add {
                login,
                role,
                password: arg,
                operator,
                executor,
                head,
                name,
                email,
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
                    executor,
                    head,
                };
                let password = read_password(&arg, &new.login)?;
                if let Some(e) = &email {
                    hotline::store::users::check_email(e)?;
                }
                let user = store.add_user(&new, &password, chrono::Utc::now()).await?;
                if let Some(e) = &email {
                    store.set_user_email(&user.login, Some(e)).await?;
                }
                println!(
                    "user {} added: {}{}{}{}",
                    user.login,
                    user.role,
                    new.operator_login
                        .map(|o| format!(", operator {o}"))
                        .unwrap_or_default(),
                    user.executor
                        .as_deref()
                        .map(|e| format!(", executor {e}"))
                        .unwrap_or_default(),
                    if user.head { ", head" } else { "" }
                );
                if let Some(e) = &email {
                    println!("reports to {e}");
                }
            }
            UserAction::List => {
                for u in store.list_users().await? {
                    println!(
                        "{:<20} {:<11} {}{}{}{}",
                        u.login,
                        u.role.as_str(),
                        u.display_name,
                        u.executor
                            .as_deref()
                            .map(|e| format!(" [{e}{}]", if u.head { ", head" } else { "" }))
                            .unwrap_or_default(),
                        u.email
                            .as_deref()
                            .map(|e| format!(" <{e}>"))
                            .unwrap_or_default(),
                        if u.disabled_at.is_some() {
                            " (disabled)"
                        } else {
                            ""
                        }
                    );
                }
            }
            UserAction::Email {
                login,
                address,
                clear: _,
            } => {
                if !store.set_user_email(&login, address.as_deref()).await? {
                    anyhow::bail!("no user with login {login:?}");
                }
                match address {
                    Some(a) => println!("{login}: reports to {}", a.trim()),
                    None => println!("{login}: no e-mail address"),
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
    })
    .await
}

#[derive(Subcommand)]
pub enum OperatorAction {
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
pub async fn operator(settings: &Settings, action: OperatorAction) -> anyhow::Result<()> {
    use hotline::store::NewOperator;
    use hotline::store::operators::{self, DEFAULT_REALM};
    let password = read_password;
    with_store(settings, async |store| {
        match action {
            OperatorAction::Add {
                login,
                extension,
                password: arg,
                queues,
                name,
            } => {
                // Checked before asking for the password, against the
                // queues file: a queue that does not exist would never
                // offer this operator a call.
                let queues = operators::parse_queue_list(&queues)?;
                let file = &settings.queues.file;
                let known = hotline::queue::QueueSet::load(file)
                    .with_context(|| format!("reading the queues in {}", file.display()))?;
                if let Some(unknown) = queues.iter().find(|m| known.get(&m.queue).is_none()) {
                    let names: Vec<&str> = known.queues().iter().map(|q| q.name.as_str()).collect();
                    anyhow::bail!(
                        "no queue {:?} in {}; the queues are: {}",
                        unknown.queue,
                        file.display(),
                        names.join(", ")
                    );
                }
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
    })
    .await
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
