//! Onboarding as a state machine: a connector's steps asked in order ([`Onboarding::next`]), each answer
//! checked as it is given ([`Onboarding::answer`]), validation against the real API with who is at fault
//! when it fails ([`Onboarding::validate`]), and the installation written only when every answer held
//! ([`Onboarding::finish`]). A front end only asks the questions: the CLI prompts, a daemon could ask
//! over its API. Every call of one onboarding shares the host's one runtime.

use crate::data::ConnectorError;
use crate::front::Host;
use crate::live::{LiveConnector, live_connector};
use crate::manifest::{InputStep, OnboardingStep, SelectOption, SelectStep};
use crate::project::{FileSecrets, Installation, InstallationFile, InstalledConnector, SandboxSettings};
use crate::{Error, Result};
use std::collections::BTreeMap;
use std::sync::Arc;

/// How many times an onboarding call the API rate-limited or failed for a moment is tried again.
const ONBOARDING_RETRIES: u32 = 4;
/// The longest wait before one of those tries (the person at the prompt is waiting too).
const ONBOARDING_LONGEST_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Awaits a connector call, trying it again, after the wait the API asked for, when it was rate
/// limited or failed for a moment (a 503, a secondary rate limit), as a sync would.
macro_rules! patiently {
    ($call:expr) => {{
        let mut attempt = 0;
        loop {
            match $call.await {
                Err(error) => match crate::sync::retry_delay(&error, attempt, ONBOARDING_LONGEST_WAIT) {
                    Some(wait) if attempt < ONBOARDING_RETRIES => {
                        attempt += 1;
                        tokio::time::sleep(wait).await;
                    }
                    _ => break Err(error),
                },
                done => break done,
            }
        }
    }};
}

/// What an onboarding asks for, and what it was told before.
#[derive(Debug, Clone)]
pub struct ConnectRequest {
    /// The installed connector.
    pub connector: String,
    /// The installation's name.
    pub name: String,
    /// Reconnect an existing installation: its answers, secrets, hosts and limits are kept unless
    /// given anew.
    pub replace: bool,
    /// Keep only these of the hosts the connector was granted (empty: all).
    pub hosts: Vec<String>,
    /// The installation's own limits, `key=value`.
    pub limits: Vec<String>,
}

/// The question an onboarding asks now.
#[derive(Debug, Clone, PartialEq)]
pub enum Ask {
    /// A text, stored in the config.
    Input {
        /// The step.
        step: InputStep,
        /// What an empty answer keeps: the answer given before, or the step's default.
        current: Option<String>,
    },
    /// A secret, stored in the credential store; never shown back.
    Secret {
        /// The step.
        step: InputStep,
        /// Whether an empty answer keeps a secret given before.
        has_current: bool,
    },
    /// A choice among `options` (fetched from the connector for a dynamic step).
    Select {
        /// The step.
        step: SelectStep,
        /// The options.
        options: Vec<SelectOption>,
        /// What an empty answer keeps: the answer given before (for several: comma-separated values).
        current: Option<String>,
    },
    /// Checking the answers so far against the API: call [`Onboarding::validate`].
    Validate {
        /// What is being checked.
        label: String,
    },
    /// Every step is answered: call [`Onboarding::finish`].
    Done,
}

/// Whose fault a failed validation is, which says whether asking again can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// The answers: the API refused them, or the connector found one invalid.
    Answers,
    /// The API or the way to it failed (unreachable, 5xx, rate limited): trying again may work.
    Service,
    /// The connector itself failed (crashed, hit a limit, was refused): asking again can't help.
    Connector,
}

impl Fault {
    /// The fault of `error`, raised while validating.
    pub fn of(error: &Error) -> Fault {
        match error {
            Error::ConnectorFailed { error, .. } => match error {
                ConnectorError::Unauthorized(_)
                | ConnectorError::Forbidden(_)
                | ConnectorError::NotFound(_)
                | ConnectorError::InvalidInput(_) => Fault::Answers,
                ConnectorError::RateLimited(_)
                | ConnectorError::Transient(_)
                | ConnectorError::InvalidResponse(_)
                | ConnectorError::Other(_) => Fault::Service,
            },
            _ => Fault::Connector,
        }
    }

    /// Whether asking the questions again may end differently.
    pub fn retryable(self) -> bool {
        self != Fault::Connector
    }
}

