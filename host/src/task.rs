//! The task model of a sync: what a task does ([`TaskSpec`]), a claimed task, what it stores when it
//! finishes ([`TaskOutcome`]), and the record of a sync. Plain data, shared by the executor and every
//! [`TaskStore`](crate::storage::TaskStore) implementation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::data::{EntityBatch, EntityRef, Step};

/// A sync's id (`_max_syncs.id`).
pub type SyncId = i64;
/// A task's id (`_max_tasks.id`).
pub type TaskId = i64;

/// What a task does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TaskSpec {
    /// Expands a plan step into load, page and change-feed tasks once its group may run.
    Expand {
        /// The plan step.
        step: Step,
    },
    /// Runs a single, batched or raw loader on these ids of `entity`.
    Load {
        /// Loader name.
        loader: String,
        /// Entity of the ids.
        entity: String,
        /// The ids (empty for a raw loader).
        ids: Vec<String>,
    },
    /// Loads one page of a collection.
    Page {
        /// Collection loader.
        loader: String,
        /// The collection's owner.
        parent: EntityRef,
        /// The collection field.
        field: String,
        /// The page's cursor (none: the first page).
        cursor: Option<String>,
        /// Position of the page's first item in the collection.
        position: u64,
        /// Pages of this collection read before this one in this sync.
        #[serde(default)]
        pages: u64,
        /// Pages in a row before this one that added nothing new to the collection.
        #[serde(default)]
        idle: u64,
    },
    /// Reads one page of a change feed.
    Changes {
        /// Change-feed loader.
        loader: String,
        /// The entity whose feed it is, for a feed scoped to entities (contract 0.4.0).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scope: Option<EntityRef>,
        /// Where to continue.
        cursor: Option<String>,
        /// Pages of this feed read before this one in this sync.
        #[serde(default)]
        pages: u64,
        /// Pages in a row before this one that reported no change.
        #[serde(default)]
        idle: u64,
    },
}

impl std::fmt::Display for TaskSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TaskSpec::Expand { step } => write!(f, "plan step {:?} {:?}", step.target, step.operation),
            TaskSpec::Load { loader, entity, ids } => match ids.as_slice() {
                [] => write!(f, "{loader}"),
                [one] => write!(f, "{loader} for {entity} {one}"),
                [first, ..] => write!(f, "{loader} for {} {entity} ids from {first}", ids.len()),
            },
            TaskSpec::Page { loader, parent, cursor, .. } => {
                write!(f, "{loader} of {} {}", parent.entity, parent.id)?;
                match cursor {
                    Some(cursor) => write!(f, " from cursor {}", shortened(cursor)),
                    None => write!(f, " (first page)"),
                }
            }
            TaskSpec::Changes { loader, scope, cursor, .. } => {
                write!(f, "{loader}")?;
                if let Some(scope) = scope {
                    write!(f, " of {} {}", scope.entity, scope.id)?;
                }
                write!(f, " since {}", cursor.as_deref().map_or("the start".into(), shortened))
            }
        }
    }
}

/// A cursor as shown in a task's description: cursors can be long.
fn shortened(cursor: &str) -> String {
    if cursor.chars().count() <= 80 {
        cursor.to_string()
    } else {
        format!("{}…", cursor.chars().take(79).collect::<String>())
    }
}

/// A task as claimed from the store.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// Id.
    pub id: TaskId,
    /// The plan group it belongs to; groups run in order.
    pub group: u32,
    /// The task waiting for this one.
    pub parent: Option<TaskId>,
    /// What to do.
    pub spec: TaskSpec,
    /// How many times it was claimed before.
    pub attempts: u32,
}

/// A task to add.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTask {
    /// The plan group.
    pub group: u32,
    /// The task that waits for it.
    pub parent: Option<TaskId>,
    /// What to do.
    pub spec: TaskSpec,
}

