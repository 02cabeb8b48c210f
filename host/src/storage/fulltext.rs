//! The full-text index: for each entity type with searchable fields, an FTS5 table `"fts:Entity"` over
//! the entity table's text columns (external content: the text is stored once, in the entity table).
//! Every row of the table is in the index: the two places that write rows ([`super::write`]) write the
//! index in the same transaction through an [`IndexWriter`], taking a row's old text out before its
//! new text goes in. (Triggers would do the same, but FTS5 writes a segment for every statement a
//! trigger runs: measured three times slower.) The index refers to rows by rowid; an entity table with
//! searchable fields names its rowid (`_rowid INTEGER PRIMARY KEY`), which keeps rowids stable through
//! `VACUUM` (an unnamed rowid may be renumbered), and a table created before it had searchable fields
//! is rebuilt with one.

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension};

use super::schema::quote;
use super::sqlite::db_error;
use crate::Result;
use crate::manifest::SearchableField;

/// The column aliasing the rowid of an entity table with searchable fields.
pub(super) const ROWID: &str = "_rowid";

/// How text is split into words: Unicode letters and digits, case and diacritics folded, English
/// stems (`plans` and `planning` find `plan`).
const TOKENIZE: &str = "porter unicode61 remove_diacritics 2";

/// The name of `entity`'s index, unquoted.
fn index_name(entity: &str) -> String {
    format!("fts:{entity}")
}

/// The quoted name of `entity`'s index.
pub(crate) fn index_table(entity: &str) -> String {
    quote(&index_name(entity))
}

/// The statement creating `entity`'s index over `fields`.
fn create_statement(entity: &str, fields: &[&SearchableField]) -> String {
    let columns: Vec<String> = fields.iter().map(|f| quote(&f.field)).collect();
    format!(
        "CREATE VIRTUAL TABLE {} USING fts5({}, content='{entity}', content_rowid='{ROWID}', tokenize='{TOKENIZE}')",
        index_table(entity),
        columns.join(", ")
    )
}

/// Whether `entity`'s table names its rowid [`ROWID`].
fn has_named_rowid(conn: &Connection, entity: &str) -> Result<bool> {
    let sql = format!("SELECT pk FROM pragma_table_info({}) WHERE name = '{ROWID}'", sql_text(entity));
    let pk: Option<i64> = conn.query_row(&sql, [], |r| r.get(0)).optional().map_err(db_error(conn))?;
    Ok(pk == Some(1))
}

/// `'text'` as an SQL string literal.
fn sql_text(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// What `sqlite_master` holds for `name` (a table or trigger), if anything.
fn stored_sql(conn: &Connection, name: &str) -> Result<Option<String>> {
    conn.query_row("SELECT sql FROM sqlite_master WHERE name = ?1", [name], |r| r.get(0))
        .optional()
        .map_err(db_error(conn))
}

/// The column definitions an entity table with searchable fields starts with.
pub(super) fn key_columns() -> String {
    format!("{ROWID} INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE")
}

/// Brings `entity`'s index in line with its searchable `fields` (none: no index): created, or dropped
/// and rebuilt from the table's rows when the fields changed; left alone otherwise. Returns whether it
/// was (re)built.
pub(super) fn apply(conn: &Connection, entity: &str, fields: &[&SearchableField]) -> Result<bool> {
    let wanted = (!fields.is_empty()).then(|| create_statement(entity, fields));
    if stored_sql(conn, &index_name(entity))? == wanted {
        return Ok(false);
    }
    drop_index(conn, entity)?;
    let Some(create) = wanted else { return Ok(false) };
    if !has_named_rowid(conn, entity)? {
        name_rowid(conn, entity)?;
    }
    conn.execute_batch(&create).map_err(db_error(conn))?;
    let index = index_table(entity);
    conn.execute_batch(&format!("INSERT INTO {index} ({index}) VALUES ('rebuild')")).map_err(db_error(conn))?;
    Ok(true)
}

/// Drops `entity`'s index, if any.
pub(super) fn drop_index(conn: &Connection, entity: &str) -> Result<()> {
    conn.execute_batch(&format!("DROP TABLE IF EXISTS {}", index_table(entity))).map_err(db_error(conn))
}

/// Keeps one entity type's index in step with the rows a transaction writes: [`IndexWriter::before`]
/// a row is written (its old text leaves the index), [`IndexWriter::after`] (its text as stored
/// enters it).
pub(super) struct IndexWriter<'c> {
    read: rusqlite::CachedStatement<'c>,
    remove: rusqlite::CachedStatement<'c>,
    add: rusqlite::CachedStatement<'c>,
    width: usize,
}

