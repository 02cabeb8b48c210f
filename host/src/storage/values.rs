//! Converting a connector's field values to SQLite values: each value must fit its declared type;
//! datetimes are normalised to ISO-8601 UTC with milliseconds, so text order is time order.

use std::borrow::Cow;

use rusqlite::types::{ToSqlOutput, Value, ValueRef};

use crate::data::{FieldValue, normalized_datetime};
use crate::manifest::FieldType;

/// Converts `value` for a column of type `ty`, borrowing its text where it can; the error says what was
/// wrong.
pub(super) fn to_sql<'a>(value: &'a FieldValue, ty: &FieldType) -> Result<ToSqlOutput<'a>, String> {
    let text = |s: &'a str| ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes()));
    Ok(match (ty, value) {
        (_, FieldValue::Null) => ToSqlOutput::Owned(Value::Null),
        (FieldType::String, FieldValue::Text(s)) => text(s),
        (FieldType::Integer, FieldValue::Integer(i)) => ToSqlOutput::Owned(Value::Integer(*i)),
        (FieldType::Float, FieldValue::Float(f)) => ToSqlOutput::Owned(Value::Real(*f)),
        (FieldType::Float, FieldValue::Integer(i)) => ToSqlOutput::Owned(Value::Real(*i as f64)),
        (FieldType::Boolean, FieldValue::Boolean(b)) => ToSqlOutput::Owned(Value::Integer(i64::from(*b))),
        (FieldType::Datetime, FieldValue::Datetime(s) | FieldValue::Text(s)) => match normalized_datetime(s)? {
            Cow::Borrowed(s) => text(s),
            Cow::Owned(s) => ToSqlOutput::Owned(Value::Text(s)),
        },
        (FieldType::Json, FieldValue::Json(s) | FieldValue::Text(s)) => {
            serde_json::from_str::<serde::de::IgnoredAny>(s).map_err(|e| format!("is not valid JSON ({e})"))?;
            text(s)
        }
        (FieldType::Ref(_), FieldValue::Reference(id) | FieldValue::Text(id)) => text(id),
        (ty, value) => return Err(format!("is declared {ty} but the connector sent {}", describe(value))),
    })
}

pub(super) fn describe(value: &FieldValue) -> &'static str {
    match value {
        FieldValue::Null => "null",
        FieldValue::Text(_) => "text",
        FieldValue::Integer(_) => "an integer",
        FieldValue::Float(_) => "a float",
        FieldValue::Boolean(_) => "a boolean",
        FieldValue::Datetime(_) => "a datetime",
        FieldValue::Json(_) => "JSON",
        FieldValue::Reference(_) => "a reference",
        FieldValue::Collection(_) => "a collection",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_are_normalised_to_utc_milliseconds() {
        assert_eq!(crate::data::normalize_datetime("2024-05-02T12:11:12.345+02:00").unwrap(), "2024-05-02T10:11:12.345Z");
        assert_eq!(crate::data::normalize_datetime("2011-04-22T13:33:48Z").unwrap(), "2011-04-22T13:33:48.000Z");
        assert_eq!(crate::data::normalize_datetime("2024-06-01").unwrap(), "2024-06-01");
        assert!(crate::data::normalize_datetime("2024-02-30").is_err(), "a date is checked, not only its shape");
        assert!(crate::data::normalize_datetime("yesterday").is_err());
        assert_eq!(crate::data::normalize_datetime("2024-05-02T10:11:12.345Z").unwrap(), "2024-05-02T10:11:12.345Z");
        assert!(crate::data::normalize_datetime("2024-02-30T10:11:12.345Z").is_err(), "the fast path still checks the date");
        assert!(crate::data::normalize_datetime("2024-05-02T24:11:12.345Z").is_err());
    }

    #[test]
    fn values_must_fit_their_type() {
        assert_eq!(to_sql(&FieldValue::Integer(3), &FieldType::Float).unwrap(), ToSqlOutput::Owned(Value::Real(3.0)));
        let yes = to_sql(&FieldValue::Boolean(true), &FieldType::Boolean).unwrap();
        assert_eq!(yes, ToSqlOutput::Owned(Value::Integer(1)));
        let moment = FieldValue::Datetime("2024-05-02T12:11:12.345+02:00".into());
        let stored = ToSqlOutput::Owned(Value::Text("2024-05-02T10:11:12.345Z".into()));
        assert_eq!(to_sql(&moment, &FieldType::Datetime).unwrap(), stored);
        let error = to_sql(&FieldValue::Text("x".into()), &FieldType::Integer).unwrap_err();
        assert_eq!(error, "is declared integer but the connector sent text");
        assert!(to_sql(&FieldValue::Json("{".into()), &FieldType::Json).is_err());
    }
}
