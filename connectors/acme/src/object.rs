//! One API object, parsed without building a JSON tree: its keys and the raw text of each value,
//! borrowed from the response body. Converting a value then parses only that value, and a JSON field
//! is stored as its raw text, so a page costs one pass over the body.

use std::borrow::Cow;
use std::fmt;

use max_connector_sdk::{ConnectorError, Result, Value};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::model::Kind;

/// A JSON object's members, in order, borrowed.
pub struct Object<'a>(Vec<(&'a str, &'a RawValue)>);

impl<'a> Object<'a> {
    /// The raw value of `key`.
    pub fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.0.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    /// Parses one object from a response body or a raw JSON value.
    pub fn parse(json: &'a [u8]) -> Result<Self> {
        serde_json::from_slice(json).map_err(|e| ConnectorError::invalid_response(format!("an object expected: {e}")))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Object<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct Members;
        impl<'de> Visitor<'de> for Members {
            type Value = Object<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> std::result::Result<Object<'de>, M::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(16));
                while let Some(member) = map.next_entry::<&'de str, &'de RawValue>()? {
                    members.push(member);
                }
                Ok(Object(members))
            }
        }
        deserializer.deserialize_map(Members)
    }
}

/// A string value, or the text of any other scalar (`12` → `"12"`).
pub fn text(raw: &RawValue) -> String {
    match serde_json::from_str::<Cow<'_, str>>(raw.get()) {
        Ok(text) => text.into_owned(),
        Err(_) => raw.get().to_string(),
    }
}

/// Converts one raw value for a column of `kind`; `None` when its JSON type doesn't fit.
pub fn value(kind: Kind, raw: Option<&RawValue>) -> Option<Value> {
    let Some(raw) = raw.filter(|r| r.get() != "null") else { return Some(Value::Null) };
    Some(match kind {
        Kind::Text => Value::Text(text(raw)),
        Kind::Integer => Value::Integer(raw.get().parse().ok()?),
        Kind::Boolean => Value::Boolean(raw.get().parse().ok()?),
        Kind::Datetime => Value::Datetime(serde_json::from_str::<Cow<'_, str>>(raw.get()).ok()?.into_owned()),
        Kind::Json => Value::Json(raw.get().to_string()),
        Kind::Ref(_) => Value::Reference(text(raw)),
    })
}
