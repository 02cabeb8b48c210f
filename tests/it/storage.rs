//! Storage: merge-upsert keeps what a batch doesn't carry, schema evolution adds columns and refuses
//! type changes, link tables keep collections in order, and bad data is refused without a trace.

use max_host::Error;
use max_host::data::{EntityBatch, EntityRef, FieldValue, Row};
use max_host::manifest::ConnectorInfo;
use max_host::storage::{DataStore, SqliteStorage, Storage, TaskStore};
use max_host::task::{Claim, Links, NewTask, TaskOutcome, TaskSpec};

/// A schema with every field type: people in teams.
pub fn people_schema(extra_person_fields: serde_json::Value) -> ConnectorInfo {
    let mut person_fields = vec![
        serde_json::json!({"name": "name", "type": "string"}),
        serde_json::json!({"name": "age", "type": "integer"}),
        serde_json::json!({"name": "score", "type": "float"}),
        serde_json::json!({"name": "active", "type": "boolean"}),
        serde_json::json!({"name": "born", "type": "datetime"}),
        serde_json::json!({"name": "meta", "type": "json"}),
        serde_json::json!({"name": "team", "type": "ref", "target": "Team"}),
        serde_json::json!({"name": "manager", "type": "ref", "target": "Person"}),
    ];
    person_fields.extend(extra_person_fields.as_array().cloned().unwrap_or_default());
    serde_json::from_value(serde_json::json!({
        "name": "people", "version": "1.0.0", "description": "test",
        "schema": {
            "entities": [
                {"name": "Person", "fields": person_fields},
                {"name": "Team", "fields": [
                    {"name": "name", "type": "string"},
                    {"name": "members", "type": "collection", "target": "Person"}
                ]}
            ],
            "roots": []
        },
        "loaders": [], "resolvers": [], "onboarding": [],
        "permissions": {"hosts": [], "credentials": []}
    }))
    .expect("a valid test schema")
}

/// Stores `outcome` the way a sync does: as the result of a task.
pub fn store(storage: &mut SqliteStorage, outcome: TaskOutcome) -> Result<(), Error> {
    let spec = TaskSpec::Load { loader: "test".into(), entity: "Person".into(), ids: vec![] };
    let sync = storage.begin_sync(true, &[NewTask { group: 0, parent: None, spec }])?;
    let Claim::Task(task) = storage.claim_task(sync)? else { panic!("a task was added") };
    storage.complete_task(sync, &task, outcome)?;
    // Completions are committed in groups; another connection reads only what is committed.
    storage.flush()
}

pub fn batch(entity: &str, columns: &[&str], rows: Vec<(&str, Vec<FieldValue>)>) -> EntityBatch {
    EntityBatch {
        entity: entity.into(),
        columns: columns.iter().map(|c| c.to_string()).collect(),
        rows: rows.into_iter().map(|(id, values)| Row { id: id.into(), values }).collect(),
    }
}

fn text(s: &str) -> FieldValue {
    FieldValue::Text(s.into())
}

fn file_storage(dir: &tempfile::TempDir) -> SqliteStorage {
    SqliteStorage::open(&dir.path().join("data.db")).unwrap()
}

fn person_row(dir: &tempfile::TempDir, id: &str) -> (Option<String>, Option<i64>, Option<String>) {
    let conn = rusqlite::Connection::open(dir.path().join("data.db")).unwrap();
    conn.query_row("SELECT name, age, meta FROM Person WHERE id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
}

#[test]
fn storing_some_fields_never_erases_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let mut storage = file_storage(&dir);
    storage.apply_schema(&people_schema(serde_json::json!([])), false).unwrap();
    let first = batch("Person", &["name", "age"], vec![("p1", vec![text("Ada"), FieldValue::Integer(36)])]);
    store(&mut storage, TaskOutcome { batches: vec![first], ..Default::default() }).unwrap();
    let second = batch(
        "Person",
        &["age", "meta"],
        vec![("p1", vec![FieldValue::Integer(37), FieldValue::Json("{\"a\":1}".into())])],
    );
    store(&mut storage, TaskOutcome { batches: vec![second], ..Default::default() }).unwrap();
    assert_eq!(person_row(&dir, "p1"), (Some("Ada".into()), Some(37), Some("{\"a\":1}".into())));
    let conn = rusqlite::Connection::open(dir.path().join("data.db")).unwrap();
    let mut stmt = conn
        .prepare("SELECT DISTINCT field FROM _max_field_sync WHERE entity = 'Person' AND id = 'p1' ORDER BY field")
        .unwrap();
    let fields: Vec<String> = stmt.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(fields, ["age", "meta", "name"], "sync metadata per field");
    let cleared = batch("Person", &["name"], vec![("p1", vec![FieldValue::Null])]);
    store(&mut storage, TaskOutcome { batches: vec![cleared], ..Default::default() }).unwrap();
    assert_eq!(
        person_row(&dir, "p1"),
        (None, Some(37), Some("{\"a\":1}".into())),
        "an explicit null clears only that field"
    );
}

