//! The limits an installation runs under: safe defaults, raised where its connector asked and the user
//! granted at install, then whatever the user set for this installation (`max connect --limit`,
//! `max limits --set`); and the limits a connector's description is checked against when it is
//! installed (`max connector install --limit`). Each setting is named with its unit and accepted only
//! within its range.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::http::HttpLimits;
use crate::project::InstalledConnector;
use crate::runtime::Limits;
use crate::sync::SyncLimits;
use crate::{Error, Result};

/// Every limit of one installation: its sandbox's, its HTTP capability's, its syncs' and its database's.
#[derive(Debug, Clone)]
pub struct InstallationLimits {
    /// Per instance and per call.
    pub sandbox: Limits,
    /// Per request and per installation.
    pub http: HttpLimits,
    /// Per sync: waits, pages.
    pub sync: SyncLimits,
    /// Largest size of the installation's `data.db`.
    pub database_bytes: u64,
}

impl Default for InstallationLimits {
    fn default() -> Self {
        InstallationLimits {
            sandbox: Limits::default(),
            http: HttpLimits::default(),
            sync: SyncLimits::default(),
            database_bytes: 16 << 30,
        }
    }
}

/// What a connector's description may declare, checked when it is installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallLimits {
    /// Entity types (each becomes a table).
    pub entities: u64,
    /// Fields of one entity type (each becomes a column, and SQLite allows 2,000).
    pub fields: u64,
    /// Loaders.
    pub loaders: u64,
    /// The whole description, serialized, in bytes (it is read by every command that uses it).
    pub describe_bytes: u64,
}

impl Default for InstallLimits {
    fn default() -> Self {
        InstallLimits { entities: 1000, fields: 1000, loaders: 1000, describe_bytes: 1 << 20 }
    }
}

/// A limit that can be set: per installation (`L` = [`InstallationLimits`]) or at install
/// (`L` = [`InstallLimits`]).
#[derive(Debug)]
pub struct Setting<L: 'static = InstallationLimits> {
    /// Its name, ending in its unit where it has one: `memory-mib`.
    pub key: &'static str,
    /// What it bounds.
    pub about: &'static str,
    /// The smallest value accepted.
    pub min: u64,
    /// The largest value accepted.
    pub max: u64,
    get: fn(&L) -> u64,
    set: fn(&mut L, u64),
}

impl<L> Setting<L> {
    /// Its value in `limits`, in its unit.
    pub fn value(&self, limits: &L) -> u64 {
        (self.get)(limits)
    }

    /// Sets it in `limits` (the value is not checked: see [`Setting::check`]).
    pub fn apply(&self, limits: &mut L, value: u64) {
        (self.set)(limits, value);
    }

    /// Refuses a value outside the range.
    pub fn check(&self, value: u64) -> Result<()> {
        if (self.min..=self.max).contains(&value) {
            return Ok(());
        }
        Err(Error::InvalidLimit {
            setting: self.key.to_string(),
            reason: format!("{value} is out of range: it must be from {} to {}", self.min, self.max),
        })
    }
}

const MIB: u64 = 1 << 20;
const KIB: u64 = 1 << 10;

fn seconds(duration: Duration) -> u64 {
    duration.as_secs()
}

fn size(value: u64, unit: u64) -> usize {
    usize::try_from(value * unit).unwrap_or(usize::MAX)
}

