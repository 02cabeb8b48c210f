//! Read-only SQL over several installations' SQLite databases at once: each attached read-only under
//! the name the query calls it by, the one statement allowed to read and nothing else (an authorizer
//! refuses writes, `ATTACH`, `DETACH`, transactions and every pragma but those that describe tables),
//! and bounded in time, rows and the size of any one value.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::limits::Limit;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use serde_json::Value;

use crate::{Error, Result};

/// A database the query may read, and the schema name it is attached under.
#[derive(Debug, Clone)]
pub(crate) struct Attachment {
    /// The schema name (`linear`, `linear/work`).
    pub name: String,
    /// The installation's `data.db`.
    pub path: PathBuf,
}

/// The largest string or blob a query may build (SQLite's `SQLITE_LIMIT_LENGTH`): a
/// `zeroblob(1e12)` is an error, not the machine's memory.
const MAX_VALUE_BYTES: i32 = 64 << 20;
/// How many SQLite virtual machine steps pass between two looks at the clock.
const STEPS_PER_CHECK: i32 = 10_000;
/// Pragmas that only describe the attached databases.
const DESCRIBING_PRAGMAS: &[&str] = &[
    "table_info",
    "table_xinfo",
    "table_list",
    "index_list",
    "index_info",
    "index_xinfo",
    "foreign_key_list",
    "database_list",
];

/// Runs `query` over `attachments`: `start` gets the columns, `visit` each row (values as JSON) until
/// it breaks or `max_rows` were visited. Returns the rows visited and whether more were left.
pub(crate) fn run(
    attachments: &[Attachment],
    query: &str,
    max_rows: u64,
    timeout: Duration,
    start: &mut dyn FnMut(&[String]),
    visit: &mut dyn FnMut(Vec<Value>) -> ControlFlow<()>,
) -> Result<(u64, bool)> {
    let mut conn = open(attachments)?;
    let refused: std::sync::Arc<std::sync::Mutex<Option<String>>> = Default::default();
    let noted = refused.clone();
    conn.authorizer(Some(move |context: AuthContext<'_>| match allowed(&context) {
        Ok(()) => Authorization::Allow,
        Err(reason) => {
            noted.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get_or_insert(reason);
            Authorization::Deny
        }
    }))
    .map_err(failed)?;
    let deadline = Instant::now() + timeout;
    conn.progress_handler(STEPS_PER_CHECK, Some(move || Instant::now() >= deadline)).map_err(failed)?;
    let explain = |error: rusqlite::Error| match refused.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() {
        Some(reason) => Error::SqlRefused { reason },
        None => sql_error(error, timeout),
    };

    let mut statement = conn.prepare(query).map_err(&explain)?;
    if !statement.readonly() {
        return Err(Error::SqlRefused { reason: "it would write: `max sql` only reads".to_string() });
    }
    let columns: Vec<String> = statement.column_names().map(str::to_string).collect();
    start(&columns);
    let mut rows = statement.query([]).map_err(&explain)?;
    let mut visited = 0u64;
    while let Some(row) = rows.next().map_err(&explain)? {
        if visited == max_rows {
            return Ok((visited, true));
        }
        let values = (0..columns.len()).map(|i| row.get_ref(i).map(json)).collect::<rusqlite::Result<Vec<_>>>();
        visited += 1;
        if visit(values.map_err(&explain)?).is_break() {
            return Ok((visited, false));
        }
    }
    Ok((visited, false))
}

/// An in-memory connection with every attachment attached read-only, writes refused.
fn open(attachments: &[Attachment]) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(":memory:", flags).map_err(failed)?;
    let most = conn.limit(Limit::SQLITE_LIMIT_ATTACHED).map_err(failed)?;
    if attachments.len() > most as usize {
        return Err(Error::SqlRefused {
            reason: format!(
                "it names {} installations; one query can read at most {most} (name each one's tables with its name: linear.Issue)",
                attachments.len()
            ),
        });
    }
    conn.busy_timeout(Duration::from_secs(10)).map_err(failed)?;
    for attachment in attachments {
        let uri = format!("file:{}?mode=ro", uri_path(&attachment.path));
        conn.execute("ATTACH DATABASE ?1 AS ?2", [uri.as_str(), attachment.name.as_str()]).map_err(|e| {
            Error::CorruptDatabase { path: attachment.path.display().to_string(), reason: e.to_string() }
        })?;
    }
    conn.set_limit(Limit::SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES).map_err(failed)?;
    conn.execute_batch("PRAGMA query_only = ON").map_err(failed)?;
    Ok(conn)
}

