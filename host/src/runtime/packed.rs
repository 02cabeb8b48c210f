//! Decoding the packed rows of an `entity-batch` (the format is specified in `wit/types.wit`). The
//! bytes come from an untrusted guest: every read is bounds-checked and every rule of the format is
//! enforced, and a broken batch is refused with the row it broke in. What it may hold is bounded so
//! that whatever is stored can be read back by every output: ids, values and JSON nesting within the
//! installation's limits, and only finite numbers.

use super::Limits;
use crate::data::{FieldValue, Row};
use crate::{Error, LimitKind, Result};

/// What one decoded row costs the host beyond its text: the row itself, its id's allocation and its
/// entry in the duplicate check. With [`VALUE_BYTES`] a value, this is how a batch's size in memory is
/// estimated before it is decoded (`result-mib` bounds memory, not only bytes on the wire).
pub(crate) const ROW_BYTES: usize = std::mem::size_of::<Row>() + 48;
/// What one decoded value costs the host beyond its text.
pub(crate) const VALUE_BYTES: usize = std::mem::size_of::<FieldValue>();

/// The fewest bytes of `data` a row of `columns` columns takes: two a value (column and tag) and one
/// for its id's length.
fn minimum_row_bytes(columns: usize) -> usize {
    columns * 2 + 1
}

/// The most rows a batch of `columns` columns can hold in `data_len` bytes.
pub(crate) fn plausible_rows(row_count: u32, columns: usize, data_len: usize) -> usize {
    (row_count as usize).min(data_len / minimum_row_bytes(columns))
}

const NULL: u8 = 0;
const TEXT: u8 = 1;
const INTEGER: u8 = 2;
const FLOAT: u8 = 3;
const FALSE: u8 = 4;
const TRUE: u8 = 5;
const DATETIME: u8 = 6;
const JSON: u8 = 7;
const REFERENCE: u8 = 8;
const COLLECTION: u8 = 9;

/// Decodes `row_count` rows of `columns` values each from `data` and `text` (an `entity-batch` of
/// `entity`, which names it in errors).
pub fn decode_rows(
    entity: &str,
    columns: &[String],
    row_count: u32,
    data: &[u8],
    text: &str,
    limits: &Limits,
) -> Result<Vec<Row>> {
    // A count larger than the rows the data can hold is a lie: refuse it before reserving memory for it.
    if plausible_rows(row_count, columns.len(), data.len()) < row_count as usize {
        return Err(malformed(entity, "", format!("{row_count} rows can't fit in {} bytes", data.len())));
    }
    let mut reader = Reader { data, text, at: 0, text_at: 0, limits };
    let mut seen = vec![false; columns.len()];
    let mut ids = std::collections::HashSet::with_capacity(row_count as usize);
    let mut rows = Vec::with_capacity(row_count as usize);
    for index in 0..row_count {
        let values = reader.values(columns, &mut seen).map_err(|refusal| {
            refusal.into_error(entity, |reason| format!("row {} of {row_count}: {reason}", index + 1))
        })?;
        let id = reader
            .id()
            .map_err(|refusal| refusal.into_error(entity, |reason| format!("the id of row {}: {reason}", index + 1)))?;
        if id.is_empty() {
            return Err(malformed(entity, "", format!("row {} has an empty id", index + 1)));
        }
        if !ids.insert(id) {
            return Err(malformed(entity, id, format!("row {} repeats an id of the same batch", index + 1)));
        }
        rows.push(Row { id: id.to_string(), values });
    }
    if reader.at != data.len() {
        return Err(malformed(entity, "", format!("{} bytes left after the last row", data.len() - reader.at)));
    }
    if reader.text_at != text.len() {
        return Err(malformed(
            entity,
            "",
            format!("{} bytes of text left after the last row", text.len() - reader.text_at),
        ));
    }
    Ok(rows)
}

fn malformed(entity: &str, id: &str, reason: String) -> Error {
    Error::InvalidData { entity: entity.to_string(), id: id.to_string(), field: String::new(), reason }
}

/// Why a read failed: the batch breaks the format, or holds more than a limit allows.
enum Refusal {
    Malformed(String),
    Limit(LimitKind, String),
}

impl From<String> for Refusal {
    fn from(reason: String) -> Self {
        Refusal::Malformed(reason)
    }
}

impl From<&str> for Refusal {
    fn from(reason: &str) -> Self {
        Refusal::Malformed(reason.to_string())
    }
}

impl Refusal {
    /// The same refusal, its reason placed by `place`.
    fn within(self, place: impl Fn(&str) -> String) -> Refusal {
        match self {
            Refusal::Malformed(reason) => Refusal::Malformed(place(&reason)),
            Refusal::Limit(limit, detail) => Refusal::Limit(limit, place(&detail)),
        }
    }

