//! Runs a [`SearchQuery`] as one SQL statement: reference paths become LEFT JOINs, the filter a WHERE
//! clause with bound parameters, and `--after` a keyset condition over the sort keys and the id, so
//! pages never skip or repeat a row under any order. A full-text search joins its matches in the
//! entity's index (with their relevance, `_score`); the snippet of each row handed over is read apart,
//! so only the rows shown cost one.

use std::collections::HashMap;
use std::ops::ControlFlow;

use rusqlite::{OptionalExtension, params_from_iter};
use rusqlite::types::Value;

use super::schema::quote;
use super::sqlite::{SqliteStorage, db_error};
use crate::Result;
use crate::manifest::FieldType;
use crate::query::{Cursor, Expr, FieldPath, Literal, Op, SCORE, SNIPPET, SearchQuery};

/// The joins a search reads through: a LEFT JOIN for each reference prefix of its paths (any
/// backend's SQL, with the backend's way of naming tables and columns).
pub(super) struct Joins {
    /// The joins, in the order they were needed.
    pub(super) joins: Vec<String>,
    aliases: HashMap<String, String>,
    /// A table's or column's name as the backend's SQL names it.
    quote: fn(&str) -> String,
}

impl Default for Joins {
    /// SQLite's joins.
    fn default() -> Self {
        Joins::naming_with(quote)
    }
}

impl Joins {
    /// Joins naming tables and columns with `quote`.
    pub(super) fn naming_with(quote: fn(&str) -> String) -> Self {
        Joins { joins: Vec::new(), aliases: HashMap::new(), quote }
    }

    /// `alias."field"` of a path's value (the searched table is `t`), joining the referenced tables
    /// it passes through.
    pub(super) fn column(&mut self, path: &FieldPath) -> String {
        let mut alias = "t".to_string();
        let mut prefix = String::new();
        for hop in &path.hops[..path.hops.len() - 1] {
            prefix = if prefix.is_empty() { hop.field.clone() } else { format!("{prefix}.{}", hop.field) };
            let FieldType::Ref(target) = &hop.field_type else { unreachable!("resolved paths pass only references") };
            alias = match self.aliases.get(&prefix) {
                Some(existing) => existing.clone(),
                None => {
                    let next = format!("j{}", self.aliases.len() + 1);
                    self.joins.push(format!(
                        "LEFT JOIN {} AS {next} ON {next}.id = {alias}.{}",
                        (self.quote)(target),
                        (self.quote)(&hop.field)
                    ));
                    self.aliases.insert(prefix.clone(), next.clone());
                    next
                }
            };
        }
        let last = path.hops.last().expect("a path has a hop");
        format!("{alias}.{}", (self.quote)(&last.field))
    }
}

/// Builds the SQL of one query: joins for each reference prefix, and the parameters in order.
struct Sql {
    joins: Joins,
    params: Vec<Value>,
}

impl Sql {
    /// The SQL expression of a path's value, joining the referenced tables it passes through.
    fn column(&mut self, path: &FieldPath) -> String {
        match path.text.as_str() {
            SCORE => "m.score".to_string(),
            // Read apart for the rows handed over.
            SNIPPET => "NULL".to_string(),
            _ => self.joins.column(path),
        }
    }

    fn bind(&mut self, value: Value) -> String {
        self.params.push(value);
        format!("?{}", self.params.len())
    }

    fn filter(&mut self, expr: &Expr) -> String {
        match expr {
            Expr::Or(terms) => format!("({})", terms.iter().map(|t| self.filter(t)).collect::<Vec<_>>().join(" OR ")),
            Expr::And(terms) => format!("({})", terms.iter().map(|t| self.filter(t)).collect::<Vec<_>>().join(" AND ")),
            Expr::Compare { field, op, value, as_text } => {
                let mut column = self.column(field);
                if *as_text && !matches!(field.value_type(), FieldType::String | FieldType::Ref(_)) {
                    column = format!("CAST({column} AS TEXT)");
                }
                let literal = match value {
                    Literal::Null => {
                        return format!("{column} {}", if *op == Op::Eq { "IS NULL" } else { "IS NOT NULL" });
                    }
                    Literal::Text(t) => Value::Text(t.clone()),
                    Literal::Integer(i) => Value::Integer(*i),
                    Literal::Float(f) => Value::Real(*f),
                    Literal::Boolean(b) => Value::Integer(i64::from(*b)),
                };
                match op {
                    Op::Contains => {
                        let Value::Text(text) = literal else { unreachable!("~= values are text") };
                        let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
                        let param = self.bind(Value::Text(format!("%{escaped}%")));
                        format!("{column} LIKE {param} ESCAPE '\\'")
                    }
                    Op::Ne => {
                        let param = self.bind(literal);
                        format!("{column} IS NOT {param}")
                    }
                    op => {
                        let param = self.bind(literal);
                        format!("{column} {op} {param}")
                    }
                }
            }
        }
    }

