//! The host's error type: one enum whose variants say what the caller (the CLI, a test) can act on.

use std::path::PathBuf;

/// `Result` with the host's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which limit stopped a connector call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    /// The CPU time of one call.
    Cpu,
    /// The wall-clock time of one call.
    WallClock,
    /// Linear memory.
    Memory,
    /// The size of a result.
    ResultSize,
    /// WebAssembly instances in one store.
    Instances,
    /// WebAssembly tables in one store.
    Tables,
    /// Elements of one table.
    TableElements,
    /// The length of an entity id.
    IdSize,
    /// The size of one text or JSON value.
    ValueSize,
    /// The nesting of a JSON value.
    JsonDepth,
    /// The length of a cursor.
    CursorSize,
    /// Pages of one collection in one sync.
    CollectionPages,
    /// Pages of one change feed in one sync.
    FeedPages,
    /// Pages in a row that add nothing new.
    IdlePages,
    /// Time one sync may spend waiting to retry.
    WaitBudget,
}

impl LimitKind {
    /// The per-installation setting of this limit (see [`crate::limits::SETTINGS`]).
    pub fn setting(self) -> &'static str {
        match self {
            LimitKind::Cpu => "cpu-seconds",
            LimitKind::WallClock => "call-timeout-seconds",
            LimitKind::Memory => "memory-mib",
            LimitKind::ResultSize => "result-mib",
            LimitKind::Instances => "instances",
            LimitKind::Tables => "tables",
            LimitKind::TableElements => "table-elements",
            LimitKind::IdSize => "id-bytes",
            LimitKind::ValueSize => "value-mib",
            LimitKind::JsonDepth => "json-depth",
            LimitKind::CursorSize => "cursor-kib",
            LimitKind::CollectionPages => "collection-pages",
            LimitKind::FeedPages => "feed-pages",
            LimitKind::IdlePages => "idle-pages",
            LimitKind::WaitBudget => "wait-budget-seconds",
        }
    }
}

impl std::fmt::Display for LimitKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LimitKind::Cpu => "CPU time limit",
            LimitKind::WallClock => "wall-clock time limit",
            LimitKind::Memory => "memory limit",
            LimitKind::ResultSize => "result size limit",
            LimitKind::Instances => "instance count limit",
            LimitKind::Tables => "table count limit",
            LimitKind::TableElements => "table size limit",
            LimitKind::IdSize => "id size limit",
            LimitKind::ValueSize => "value size limit",
            LimitKind::JsonDepth => "JSON depth limit",
            LimitKind::CursorSize => "cursor size limit",
            LimitKind::CollectionPages => "page limit per collection",
            LimitKind::FeedPages => "page limit per change feed",
            LimitKind::IdlePages => "limit of pages that add nothing",
            LimitKind::WaitBudget => "wait budget",
        })
    }
}

