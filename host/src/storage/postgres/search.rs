//! Runs a [`SearchQuery`] on PostgreSQL as SQLite's search does (`storage/search.rs`): reference paths
//! become LEFT JOINs, the filter a WHERE clause with bound text, `--after` a keyset condition over the
//! sort keys and the id. Orders match SQLite's: text compared byte by byte (`COLLATE "C"`), NULL
//! first when ascending and last when descending, so pages never skip or repeat a row. `--match` is
//! PostgreSQL's text search ([`super::fulltext`]).

use std::ops::ControlFlow;

use futures_util::{TryStreamExt, pin_mut};
use tokio_postgres::GenericClient;
use tokio_postgres::types::{ToSql, Type};

use super::connection::failed;
use super::fulltext::Matching;
use super::names::ident;
use crate::Result;
use crate::manifest::FieldType;
use crate::query::{Cursor, Expr, FieldPath, Literal, Op, SCORE, SNIPPET, SearchQuery};
use crate::storage::search::Joins;

/// Builds the SQL of one query: joins for each reference prefix, and the bound text in order.
struct Sql {
    joins: Joins,
    params: Vec<String>,
    /// The `--match`, if any.
    matching: Option<Matching>,
}

/// Whether values of `ty` are stored as text (compared and sorted byte by byte).
fn is_text(ty: &FieldType) -> bool {
    matches!(ty, FieldType::String | FieldType::Datetime | FieldType::Ref(_))
}

impl Sql {
    /// The SQL expression of a path's value (text compared byte by byte), joining the referenced
    /// tables it passes through.
    fn column(&mut self, path: &FieldPath) -> String {
        if let Some(matching) = self.matching.take() {
            let special = match path.text.as_str() {
                SCORE => Some(matching.score.clone()),
                SNIPPET => Some(matching.snippet(&mut |t| self.bind(t))),
                _ => None,
            };
            self.matching = Some(matching);
            if let Some(special) = special {
                return special;
            }
        }
        let column = self.joins.column(path);
        if is_text(path.value_type()) { format!("{column} COLLATE \"C\"") } else { column }
    }

    fn bind(&mut self, text: String) -> String {
        self.params.push(text);
        format!("${}::text", self.params.len())
    }

    /// `value` as SQL: text bound, numbers and booleans written out (they can't carry SQL).
    fn value(&mut self, value: &serde_json::Value) -> String {
        match value {
            serde_json::Value::Null => "NULL".to_string(),
            serde_json::Value::Bool(b) => b.to_string().to_uppercase(),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => format!("({i})"),
                None => format!("({:?})::float8", n.as_f64().unwrap_or(0.0)),
            },
            serde_json::Value::String(s) => self.bind(s.clone()),
            other => self.bind(other.to_string()),
        }
    }

    fn filter(&mut self, expr: &Expr) -> String {
        match expr {
            Expr::Or(terms) => format!("({})", terms.iter().map(|t| self.filter(t)).collect::<Vec<_>>().join(" OR ")),
            Expr::And(terms) => format!("({})", terms.iter().map(|t| self.filter(t)).collect::<Vec<_>>().join(" AND ")),
            Expr::Compare { field, op, value, as_text } => {
                let mut column = self.column(field);
                if *as_text && !is_text(field.value_type()) {
                    column = format!("CAST({column} AS TEXT) COLLATE \"C\"");
                }
                let literal = match value {
                    Literal::Null => {
                        return format!("{column} {}", if *op == Op::Eq { "IS NULL" } else { "IS NOT NULL" });
                    }
                    Literal::Text(t) => serde_json::Value::String(t.clone()),
                    Literal::Integer(i) => serde_json::Value::from(*i),
                    Literal::Float(f) => serde_json::Value::from(*f),
                    Literal::Boolean(b) => serde_json::Value::Bool(*b),
                };
                match op {
                    Op::Contains => {
                        let text = literal.as_str().unwrap_or_default();
                        let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
                        let param = self.bind(format!("%{escaped}%"));
                        format!("{column} ILIKE {param} ESCAPE '\\'")
                    }
                    Op::Ne => format!("{column} IS DISTINCT FROM {}", self.value(&literal)),
                    op => format!("{column} {op} {}", self.value(&literal)),
                }
            }
        }
    }

    /// Rows strictly after `cursor` in the order `ORDER BY keys…, t.id` (NULL first ascending).
    fn after(&mut self, keys: &[(String, bool)], cursor: &Cursor) -> String {
        let mut condition = format!("t.id COLLATE \"C\" > {}", self.bind(cursor.id.clone()));
        for ((column, descending), value) in keys.iter().zip(&cursor.values).rev() {
            let (beyond, same) = if value.is_null() {
                let beyond = if *descending { "FALSE".to_string() } else { format!("{column} IS NOT NULL") };
                (beyond, format!("{column} IS NULL"))
            } else {
                let param = self.value(value);
                let beyond =
                    if *descending { format!("({column} < {param} OR {column} IS NULL)") } else { format!("{column} > {param}") };
                (beyond, format!("{column} = {param}"))
            };
            condition = format!("({beyond} OR ({same} AND {condition}))");
        }
        condition
    }
}