    /// The error, its reason placed by `place` (which row, which field). A limit's error names no
    /// connector or call yet: the instance that decoded it fills them in.
    fn into_error(self, entity: &str, place: impl Fn(&str) -> String) -> Error {
        match self.within(place) {
            Refusal::Malformed(reason) => malformed(entity, "", reason),
            Refusal::Limit(limit, detail) => Error::LimitExceeded {
                connector: String::new(),
                call: String::new(),
                limit,
                detail: format!("{entity} {detail}"),
            },
        }
    }
}

/// A cursor over both buffers.
struct Reader<'a> {
    data: &'a [u8],
    text: &'a str,
    at: usize,
    text_at: usize,
    limits: &'a Limits,
}

type Read<T> = std::result::Result<T, Refusal>;

impl<'a> Reader<'a> {
    /// One row's values, placed in column order.
    fn values(&mut self, columns: &[String], seen: &mut [bool]) -> Read<Vec<FieldValue>> {
        seen.fill(false);
        let mut values = vec![FieldValue::Null; columns.len()];
        for _ in 0..columns.len() {
            let column = self.varint()?;
            let slot = usize::try_from(column)
                .ok()
                .filter(|&c| c < columns.len())
                .ok_or_else(|| Refusal::from(format!("column {column} of {}", columns.len())))?;
            if std::mem::replace(&mut seen[slot], true) {
                return Err(format!("`{}` given twice", columns[slot]).into());
            }
            values[slot] =
                self.value().map_err(|refusal| refusal.within(|reason| format!("`{}`: {reason}", columns[slot])))?;
        }
        Ok(values)
    }

    fn value(&mut self) -> Read<FieldValue> {
        let tag = self.byte()?;
        Ok(match tag {
            NULL => FieldValue::Null,
            TEXT => FieldValue::Text(self.value_text()?.to_string()),
            INTEGER => FieldValue::Integer(i64::from_le_bytes(self.eight()?)),
            FLOAT => {
                let number = f64::from_le_bytes(self.eight()?);
                if !number.is_finite() {
                    return Err(format!("{number} is not a finite number (NaN and infinities can't be stored)").into());
                }
                FieldValue::Float(number)
            }
            FALSE => FieldValue::Boolean(false),
            TRUE => FieldValue::Boolean(true),
            DATETIME => FieldValue::Datetime(self.value_text()?.to_string()),
            JSON => {
                let json = self.value_text()?;
                let depth = json_depth(json);
                if depth > self.limits.max_json_depth {
                    let detail =
                        format!("JSON nested {depth} deep; at most {} levels are stored", self.limits.max_json_depth);
                    return Err(Refusal::Limit(LimitKind::JsonDepth, detail));
                }
                FieldValue::Json(json.to_string())
            }
            REFERENCE => FieldValue::Reference(self.id()?.to_string()),
            COLLECTION => {
                let count = self.varint()?;
                // Each item takes at least a byte of `data`: a larger count is a lie.
                if count > (self.data.len() - self.at) as u64 {
                    return Err(format!("a collection of {count} items in {} bytes", self.data.len() - self.at).into());
                }
                let mut ids = Vec::with_capacity(count as usize);
                for _ in 0..count {
                    ids.push(self.id()?.to_string());
                }
                FieldValue::Collection(ids)
            }
            other => return Err(format!("unknown value tag {other}").into()),
        })
    }

    /// The next piece of `text` as an id (of a row, a reference or a collection item).
    fn id(&mut self) -> Read<&'a str> {
        let id = self.span()?;
        if id.len() > self.limits.max_id_bytes {
            let detail =
                format!("an id of {} bytes; ids of at most {} bytes are stored", id.len(), self.limits.max_id_bytes);
            return Err(Refusal::Limit(LimitKind::IdSize, detail));
        }
        Ok(id)
    }

    /// The next piece of `text` as a value (text, datetime, JSON).
    fn value_text(&mut self) -> Read<&'a str> {
        let value = self.span()?;
        if value.len() > self.limits.max_value_bytes {
            let detail = format!(
                "a value of {} bytes; values of at most {} MiB are stored",
                value.len(),
                self.limits.max_value_bytes >> 20
            );
            return Err(Refusal::Limit(LimitKind::ValueSize, detail));
        }
        Ok(value)
    }

    /// The next piece of `text`.
    fn span(&mut self) -> Read<&'a str> {
        let length = self.varint()?;
        let end = usize::try_from(length).ok().and_then(|l| self.text_at.checked_add(l));
        let piece = end.and_then(|end| self.text.get(self.text_at..end)).ok_or_else(|| {
            Refusal::from(format!(
                "a text of {length} bytes at byte {} of {} (past the end, or not on a character boundary)",
                self.text_at,
                self.text.len()
            ))
        })?;
        self.text_at += piece.len();
        Ok(piece)
    }

    fn byte(&mut self) -> Read<u8> {
        let byte = *self.data.get(self.at).ok_or("the data ends mid-row")?;
        self.at += 1;
        Ok(byte)
    }

    fn eight(&mut self) -> Read<[u8; 8]> {
        let bytes = self.data.get(self.at..self.at + 8).ok_or("the data ends mid-number")?;
        self.at += 8;
        Ok(bytes.try_into().expect("the slice has eight bytes"))
    }

    /// An unsigned LEB128 number of at most 64 bits.
    fn varint(&mut self) -> Read<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("a varint longer than 64 bits".into())
    }
}