#[test]
fn a_new_field_adds_a_column_and_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut storage = file_storage(&dir);
    let created = storage.apply_schema(&people_schema(serde_json::json!([])), false).unwrap();
    assert_eq!(created.created, ["Person", "Team"]);
    store(
        &mut storage,
        TaskOutcome {
            batches: vec![batch("Person", &["name"], vec![("p1", vec![text("Ada")])])],
            ..Default::default()
        },
    )
    .unwrap();
    let v2 = people_schema(serde_json::json!([{"name": "nickname", "type": "string"}]));
    let report = storage.apply_schema(&v2, false).unwrap();
    assert_eq!(report.added, ["Person.nickname"]);
    assert!(report.created.is_empty());
    store(
        &mut storage,
        TaskOutcome {
            batches: vec![batch("Person", &["nickname"], vec![("p1", vec![text("Countess")])])],
            ..Default::default()
        },
    )
    .unwrap();
    let conn = rusqlite::Connection::open(dir.path().join("data.db")).unwrap();
    let row: (String, String) = conn
        .query_row("SELECT name, nickname FROM Person WHERE id = 'p1'", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!(row, ("Ada".into(), "Countess".into()));
    // Dropping the field again keeps the column and reports it.
    let report = storage.apply_schema(&people_schema(serde_json::json!([])), false).unwrap();
    assert_eq!(report.retired, ["Person.nickname"]);
}

#[test]
fn a_type_change_is_refused_with_a_way_out() {
    let dir = tempfile::tempdir().unwrap();
    let mut storage = file_storage(&dir);
    storage.apply_schema(&people_schema(serde_json::json!([{"name": "rank", "type": "integer"}])), false).unwrap();
    let changed = people_schema(serde_json::json!([{"name": "rank", "type": "string"}]));
    let error = storage.apply_schema(&changed, false).unwrap_err();
    assert!(
        matches!(&error, Error::SchemaConflict { entity, field, .. } if entity == "Person" && field == "rank"),
        "{error:?}"
    );
    assert_eq!(error.to_string(), "Person.rank is stored as integer but the connector now declares it string");
    let report = storage.apply_schema(&changed, true).unwrap();
    assert_eq!(report.rebuilt, ["Person"]);
}

#[test]
fn link_tables_hold_collections_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut storage = file_storage(&dir);
    storage.apply_schema(&people_schema(serde_json::json!([])), false).unwrap();
    let team = EntityRef { entity: "Team".into(), id: "t1".into() };
    let page = |ids: &[&str], position: u64, replace: bool| TaskOutcome {
        batches: vec![batch("Person", &[], ids.iter().map(|id| (*id, vec![])).collect())],
        links: Some(Links {
            parent: team.clone(),
            field: "members".into(),
            position,
            child_ids: ids.iter().map(|s| s.to_string()).collect(),
            replace,
            complete: false,
        }),
        ..Default::default()
    };
    store(&mut storage, page(&["p3", "p1"], 0, true)).unwrap();
    store(&mut storage, page(&["p2"], 2, false)).unwrap();
    let members = |dir: &tempfile::TempDir| -> Vec<String> {
        let conn = rusqlite::Connection::open(dir.path().join("data.db")).unwrap();
        let mut stmt =
            conn.prepare("SELECT child_id FROM \"Team.members\" WHERE parent_id = 't1' ORDER BY position").unwrap();
        stmt.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
    };
    assert_eq!(members(&dir), ["p3", "p1", "p2"]);
    // A new first page replaces the stored collection.
    store(&mut storage, page(&["p2"], 0, true)).unwrap();
    assert_eq!(members(&dir), ["p2"]);
    // Collections sent inline with the parent replace it too.
    let inline =
        batch("Team", &["members"], vec![("t1", vec![FieldValue::Collection(vec!["p1".into(), "p3".into()])])]);
    store(&mut storage, TaskOutcome { batches: vec![inline], ..Default::default() }).unwrap();
    assert_eq!(members(&dir), ["p1", "p3"]);
}

