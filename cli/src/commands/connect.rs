//! `max connect`: runs a connector's onboarding (prompts on a terminal, `--set key=value` for scripts),
//! validates against the real API through the host, and only then writes the installation.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::Arc;

use clap::Args;
use max_host::live::live_connector;
use max_host::manifest::{InputStep, OnboardingStep, SelectOption, SelectStep};
use max_host::project::{FileSecrets, InstallationFile, InstalledConnector, Project, SandboxSettings};

use crate::args::GlobalArgs;
use crate::commands::{project, runtime};
use crate::failure::Failure;
use crate::output::Printer;
use crate::prompt;

/// Connect an installed connector to an account.
///
/// Runs the connector's onboarding steps in order: on a terminal it prompts (secrets are not echoed);
/// in scripts pass every answer with `--set key=value`. The validate step calls the API through Max;
/// nothing is saved unless it succeeds. Config goes to `installation.json`, secrets to
/// `credentials.json` (readable by you only) in `.max/installations/<connector>/<name>/`.
#[derive(Debug, Args)]
pub struct ConnectCommand {
    /// The installed connector (see `max connector list`).
    connector: String,
    /// A name for this installation, to connect several accounts of one connector.
    #[arg(long, default_value = max_host::project::DEFAULT_NAME)]
    name: String,
    /// Answer an onboarding step without a prompt (repeatable; secrets too): `--set api_key=...`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Reconnect an existing installation with new settings (its synced data is kept).
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

/// The answers collected so far.
struct Answers {
    sandbox: SandboxSettings,
    given: BTreeMap<String, String>,
    config: BTreeMap<String, String>,
    secrets: BTreeMap<String, String>,
    interactive: bool,
}

impl ConnectCommand {
    /// Runs it.
    pub async fn run(self, global: &GlobalArgs, printer: &Printer) -> anyhow::Result<()> {
        let project = project(global)?;
        let connector = project.connectors().get(&self.connector)?;
        let installations = project.installations();
        if !max_host::project::valid_name(&self.name) {
            return Err(max_host::Error::InvalidName { name: self.name }.into());
        }
        if installations.exists(&connector.name, &self.name) && !self.replace {
            return Err(
                max_host::Error::InstallationExists { label: format!("{}/{}", connector.name, self.name) }.into()
            );
        }
        let declared: Vec<&str> = connector.granted.hosts.iter().map(|h| h.host.as_str()).collect();
        if let Some(host) = self.hosts.iter().find(|h| !declared.contains(&h.as_str())) {
            return Err(Failure::new(
                "unknown_host",
                format!("{} was not granted `{host}`, so it can't be kept", connector.name),
                format!("its hosts: {}", declared.join(", ")),
            )
            .into());
        }
        // Reconnecting keeps the installation's hosts and limits unless new ones are given.
        let label = format!("{}/{}", connector.name, self.name);
        let mut sandbox = match installations.exists(&connector.name, &self.name) {
            true => installations.find(&label)?.file.sandbox,
            false => SandboxSettings::default(),
        };
        if !self.hosts.is_empty() {
            sandbox.hosts = Some(self.hosts.clone());
        }
        for assignment in &self.limits {
            let (setting, value) = max_host::limits::parse_assignment(assignment)?;
            sandbox.limits.insert(setting.key.to_string(), value);
        }
        let mut answers = Answers {
            sandbox,
            given: parse_sets(&self.set, &connector)?,
            config: BTreeMap::new(),
            secrets: BTreeMap::new(),
            interactive: std::io::stdin().is_terminal(),
        };
        let mut validated = Vec::new();
        for step in &connector.info.onboarding {
            match step {
                OnboardingStep::Input(input) | OnboardingStep::Secret(input) if !answers.shown(input) => {
                    answers.given.remove(&input.key);
                }
                OnboardingStep::Input(input) => {
                    let value = answers.text(input, false)?;
                    answers.config.insert(input.key.clone(), value);
                }
                OnboardingStep::Secret(input) => {
                    let value = answers.text(input, true)?;
                    answers.secrets.insert(input.key.clone(), value);
                }
                OnboardingStep::Select(select) => {
                    let options = if select.dynamic {
                        dynamic_options(&project, &connector, &mut answers, select).await?
                    } else {
                        select.options.clone()
                    };
                    let value = answers.choice(select, &options)?;
                    answers.config.insert(select.key.clone(), value);
                }
                OnboardingStep::Validate { label } => {
                    if !printer.is_json() {
                        prompt::say_inline(&format!("{label}… "));
                    }
                    let result = validate(&project, &connector, &mut answers).await;
                    match result {
                        Ok(summary) => {
                            if !printer.is_json() {
                                prompt::say(&format!("ok: {summary}"));
                            }
                            validated.push(summary);
                        }
                        Err(error) => {
                            if !printer.is_json() {
                                prompt::say("failed");
                            }
                            // Only what the API said is about the values given; a problem of the
                            // installed connector itself (tampered, refused) keeps its own advice.
                            let from_api = matches!(
                                error.downcast_ref::<max_host::Error>(),
                                None | Some(max_host::Error::ConnectorFailed { .. })
                            );
                            if !from_api {
                                return Err(error);
                            }
                            return Err(Failure::new(
                                "validation_failed",
                                format!("could not connect {}: {error}", connector.name),
                                "check the values you gave (base URL, API key) and try again; nothing was saved",
                            )
                            .into());
                        }
                    }
                }
            }
        }
        let mut file = InstallationFile::new(&connector.name, &self.name, &connector.version, answers.config);
        file.sandbox = answers.sandbox;
        let installation = installations.create(file, &answers.secrets, self.replace)?;
        if printer.is_json() {
            return printer.json(&serde_json::json!({
                "installation": installation.label(),
                "dir": installation.dir(),
                "validated": validated,
            }));
        }
        printer.text(&format!("Connected {} ({})", installation.label(), installation.dir().display()))?;
        let target =
            if self.name == max_host::project::DEFAULT_NAME { connector.name.clone() } else { installation.label() };
        printer.text(&printer.dim(&format!("Next: max sync {target}")))
    }
}

/// `--set k=v` pairs, checked against the keys onboarding asks for.
fn parse_sets(sets: &[String], connector: &InstalledConnector) -> anyhow::Result<BTreeMap<String, String>> {
    let keys: Vec<&str> = connector
        .info
        .onboarding
        .iter()
        .filter_map(|s| match s {
            OnboardingStep::Input(i) | OnboardingStep::Secret(i) => Some(i.key.as_str()),
            OnboardingStep::Select(s) => Some(s.key.as_str()),
            OnboardingStep::Validate { .. } => None,
        })
        .collect();
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
                format!("{} does not ask for `{key}`", connector.name),
                format!("it asks for: {}", keys.join(", ")),
            )
            .into());
        }
        given.insert(key.to_string(), value.to_string());
    }
    Ok(given)
}