/// How deeply arrays and objects nest in `json` (read as JSON text: brackets inside strings don't
/// count). Linear and without recursion, so no input can exhaust the stack.
pub(crate) fn json_depth(json: &str) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for byte in json.bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns() -> Vec<String> {
        vec!["title".to_string(), "done".to_string()]
    }

    #[test]
    fn decodes_values_given_in_any_column_order() {
        // Row 1: done=true, title="Ship"; id "t1". Row 2: title=null, done=false; id "t2".
        let data = [1, TRUE, 0, TEXT, 4, 2, 0, NULL, 1, FALSE, 2];
        let rows = decode_rows("Task", &columns(), 2, &data, "Shipt1t2", &Limits::default()).unwrap();
        assert_eq!(rows[0].id, "t1");
        assert_eq!(rows[0].values, vec![FieldValue::Text("Ship".into()), FieldValue::Boolean(true)]);
        assert_eq!(rows[1].id, "t2");
        assert_eq!(rows[1].values, vec![FieldValue::Null, FieldValue::Boolean(false)]);
    }

    #[test]
    fn refuses_every_broken_rule_naming_the_row() {
        let cases: &[(&[u8], &str, u32, &str)] = &[
            (&[0, NULL, 0, NULL, 2], "t1", 1, "`title` given twice"),
            (&[5, NULL, 0, NULL, 2], "t1", 1, "column 5 of 2"),
            (&[0, 42, 1, NULL, 2], "t1", 1, "unknown value tag 42"),
            (&[0, TEXT, 9, 1, NULL, 2], "t1", 1, "past the end"),
            (&[0, NULL, 1, NULL, 2, 0], "t1", 1, "1 bytes left"),
            (&[0, NULL, 1, NULL, 1], "t1", 1, "1 bytes of text left"),
            (&[0, NULL, 1, NULL, 0], "", 1, "empty id"),
            (&[0, NULL, 1, NULL, 2], "t1", 1000, "can't fit"),
            (&[0, INTEGER, 1, 2, 3, 4, 5], "t1", 1, "ends mid-number"),
            (&[0, TEXT, 1, 1, NULL, 1], "éx", 1, "character boundary"),
            (&[0, NULL, 1, NULL, 1, 0, NULL, 1, NULL, 1], "aa", 2, "repeats an id"),
        ];
        for (data, text, count, expected) in cases {
            let error =
                decode_rows("Task", &columns(), *count, data, text, &Limits::default()).unwrap_err().to_string();
            assert!(error.contains(expected), "{data:?}: expected `{expected}` in: {error}");
            assert!(error.contains("Task"), "{error}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// Whatever bytes a guest sends, decoding returns rows or an error: never a panic, never more
        /// rows than it claims.
        #[test]
        fn any_bytes_decode_or_are_refused_without_panicking(
            columns in proptest::collection::vec("[a-z]{1,3}", 0..4),
            row_count in 0u32..6,
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
            text in ".{0,24}",
        ) {
            let limits = Limits { max_id_bytes: 8, max_value_bytes: 16, max_json_depth: 2, ..Limits::default() };
            if let Ok(rows) = decode_rows("Task", &columns, row_count, &data, &text, &limits) {
                proptest::prop_assert_eq!(rows.len(), row_count as usize);
                for row in rows {
                    proptest::prop_assert!(!row.id.is_empty() && row.id.len() <= 8);
                    proptest::prop_assert_eq!(row.values.len(), columns.len());
                }
            }
        }
    }

    #[test]
    fn json_depth_counts_brackets_outside_strings() {
        assert_eq!(json_depth(r#"{"a": [1, {"b": "[[[\"]]]"}]}"#), 3);
        assert_eq!(json_depth("42"), 0);
        assert_eq!(json_depth(&"[".repeat(100_000)), 100_000);
    }
}
