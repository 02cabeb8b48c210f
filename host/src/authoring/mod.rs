//! Tools for connector authors: the languages Max builds connectors in, a new project
//! (`scaffold.rs`, from `templates/`), building a project into a component (`build.rs`), the test kit (`kit.rs`: lint, record and replay), and the files authors
//! build against, compiled in (`embedded.rs`).

mod build;
pub mod embedded;
mod kit;
mod scaffold;

use std::path::Path;

pub use build::{BuildOutput, COMPONENTIZE_JS, COMPONENTIZE_PY, build};
pub use kit::{CASSETTE_FILE, Check, KitMode, KitOptions, KitReport, Verdict, test};
pub use scaffold::{Scaffold, new};

use crate::{Error, Result};

/// A language Max builds connectors in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// Rust on `max-connector-sdk`, built with cargo for `wasm32-wasip2`.
    Rust,
    /// Python on the `max_connector` SDK, built with componentize-py.
    Python,
    /// JavaScript on the Max JS SDK, built with componentize-js (without `wasi:http`).
    JavaScript,
}

impl Language {
    /// Every language, in the order `--lang` lists them.
    pub const ALL: [Language; 3] = [Language::Rust, Language::Python, Language::JavaScript];

    /// Its name on the command line: `rust`, `python`, `js`.
    pub fn name(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::Python => "python",
            Language::JavaScript => "js",
        }
    }

    /// The language of the connector project in `dir`: a `Cargo.toml` is Rust, an `app.py` Python, an
    /// `app.js` JavaScript.
    pub fn of_project(dir: &Path) -> Result<Language> {
        let found: Vec<Language> =
            [("Cargo.toml", Language::Rust), ("app.py", Language::Python), ("app.js", Language::JavaScript)]
                .into_iter()
                .filter(|(file, _)| dir.join(file).is_file())
                .map(|(_, language)| language)
                .collect();
        match found.as_slice() {
            [language] => Ok(*language),
            [] => Err(Error::NotAConnectorProject {
                dir: dir.to_path_buf(),
                reason: "it has no Cargo.toml (Rust), app.py (Python) or app.js (JavaScript)".into(),
            }),
            _ => Err(Error::NotAConnectorProject {
                dir: dir.to_path_buf(),
                reason: format!(
                    "it holds projects of several languages ({})",
                    found.iter().map(|l| l.name()).collect::<Vec<_>>().join(", ")
                ),
            }),
        }
    }
}

impl std::str::FromStr for Language {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        match text.to_ascii_lowercase().as_str() {
            "rust" | "rs" => Ok(Language::Rust),
            "python" | "py" => Ok(Language::Python),
            "js" | "javascript" => Ok(Language::JavaScript),
            other => Err(format!("unknown language `{other}`: rust, python or js")),
        }
    }
}

impl std::fmt::Display for Language {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