/// Every setting, in the order `max limits` shows them.
pub const SETTINGS: &[Setting] = &[
    Setting {
        key: "memory-mib",
        about: "linear memory per instance",
        min: 16,
        max: 4096,
        get: |l| l.sandbox.memory_bytes as u64 / MIB,
        set: |l, v| l.sandbox.memory_bytes = size(v, MIB),
    },
    Setting {
        key: "cpu-seconds",
        about: "guest CPU time per call (time in HTTP and other host calls not counted)",
        min: 1,
        max: 3600,
        get: |l| seconds(l.sandbox.cpu_per_call),
        set: |l, v| l.sandbox.cpu_per_call = Duration::from_secs(v),
    },
    Setting {
        key: "call-timeout-seconds",
        about: "wall-clock time per call, host calls included",
        min: 1,
        max: 86_400,
        get: |l| seconds(l.sandbox.wall_per_call),
        set: |l, v| l.sandbox.wall_per_call = Duration::from_secs(v),
    },
    Setting {
        key: "stack-kib",
        about: "native stack the connector's code may use (how deep it may recurse)",
        min: 64,
        max: 8192,
        get: |l| l.sandbox.stack_bytes as u64 / KIB,
        set: |l, v| l.sandbox.stack_bytes = size(v, KIB),
    },
    Setting {
        key: "instances",
        about: "WebAssembly instances per connector instance (a component is several)",
        min: 1,
        max: 1000,
        get: |l| l.sandbox.instances as u64,
        set: |l, v| l.sandbox.instances = size(v, 1),
    },
    Setting {
        key: "tables",
        about: "WebAssembly tables per connector instance",
        min: 1,
        max: 1000,
        get: |l| l.sandbox.tables as u64,
        set: |l, v| l.sandbox.tables = size(v, 1),
    },
    Setting {
        key: "table-elements",
        about: "elements per WebAssembly table",
        min: 1024,
        max: 10_000_000,
        get: |l| l.sandbox.table_elements as u64,
        set: |l, v| l.sandbox.table_elements = size(v, 1),
    },
    Setting {
        key: "result-mib",
        about: "entity data one call may return",
        min: 1,
        max: 1024,
        get: |l| l.sandbox.max_result_bytes as u64 / MIB,
        set: |l, v| l.sandbox.max_result_bytes = size(v, MIB),
    },
    Setting {
        key: "log-per-second",
        about: "log messages per second, in bursts of twice as many (the rest are counted and dropped)",
        min: 0,
        max: 10_000,
        get: |l| u64::from(l.sandbox.log_per_second),
        set: |l, v| l.sandbox.log_per_second = u32::try_from(v).unwrap_or(u32::MAX),
    },
    Setting {
        key: "log-message-chars",
        about: "longest log message kept, in characters",
        min: 80,
        max: 100_000,
        get: |l| l.sandbox.log_message_chars as u64,
        set: |l, v| l.sandbox.log_message_chars = size(v, 1),
    },
    Setting {
        key: "id-bytes",
        about: "longest entity id a connector may return, in bytes",
        min: 16,
        max: 65_536,
        get: |l| l.sandbox.max_id_bytes as u64,
        set: |l, v| l.sandbox.max_id_bytes = size(v, 1),
    },
    Setting {
        key: "value-mib",
        about: "largest single text or JSON value a connector may return",
        min: 1,
        max: 512,
        get: |l| l.sandbox.max_value_bytes as u64 / MIB,
        set: |l, v| l.sandbox.max_value_bytes = size(v, MIB),
    },
    Setting {
        key: "json-depth",
        about: "deepest nesting of arrays and objects in a JSON value",
        min: 1,
        max: 128,
        get: |l| l.sandbox.max_json_depth as u64,
        set: |l, v| l.sandbox.max_json_depth = size(v, 1),
    },
    Setting {
        key: "cursor-kib",
        about: "longest page or change-feed cursor a connector may return (cursors are stored)",
        min: 1,
        max: 16_384,
        get: |l| l.sandbox.max_cursor_bytes as u64 / KIB,
        set: |l, v| l.sandbox.max_cursor_bytes = size(v, KIB),
    },
    Setting {
        key: "retry-wait-seconds",
        about: "longest wait before a retry a connector may ask for (a longer rate-limit hint is cut to this)",
        min: 1,
        max: 3600,
        get: |l| seconds(l.sync.retry_wait),
        set: |l, v| l.sync.retry_wait = Duration::from_secs(v),
    },
    Setting {
        key: "wait-budget-seconds",
        about: "time one sync may spend in all waiting to retry (then tasks that would wait fail)",
        min: 0,
        max: 604_800,
        get: |l| seconds(l.sync.wait_budget),
        set: |l, v| l.sync.wait_budget = Duration::from_secs(v),
    },
    Setting {
        key: "collection-pages",
        about: "pages of one collection in one sync",
        min: 1,
        max: 10_000_000,
        get: |l| l.sync.collection_pages,
        set: |l, v| l.sync.collection_pages = v,
    },
    Setting {
        key: "feed-pages",
        about: "pages of one change feed in one sync",
        min: 1,
        max: 10_000_000,
        get: |l| l.sync.feed_pages,
        set: |l, v| l.sync.feed_pages = v,
    },
    Setting {
        key: "idle-pages",
        about: "pages in a row that add nothing new before a collection or change feed is stopped",
        min: 1,
        max: 10_000,
        get: |l| l.sync.idle_pages,
        set: |l, v| l.sync.idle_pages = v,
    },
    Setting {
        key: "database-mib",
        about: "size the installation's data may grow to, its data.db or PostgreSQL schema (a sync that would pass it stops, resumable)",
        min: 1,
        max: 1 << 20,
        get: |l| l.database_bytes / MIB,
        set: |l, v| l.database_bytes = v * MIB,
    },
    Setting {
        key: "request-timeout-seconds",
        about: "time for one HTTP request, body included (not the time a rate limit holds it back)",
        min: 1,
        max: 3600,
        get: |l| seconds(l.http.request_timeout),
        set: |l, v| l.http.request_timeout = Duration::from_secs(v),
    },
    Setting {
        key: "response-mib",
        about: "largest HTTP response body",
        min: 1,
        max: 4096,
        get: |l| l.http.max_response_bytes / MIB,
        set: |l, v| l.http.max_response_bytes = v * MIB,
    },
    Setting {
        key: "request-body-mib",
        about: "largest HTTP request body the connector may send",
        min: 1,
        max: 1024,
        get: |l| l.http.max_request_bytes as u64 / MIB,
        set: |l, v| l.http.max_request_bytes = size(v, MIB),
    },
    Setting {
        key: "request-headers",
        about: "headers the connector may set on one request",
        min: 1,
        max: 1000,
        get: |l| l.http.max_request_headers as u64,
        set: |l, v| l.http.max_request_headers = size(v, 1),
    },
    Setting {
        key: "header-value-bytes",
        about: "longest header value the connector may set",
        min: 256,
        max: 1 << 20,
        get: |l| l.http.max_header_value_bytes as u64,
        set: |l, v| l.http.max_header_value_bytes = size(v, 1),
    },
    Setting {
        key: "concurrent-requests",
        about: "HTTP requests in flight at once for the whole installation",
        min: 1,
        max: 256,
        get: |l| l.http.max_concurrent as u64,
        set: |l, v| l.http.max_concurrent = size(v, 1),
    },
    Setting {
        key: "redirects",
        about: "redirects followed per request (each hop checked against the grants)",
        min: 0,
        max: 20,
        get: |l| l.http.max_redirects as u64,
        set: |l, v| l.http.max_redirects = size(v, 1),
    },
];

