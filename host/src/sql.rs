//! Read-only SQL across a project's installations, through the front door: each installation's
//! database is attached under its name (`linear.Issue`, `hubspot.Contact`, `"linear/work".Issue`
//! for a second installation), and only the ones the query names (all of them when it names none);
//! the query may only read, within a time limit and a row cap. A project whose data is in
//! PostgreSQL runs the query there, each installation a schema on the search path (PostgreSQL folds
//! unquoted names to lower case: `linear."Issue"`).

use std::ops::ControlFlow;
use std::time::Duration;

use serde::Serialize;

use crate::front::Host;
use crate::project::{Installation, StorageSetting};
use crate::storage::sql::{self, Attachment};
use crate::{Error, Result};

/// The limits a query runs under.
#[derive(Debug, Clone, Copy)]
pub struct SqlOptions {
    /// Rows returned at most; the rest are left (and [`SqlOutcome::truncated`] says so).
    pub max_rows: u64,
    /// How long the query may run.
    pub timeout: Duration,
}

impl Default for SqlOptions {
    fn default() -> Self {
        SqlOptions { max_rows: 10_000, timeout: Duration::from_secs(30) }
    }
}

/// What a query returned, beside its rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SqlOutcome {
    /// Rows returned.
    pub rows: u64,
    /// Whether more rows were left past the row cap.
    pub truncated: bool,
    /// The schema names attached (the installations the query could read).
    pub attached: Vec<String>,
}

/// An installation as SQL names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SqlSchema {
    /// The schema name its tables are read under (`linear`, or `linear/work` when the connector
    /// has several installations and this isn't the default one).
    pub name: String,
    /// `connector/name`.
    pub installation: String,
    /// Whether it has been synced (its tables exist).
    pub synced: bool,
}

impl Host {
    /// The names SQL reads each installation under.
    pub fn sql_schemas(&self) -> Result<Vec<SqlSchema>> {
        let installations = self.project().installations().list()?;
        if let StorageSetting::Postgres { url } = self.project().storage()? {
            return installations
                .iter()
                .map(|i| {
                    let name = i.pg_schema();
                    let synced = crate::storage::PgStorage::open_existing(&url, &name)?.is_some();
                    Ok(SqlSchema { name, installation: i.label(), synced })
                })
                .collect();
        }
        Ok(installations
            .iter()
            .map(|i| SqlSchema {
                name: schema_name(i, &installations),
                installation: i.label(),
                synced: i.data_db().exists(),
            })
            .collect())
    }

    /// Runs the read-only `query` across the project's installations: `start` gets the columns,
    /// `visit` each row (as JSON values) until it breaks. Writes, `ATTACH`, transactions and
    /// pragmas that change anything are refused ([`Error::SqlRefused`]); a query past its time is
    /// [`Error::SqlTimeout`]; SQLite's own complaint about the query is [`Error::SqlFailed`].
    pub fn sql_each(
        &self,
        query: &str,
        options: &SqlOptions,
        start: &mut dyn FnMut(&[String]),
        visit: &mut dyn FnMut(Vec<serde_json::Value>) -> ControlFlow<()>,
    ) -> Result<SqlOutcome> {
        if query.trim().is_empty() {
            return Err(Error::SqlRefused { reason: "the query is empty".to_string() });
        }
        if let StorageSetting::Postgres { url } = self.project().storage()? {
            let attached: Vec<String> = self.sql_schemas()?.into_iter().filter(|s| s.synced).map(|s| s.name).collect();
            let (rows, truncated) =
                crate::storage::pg_sql::run(&url, &attached, query, options.max_rows, options.timeout, start, visit)?;
            return Ok(SqlOutcome { rows, truncated, attached });
        }
        let installations = self.project().installations().list()?;
        let named = qualifiers(query);
        // A query that names no installation reads each synced one under its primary name.
        let none_named = named_none(&named, &installations);
        let mut attachments = Vec::new();
        for installation in &installations {
            let primary = schema_name(installation, &installations);
            let label = installation.label();
            let mut names: Vec<String> = Vec::new();
            if none_named {
                names.push(primary);
            } else {
                for name in &named {
                    let this = name.eq_ignore_ascii_case(&primary) || name.eq_ignore_ascii_case(&label);
                    if this && !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                        names.push(name.clone());
                    }
                }
            }
            if names.is_empty() || (none_named && !installation.data_db().exists()) {
                continue;
            }
            if !installation.data_db().exists() {
                return Err(Error::NotSynced { label });
            }
            attachments.extend(names.into_iter().map(|name| Attachment { name, path: installation.data_db() }));
        }
        let (rows, truncated) = sql::run(&attachments, query, options.max_rows, options.timeout, start, visit)?;
        Ok(SqlOutcome { rows, truncated, attached: attachments.into_iter().map(|a| a.name).collect() })
    }
}

