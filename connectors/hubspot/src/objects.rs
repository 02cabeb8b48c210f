//! CRM objects: what a request names and what a row carries for each type (declared columns, then the
//! portal's discovered properties), their pages, batch reads and associations, and the conversion of
//! HubSpot's all-string property values into typed values.

use std::collections::HashMap;

use max_connector_sdk::http::encode_query;
use max_connector_sdk::table::{EntityTable, Kind};
use max_connector_sdk::{Batch, ConnectorError, Result, RowWriter, Value};
use serde_json::{Value as Json, json};

use crate::api::{self, Api};
use crate::model::{Column, ObjectKind, Read, label_field};

/// Objects per list page (HubSpot serves at most 100).
pub const PAGE_SIZE: u32 = 100;
/// Ids per batch read.
pub const BATCH_READ: usize = 100;
/// Ids per associations batch read.
const ASSOCIATION_BATCH: usize = 1000;
/// How long the `properties` parameter of a list URL may grow: HubSpot refuses URLs of about 8 KB and
/// more (414), so properties past this are read with a batch read of the page's ids instead.
const PROPERTIES_IN_URL: usize = 6000;

/// A field `discover` added.
#[derive(Debug, Clone)]
pub enum Discovered {
    /// A property, read as this kind.
    Property(String, Kind),
    /// The collection of associated objects of this type with one label (see [`label_field`]).
    Labelled(String, &'static ObjectKind),
}

impl Discovered {
    fn field(&self) -> &str {
        match self {
            Discovered::Property(name, _) | Discovered::Labelled(name, _) => name,
        }
    }
}

/// What is requested and written for one object type in this installation.
#[derive(Debug, Clone)]
pub struct Shape {
    /// The type.
    pub kind: &'static ObjectKind,
    /// The declared columns rows carry: associations with types not synced are left out.
    pub declared: Vec<&'static Column>,
    /// The discovered fields rows carry.
    pub discovered: Vec<Discovered>,
}

impl Shape {
    /// The shape of `kind` when `synced` types are synced and these properties were discovered.
    pub fn new(kind: &'static ObjectKind, synced: &[&'static ObjectKind], discovered: Vec<Discovered>) -> Self {
        let declared = kind
            .columns
            .iter()
            .filter(|c| match c.extra {
                Read::Association => synced.iter().any(|s| s.path == c.source),
                Read::PrimaryCompany => synced.iter().any(|s| s.path == "companies"),
                _ => true,
            })
            .collect();
        Shape { kind, declared, discovered }
    }

    /// Every property a request names: the declared ones, then the discovered ones.
    pub fn properties(&self) -> Vec<&str> {
        let declared = self.declared.iter().filter(|c| c.extra.is_property()).map(|c| c.source);
        let discovered = self.discovered.iter().filter_map(|d| match d {
            Discovered::Property(name, _) => Some(name.as_str()),
            Discovered::Labelled(..) => None,
        });
        let mut properties: Vec<&str> = Vec::new();
        for property in declared.chain(discovered) {
            if !properties.contains(&property) {
                properties.push(property);
            }
        }
        properties
    }

