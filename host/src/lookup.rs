//! One entity of an installation, with the entities its references point at: what a person or an
//! agent asks for when they follow a search result.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::Result;
use crate::front::Host;
use crate::manifest::FieldType;
use crate::project::Installation;
use crate::query::SearchRequest;

/// An entity with every field, and what each of its references points at.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntityView {
    /// The entity type, as the schema spells it.
    pub entity: String,
    /// Every field (collections as their items' ids), `id` included.
    pub fields: Map<String, Value>,
    /// Per reference field that names an entity: that entity's fields, or null when it isn't stored
    /// (not synced, or deleted).
    pub references: BTreeMap<String, Option<Map<String, Value>>>,
}

impl Host {
    /// The entity `entity` with id `id` in `installation` (none when it isn't stored), and the
    /// entities its references name. Reads only.
    pub fn entity(&self, installation: &Installation, entity: &str, id: &str) -> Result<Option<EntityView>> {
        let Some((entity, fields)) = self.one(installation, entity, id)? else { return Ok(None) };
        let schema = self.schema(&installation.label())?.schema;
        let mut references = BTreeMap::new();
        if let Some(def) = schema.entities.iter().find(|e| e.name == entity) {
            for field in &def.fields {
                let (FieldType::Ref(target), Some(Value::String(target_id))) =
                    (&field.field_type, fields.get(&field.name))
                else {
                    continue;
                };
                let found = self.one(installation, target, target_id)?.map(|(_, fields)| fields);
                references.insert(field.name.clone(), found);
            }
        }
        Ok(Some(EntityView { entity, fields, references }))
    }

    /// The fields of one stored entity, by id.
    fn one(&self, installation: &Installation, entity: &str, id: &str) -> Result<Option<(String, Map<String, Value>)>> {
        let quoted = format!("\"{}\"", id.replace('\\', "\\\\").replace('"', "\\\""));
        let request = SearchRequest {
            entity: entity.to_string(),
            filter: Some(format!("id = {quoted}")),
            limit: Some(1),
            ..SearchRequest::default()
        };
        let found = self.search(installation, &request)?;
        let Some(row) = found.page.rows.into_iter().next() else { return Ok(None) };
        let fields = found.page.columns.into_iter().zip(row).collect();
        Ok(Some((found.entity, fields)))
    }
}