/// Whether the query names none of the installations.
fn named_none(named: &[String], installations: &[Installation]) -> bool {
    !installations.iter().any(|i| {
        let primary = schema_name(i, installations);
        named.iter().any(|n| n.eq_ignore_ascii_case(&primary) || n.eq_ignore_ascii_case(&i.label()))
    })
}

/// The name an installation's tables are read under: its connector's name when it is that
/// connector's only or `default` installation (as `max search linear` finds it), else
/// `connector/name`.
fn schema_name(installation: &Installation, all: &[Installation]) -> String {
    let connector = &installation.file.connector;
    let siblings = all.iter().filter(|i| &i.file.connector == connector).count();
    if siblings == 1 || installation.file.name == crate::project::DEFAULT_NAME {
        connector.clone()
    } else {
        installation.label()
    }
}

/// The names a query qualifies others with (`linear` in `linear.Issue`, `linear/work` in
/// `"linear/work".Issue`): identifiers, bare or quoted, followed by a dot, outside strings and
/// comments.
fn qualifiers(query: &str) -> Vec<String> {
    let chars: Vec<char> = query.chars().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let identifier = match c {
            '\'' => {
                i = skip_quoted(&chars, i, '\'');
                None
            }
            '-' if chars.get(i + 1) == Some(&'-') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                None
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                i += 2;
                while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                    i += 1;
                }
                i += 2;
                None
            }
            '"' | '`' | '[' => {
                let close = if c == '[' { ']' } else { c };
                let end = skip_quoted(&chars, i, close);
                let text: String = chars[i + 1..end.saturating_sub(1).max(i + 1)].iter().collect();
                i = end;
                Some(text.replace(&format!("{close}{close}"), &close.to_string()))
            }
            c if c.is_alphabetic() || c == '_' => {
                let begin = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$') {
                    i += 1;
                }
                Some(chars[begin..i].iter().collect())
            }
            _ => {
                i += 1;
                None
            }
        };
        if let Some(identifier) = identifier {
            let mut next = i;
            while next < chars.len() && chars[next].is_whitespace() {
                next += 1;
            }
            if chars.get(next) == Some(&'.') {
                found.push(identifier);
            }
        }
    }
    found
}

/// The index just past the quoted text opening at `open` and closed by `close` (a doubled `close`
/// inside is one character of the text).
fn skip_quoted(chars: &[char], open: usize, close: char) -> usize {
    let mut i = open + 1;
    while i < chars.len() {
        if chars[i] == close {
            if close != ']' && chars.get(i + 1) == Some(&close) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    chars.len()
}

#[cfg(test)]
mod tests {
    use super::qualifiers;

    #[test]
    fn qualifiers_are_the_names_before_a_dot_outside_strings_and_comments() {
        let query = r#"SELECT i.title, "linear/work" . "Issue".id FROM linear.Issue i -- hubspot.Contact
            JOIN [github].Repository r ON r.id = 'acme.api' /* gdrive.File */ WHERE x = 'it''s.x'"#;
        assert_eq!(qualifiers(query), ["i", "linear/work", "Issue", "linear", "github", "r"]);
        assert_eq!(qualifiers(r#"SELECT 1.5, "a""b".t"#), [r#"a"b"#]);
        assert!(qualifiers("SELECT 'unterminated.").is_empty());
        assert!(qualifiers("SELECT \"open").is_empty());
    }
}