    /// Rows strictly after `cursor` in the order `ORDER BY keys…, t.id ASC` (SQLite sorts NULL first).
    fn after(&mut self, keys: &[(String, bool)], cursor: &Cursor) -> String {
        let mut condition = format!("t.id > {}", self.bind(Value::Text(cursor.id.clone())));
        for ((column, descending), value) in keys.iter().zip(&cursor.values).rev() {
            let value = json_to_sql(value);
            let (beyond, same) = if value == Value::Null {
                let beyond = if *descending { "0".to_string() } else { format!("{column} IS NOT NULL") };
                (beyond, format!("{column} IS NULL"))
            } else {
                let param = self.bind(value);
                let beyond = if *descending {
                    format!("({column} < {param} OR {column} IS NULL)")
                } else {
                    format!("{column} > {param}")
                };
                (beyond, format!("{column} = {param}"))
            };
            condition = format!("({beyond} OR ({same} AND {condition}))");
        }
        condition
    }
}

fn json_to_sql(value: &serde_json::Value) -> Value {
    match value {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Integer(i64::from(*b)),
        serde_json::Value::Number(n) => {
            n.as_i64().map_or_else(|| Value::Real(n.as_f64().unwrap_or(0.0)), Value::Integer)
        }
        serde_json::Value::String(s) => Value::Text(s.clone()),
        other => Value::Text(other.to_string()),
    }
}

fn sql_to_json(value: Value, ty: &FieldType) -> serde_json::Value {
    match (value, ty) {
        (Value::Null, _) => serde_json::Value::Null,
        (Value::Integer(i), FieldType::Boolean) => serde_json::Value::Bool(i != 0),
        (Value::Integer(i), _) => serde_json::Value::from(i),
        (Value::Real(f), _) => serde_json::Value::from(f),
        (Value::Text(t), FieldType::Json) => serde_json::from_str(&t).unwrap_or(serde_json::Value::String(t)),
        (Value::Text(t), _) => serde_json::Value::String(t),
        (Value::Blob(b), _) => serde_json::Value::String(String::from_utf8_lossy(&b).into_owned()),
    }
}

/// Raw sort values for the cursor (JSON stays text, booleans stay 0/1), so they bind back unchanged.
fn sql_to_cursor_value(value: Value) -> serde_json::Value {
    match value {
        Value::Null => serde_json::Value::Null,
        Value::Integer(i) => serde_json::Value::from(i),
        Value::Real(f) => serde_json::Value::from(f),
        Value::Text(t) => serde_json::Value::String(t),
        Value::Blob(b) => serde_json::Value::String(String::from_utf8_lossy(&b).into_owned()),
    }
}

/// The most words a snippet shows.
const SNIPPET_WORDS: i64 = 16;

