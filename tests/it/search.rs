//! Searching stored data: filter precedence, parentheses, each operator, coercion by field type, quoted
//! values, null, reference paths, errors, and `--after` pagination under several orders.

use max_host::data::FieldValue;
use max_host::query::{SearchRequest, build};
use max_host::storage::{DataStore, SqliteStorage};
use max_host::task::TaskOutcome;

use crate::storage::{batch, people_schema, store};

fn t(s: &str) -> FieldValue {
    FieldValue::Text(s.into())
}

fn r(s: &str) -> FieldValue {
    FieldValue::Reference(s.into())
}

fn people() -> SqliteStorage {
    let mut storage = SqliteStorage::in_memory().unwrap();
    storage.apply_schema(&people_schema(serde_json::json!([])), false).unwrap();
    use FieldValue::{Boolean as B, Datetime as D, Float as F, Integer as I, Null as N};
    let persons = batch(
        "Person",
        &["name", "age", "score", "active", "born", "team", "manager"],
        vec![
            ("p1", vec![t("Ada Lovelace"), I(1), F(0.0), B(false), D("1815-12-10".into()), r("t1"), N]),
            ("p2", vec![t("Bob"), I(5), F(2.0), B(true), D("1990-01-01T10:00:00Z".into()), r("t1"), r("p1")]),
            ("p3", vec![t("carol"), I(5), F(2.0), B(false), N, r("t2"), r("p1")]),
            ("p4", vec![t("Dan"), I(1), F(2.0), B(false), D("2000-02-29".into()), r("t2"), r("p2")]),
            ("p5", vec![t("42"), N, F(2.5), B(true), D("2024-03-01T00:00:00+02:00".into()), N, r("p2")]),
        ],
    );
    let teams = batch("Team", &["name"], vec![("t1", vec![t("Engineering")]), ("t2", vec![t("Sales")])]);
    store(&mut storage, TaskOutcome { batches: vec![persons, teams], ..Default::default() }).unwrap();
    storage
}

fn ids(storage: &SqliteStorage, filter: &str) -> Vec<String> {
    let info = storage.info().unwrap().clone();
    let request = SearchRequest {
        entity: "Person".into(),
        filter: Some(filter.into()),
        fields: Some(vec!["id".into()]),
        ..SearchRequest::default()
    };
    let query = build(&info, &request).unwrap_or_else(|e| panic!("{filter}: {e}"));
    storage.search(&query).unwrap().rows.into_iter().map(|row| row[0].as_str().unwrap().to_string()).collect()
}

fn error(storage: &SqliteStorage, filter: &str) -> max_host::Error {
    let info = storage.info().unwrap().clone();
    let request = SearchRequest { entity: "Person".into(), filter: Some(filter.into()), ..SearchRequest::default() };
    build(&info, &request).unwrap_err()
}

#[test]
fn and_binds_tighter_than_or_and_parentheses_group() {
    let s = people();
    assert_eq!(ids(&s, "age = 1 OR score = 2 AND active = true"), ["p1", "p2", "p4"]);
    assert_eq!(ids(&s, "(age = 1 OR score = 2) AND active = true"), ["p2"]);
    assert_eq!(ids(&s, "age = 1 or (score = 2 and active = true)"), ["p1", "p2", "p4"]);
}

#[test]
fn each_operator() {
    let s = people();
    assert_eq!(ids(&s, "age = 5"), ["p2", "p3"]);
    assert_eq!(ids(&s, "age != 5"), ["p1", "p4", "p5"], "!= keeps rows where the field is empty");
    assert_eq!(ids(&s, "age > 1"), ["p2", "p3"]);
    assert_eq!(ids(&s, "age >= 1"), ["p1", "p2", "p3", "p4"]);
    assert_eq!(ids(&s, "age < 5"), ["p1", "p4"]);
    assert_eq!(ids(&s, "age <= 5"), ["p1", "p2", "p3", "p4"]);
    assert_eq!(ids(&s, "name ~= AN"), ["p4"]);
    assert_eq!(ids(&s, "name ~= CAROL"), ["p3"], "~= ignores case");
    assert_eq!(ids(&s, "name ~= \"%\""), Vec::<String>::new(), "~= matches literally");
}

#[test]
fn bare_values_are_coerced_by_the_field_type() {
    let s = people();
    assert_eq!(ids(&s, "score >= 2.5"), ["p5"]);
    assert_eq!(ids(&s, "active = true"), ["p2", "p5"]);
    assert_eq!(ids(&s, "active = FALSE"), ["p1", "p3", "p4"]);
    assert_eq!(ids(&s, "born > 2000-01-01"), ["p4", "p5"]);
    assert_eq!(ids(&s, "born >= 2024-02-29T22:00:00Z"), ["p5"], "datetimes compare in UTC");
    let e = error(&s, "age = abc");
    assert!(e.to_string().contains("`age` is an integer field and `abc` is not an integer"), "{e}");
    assert!(error(&s, "active = maybe").to_string().contains("boolean"));
}

#[test]
fn quoted_values_stay_strings() {
    let s = people();
    assert_eq!(ids(&s, "name = \"42\""), ["p5"]);
    assert_eq!(ids(&s, "name = 42"), ["p5"], "a string field reads a bare number as text");
    assert_eq!(ids(&s, "age = \"5\""), ["p2", "p3"]);
    assert_eq!(ids(&s, "name = \"Ada Lovelace\""), ["p1"]);
}