impl Answers {
    /// Whether `step` is asked: it has no condition, or the step it depends on got that answer.
    fn shown(&self, step: &InputStep) -> bool {
        step.shown_when.as_ref().is_none_or(|(key, value)| self.config.get(key) == Some(value))
    }

    fn text(&mut self, step: &InputStep, secret: bool) -> anyhow::Result<String> {
        if let Some(value) = self.given.remove(&step.key) {
            return Ok(value);
        }
        if !self.interactive {
            if let Some(default) = &step.default_value {
                return Ok(default.clone());
            }
            if !step.required {
                return Ok(String::new());
            }
            return Err(missing(&step.key, &step.label));
        }
        loop {
            if let Some(help) = &step.help {
                prompt::say(&format!("  {help}"));
            }
            let question = match &step.default_value {
                Some(default) => format!("{} [{default}]: ", step.label),
                None => format!("{}: ", step.label),
            };
            let answer = if secret { prompt::ask_secret(&question)? } else { prompt::ask(&question)? };
            let answer = if answer.is_empty() { step.default_value.clone().unwrap_or_default() } else { answer };
            if !answer.is_empty() || !step.required {
                return Ok(answer);
            }
            prompt::say("  a value is required");
        }
    }

    fn choice(&mut self, step: &SelectStep, options: &[SelectOption]) -> anyhow::Result<String> {
        if let Some(value) = self.given.remove(&step.key) {
            let chosen: Vec<&str> =
                if step.multiple { value.split(',').map(str::trim).collect() } else { vec![value.as_str()] };
            for choice in chosen.iter().filter(|c| !c.is_empty()) {
                if !options.is_empty() && !options.iter().any(|o| o.value == *choice) {
                    let valid: Vec<&str> = options.iter().map(|o| o.value.as_str()).collect();
                    return Err(Failure::new(
                        "invalid_choice",
                        format!("`{choice}` is not an option of `{}`", step.key),
                        format!("options: {}", valid.join(", ")),
                    )
                    .into());
                }
            }
            return Ok(value);
        }
        if !self.interactive || options.is_empty() {
            // Without a terminal: every option for a multiple choice (empty = all), the first otherwise.
            return Ok(if step.multiple {
                String::new()
            } else {
                options.first().map(|o| o.value.clone()).unwrap_or_default()
            });
        }
        prompt::say(&format!("{}:", step.label));
        for (i, option) in options.iter().enumerate() {
            prompt::say(&format!("  {}. {}", i + 1, option.label));
        }
        let hint = if step.multiple { "numbers separated by commas, empty for all" } else { "a number" };
        loop {
            let line = prompt::ask(&format!("Choose ({hint}): "))?;
            let picks: Option<Vec<&SelectOption>> = line
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| p.parse::<usize>().ok().and_then(|n| options.get(n.wrapping_sub(1))))
                .collect();
            match picks {
                Some(picks) if picks.is_empty() && step.multiple => return Ok(String::new()),
                Some(picks) if !picks.is_empty() && (step.multiple || picks.len() == 1) => {
                    return Ok(picks.iter().map(|o| o.value.as_str()).collect::<Vec<_>>().join(","));
                }
                _ => prompt::say(&format!("  please enter {hint}")),
            }
        }
    }
}

