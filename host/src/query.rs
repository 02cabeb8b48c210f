//! Searches: a request as the user wrote it (filter text, field lists, order) is parsed and resolved
//! against the connector's schema into a [`SearchQuery`] that storage runs. Field paths may follow
//! references with dots (`assignee.email`); values are coerced by the field's type.

pub mod filter;
pub mod text;

use serde::{Deserialize, Serialize};

use crate::manifest::{ConnectorInfo, EntityDef, FieldType};
use crate::{Error, Result};

pub use filter::Op;

/// One step along a field path: a field of an entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// The entity the field belongs to.
    pub entity: String,
    /// The field (`id` included).
    pub field: String,
    /// Its type.
    pub field_type: FieldType,
}

/// A resolved field path: every hop but the last is a reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    /// As written (`assignee.email`).
    pub text: String,
    /// The hops, from the searched entity on.
    pub hops: Vec<Hop>,
}

impl FieldPath {
    /// The type of the value at the end of the path.
    pub fn value_type(&self) -> &FieldType {
        &self.hops.last().expect("a path has at least one hop").field_type
    }
}

/// A literal to compare with.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `null`.
    Null,
    /// Text.
    Text(String),
    /// Integer.
    Integer(i64),
    /// Float.
    Float(f64),
    /// Boolean.
    Boolean(bool),
}

/// A resolved filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// Any.
    Or(Vec<Expr>),
    /// All.
    And(Vec<Expr>),
    /// A comparison.
    Compare {
        /// The field.
        field: FieldPath,
        /// The operator.
        op: Op,
        /// The value.
        value: Literal,
        /// Whether the value was quoted: then it is compared as text.
        as_text: bool,
    },
}

/// One sort key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// The field.
    pub field: FieldPath,
    /// Descending?
    pub descending: bool,
}

/// Where the previous page ended: its last row's sort values and id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    /// The sort values of the last row, one per order key.
    pub values: Vec<serde_json::Value>,
    /// Its id.
    pub id: String,
    /// The order it was made under ([`order_key`]), so it is refused under another.
    #[serde(default)]
    pub order: String,
}

/// The sort keys of a search as one text (`title:asc,priority:desc`), which a cursor carries.
pub fn order_key(order: &[Order]) -> String {
    let key =
        |o: &Order| format!("{}:{}", o.field.text.to_ascii_lowercase(), if o.descending { "desc" } else { "asc" });
    order.iter().map(key).collect::<Vec<_>>().join(",")
}

impl Cursor {
    /// The opaque token users pass to `--after`.
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).expect("cursors serialize");
        json.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Reads a token made by [`Cursor::encode`].
    pub fn decode(token: &str) -> Result<Self> {
        let invalid = || Error::Query {
            message: format!("`{token}` is not a cursor from a previous search"),
            hint: Some("pass the cursor printed after the last page, unchanged".into()),
        };
        if !token.len().is_multiple_of(2) || !token.is_ascii() {
            return Err(invalid());
        }
        let bytes: Option<Vec<u8>> =
            (0..token.len()).step_by(2).map(|i| u8::from_str_radix(&token[i..i + 2], 16).ok()).collect();
        serde_json::from_slice(&bytes.ok_or_else(invalid)?).map_err(|_| invalid())
    }
}

/// The full-text part of a search (`--match`).
#[derive(Debug, Clone, PartialEq)]
pub struct TextMatch {
    /// The FTS5 query the words became ([`text::Words::to_fts5`]).
    pub expression: String,
    /// The words as parsed (for storage that isn't SQLite).
    pub words: text::Words,
    /// The entity's searchable fields, in the order its index has them.
    pub fields: Vec<crate::manifest::SearchableField>,
    /// What the `_snippet` column puts before and after each matched word.
    pub highlight: (String, String),
}

/// The relevance of a `--match` search's row (higher is better), a column like the fields.
pub const SCORE: &str = "_score";

/// The text around a `--match` search's best match in a row, a column like the fields.
pub const SNIPPET: &str = "_snippet";

/// A search ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchQuery {
    /// The entity searched.
    pub entity: String,
    /// Which rows.
    pub filter: Option<Expr>,
    /// Which columns, in order.
    pub fields: Vec<FieldPath>,
    /// Sort keys (the id always breaks ties, ascending).
    pub order: Vec<Order>,
    /// At most this many rows (none: all).
    pub limit: Option<usize>,
    /// Continue after this row.
    pub after: Option<Cursor>,
    /// Only rows whose searchable fields match these words, by relevance unless ordered otherwise.
    pub text: Option<TextMatch>,
}

