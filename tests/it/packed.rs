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

fn sdk_value() -> impl proptest::strategy::Strategy<Value = (Value, FieldValue)> {
    use proptest::prelude::*;
    prop_oneof![
        Just((Value::Null, FieldValue::Null)),
        any::<String>().prop_map(|s| (Value::Text(s.clone()), FieldValue::Text(s))),
        any::<i64>().prop_map(|i| (Value::Integer(i), FieldValue::Integer(i))),
        proptest::num::f64::NORMAL.prop_map(|f| (Value::Float(f), FieldValue::Float(f))),
        any::<bool>().prop_map(|b| (Value::Boolean(b), FieldValue::Boolean(b))),
        any::<String>().prop_map(|s| (Value::Datetime(s.clone()), FieldValue::Datetime(s))),
        "[\\[\\]{}0-9,\"a-z:]{0,12}".prop_map(|s| (Value::Json(s.clone()), FieldValue::Json(s))),
        "[^\u{0}]{1,8}".prop_map(|s| (Value::Reference(s.clone()), FieldValue::Reference(s))),
        proptest::collection::vec("[^\u{0}]{0,6}", 0..4)
            .prop_map(|ids| (Value::Collection(ids.clone()), FieldValue::Collection(ids))),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

    /// Whatever rows the SDK packs, the host decodes them exactly (within generous limits).
    #[test]
    fn any_rows_the_sdk_packs_decode_exactly(
        width in 0usize..5,
        rows in proptest::collection::vec(proptest::collection::vec(sdk_value(), 5), 0..8),
    ) {
        let columns: Vec<String> = (0..width).map(|n| format!("c{n}")).collect();
        let names: Vec<&str> = columns.iter().map(String::as_str).collect();
        let mut batch = Batch::new("Thing", &names);
        for (index, values) in rows.iter().enumerate() {
            batch.row(&format!("id-{index}"), values.iter().take(width).map(|(v, _)| v.clone()).collect());
        }
        let limits = Limits { max_json_depth: 128, ..Limits::default() };
        let decoded = decode_rows(&batch.entity, &batch.columns, batch.row_count, &batch.data, &batch.text, &limits)
            .map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
        proptest::prop_assert_eq!(decoded.len(), rows.len());
        for (index, (row, values)) in decoded.iter().zip(&rows).enumerate() {
            proptest::prop_assert_eq!(&row.id, &format!("id-{index}"));
            let expected: Vec<FieldValue> = values.iter().take(width).map(|(_, f)| f.clone()).collect();
            proptest::prop_assert_eq!(&row.values, &expected);
        }
    }
}