#[test]
fn data_that_breaks_the_schema_is_refused_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let mut storage = file_storage(&dir);
    storage.apply_schema(&people_schema(serde_json::json!([])), false).unwrap();
    let good_then_bad = batch(
        "Person",
        &["name", "age"],
        vec![("p1", vec![text("Ada"), FieldValue::Integer(1)]), ("p2", vec![text("Bob"), text("old")])],
    );
    let error = store(&mut storage, TaskOutcome { batches: vec![good_then_bad], ..Default::default() }).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the connector returned invalid data for Person p2, field `age`: is declared integer but the connector sent text"
    );
    let unknown = batch("Robot", &["name"], vec![("r1", vec![text("R2")])]);
    assert!(matches!(
        store(&mut storage, TaskOutcome { batches: vec![unknown], ..Default::default() }),
        Err(Error::InvalidData { .. })
    ));
    let conn = rusqlite::Connection::open(dir.path().join("data.db")).unwrap();
    let n: i64 = conn.query_row("SELECT COUNT(*) FROM Person", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 0, "the transaction rolled back");
}

#[test]
fn resuming_restarts_what_a_crash_left_running_and_what_failed_but_never_what_completed() {
    let dir = tempfile::tempdir().unwrap();
    let spec = |n: &str| TaskSpec::Load { loader: n.into(), entity: "Person".into(), ids: vec![] };
    let tasks: Vec<NewTask> =
        ["a", "b", "c"].iter().map(|n| NewTask { group: 0, parent: None, spec: spec(n) }).collect();
    let mut storage = file_storage(&dir);
    storage.apply_schema(&people_schema(serde_json::json!([])), false).unwrap();
    let sync = storage.begin_sync(true, &tasks).unwrap();
    let claim = |storage: &mut SqliteStorage| match storage.claim_task(sync).unwrap() {
        Claim::Task(task) => task,
        other => panic!("expected a task, got {other:?}"),
    };
    let done = claim(&mut storage);
    storage.complete_task(sync, &done, TaskOutcome::default()).unwrap();
    let failed = claim(&mut storage);
    storage.fail_task(&failed, "HTTP 500").unwrap();
    let _running = claim(&mut storage);
    drop(storage); // the process dies with task c running

    let mut storage = file_storage(&dir);
    storage.apply_schema(&people_schema(serde_json::json!([])), false).unwrap();
    let stopped = storage.resumable_sync().unwrap().expect("the sync is resumable");
    assert_eq!(stopped.id, sync);
    assert_eq!(storage.resume_sync(sync).unwrap(), 2);
    let mut again: Vec<String> = Vec::new();
    while let Claim::Task(task) = storage.claim_task(sync).unwrap() {
        again.push(task.spec.to_string());
        assert_eq!(task.attempts, 0, "neither the crash nor the earlier failure uses up the retry budget");
        storage.complete_task(sync, &task, TaskOutcome::default()).unwrap();
    }
    again.sort();
    assert_eq!(again.len(), 2, "b and c run again, a does not: {again:?}");
    assert!(again.iter().all(|t| !t.contains("`a`")), "{again:?}");
    assert!(matches!(storage.claim_task(sync).unwrap(), Claim::Done));
}

/// The secondary indexes (`idx:…`) of the database at `path`.
fn secondary_indexes(path: &std::path::Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'idx:%' ORDER BY name")
        .unwrap();
    stmt.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
}

/// Stores one person's name as a task of its own.
fn store_name(storage: &mut SqliteStorage, id: &str, name: &str) {
    let batches = vec![batch("Person", &["name"], vec![(id, vec![text(name)])])];
    store(storage, TaskOutcome { batches, ..TaskOutcome::default() }).unwrap();
}

