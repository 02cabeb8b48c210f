//! API objects parsed in one pass straight into rows: each member is matched to its column by key
//! and deserialized as the column's type, members no column wants are skipped unparsed, and JSON
//! fields keep their raw text. No JSON tree is built.

use std::borrow::Cow;
use std::fmt;

use max_connector_sdk::{Batch, ConnectorError, Result, Value};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::model::{EntityKind, Kind};

/// A string value, or the text of any other scalar (`12` → `"12"`).
pub fn text(raw: &RawValue) -> String {
    match serde_json::from_str::<Cow<'_, str>>(raw.get()) {
        Ok(text) => text.into_owned(),
        Err(_) => raw.get().to_string(),
    }
}

/// Appends the rows of a JSON array of `kind` objects to `batch`.
pub fn push_all(kind: &EntityKind, batch: &mut Batch, json: &[u8]) -> Result<()> {
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    Rows { kind, batch }.deserialize(&mut deserializer).map_err(|e| invalid(kind, e))
}

/// Appends the row of one JSON `kind` object to `batch`.
pub fn push_one(kind: &EntityKind, batch: &mut Batch, json: &[u8]) -> Result<()> {
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    let (id, values) = RowSeed(kind).deserialize(&mut deserializer).map_err(|e| invalid(kind, e))?;
    batch.row(&id, values);
    Ok(())
}

fn invalid(kind: &EntityKind, error: serde_json::Error) -> ConnectorError {
    ConnectorError::invalid_response(format!("unexpected {} data: {error}", kind.entity))
}

/// An array of objects, each appended to the batch as it is read.
struct Rows<'k> {
    kind: &'k EntityKind,
    batch: &'k mut Batch,
}

impl<'de> DeserializeSeed<'de> for Rows<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> std::result::Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Rows<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a list of {} objects", self.kind.entity)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        while let Some((id, values)) = seq.next_element_seed(RowSeed(self.kind))? {
            self.batch.row(&id, values);
        }
        Ok(())
    }
}

/// One object as (id, values in column order).
struct RowSeed<'k>(&'k EntityKind);

impl<'de> DeserializeSeed<'de> for RowSeed<'_> {
    type Value = (String, Vec<Value>);
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> std::result::Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_> {
    type Value = (String, Vec<Value>);
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a {} object", self.0.entity)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Self::Value, A::Error> {
        let columns = self.0.columns;
        let mut values = vec![Value::Null; columns.len()];
        let mut id = None;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let key = key.0.as_ref();
            if key == "id" {
                id = Some(map.next_value_seed(ValueSeed(Kind::Text))?);
            } else if let Some(index) = columns.iter().position(|c| c.key == key) {
                values[index] = match columns[index].kind {
                    Kind::Json => {
                        let raw: &'de RawValue = map.next_value()?;
                        if raw.get() == "null" { Value::Null } else { Value::Json(raw.get().to_string()) }
                    }
                    kind => map.next_value_seed(ValueSeed(kind))?,
                };
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        match id {
            Some(Value::Text(id)) if !id.is_empty() => Ok((id, values)),
            _ => Err(de::Error::custom(format!("a {} without an id", self.0.entity))),
        }
    }
}

/// A member name, borrowed when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> std::result::Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// One scalar read as a column of `Kind`; a JSON type that doesn't fit is an error.
struct ValueSeed(Kind);

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> std::result::Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl ValueSeed {
    fn text<E: de::Error>(self, text: String) -> std::result::Result<Value, E> {
        match self.0 {
            Kind::Text => Ok(Value::Text(text)),
            Kind::Datetime => Ok(Value::Datetime(text)),
            Kind::Ref(_) => Ok(Value::Reference(text)),
            _ => Err(E::custom(format!("`{text}` where a number or boolean belongs"))),
        }
    }
}

impl<'de> Visitor<'de> for ValueSeed {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a scalar")
    }
    fn visit_unit<E: de::Error>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<Value, E> {
        match self.0 {
            Kind::Boolean => Ok(Value::Boolean(v)),
            Kind::Text | Kind::Ref(_) => Ok(Value::Text(v.to_string())),
            _ => Err(E::custom("a boolean where another type belongs")),
        }
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Value, E> {
        match self.0 {
            Kind::Integer => Ok(Value::Integer(v)),
            Kind::Text | Kind::Ref(_) => self.text(v.to_string()),
            _ => Err(E::custom("a number where another type belongs")),
        }
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Value, E> {
        match (self.0, i64::try_from(v)) {
            (Kind::Integer, Ok(v)) => Ok(Value::Integer(v)),
            (Kind::Text | Kind::Ref(_), _) => self.text(v.to_string()),
            _ => Err(E::custom("a number where another type belongs")),
        }
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Value, E> {
        match self.0 {
            Kind::Text | Kind::Ref(_) => self.text(v.to_string()),
            _ => Err(E::custom("a fractional number where another type belongs")),
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Value, E> {
        self.text(v.to_string())
    }
    fn visit_string<E: de::Error>(self, v: String) -> std::result::Result<Value, E> {
        self.text(v)
    }
}