/// A connector's onboarding in progress for one installation.
pub struct Onboarding<'h> {
    host: &'h Host,
    connector: InstalledConnector,
    name: String,
    replace: bool,
    sandbox: SandboxSettings,
    /// Answers given before: by the installation replaced, or in an earlier round of this onboarding.
    previous: Answers,
    /// Answers of this round.
    answers: Answers,
    position: usize,
    /// Options of the dynamic step at `position`, once fetched.
    options: Option<Vec<SelectOption>>,
    validated: Vec<String>,
}

#[derive(Debug, Clone, Default)]
struct Answers {
    config: BTreeMap<String, String>,
    secrets: BTreeMap<String, String>,
}

/// An installation that onboarding wrote.
#[derive(Debug, Clone)]
pub struct Connected {
    /// The installation.
    pub installation: Installation,
    /// What each validation reported (the account it reached).
    pub validated: Vec<String>,
}

impl std::fmt::Debug for Onboarding<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Onboarding")
            .field("connector", &self.connector.name)
            .field("name", &self.name)
            .field("position", &self.position)
            .finish_non_exhaustive()
    }
}

impl Host {
    /// Starts onboarding `request.connector` as the installation `request.name`: refused before any
    /// question when the name is invalid or taken (without `replace`), a host was not granted, or a
    /// limit is invalid.
    pub fn onboard(&self, request: &ConnectRequest) -> Result<Onboarding<'_>> {
        let connector = self.project().connectors().get(&request.connector)?;
        if !crate::project::valid_name(&request.name) {
            return Err(Error::InvalidName { name: request.name.clone() });
        }
        let label = format!("{}/{}", connector.name, request.name);
        let installations = self.project().installations();
        let existing = match installations.exists(&connector.name, &request.name) {
            true if !request.replace => return Err(Error::InstallationExists { label }),
            true => Some(installations.find(&label)?),
            false => None,
        };
        let declared: Vec<&str> = connector.granted.hosts.iter().map(|h| h.host.as_str()).collect();
        if let Some(host) = request.hosts.iter().find(|h| !declared.contains(&h.as_str())) {
            return Err(Error::UngrantedHost {
                connector: connector.name.clone(),
                host: host.clone(),
                granted: declared.iter().map(|h| h.to_string()).collect(),
            });
        }
        let (mut sandbox, previous) = match &existing {
            Some(installation) => (
                installation.file.sandbox.clone(),
                Answers { config: installation.file.config.clone(), secrets: installation.secrets()?.snapshot() },
            ),
            None => (SandboxSettings::default(), Answers::default()),
        };
        if !request.hosts.is_empty() {
            sandbox.hosts = Some(request.hosts.clone());
        }
        for assignment in &request.limits {
            let (setting, value) = crate::limits::parse_assignment(assignment)?;
            sandbox.limits.insert(setting.key.to_string(), value);
        }
        Ok(Onboarding {
            host: self,
            connector,
            name: request.name.clone(),
            replace: request.replace,
            sandbox,
            previous,
            answers: Answers::default(),
            position: 0,
            options: None,
            validated: Vec::new(),
        })
    }
}