/// One page of results.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchPage {
    /// Column names (the field paths).
    pub columns: Vec<String>,
    /// Rows of JSON values.
    pub rows: Vec<Vec<serde_json::Value>>,
    /// The cursor of the next page, when there is one.
    pub next: Option<String>,
}

/// A search as the user asked for it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SearchRequest {
    /// Entity name.
    pub entity: String,
    /// Filter text.
    pub filter: Option<String>,
    /// Field paths, or `None` for all fields of the entity.
    pub fields: Option<Vec<String>>,
    /// `field[:asc|desc]` keys.
    pub order_by: Vec<String>,
    /// Page size (none: all rows).
    pub limit: Option<usize>,
    /// A cursor token.
    pub after: Option<String>,
    /// Words the searchable fields must match (`--match`; see [`text`]).
    pub text: Option<String>,
    /// What the `_snippet` column puts before and after each matched word (none: nothing).
    pub highlight: Option<(String, String)>,
}

fn entity<'a>(info: &'a ConnectorInfo, name: &str) -> Result<&'a EntityDef> {
    info.entity(name).ok_or_else(|| Error::Query {
        message: format!("`{}` has no entity `{name}`", info.name),
        hint: Some(format!(
            "entities: {}",
            info.schema.entities.iter().map(|e| e.name.as_str()).collect::<Vec<_>>().join(", ")
        )),
    })
}

/// The fields a path may end in: `id` and every non-collection field.
fn valid_fields(def: &EntityDef) -> Vec<&str> {
    std::iter::once("id")
        .chain(def.fields.iter().filter(|f| !matches!(f.field_type, FieldType::Collection(_))).map(|f| f.name.as_str()))
        .collect()
}

/// The columns every entity table has besides its fields: `id`, and when (`_synced_at`) and by which
/// sync (`_sync_id`) a row was last written.
fn bookkeeping_type(name: &str) -> Option<FieldType> {
    match name {
        "id" => Some(FieldType::String),
        "_synced_at" => Some(FieldType::Datetime),
        "_sync_id" => Some(FieldType::Integer),
        SCORE => Some(FieldType::Float),
        SNIPPET => Some(FieldType::String),
        _ => None,
    }
}

/// `--fields .meta` stands for these.
pub const META_FIELDS: [&str; 2] = ["_synced_at", "_sync_id"];

/// `--fields .match` stands for these.
pub const MATCH_FIELDS: [&str; 2] = [SCORE, SNIPPET];

/// Whether `path` is one of a `--match` search's own columns.
fn is_match_column(path: &FieldPath) -> bool {
    path.hops.iter().any(|hop| hop.field == SCORE || hop.field == SNIPPET)
}

/// A `--match` column used where it can't be: without `--match`, past a reference, or `_snippet`
/// filtered or sorted on.
fn misplaced_match_column(path: &FieldPath, text: bool, computed_only: bool) -> Option<Error> {
    if !is_match_column(path) {
        return None;
    }
    let name = &path.hops.last().expect("a path has a hop").field;
    let message = if !text {
        format!("`{}` belongs to a full-text search", path.text)
    } else if path.hops.len() > 1 || path.hops[0].field != *name {
        format!("`{}`: `{name}` is the searched row's own, not a field to follow references to", path.text)
    } else if computed_only && name == SNIPPET {
        format!("`{SNIPPET}` is shown, not filtered or sorted on")
    } else {
        return None;
    };
    Some(Error::Query {
        message,
        hint: Some("add --match 'words' and use `_score` or `_snippet` of the entity searched".into()),
    })
}

/// Resolves `assignee.email` from `entity`.
pub fn resolve_path(info: &ConnectorInfo, entity_name: &str, text: &str) -> Result<FieldPath> {
    let mut current = entity(info, entity_name)?;
    let mut hops = Vec::new();
    let segments: Vec<&str> = text.split('.').collect();
    for (index, segment) in segments.iter().enumerate() {
        let last = index + 1 == segments.len();
        let field_type = if let Some(ty) = bookkeeping_type(segment) {
            ty
        } else {
            match current.field(segment) {
                Some(f) if !matches!(f.field_type, FieldType::Collection(_)) => f.field_type.clone(),
                Some(_) => {
                    return Err(Error::Query {
                        message: format!(
                            "`{}.{segment}` is a collection; search the item entity instead",
                            current.name
                        ),
                        hint: None,
                    });
                }
                None => {
                    return Err(Error::Query {
                        message: format!("`{}` has no field `{segment}` (in `{text}`)", current.name),
                        hint: Some(format!("fields of {}: {}", current.name, valid_fields(current).join(", "))),
                    });
                }
            }
        };
        hops.push(Hop { entity: current.name.clone(), field: segment.to_string(), field_type: field_type.clone() });
        if !last {
            match &field_type {
                FieldType::Ref(target) => current = entity(info, target)?,
                other => {
                    return Err(Error::Query {
                        message: format!(
                            "`{}.{segment}` is {other}, not a reference, so `{text}` can't follow it",
                            current.name
                        ),
                        hint: None,
                    });
                }
            }
        }
    }
    Ok(FieldPath { text: text.to_string(), hops })
}

