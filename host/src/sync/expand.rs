//! Expanding a plan step into tasks, when its group may run: the target becomes refs (roots, every
//! known entity of a type, or one), and the operation becomes load tasks (refs batched to each loader's
//! max batch, leaving out refs whose fields are younger than the sync's maximum age, or, for versioned
//! fields, whose version didn't change since they were loaded), first-page tasks
//! of a collection, or a change-feed task (one per entity of the target for a scoped feed).

use std::collections::BTreeMap;

use crate::data::{EntityRef, Operation, Step, Target};
use crate::manifest::{ConnectorInfo, LoaderKind};
use crate::storage::Storage;
use crate::task::{NewTask, Task, TaskOutcome, TaskSpec};

/// The tasks of `step`, as the outcome of the expanding task (they become its children).
pub(super) fn expand(
    info: &ConnectorInfo,
    storage: &dyn Storage,
    task: &Task,
    step: &Step,
    fresh_since: Option<&str>,
) -> Result<TaskOutcome, String> {
    let refs = targets(info, storage, &step.target)?;
    let child = |spec| NewTask { group: task.group, parent: Some(task.id), spec };
    let mut spawn = Vec::new();
    match &step.operation {
        Operation::LoadFields(fields) => {
            let mut by_entity: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for r in &refs {
                by_entity.entry(r.entity.as_str()).or_default().push(r.id.as_str());
            }
            for (entity, mut ids) in by_entity {
                if let Some(group) = info.schema.versioned_group(entity, fields) {
                    // Versioned fields: loaded where the version changed, in every sync.
                    let changed = storage.versions_changed(group).map_err(|e| e.to_string())?;
                    ids.retain(|id| changed.contains(*id));
                } else if let Some(since) = fresh_since {
                    // Fields loaded recently enough are not loaded again (the TTL of an incremental sync).
                    let fresh = storage.recently_synced(entity, fields, since).map_err(|e| e.to_string())?;
                    ids.retain(|id| !fresh.contains(*id));
                }
                for (loader, kind) in loaders_for(info, entity, fields)? {
                    let chunk = match kind {
                        LoaderKind::Single => 1,
                        LoaderKind::Batched { max_batch } => max_batch.max(1) as usize,
                        LoaderKind::Raw => {
                            spawn.push(child(TaskSpec::Load { loader, entity: entity.to_string(), ids: Vec::new() }));
                            continue;
                        }
                        other => {
                            return Err(format!(
                                "loader `{loader}` is a {other} loader and can't load fields of given ids"
                            ));
                        }
                    };
                    for ids in ids.chunks(chunk) {
                        let ids = ids.iter().map(|id| id.to_string()).collect();
                        spawn.push(child(TaskSpec::Load { loader: loader.clone(), entity: entity.to_string(), ids }));
                    }
                }
            }
        }
        Operation::LoadCollection(field) => {
            for parent in refs {
                let loader = info
                    .loaders
                    .iter()
                    .find(|l| matches!(&l.kind, LoaderKind::Collection { parent: p, field: f, .. } if *p == parent.entity && f == field))
                    .ok_or_else(|| format!("no collection loader fills {}.{field}", parent.entity))?;
                spawn.push(child(TaskSpec::Page {
                    loader: loader.name.clone(),
                    parent,
                    field: field.clone(),
                    cursor: None,
                    position: 0,
                    pages: 0,
                    idle: 0,
                }));
            }
        }
        Operation::FollowChanges(loader) => {
            match info.loader(loader) {
                Some(def) if def.kind == LoaderKind::ChangeFeed => {}
                _ => return Err(format!("`{loader}` is not a change-feed loader")),
            }
            match info.feed_scope(loader) {
                // One feed per entity of the target, each from its own cursor.
                Some(scope) => {
                    let mut cursors = storage.scoped_cursors(loader).map_err(|e| e.to_string())?;
                    for parent in refs {
                        if parent.entity != scope {
                            return Err(format!(
                                "the change feed `{loader}` is followed per {scope}, not on {} {}",
                                parent.entity, parent.id
                            ));
                        }
                        let cursor = cursors.remove(&parent.id);
                        let scope = Some(parent);
                        spawn.push(child(TaskSpec::Changes { loader: loader.clone(), scope, cursor, pages: 0, idle: 0 }));
                    }
                }
                None => {
                    let cursors = storage.seed_state(false).map_err(|e| e.to_string())?.cursors;
                    let cursor = cursors.into_iter().find(|(l, _)| l == loader).map(|(_, c)| c);
                    spawn.push(child(TaskSpec::Changes { loader: loader.clone(), scope: None, cursor, pages: 0, idle: 0 }));
                }
            }
        }
    }
    // Expanded before (a sync whose failed tasks run again): only what is new.
    let earlier = storage.child_specs(task.id).map_err(|e| e.to_string())?;
    spawn.retain(|t| !earlier.contains(&t.spec));
    Ok(TaskOutcome { spawn, ..TaskOutcome::default() })
}

fn targets(info: &ConnectorInfo, storage: &dyn Storage, target: &Target) -> Result<Vec<EntityRef>, String> {
    Ok(match target {
        Target::Root => {
            info.schema.roots.iter().map(|r| EntityRef { entity: r.entity.clone(), id: r.id.clone() }).collect()
        }
        Target::All(entity) => {
            if info.entity(entity).is_none() {
                return Err(format!("the plan targets undeclared entity `{entity}`"));
            }
            let ids = storage.ids_of(entity).map_err(|e| e.to_string())?;
            ids.into_iter().map(|id| EntityRef { entity: entity.clone(), id }).collect()
        }
        Target::One(r) => {
            if info.entity(&r.entity).is_none() {
                return Err(format!("the plan targets undeclared entity `{}`", r.entity));
            }
            vec![r.clone()]
        }
    })
}

/// The loaders (and their kinds) that fill `fields` of `entity`, each once.
fn loaders_for(info: &ConnectorInfo, entity: &str, fields: &[String]) -> Result<Vec<(String, LoaderKind)>, String> {
    let mut loaders: Vec<(String, LoaderKind)> = Vec::new();
    for field in fields {
        let resolver = info
            .resolvers
            .iter()
            .find(|r| r.entity == entity && r.fields.contains(field))
            .ok_or_else(|| format!("the plan asks for {entity}.{field}, which no loader fills"))?;
        if loaders.iter().any(|(name, _)| *name == resolver.loader) {
            continue;
        }
        let def =
            info.loader(&resolver.loader).ok_or_else(|| format!("loader `{}` is not declared", resolver.loader))?;
        loaders.push((def.name.clone(), def.kind.clone()));
    }
    Ok(loaders)
}
