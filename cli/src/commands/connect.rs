//! `max connect`: runs a connector's onboarding (prompts on a terminal, `--set key=value` for scripts)
//! through the host's onboarding, which checks each answer and validates against the real API; only
//! then is the installation written. `max disconnect` removes one.

use std::collections::BTreeMap;
use std::io::IsTerminal;

use clap::Args;
use max_host::manifest::{InputStep, SelectOption, SelectStep};
use max_host::onboarding::{Ask, ConnectRequest, Onboarding};

use crate::args::GlobalArgs;
use crate::commands::host;
use crate::failure::Failure;
use crate::output::{Printer, printable};
use crate::prompt;

/// Connect an installed connector to an account.
///
/// Runs the connector's onboarding steps in order: on a terminal it prompts (secrets are not echoed),
/// checks each answer as it is given (a base URL must be reachable before any secret is asked), and
/// asks again when the API refuses them; in scripts pass every answer with `--set key=value`. Nothing
/// is saved unless every check passes. Config goes to `installation.json`, secrets to
/// `credentials.json` (readable by you only) in `.max/installations/<connector>/<name>/`.
///
/// `--replace` reconnects an existing installation: what you don't give again (its secrets too) is
/// kept, and so is its synced data.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  max connect acme\n  max connect acme --set base_url=http://localhost:4000 --set api_key=$ACME_KEY\n  max connect acme --replace --set page_size=50     # keeps the stored secrets\n  max connect linear --name work --host api.linear.app"
)]
pub struct ConnectCommand {
    /// The installed connector (see `max connector list`).
    connector: String,
    /// A name for this installation, to connect several accounts of one connector.
    #[arg(long, default_value = max_host::project::DEFAULT_NAME)]
    name: String,
    /// Answer an onboarding step without a prompt (repeatable; secrets too): `--set api_key=...`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Reconnect an existing installation, keeping the answers and secrets not given again (and its
    /// synced data).
    #[arg(long)]
    replace: bool,
    /// Let this installation reach only these of the hosts the connector was granted (repeatable).
    #[arg(long = "host", value_name = "HOST")]
    hosts: Vec<String>,
    /// Give this installation its own limit (repeatable): `--limit memory-mib=64`. `max limits` lists
    /// them all; `max limits <connector/name> --set` changes them later.
    #[arg(long = "limit", value_name = "KEY=VALUE")]
    limits: Vec<String>,
}

impl ConnectCommand {
    /// Runs it.
    pub async fn run(self, global: &GlobalArgs, printer: &Printer) -> anyhow::Result<()> {
        let host = host(global)?;
        let request = ConnectRequest {
            connector: self.connector.clone(),
            name: self.name.clone(),
            replace: self.replace,
            hosts: self.hosts.clone(),
            limits: self.limits.clone(),
        };
        let mut onboarding = host.onboard(&request)?;
        let mut session = Session {
            given: parse_sets(&self.set, &onboarding)?,
            interactive: std::io::stdin().is_terminal(),
            chatty: !printer.is_json(),
        };
        let connected = loop {
            match onboarding.next().await? {
                Ask::Input { step, current } => session.text(&mut onboarding, &step, current.as_deref(), false).await?,
                Ask::Secret { step, has_current } => {
                    session.text(&mut onboarding, &step, has_current.then_some("unchanged"), true).await?
                }
                Ask::Select { step, options, current } => {
                    session.choice(&mut onboarding, &step, &options, current.as_deref()).await?
                }
                Ask::Validate { label } => {
                    session.note_inline(&format!("{label}… "));
                    match onboarding.validate().await {
                        Ok(summary) => session.note(&format!("ok: {}", printable(&summary))),
                        Err(error) => {
                            session.note("failed");
                            session.again_or(&mut onboarding, error)?;
                        }
                    }
                }
                Ask::Done => match onboarding.finish().await {
                    Ok(connected) => break connected,
                    Err(error) => session.again_or(&mut onboarding, error)?,
                },
            }
        };
        let installation = &connected.installation;
        if printer.is_json() {
            return printer.json(&serde_json::json!({
                "installation": installation.label(),
                "dir": installation.dir(),
                "validated": connected.validated,
            }));
        }
        let verb = if self.replace { "Reconnected" } else { "Connected" };
        printer.text(&format!("{verb} {} ({})", installation.label(), installation.dir().display()))?;
        let target = if self.name == max_host::project::DEFAULT_NAME {
            onboarding.connector().name.clone()
        } else {
            installation.label()
        };
        prompt::note(&printer.on_stderr().dim(&format!("Next: max sync {target}")));
        Ok(())
    }
}

/// Remove an installation: its settings, its secrets and the data it synced.
///
/// Asks for confirmation on a terminal; in scripts pass `--yes`. The installed connector stays (remove
/// it with `max connector remove`). Refused while the installation syncs.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  max disconnect acme\n  max disconnect linear/work --yes")]
pub struct DisconnectCommand {
    /// The installation: `connector` or `connector/name`.
    target: String,
    /// Don't ask for confirmation.
    #[arg(short, long)]
    yes: bool,
}

impl DisconnectCommand {
    /// Runs it.
    pub fn run(self, global: &GlobalArgs, printer: &Printer) -> anyhow::Result<()> {
        let host = host(global)?;
        let installation = host.installation(&self.target)?;
        let label = installation.label();
        if !self.yes {
            crate::commands::confirm(
                &format!("Remove {label} and the data it synced ({})?", installation.dir().display()),
                "not disconnecting",
            )?;
        }
        host.disconnect(&installation)?;
        crate::commands::schedule::reload(&host);
        if printer.is_json() {
            return printer.json(&serde_json::json!({ "removed": label }));
        }
        printer.text(&format!("Removed {label} and its data"))
    }
}

