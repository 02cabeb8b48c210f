//! Entity data as it crosses the boundary: values, batches (columns named once, rows of values),
//! collection pages and change-feed pages.

use crate::EntityRef;
use crate::bindings::max::connector::types as wit;

/// One field value. Build it with `From` (`"text".into()`, `3_i64.into()`, `None::<String>.into()`)
/// or the constructors for the kinds a plain Rust value can't tell apart (references, datetimes, JSON).
/// To write values without building them first, use [`Batch::start_row`].
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Explicitly empty (the API said null). Different from a field left out of the batch's columns,
    /// which leaves the stored value alone.
    Null,
    /// A `string` field's value.
    Text(String),
    /// An `integer` field's value.
    Integer(i64),
    /// A `float` field's value.
    Float(f64),
    /// A `boolean` field's value.
    Boolean(bool),
    /// An ISO-8601 datetime.
    Datetime(String),
    /// Serialized JSON.
    Json(String),
    /// The id of the referenced entity.
    Reference(String),
    /// The ids of a collection's items, in order (replaces the stored collection).
    Collection(Vec<String>),
}

impl Value {
    /// A reference to the entity with this id.
    pub fn reference(id: impl Into<String>) -> Self {
        Value::Reference(id.into())
    }

    /// An ISO-8601 datetime.
    pub fn datetime(text: impl Into<String>) -> Self {
        Value::Datetime(text.into())
    }

    /// A JSON value, serialized.
    pub fn json(value: &serde_json::Value) -> Self {
        Value::Json(value.to_string())
    }

    /// The ids of a collection's items, in order.
    pub fn collection<I: Into<String>>(ids: impl IntoIterator<Item = I>) -> Self {
        Value::Collection(ids.into_iter().map(Into::into).collect())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Integer(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Boolean(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// Entities of one type that share a column list: the unit that crosses the boundary. Its rows are
/// packed as they are added (the format is in `wit/types.wit`); [`Batch::row`] adds built values,
/// [`Batch::start_row`] writes them one by one without building them.
pub type Batch = wit::EntityBatch;

impl wit::EntityBatch {
    /// An empty batch of `entity` rows with these columns (field names, without `id`).
    pub fn new(entity: &str, columns: &[&str]) -> Self {
        wit::EntityBatch {
            entity: entity.to_string(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            row_count: 0,
            data: Vec::new(),
            text: String::new(),
        }
    }

    /// Adds one row; `values` follow the column order.
    ///
    /// # Panics
    /// When the number of values differs from the number of columns (a bug in the connector).
    pub fn row(&mut self, id: &str, values: Vec<Value>) {
        assert_eq!(
            values.len(),
            self.columns.len(),
            "row `{id}` of {} has {} values for {} columns",
            self.entity,
            values.len(),
            self.columns.len()
        );
        let mut row = self.start_row();
        for (column, value) in values.iter().enumerate() {
            row.value(column, value);
        }
        row.finish(id);
    }

    /// Starts a row whose values are written one at a time, in any column order; see [`RowWriter`].
    pub fn start_row(&mut self) -> RowWriter<'_> {
        RowWriter::new(self)
    }

    /// An empty batch without columns: its rows are bare ids (entities found, fields loaded later).
    pub fn id_only(entity: &str) -> Self {
        Self::new(entity, &[])
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.row_count as usize
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.row_count == 0
    }
}

pub use crate::packed::RowWriter;

/// What a loader returns: any number of batches, of any entity types.
#[derive(Debug, Clone, Default)]
pub struct Entities(pub(crate) Vec<wit::EntityBatch>);

impl Entities {
    /// No entities yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a batch (empty batches are dropped).
    pub fn push(&mut self, batch: Batch) {
        if !batch.is_empty() {
            self.0.push(batch);
        }
    }

    /// Adds a batch, builder style.
    pub fn with(mut self, batch: Batch) -> Self {
        self.push(batch);
        self
    }
}

impl From<Batch> for Entities {
    fn from(batch: Batch) -> Self {
        Entities::new().with(batch)
    }
}

/// One page of a collection.
pub type Page = wit::Page;

impl wit::Page {
    /// A page whose items are `items` (in collection order) and with no next page.
    pub fn new(items: Batch) -> Self {
        wit::Page { items, related: Vec::new(), next_cursor: None }
    }

    /// Sets the cursor of the next page (`None` on the last page).
    pub fn next(mut self, cursor: Option<String>) -> Self {
        self.next_cursor = cursor;
        self
    }

    /// Adds entities found along the way.
    pub fn related(mut self, batch: Batch) -> Self {
        if !batch.is_empty() {
            self.related.push(batch);
        }
        self
    }
}

/// One page of a change feed.
pub type ChangePage = wit::ChangePage;

impl wit::ChangePage {
    /// A page ending at `next_cursor`.
    pub fn new(next_cursor: String, has_more: bool) -> Self {
        wit::ChangePage { upserts: Vec::new(), deletions: Vec::new(), next_cursor, has_more }
    }

    /// Adds created or updated entities.
    pub fn upsert(mut self, batch: Batch) -> Self {
        if !batch.is_empty() {
            self.upserts.push(batch);
        }
        self
    }

    /// Records a deletion.
    pub fn delete(mut self, entity: &str, id: &str) -> Self {
        self.deletions.push(EntityRef { entity: entity.to_string(), id: id.to_string() });
        self
    }
}
