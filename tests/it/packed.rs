//! The packed row format end to end: rows written by the connector SDK are read back by the host's
//! decoder exactly as they were written, whatever the value kinds, column order and text.

use max_connector_sdk::{Batch, Value};
use max_host::data::FieldValue;
use max_host::runtime::{Limits, decode_rows};

fn decode(batch: &Batch) -> Vec<max_host::data::Row> {
    decode_rows(&batch.entity, &batch.columns, batch.row_count, &batch.data, &batch.text, &Limits::default()).unwrap()
}

#[test]
fn every_value_kind_round_trips_through_sdk_and_host() {
    let columns = ["title", "points", "ratio", "done", "due", "meta", "project", "tags", "notes"];
    let mut batch = Batch::new("Task", &columns);
    batch.row(
        "t-1",
        vec![
            "Ünïcödé ✓ \"quoted\"\n".into(),
            (-42_i64).into(),
            0.25_f64.into(),
            true.into(),
            Value::datetime("2024-05-02T10:11:12.345Z"),
            Value::json(&serde_json::json!({"a": [1, 2]})),
            Value::reference("p-9"),
            Value::collection(["l-1", "", "l-3"]),
            Value::Null,
        ],
    );
    let mut row = batch.start_row();
    row.integer(1, i64::MIN).text(0, "").boolean(3, false).float(2, f64::MAX).collection(7, Vec::<String>::new());
    row.finish("t-2 with spaces");
    let rows = decode(&batch);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].id, "t-1");
    assert_eq!(
        rows[0].values,
        vec![
            FieldValue::Text("Ünïcödé ✓ \"quoted\"\n".into()),
            FieldValue::Integer(-42),
            FieldValue::Float(0.25),
            FieldValue::Boolean(true),
            FieldValue::Datetime("2024-05-02T10:11:12.345Z".into()),
            FieldValue::Json(r#"{"a":[1,2]}"#.into()),
            FieldValue::Reference("p-9".into()),
            FieldValue::Collection(vec!["l-1".into(), String::new(), "l-3".into()]),
            FieldValue::Null,
        ]
    );
    assert_eq!(rows[1].id, "t-2 with spaces");
    assert_eq!(
        rows[1].values,
        vec![
            FieldValue::Text(String::new()),
            FieldValue::Integer(i64::MIN),
            FieldValue::Float(f64::MAX),
            FieldValue::Boolean(false),
            FieldValue::Null,
            FieldValue::Null,
            FieldValue::Null,
            FieldValue::Collection(Vec::new()),
            FieldValue::Null,
        ],
        "columns never set are null"
    );
}

#[test]
fn a_row_abandoned_halfway_leaves_the_batch_as_it_was_and_a_column_set_twice_keeps_its_first_value() {
    let mut batch = Batch::new("Task", &["title", "points"]);
    batch.row("t-1", vec!["first".into(), 1_i64.into()]);
    {
        let mut row = batch.start_row();
        row.text(0, "never finished").integer(1, 2);
    }
    let mut row = batch.start_row();
    row.text(0, "kept").text(0, "ignored");
    assert!(row.is_set(0) && !row.is_set(1));
    row.finish("t-2");
    let rows = decode(&batch);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].values, vec![FieldValue::Text("kept".into()), FieldValue::Null]);
}

#[test]
fn wide_batches_and_large_column_indexes_round_trip() {
    let names: Vec<String> = (0..300).map(|i| format!("f{i}")).collect();
    let columns: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut batch = Batch::new("Wide", &columns);
    for id in 0..3_i64 {
        let mut row = batch.start_row();
        for column in (0..300).rev() {
            row.integer(column, id * 1000 + column as i64);
        }
        row.finish(&format!("w{id}"));
    }
    let rows = decode(&batch);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[2].values[299], FieldValue::Integer(2299));
    assert_eq!(rows[1].values[128], FieldValue::Integer(1128));
}