    /// The types whose associations rows carry.
    fn associated(&self) -> Vec<&'static ObjectKind> {
        self.declared
            .iter()
            .filter(|c| c.extra == Read::Association)
            .filter_map(|c| ObjectKind::by_path(c.source))
            .collect()
    }

    /// An empty batch of rows of this shape.
    pub fn batch(&self) -> Batch {
        let mut fields: Vec<&str> = self.declared.iter().map(|c| c.field).collect();
        fields.extend(self.discovered.iter().map(Discovered::field));
        Batch::new(self.kind.entity(), &fields)
    }

    /// One page of every live object, after `after`: the batch and the `after` of the next page.
    pub fn list_page(&self, api: &Api, after: Option<&str>) -> Result<(Batch, Option<String>)> {
        let properties = self.properties();
        let (mut in_url, mut length) = (Vec::new(), 0);
        for property in &properties {
            let encoded = encode_query(property);
            if length + encoded.len() + 1 > PROPERTIES_IN_URL {
                break;
            }
            length += encoded.len() + 1;
            in_url.push(encoded);
        }
        let mut url = format!(
            "/crm/v3/objects/{}?limit={PAGE_SIZE}&archived=false&properties={}",
            self.kind.path,
            in_url.join(",")
        );
        if let Some(after) = after {
            url.push_str(&format!("&after={}", encode_query(after)));
        }
        let (body, _) = api.send(api.get(&url))?;
        let mut objects = api::results(&body)?.clone();
        let rest = &properties[in_url.len()..];
        if !rest.is_empty() && !objects.is_empty() {
            let ids: Vec<&str> = objects.iter().filter_map(|o| o["id"].as_str()).collect();
            let more: HashMap<String, Json> = self
                .batch_read(api, &ids, rest)?
                .into_iter()
                .filter_map(|o| Some((o["id"].as_str()?.to_string(), o["properties"].clone())))
                .collect();
            for object in &mut objects {
                let id = object["id"].as_str().unwrap_or_default().to_string();
                if let (Some(Json::Object(more)), Json::Object(properties)) = (more.get(&id), &mut object["properties"])
                {
                    properties.extend(more.clone());
                }
            }
        }
        Ok((self.rows(api, &objects)?, api::next_after(&body)))
    }

    /// The live objects with these ids (unknown or archived ones left out), every property named.
    pub fn by_id(&self, api: &Api, ids: &[&str]) -> Result<Batch> {
        let objects = self.batch_read(api, ids, &self.properties())?;
        self.rows(api, &objects)
    }

    /// Batch-reads `properties` of the objects with `ids`, a hundred a request, side by side.
    fn batch_read(&self, api: &Api, ids: &[&str], properties: &[&str]) -> Result<Vec<Json>> {
        let path = format!("/crm/v3/objects/{}/batch/read", self.kind.path);
        let requests = ids
            .chunks(BATCH_READ)
            .map(|chunk| {
                let inputs: Vec<Json> = chunk.iter().map(|id| json!({ "id": id })).collect();
                api.post(&path, &json!({ "inputs": inputs, "properties": properties }))
            })
            .collect();
        let mut objects = Vec::new();
        for body in api.send_all(requests)? {
            objects.extend(api::results(&body)?.iter().cloned());
        }
        Ok(objects)
    }

    /// `objects` as the API returned them, as rows, with their associations read.
    pub fn rows(&self, api: &Api, objects: &[Json]) -> Result<Batch> {
        let ids: Vec<&str> = objects.iter().filter_map(|o| o["id"].as_str()).collect();
        let links = associations(api, self.kind, &ids, &self.associated())?;
        let mut batch = self.batch();
        for object in objects {
            self.push(&mut batch, object, &links)?;
        }
        Ok(batch)
    }

    fn push(&self, batch: &mut Batch, object: &Json, links: &Links) -> Result<()> {
        let id = object["id"]
            .as_str()
            .filter(|id| !id.is_empty())
            .ok_or_else(|| ConnectorError::invalid_response(format!("a {} without an id", self.kind.entity)))?;
        let properties = &object["properties"];
        let mut row = batch.start_row();
        for (index, column) in self.declared.iter().enumerate() {
            match column.extra {
                Read::Property | Read::Key => property(&mut row, index, column.kind, &properties[column.source]),
                Read::HtmlText => {
                    let text = properties[column.source].as_str().map(crate::html::text).filter(|t| !t.is_empty());
                    row.value(index, &text.map_or(Value::Null, Value::Text));
                }
                Read::Association => {
                    let mut ids: Vec<&str> = links.of(column.source, id).iter().map(|l| l.to.as_str()).collect();
                    ids.sort_by_key(|id| (id.len(), *id));
                    row.collection(index, &ids);
                }
                Read::PrimaryCompany => {
                    let types = self.kind.primary_company_types;
                    let primary = links.of("companies", id).iter().find(|l| {
                        l.types.iter().any(|t| types.contains(t)) || l.labels.iter().any(|label| label == "Primary")
                    });
                    row.value(index, &primary.map_or(Value::Null, |link| Value::Reference(link.to.clone())));
                }
            }
        }
        let first = self.declared.len();
        for (offset, discovered) in self.discovered.iter().enumerate() {
            match discovered {
                Discovered::Property(name, kind) => {
                    property(&mut row, first + offset, *kind, &properties[name.as_str()])
                }
                Discovered::Labelled(field, to) => {
                    let mut ids: Vec<&str> = links
                        .of(to.path, id)
                        .iter()
                        .filter(|l| l.labels.iter().any(|label| label_field(to.path, label).as_deref() == Some(field)))
                        .map(|l| l.to.as_str())
                        .collect();
                    ids.sort_by_key(|id| (id.len(), *id));
                    row.collection(first + offset, &ids);
                }
            }
        }
        row.finish(id);
        Ok(())
    }
}

