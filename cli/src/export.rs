//! Search rows written as JSON, NDJSON or CSV while they are read: nothing is collected, so memory stays
//! flat however many rows match, and each row costs the same whatever its width (keys are encoded
//! once, values written straight into a buffered stdout).

use std::io::Write;

use serde_json::Value;

use crate::args::OutputFormat;

/// Writes one search's rows in a machine-readable format.
pub struct RowWriter<W: Write> {
    out: W,
    format: OutputFormat,
    /// Each column's JSON key with its colon (`"title":`), or `None` for a repeated column (an object
    /// has each key once).
    keys: Vec<Option<Vec<u8>>>,
    rows: u64,
}

impl<W: Write> RowWriter<W> {
    /// A writer of `format` (JSON, NDJSON or CSV) into `out`.
    pub fn new(format: OutputFormat, out: W) -> Self {
        RowWriter { out, format, keys: Vec::new(), rows: 0 }
    }

    /// Begins the output: the JSON document's head (with the entity searched, when there is one), or
    /// the CSV header line.
    pub fn start(&mut self, entity: Option<&str>, columns: &[String]) -> std::io::Result<()> {
        self.keys = columns
            .iter()
            .enumerate()
            .map(|(i, column)| {
                (!columns[..i].contains(column)).then(|| {
                    let mut key = serde_json::to_vec(column).expect("strings serialize");
                    key.push(b':');
                    key
                })
            })
            .collect();
        match self.format {
            OutputFormat::Json => {
                self.out.write_all(b"{\n")?;
                if let Some(entity) = entity {
                    writeln!(self.out, "  \"entity\": {},", serde_json::to_string(entity)?)?;
                }
                write!(self.out, "  \"columns\": {},\n  \"rows\": [", serde_json::to_string(columns)?)
            }
            OutputFormat::Csv => {
                let header: Vec<String> = columns.iter().map(|c| csv_cell(c)).collect();
                writeln!(self.out, "{}", header.join(","))
            }
            OutputFormat::Ndjson | OutputFormat::Text => Ok(()),
        }
    }

    /// Writes one row (its values in the columns' order).
    pub fn row(&mut self, values: &[Value]) -> std::io::Result<()> {
        match self.format {
            OutputFormat::Csv => {
                for (i, value) in values.iter().enumerate() {
                    if i > 0 {
                        self.out.write_all(b",")?;
                    }
                    self.out.write_all(csv_cell(&cell(value)).as_bytes())?;
                }
                self.out.write_all(b"\n")?;
            }
            _ => {
                if self.format == OutputFormat::Json {
                    self.out.write_all(if self.rows == 0 { b"\n    " } else { b",\n    " })?;
                }
                self.out.write_all(b"{")?;
                let mut first = true;
                for (key, value) in self.keys.iter().zip(values) {
                    let Some(key) = key else { continue };
                    if !first {
                        self.out.write_all(b",")?;
                    }
                    first = false;
                    self.out.write_all(key)?;
                    serde_json::to_writer(&mut self.out, value)?;
                }
                self.out.write_all(if self.format == OutputFormat::Json { b"}" } else { b"}\n" })?;
            }
        }
        self.rows += 1;
        Ok(())
    }

    /// Ends the output (the JSON document's tail with the `tail` keys: a search's next page's cursor,
    /// whether a query was cut at its row cap) and flushes it.
    pub fn finish(mut self, tail: &[(&str, Value)]) -> std::io::Result<()> {
        if self.format == OutputFormat::Json {
            self.out.write_all(if self.rows == 0 { b"]" } else { b"\n  ]" })?;
            for (key, value) in tail {
                write!(self.out, ",\n  {}: {}", serde_json::to_string(key)?, serde_json::to_string(value)?)?;
            }
            self.out.write_all(b"\n}\n")?;
        }
        self.out.flush()
    }
}

/// A value as a table or CSV cell: text as is, null empty, anything else as JSON.
pub fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A CSV field, quoted when it holds a comma, quote or line break (RFC 4180).
fn csv_cell(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(format: OutputFormat, columns: &[&str], rows: &[Vec<Value>], next: Option<&str>) -> String {
        let mut out = Vec::new();
        let mut writer = RowWriter::new(format, &mut out);
        let columns: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
        writer.start(Some("Task"), &columns).unwrap();
        for row in rows {
            writer.row(row).unwrap();
        }
        writer.finish(&[("next", Value::from(next))]).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn json_is_one_document_with_the_rows_in_column_order() {
        let rows = vec![
            vec![Value::from("t1"), Value::from(3), Value::Null],
            vec![Value::from("t\"2"), Value::from(true), Value::from("x")],
        ];
        let text = written(OutputFormat::Json, &["id", "b", "a"], &rows, Some("c1"));
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["entity"], "Task");
        assert_eq!(parsed["next"], "c1");
        assert_eq!(parsed["rows"][1]["id"], "t\"2");
        let keys: Vec<&String> = parsed["rows"][0].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["id", "b", "a"]);
        let empty: Value = serde_json::from_str(&written(OutputFormat::Json, &["id"], &[], None)).unwrap();
        assert_eq!((empty["rows"].as_array().unwrap().len(), &empty["next"]), (0, &Value::Null));
    }

    #[test]
    fn ndjson_is_a_line_per_row_with_each_key_once() {
        let rows = vec![vec![Value::from("t1"), Value::from("t1"), Value::from(1.5)]];
        let text = written(OutputFormat::Ndjson, &["id", "id", "score"], &rows, None);
        assert_eq!(text, "{\"id\":\"t1\",\"score\":1.5}\n");
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let rows = vec![vec![Value::from("a,b"), Value::from("say \"hi\""), Value::Null, Value::from(2)]];
        let text = written(OutputFormat::Csv, &["x", "y", "z", "n"], &rows, None);
        assert_eq!(text, "x,y,z,n\n\"a,b\",\"say \"\"hi\"\"\",,2\n");
    }
}
