//! Early starts: a plan step that loads a collection of every entity of a type (`all(Project)` →
//! `tasks`) needn't wait for its group when an entity is already stored. A task of an earlier group
//! that stores a project spawns that project's first-page task right away, as a child of the step's
//! expansion; the expansion still runs when its group does and adds only the projects not started
//! (see `expand`). Rows from change feeds don't start anything early: a plan may take a feed's
//! position in its first group so that nothing is read before it.

use std::collections::HashSet;
use std::sync::Mutex;

use crate::data::{EntityRef, Operation, Target};
use crate::manifest::{ConnectorInfo, LoaderKind};
use crate::storage::Storage;
use crate::task::{NewTask, SyncId, Task, TaskId, TaskOutcome, TaskSpec};
use crate::Result;

/// A pending expansion that may start early.
struct Step {
    /// The expansion task (the parent of what starts early).
    expansion: TaskId,
    group: u32,
    /// The entity it targets, the collection field, and the loader that fills it.
    entity: String,
    field: String,
    loader: String,
    /// Parents whose first page is already spawned (by this run or before it).
    started: HashSet<String>,
}

/// The early-startable expansions of one sync run.
pub(super) struct EarlyStarts {
    steps: Mutex<Vec<Step>>,
}

impl EarlyStarts {
    /// The sync's pending `all(E)` collection expansions, with the parents already started.
    pub(super) fn load<S: Storage>(info: &ConnectorInfo, storage: &S, sync: SyncId) -> Result<Self> {
        let mut steps = Vec::new();
        for task in storage.pending_expansions(sync)? {
            let TaskSpec::Expand { step } = &task.spec else { continue };
            let (Target::All(entity), Operation::LoadCollection(field)) = (&step.target, &step.operation) else {
                continue;
            };
            let Some(loader) = info.loaders.iter().find(|l| {
                matches!(&l.kind, LoaderKind::Collection { parent, field: f, .. } if parent == entity && f == field)
            }) else {
                // The expansion reports the missing loader when it runs.
                continue;
            };
            let started = storage
                .child_specs(task.id)?
                .into_iter()
                .filter_map(|spec| match spec {
                    TaskSpec::Page { parent, cursor: None, .. } => Some(parent.id),
                    _ => None,
                })
                .collect();
            steps.push(Step {
                expansion: task.id,
                group: task.group,
                entity: entity.clone(),
                field: field.clone(),
                loader: loader.name.clone(),
                started,
            });
        }
        Ok(EarlyStarts { steps: Mutex::new(steps) })
    }

    /// None: what a process sharing the sync with others (workers on one database) starts, since
    /// what one process alone knows of the expansions can't say what the others started.
    pub(super) fn none() -> Self {
        EarlyStarts { steps: Mutex::new(Vec::new()) }
    }

    /// The expansion `task` is about to run: from now on it starts what it finds itself.
    pub(super) fn claimed(&self, task: &Task) {
        if task.parent.is_none() {
            self.lock().retain(|step| step.expansion != task.id);
        }
    }

    /// Adds to `outcome` the first pages of the collections of entities it stores that a later group's
    /// pending expansion would load (call under the storage lock, with the claim of expansions, so an
    /// expansion never misses or repeats one).
    pub(super) fn spawn_into(&self, task: &Task, outcome: &mut TaskOutcome) {
        if outcome.from_change_feed {
            return;
        }
        let mut steps = self.lock();
        for step in steps.iter_mut().filter(|s| s.group > task.group) {
            for batch in outcome.batches.iter().filter(|b| b.entity == step.entity) {
                for row in &batch.rows {
                    if !step.started.insert(row.id.clone()) {
                        continue;
                    }
                    outcome.spawn.push(NewTask {
                        group: step.group,
                        parent: Some(step.expansion),
                        spec: TaskSpec::Page {
                            loader: step.loader.clone(),
                            parent: EntityRef { entity: step.entity.clone(), id: row.id.clone() },
                            field: step.field.clone(),
                            cursor: None,
                            position: 0,
                            pages: 0,
                            idle: 0,
                        },
                    });
                }
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Step>> {
        self.steps.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