fn missing(key: &str, label: &str) -> anyhow::Error {
    Failure::new(
        "missing_value",
        format!("no value for `{key}` ({label}) and stdin is not a terminal to ask"),
        format!("pass it with --set {key}=VALUE"),
    )
    .into()
}

/// Runs the connector's `validate`; secrets it refreshed on the way (OAuth tokens) replace the answers.
async fn validate(project: &Project, connector: &InstalledConnector, answers: &mut Answers) -> anyhow::Result<String> {
    let secrets = Arc::new(FileSecrets::from_pairs(answers.secrets.clone()));
    let live = live_connector(&runtime()?, project, connector, &answers.config, secrets.clone(), &answers.sandbox, 1)?;
    let mut instance = live.pool.get().await?;
    let summary = instance.validate().await;
    answers.secrets = secrets.snapshot();
    Ok(summary?)
}

async fn dynamic_options(
    project: &Project,
    connector: &InstalledConnector,
    answers: &mut Answers,
    step: &SelectStep,
) -> anyhow::Result<Vec<SelectOption>> {
    let secrets = Arc::new(FileSecrets::from_pairs(answers.secrets.clone()));
    let live = live_connector(&runtime()?, project, connector, &answers.config, secrets.clone(), &answers.sandbox, 1)?;
    let mut instance = live.pool.get().await?;
    let options = instance.select_options(&step.key).await;
    answers.secrets = secrets.snapshot();
    Ok(options?)
}