/// Everything that can go wrong in the host.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file is not WebAssembly at all.
    #[error("{path} is not a WebAssembly file")]
    NotWasm {
        /// The file.
        path: String,
    },
    /// The file is a core module, not a component.
    #[error("{path} is a WebAssembly core module, not a component")]
    CoreModule {
        /// The file.
        path: String,
    },
    /// The component could not be decoded or compiled (truncated, corrupt).
    #[error("{path} is not a valid WebAssembly component: {reason}")]
    InvalidComponent {
        /// The file.
        path: String,
        /// The decoder's reason.
        reason: String,
    },
    /// The component does not implement the connector contract at all.
    #[error("{path} is not a Max connector: it does not export `max:connector/source` (it exports {exports})")]
    NotAConnector {
        /// The file.
        path: String,
        /// What it exports instead.
        exports: String,
    },
    /// The component was built against a contract version this host can't run.
    #[error("{path} was built against max:connector@{found}, but this max runs max:connector {supported}")]
    IncompatibleContract {
        /// The file.
        path: String,
        /// The version the component uses.
        found: semver::Version,
        /// The versions this host supports.
        supported: String,
    },
    /// The component imports something the host does not provide.
    #[error("{path} imports {imports}, which Max does not provide to connectors")]
    UnsupportedImports {
        /// The file.
        path: String,
        /// The missing imports.
        imports: String,
    },
    /// The connector's description is inconsistent.
    #[error("connector `{connector}` describes itself inconsistently: {}", problems.join("; "))]
    InvalidDescription {
        /// The connector.
        connector: String,
        /// Every problem found.
        problems: Vec<String>,
    },
    /// What a connector discovered in the account can't be added to its schema (nothing was stored).
    #[error("connector `{connector}` discovered fields that can't be added to its schema: {}", problems.join("; "))]
    InvalidDiscovery {
        /// The connector.
        connector: String,
        /// Every problem found.
        problems: Vec<String>,
    },
    /// A connector call hit a resource limit and was stopped.
    #[error("connector `{connector}` exceeded its {limit} (`{}`) in `{call}`{}", limit.setting(), detail_suffix(detail))]
    LimitExceeded {
        /// The connector.
        connector: String,
        /// The call.
        call: String,
        /// The limit.
        limit: LimitKind,
        /// What the limit was.
        detail: String,
    },
    /// A per-installation limit was named or set wrongly.
    #[error("limit `{setting}`: {reason}")]
    InvalidLimit {
        /// The setting as given.
        setting: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The connector crashed (panic, trap).
    #[error("connector `{connector}` crashed in `{call}`: {reason}")]
    ConnectorCrashed {
        /// The connector.
        connector: String,
        /// The call.
        call: String,
        /// The panic message or trap.
        reason: String,
    },
    /// The connector returned a typed error.
    #[error("connector `{connector}` failed in `{call}`: {error}")]
    ConnectorFailed {
        /// The connector.
        connector: String,
        /// The call.
        call: String,
        /// The connector's error.
        error: crate::ConnectorError,
    },
    /// A connector's description asks for more than the install limits allow (entity types, fields,
    /// loaders, the size of the description).
    #[error("connector `{connector}` {what}, more than the {limit} allowed (install limit `{setting}`)")]
    DescriptionTooLarge {
        /// The connector.
        connector: String,
        /// What it declares (`declares 50000 entity types`).
        what: String,
        /// The limit's value.
        limit: u64,
        /// The install limit's setting.
        setting: String,
    },
    /// No `.max/` project was found.
    #[error("no Max project in {} or any parent folder", start.display())]
    ProjectNotFound {
        /// Where the search started.
        start: PathBuf,
    },
    /// `max init` found a project already.
    #[error("{} already holds a Max project", root.display())]
    ProjectExists {
        /// The project root.
        root: PathBuf,
    },
    /// No installed connector has this name.
    #[error("no connector named `{name}` is installed")]
    ConnectorNotInstalled {
        /// The name asked for.
        name: String,
        /// The installed names.
        installed: Vec<String>,
    },
    /// An installed component's bytes no longer match the hash recorded at install.
    #[error("the installed component of `{name}` ({}) was modified after install: sha256 {found}, expected {expected}", path.display())]
    Tampered {
        /// The connector.
        name: String,
        /// Its file.
        path: PathBuf,
        /// The recorded hash.
        expected: String,
        /// The hash of the file now.
        found: String,
    },
    /// The connector still has installations.
    #[error("connector `{name}` still has installations: {}", installations.join(", "))]
    ConnectorInUse {
        /// The connector.
        name: String,
        /// Its installations.
        installations: Vec<String>,
    },
    /// A name that is not a connector name.
    #[error("`{name}` is not a connector name: lowercase letters, digits and `-`, starting with a letter")]
    InvalidConnectorName {
        /// The name.
        name: String,
    },
    /// A folder is not a connector project Max can build.
    #[error("{} is not a connector project: {reason}", dir.display())]
    NotAConnectorProject {
        /// The folder.
        dir: PathBuf,
        /// What is missing or wrong.
        reason: String,
    },
    /// A tool a connector build needs is not installed.
    #[error("{tool} is not installed")]
    ToolMissing {
        /// The tool (with the version Max pins).
        tool: String,
        /// How to install it.
        install: String,
    },
    /// `max connector test` can't run as asked (a missing setting, an unreadable cassette).
    #[error("can't test the connector: {reason}")]
    TestSetup {
        /// Why.
        reason: String,
    },
    /// A connector build failed.
    #[error("{tool} could not build {}:\n{output}", dir.display())]
    BuildFailed {
        /// The project.
        dir: PathBuf,
        /// The tool that failed.
        tool: String,
        /// The end of what it said.
        output: String,
    },
    /// A file could not be read or written.
    #[error("could not {action} {}: {source}", path.display())]
    Io {
        /// What was being done (`read`, `write`).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A project file is not valid JSON of the expected shape.
    #[error("{} is damaged: {source}", path.display())]
    DamagedFile {
        /// The file.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// A project file would not read back as what was meant to be written; the old file is kept.
    #[error("could not write {}: {reason}", path.display())]
    UnwritableFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// One installed connector's record can't be read; the others still work.
    #[error("the installed connector `{name}` is damaged: {reason}")]
    DamagedConnector {
        /// The connector's name (as far as it could be read).
        name: String,
        /// What is wrong with its record.
        reason: String,
    },
    /// No installation matches.
    #[error("{}", if *ambiguous { format!("`{spec}` has several installations; say which one") } else { format!("no installation `{spec}`") })]
    InstallationNotFound {
        /// What was asked for.
        spec: String,
        /// Every installation.
        available: Vec<String>,
        /// Whether several matched.
        ambiguous: bool,
    },
    /// `max connect` would overwrite an installation.
    #[error("installation `{label}` already exists")]
    InstallationExists {
        /// `connector/name`.
        label: String,
    },
    /// A name that is not `[a-z0-9][a-z0-9_-]*`.
    #[error("`{name}` is not a valid installation name (lowercase letters, digits, `-` and `_`)")]
    InvalidName {
        /// The name.
        name: String,
    },
    /// A sync plan step can't be carried out with the connector's loaders.
    #[error("the connector's sync plan is invalid: {reason}")]
    InvalidPlan {
        /// What is wrong.
        reason: String,
    },
    /// The database failed.
    #[error("database error in {path}: {message}")]
    Storage {
        /// The database file.
        path: String,
        /// SQLite's message.
        message: String,
    },
    /// A PostgreSQL server couldn't be reached, or refused the connection (TLS, password, rules).
    #[error("can't connect to {url}: {reason}")]
    DatabaseUnreachable {
        /// The database's URL, its password hidden.
        url: String,
        /// What the network, TLS or the server said.
        reason: String,
    },
    /// An installation's database can't be read as one: damaged, truncated, or not Max's.
    #[error("the database {path} is corrupt: {reason}")]
    CorruptDatabase {
        /// The database file.
        path: String,
        /// What SQLite (or the check) said.
        reason: String,
    },
    /// An installation was to keep a host its connector was not granted.
    #[error("{connector} was not granted `{host}`, so it can't be kept")]
    UngrantedHost {
        /// The connector.
        connector: String,
        /// The host asked for.
        host: String,
        /// The hosts it was granted.
        granted: Vec<String>,
    },
    /// A required onboarding step got no answer.
    #[error("`{key}`: a value is required")]
    AnswerMissing {
        /// The step's key.
        key: String,
    },
    /// An onboarding answer was refused; the step is asked again.
    #[error("`{key}`: {reason}")]
    AnswerRefused {
        /// The step's key.
        key: String,
        /// Why.
        reason: String,
    },
    /// Onboarding's check against the API (or the connector's check of the answers) failed; nothing
    /// was saved.
    #[error("could not connect {connector}: {cause}")]
    ValidationFailed {
        /// The connector.
        connector: String,
        /// Whose fault it is: the answers', or the API's (never the connector's: those errors are
        /// returned as they are).
        fault: crate::onboarding::Fault,
        /// The step whose answer is at fault, when the error names one.
        step: Option<String>,
        /// What failed.
        cause: Box<Error>,
    },
    /// Nothing answers at an installation's base URL: the sync did not start.
    #[error("{reason}, so the sync did not start")]
    Unreachable {
        /// `connector/name`.
        label: String,
        /// The config key holding the base URL.
        key: String,
        /// The base URL.
        url: String,
        /// What happened.
        reason: String,
    },
    /// A schedule that can't be kept: an interval under a second, a cron expression that doesn't
    /// parse.
    #[error("the schedule is refused: {reason}")]
    BadSchedule {
        /// Why.
        reason: String,
    },
    /// A SQL query Max won't run: it would write, attach, or isn't one statement.
    #[error("the query is refused: {reason}")]
    SqlRefused {
        /// Why.
        reason: String,
    },
    /// SQLite could not run a query (its own words, about the query).
    #[error("the query failed: {message}")]
    SqlFailed {
        /// SQLite's message.
        message: String,
    },
    /// A query ran past its time limit and was stopped.
    #[error("the query was stopped after {seconds} s, its time limit")]
    SqlTimeout {
        /// The limit.
        seconds: f64,
    },
    /// An installation was searched before its first sync.
    #[error("{label} has not been synced yet")]
    NotSynced {
        /// `connector/name`.
        label: String,
    },
    /// The database may not grow any more: the installation's size limit, or the disk.
    #[error("the database {path} is full: it reached its installation's size limit, or the disk is full")]
    DatabaseFull {
        /// The database file.
        path: String,
    },
    /// A field changed type between the stored data and the connector.
    #[error("{entity}.{field} is stored as {stored} but the connector now declares it {declared}")]
    SchemaConflict {
        /// The entity.
        entity: String,
        /// The field.
        field: String,
        /// The stored type.
        stored: String,
        /// The declared type.
        declared: String,
    },
    /// The connector returned data that doesn't fit its own schema.
    #[error("the connector returned invalid data for {entity}{}{}: {reason}", if id.is_empty() { String::new() } else { format!(" {id}") }, if field.is_empty() { String::new() } else { format!(", field `{field}`") })]
    InvalidData {
        /// The entity.
        entity: String,
        /// The row's id, when known.
        id: String,
        /// The field, when known.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// A search could not be understood.
    #[error("{message}")]
    Query {
        /// What is wrong.
        message: String,
        /// What to do (may span lines: it can show the filter with a caret).
        hint: Option<String>,
    },
    /// The runtime itself failed (engine setup, linking).
    #[error("the WebAssembly runtime failed: {0}")]
    Runtime(String),
    /// A `--storage` that names no storage Max has.
    #[error("`{given}` is not a storage: {reason}")]
    InvalidStorage {
        /// What was given (a URL without its password).
        given: String,
        /// Why it isn't.
        reason: String,
    },
    /// Another process sharing the project's database is syncing this installation.
    #[error("{label} is being synced by another max sharing the project's database")]
    SyncBusyElsewhere {
        /// `connector/name`.
        label: String,
    },
    /// `max worker` on a project whose data is in SQLite files, which one machine alone writes.
    #[error("workers share a project's syncs through PostgreSQL, and this project keeps its data in SQLite files")]
    WorkersNeedPostgres,
    /// A task's claim expired and another process took it: what this one did is not stored.
    #[error("task {task} was taken over by another worker after this one's lease expired; its work was not stored")]
    LeaseLost {
        /// The task.
        task: crate::task::TaskId,
    },
    /// Another process is syncing this installation.
    #[error("{label} is being synced by another max (pid {pid}, since {since})")]
    SyncBusy {
        /// `connector/name`.
        label: String,
        /// The process holding the installation.
        pid: u32,
        /// When it started.
        since: String,
    },
    /// `--resume` named a sync that does not exist or can't be resumed.
    #[error("sync #{id} can't be resumed: {reason}")]
    NotResumable {
        /// The sync named.
        id: i64,
        /// Why not.
        reason: String,
    },
    /// A key file is not a key.
    #[error("{path}: {reason}")]
    BadKey {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A component's signature is missing or doesn't hold.
    #[error("the signature {path} doesn't hold: {reason}")]
    BadSignature {
        /// The signature file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A valid signature by a key the user does not trust.
    #[error("the component is signed by a key you don't trust ({key})")]
    UntrustedSigner {
        /// The signer's public key.
        key: String,
    },
    /// A name in the trust policy is refused, or names no key.
    #[error("trusted key `{name}`: {reason}")]
    TrustName {
        /// The name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// An `oci://` reference doesn't parse.
    #[error("`{reference}` is not a registry reference: {reason}")]
    BadReference {
        /// What was given.
        reference: String,
        /// What is wrong.
        reason: String,
    },
    /// A registry could not be reached, or failed.
    #[error("registry {registry}: {reason}")]
    RegistryUnreachable {
        /// The registry (`host:port`).
        registry: String,
        /// What happened.
        reason: String,
    },
    /// A registry refused the credentials (or asked for some).
    #[error("registry {registry} refused access: {reason}")]
    RegistryDenied {
        /// The registry.
        registry: String,
        /// What it said.
        reason: String,
    },
    /// Nothing at a reference: no such repository, tag or digest.
    #[error("{reference}: not in the registry ({reason})")]
    ArtifactNotFound {
        /// The reference.
        reference: String,
        /// What the registry said.
        reason: String,
    },
    /// An artifact that is not a WebAssembly component as the Wasm OCI artifact layout packs one.
    #[error("{reference} is not a connector artifact: {reason}")]
    NotAComponentArtifact {
        /// The reference.
        reference: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Downloaded bytes that don't hash to the digest they were asked for by.
    #[error("{reference}: the {what} downloaded has digest {found}, not {expected}")]
    DigestMismatch {
        /// The reference.
        reference: String,
        /// What was downloaded (`component`, `manifest`).
        what: String,
        /// The digest asked for.
        expected: String,
        /// The digest of what came.
        found: String,
    },
    /// An artifact larger than the download limit.
    #[error("{reference}: the {what} is {size} bytes, more than the {limit} allowed")]
    ArtifactTooLarge {
        /// The reference.
        reference: String,
        /// What was downloaded (`component`, `signature`).
        what: String,
        /// Its size, as announced or as downloaded so far.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// An artifact from a registry without a signature.
    #[error("{reference} is not signed by its publisher")]
    UnsignedArtifact {
        /// The reference.
        reference: String,
    },
    /// A connector that can't be upgraded from a registry.
    #[error("{name} can't be upgraded: {reason}")]
    NotUpgradable {
        /// The connector.
        name: String,
        /// Why.
        reason: String,
    },
    /// A tag that points at other bytes than the lock file recorded.
    #[error("{reference} now points at {found}, not at the {locked} the lock file recorded for {name}")]
    LockMismatch {
        /// The connector.
        name: String,
        /// The reference.
        reference: String,
        /// The digest in the lock file.
        locked: String,
        /// The digest the registry has now.
        found: String,
    },
    /// `--retry-failed` found no failed tasks to run again.
    #[error("{label} has no failed tasks to retry: {reason}")]
    NothingToRetry {
        /// `connector/name`.
        label: String,
        /// Why.
        reason: String,
    },
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() { String::new() } else { format!(" ({detail})") }
}

impl Error {
    /// A stable code for scripts (`max ... -o json` prints it).
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotWasm { .. } => "not_wasm",
            Error::CoreModule { .. } => "core_module",
            Error::InvalidComponent { .. } => "invalid_component",
            Error::NotAConnector { .. } => "not_a_connector",
            Error::IncompatibleContract { .. } => "incompatible_contract",
            Error::UnsupportedImports { .. } => "unsupported_imports",
            Error::InvalidDescription { .. } => "invalid_description",
            Error::InvalidDiscovery { .. } => "invalid_discovery",
            Error::DescriptionTooLarge { .. } => "description_too_large",
            Error::UnwritableFile { .. } => "unwritable_file",
            Error::DamagedConnector { .. } => "damaged_connector",
            Error::LimitExceeded { .. } => "limit_exceeded",
            Error::InvalidLimit { .. } => "invalid_limit",
            Error::ConnectorCrashed { .. } => "connector_crashed",
            Error::ConnectorFailed { .. } => "connector_failed",
            Error::ProjectNotFound { .. } => "project_not_found",
            Error::ProjectExists { .. } => "project_exists",
            Error::ConnectorNotInstalled { .. } => "connector_not_installed",
            Error::Tampered { .. } => "tampered",
            Error::ConnectorInUse { .. } => "connector_in_use",
            Error::Io { .. } => "io",
            Error::NotAConnectorProject { .. } => "not_a_project",
            Error::InvalidConnectorName { .. } => "invalid_connector_name",
            Error::ToolMissing { .. } => "tool_missing",
            Error::BuildFailed { .. } => "build_failed",
            Error::TestSetup { .. } => "test_setup",
            Error::DamagedFile { .. } => "damaged_file",
            Error::InstallationNotFound { .. } => "installation_not_found",
            Error::InstallationExists { .. } => "installation_exists",
            Error::InvalidName { .. } => "invalid_name",
            Error::InvalidPlan { .. } => "invalid_plan",
            Error::Storage { .. } => "storage",
            Error::DatabaseUnreachable { .. } => "database_unreachable",
            Error::DatabaseFull { .. } => "database_full",
            Error::CorruptDatabase { .. } => "corrupt_database",
            Error::NotSynced { .. } => "not_synced",
            Error::SqlRefused { .. } => "sql_refused",
            Error::BadSchedule { .. } => "bad_schedule",
            Error::SqlFailed { .. } => "sql_failed",
            Error::SqlTimeout { .. } => "sql_timeout",
            Error::Unreachable { .. } => "unreachable",
            Error::UngrantedHost { .. } => "unknown_host",
            Error::AnswerRefused { .. } => "answer_refused",
            Error::AnswerMissing { .. } => "missing_value",
            Error::ValidationFailed { .. } => "validation_failed",
            Error::SchemaConflict { .. } => "schema_conflict",
            Error::InvalidData { .. } => "invalid_data",
            Error::Query { .. } => "query",
            Error::Runtime(_) => "runtime",
            Error::SyncBusy { .. } => "sync_busy",
            Error::LeaseLost { .. } => "lease_lost",
            Error::SyncBusyElsewhere { .. } => "sync_busy",
            Error::WorkersNeedPostgres => "workers_need_postgres",
            Error::InvalidStorage { .. } => "invalid_storage",
            Error::BadKey { .. } => "bad_key",
            Error::BadSignature { .. } => "bad_signature",
            Error::UntrustedSigner { .. } => "untrusted_signer",
            Error::TrustName { .. } => "trust_name",
            Error::BadReference { .. } => "bad_reference",
            Error::RegistryUnreachable { .. } => "registry_unreachable",
            Error::RegistryDenied { .. } => "registry_denied",
            Error::ArtifactNotFound { .. } => "artifact_not_found",
            Error::NotAComponentArtifact { .. } => "not_a_component_artifact",
            Error::DigestMismatch { .. } => "digest_mismatch",
            Error::ArtifactTooLarge { .. } => "artifact_too_large",
            Error::UnsignedArtifact { .. } => "unsigned_artifact",
            Error::LockMismatch { .. } => "lock_mismatch",
            Error::NotUpgradable { .. } => "not_upgradable",
            Error::NotResumable { .. } => "not_resumable",
            Error::NothingToRetry { .. } => "nothing_to_retry",
        }
    }

    /// What a query error points at (the filter with a caret, the valid fields); front ends add their
    /// own advice for the other errors.
    pub fn detail(&self) -> Option<&str> {
        match self {
            Error::Query { hint, .. } => hint.as_deref(),
            _ => None,
        }
    }

    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { action, path, source }
    }
}