impl<'c> IndexWriter<'c> {
    /// A writer for `entity`'s index over `fields` (none: no index, no writer).
    pub(super) fn new(conn: &'c Connection, entity: &str, fields: &[&SearchableField]) -> Result<Option<Self>> {
        if fields.is_empty() {
            return Ok(None);
        }
        let index = index_table(entity);
        let columns: Vec<String> = fields.iter().map(|f| quote(&f.field)).collect();
        let list = columns.join(", ");
        let params = |from: usize| (from..from + columns.len()).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ");
        let prepare = |sql: String| conn.prepare_cached(&sql).map_err(db_error(conn));
        Ok(Some(IndexWriter {
            read: prepare(format!("SELECT {ROWID}, {list} FROM {} WHERE id = ?1", quote(entity)))?,
            remove: prepare(format!("INSERT INTO {index} ({index}, rowid, {list}) VALUES ('delete', ?1, {})", params(2)))?,
            add: prepare(format!("INSERT INTO {index} (rowid, {list}) VALUES (?1, {})", params(2)))?,
            width: columns.len(),
        }))
    }

    /// The row `id` as stored: its rowid and indexed text.
    fn stored(&mut self, id: &str) -> Result<Option<Vec<rusqlite::types::Value>>> {
        let width = self.width;
        self.read
            .query_row([id], |r| (0..=width).map(|i| r.get(i)).collect())
            .optional()
            .map_err(|e| super::sqlite::sqlite_error("", e))
    }

    /// The position of each searchable field in the index's columns (none: not indexed).
    pub(super) fn column_of(fields: &[&SearchableField], field: &str) -> Option<usize> {
        fields.iter().position(|f| f.field == field)
    }

    /// Before row `id` is written with `text` (each indexed column it sets, by position, and its new
    /// value): when it is stored and that text differs, takes its old text out of the index. Returns
    /// whether [`IndexWriter::after`] must put it (back) in: the row is new, or its text changes.
    pub(super) fn before(&mut self, id: &str, text: &[(usize, ValueRef<'_>)]) -> Result<bool> {
        match self.stored(id)? {
            Some(row) if text.iter().any(|(column, value)| ValueRef::from(&row[1 + column]) != *value) => {
                let params = rusqlite::params_from_iter(row.iter());
                self.remove.execute(params).map_err(|e| super::sqlite::sqlite_error("", e))?;
                Ok(true)
            }
            Some(_) => Ok(false),
            None => Ok(true),
        }
    }

    /// After row `id` was written, when [`IndexWriter::before`] said so: puts its text as stored into
    /// the index.
    pub(super) fn after(&mut self, id: &str) -> Result<()> {
        if let Some(row) = self.stored(id)? {
            let params = rusqlite::params_from_iter(row.iter());
            self.add.execute(params).map_err(|e| super::sqlite::sqlite_error("", e))?;
        }
        Ok(())
    }
}

/// Rebuilds `entity`'s table (made before it had searchable fields) with its rowid named: a copy with
/// the same columns and rows replaces it. Its secondary indexes go with it; the schema's apply creates
/// them again (or the bulk load in progress, when it ends).
fn name_rowid(conn: &Connection, entity: &str) -> Result<()> {
    let sql = format!("SELECT name, type FROM pragma_table_info({}) ORDER BY cid", sql_text(entity));
    let mut stmt = conn.prepare(&sql).map_err(db_error(conn))?;
    let columns: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(db_error(conn))?
        .collect::<rusqlite::Result<_>>()
        .map_err(db_error(conn))?;
    drop(stmt);
    let others: Vec<&(String, String)> = columns.iter().filter(|(name, _)| name != "id").collect();
    let copy = quote(&format!("{entity}:copy"));
    let mut create = format!("CREATE TABLE {copy} ({}", key_columns());
    for (name, ty) in &others {
        create.push_str(&format!(", {} {ty}", quote(name)));
    }
    create.push(')');
    let names: Vec<String> =
        std::iter::once("id".to_string()).chain(others.iter().map(|(name, _)| quote(name))).collect();
    let names = names.join(", ");
    let table = quote(entity);
    conn.execute_batch(&format!(
        "{create}; INSERT INTO {copy} ({names}) SELECT {names} FROM {table} ORDER BY rowid; DROP TABLE {table}; \
         ALTER TABLE {copy} RENAME TO {table};"
    ))
    .map_err(db_error(conn))
}

/// The SQL of the matches of an FTS5 `expression` (bound as `param`) in `entity`'s index: `(r, score)`
/// pairs of the matching rows' rowids and their relevance (BM25 with the fields' weights, negated so
/// that higher is better).
pub(super) fn matches(entity: &str, fields: &[&SearchableField], param: &str) -> String {
    let index = index_table(entity);
    let weights: Vec<String> = fields.iter().map(|f| format!("{}.0", f.weight)).collect();
    format!("SELECT rowid AS r, -bm25({index}, {}) AS score FROM {index} WHERE {index} MATCH {param}", weights.join(", "))
}

/// The snippet of one row's best match: up to `words` words around it, the matched words between
/// `open` and `close`.
pub(super) fn snippet_statement(entity: &str) -> String {
    let index = index_table(entity);
    format!("SELECT snippet({index}, -1, ?3, ?4, '…', ?5) FROM {index} WHERE {index} MATCH ?1 AND rowid = ?2")
}