/// Whether a query may do what `context` asks: read, call functions, recurse; nothing else.
fn allowed(context: &AuthContext<'_>) -> std::result::Result<(), String> {
    match context.action {
        AuthAction::Select | AuthAction::Read { .. } | AuthAction::Function { .. } | AuthAction::Recursive => Ok(()),
        AuthAction::Pragma { pragma_name, pragma_value: _ }
            if DESCRIBING_PRAGMAS.iter().any(|p| p.eq_ignore_ascii_case(pragma_name)) =>
        {
            Ok(())
        }
        AuthAction::Attach { .. } | AuthAction::Detach { .. } => Err(
            "ATTACH and DETACH are not allowed: every installation the query names is attached by Max (linear.Issue)"
                .to_string(),
        ),
        AuthAction::Pragma { pragma_name, .. } => {
            Err(format!("PRAGMA {pragma_name} is not allowed (only {} describe tables)", DESCRIBING_PRAGMAS.join(", ")))
        }
        AuthAction::Transaction { .. } | AuthAction::Savepoint { .. } => {
            Err("transactions are not needed: each query reads one consistent snapshot".to_string())
        }
        _ => Err("it would write: `max sql` only reads".to_string()),
    }
}

/// A stored value as JSON: integers and reals as numbers, text as strings, blobs as hex.
fn json(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::from(i),
        ValueRef::Real(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        ValueRef::Text(text) => Value::String(String::from_utf8_lossy(text).into_owned()),
        ValueRef::Blob(bytes) => Value::String(crate::format::hex(bytes)),
    }
}

/// A path as a `file:` URI's path: `%`, `?` and `#` escaped.
fn uri_path(path: &std::path::Path) -> String {
    let text = path.display().to_string();
    text.replace('%', "%25").replace('?', "%3f").replace('#', "%23")
}

/// What went wrong with the query, in SQLite's words (its own query: the user's SQL, nothing of Max's).
fn sql_error(error: rusqlite::Error, timeout: Duration) -> Error {
    match &error {
        rusqlite::Error::SqliteFailure(code, _) if code.code == rusqlite::ErrorCode::OperationInterrupted => {
            Error::SqlTimeout { seconds: timeout.as_secs_f64() }
        }
        rusqlite::Error::MultipleStatement => {
            Error::SqlRefused { reason: "it holds more than one statement; run one at a time".to_string() }
        }
        rusqlite::Error::SqliteFailure(_, Some(message)) => Error::SqlFailed { message: message.clone() },
        other => Error::SqlFailed { message: other.to_string() },
    }
}

