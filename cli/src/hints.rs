//! What the user can do about a host error, in the CLI's words: the commands and flags to run. The
//! host says what happened; this says what to do about it at a shell.

use max_host::Error as HostError;
use max_host::onboarding::Fault;

/// Advice for `error`, when there is some.
pub fn hint(error: &HostError) -> Option<String> {
    Some(match error {
        HostError::NotWasm { .. } | HostError::CoreModule { .. } => {
            "connectors are WebAssembly components: build one with `max connector build`".into()
        }
        HostError::NotAConnectorProject { .. } => {
            "start one with `max connector new NAME --lang rust|python|js`, or give the project's folder".into()
        }
        HostError::ToolMissing { install, .. } => format!("install it: {install}"),
        HostError::InvalidConnectorName { .. } => "for example: max connector new my-api --lang python".into(),
        HostError::TestSetup { .. } => "`max connector test --help` shows how to record and replay".into(),
        HostError::BuildFailed { .. } => "fix what the tool reports above, then build again".into(),
        HostError::InvalidComponent { .. } => {
            "the file may be truncated or corrupt: rebuild or download it again".into()
        }
        HostError::NotAConnector { .. } => {
            "build it with a Max connector SDK (`max connector new`), or against the max:connector WIT".into()
        }
        HostError::IncompatibleContract { found, .. } => {
            if *found > max_host::CONTRACT_VERSION {
                format!("upgrade max to one that runs max:connector@{found}")
            } else {
                "rebuild the connector with a current max-connector-sdk".into()
            }
        }
        HostError::UnsupportedImports { .. } => {
            "connectors may import max:connector/http and /log and WASI 0.2 (cli, clocks, random, io, filesystem, \
             sockets; granted nothing); send requests through max:connector/http, not wasi:http"
                .into()
        }
        HostError::InvalidDescription { .. } => "this is a bug in the connector: report it to its author".into(),
        HostError::InvalidDiscovery { .. } => {
            "nothing was stored and earlier data is intact; this is a bug in the connector (or an account it can't \
             describe yet): report it to its author"
                .into()
        }
        HostError::DescriptionTooLarge { setting, .. } => format!(
            "a connector that needs this much is rare: if you trust it, install it with \
             `max connector install <file.wasm> --limit {setting}=<value>`"
        ),
        HostError::UnwritableFile { .. } => {
            "nothing was changed; this is a bug in max: please report it with the connector that caused it".into()
        }
        HostError::DamagedConnector { name, .. } => format!(
            "other connectors and installations are not affected: remove it with `max connector remove {name}` \
             and install it again"
        ),
        HostError::LimitExceeded { limit, .. } => format!(
            "the connector misbehaved, or needs more: an installation can be given more with \
             `max limits <connector/name> --set {}=<value>`",
            limit.setting()
        ),
        HostError::InvalidLimit { .. } => "`max limits` lists every limit with its unit, default and range".into(),
        HostError::ConnectorCrashed { .. } => "this is a bug in the connector: report it to its author".into(),
        HostError::ProjectNotFound { .. } => "run `max init` to create a project here".into(),
        HostError::ProjectExists { .. } => {
            "use the existing project (`max storage sqlite|postgres://…` stores its data elsewhere)".into()
        }
        HostError::ConnectorNotInstalled { installed, .. } if installed.is_empty() => {
            "no connectors are installed yet: `max connector install <file.wasm>`".into()
        }
        HostError::ConnectorNotInstalled { installed, .. } => format!("installed: {}", installed.join(", ")),
        HostError::Tampered { name, .. } => {
            format!("reinstall `{name}` from a trusted file with `max connector install <file.wasm>`")
        }
        HostError::ConnectorInUse { name, .. } => {
            format!("remove its installations from .max/installations/{name}/ first")
        }
        HostError::InstallationNotFound { available, .. } if available.is_empty() => {
            "connect one first: `max connect <connector>`".into()
        }
        HostError::InstallationNotFound { available, .. } => format!("installations: {}", available.join(", ")),
        HostError::InstallationExists { label } => {
            format!("pick another --name, or pass --replace to reconnect `{label}` with new settings")
        }
        HostError::DatabaseFull { .. } => {
            "what was stored is kept and the sync resumes where it stopped: raise the limit \
             with `max limits <connector/name> --set database-mib=<value>` (or free disk space) and sync again"
                .into()
        }
        HostError::DatabaseUnreachable { .. } => "check that the server runs and the URL's host, port, user, \
             password and database; for TLS add `?sslmode=require` (or verify-ca/verify-full with \
             `sslrootcert=FILE` or `sslrootcert=system`), and `sslcert=FILE&sslkey=FILE` for a client certificate"
            .into(),
        HostError::CorruptDatabase { path, .. } => format!(
            "the file is left as it is, and other installations are not affected: move it aside \
             (`mv {path} {path}.corrupt`) and sync again to load everything afresh"
        ),
        HostError::NotSynced { label } => format!("run `max sync {label}` first"),
        HostError::SqlRefused { .. } => "`max sql` reads: one SELECT (or WITH) at a time; installations are attached by their names".into(),
        HostError::SqlFailed { .. } => "`max sql --tables` lists each installation's name and tables; `max schema NAME` their columns".into(),
        HostError::SqlTimeout { .. } => "narrow the query (WHERE, LIMIT), or give it longer with --timeout 2m".into(),
        HostError::SchemaConflict { .. } => {
            "re-run with `max sync --full` to rebuild that table from the API (its stored rows are replaced)".into()
        }
        HostError::InvalidPlan { .. } | HostError::InvalidData { .. } => {
            "this is a bug in the connector: report it to its author".into()
        }
        HostError::Query { hint, .. } => return hint.clone(),
        HostError::SyncBusy { pid, .. } => {
            format!("wait for it to finish (`max status` shows its progress), or stop it with `kill {pid}`")
        }
        HostError::InvalidStorage { .. } => {
            "pass `--storage sqlite` (the default) or `--storage postgres://user[:password]@host[:port]/database`".into()
        }
        HostError::SyncBusyElsewhere { .. } => {
            "wait for it to finish (`max status` shows its progress and who runs its tasks)".into()
        }
        HostError::WorkersNeedPostgres => {
            "create a project with `max init --storage postgres://…` and run the workers in it".into()
        }
        HostError::LeaseLost { .. } => {
            "another worker runs the task again from its start; nothing is lost or stored twice".into()
        }
        HostError::NotResumable { .. } => {
            "`max status` lists the syncs; plain `max sync` resumes an interrupted one".into()
        }
        HostError::NothingToRetry { .. } => "run `max sync` for a new sync".into(),
        HostError::BadKey { .. } => "make a key pair with `max connector keygen`".into(),
        HostError::BadSignature { .. } => {
            "get the component and its .sig from the publisher again; don't install a file whose signature fails".into()
        }
        HostError::UntrustedSigner { .. } => {
            "if you trust this publisher: `max trust add publisher.pub` (a registry artifact), or --trust publisher.pub (a file)".into()
        }
        HostError::NotUpgradable { .. } => {
            "install a newer version from its file, or from a registry: max connector install oci://…".into()
        }
        HostError::TrustName { .. } => "`max trust list` shows the trusted keys and their names".into(),
        HostError::BadReference { .. } => "write it as oci://REGISTRY/NAMESPACE/NAME:TAG, or …@sha256:DIGEST".into(),
        HostError::RegistryUnreachable { .. } => {
            "check the registry's address and that it is up, then try again; nothing was installed".into()
        }
        HostError::RegistryDenied { .. } => {
            "log in with `docker login REGISTRY`, or pass --username with --password-stdin".into()
        }
        HostError::ArtifactNotFound { .. } => {
            "check the name and tag; `max connector search QUERY --registry REGISTRY` lists what it holds".into()
        }
        HostError::NotAComponentArtifact { .. } => {
            "it wasn't published as a connector (`max connector publish` pushes one); nothing was installed".into()
        }
        HostError::DigestMismatch { .. } => {
            "the registry served other bytes than it announced (tampered, or damaged in transit); nothing was installed".into()
        }
        HostError::ArtifactTooLarge { .. } => {
            "nothing was installed; connectors are a few MiB: raise the limit with --max-mib only for one you expect to be larger".into()
        }
        HostError::UnsignedArtifact { .. } => {
            "install it only if you trust where it comes from: --allow-unsigned; nothing was installed".into()
        }
        HostError::LockMismatch { reference, locked, .. } => format!(
            "the tag was re-pushed with other bytes; install the recorded ones with `max connector install {}@{locked}`, or review the new ones with `max connector install {reference}`",
            reference.split('@').next().unwrap_or(reference).rsplit_once(':').filter(|(head, _)| head.contains('/')).map_or(reference.as_str(), |(head, _)| head)
        ),
        HostError::UngrantedHost { granted, .. } => format!("its hosts: {}", granted.join(", ")),
        HostError::AnswerRefused { key, .. } => format!("give another value with --set {key}=VALUE"),
        HostError::ValidationFailed { fault: Fault::Service, .. } => {
            "the API could not be reached or failed: check the base URL, or try again later; nothing was saved".into()
        }
        HostError::ValidationFailed { step: Some(step), .. } => {
            format!("check the value of `{step}` and try again; nothing was saved")
        }
        HostError::ValidationFailed { .. } => {
            "check the values you gave (base URL, API key) and try again; nothing was saved".into()
        }
        HostError::Unreachable { label, key, url, .. } => {
            let (connector, name) = label.split_once('/').unwrap_or((label, "default"));
            format!(
                "is the server at {url} running? If it moved: \
                 `max connect {connector} --name {name} --replace --set {key}=<its URL>`; nothing was changed"
            )
        }
        HostError::DamagedFile { .. } => "restore it from a backup, or remove it and set the project up again".into(),
        _ => return None,
    })
}