/// The limits checked when a connector is installed, in the order `max limits` shows them.
pub const INSTALL_SETTINGS: &[Setting<InstallLimits>] = &[
    Setting {
        key: "entities",
        about: "entity types a connector may declare (each a table: SQLite creates many slowly)",
        min: 1,
        max: 5000,
        get: |l| l.entities,
        set: |l, v| l.entities = v,
    },
    Setting {
        key: "fields",
        about: "fields one entity type may declare",
        min: 1,
        max: 1990,
        get: |l| l.fields,
        set: |l, v| l.fields = v,
    },
    Setting {
        key: "loaders",
        about: "loaders a connector may declare",
        min: 1,
        max: 20_000,
        get: |l| l.loaders,
        set: |l, v| l.loaders = v,
    },
    Setting {
        key: "describe-kib",
        about: "size of a connector's whole description (schema, loaders, onboarding, texts)",
        min: 16,
        max: 65_536,
        get: |l| l.describe_bytes / KIB,
        set: |l, v| l.describe_bytes = v * KIB,
    },
];

/// The setting named `key`.
pub fn setting(key: &str) -> Result<&'static Setting> {
    find(SETTINGS, key)
}

fn find<L>(table: &'static [Setting<L>], key: &str) -> Result<&'static Setting<L>> {
    table.iter().find(|s| s.key == key).ok_or_else(|| {
        let elsewhere = if SETTINGS.iter().any(|s| s.key == key) {
            ": it is a limit of installations (`max limits <installation> --set`)"
        } else if INSTALL_SETTINGS.iter().any(|s| s.key == key) {
            ": it is checked when a connector is installed (`max connector install --limit`)"
        } else {
            ""
        };
        Error::InvalidLimit { setting: key.to_string(), reason: format!("there is no such limit{elsewhere}") }
    })
}

/// Parses the install limits given as `key=value` over the defaults.
pub fn install_limits(assignments: &[String]) -> Result<InstallLimits> {
    let mut limits = InstallLimits::default();
    for text in assignments {
        let (setting, value) = parse_in(INSTALL_SETTINGS, text)?;
        setting.apply(&mut limits, value);
    }
    Ok(limits)
}

/// Parses `key=value` (value a whole number in the setting's unit) and checks both.
pub fn parse_assignment(text: &str) -> Result<(&'static Setting, u64)> {
    parse_in(SETTINGS, text)
}

fn parse_in<L>(table: &'static [Setting<L>], text: &str) -> Result<(&'static Setting<L>, u64)> {
    let (key, value) = text.split_once('=').ok_or_else(|| Error::InvalidLimit {
        setting: text.to_string(),
        reason: "expected KEY=VALUE, like `memory-mib=512`".to_string(),
    })?;
    let setting = find(table, key.trim())?;
    let value: u64 = value.trim().parse().map_err(|_| Error::InvalidLimit {
        setting: setting.key.to_string(),
        reason: format!("`{}` is not a whole number", value.trim()),
    })?;
    setting.check(value)?;
    Ok((setting, value))
}

/// The defaults, raised where `connector` asked for more and was granted it at install.
pub fn granted(connector: &InstalledConnector) -> InstallationLimits {
    let mut limits = InstallationLimits::default();
    let resources = &connector.granted.resources;
    if let Some(mib) = resources.memory_mib {
        limits.sandbox.memory_bytes = limits.sandbox.memory_bytes.max(size(mib.into(), MIB));
    }
    if let Some(ms) = resources.call_timeout_ms {
        limits.sandbox.wall_per_call = limits.sandbox.wall_per_call.max(Duration::from_millis(ms.into()));
    }
    limits
}

/// What an installation of `connector` runs under: [`granted`], then the values it `set`.
pub fn effective(connector: &InstalledConnector, set: &BTreeMap<String, u64>) -> Result<InstallationLimits> {
    let mut limits = granted(connector);
    for (key, &value) in set {
        let setting = setting(key)?;
        setting.check(value)?;
        (setting.set)(&mut limits, value);
    }
    Ok(limits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_reads_back_what_it_sets_and_its_default_is_in_range() {
        let defaults = InstallationLimits::default();
        for setting in SETTINGS {
            let default = setting.value(&defaults);
            assert!(setting.check(default).is_ok(), "{}: default {default} out of range", setting.key);
            for value in [setting.min, setting.max] {
                let mut limits = InstallationLimits::default();
                (setting.set)(&mut limits, value);
                assert_eq!(setting.value(&limits), value, "{}", setting.key);
            }
        }
        let defaults = InstallLimits::default();
        for setting in INSTALL_SETTINGS {
            assert!(setting.check(setting.value(&defaults)).is_ok(), "{}", setting.key);
            for value in [setting.min, setting.max] {
                let mut limits = InstallLimits::default();
                setting.apply(&mut limits, value);
                assert_eq!(setting.value(&limits), value, "{}", setting.key);
            }
        }
        let keys = || SETTINGS.iter().map(|s| s.key).chain(INSTALL_SETTINGS.iter().map(|s| s.key));
        let unique: std::collections::HashSet<&str> = keys().collect();
        assert_eq!(unique.len(), keys().count(), "every key names one setting");
    }

    #[test]
    fn assignments_are_checked() {
        let (setting, value) = parse_assignment("stack-kib=512").unwrap();
        assert_eq!((setting.key, value), ("stack-kib", 512));
        for (bad, says) in [
            ("stack-kib", "expected KEY=VALUE"),
            ("stack=512", "no such limit"),
            ("stack-kib=lots", "not a whole number"),
            ("stack-kib=9000000", "from 64 to 8192"),
            ("entities=5", "checked when a connector is installed"),
        ] {
            let error = parse_assignment(bad).unwrap_err().to_string();
            assert!(error.contains(says), "{bad}: {error}");
        }
        assert_eq!(install_limits(&["entities=5000".to_string()]).unwrap().entities, 5000);
        let error = install_limits(&["memory-mib=5".to_string()]).unwrap_err().to_string();
        assert!(error.contains("a limit of installations"), "{error}");
    }
}
