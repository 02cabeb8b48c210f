//! `max connector new NAME --lang rust|python|js`: a connector project that builds, tests and replays
//! as it is. It syncs the items of an example API (`GET /me`, `GET /items?limit=100&cursor=…`),
//! carries the SDK of its language (so it needs nothing but Max and the language's tool), a unit test
//! on a fake HTTP host, a README, and a cassette of the example API's answers that
//! `max connector test --replay` checks offline.

use std::path::{Path, PathBuf};

use super::build::{COMPONENTIZE_JS, write_files};
use super::{Language, embedded};
use crate::{Error, Result};

const README: &str = include_str!("templates/README.md");
const GITIGNORE: &str = include_str!("templates/gitignore");
const CASSETTE: &str = include_str!("templates/cassette.json");
const RUST_CARGO: &str = include_str!("templates/rust_cargo.toml");
const RUST_LIB: &str = include_str!("templates/rust_lib.rs");
const RUST_SDK_CARGO: &str = include_str!("templates/rust_sdk_cargo.toml");
const PY_APP: &str = include_str!("templates/py_app.py");
const PY_CONNECTOR: &str = include_str!("templates/py_connector.py");
const PY_TEST: &str = include_str!("templates/py_test.py");
const JS_APP: &str = include_str!("templates/js_app.js");
const JS_CONNECTOR: &str = include_str!("templates/js_connector.js");
const JS_TEST: &str = include_str!("templates/js_test.js");
const JS_PACKAGE: &str = include_str!("templates/js_package.json");

/// What `new` made.
#[derive(Debug, Clone)]
pub struct Scaffold {
    /// The project's folder.
    pub dir: PathBuf,
    /// Its language.
    pub language: Language,
    /// The files written, relative to `dir`.
    pub files: Vec<String>,
    /// How to run its unit tests.
    pub test_command: &'static str,
}

/// Writes a new connector project `name` in `language` into `dir` (which must not exist, or be empty).
pub fn new(name: &str, language: Language, dir: &Path) -> Result<Scaffold> {
    if !crate::manifest::valid_connector_name(name) {
        return Err(Error::InvalidConnectorName { name: name.to_string() });
    }
    if dir.read_dir().is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(Error::NotAConnectorProject {
            dir: dir.to_path_buf(),
            reason: "it exists and is not empty: a new project needs a folder of its own".into(),
        });
    }
    let (test_command, language_name, layout) = match language {
        Language::Rust => (
            "cargo test",
            "Rust",
            "- `src/lib.rs`: the connector, and its unit tests (feature `testing` of the SDK: `FakeHttp`).\n\
             - `vendor/max-connector-sdk/`: Max's Rust SDK, as this Max carries it.",
        ),
        Language::Python => (
            "python3 -m unittest",
            "Python",
            "- `connector.py`: the connector; `app.py` exports it (the module componentize-py builds).\n\
             - `test_connector.py`: its unit tests (`max_connector.testing.FakeHttp`).\n\
             - `max_connector/`: Max's Python SDK, as this Max carries it.",
        ),
        Language::JavaScript => (
            "node --test",
            "JavaScript",
            "- `connector.js`: the connector; `app.js` exports it (the module componentize-js builds).\n\
             - `connector.test.js`: its unit tests (`sdk/testing.js`: `FakeHttp`).\n\
             - `sdk/`: Max's JavaScript SDK, as this Max carries it.\n\
             - `package.json`: `npm install` fetches componentize-js, which `max connector build` uses.",
        ),
    };
    let fill = |template: &str| {
        template
            .replace("{{name}}", name)
            .replace("{{lang}}", language.name())
            .replace("{{language}}", language_name)
            .replace("{{test_command}}", test_command)
            .replace("{{layout}}", layout)
            .replace("{{sdk_version}}", env!("CARGO_PKG_VERSION"))
            .replace("{{componentize_js}}", COMPONENTIZE_JS)
    };
    let mut files: Vec<(String, String)> = vec![
        ("README.md".into(), fill(README)),
        (".gitignore".into(), GITIGNORE.into()),
        ("cassettes/cassette.json".into(), fill(CASSETTE)),
    ];
    let mut add = |prefix: &str, carried: &[(&str, &str)]| {
        files.extend(carried.iter().map(|(path, text)| (format!("{prefix}{path}"), text.to_string())));
    };
    match language {
        Language::Rust => {
            add("vendor/max-connector-sdk/src/", embedded::RUST_SDK);
            add("vendor/max-connector-sdk/wit/", embedded::WIT);
            files.push(("vendor/max-connector-sdk/Cargo.toml".into(), fill(RUST_SDK_CARGO)));
            files.push(("Cargo.toml".into(), fill(RUST_CARGO)));
            files.push(("src/lib.rs".into(), fill(RUST_LIB)));
        }
        Language::Python => {
            add("max_connector/", embedded::PYTHON_SDK);
            files.push(("app.py".into(), fill(PY_APP)));
            files.push(("connector.py".into(), fill(PY_CONNECTOR)));
            files.push(("test_connector.py".into(), fill(PY_TEST)));
        }
        Language::JavaScript => {
            add("sdk/", embedded::JS_SDK);
            files.push(("app.js".into(), fill(JS_APP)));
            files.push(("connector.js".into(), fill(JS_CONNECTOR)));
            files.push(("connector.test.js".into(), fill(JS_TEST)));
            files.push(("package.json".into(), fill(JS_PACKAGE)));
        }
    }
    let borrowed: Vec<(&str, &str)> = files.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
    write_files(dir, &borrowed)?;
    Ok(Scaffold { dir: dir.to_path_buf(), language, files: files.into_iter().map(|(p, _)| p).collect(), test_command })
}