fn failed(error: rusqlite::Error) -> Error {
    Error::SqlFailed { message: error.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two databases as two installations would have them: `crm.Contact`, `tracker.Issue`.
    fn databases(dir: &std::path::Path) -> Vec<Attachment> {
        let crm = dir.join("crm.db");
        let tracker = dir.join("tracker.db");
        Connection::open(&crm)
            .unwrap()
            .execute_batch(
                "CREATE TABLE Contact (id TEXT PRIMARY KEY, email TEXT, photo BLOB);
                 INSERT INTO Contact VALUES ('c1', 'ada@acme.com', x'00ff'), ('c2', 'bob@acme.com', NULL);",
            )
            .unwrap();
        Connection::open(&tracker)
            .unwrap()
            .execute_batch(
                "CREATE TABLE Issue (id TEXT PRIMARY KEY, title TEXT, reporter TEXT, points REAL);
                 INSERT INTO Issue VALUES ('i1', 'Crash', 'ada@acme.com', 2.5), ('i2', 'Typo', 'ada@acme.com', 1),
                                          ('i3', 'Slow', 'bob@acme.com', NULL);",
            )
            .unwrap();
        vec![Attachment { name: "crm".into(), path: crm }, Attachment { name: "tracker".into(), path: tracker }]
    }

    fn query(attachments: &[Attachment], sql: &str, max_rows: u64) -> Result<(Vec<String>, Vec<Vec<Value>>, bool)> {
        let mut columns = Vec::new();
        let mut rows = Vec::new();
        let (_, truncated) = run(
            attachments,
            sql,
            max_rows,
            Duration::from_secs(2),
            &mut |c| columns = c.to_vec(),
            &mut |row| {
                rows.push(row);
                ControlFlow::Continue(())
            },
        )?;
        Ok((columns, rows, truncated))
    }

    #[test]
    fn a_query_joins_attached_databases_and_returns_json_values() {
        let dir = tempfile::tempdir().unwrap();
        let dbs = databases(dir.path());
        let (columns, rows, truncated) = query(
            &dbs,
            "SELECT c.id, count(i.id) AS issues, sum(i.points) AS points, c.photo
             FROM crm.Contact c LEFT JOIN tracker.Issue i ON i.reporter = c.email GROUP BY c.id ORDER BY c.id",
            100,
        )
        .unwrap();
        assert_eq!(columns, ["id", "issues", "points", "photo"]);
        assert_eq!(rows[0], vec![Value::from("c1"), Value::from(2), Value::from(3.5), Value::from("00ff")]);
        assert_eq!(rows[1], vec![Value::from("c2"), Value::from(1), Value::Null, Value::Null]);
        assert!(!truncated);
        let (_, rows, truncated) = query(&dbs, "SELECT id FROM tracker.Issue ORDER BY id", 2).unwrap();
        assert_eq!((rows.len(), truncated), (2, true));
    }

    #[test]
    fn anything_but_reading_is_refused_and_nothing_changes() {
        let dir = tempfile::tempdir().unwrap();
        let dbs = databases(dir.path());
        let elsewhere = dir.path().join("elsewhere.db");
        for (sql, says) in [
            ("DELETE FROM tracker.Issue", "only reads"),
            ("UPDATE crm.Contact SET email = NULL", "only reads"),
            ("INSERT INTO crm.Contact (id) VALUES ('x')", "only reads"),
            ("CREATE TABLE crm.t (x)", "only reads"),
            ("CREATE TEMP TABLE t (x)", "only reads"),
            ("DROP TABLE tracker.Issue", "only reads"),
            (&format!("ATTACH '{}' AS other", elsewhere.display()), "ATTACH and DETACH are not allowed"),
            ("DETACH crm", "ATTACH and DETACH are not allowed"),
            ("PRAGMA crm.writable_schema = ON", "PRAGMA writable_schema is not allowed"),
            ("PRAGMA query_only = OFF", "PRAGMA query_only is not allowed"),
            ("BEGIN", "transactions are not needed"),
            ("SELECT 1; SELECT 2", "more than one statement"),
            ("SELECT 1; DELETE FROM tracker.Issue", "only reads"),
            ("VACUUM crm", "only reads"),
        ] {
            match query(&dbs, sql, 10) {
                Err(Error::SqlRefused { reason }) => assert!(reason.contains(says), "{sql}: {reason}"),
                other => panic!("{sql}: {other:?}"),
            }
        }
        assert!(!elsewhere.exists(), "nothing was created");
        let (_, rows, _) = query(&dbs, "SELECT count(*) FROM tracker.Issue", 10).unwrap();
        assert_eq!(rows[0][0], Value::from(3));
        let (_, rows, _) = query(&dbs, "PRAGMA tracker.table_info(Issue)", 10).unwrap();
        assert_eq!(rows.len(), 4, "describing pragmas are allowed");
    }

    #[test]
    fn runaway_queries_stop_at_the_time_and_size_limits() {
        let dir = tempfile::tempdir().unwrap();
        let dbs = databases(dir.path());
        let forever = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT max(i) FROM n";
        let started = Instant::now();
        assert!(matches!(query(&dbs, forever, 10), Err(Error::SqlTimeout { .. })));
        assert!(started.elapsed() < Duration::from_secs(30), "stopped near its 2 s limit: {:?}", started.elapsed());
        match query(&dbs, "SELECT length(zeroblob(1000000000))", 10) {
            Err(Error::SqlFailed { message }) => assert!(message.contains("too big"), "{message}"),
            other => panic!("{other:?}"),
        }
        match query(&dbs, "SELECT * FROM tracker.Issues", 10) {
            Err(Error::SqlFailed { message }) => assert_eq!(message, "no such table: tracker.Issues"),
            other => panic!("{other:?}"),
        }
    }
}