impl Onboarding<'_> {
    /// The connector being onboarded.
    pub fn connector(&self) -> &InstalledConnector {
        &self.connector
    }

    /// The keys the steps store answers under (for checking answers given up front).
    pub fn keys(&self) -> Vec<&str> {
        self.connector
            .info
            .onboarding
            .iter()
            .filter_map(|s| match s {
                OnboardingStep::Input(i) | OnboardingStep::Secret(i) => Some(i.key.as_str()),
                OnboardingStep::Select(s) => Some(s.key.as_str()),
                OnboardingStep::Validate { .. } => None,
            })
            .collect()
    }

    /// What is asked now: the next step whose condition holds (a dynamic select's options fetched from
    /// the connector with the answers so far), a validation, or [`Ask::Done`].
    pub async fn next(&mut self) -> Result<Ask> {
        loop {
            let Some(step) = self.connector.info.onboarding.get(self.position).cloned() else { return Ok(Ask::Done) };
            let ask = match step {
                OnboardingStep::Input(input) | OnboardingStep::Secret(input) if !self.shown(&input) => {
                    self.position += 1;
                    continue;
                }
                OnboardingStep::Input(input) => Ask::Input { current: self.current_input(&input), step: input },
                OnboardingStep::Secret(input) => {
                    Ask::Secret { has_current: self.previous.secrets.contains_key(&input.key), step: input }
                }
                OnboardingStep::Select(select) => {
                    let options = match (&self.options, select.dynamic) {
                        (Some(options), _) => options.clone(),
                        (None, true) => {
                            let options = self.dynamic_options(&select.key).await?;
                            self.options = Some(options.clone());
                            options
                        }
                        (None, false) => select.options.clone(),
                    };
                    let current = self.previous.config.get(&select.key).cloned();
                    Ask::Select { step: select, options, current }
                }
                OnboardingStep::Validate { label } => Ask::Validate { label },
            };
            return Ok(ask);
        }
    }

    /// Answers the step asked now; `None` (or an empty answer) keeps what [`Ask`] called current, else
    /// leaves an optional step empty. Refused (the step stays asked) with [`Error::AnswerMissing`] when a
    /// required value is missing, with [`Error::AnswerRefused`] when a choice is not an option, or a base URL is malformed or its server
    /// can't be reached.
    pub async fn answer(&mut self, value: Option<&str>) -> Result<()> {
        let value = value.filter(|v| !v.is_empty());
        let step = self.connector.info.onboarding.get(self.position).cloned();
        match step {
            Some(OnboardingStep::Input(input)) => {
                let answer = value.map(str::to_string).or(self.current_input(&input)).unwrap_or_default();
                if answer.is_empty() && input.required {
                    return Err(Error::AnswerMissing { key: input.key });
                }
                if self.connector.granted.base_url_key.as_deref() == Some(input.key.as_str()) && !answer.is_empty() {
                    crate::reach::check(&answer).await.map_err(|reason| refused(&input.key, reason))?;
                }
                self.answers.config.insert(input.key, answer);
            }
            Some(OnboardingStep::Secret(input)) => {
                let answer =
                    value.map(str::to_string).or(self.previous.secrets.get(&input.key).cloned()).unwrap_or_default();
                if answer.is_empty() && input.required {
                    return Err(Error::AnswerMissing { key: input.key });
                }
                self.answers.secrets.insert(input.key, answer);
            }
            Some(OnboardingStep::Select(select)) => {
                let options = self.options.take().unwrap_or_else(|| select.options.clone());
                let answer = match value {
                    Some(value) => value.to_string(),
                    None => match self.previous.config.get(&select.key) {
                        Some(previous) => previous.clone(),
                        // Several: empty means all. One: the first option.
                        None if select.multiple => String::new(),
                        None => options.first().map(|o| o.value.clone()).unwrap_or_default(),
                    },
                };
                if let Err(error) = check_choice(&select, &options, &answer) {
                    self.options = Some(options);
                    return Err(error);
                }
                self.answers.config.insert(select.key, answer);
            }
            Some(OnboardingStep::Validate { .. }) | None => {
                return Err(Error::Runtime("onboarding: no question is being asked".to_string()));
            }
        }
        self.position += 1;
        Ok(())
    }

    /// Runs the connector's `validate` with the answers so far and returns what it reached (the
    /// account). A failure of the answers or of the API is [`Error::ValidationFailed`] with its
    /// [`Fault`], after which [`Onboarding::retry`] asks the questions again; a failure of the
    /// connector itself is returned as it is.
    pub async fn validate(&mut self) -> Result<String> {
        let result = async {
            let (live, secrets) = self.live()?;
            let mut instance = live.pool.get().await?;
            let summary = patiently!(instance.validate());
            // What the account adds to the schema is read now too, so a connection that can't read it
            // fails here rather than at the first sync (which discovers again).
            let summary = match summary {
                Ok(summary) => patiently!(instance.discover()).and_then(|found| {
                    crate::manifest::check_extension(&live.info, &found)?;
                    Ok(match found.field_count() {
                        0 => summary,
                        n => format!("{summary} ({n} fields of its own found)"),
                    })
                }),
                Err(error) => Err(error),
            };
            self.answers.secrets = secrets.snapshot();
            summary
        }
        .await;
        match result {
            Ok(summary) => {
                self.validated.push(summary.clone());
                self.position += 1;
                Ok(summary)
            }
            Err(error) => Err(self.validation_failed(error)),
        }
    }

    /// Starts the questions again from the first, each answer given so far kept as its current value.
    pub fn retry(&mut self) {
        let answers = std::mem::take(&mut self.answers);
        self.previous.config.extend(answers.config);
        self.previous.secrets.extend(answers.secrets);
        self.position = 0;
        self.options = None;
        self.validated.clear();
    }

    /// Checks the complete answers with the connector (its `initialise` refuses an invalid one, like a
    /// `page_size` that is not a number) and writes the installation: its config, its secrets (0600),
    /// its hosts and limits. Nothing is written when the check fails ([`Error::ValidationFailed`]).
    pub async fn finish(&mut self) -> Result<Connected> {
        if self.position < self.connector.info.onboarding.len() {
            return Err(Error::Runtime("onboarding: not every step was answered".to_string()));
        }
        let check = async {
            let (live, _) = self.live()?;
            live.pool.get().await.map(drop)
        };
        if let Err(error) = check.await {
            return Err(self.validation_failed(error));
        }
        let config = self.answers.config.clone();
        let mut file = InstallationFile::new(&self.connector.name, &self.name, &self.connector.version, config);
        file.sandbox = self.sandbox.clone();
        let installation = self.host.project().installations().create(file, &self.answers.secrets, self.replace)?;
        Ok(Connected { installation, validated: self.validated.clone() })
    }

    /// What an empty answer to `step` keeps: the answer given before, or the step's default.
    fn current_input(&self, step: &InputStep) -> Option<String> {
        self.previous.config.get(&step.key).or(step.default_value.as_ref()).cloned()
    }

    /// Whether `step` is asked: it has no condition, or the step it depends on got that answer.
    fn shown(&self, step: &InputStep) -> bool {
        step.shown_when.as_ref().is_none_or(|(key, value)| self.answers.config.get(key) == Some(value))
    }

    /// The connector with the answers so far, and the secrets it may refresh (OAuth tokens).
    fn live(&self) -> Result<(LiveConnector, Arc<FileSecrets>)> {
        let secrets = Arc::new(FileSecrets::from_pairs(self.answers.secrets.clone()));
        let live = live_connector(
            self.host.runtime()?,
            self.host.project(),
            &self.connector,
            &self.answers.config,
            secrets.clone(),
            &self.sandbox,
            1,
        )?;
        Ok((live, secrets))
    }

    async fn dynamic_options(&mut self, key: &str) -> Result<Vec<SelectOption>> {
        let (live, secrets) = self.live()?;
        let mut instance = live.pool.get().await?;
        let options = patiently!(instance.select_options(key));
        self.answers.secrets = secrets.snapshot();
        options
    }

    /// The error a failed check ends with: the connector's own failures (crashed, tampered, over a
    /// limit) as they are, the others as [`Error::ValidationFailed`] saying whose fault they are.
    fn validation_failed(&self, error: Error) -> Error {
        let fault = Fault::of(&error);
        if fault == Fault::Connector {
            return error;
        }
        // The step an answer-fault names, when its message names one of the keys asked.
        let text = error.to_string();
        let step = match fault {
            Fault::Answers => self.keys().into_iter().find(|key| text.contains(key)).map(str::to_string),
            _ => None,
        };
        Error::ValidationFailed { connector: self.connector.name.clone(), fault, step, cause: Box::new(error) }
    }
}

fn refused(key: &str, reason: impl Into<String>) -> Error {
    Error::AnswerRefused { key: key.to_string(), reason: reason.into() }
}

/// `answer` is an option of `step` (every one of them, for several; empty for several means all).
fn check_choice(step: &SelectStep, options: &[SelectOption], answer: &str) -> Result<()> {
    let chosen: Vec<&str> =
        if step.multiple { answer.split(',').map(str::trim).filter(|c| !c.is_empty()).collect() } else { vec![answer] };
    if !step.multiple && answer.is_empty() {
        return Err(refused(&step.key, "choose one of the options"));
    }
    if options.is_empty() {
        return Ok(());
    }
    match chosen.iter().find(|c| !options.iter().any(|o| o.value == **c)) {
        Some(choice) => {
            let valid: Vec<&str> = options.iter().map(|o| o.value.as_str()).collect();
            Err(refused(&step.key, format!("`{choice}` is not one of the options: {}", valid.join(", "))))
        }
        None => Ok(()),
    }
}