/// Runs `query`, handing each row's values to `visit` as SQLite produces them (nothing is collected, so
/// memory stays flat however many rows match) until `visit` breaks; returns the next page's cursor
/// when the query has a limit and more rows match.
pub(super) fn stream(
    storage: &SqliteStorage,
    query: &SearchQuery,
    visit: &mut dyn FnMut(Vec<serde_json::Value>) -> ControlFlow<()>,
) -> Result<Option<String>> {
    let conn = &storage.conn;
    let mut sql = Sql { joins: Joins::default(), params: Vec::new() };
    let searchable: Vec<_> = query.text.iter().flat_map(|t| t.fields.iter()).collect();
    let matches = match &query.text {
        Some(text) => {
            let param = sql.bind(Value::Text(text.expression.clone()));
            Some(super::fulltext::matches(&query.entity, &searchable, &param))
        }
        None => None,
    };
    let select: Vec<String> = query.fields.iter().map(|f| sql.column(f)).collect();
    let keys: Vec<(String, bool)> = query.order.iter().map(|o| (sql.column(&o.field), o.descending)).collect();
    let mut conditions = vec!["t._deleted_at IS NULL".to_string()];
    if let Some(filter) = &query.filter {
        conditions.push(sql.filter(filter));
    }
    if let Some(cursor) = &query.after {
        conditions.push(sql.after(&keys, cursor));
    }
    let mut order: Vec<String> = keys.iter().map(|(c, d)| format!("{c} {}", if *d { "DESC" } else { "ASC" })).collect();
    order.push("t.id ASC".to_string());
    let mut columns = select.clone();
    columns.push("t.id".to_string());
    columns.extend(keys.iter().map(|(c, _)| c.clone()));
    let snippet_at = query.fields.iter().position(|f| f.text == SNIPPET);
    if snippet_at.is_some() {
        columns.push(format!("t.{}", super::fulltext::ROWID));
    }
    let mut text = match &matches {
        // Materialized: the relevance can only be computed where the index is scanned.
        Some(matches) => format!(
            "WITH m AS MATERIALIZED ({matches}) SELECT {} FROM {} AS t JOIN m ON m.r = t.{}",
            columns.join(", "),
            quote(&query.entity),
            super::fulltext::ROWID
        ),
        None => format!("SELECT {} FROM {} AS t", columns.join(", "), quote(&query.entity)),
    };
    for join in &sql.joins.joins {
        text.push(' ');
        text.push_str(join);
    }
    text.push_str(&format!(" WHERE {} ORDER BY {}", conditions.join(" AND "), order.join(", ")));
    if let Some(limit) = query.limit {
        text.push_str(&format!(" LIMIT {}", limit + 1));
    }
    let mut stmt = conn.prepare(&text).map_err(|error| {
        tracing::debug!(%error, sql = %text, "the search's SQL was refused");
        super::sqlite::sqlite_error(conn.path().unwrap_or_default(), error)
    })?;
    let width = select.len();
    let key_count = keys.len();
    let order_key = crate::query::order_key(&query.order);
    let mut snippets = match (&query.text, snippet_at) {
        (Some(text), Some(_)) => Some((conn.prepare(&super::fulltext::snippet_statement(&query.entity)).map_err(db_error(conn))?, text)),
        _ => None,
    };
    let mut rows = stmt.query(params_from_iter(sql.params.iter())).map_err(db_error(conn))?;
    let mut seen = 0usize;
    // The sort values and id of the last row handed over: the cursor, should another row follow.
    let mut last: Option<(Vec<serde_json::Value>, String)> = None;
    while let Some(row) = rows.next().map_err(db_error(conn))? {
        if query.limit.is_some_and(|limit| seen == limit) {
            let (values, id) = last.expect("a limit is at least one row");
            return Ok(Some(Cursor { values, id, order: order_key }.encode()));
        }
        let read = |i| row.get::<_, Value>(i).map_err(db_error(conn));
        let mut values = Vec::with_capacity(width);
        for (i, field) in query.fields.iter().enumerate() {
            values.push(sql_to_json(read(i)?, field.value_type()));
        }
        if let (Some((statement, text)), Some(at)) = (&mut snippets, snippet_at) {
            let rowid: i64 = row.get(width + 1 + key_count).map_err(db_error(conn))?;
            let (open, close) = &text.highlight;
            let snippet: Option<String> = statement
                .query_row(rusqlite::params![text.expression, rowid, open, close, SNIPPET_WORDS], |r| r.get(0))
                .optional()
                .map_err(db_error(conn))?;
            values[at] = snippet.map_or(serde_json::Value::Null, serde_json::Value::String);
        }
        if query.limit.is_some() {
            let id: String = row.get(width).map_err(db_error(conn))?;
            let sort = (0..key_count).map(|i| read(width + 1 + i).map(sql_to_cursor_value)).collect::<Result<_>>()?;
            last = Some((sort, id));
        }
        seen += 1;
        if visit(values).is_break() {
            break;
        }
    }
    Ok(None)
}