#[test]
fn a_bulk_load_cut_off_and_resumed_ends_with_every_index_and_its_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.db");
    let mut storage = file_storage(&dir);
    storage.apply_schema(&people_schema(serde_json::json!([])), false).unwrap();
    let built = secondary_indexes(&path);
    assert_eq!(built, ["idx:Person.manager", "idx:Person.team", "idx:Team.members.child"]);

    storage.start_bulk_load().unwrap();
    assert!(secondary_indexes(&path).is_empty(), "a bulk load maintains no secondary index");
    store_name(&mut storage, "p1", "Ada");
    // The process dies here; the next one opens the same file and goes on with the sync.
    drop(storage);
    let mut storage = file_storage(&dir);
    storage.apply_schema(&people_schema(serde_json::json!([])), false).unwrap();
    assert!(secondary_indexes(&path).is_empty(), "the resumed load still defers its indexes");
    store_name(&mut storage, "p1", "Ada L");
    let young = storage.recently_synced("Person", &["name".to_string()], "2000-01-01T00:00:00Z").unwrap();
    assert!(young.contains("p1"), "staged metadata counts while the load runs");
    storage.finish_bulk_load().unwrap();
    drop(storage);

    assert_eq!(secondary_indexes(&path), built);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let staged: i64 = conn.query_row("SELECT COUNT(*) FROM _max_sync_meta_staged", [], |r| r.get(0)).unwrap();
    let merged: i64 = conn.query_row("SELECT COUNT(*) FROM _max_sync_meta WHERE id = 'p1'", [], |r| r.get(0)).unwrap();
    assert_eq!((staged, merged), (0, 1), "the two writes of p1 merged into one metadata row");
    assert_eq!(person_row(&dir, "p1").0.as_deref(), Some("Ada L"));
}

/// Versioned fields (contract 0.3.0): a row's fields of a group need loading until they are stored,
/// and again only when the fields that version them change; a batch carrying the version alone (a
/// change feed's) doesn't count as loading them.
#[test]
fn versioned_fields_need_loading_only_when_their_version_changes() {
    let dir = tempfile::tempdir().unwrap();
    let mut storage = file_storage(&dir);
    let mut info = people_schema(serde_json::json!([{"name": "bio", "type": "string"}]));
    info.schema.versioned = vec![max_host::manifest::VersionedFields {
        entity: "Person".into(),
        fields: vec!["bio".into()],
        versions: vec!["age".into(), "name".into()],
    }];
    storage.apply_schema(&info, false).unwrap();
    let group = info.schema.versioned[0].clone();
    let changed = |storage: &SqliteStorage| {
        let mut ids: Vec<String> = storage.versions_changed(&group).unwrap().into_iter().collect();
        ids.sort();
        ids
    };
    let people = batch(
        "Person",
        &["name", "age"],
        vec![("p1", vec![text("Ada"), FieldValue::Integer(36)]), ("p2", vec![text("Alan"), FieldValue::Integer(41)])],
    );
    store(&mut storage, TaskOutcome { batches: vec![people], ..Default::default() }).unwrap();
    assert_eq!(changed(&storage), ["p1", "p2"], "never loaded");
    let bios = batch("Person", &["bio"], vec![("p1", vec![text("Poet")]), ("p2", vec![text("Logician")])]);
    store(&mut storage, TaskOutcome { batches: vec![bios], ..Default::default() }).unwrap();
    assert!(changed(&storage).is_empty(), "loaded at their versions");
    // The same version again changes nothing; a new one (or a null) needs loading.
    let again = batch(
        "Person",
        &["name", "age"],
        vec![("p1", vec![text("Ada"), FieldValue::Integer(36)]), ("p2", vec![text("Alan"), FieldValue::Null])],
    );
    store(&mut storage, TaskOutcome { batches: vec![again], ..Default::default() }).unwrap();
    assert_eq!(changed(&storage), ["p2"]);
    let bio = batch("Person", &["bio", "age"], vec![("p2", vec![text("Codebreaker"), FieldValue::Integer(42)])]);
    store(&mut storage, TaskOutcome { batches: vec![bio], ..Default::default() }).unwrap();
    assert!(changed(&storage).is_empty(), "a batch carrying both records the version it carries");
    // Rows marked deleted need nothing.
    let deleted = TaskOutcome {
        deletions: vec![EntityRef { entity: "Person".into(), id: "p1".into() }],
        batches: vec![batch("Person", &["age"], vec![("p1", vec![FieldValue::Integer(37)])])],
        ..Default::default()
    };
    store(&mut storage, deleted).unwrap();
    assert!(changed(&storage).is_empty(), "{:?}", changed(&storage));
}

