//! Running a load, page or change-feed task in a connector instance and turning its result into what
//! storage writes (and the next page's task).

use crate::data::EntityRef;
use crate::manifest::ConnectorInfo;
use crate::runtime::InstancePool;
use crate::storage::{Links, NewTask, Task, TaskOutcome, TaskSpec};
use crate::{Error, Result};

pub(super) async fn run(
    info: &ConnectorInfo,
    pool: &InstancePool,
    task: &Task,
    spec: &TaskSpec,
) -> Result<TaskOutcome> {
    let mut instance = pool.get().await?;
    match spec {
        TaskSpec::Expand { .. } => unreachable!("expansions run in the worker"),
        TaskSpec::Load { loader, entity, ids } => {
            let refs: Vec<EntityRef> =
                ids.iter().map(|id| EntityRef { entity: entity.clone(), id: id.clone() }).collect();
            let batches = instance.load(loader, &refs).await?;
            Ok(TaskOutcome { batches, ..TaskOutcome::default() })
        }
        TaskSpec::Page { loader, parent, field, cursor, position } => {
            let page = instance.load_page(loader, parent, cursor.as_deref()).await?;
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
            let next = page.next_cursor.map(|next| NewTask {
                group: task.group,
                parent: task.parent,
                spec: TaskSpec::Page {
                    loader: loader.clone(),
                    parent: parent.clone(),
                    field: field.clone(),
                    cursor: Some(next),
                    position: position + child_ids.len() as u64,
                },
            });
            let links = Links {
                parent: parent.clone(),
                field: field.clone(),
                position: *position,
                child_ids,
                replace: cursor.is_none(),
            };
            let mut batches = vec![page.items];
            batches.extend(page.related);
            Ok(TaskOutcome { batches, links: Some(links), spawn: next.into_iter().collect(), ..TaskOutcome::default() })
        }
        TaskSpec::Changes { loader, cursor } => {
            let page = instance.changes(loader, cursor.as_deref()).await?;
            let next = (page.has_more && Some(&page.next_cursor) != cursor.as_ref()).then(|| NewTask {
                group: task.group,
                parent: task.parent,
                spec: TaskSpec::Changes { loader: loader.clone(), cursor: Some(page.next_cursor.clone()) },
            });
            Ok(TaskOutcome {
                batches: page.upserts,
                deletions: page.deletions,
                cursor: Some((loader.clone(), page.next_cursor)),
                spawn: next.into_iter().collect(),
                from_change_feed: true,
                ..TaskOutcome::default()
            })
        }
    }
}