/// The full-text part of `request`, checked against `entity`'s searchable fields.
fn text_match(info: &ConnectorInfo, entity: &EntityDef, request: &SearchRequest) -> Result<Option<TextMatch>> {
    let Some(words) = &request.text else { return Ok(None) };
    let fields: Vec<crate::manifest::SearchableField> =
        info.schema.searchable_fields(&entity.name).into_iter().cloned().collect();
    if fields.is_empty() {
        let searchable: Vec<&str> = info
            .schema
            .entities
            .iter()
            .filter(|e| !info.schema.searchable_fields(&e.name).is_empty())
            .map(|e| e.name.as_str())
            .collect();
        return Err(Error::Query {
            message: format!("`{}` has no fields searched by their words, so --match can't search it", entity.name),
            hint: Some(if searchable.is_empty() {
                format!("`{}` marks no fields as searchable; use --filter 'field ~= \"text\"'", info.name)
            } else {
                format!("entities with searchable fields: {}", searchable.join(", "))
            }),
        });
    }
    let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
    let words = text::parse(words, &names)?;
    let highlight = request.highlight.clone().unwrap_or_default();
    Ok(Some(TextMatch { expression: words.to_fts5(), words, fields, highlight }))
}

/// Turns a request into a query: parses the filter, resolves every field, checks the cursor.
pub fn build(info: &ConnectorInfo, request: &SearchRequest) -> Result<SearchQuery> {
    let def = entity(info, &request.entity)?;
    let text = text_match(info, def, request)?;
    let filter = match &request.filter {
        Some(text) => {
            Some(resolve_expr(info, &def.name, text, filter::parse(text).map_err(|e| syntax_error(text, e))?)?)
        }
        None => None,
    };
    if let Some(error) = filter.as_ref().and_then(|f| misplaced_in_filter(f, text.is_some())) {
        return Err(error);
    }
    let fields = match &request.fields {
        None => {
            let mut names = valid_fields(def);
            if text.is_some() {
                // The snippet beside the id: what matched is what a reader looks for first.
                names.insert(1, SNIPPET);
            }
            names.into_iter().map(|f| resolve_path(info, &def.name, f)).collect::<Result<Vec<_>>>()?
        }
        Some(list) => list
            .iter()
            .flat_map(|f| match f.trim() {
                ".meta" => META_FIELDS.to_vec(),
                ".match" => MATCH_FIELDS.to_vec(),
                f => vec![f],
            })
            .map(|f| resolve_path(info, &def.name, f))
            .collect::<Result<Vec<_>>>()?,
    };
    if let Some(error) = fields.iter().find_map(|f| misplaced_match_column(f, text.is_some(), false)) {
        return Err(error);
    }
    let mut order = Vec::new();
    for key in &request.order_by {
        let (path, direction) = key.rsplit_once(':').unwrap_or((key, "asc"));
        let descending = match direction.to_ascii_lowercase().as_str() {
            "asc" => false,
            "desc" => true,
            other => {
                return Err(Error::Query {
                    message: format!("`{other}` in `--order-by {key}` is not a direction"),
                    hint: Some("write field, field:asc or field:desc".into()),
                });
            }
        };
        let field = resolve_path(info, &def.name, path.trim())?;
        if let Some(error) = misplaced_match_column(&field, text.is_some(), true) {
            return Err(error);
        }
        order.push(Order { field, descending });
    }
    if text.is_some() && order.is_empty() {
        // Most relevant first.
        order.push(Order { field: resolve_path(info, &def.name, SCORE)?, descending: true });
    }
    let after = request.after.as_deref().map(Cursor::decode).transpose()?;
    if let Some(cursor) = &after
        && (cursor.values.len() != order.len() || cursor.order != order_key(&order))
    {
        return Err(Error::Query {
            message: "this cursor belongs to a search with a different --order-by".into(),
            hint: Some("repeat the search's --order-by exactly when passing --after".into()),
        });
    }
    Ok(SearchQuery { entity: def.name.clone(), filter, fields, order, limit: request.limit, after, text })
}

