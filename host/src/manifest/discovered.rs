//! Fields a connector discovers in the account after configuration (contract 0.2.0, `discover`): the
//! extension, the limits it must keep, and the schema it makes with what `describe` declared.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::{ConnectorInfo, FieldDef};
use crate::Error;

/// The most fields one entity type may gain by discovery.
pub const MAX_DISCOVERED_FIELDS: usize = 2000;

/// The longest name of a discovered field, in bytes.
pub const MAX_DISCOVERED_NAME_BYTES: usize = 128;

/// What `discover` returned: fields found in the account, per declared entity type.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SchemaExtension {
    /// Per entity type, its discovered fields.
    pub entities: Vec<DiscoveredFields>,
    /// Whether rows already stored must be read again when a field appears (the next sync is then full).
    #[serde(default)]
    pub refill_on_new_fields: bool,
}

/// The discovered fields of one declared entity type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiscoveredFields {
    /// The entity type.
    pub entity: String,
    /// Its fields beyond the declared ones.
    pub fields: Vec<FieldDef>,
}

impl SchemaExtension {
    /// How many fields it adds in all.
    pub fn field_count(&self) -> usize {
        self.entities.iter().map(|e| e.fields.len()).sum()
    }

    /// The names of the fields it adds to `entity`.
    pub fn fields_of(&self, entity: &str) -> impl Iterator<Item = &str> {
        self.entities.iter().filter(move |e| e.entity == entity).flat_map(|e| e.fields.iter().map(|f| f.name.as_str()))
    }
}

impl ConnectorInfo {
    /// This description with `extension`'s fields added to their entity types (marked discovered), and
    /// `*` in a resolver's fields replaced by the discovered fields of its entity. Entity types the
    /// description doesn't declare are skipped ([`check_extension`] reports them).
    pub fn with_discovered(&self, extension: &SchemaExtension) -> ConnectorInfo {
        let mut info = self.clone();
        for found in &extension.entities {
            if let Some(entity) = info.schema.entities.iter_mut().find(|e| e.name == found.entity) {
                entity.fields.extend(found.fields.iter().map(|f| FieldDef { discovered: true, ..f.clone() }));
            }
        }
        for resolver in &mut info.resolvers {
            if resolver.fields.iter().any(|f| f == ALL_DISCOVERED) {
                let discovered: Vec<String> = extension.fields_of(&resolver.entity).map(str::to_string).collect();
                resolver.fields.retain(|f| f != ALL_DISCOVERED);
                resolver.fields.extend(discovered);
            }
        }
        info
    }
}

/// What a resolver's `fills` says for "every discovered field of the entity".
pub const ALL_DISCOVERED: &str = "*";