/// Writes a property's value (a string, as HubSpot sends every value) as `kind`. An empty string is
/// null; so is a value that isn't of its type (HubSpot holds no such values; the column stays typed).
pub fn property(row: &mut RowWriter<'_>, index: usize, kind: Kind, value: &Json) {
    row.value(index, &typed(kind, value));
}

/// A JSON value from HubSpot as a value of `kind`.
fn typed(kind: Kind, value: &Json) -> Value {
    let text = match value {
        Json::String(text) => text.trim().to_string(),
        Json::Null => return Value::Null,
        // Owners, pipelines and the account send real JSON types.
        Json::Number(n) => match kind {
            Kind::Integer => return n.as_i64().map_or(Value::Null, Value::Integer),
            Kind::Float => return n.as_f64().map_or(Value::Null, Value::Float),
            _ => n.to_string(),
        },
        Json::Bool(b) => match kind {
            Kind::Boolean => return Value::Boolean(*b),
            _ => b.to_string(),
        },
        other => {
            return match (kind, other) {
                (Kind::Json, _) => Value::Json(other.to_string()),
                (Kind::Collection(_), Json::Array(items)) => {
                    Value::Collection(items.iter().filter_map(|i| i.as_str().map(str::to_string)).collect())
                }
                _ => Value::Null,
            };
        }
    };
    if text.is_empty() {
        return Value::Null;
    }
    match kind {
        Kind::Float => text.parse::<f64>().ok().filter(|n| n.is_finite()).map_or(Value::Null, Value::Float),
        Kind::Integer => text
            .parse::<i64>()
            .ok()
            .or_else(|| text.parse::<f64>().ok().filter(|n| n.fract() == 0.0 && n.abs() < 9e18).map(|n| n as i64))
            .map_or(Value::Null, Value::Integer),
        Kind::Boolean => match text.to_ascii_lowercase().as_str() {
            "true" => Value::Boolean(true),
            "false" => Value::Boolean(false),
            _ => Value::Null,
        },
        // A date property's value (`2024-06-01`) stays a date; anything else is an instant in UTC.
        Kind::Datetime => match max_connector_sdk::time::parse_ms(&text) {
            Some(_) if text.len() == 10 => Value::Datetime(text),
            Some(ms) => Value::Datetime(max_connector_sdk::time::iso(ms)),
            None => Value::Null,
        },
        Kind::Json => match serde_json::from_str::<Json>(&text) {
            Ok(parsed) => Value::Json(parsed.to_string()),
            Err(_) => Value::Json(Json::String(text).to_string()),
        },
        Kind::Ref(_) => Value::Reference(text),
        Kind::Collection(_) => {
            Value::Collection(text.split(';').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect())
        }
        Kind::Text => Value::Text(text),
    }
}

/// One association: the other object's id, HubSpot's type ids and the labels it has.
#[derive(Debug, Clone)]
pub struct Link {
    to: String,
    types: Vec<u64>,
    labels: Vec<String>,
}

