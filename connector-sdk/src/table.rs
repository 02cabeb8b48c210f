//! Entity tables: a connector declares each entity type once, as columns (the field in Max, where the
//! API keeps it, what it holds and means), and derives the schema entity, the by-id loader and empty
//! batches from that one declaration instead of writing each by hand.
//!
//! ```
//! use max_connector_sdk::table::{Column, EntityTable, Kind};
//!
//! struct Table;
//! const COLUMNS: &[Column] = &[
//!     Column::new("title", Kind::Text).doc("The title"),
//!     Column::new("owner", Kind::Ref("User")).from("ownerId"),
//! ];
//! impl EntityTable for Table {
//!     type Extra = ();
//!     fn entity(&self) -> &str { "Task" }
//!     fn columns(&self) -> &[Column] { COLUMNS }
//! }
//! assert_eq!(Table.fields(), ["title", "owner"]);
//! assert_eq!(COLUMNS[1].source, "ownerId");
//! ```

use crate::{Batch, EntityBuilder, FieldType, Loader};

/// What a column holds, which gives its field type in Max.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text.
    Text,
    /// A whole number.
    Integer,
    /// A number.
    Float,
    /// True or false.
    Boolean,
    /// A date or a date and time (ISO 8601).
    Datetime,
    /// Any JSON value.
    Json,
    /// The id of one entity of this type.
    Ref(&'static str),
    /// The ids of entities of this type (a collection).
    Collection(&'static str),
}

impl Kind {
    /// The field type this kind is declared as.
    pub fn field_type(self) -> FieldType {
        match self {
            Kind::Text => FieldType::String,
            Kind::Integer => FieldType::Integer,
            Kind::Float => FieldType::Float,
            Kind::Boolean => FieldType::Boolean,
            Kind::Datetime => FieldType::Datetime,
            Kind::Json => FieldType::Json,
            Kind::Ref(target) => FieldType::Ref(target.to_string()),
            Kind::Collection(target) => FieldType::Collection(target.to_string()),
        }
    }
}

/// One column of an entity table. `X` is whatever else the connector needs to read it from its API
/// (how a GraphQL field is selected, say); `()` when nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column<X: 'static = ()> {
    /// The field in Max.
    pub field: &'static str,
    /// Where the API keeps it (a JSON key, a GraphQL field); the field's name unless [`Column::from`].
    pub source: &'static str,
    /// What it holds.
    pub kind: Kind,
    /// What it means, shown by `max schema` (empty: no description).
    pub doc: &'static str,
    /// Its weight in the full-text index (see [`Column::searchable`]); 0: not searchable.
    pub search_weight: u8,
    /// The connector's own annotation.
    pub extra: X,
}

impl Column<()> {
    /// A column `field` holding `kind`, read from the API under the same name.
    pub const fn new(field: &'static str, kind: Kind) -> Self {
        Column { field, source: field, kind, doc: "", search_weight: 0, extra: () }
    }

    /// The same column, read from the API under `source`.
    pub const fn from(self, source: &'static str) -> Self {
        Column { source, ..self }
    }

    /// The same column, described.
    pub const fn doc(self, doc: &'static str) -> Self {
        Column { doc, ..self }
    }

    /// The same column with the connector's annotation `extra`.
    pub const fn with<X: Copy>(self, extra: X) -> Column<X> {
        let Column { field, source, kind, doc, search_weight, extra: () } = self;
        Column { field, source, kind, doc, search_weight, extra }
    }
}

impl<X: Copy> Column<X> {
    /// The same text column in the full-text index, its matches counting `weight` (1 to 100) times
    /// (see [`crate::EntityBuilder::searchable`]).
    pub const fn searchable(self, weight: u8) -> Self {
        Column { search_weight: weight, ..self }
    }
}

/// An entity type described by its name, what it is and its columns: the plain [`EntityTable`], for
/// types that need nothing else.
#[derive(Debug)]
pub struct Table<X: 'static = ()> {
    /// Its name in Max.
    pub entity: &'static str,
    /// What it is.
    pub description: &'static str,
    /// Its columns, in the order rows carry them.
    pub columns: &'static [Column<X>],
}

impl<X: 'static> EntityTable for Table<X> {
    type Extra = X;

    fn entity(&self) -> &str {
        self.entity
    }

    fn description(&self) -> &str {
        self.description
    }

    fn columns(&self) -> &[Column<X>] {
        self.columns
    }
}

/// An entity type declared as a table of columns; the schema entity, the by-id loader and batches
/// follow from it.
pub trait EntityTable {
    /// The columns' annotation (see [`Column`]).
    type Extra: 'static;

    /// The entity type's name.
    fn entity(&self) -> &str;

    /// What it is, shown by `max schema` (empty: no description).
    fn description(&self) -> &str {
        ""
    }

    /// Its columns, in the order rows carry them.
    fn columns(&self) -> &[Column<Self::Extra>];

    /// The field names, in column order.
    fn fields(&self) -> Vec<&str> {
        self.columns().iter().map(|c| c.field).collect()
    }

    /// Declares the description and every column on a schema entity (more fields may follow).
    fn declare(&self, mut builder: EntityBuilder) -> EntityBuilder {
        if !self.description().is_empty() {
            builder = builder.describe(self.description());
        }
        for column in self.columns() {
            builder = match column.doc {
                "" => builder.field(column.field, column.kind.field_type()),
                doc => builder.field_doc(column.field, column.kind.field_type(), doc),
            };
            if column.search_weight > 0 {
                builder = builder.searchable(column.field, column.search_weight);
            }
        }
        builder
    }

    /// An empty batch whose rows carry every column.
    fn batch(&self) -> Batch {
        Batch::new(self.entity(), &self.fields())
    }

    /// A batched loader `name` of up to `max_batch` ids filling every column (`.fills` narrows it).
    fn by_id_loader(&self, name: &str, max_batch: u32) -> Loader {
        Loader::batched(name, self.entity(), max_batch).fills(&self.fields())
    }
}
