//! The HubSpot connector end to end: the real `max` binary and hubspot.wasm against `fake-saas hubspot`
//! with every object list spread over at least three pages. Counts, typed values, references and
//! associations are checked against the fake's own data; an incremental sync after changes (a new
//! custom property, an archived contact, 12,000 contacts modified in one millisecond) is checked against
//! a fresh full sync; and the sync keeps within HubSpot's rolling window and search limit.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use max_fake_saas::RunningServer;
use max_fake_saas::hubspot::{DEFAULT_TOKEN, HubSpot, HubSpotConfig, ObjectType, Size};
use max_fake_saas::window::WindowLimit;
use max_tests::{TestProject, connector};
use serde_json::{Value, json};

/// A project with hubspot installed and connected to a fresh fake with `config` by private-app token,
/// `--set`ting `extra` too.
fn hubspot_project(config: HubSpotConfig, extra: &[&str]) -> (TestProject, HubSpot, RunningServer) {
    let fake = HubSpot::new(config);
    let server = fake.spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    (connected(&server, extra), fake, server)
}

/// A new project with hubspot installed and connected to `server` with the private-app token.
fn connected(server: &RunningServer, extra: &[&str]) -> TestProject {
    let project = TestProject::new();
    project.max().arg("init").assert().success();
    install_and_connect(&project, server, extra);
    project
}

/// Installs hubspot in `project` and connects it to `server` with the private-app token, every
/// object type and property, and `extra` settings.
pub fn install_and_connect(project: &TestProject, server: &RunningServer, extra: &[&str]) {
    project.max().args(["connector", "install", "--yes"]).arg(connector("hubspot")).assert().success();
    let mut connect = project.max();
    connect.args(["connect", "hubspot", "--set"]).arg(format!("base_url={}", server.base_url()));
    let token = format!("access_token={DEFAULT_TOKEN}");
    for setting in ["auth=private_app", token.as_str(), "objects=", "properties=all"].iter().chain(extra) {
        connect.args(["--set", setting]);
    }
    let connected = connect.assert().success();
    let said = String::from_utf8_lossy(&connected.get_output().stderr).into_owned();
    assert!(said.contains("HubSpot account 62"), "validate names the account: {said}");
}

fn data_db(project: &TestProject) -> rusqlite::Connection {
    rusqlite::Connection::open(project.path().join(".max/installations/hubspot/default/data.db")).unwrap()
}

fn count(db: &rusqlite::Connection, sql: &str) -> usize {
    db.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap() as usize
}

/// `max sync hubspot -o json`'s record, checked completed.
fn sync(project: &TestProject) -> Value {
    let output = project.max().args(["sync", "hubspot", "-o", "json"]).assert().success().get_output().clone();
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["sync"]["record"]["status"], "completed", "{summary}");
    summary["sync"]["record"].clone()
}

/// The entity type of each of the fake's object types.
const ENTITIES: [(ObjectType, &str); 5] = [
    (ObjectType::Contacts, "Contact"),
    (ObjectType::Companies, "Company"),
    (ObjectType::Deals, "Deal"),
    (ObjectType::Tickets, "Ticket"),
    (ObjectType::Notes, "Note"),
];

/// Every object type over three pages of a hundred, and the owners too.
fn paged_size() -> Size {
    Size { contacts: 250, companies: 230, deals: 240, tickets: 210, notes: 220, owners: 230 }
}

