//! Fields a connector finds in the account after configuration (contract 0.2.0): what
//! [`crate::Connector::discover`] returns, and what [`crate::Config::discovered`] hands back to every
//! instance once the host accepted it.

use crate::bindings::max::connector::discovery as wit;
use crate::bindings::max::connector::types::{FieldDef, FieldType};

/// What a loader's `fills` names to fill every discovered field of its entity.
pub const ALL_DISCOVERED: &str = "*";

/// The fields an account adds to declared entity types (a CRM's custom properties).
#[derive(Debug, Clone)]
pub struct Discovery(pub(crate) wit::SchemaExtension);

impl Default for Discovery {
    fn default() -> Self {
        Discovery::new()
    }
}

impl Discovery {
    /// Nothing discovered.
    pub fn new() -> Self {
        Discovery(wit::SchemaExtension { entities: Vec::new(), refill_on_new_fields: false })
    }

    /// Adds field `name` of `field_type` to the declared entity type `entity`.
    pub fn field(mut self, entity: &str, name: &str, field_type: FieldType, description: Option<&str>) -> Self {
        let field =
            FieldDef { name: name.to_string(), type_: field_type, description: description.map(str::to_string) };
        match self.0.entities.iter_mut().find(|e| e.entity == entity) {
            Some(found) => found.fields.push(field),
            None => self.0.entities.push(wit::DiscoveredFields { entity: entity.to_string(), fields: vec![field] }),
        }
        self
    }

    /// Says that rows already stored must be read again when a field appears (the next sync is then
    /// full). Leave it off when the API marks an object changed whenever it gains a value.
    pub fn refill_on_new_fields(mut self, refill: bool) -> Self {
        self.0.refill_on_new_fields = refill;
        self
    }

    /// The discovered fields of `entity`, in order.
    pub fn fields_of<'a>(&'a self, entity: &'a str) -> impl Iterator<Item = &'a FieldDef> + 'a {
        self.0.entities.iter().filter(move |e| e.entity == entity).flat_map(|e| e.fields.iter())
    }

    /// How many fields in all.
    pub fn len(&self) -> usize {
        self.0.entities.iter().map(|e| e.fields.len()).sum()
    }

    /// Whether nothing was discovered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