#[test]
fn null_matches_empty_fields() {
    let s = people();
    assert_eq!(ids(&s, "manager = null"), ["p1"]);
    assert_eq!(ids(&s, "team = NULL"), ["p5"]);
    assert_eq!(ids(&s, "manager != null"), ["p2", "p3", "p4", "p5"]);
    assert_eq!(ids(&s, "name = \"null\""), Vec::<String>::new(), "a quoted null is the text");
    assert!(error(&s, "age > null").to_string().contains("can't compare with null"));
}

#[test]
fn dotted_paths_follow_references() {
    let s = people();
    assert_eq!(ids(&s, "team.name = Sales"), ["p3", "p4"]);
    assert_eq!(ids(&s, "manager.manager.name = \"Ada Lovelace\""), ["p4", "p5"]);
    assert_eq!(ids(&s, "manager.name = Bob OR team.name = Engineering"), ["p1", "p2", "p4", "p5"]);
    let e = error(&s, "name.first = x");
    assert!(e.to_string().contains("not a reference"), "{e}");
}

#[test]
fn unknown_fields_list_the_valid_ones() {
    let s = people();
    let e = error(&s, "agee = 1");
    assert_eq!(e.to_string(), "`Person` has no field `agee` (in `agee`)");
    assert_eq!(e.detail().unwrap(), "fields of Person: id, name, age, score, active, born, meta, team, manager");
    let e = error(&s, "team.nam = x");
    assert_eq!(e.detail().unwrap(), "fields of Team: id, name");
}

#[test]
fn syntax_errors_point_at_the_column() {
    let s = people();
    let e = error(&s, "age = 1 AND");
    assert_eq!(e.to_string(), "invalid filter at column 12: expected a field name, found the end of the filter");
    assert_eq!(e.detail().unwrap(), "age = 1 AND\n           ^");
    assert!(error(&s, "age == 1").to_string().starts_with("invalid filter at column 6"));
}

/// Many rows with repeated and empty sort keys.
fn crowd() -> SqliteStorage {
    let mut storage = SqliteStorage::in_memory().unwrap();
    storage.apply_schema(&people_schema(serde_json::json!([])), false).unwrap();
    let rows: Vec<(String, Vec<FieldValue>)> = (0..37)
        .map(|i| {
            let age = if i % 5 == 0 { FieldValue::Null } else { FieldValue::Integer(i % 4) };
            let team = match i % 3 {
                0 => FieldValue::Null,
                1 => r("t1"),
                _ => r("t2"),
            };
            let born =
                if i % 6 == 0 { FieldValue::Null } else { FieldValue::Datetime(format!("2020-01-{:02}", 1 + i % 9)) };
            (format!("p{i:02}"), vec![t(&format!("n{}", i % 7)), age, team, born])
        })
        .collect();
    let persons = batch(
        "Person",
        &["name", "age", "team", "born"],
        rows.iter().map(|(id, v)| (id.as_str(), v.clone())).collect(),
    );
    let teams = batch("Team", &["name"], vec![("t1", vec![t("Engineering")]), ("t2", vec![t("Sales")])]);
    store(&mut storage, TaskOutcome { batches: vec![persons, teams], ..Default::default() }).unwrap();
    storage
}

#[test]
fn after_visits_every_row_exactly_once_under_any_order() {
    let storage = crowd();
    let info = storage.info().unwrap().clone();
    for order in [vec!["age:desc"], vec!["name", "age:asc"], vec!["team.name:desc", "born"]] {
        let request = |after: Option<String>, limit: Option<usize>| SearchRequest {
            entity: "Person".into(),
            fields: Some(vec!["id".into()]),
            order_by: order.iter().map(|o| o.to_string()).collect(),
            limit,
            after,
            ..SearchRequest::default()
        };
        let everything = storage.search(&build(&info, &request(None, None)).unwrap()).unwrap();
        let expected: Vec<String> = everything.rows.iter().map(|r| r[0].as_str().unwrap().to_string()).collect();
        assert_eq!(expected.len(), 37);
        let (mut seen, mut after, mut pages) = (Vec::new(), None, 0);
        loop {
            let page = storage.search(&build(&info, &request(after.clone(), Some(4))).unwrap()).unwrap();
            seen.extend(page.rows.iter().map(|r| r[0].as_str().unwrap().to_string()));
            pages += 1;
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, expected, "order {order:?}: pages in order, each row once");
        assert_eq!(pages, 10, "order {order:?}");
    }
}

#[test]
fn a_cursor_from_another_order_is_refused() {
    let storage = crowd();
    let info = storage.info().unwrap().clone();
    let first = SearchRequest {
        entity: "Person".into(),
        order_by: vec!["age".into()],
        limit: Some(2),
        ..SearchRequest::default()
    };
    let next = storage.search(&build(&info, &first).unwrap()).unwrap().next.unwrap();
    let other = SearchRequest { entity: "Person".into(), after: Some(next), ..SearchRequest::default() };
    assert!(build(&info, &other).unwrap_err().to_string().contains("different --order-by"));
}