/// The answers given on the command line, and how to ask for the rest.
struct Session {
    given: BTreeMap<String, String>,
    interactive: bool,
    chatty: bool,
}

impl Session {
    fn note(&self, text: &str) {
        if self.chatty {
            prompt::note(text);
        }
    }

    fn note_inline(&self, text: &str) {
        if self.chatty && !prompt::quiet() {
            prompt::say_inline(text);
        }
    }

    /// After a failed check: on a terminal, when asking again can help and the user wants to, the
    /// questions start again (answers kept as defaults); otherwise the error ends the command.
    fn again_or(&mut self, onboarding: &mut Onboarding<'_>, error: max_host::Error) -> anyhow::Result<()> {
        let retryable = matches!(&error, max_host::Error::ValidationFailed { fault, .. } if fault.retryable());
        if !(retryable && self.interactive) {
            return Err(error.into());
        }
        prompt::say(&format!("  {}", printable(&error.to_string())));
        if let Some(hint) = crate::hints::hint(&error) {
            prompt::say(&format!("  {}", printable(&hint)));
        }
        let answer = prompt::ask("Try again? [Y/n] ")?;
        if matches!(answer.to_ascii_lowercase().as_str(), "n" | "no") {
            return Err(error.into());
        }
        onboarding.retry();
        Ok(())
    }

    /// Answers a text or secret step: from `--set`, from the prompt (asked again while refused), or
    /// with what it keeps (`current`) when there is no terminal to ask.
    async fn text(
        &mut self,
        onboarding: &mut Onboarding<'_>,
        step: &InputStep,
        current: Option<&str>,
        secret: bool,
    ) -> anyhow::Result<()> {
        if let Some(value) = self.given.remove(&step.key) {
            return Ok(onboarding.answer(Some(&value)).await?);
        }
        if !self.interactive {
            return onboarding.answer(None).await.map_err(|error| missing(error, &step.key, &step.label));
        }
        if let Some(help) = &step.help {
            prompt::say(&format!("  {}", printable(help)));
        }
        let label = printable(&step.label);
        let question = match current {
            Some(current) => format!("{label} [{}]: ", printable(current)),
            None => format!("{label}: "),
        };
        loop {
            let answer = if secret { prompt::ask_secret(&question)? } else { prompt::ask(&question)? };
            match onboarding.answer(Some(&answer)).await {
                Ok(()) => return Ok(()),
                Err(error @ (max_host::Error::AnswerRefused { .. } | max_host::Error::AnswerMissing { .. })) => {
                    prompt::say(&format!("  {}", printable(&error.to_string())))
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Answers a select step: values from `--set`, option numbers at the prompt.
    async fn choice(
        &mut self,
        onboarding: &mut Onboarding<'_>,
        step: &SelectStep,
        options: &[SelectOption],
        current: Option<&str>,
    ) -> anyhow::Result<()> {
        if let Some(value) = self.given.remove(&step.key) {
            return Ok(onboarding.answer(Some(&value)).await?);
        }
        if !self.interactive || options.is_empty() {
            return onboarding.answer(None).await.map_err(|error| missing(error, &step.key, &step.label));
        }
        prompt::say(&format!("{}:", printable(&step.label)));
        for (i, option) in options.iter().enumerate() {
            prompt::say(&format!("  {}. {}", i + 1, printable(&option.label)));
        }
        let keeps = match current {
            Some(current) => format!("empty keeps {}", printable(current)),
            None if step.multiple => "empty for all".to_string(),
            None => "empty for the first".to_string(),
        };
        let hint = if step.multiple { "numbers separated by commas" } else { "a number" };
        loop {
            let line = prompt::ask(&format!("Choose ({hint}; {keeps}): "))?;
            let picks: Option<Vec<&str>> = line
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| p.parse::<usize>().ok().and_then(|n| options.get(n.wrapping_sub(1))).map(|o| o.value.as_str()))
                .collect();
            let answer = match picks {
                Some(picks) if picks.is_empty() => None,
                Some(picks) if step.multiple || picks.len() == 1 => Some(picks.join(",")),
                _ => {
                    prompt::say(&format!("  please enter {hint}"));
                    continue;
                }
            };
            match onboarding.answer(answer.as_deref()).await {
                Ok(()) => return Ok(()),
                Err(max_host::Error::AnswerRefused { reason, .. }) => prompt::say(&format!("  {}", printable(&reason))),
                Err(error) => return Err(error.into()),
            }
        }
    }
}

/// A step left without an answer where nothing can be asked: which `--set` it needs.
fn missing(error: max_host::Error, key: &str, label: &str) -> anyhow::Error {
    match error {
        max_host::Error::AnswerMissing { .. } => Failure::new(
            "missing_value",
            format!("no value for `{key}` ({label}) and stdin is not a terminal to ask"),
            format!("pass it with --set {key}=VALUE"),
        )
        .into(),
        other => other.into(),
    }
}

/// `--set k=v` pairs, checked against the keys onboarding asks for.
fn parse_sets(sets: &[String], onboarding: &Onboarding<'_>) -> anyhow::Result<BTreeMap<String, String>> {
    let keys = onboarding.keys();
    let mut given = BTreeMap::new();
    for set in sets {
        let Some((key, value)) = set.split_once('=') else {
            return Err(Failure::new(
                "invalid_set",
                format!("`--set {set}` is not KEY=VALUE"),
                "write --set key=value",
            )
            .into());
        };
        if !keys.contains(&key) {
            return Err(Failure::new(
                "unknown_key",
                format!("{} does not ask for `{key}`", onboarding.connector().name),
                format!("it asks for: {}", keys.join(", ")),
            )
            .into());
        }
        given.insert(key.to_string(), value.to_string());
    }
    Ok(given)
}