/// Checks `extension` against the description `declared` it extends, limits first (so a huge one is
/// refused before costlier checks), and returns the schema they make together.
/// [`Error::InvalidDiscovery`] lists every problem.
pub fn check_extension(declared: &ConnectorInfo, extension: &SchemaExtension) -> Result<ConnectorInfo, Error> {
    let fail = |problems: Vec<String>| Error::InvalidDiscovery { connector: declared.name.clone(), problems };
    let entities: HashMap<&str, &super::EntityDef> =
        declared.schema.entities.iter().map(|e| (e.name.as_str(), e)).collect();
    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    for found in &extension.entities {
        let name: String = found.entity.chars().take(64).collect();
        if found.fields.len() > MAX_DISCOVERED_FIELDS {
            return Err(fail(vec![format!(
                "{} fields discovered for {name}; at most {MAX_DISCOVERED_FIELDS} per entity type",
                found.fields.len()
            )]));
        }
        if !entities.contains_key(found.entity.as_str()) {
            problems.push(format!("fields discovered for `{name}`, which `describe` doesn't declare"));
        } else if !seen.insert(found.entity.as_str()) {
            problems.push(format!("{name} is named twice in the extension"));
        }
        for field in &found.fields {
            if field.name.len() > MAX_DISCOVERED_NAME_BYTES {
                let start: String = field.name.chars().take(32).collect();
                problems.push(format!(
                    "discovered field `{name}.{start}…` has a name of {} bytes; at most {MAX_DISCOVERED_NAME_BYTES}",
                    field.name.len()
                ));
            }
        }
    }
    if !problems.is_empty() {
        return Err(fail(problems));
    }
    let merged = declared.with_discovered(extension);
    let problems = super::check(&merged);
    if !problems.is_empty() {
        return Err(fail(problems));
    }
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{EntityDef, FieldType, LoaderDef, LoaderKind, Permissions, Resolver, RootDef, Schema};

    fn field(name: &str, field_type: FieldType) -> FieldDef {
        FieldDef { name: name.to_string(), field_type, description: None, discovered: false }
    }

    fn declared() -> ConnectorInfo {
        ConnectorInfo {
            name: "crm".into(),
            version: "1.0.0".into(),
            description: "A CRM.".into(),
            schema: Schema {
                entities: vec![EntityDef {
                    name: "Contact".into(),
                    description: None,
                    fields: vec![field("email", FieldType::String)],
                }],
                roots: vec![RootDef { entity: "Contact".into(), id: "me".into() }],
                searchable: Vec::new(),
                versioned: Vec::new(),
                owned: Vec::new(),
            },
            loaders: vec![LoaderDef {
                name: "contact".into(),
                entity: "Contact".into(),
                kind: LoaderKind::Batched { max_batch: 100 },
                description: None,
            }],
            resolvers: vec![Resolver {
                entity: "Contact".into(),
                fields: vec!["email".into(), ALL_DISCOVERED.into()],
                loader: "contact".into(),
            }],
            onboarding: Vec::new(),
            permissions: Permissions::default(),
            scoped_feeds: Vec::new(),
        }
    }

    fn extension(fields: Vec<FieldDef>) -> SchemaExtension {
        SchemaExtension {
            entities: vec![DiscoveredFields { entity: "Contact".into(), fields }],
            refill_on_new_fields: false,
        }
    }

    #[test]
    fn discovered_fields_join_their_entity_and_the_loader_that_fills_every_one() {
        let merged = check_extension(&declared(), &extension(vec![field("plan_tier", FieldType::Integer)])).unwrap();
        let contact = merged.entity("Contact").unwrap();
        assert_eq!(contact.fields.len(), 2);
        assert!(contact.field("plan_tier").unwrap().discovered);
        assert!(!contact.field("email").unwrap().discovered);
        assert_eq!(merged.resolvers[0].fields, ["email", "plan_tier"]);
        let none = declared().with_discovered(&SchemaExtension::default());
        assert_eq!(none.resolvers[0].fields, ["email"]);
    }

    #[test]
    fn an_extension_that_repeats_or_overflows_is_refused_with_every_problem() {
        let problems = |fields| match check_extension(&declared(), &extension(fields)) {
            Err(Error::InvalidDiscovery { problems, .. }) => problems.join("; "),
            other => panic!("expected a refusal, got {other:?}"),
        };
        assert!(problems(vec![field("EMAIL", FieldType::String)]).contains("differ only in case"));
        assert!(problems(vec![field("Id", FieldType::String)]).contains("implicit `id`"));
        assert!(problems(vec![field("x", FieldType::Ref("Nope".into()))]).contains("undeclared entity `Nope`"));
        assert!(problems(vec![field(&"a".repeat(129), FieldType::String)]).contains("129 bytes"));
        assert!(check_extension(&declared(), &extension(vec![field(&"a".repeat(128), FieldType::String)])).is_ok());
        let many = (0..=MAX_DISCOVERED_FIELDS).map(|i| field(&format!("f{i}"), FieldType::String)).collect();
        assert!(problems(many).contains("at most 2000"));
        let stranger = SchemaExtension {
            entities: vec![DiscoveredFields { entity: "Ghost".into(), fields: vec![] }],
            refill_on_new_fields: false,
        };
        assert!(check_extension(&declared(), &stranger).is_err());
    }
}
