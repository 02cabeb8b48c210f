//! The acme connector, as a component, against the Acme fake: onboarding validation, collection pages,
//! batched loads and the change feed, through the real HTTP capability.

use std::collections::BTreeSet;

use axum::response::IntoResponse;

use max_fake_saas::acme::{Acme, AcmeConfig, DEFAULT_API_KEY, Kind, Size};
use max_host::data::{EntityBatch, EntityRef, FieldValue, Operation, SeedState, Target};
use max_host::runtime::{InstancePool, Limits};
use max_host::{ConnectorError, Error};
use max_tests::{connector, load, runtime, setup};

fn small() -> Size {
    Size { workspaces: 2, users: 4, projects: 2, tasks_per_project: 2100, files_per_project: 2, history: false }
}

async fn acme_pool(base_url: &str, key: &str) -> InstancePool {
    let runtime = runtime();
    let loaded = load(&runtime, &connector("acme"));
    let info = loaded.describe().await.unwrap();
    InstancePool::new(
        "acme",
        loaded,
        setup(&info.permissions, &[("base_url", base_url)], &[("api_key", key)], Limits::default()),
        2,
    )
}

fn ids(batch: &EntityBatch) -> Vec<String> {
    batch.rows.iter().map(|r| r.id.clone()).collect()
}

fn column<'a>(batch: &'a EntityBatch, row: usize, name: &str) -> &'a FieldValue {
    let index = batch.columns.iter().position(|c| c == name).unwrap_or_else(|| panic!("no column {name}"));
    &batch.rows[row].values[index]
}