/// Items placed in a collection.
#[derive(Debug, Clone, PartialEq)]
pub struct Links {
    /// The owner.
    pub parent: EntityRef,
    /// The collection field.
    pub field: String,
    /// Position of the first id.
    pub position: u64,
    /// Child ids in order.
    pub child_ids: Vec<String>,
    /// Whether the stored collection is cleared first (the first page of a full load).
    pub replace: bool,
    /// Whether the listing ends here (the last page, or a collection sent whole): an owned
    /// collection's items it no longer lists are deleted then, never before.
    pub complete: bool,
}

/// Everything a finished task stores, in one transaction with its completion.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskOutcome {
    /// Entities to merge-upsert.
    pub batches: Vec<EntityBatch>,
    /// Collection links to write.
    pub links: Option<Links>,
    /// Entities the API reported deleted.
    pub deletions: Vec<EntityRef>,
    /// A change-feed cursor to store.
    pub cursor: Option<FeedCursor>,
    /// Whether the batches and deletions come from a change feed, so they update collections too.
    pub from_change_feed: bool,
    /// Tasks to add (the next page, expanded work).
    pub spawn: Vec<NewTask>,
}

/// Where a change feed got to, stored for the next sync.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedCursor {
    /// The change-feed loader.
    pub loader: String,
    /// The entity whose feed it is, for a scoped feed.
    pub scope: Option<EntityRef>,
    /// The cursor.
    pub cursor: String,
}

/// What the executor should do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// Run this task.
    Task(Task),
    /// Nothing runnable now; tasks in flight may add or unblock some.
    Wait,
    /// Every task has finished.
    Done,
}

/// A process holding claims on a sync's tasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claimed {
    /// The process: `host:pid:tag`.
    pub owner: String,
    /// Tasks it runs now.
    pub tasks: u64,
    /// When the last of its leases runs out unless renewed.
    pub lease_until: chrono::DateTime<chrono::Utc>,
}

/// How a sync ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncStatus {
    /// Still running, or its process died: the next `max sync` resumes it.
    Running,
    /// Stopped by the user (Ctrl-C) with work left: the next `max sync` resumes it.
    Interrupted,
    /// Every task succeeded.
    Completed,
    /// Some tasks failed (`max sync --retry-failed` runs them again).
    Failed,
    /// Left unfinished for a new full sync.
    Abandoned,
}

impl SyncStatus {
    /// Whether the sync stopped before its end and can be resumed.
    pub fn resumable(self) -> bool {
        matches!(self, SyncStatus::Running | SyncStatus::Interrupted)
    }

    /// The status stored as `text` (what [`Display`](std::fmt::Display) writes); anything else reads
    /// as running, so a sync of a newer Max's making is resumed rather than lost.
    pub fn from_stored(text: &str) -> SyncStatus {
        match text {
            "completed" => SyncStatus::Completed,
            "failed" => SyncStatus::Failed,
            "interrupted" => SyncStatus::Interrupted,
            "abandoned" => SyncStatus::Abandoned,
            _ => SyncStatus::Running,
        }
    }
}

impl std::fmt::Display for SyncStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SyncStatus::Running => "running",
            SyncStatus::Interrupted => "interrupted",
            SyncStatus::Completed => "completed",
            SyncStatus::Failed => "failed",
            SyncStatus::Abandoned => "abandoned",
        })
    }
}

/// One row of `_max_syncs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncRecord {
    /// Id.
    pub id: SyncId,
    /// Start (UTC).
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// End, once finished.
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Outcome.
    pub status: SyncStatus,
    /// Whether it was a full sync.
    pub full: bool,
    /// Tasks run.
    pub tasks_total: u64,
    /// Tasks that failed.
    pub tasks_failed: u64,
    /// Entities stored, per type.
    pub entities: BTreeMap<String, u64>,
    /// HTTP requests made.
    pub requests: u64,
}

/// A task that failed, for the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskFailure {
    /// The task.
    pub task: TaskId,
    /// What it was doing.
    pub description: String,
    /// Why it failed.
    pub error: String,
}
