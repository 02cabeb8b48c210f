//! Running a load, page or change-feed task in a connector instance and turning its result into what
//! storage writes (and the next page's task).

use super::SyncLimits;
use crate::data::EntityRef;
use crate::manifest::ConnectorInfo;
use crate::runtime::InstancePool;
use crate::task::{FeedCursor, Links, NewTask, Task, TaskOutcome, TaskSpec};
use crate::{Error, LimitKind, Result};

/// How many of these ids a collection already holds (to tell pages that add nothing new).
pub(super) type CollectionHolds<'a> = &'a (dyn Fn(&EntityRef, &str, &[String]) -> Result<u64> + Sync);

/// Refuses to follow a collection or change feed further: `pages` read so far (the limit `pages_limit`
/// of `pages_kind`), `idle` of them in a row adding nothing new.
fn check_pages(
    info: &ConnectorInfo,
    call: &str,
    what: &str,
    (pages, pages_limit, pages_kind): (u64, u64, LimitKind),
    (idle, idle_limit): (u64, u64),
) -> Result<()> {
    let exceeded = |limit, detail| {
        Err(Error::LimitExceeded { connector: info.name.clone(), call: call.to_string(), limit, detail })
    };
    if pages >= pages_limit {
        return exceeded(pages_kind, format!("{what} has more than {pages_limit} pages"));
    }
    if idle >= idle_limit {
        return exceeded(LimitKind::IdlePages, format!("{idle} pages of {what} in a row added nothing new"));
    }
    Ok(())
}

/// Runs a guest call (the component's work, its requests, decoding what it returns) as a task of its
/// own, so that calls of several tasks use every core instead of taking turns on the thread that drives
/// the sync. The call's instance moves into it and goes back to the pool when it ends.
async fn on_a_worker_thread<T: Send + 'static>(
    call: impl std::future::Future<Output = Result<T>> + Send + 'static,
) -> Result<T> {
    tokio::spawn(call).await.map_err(|e| Error::Runtime(format!("a connector call stopped: {e}")))?
}

pub(super) async fn run(
    info: &ConnectorInfo,
    pool: &InstancePool,
    task: &Task,
    spec: &TaskSpec,
    limits: &SyncLimits,
    holds: CollectionHolds<'_>,
) -> Result<TaskOutcome> {
    let mut instance = pool.get().await?;
    match spec {
        TaskSpec::Expand { .. } => unreachable!("expansions run in the worker"),
        TaskSpec::Load { loader, entity, ids } => {
            let refs: Vec<EntityRef> =
                ids.iter().map(|id| EntityRef { entity: entity.clone(), id: id.clone() }).collect();
            let loader = loader.clone();
            let batches = on_a_worker_thread(async move { instance.load(&loader, &refs).await }).await?;
            Ok(TaskOutcome { batches, ..TaskOutcome::default() })
        }
        TaskSpec::Page { loader, parent, field, cursor, position, pages, idle } => {
            let call = (loader.clone(), parent.clone(), cursor.clone());
            let page = on_a_worker_thread(async move {
                let (loader, parent, cursor) = call;
                instance.load_page(&loader, &parent, cursor.as_deref()).await
            })
            .await?;
            let expected = info.loader(loader).map(|l| l.entity.as_str()).unwrap_or_default();
            if page.items.entity != expected {
                return Err(Error::InvalidData {
                    entity: page.items.entity.clone(),
                    id: String::new(),
                    field: String::new(),
                    reason: format!("loader `{loader}` returns {expected} items, not {}", page.items.entity),
                });
            }
            if page.next_cursor.is_some() && page.next_cursor == *cursor {
                return Err(Error::InvalidData {
                    entity: expected.to_string(),
                    id: String::new(),
                    field: String::new(),
                    reason: format!("loader `{loader}` returned the cursor it was given, which would never end"),
                });
            }
            let child_ids: Vec<String> = page.items.rows.iter().map(|r| r.id.clone()).collect();
            // The first page replaces the collection; a later one adds what it doesn't hold yet.
            let held = if cursor.is_none() { 0 } else { holds(parent, field, &child_ids)? };
            let idle = if held == child_ids.len() as u64 { idle + 1 } else { 0 };
            if page.next_cursor.is_some() {
                let what = format!("collection {}.{field} of {}", parent.entity, parent.id);
                let pages = (pages + 1, limits.collection_pages, LimitKind::CollectionPages);
                check_pages(info, "load-page", &what, pages, (idle, limits.idle_pages))?;
            }
            let complete = page.next_cursor.is_none();
            let next = page.next_cursor.map(|next| NewTask {
                group: task.group,
                parent: task.parent,
                spec: TaskSpec::Page {
                    loader: loader.clone(),
                    parent: parent.clone(),
                    field: field.clone(),
                    cursor: Some(next),
                    position: position + child_ids.len() as u64,
                    pages: pages + 1,
                    idle,
                },
            });
            let links = Links {
                parent: parent.clone(),
                field: field.clone(),
                position: *position,
                child_ids,
                replace: cursor.is_none(),
                complete,
            };
            let mut batches = vec![page.items];
            batches.extend(page.related);
            Ok(TaskOutcome { batches, links: Some(links), spawn: next.into_iter().collect(), ..TaskOutcome::default() })
        }
        TaskSpec::Changes { loader, scope, cursor, pages, idle } => {
            let call = (loader.clone(), scope.clone(), cursor.clone());
            let page = on_a_worker_thread(async move {
                let (loader, scope, cursor) = call;
                match &scope {
                    Some(parent) => instance.changes_of(&loader, parent, cursor.as_deref()).await,
                    None => instance.changes(&loader, cursor.as_deref()).await,
                }
            })
            .await?;
            let changed = page.deletions.len() + page.upserts.iter().map(|b| b.rows.len()).sum::<usize>();
            let idle = if changed == 0 { idle + 1 } else { 0 };
            let more = page.has_more && Some(&page.next_cursor) != cursor.as_ref();
            if more {
                let (call, what) = match scope {
                    Some(parent) => ("changes-of", format!("change feed `{loader}` of {} {}", parent.entity, parent.id)),
                    None => ("changes", format!("change feed `{loader}`")),
                };
                let pages = (pages + 1, limits.feed_pages, LimitKind::FeedPages);
                check_pages(info, call, &what, pages, (idle, limits.idle_pages))?;
            }
            let next = more.then(|| NewTask {
                group: task.group,
                parent: task.parent,
                spec: TaskSpec::Changes {
                    loader: loader.clone(),
                    scope: scope.clone(),
                    cursor: Some(page.next_cursor.clone()),
                    pages: pages + 1,
                    idle,
                },
            });
            Ok(TaskOutcome {
                batches: page.upserts,
                deletions: page.deletions,
                cursor: Some(FeedCursor { loader: loader.clone(), scope: scope.clone(), cursor: page.next_cursor }),
                spawn: next.into_iter().collect(),
                from_change_feed: true,
                ..TaskOutcome::default()
            })
        }
    }
}