#[test]
fn a_synced_portal_matches_the_api_exactly() {
    let (project, fake, _server) =
        hubspot_project(HubSpotConfig { size: paged_size(), ..HubSpotConfig::default() }, &[]);
    sync(&project);
    let db = data_db(&project);
    for (object_type, entity) in ENTITIES {
        let expected = fake.counts()[object_type.path()];
        assert!(expected > 200, "{entity}: {expected} objects make three pages");
        assert_eq!(count(&db, &format!("SELECT COUNT(*) FROM {entity}")), expected, "{entity} rows");
    }
    assert_eq!(count(&db, "SELECT COUNT(*) FROM Owner"), 230);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM Pipeline"), 3);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM PipelineStage"), 11);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM Portal WHERE portalId = 62516 AND companyCurrency = 'USD'"), 1);

    // Every reference resolves, and as many are set as the portal has.
    for (entity, field, target) in [
        ("Contact", "owner", "Owner"),
        ("Company", "owner", "Owner"),
        ("Deal", "owner", "Owner"),
        ("Deal", "pipeline", "Pipeline"),
        ("Deal", "stage", "PipelineStage"),
        ("Deal", "primaryCompany", "Company"),
        ("Ticket", "pipeline", "Pipeline"),
        ("Ticket", "stage", "PipelineStage"),
        ("Ticket", "primaryCompany", "Company"),
        ("Contact", "primaryCompany", "Company"),
        ("PipelineStage", "pipeline", "Pipeline"),
    ] {
        let dangling = count(
            &db,
            &format!(
                "SELECT COUNT(*) FROM {entity} e WHERE e.{field} IS NOT NULL
                 AND NOT EXISTS (SELECT 1 FROM {target} t WHERE t.id = e.{field})"
            ),
        );
        assert_eq!(dangling, 0, "{entity}.{field} → {target}");
    }
    let owned = fake.with_data(|d| {
        d.all(ObjectType::Contacts).iter().filter(|o| o.properties.contains_key("hubspot_owner_id")).count()
    });
    assert_eq!(count(&db, "SELECT COUNT(*) FROM Contact WHERE owner IS NOT NULL"), owned);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM Contact WHERE primaryCompany IS NULL"), 0, "every contact's company");

    // Every association, both ways, is a collection link, and only those.
    let links = |table: &str| max_tests::links(&db, table);
    for (from, from_entity) in ENTITIES {
        for (to, _) in ENTITIES.into_iter().filter(|(t, _)| *t != from) {
            let expected: BTreeMap<String, BTreeSet<String>> = fake.with_data(|d| {
                d.all(from)
                    .iter()
                    .map(|o| {
                        let ids = d.associations_of((from, o.id), to).iter().map(|(id, _)| id.to_string()).collect();
                        (o.id.to_string(), ids)
                    })
                    .filter(|(_, ids): &(String, BTreeSet<String>)| !ids.is_empty())
                    .collect()
            });
            let table = format!("{from_entity}.{}", to.path());
            assert_eq!(links(&table), expected, "{table}");
        }
    }
    // Each association label is a collection of the objects associated with it: HubSpot's "Primary"
    // and the portal's own "Decision maker", both ways.
    for (from, to, table, type_ids) in [
        (ObjectType::Contacts, ObjectType::Companies, "Contact.companiesPrimary", &[1][..]),
        (ObjectType::Deals, ObjectType::Companies, "Deal.companiesPrimary", &[5]),
        (ObjectType::Deals, ObjectType::Contacts, "Deal.contactsDecisionMaker", &[1001]),
        (ObjectType::Contacts, ObjectType::Deals, "Contact.dealsDecisionMaker", &[1002]),
    ] {
        let expected: BTreeMap<String, BTreeSet<String>> = fake.with_data(|d| {
            d.all(from)
                .iter()
                .map(|o| {
                    let labelled = d.associations_of((from, o.id), to);
                    let ids = labelled
                        .iter()
                        .filter(|(_, types)| types.iter().any(|(id, _)| type_ids.contains(id)))
                        .map(|(id, _)| id.to_string())
                        .collect();
                    (o.id.to_string(), ids)
                })
                .filter(|(_, ids): &(String, BTreeSet<String>)| !ids.is_empty())
                .collect()
        });
        assert!(!expected.is_empty(), "{table}: the portal has such associations");
        assert_eq!(links(table), expected, "{table}");
    }

    // A note's body is its text without the HTML, found by its words.
    let about_pricing: BTreeSet<String> = fake.with_data(|d| {
        d.all(ObjectType::Notes)
            .iter()
            .filter(|o| o.properties["hs_note_body"].contains("pricing"))
            .map(|o| o.id.to_string())
            .collect()
    });
    assert!(!about_pricing.is_empty(), "some notes are about pricing");
    let found = project
        .max()
        .args(["search", "hubspot", "Note", "--match", "pricing", "--all", "-o", "json", "--fields", "id,body"])
        .assert()
        .success();
    let found: Value = serde_json::from_slice(&found.get_output().stdout).unwrap();
    let rows = found["rows"].as_array().unwrap();
    assert_eq!(rows.iter().map(|r| r["id"].as_str().unwrap().to_string()).collect::<BTreeSet<_>>(), about_pricing);
    let body = rows[0]["body"].as_str().unwrap();
    assert!(body.starts_with("Call with ") && body.contains("Next steps & owners") && !body.contains('<'), "{body}");

    // A custom property of each type is a typed column holding the portal's values.
    for (object_type, entity) in ENTITIES {
        let custom: Vec<(String, &'static str)> = fake.with_data(|d| {
            d.properties(object_type).iter().filter(|p| !p.hubspot_defined).map(|p| (p.name.clone(), p.kind)).collect()
        });
        for (name, kind) in custom {
            let declared: String = db
                .query_row(&format!("SELECT type FROM pragma_table_info('{entity}') WHERE name = ?1"), [&name], |r| {
                    r.get(0)
                })
                .unwrap_or_else(|_| panic!("{entity}.{name} is a column"));
            let expected_type = match kind {
                "number" => "REAL",
                "bool" => "INTEGER",
                _ => "TEXT",
            };
            assert_eq!(declared, expected_type, "{entity}.{name} ({kind})");
            let values: BTreeMap<String, String> = fake.with_data(|d| {
                d.all(object_type)
                    .iter()
                    .filter_map(|o| Some((o.id.to_string(), o.properties.get(&name)?.clone())))
                    .collect()
            });
            let mut stmt = db.prepare(&format!("SELECT id, {name} FROM {entity} WHERE {name} IS NOT NULL")).unwrap();
            let stored: BTreeMap<String, rusqlite::types::Value> =
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().collect::<Result<_, _>>().unwrap();
            assert_eq!(stored.len(), values.len(), "{entity}.{name}: as many values as the portal has");
            for (id, text) in &values {
                use rusqlite::types::Value as V;
                let ok = match (&stored[id], kind) {
                    (V::Real(n), "number") => (n - text.parse::<f64>().unwrap()).abs() < 1e-9,
                    (V::Integer(b), "bool") => (*b == 1) == (text == "true"),
                    (V::Text(date), "date") => date == text,
                    (V::Text(at), "datetime") => at == text,
                    (V::Text(s), "string" | "enumeration") => s == text,
                    _ => false,
                };
                assert!(ok, "{entity} {id}.{name} ({kind}): {text:?} stored as {:?}", stored[id]);
            }
        }
    }

    // A number property filters numerically.
    let above = fake.with_data(|d| {
        d.all(ObjectType::Deals)
            .iter()
            .filter(|o| o.properties.get("amount").is_some_and(|a| a.parse::<f64>().unwrap() > 1000.0))
            .count()
    });
    assert!(above > 0 && above < 240, "some deals on each side: {above}");
    let output = project
        .max()
        .args(["search", "hubspot", "Deal", "--filter", "amount > 1000", "--limit", "1000", "-o", "json"])
        .assert()
        .success()
        .get_output()
        .clone();
    let found: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(found["rows"].as_array().unwrap().len(), above, "{:.300}", found);

    // The schema shows the discovered properties as such.
    let schema = project.max().args(["schema", "hubspot/default"]).assert().success().get_output().stdout.clone();
    let schema = String::from_utf8_lossy(&schema);
    assert!(schema.contains("loyalty_score") && schema.contains("discovered"), "{schema}");
}