#[tokio::test(flavor = "multi_thread")]
async fn validate_accepts_the_right_key_and_reports_the_wrong_one() {
    let fake = Acme::new(AcmeConfig::default());
    let server = fake.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let good = acme_pool(server.base_url(), DEFAULT_API_KEY).await;
    assert_eq!(good.get().await.unwrap().validate().await.unwrap(), format!("2 workspaces at {}", server.base_url()));
    let bad = acme_pool(server.base_url(), "wrong-key").await;
    let error = bad.get().await.unwrap().validate().await.unwrap_err();
    let Error::ConnectorFailed { error: ConnectorError::Forbidden(message), .. } = &error else { panic!("{error:?}") };
    assert!(message.contains("403") && message.contains("Invalid API key"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn collection_pages_follow_the_cursor_to_the_end() {
    let fake = Acme::new(AcmeConfig { size: small(), ..AcmeConfig::default() });
    let server = fake.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let pool = acme_pool(server.base_url(), DEFAULT_API_KEY).await;
    let project =
        fake.with_data(|d| d.list(Kind::Project, None, None, Some(1)).0[0]["id"].as_str().unwrap().to_string());
    let parent = EntityRef { entity: "Project".into(), id: project.clone() };
    let mut instance = pool.get().await.unwrap();
    let (mut seen, mut cursor, mut pages) = (Vec::new(), None::<String>, 0);
    loop {
        let page = instance.load_page("project-tasks", &parent, cursor.as_deref()).await.unwrap();
        assert_eq!(page.items.entity, "Task");
        seen.extend(ids(&page.items));
        pages += 1;
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3, "2,100 tasks at 1,000 a page");
    let expected: Vec<String> = fake.with_data(|d| {
        d.list(Kind::Task, Some(&project), None, None).0.iter().map(|t| t["id"].as_str().unwrap().to_string()).collect()
    });
    assert_eq!(seen, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batched_load_returns_every_requested_entity_with_its_fields() {
    let fake = Acme::new(AcmeConfig { size: small(), ..AcmeConfig::default() });
    let server = fake.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let pool = acme_pool(server.base_url(), DEFAULT_API_KEY).await;
    let tasks = fake.with_data(|d| d.list(Kind::Task, None, None, Some(50)).0);
    let refs: Vec<EntityRef> =
        tasks.iter().map(|t| EntityRef { entity: "Task".into(), id: t["id"].as_str().unwrap().into() }).collect();
    let before = fake.request_count();
    let batches = pool.get().await.unwrap().load("tasks-by-id", &refs).await.unwrap();
    assert_eq!(fake.request_count() - before, 50);
    assert_eq!(batches.len(), 1);
    let batch = &batches[0];
    assert_eq!(ids(batch), refs.iter().map(|r| r.id.clone()).collect::<Vec<_>>());
    for (row, task) in tasks.iter().enumerate() {
        assert_eq!(column(batch, row, "title"), &FieldValue::Text(task["title"].as_str().unwrap().into()));
        assert_eq!(column(batch, row, "project"), &FieldValue::Reference(task["projectId"].as_str().unwrap().into()));
        assert_eq!(column(batch, row, "tags"), &FieldValue::Json(task["tags"].to_string()));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_change_feed_reports_updates_creates_and_deletes() {
    let fake = Acme::new(AcmeConfig::default());
    let server = fake.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let pool = acme_pool(server.base_url(), DEFAULT_API_KEY).await;
    let (updated, deleted, created) = max_tests::change_three_tasks(&fake, "New");
    let position = pool.get().await.unwrap().changes("changes", None).await.unwrap();
    assert_eq!((position.next_cursor.as_str(), position.has_more), ("3", false), "no cursor: where the log is now");
    assert!(position.upserts.is_empty() && position.deletions.is_empty(), "the log's past is not replayed");
    let page = pool.get().await.unwrap().changes("changes", Some("0")).await.unwrap();
    assert_eq!(page.next_cursor, "3");
    assert!(!page.has_more);
    assert_eq!(page.deletions, vec![EntityRef { entity: "Task".into(), id: deleted }]);
    let upserted: BTreeSet<String> = page.upserts.iter().flat_map(ids).collect();
    assert_eq!(upserted, BTreeSet::from([updated, created]));
    let again = pool.get().await.unwrap().changes("changes", Some("3")).await.unwrap();
    assert!(again.upserts.is_empty() && again.deletions.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_without_the_position_endpoint_has_its_log_read_from_the_start() {
    let fake = Acme::new(AcmeConfig::default());
    let older = fake.router().layer(axum::middleware::from_fn(
        |request: axum::extract::Request, next: axum::middleware::Next| async move {
            if request.uri().path() == "/api/changes/cursor" {
                return axum::http::StatusCode::NOT_FOUND.into_response();
            }
            next.run(request).await
        },
    ));
    let server = max_fake_saas::RunningServer::start(older, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let pool = acme_pool(server.base_url(), DEFAULT_API_KEY).await;
    let (updated, _, created) = max_tests::change_three_tasks(&fake, "New");
    let page = pool.get().await.unwrap().changes("changes", None).await.unwrap();
    assert_eq!(page.next_cursor, "3");
    let upserted: BTreeSet<String> = page.upserts.iter().flat_map(ids).collect();
    assert_eq!(upserted, BTreeSet::from([updated, created]));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_plan_is_full_until_a_completed_sync_left_a_cursor_and_incremental_after() {
    let pool = acme_pool("http://127.0.0.1:9", DEFAULT_API_KEY).await;
    let mut instance = pool.get().await.unwrap();
    let full = instance.seed(&SeedState::default()).await.unwrap();
    let follow = max_host::data::Step { target: Target::Root, operation: Operation::FollowChanges("changes".into()) };
    assert_eq!(full.groups.len(), 4);
    assert_eq!(full.groups[0], vec![follow.clone()], "the change feed's cursor is taken before any data is read");
    assert_eq!(full.groups[1][0].target, Target::Root);
    assert_eq!(full.groups[1][0].operation, Operation::LoadCollection("workspaces".into()));
    let cursor_only = SeedState { cursors: vec![("changes".into(), "42".into())], ..SeedState::default() };
    assert_eq!(instance.seed(&cursor_only).await.unwrap(), full, "no completed sync yet: full");
    let state = SeedState { last_completed_sync: Some("2026-11-27T10:00:00Z".into()), ..cursor_only };
    let incremental = instance.seed(&state).await.unwrap();
    assert_eq!(incremental.groups, vec![vec![follow]]);
    let forced = instance.seed(&SeedState { full: true, ..state }).await.unwrap();
    assert_eq!(forced, full);
}