/// A `--match` column misplaced in a filter (see [`misplaced_match_column`]).
fn misplaced_in_filter(expr: &Expr, text: bool) -> Option<Error> {
    match expr {
        Expr::Or(terms) | Expr::And(terms) => terms.iter().find_map(|t| misplaced_in_filter(t, text)),
        Expr::Compare { field, .. } => misplaced_match_column(field, text, true),
    }
}

fn syntax_error(text: &str, error: filter::SyntaxError) -> Error {
    Error::Query {
        message: format!("invalid filter at column {}: {}", error.column, error.message),
        hint: Some(caret(text, error.column)),
    }
}

/// The filter with a caret under `column` (1-based): a window of it around the column when it is long.
fn caret(text: &str, column: usize) -> String {
    const BEFORE: usize = 40;
    const WIDTH: usize = 80;
    let chars: Vec<char> = text.chars().collect();
    let at = column.saturating_sub(1);
    let start = at.saturating_sub(BEFORE);
    let end = (start + WIDTH).min(chars.len());
    let (lead, trail) = (if start > 0 { "…" } else { "" }, if end < chars.len() { "…" } else { "" });
    let shown: String = chars[start.min(chars.len())..end].iter().collect();
    let offset = at - start + lead.chars().count();
    format!("{lead}{shown}{trail}\n{}^", " ".repeat(offset))
}

fn resolve_expr(info: &ConnectorInfo, entity: &str, text: &str, raw: filter::RawExpr) -> Result<Expr> {
    Ok(match raw {
        filter::RawExpr::Or(terms) => {
            Expr::Or(terms.into_iter().map(|t| resolve_expr(info, entity, text, t)).collect::<Result<_>>()?)
        }
        filter::RawExpr::And(terms) => {
            Expr::And(terms.into_iter().map(|t| resolve_expr(info, entity, text, t)).collect::<Result<_>>()?)
        }
        filter::RawExpr::Compare { field, column, op, value } => {
            let path = resolve_path(info, entity, &field)?;
            let (value, as_text) = coerce(&path, op, value).map_err(|message| Error::Query {
                message: format!("invalid filter at column {column}: {message}"),
                hint: Some(caret(text, column)),
            })?;
            Expr::Compare { field: path, op, value, as_text }
        }
    })
}

/// Coerces a value by the field's type; quoted values stay text.
fn coerce(path: &FieldPath, op: Op, value: filter::RawValue) -> std::result::Result<(Literal, bool), String> {
    let word = match value {
        filter::RawValue::Quoted(text) => return Ok((Literal::Text(text), true)),
        filter::RawValue::Bare(word) => word,
    };
    if word.eq_ignore_ascii_case("null") {
        return match op {
            Op::Eq | Op::Ne => Ok((Literal::Null, false)),
            _ => Err(format!("`{op}` can't compare with null; use = null or != null")),
        };
    }
    if op == Op::Contains {
        return Ok((Literal::Text(word), true));
    }
    let name = &path.text;
    let literal = match path.value_type() {
        FieldType::Integer => Literal::Integer(word.parse().map_err(|_| {
            format!("`{name}` is an integer field and `{word}` is not an integer (quote it to compare as text)")
        })?),
        FieldType::Float => {
            Literal::Float(word.parse().map_err(|_| format!("`{name}` is a float field and `{word}` is not a number"))?)
        }
        FieldType::Boolean => match word.to_ascii_lowercase().as_str() {
            "true" | "1" => Literal::Boolean(true),
            "false" | "0" => Literal::Boolean(false),
            _ => return Err(format!("`{name}` is a boolean field; use true or false, not `{word}`")),
        },
        FieldType::Datetime => Literal::Text(
            crate::data::normalize_datetime(&word).map_err(|e| format!("`{name}` is a datetime field: {e}"))?,
        ),
        FieldType::String | FieldType::Json | FieldType::Ref(_) | FieldType::Collection(_) => Literal::Text(word),
    };
    Ok((literal, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let cursor = Cursor {
            values: vec![serde_json::json!(3), serde_json::json!(null)],
            id: "tsk_1".into(),
            order: "points:desc,due:asc".into(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
        assert!(Cursor::decode("zz").is_err());
        assert!(Cursor::decode("abc").is_err());
    }
}