/// Applies `mutations` (what `/_fake/mutate` takes) to the fake, as edits in HubSpot would.
fn mutate(fake: &HubSpot, mutations: Value) {
    let mutations: Vec<max_fake_saas::hubspot::Mutation> = serde_json::from_value(mutations).unwrap();
    fake.with_data(|d| mutations.iter().for_each(|m| drop(d.mutate(m).unwrap())));
}

#[test]
fn an_incremental_sync_reads_only_changes_past_the_search_cap_and_equals_a_fresh_full_sync() {
    let size = Size { contacts: 12_050, companies: 20, deals: 20, tickets: 10, notes: 10, owners: 5 };
    let (project, fake, server) = hubspot_project(HubSpotConfig { size, ..HubSpotConfig::default() }, &[]);
    sync(&project);
    let (edited, archived, deal) = fake.with_data(|d| {
        let contacts = d.all(ObjectType::Contacts);
        (contacts[0].id.to_string(), contacts[1].id.to_string(), d.all(ObjectType::Deals)[0].id.to_string())
    });
    mutate(
        &fake,
        json!([
            { "op": "add_property", "type": "contacts", "name": "vip_since", "kind": "date" },
            { "op": "update", "type": "contacts", "id": edited, "properties": { "firstname": "Renamed", "vip_since": "2025-01-02", "loyalty_score": "12.5" } },
            { "op": "update", "type": "deals", "id": deal, "properties": { "amount": "999.5" } },
            { "op": "archive", "type": "contacts", "id": archived },
            { "op": "create", "type": "companies", "properties": { "name": "Newco", "domain": "newco.example.com" } },
            { "op": "touch", "type": "contacts", "count": 12_000, "at_once": true },
        ]),
    );
    let searches = fake.stats()["searches"].as_u64().unwrap();
    let record = sync(&project);
    assert_eq!(record["full"], false, "{record}");
    let written = &record["entities"];
    // Only what changed was read: the 12,000 contacts touched (those of the first page at their
    // millisecond twice, as it switches to reading that millisecond by id), the edited contact, one
    // deal, one company.
    let contacts = written["Contact"].as_u64().unwrap();
    assert!((12_001..=12_001 + 200).contains(&contacts), "{record}");
    assert_eq!((written["Deal"].as_u64(), written["Company"].as_u64()), (Some(1), Some(1)), "{record}");
    assert_eq!(written.get("Ticket").and_then(Value::as_u64).unwrap_or(0), 0, "{record}");
    // 12,000 at one millisecond is past what one search can page through (10,000): read by id instead.
    let used = fake.stats()["searches"].as_u64().unwrap() - searches;
    assert!((61..=70).contains(&used), "{used} searches");

    let db = data_db(&project);
    let deleted: Option<String> =
        db.query_row("SELECT _deleted_at FROM Contact WHERE id = ?1", [&archived], |r| r.get(0)).unwrap();
    assert!(deleted.is_some(), "the archived contact is kept, marked deleted");
    let (name, vip): (String, String) = db
        .query_row("SELECT firstname, vip_since FROM Contact WHERE id = ?1", [&edited], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!((name.as_str(), vip.as_str()), ("Renamed", "2025-01-02"), "the new custom property is a column");

    let fresh = connected(&server, &[]);
    sync(&fresh);
    let db_of = |p: &TestProject| p.path().join(".max/installations/hubspot/default/data.db");
    let (incremental, full) = (max_tests::tables(&db_of(&project), true), max_tests::tables(&db_of(&fresh), true));
    assert_eq!(incremental.keys().collect::<Vec<_>>(), full.keys().collect::<Vec<_>>());
    for (table, rows) in &full {
        let extra: Vec<_> = incremental[table].iter().filter(|r| !rows.contains(r)).take(2).collect();
        let missing: Vec<_> = rows.iter().filter(|r| !incremental[table].contains(r)).take(2).collect();
        assert!(rows == &incremental[table], "{table} differs from a fresh full sync's: {extra:?} for {missing:?}");
    }
}

#[test]
fn under_hubspots_rolling_window_and_search_limit_no_retry_storm_and_the_sync_completes() {
    let window = WindowLimit { max: 20, interval: Duration::from_secs(2) };
    let config = HubSpotConfig {
        size: Size { contacts: 450, companies: 30, deals: 30, tickets: 20, notes: 20, owners: 5 },
        faults: max_fake_saas::Faults { window: Some(window), ..Default::default() },
        search_per_second: 4,
        ..HubSpotConfig::default()
    };
    let (project, fake, server) = hubspot_project(config, &[]);
    sync(&project);
    mutate(&fake, json!([{ "op": "touch", "type": "contacts", "count": 450, "at_once": false }]));
    mutate(&fake, json!([{ "op": "touch", "type": "deals", "count": 30, "at_once": false }]));
    let record = sync(&project);
    assert_eq!(record["full"], false, "{record}");
    let stats = fake.stats();
    // Each process (connect, two syncs) starts not knowing what the last one left in the window: its
    // first request, sent alone, may find it full (the sync then waits as the 429 says). Nothing more.
    let refused = stats["rate_limited"].as_u64().unwrap();
    assert!(refused <= 3, "at most each process's first request went past the window: {stats}");
    assert_eq!(stats["search_limited"], 0, "no search went past its limit: {stats}");
    assert!(stats["searches"].as_u64().unwrap() >= 3, "{stats}");

    let fresh = connected(&server, &[]);
    sync(&fresh);
    let db_of = |p: &TestProject| p.path().join(".max/installations/hubspot/default/data.db");
    let (incremental, full) = (max_tests::tables(&db_of(&project), true), max_tests::tables(&db_of(&fresh), true));
    for (table, rows) in &full {
        let extra: Vec<_> = incremental[table].iter().filter(|r| !rows.contains(r)).take(2).collect();
        let missing: Vec<_> = rows.iter().filter(|r| !incremental[table].contains(r)).take(2).collect();
        assert!(rows == &incremental[table], "{table} differs from a fresh full sync's: {extra:?} for {missing:?}");
    }
    assert!(fake.stats()["rate_limited"].as_u64().unwrap() <= refused + 2, "{}", fake.stats());
}