/// Column `i` of `row` as JSON, whatever its PostgreSQL type.
pub(super) fn cell(row: &tokio_postgres::Row, i: usize) -> serde_json::Value {
    let ty = row.columns()[i].type_();
    let value = if *ty == Type::INT8 {
        row.get::<_, Option<i64>>(i).map(serde_json::Value::from)
    } else if *ty == Type::INT4 {
        row.get::<_, Option<i32>>(i).map(serde_json::Value::from)
    } else if *ty == Type::FLOAT8 {
        row.get::<_, Option<f64>>(i).map(serde_json::Value::from)
    } else if *ty == Type::BOOL {
        row.get::<_, Option<bool>>(i).map(serde_json::Value::Bool)
    } else if *ty == Type::JSONB || *ty == Type::JSON {
        row.get::<_, Option<serde_json::Value>>(i)
    } else {
        row.try_get::<_, Option<String>>(i).ok().flatten().map(serde_json::Value::String)
    };
    value.unwrap_or(serde_json::Value::Null)
}

/// Runs `query`, handing each row's values to `visit` as they arrive (streamed, not collected) until
/// `visit` breaks; returns the next page's cursor when the query has a limit and more rows match.
pub(super) async fn stream(
    client: &impl GenericClient,
    query: &SearchQuery,
    visit: &mut dyn FnMut(Vec<serde_json::Value>) -> ControlFlow<()>,
    place: &str,
) -> Result<Option<String>> {
    let mut sql = Sql { joins: Joins::naming_with(ident), params: Vec::new(), matching: None };
    if let Some(text) = &query.text {
        sql.matching = Some(super::fulltext::matching(text, &mut |t| sql.bind(t)));
    }
    let select: Vec<String> = query.fields.iter().map(|f| sql.column(f)).collect();
    let keys: Vec<(String, bool)> = query.order.iter().map(|o| (sql.column(&o.field), o.descending)).collect();
    let mut conditions = vec!["t._deleted_at IS NULL".to_string()];
    if let Some(matching) = &sql.matching {
        conditions.push(matching.condition.clone());
    }
    if let Some(filter) = &query.filter {
        conditions.push(sql.filter(filter));
    }
    if let Some(cursor) = &query.after {
        conditions.push(sql.after(&keys, cursor));
    }
    let mut order: Vec<String> =
        keys.iter().map(|(c, d)| format!("{c} {}", if *d { "DESC NULLS LAST" } else { "ASC NULLS FIRST" })).collect();
    order.push("t.id COLLATE \"C\" ASC".to_string());
    let mut columns = select.clone();
    columns.push("t.id".to_string());
    columns.extend(keys.iter().map(|(c, _)| c.clone()));
    let mut text = format!("SELECT {} FROM {} AS t", columns.join(", "), ident(&query.entity));
    for join in &sql.joins.joins {
        text.push(' ');
        text.push_str(join);
    }
    text.push_str(&format!(" WHERE {} ORDER BY {}", conditions.join(" AND "), order.join(", ")));
    if let Some(limit) = query.limit {
        text.push_str(&format!(" LIMIT {}", limit + 1));
    }
    let params: Vec<&(dyn ToSql + Sync)> = sql.params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
    let rows = client.query_raw(&text, params).await.map_err(|error| {
        tracing::debug!(%error, sql = %text, "the search's SQL was refused");
        failed(place)(error)
    })?;
    pin_mut!(rows);
    let width = select.len();
    let snippet_at = query.fields.iter().position(|f| f.text == SNIPPET);
    let order_key = crate::query::order_key(&query.order);
    let mut seen = 0usize;
    let mut last: Option<(Vec<serde_json::Value>, String)> = None;
    while let Some(row) = rows.try_next().await.map_err(failed(place))? {
        if query.limit.is_some_and(|limit| seen == limit) {
            let (values, id) = last.expect("a limit is at least one row");
            return Ok(Some(Cursor { values, id, order: order_key }.encode()));
        }
        let mut values: Vec<serde_json::Value> = (0..width).map(|i| cell(&row, i)).collect();
        if let (Some(text), Some(at)) = (&query.text, snippet_at)
            && let serde_json::Value::String(snippet) = &values[at]
        {
            let (open, close) = super::fulltext::MARKS;
            let (with_open, with_close) = &text.highlight;
            values[at] = serde_json::Value::String(snippet.replace(open, with_open).replace(close, with_close));
        }
        if query.limit.is_some() {
            let id: String = row.get(width);
            let sort = (0..keys.len()).map(|i| cell(&row, width + 1 + i)).collect();
            last = Some((sort, id));
        }
        seen += 1;
        if visit(values).is_break() {
            break;
        }
    }
    Ok(None)
}
