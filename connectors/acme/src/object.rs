//! API objects parsed in one pass straight into rows: each member is matched to its column by key
//! and written into the batch as the column's type, members no column wants are skipped unparsed, and JSON
//! fields keep their raw text. No JSON tree is built.

use std::borrow::Cow;
use std::fmt;

use max_connector_sdk::{Batch, ConnectorError, Result, RowWriter};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use max_connector_sdk::table::Kind;

use crate::model::EntityKind;

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
    RowSeed { kind, row: batch.start_row() }.deserialize(&mut deserializer).map_err(|e| invalid(kind, e))
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
        while seq.next_element_seed(RowSeed { kind: self.kind, row: self.batch.start_row() })?.is_some() {}
        Ok(())
    }
}

/// One object written into a row of its batch; the row is added once the object is complete.
struct RowSeed<'k, 'b> {
    kind: &'k EntityKind,
    row: RowWriter<'b>,
}

impl<'de> DeserializeSeed<'de> for RowSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> std::result::Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a {} object", self.kind.entity)
    }
    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> std::result::Result<(), A::Error> {
        let columns = self.kind.columns;
        let mut id = None;
        while let Some(key) = map.next_key::<Text<'de>>()? {
            let key = key.0.as_ref();
            if key == "id" {
                id = Some(map.next_value::<Text<'de>>()?.0);
            } else if let Some(column) = columns.iter().position(|c| c.source == key) {
                match columns[column].kind {
                    Kind::Json => {
                        let raw: &'de RawValue = map.next_value()?;
                        match raw.get() {
                            "null" => self.row.null(column),
                            json => self.row.json(column, json),
                        };
                    }
                    kind => map.next_value_seed(ValueSeed { kind, column, row: &mut self.row })?,
                }
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        match id {
            Some(id) if !id.is_empty() => {
                self.row.finish(&id);
                Ok(())
            }
            _ => Err(de::Error::custom(format!("a {} without an id", self.kind.entity))),
        }
    }
}

/// A member name or an id: borrowed when it has no escapes; a number id becomes its text.
struct Text<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a number")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> std::result::Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
        }
        deserializer.deserialize_any(TextVisitor)
    }
}

/// One scalar written into `column` as a column of `Kind`; a JSON type that doesn't fit is an error.
struct ValueSeed<'r, 'b> {
    kind: Kind,
    column: usize,
    row: &'r mut RowWriter<'b>,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> std::result::Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl ValueSeed<'_, '_> {
    fn text<E: de::Error>(self, text: &str) -> std::result::Result<(), E> {
        match self.kind {
            Kind::Text => self.row.text(self.column, text),
            Kind::Datetime => self.row.datetime(self.column, text),
            Kind::Ref(_) => self.row.reference(self.column, text),
            _ => return Err(E::custom(format!("`{text}` where a number or boolean belongs"))),
        };
        Ok(())
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a scalar")
    }
    fn visit_unit<E: de::Error>(self) -> std::result::Result<(), E> {
        self.row.null(self.column);
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<(), E> {
        match self.kind {
            Kind::Boolean => {
                self.row.boolean(self.column, v);
                Ok(())
            }
            Kind::Text | Kind::Ref(_) => self.text(if v { "true" } else { "false" }),
            _ => Err(E::custom("a boolean where another type belongs")),
        }
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<(), E> {
        match self.kind {
            Kind::Integer => {
                self.row.integer(self.column, v);
                Ok(())
            }
            Kind::Text | Kind::Ref(_) => self.text(&v.to_string()),
            _ => Err(E::custom("a number where another type belongs")),
        }
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<(), E> {
        match (self.kind, i64::try_from(v)) {
            (Kind::Integer, Ok(v)) => {
                self.row.integer(self.column, v);
                Ok(())
            }
            (Kind::Text | Kind::Ref(_), _) => self.text(&v.to_string()),
            _ => Err(E::custom("a number where another type belongs")),
        }
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<(), E> {
        match self.kind {
            Kind::Text | Kind::Ref(_) => self.text(&v.to_string()),
            _ => Err(E::custom("a fractional number where another type belongs")),
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<(), E> {
        self.text(v)
    }
}
