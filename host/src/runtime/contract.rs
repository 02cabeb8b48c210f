//! Which contract version a component was built against, read from the names of its imports and
//! exports (`max:connector/source@0.1.0`), and whether this host can run it.

use semver::Version;
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::{Error, Result};

/// The newest contract version this host implements (what the SDKs build against).
pub const CONTRACT_VERSION: Version = Version::new(0, 3, 0);

/// Every contract version this host runs, oldest first: a component built against a semver-compatible
/// version of one of them (for 0.x the same minor, any patch) runs.
pub const SUPPORTED_CONTRACTS: &[Version] = &[Version::new(0, 1, 0), Version::new(0, 2, 0), CONTRACT_VERSION];

/// Whether a component built against `version` runs on this host: semver-compatible with one of
/// [`SUPPORTED_CONTRACTS`], and not a pre-release.
pub fn supported_contract(version: &Version) -> bool {
    SUPPORTED_CONTRACTS.iter().any(|supported| {
        semver::VersionReq::parse(&format!("^{}.{}", supported.major, supported.minor))
            .expect("a caret requirement built from a version always parses")
            .matches(version)
    })
}

/// The supported versions as users read them: `0.1.x, 0.2.x or 0.3.x`.
pub fn supported_contracts_text() -> String {
    let versions: Vec<String> = SUPPORTED_CONTRACTS.iter().map(|v| format!("{}.{}.x", v.major, v.minor)).collect();
    match versions.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// The import namespaces a connector may use besides `max:connector`.
const PROVIDED_NAMESPACES: &[&str] =
    &["wasi:cli/", "wasi:clocks/", "wasi:random/", "wasi:io/", "wasi:filesystem/", "wasi:sockets/"];

/// Reads and checks the contract version of `component`; `path` names it in errors.
pub(crate) fn probe(engine: &Engine, component: &Component, path: &str) -> Result<Version> {
    let ty = component.component_type();
    let exports: Vec<String> = ty.exports(engine).map(|(name, _)| name.to_string()).collect();
    let source = exports.iter().find_map(|name| name.strip_prefix("max:connector/source@"));
    let Some(version_text) = source else {
        let exports = if exports.is_empty() { "nothing".to_string() } else { exports.join(", ") };
        return Err(Error::NotAConnector { path: path.to_string(), exports });
    };
    let found = parse_version(version_text, path)?;
    let mut unsupported = Vec::new();
    for (name, _) in ty.imports(engine) {
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
        } else if !PROVIDED_NAMESPACES.iter().any(|ns| name.starts_with(ns)) {
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
        assert!(!supported_contract(&Version::new(0, 4, 0)));
        assert!(!supported_contract(&Version::new(1, 0, 0)));
        assert!(!supported_contract(&Version::parse("0.1.0-rc.1").unwrap()));
        assert!(!supported_contract(&Version::parse("0.2.0-rc.1").unwrap()));
        assert_eq!(supported_contracts_text(), "0.1.x, 0.2.x or 0.3.x");
    }
}