/// Owned collections (contract 0.3.0): a team's members, owned, are deleted with the team and when the
/// team's collection no longer lists them; a member another team lists stays.
#[test]
fn the_items_of_an_owned_collection_go_with_their_parent_and_when_no_longer_listed() {
    let dir = tempfile::tempdir().unwrap();
    let mut storage = file_storage(&dir);
    let mut info = people_schema(serde_json::json!([]));
    info.schema.owned = vec![max_host::manifest::OwnedCollection { entity: "Team".into(), field: "members".into() }];
    storage.apply_schema(&info, false).unwrap();
    let people = batch(
        "Person",
        &["name"],
        vec![("p1", vec![text("Ada")]), ("p2", vec![text("Alan")]), ("p3", vec![text("Grace")])],
    );
    let ids = |ids: &[&str]| FieldValue::Collection(ids.iter().map(|id| id.to_string()).collect());
    let teams = batch(
        "Team",
        &["name", "members"],
        vec![("t1", vec![text("Core"), ids(&["p1", "p2"])]), ("t2", vec![text("Ops"), ids(&["p2", "p3"])])],
    );
    store(&mut storage, TaskOutcome { batches: vec![people, teams], ..Default::default() }).unwrap();
    let live = |dir: &tempfile::TempDir| {
        let conn = rusqlite::Connection::open(dir.path().join("data.db")).unwrap();
        let mut stmt = conn.prepare("SELECT id FROM Person WHERE _deleted_at IS NULL ORDER BY id").unwrap();
        stmt.query_map([], |r| r.get::<_, String>(0)).unwrap().collect::<Result<Vec<_>, _>>().unwrap()
    };
    assert_eq!(live(&dir), ["p1", "p2", "p3"]);
    // Core lists p2 only now: p1 goes; p2 stays (Ops lists it too).
    let relisted = batch("Team", &["members"], vec![("t1", vec![ids(&["p2"])])]);
    store(&mut storage, TaskOutcome { batches: vec![relisted], ..Default::default() }).unwrap();
    assert_eq!(live(&dir), ["p2", "p3"]);
    // Ops is deleted: p3 goes with it, p2 stays in Core.
    let gone =
        TaskOutcome { deletions: vec![EntityRef { entity: "Team".into(), id: "t2".into() }], ..Default::default() };
    store(&mut storage, gone).unwrap();
    assert_eq!(live(&dir), ["p2"]);
    // Listed again, an item is live again.
    let back = batch("Person", &["name"], vec![("p3", vec![text("Grace")])]);
    let core = batch("Team", &["members"], vec![("t1", vec![ids(&["p2", "p3"])])]);
    store(&mut storage, TaskOutcome { batches: vec![back, core], ..Default::default() }).unwrap();
    assert_eq!(live(&dir), ["p2", "p3"]);
}

/// An owned collection listed over several pages deletes what it no longer lists when the listing
/// ends, never in between: a member on the second page (with what it owns in turn) survives the first.
#[test]
fn an_owned_collection_listed_page_by_page_deletes_only_when_the_listing_ends() {
    let dir = tempfile::tempdir().unwrap();
    let mut storage = file_storage(&dir);
    let mut info = people_schema(serde_json::json!([]));
    info.schema.owned = vec![max_host::manifest::OwnedCollection { entity: "Team".into(), field: "members".into() }];
    storage.apply_schema(&info, false).unwrap();
    let team = EntityRef { entity: "Team".into(), id: "t1".into() };
    let page = |ids: &[&str], position: u64, replace: bool, complete: bool| TaskOutcome {
        batches: vec![batch("Person", &["name"], ids.iter().map(|id| (*id, vec![text(id)])).collect())],
        links: Some(Links {
            parent: team.clone(),
            field: "members".into(),
            position,
            child_ids: ids.iter().map(|s| s.to_string()).collect(),
            replace,
            complete,
        }),
        ..Default::default()
    };
    let live = |dir: &tempfile::TempDir| {
        let conn = rusqlite::Connection::open(dir.path().join("data.db")).unwrap();
        let mut stmt = conn.prepare("SELECT id FROM Person WHERE _deleted_at IS NULL ORDER BY id").unwrap();
        stmt.query_map([], |r| r.get::<_, String>(0)).unwrap().collect::<Result<Vec<_>, _>>().unwrap()
    };
    store(&mut storage, page(&["p1", "p2"], 0, true, false)).unwrap();
    store(&mut storage, page(&["p3"], 2, false, true)).unwrap();
    assert_eq!(live(&dir), ["p1", "p2", "p3"]);
    // Listed anew, p3 first: p1 and p2 wait for the later pages.
    store(&mut storage, page(&["p3"], 0, true, false)).unwrap();
    assert_eq!(live(&dir), ["p1", "p2", "p3"], "nothing is deleted before the listing ends");
    // A listing cut off here and begun again remembers what the first one had to find.
    store(&mut storage, page(&["p3"], 0, true, false)).unwrap();
    store(&mut storage, page(&["p1"], 1, false, true)).unwrap();
    assert_eq!(live(&dir), ["p1", "p3"], "p2, listed by no page, goes when the listing ends");
}
