//! Which contract version a component was built against, read from the names of its imports and
//! exports (`max:connector/source@0.1.0`), and whether this host can run it: read from the bytes
//! before anything is compiled, so a component that imports what Max doesn't provide is refused at
//! once, not after a compilation that takes seconds (20 s for a Python component).

use semver::Version;
use wasmparser::{Parser, Payload};

use crate::{Error, Result};

/// The newest contract version this host implements (what the SDKs build against).
pub const CONTRACT_VERSION: Version = Version::new(0, 4, 0);

/// Every contract version this host runs, oldest first: a component built against a semver-compatible
/// version of one of them (for 0.x the same minor, any patch) runs.
pub const SUPPORTED_CONTRACTS: &[Version] =
    &[Version::new(0, 1, 0), Version::new(0, 2, 0), Version::new(0, 3, 0), CONTRACT_VERSION];

/// Whether a component built against `version` runs on this host: semver-compatible with one of
/// [`SUPPORTED_CONTRACTS`], and not a pre-release.
pub fn supported_contract(version: &Version) -> bool {
    SUPPORTED_CONTRACTS.iter().any(|supported| {
        semver::VersionReq::parse(&format!("^{}.{}", supported.major, supported.minor))
            .expect("a caret requirement built from a version always parses")
            .matches(version)
    })
}

/// The supported versions as users read them: `0.1.x, 0.2.x, 0.3.x or 0.4.x`.
pub fn supported_contracts_text() -> String {
    let versions: Vec<String> = SUPPORTED_CONTRACTS.iter().map(|v| format!("{}.{}.x", v.major, v.minor)).collect();
    match versions.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// The WASI 0.2 packages a connector may import besides `max:connector`: the host provides every
/// interface of them and grants nothing through them (no files, environment, sockets or exit).
const PROVIDED_WASI: &[&str] = &["wasi:cli/", "wasi:clocks/", "wasi:random/", "wasi:io/", "wasi:filesystem/", "wasi:sockets/"];

/// The top-level import and export names of a component, read without compiling it.
struct Names {
    imports: Vec<String>,
    exports: Vec<String>,
}

/// Reads the names of `bytes`' own imports and exports (not those of the modules and components
/// nested in it). A component the parser refuses is invalid.
fn names(bytes: &[u8], path: &str) -> Result<Names> {
    let mut names = Names { imports: Vec::new(), exports: Vec::new() };
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| Error::InvalidComponent { path: path.to_string(), reason: e.to_string() })?;
        match payload {
            Payload::Version { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(reader) if depth == 1 => {
                for import in reader {
                    let import = import.map_err(|e| Error::InvalidComponent { path: path.to_string(), reason: e.to_string() })?;
                    names.imports.push(import.name.name.to_string());
                }
            }
            Payload::ComponentExportSection(reader) if depth == 1 => {
                for export in reader {
                    let export = export.map_err(|e| Error::InvalidComponent { path: path.to_string(), reason: e.to_string() })?;
                    names.exports.push(export.name.name.to_string());
                }
            }
            _ => {}
        }
    }
    Ok(names)
}

/// The names of the component `bytes`' own imports and exports (`max:connector/http@0.4.0`,
/// `max:connector/source@0.4.0`, WASI's), read without compiling it; `path` names it in errors.
pub(crate) fn interface_names(bytes: &[u8], path: &str) -> Result<(Vec<String>, Vec<String>)> {
    let Names { imports, exports } = names(bytes, path)?;
    Ok((imports, exports))
}

/// Reads and checks the contract version of the component `bytes`, and that it imports only what the
/// host provides, before it is compiled; `path` names it in errors.
pub(crate) fn probe(bytes: &[u8], path: &str) -> Result<Version> {
    let Names { imports, exports } = names(bytes, path)?;
    let source = exports.iter().find_map(|name| name.strip_prefix("max:connector/source@"));
    let Some(version_text) = source else {
        let exports = if exports.is_empty() { "nothing".to_string() } else { exports.join(", ") };
        return Err(Error::NotAConnector { path: path.to_string(), exports });
    };
    let found = parse_version(version_text, path)?;
    let mut unsupported = Vec::new();
    for name in &imports {
        if let Some((_, version)) = name.strip_prefix("max:connector/").and_then(|n| n.split_once('@')) {
            let version = parse_version(version, path)?;
            if !supported_contract(&version) {
                return Err(incompatible(path, version));
            }
            // One component, one contract: the host runs each version's exports with that version's
            // imports.
            if (version.major, version.minor) != (found.major, found.minor) {
                return Err(Error::InvalidComponent {
                    path: path.to_string(),
                    reason: format!("it exports max:connector {found} but imports {name}: mixed contract versions"),
                });
            }
        } else if !is_provided_wasi(name) {
            unsupported.push(name.to_string());
        }
    }
    if !supported_contract(&found) {
        return Err(incompatible(path, found));
    }
    if !unsupported.is_empty() {
        return Err(Error::UnsupportedImports { path: path.to_string(), imports: unsupported.join(", ") });
    }
    Ok(found)
}

/// Whether `name` is an interface of one of [`PROVIDED_WASI`], version 0.2.x.
fn is_provided_wasi(name: &str) -> bool {
    PROVIDED_WASI.iter().any(|package| name.starts_with(package))
        && name.split_once('@').is_some_and(|(_, version)| {
            Version::parse(version).is_ok_and(|v| v.major == 0 && v.minor == 2 && v.pre.is_empty())
        })
}

fn parse_version(text: &str, path: &str) -> Result<Version> {
    Version::parse(text).map_err(|e| Error::InvalidComponent {
        path: path.to_string(),
        reason: format!("bad max:connector version `{text}`: {e}"),
    })
}

fn incompatible(path: &str, found: Version) -> Error {
    Error::IncompatibleContract {
        path: path.to_string(),
        found,
        supported: supported_contracts_text(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_patches_of_the_supported_minors_only() {
        assert!(supported_contract(&Version::new(0, 1, 0)));
        assert!(supported_contract(&Version::new(0, 1, 7)));
        assert!(supported_contract(&Version::new(0, 2, 0)));
        assert!(supported_contract(&Version::new(0, 2, 3)));
        assert!(supported_contract(&Version::new(0, 3, 1)));
        assert!(supported_contract(&Version::new(0, 4, 2)));
        assert!(!supported_contract(&Version::new(0, 5, 0)));
        assert!(!supported_contract(&Version::new(1, 0, 0)));
        assert!(!supported_contract(&Version::parse("0.1.0-rc.1").unwrap()));
        assert!(!supported_contract(&Version::parse("0.2.0-rc.1").unwrap()));
        assert_eq!(supported_contracts_text(), "0.1.x, 0.2.x, 0.3.x or 0.4.x");
    }

    #[test]
    fn wasi_0_2_of_the_provided_packages_only() {
        assert!(is_provided_wasi("wasi:cli/environment@0.2.3"));
        assert!(is_provided_wasi("wasi:sockets/tcp@0.2.12"));
        assert!(!is_provided_wasi("wasi:http/outgoing-handler@0.2.3"));
        assert!(!is_provided_wasi("wasi:cli/environment@0.3.0"));
        assert!(!is_provided_wasi("wasi:cli/environment"));
        assert!(!is_provided_wasi("wasi:clocks/monotonic-clock@0.2.0-rc-2023-11-10"));
    }
}