/// Associations read for a set of objects: by associated type path, by object id.
#[derive(Debug, Default)]
pub struct Links(HashMap<&'static str, HashMap<String, Vec<Link>>>);

impl Links {
    fn of(&self, to_path: &str, id: &str) -> &[Link] {
        self.0.get(to_path).and_then(|by_id| by_id.get(id)).map_or(&[], Vec::as_slice)
    }
}

/// The most pages of one object's associations of one type followed (500 each).
const MOST_ASSOCIATION_PAGES: usize = 1000;

/// Reads the associations of the `kind` objects with `ids` with each of `with`, through the v4 batch
/// read (one request per type and thousand ids, side by side), following each object's further pages.
pub fn associations(api: &Api, kind: &ObjectKind, ids: &[&str], with: &[&'static ObjectKind]) -> Result<Links> {
    let mut links = Links::default();
    if ids.is_empty() {
        return Ok(links);
    }
    // Inputs still to read: (associated type, object id, after).
    let mut pending: Vec<(&'static ObjectKind, String, Option<String>)> =
        with.iter().flat_map(|to| ids.iter().map(move |id| (*to, id.to_string(), None))).collect();
    for _ in 0..MOST_ASSOCIATION_PAGES {
        if pending.is_empty() {
            return Ok(links);
        }
        let mut requests = Vec::new();
        let mut asked = Vec::new();
        for to in with {
            let inputs: Vec<&(&ObjectKind, String, Option<String>)> =
                pending.iter().filter(|(t, _, _)| t.path == to.path).collect();
            for chunk in inputs.chunks(ASSOCIATION_BATCH) {
                let body: Vec<Json> = chunk
                    .iter()
                    .map(|(_, id, after)| match after {
                        Some(after) => json!({ "id": id, "after": after }),
                        None => json!({ "id": id }),
                    })
                    .collect();
                let path = format!("/crm/v4/associations/{}/{}/batch/read", kind.path, to.path);
                requests.push(api.post(&path, &json!({ "inputs": body })));
                asked.push(*to);
            }
        }
        let mut next = Vec::new();
        for (to, body) in asked.into_iter().zip(api.send_all(requests)?) {
            for result in api::results(&body)? {
                let from = api::id_text(&result["from"]["id"])
                    .ok_or_else(|| ConnectorError::invalid_response("an association without its object's id"))?;
                let found = links.0.entry(to.path).or_default().entry(from.clone()).or_default();
                for target in result["to"].as_array().into_iter().flatten() {
                    let Some(to_id) = api::id_text(&target["toObjectId"]) else { continue };
                    let types = target["associationTypes"].as_array().map_or(&[][..], Vec::as_slice);
                    found.push(Link {
                        to: to_id,
                        types: types.iter().filter_map(|t| t["typeId"].as_u64()).collect(),
                        labels: types.iter().filter_map(|t| t["label"].as_str().map(str::to_string)).collect(),
                    });
                }
                if let Some(after) = api::next_after(result) {
                    next.push((to, from, Some(after)));
                }
            }
        }
        pending = next;
    }
    Err(ConnectorError::invalid_response(format!(
        "HubSpot kept paging associations past {MOST_ASSOCIATION_PAGES} pages for one object"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_values_become_their_properties_types() {
        let text = |s: &str| Json::String(s.to_string());
        assert_eq!(typed(Kind::Float, &text("1500.00")), Value::Float(1500.0));
        assert_eq!(typed(Kind::Float, &text("")), Value::Null);
        assert_eq!(typed(Kind::Float, &text("n/a")), Value::Null);
        assert_eq!(typed(Kind::Boolean, &text("TRUE")), Value::Boolean(true));
        assert_eq!(typed(Kind::Integer, &text("12.0")), Value::Integer(12));
        assert_eq!(typed(Kind::Integer, &json!(9586504)), Value::Integer(9_586_504));
        assert_eq!(typed(Kind::Datetime, &text("2024-06-01")), Value::Datetime("2024-06-01".into()));
        assert_eq!(typed(Kind::Datetime, &text("1714644672345")), Value::Datetime("2024-05-02T10:11:12.345Z".into()));
        assert_eq!(typed(Kind::Ref("Owner"), &text("41629779")), Value::Reference("41629779".into()));
        assert_eq!(
            typed(Kind::Collection("PipelineStage"), &json!(["a", "b"])),
            Value::Collection(vec!["a".into(), "b".into()])
        );
        assert_eq!(typed(Kind::Text, &Json::Null), Value::Null);
    }
}
