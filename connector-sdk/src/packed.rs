//! Writing rows in the packed format of `entity-batch` (specified in `wit/types.wit`): values go
//! straight into the batch's two buffers, so a row costs no allocation of its own.

use crate::Value;
use crate::bindings::max::connector::types as wit;

const NULL: u8 = 0;
const TEXT: u8 = 1;
const INTEGER: u8 = 2;
const FLOAT: u8 = 3;
const FALSE: u8 = 4;
const TRUE: u8 = 5;
const DATETIME: u8 = 6;
const JSON: u8 = 7;
const REFERENCE: u8 = 8;
const COLLECTION: u8 = 9;

/// One row being written into a [`crate::Batch`]. Set values by column index (the position in the
/// batch's column list), in any order; a column set twice keeps its first value; columns never set
/// are null. [`RowWriter::finish`] adds the row with its id; a writer dropped unfinished (say, on a
/// parse error halfway) leaves the batch as it was.
///
/// ```
/// # use max_connector_sdk::Batch;
/// let mut batch = Batch::new("Task", &["title", "done", "project"]);
/// let mut row = batch.start_row();
/// row.boolean(1, false).text(0, "Write the docs").reference(2, "p1");
/// row.finish("t1");
/// assert_eq!(batch.len(), 1);
/// ```
pub struct RowWriter<'b> {
    batch: &'b mut wit::EntityBatch,
    data_start: usize,
    text_start: usize,
    seen: Seen,
    finished: bool,
}

/// Which columns have a value: a bit set for the common case, a vector beyond 128 columns.
enum Seen {
    Few(u128),
    Many(Vec<bool>),
}

impl<'b> RowWriter<'b> {
    pub(crate) fn new(batch: &'b mut wit::EntityBatch) -> Self {
        let seen = if batch.columns.len() <= 128 { Seen::Few(0) } else { Seen::Many(vec![false; batch.columns.len()]) };
        RowWriter { data_start: batch.data.len(), text_start: batch.text.len(), batch, seen, finished: false }
    }

    /// Sets `column` to null (the API said null).
    pub fn null(&mut self, column: usize) -> &mut Self {
        self.claim(column, NULL);
        self
    }

    /// Sets a `string` field.
    pub fn text(&mut self, column: usize, text: &str) -> &mut Self {
        self.spanned(column, TEXT, text)
    }

    /// Sets an `integer` field.
    pub fn integer(&mut self, column: usize, value: i64) -> &mut Self {
        if self.claim(column, INTEGER) {
            self.batch.data.extend_from_slice(&value.to_le_bytes());
        }
        self
    }

    /// Sets a `float` field.
    pub fn float(&mut self, column: usize, value: f64) -> &mut Self {
        if self.claim(column, FLOAT) {
            self.batch.data.extend_from_slice(&value.to_le_bytes());
        }
        self
    }

    /// Sets a `boolean` field.
    pub fn boolean(&mut self, column: usize, value: bool) -> &mut Self {
        self.claim(column, if value { TRUE } else { FALSE });
        self
    }

    /// Sets a `datetime` field (ISO-8601 text).
    pub fn datetime(&mut self, column: usize, text: &str) -> &mut Self {
        self.spanned(column, DATETIME, text)
    }

    /// Sets a `json` field (serialized JSON).
    pub fn json(&mut self, column: usize, text: &str) -> &mut Self {
        self.spanned(column, JSON, text)
    }

    /// Sets a `ref` field to the referenced entity's id.
    pub fn reference(&mut self, column: usize, id: &str) -> &mut Self {
        self.spanned(column, REFERENCE, id)
    }

    /// Sets a `collection` field to its items' ids, in order.
    pub fn collection<I>(&mut self, column: usize, ids: I) -> &mut Self
    where
        I: IntoIterator<Item: AsRef<str>, IntoIter: ExactSizeIterator>,
    {
        if self.claim(column, COLLECTION) {
            let ids = ids.into_iter();
            varint(&mut self.batch.data, ids.len() as u64);
            for id in ids {
                self.span(id.as_ref());
            }
        }
        self
    }

    /// Sets `column` to a built [`Value`].
    pub fn value(&mut self, column: usize, value: &Value) -> &mut Self {
        match value {
            Value::Null => self.null(column),
            Value::Text(v) => self.text(column, v),
            Value::Integer(v) => self.integer(column, *v),
            Value::Float(v) => self.float(column, *v),
            Value::Boolean(v) => self.boolean(column, *v),
            Value::Datetime(v) => self.datetime(column, v),
            Value::Json(v) => self.json(column, v),
            Value::Reference(v) => self.reference(column, v),
            Value::Collection(ids) => self.collection(column, ids),
        }
    }

    /// Whether `column` already has a value.
    pub fn is_set(&self, column: usize) -> bool {
        match &self.seen {
            Seen::Few(bits) => column < 128 && bits & (1 << column) != 0,
            Seen::Many(seen) => seen.get(column).copied().unwrap_or(false),
        }
    }

    /// Adds the row to the batch with this id; columns never set are null.
    pub fn finish(mut self, id: &str) {
        for column in 0..self.batch.columns.len() {
            if !self.is_set(column) {
                self.null(column);
            }
        }
        self.span(id);
        self.batch.row_count += 1;
        self.finished = true;
    }

    fn spanned(&mut self, column: usize, tag: u8, text: &str) -> &mut Self {
        if self.claim(column, tag) {
            self.span(text);
        }
        self
    }

    /// Marks `column` set and writes its index and tag; false (and nothing written) when it was set.
    ///
    /// # Panics
    /// When `column` is not a column of the batch (a bug in the connector).
    fn claim(&mut self, column: usize, tag: u8) -> bool {
        let columns = self.batch.columns.len();
        assert!(column < columns, "column {column} of a {} batch with {columns} columns", self.batch.entity);
        if self.is_set(column) {
            return false;
        }
        match &mut self.seen {
            Seen::Few(bits) => *bits |= 1 << column,
            Seen::Many(seen) => seen[column] = true,
        }
        varint(&mut self.batch.data, column as u64);
        self.batch.data.push(tag);
        true
    }

    fn span(&mut self, text: &str) {
        varint(&mut self.batch.data, text.len() as u64);
        self.batch.text.push_str(text);
    }
}

impl Drop for RowWriter<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.batch.data.truncate(self.data_start);
            self.batch.text.truncate(self.text_start);
        }
    }
}

/// Appends `value` as an unsigned LEB128 number.
fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}
