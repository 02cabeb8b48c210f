//! The portal's own schema: every property the properties API lists for a synced object type beyond
//! the declared ones (custom properties, and HubSpot's standard ones not declared, unless the user chose
//! custom properties only), typed by HubSpot's property type; and every association label between
//! synced types (HubSpot's `Primary`, the portal's own), each a collection of the objects associated
//! with it, which the host keeps current when one of them is deleted.

use max_connector_sdk::table::Kind;
use max_connector_sdk::{Discovery, FieldType, Level, Result};
use serde_json::Value as Json;

use crate::api::{self, Api};
use crate::model::{ObjectKind, label_field};

/// The most fields Max accepts discovered per entity type.
const MOST_FIELDS: usize = 2000;
/// The longest field name Max accepts, in bytes.
const LONGEST_NAME: usize = 128;
/// The longest description given a discovered field, in characters.
const LONGEST_DESCRIPTION: usize = 200;

/// Which properties are discovered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Properties {
    /// Every property of the portal, standard and custom.
    All,
    /// The portal's custom properties only (the standard ones declared are still synced).
    Custom,
}

/// Lists the properties of each of `kinds` and the association labels between them (side by side) and
/// returns those to sync as fields: properties as typed columns, each label as a collection of the
/// objects associated with it.
pub fn discover(api: &Api, kinds: &[&'static ObjectKind], which: Properties) -> Result<Discovery> {
    let pairs: Vec<(&'static ObjectKind, &'static ObjectKind)> = kinds
        .iter()
        .flat_map(|from| kinds.iter().filter(|to| to.path != from.path).map(move |to| (*from, *to)))
        .collect();
    let properties = kinds.iter().map(|kind| api.get(&format!("/crm/v3/properties/{}?archived=false", kind.path)));
    let labels =
        pairs.iter().map(|(from, to)| api.get(&format!("/crm/v4/associations/{}/{}/labels", from.path, to.path)));
    let mut answers = api.send_all(properties.chain(labels).collect())?.into_iter();
    let mut fields: Vec<(&ObjectKind, String, FieldType, String)> = Vec::new();
    for (kind, body) in kinds.iter().zip(answers.by_ref()) {
        for definition in api::results(&body)? {
            if let Some((name, field_type, description)) = field(kind, definition, which) {
                fields.push((kind, name, field_type, description));
            }
        }
    }
    for ((from, to), body) in pairs.iter().zip(answers) {
        for label in api::results(&body)?.iter().filter_map(|l| l["label"].as_str()) {
            let Some(name) = label_field(to.path, label) else { continue };
            let taken = |n: &str| fields.iter().any(|(k, f, _, _)| k.path == from.path && f.eq_ignore_ascii_case(n));
            if declared(from, &name) || taken(&name) || name.len() > LONGEST_NAME {
                continue;
            }
            let label: String = label.chars().filter(|c| !c.is_control()).take(80).collect();
            let description = format!("{} associated as \u{201c}{label}\u{201d}", to.entity);
            fields.push((from, name, FieldType::Collection(to.entity.to_string()), description));
        }
    }
    let mut discovery = Discovery::new();
    for kind in kinds {
        let of_kind: Vec<_> = fields.iter().filter(|(k, ..)| k.path == kind.path).collect();
        if of_kind.len() > MOST_FIELDS {
            max_connector_sdk::log(
                Level::Warn,
                &format!("{} has more than {MOST_FIELDS} properties and labels; the rest are not synced", kind.entity),
            );
        }
        for (_, name, field_type, description) in of_kind.into_iter().take(MOST_FIELDS) {
            discovery = discovery.field(kind.entity, name, field_type.clone(), Some(description));
        }
    }
    Ok(discovery.refill_on_new_fields(false))
}

/// Whether `name` is a declared field or property of `kind`, or its id.
fn declared(kind: &ObjectKind, name: &str) -> bool {
    name.eq_ignore_ascii_case("id")
        || name == "hs_object_id"
        || kind.declared_properties().any(|p| p == name)
        || kind.columns.iter().any(|c| c.field.eq_ignore_ascii_case(name))
}

/// A property definition as a field to sync (name, type, description), or none when it is declared
/// already, hidden, not wanted, or named in a way Max can't keep.
fn field(kind: &ObjectKind, definition: &Json, which: Properties) -> Option<(String, FieldType, String)> {
    let name = definition["name"].as_str()?;
    let hubspot_defined = definition["hubspotDefined"].as_bool().unwrap_or(false);
    if declared(kind, name) || definition["hidden"] == true || (which == Properties::Custom && hubspot_defined) {
        return None;
    }
    let storable = name.len() <= LONGEST_NAME
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic());
    if !storable {
        max_connector_sdk::log(Level::Warn, &format!("{}: property `{name}` can't be a column; skipped", kind.entity));
        return None;
    }
    let hubspot_type = definition["type"].as_str().unwrap_or("string");
    let field_type = kind_of(hubspot_type).field_type();
    let label = definition["label"].as_str().filter(|l| !l.trim().is_empty()).unwrap_or(name);
    let origin = if hubspot_defined { "HubSpot" } else { "custom" };
    let options: Vec<&str> =
        definition["options"].as_array().into_iter().flatten().filter_map(|o| o["value"].as_str()).collect();
    let mut description = format!("{label} ({origin} {hubspot_type} property");
    if !options.is_empty() {
        description.push_str(&format!(": {}", options.join(", ")));
    }
    description.push(')');
    let description: String =
        description.chars().map(|c| if c.is_control() { ' ' } else { c }).take(LONGEST_DESCRIPTION).collect();
    Some((name.to_string(), field_type, description))
}

/// The column kind of a HubSpot property type: numbers as floats, dates and datetimes as datetimes,
/// `bool` as booleans, everything else (strings, enumerations, phone numbers) as text.
fn kind_of(hubspot_type: &str) -> Kind {
    match hubspot_type {
        "number" => Kind::Float,
        "date" | "datetime" => Kind::Datetime,
        "bool" => Kind::Boolean,
        _ => Kind::Text,
    }
}

/// The kind a discovered field was declared with (what `discover` returned, back through the host).
pub fn kind_of_field(field_type: &FieldType) -> Kind {
    match field_type {
        FieldType::Float => Kind::Float,
        FieldType::Integer => Kind::Integer,
        FieldType::Boolean => Kind::Boolean,
        FieldType::Datetime => Kind::Datetime,
        FieldType::Json => Kind::Json,
        _ => Kind::Text,
    }
}
