//! The Acme data set: generated from a seed, indexed for the list endpoints, changed by mutations that
//! append to the change log.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value as Json, json};

use crate::{Rng, format_ms};

/// One entity type of the Acme API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// `/api/workspaces`
    Workspace,
    /// `/api/users?workspaceId=`
    User,
    /// `/api/projects?workspaceId=`
    Project,
    /// `/api/tasks?projectId=`
    Task,
    /// `/api/files?projectId=`
    File,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 5] = [Kind::Workspace, Kind::User, Kind::Project, Kind::Task, Kind::File];

    /// The kind served under `/api/<path>`.
    pub fn from_path(path: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.path() == path)
    }

    /// Its path segment.
    pub fn path(self) -> &'static str {
        match self {
            Kind::Workspace => "workspaces",
            Kind::User => "users",
            Kind::Project => "projects",
            Kind::Task => "tasks",
            Kind::File => "files",
        }
    }

    /// Its entity name (as the acme connector names it; also the key in `/_fake/stats`).
    pub fn entity(self) -> &'static str {
        match self {
            Kind::Workspace => "Workspace",
            Kind::User => "User",
            Kind::Project => "Project",
            Kind::Task => "Task",
            Kind::File => "File",
        }
    }

    /// Its `entityType` in the change log.
    pub fn change_type(self) -> &'static str {
        match self {
            Kind::Workspace => "workspace",
            Kind::User => "user",
            Kind::Project => "project",
            Kind::Task => "task",
            Kind::File => "file",
        }
    }

    /// The query parameter (and JSON key) naming the parent, for scoped lists.
    pub fn parent_key(self) -> Option<&'static str> {
        match self {
            Kind::Workspace => None,
            Kind::User | Kind::Project => Some("workspaceId"),
            Kind::Task | Kind::File => Some("projectId"),
        }
    }

    fn id_prefix(self) -> &'static str {
        match self {
            Kind::Workspace => "ws",
            Kind::User => "usr",
            Kind::Project => "prj",
            Kind::Task => "tsk",
            Kind::File => "fil",
        }
    }
}

/// How much data to generate.
#[derive(Debug, Clone)]
pub struct Size {
    /// Workspaces.
    pub workspaces: usize,
    /// Users per workspace.
    pub users: usize,
    /// Projects per workspace.
    pub projects: usize,
    /// Tasks per project.
    pub tasks_per_project: usize,
    /// Files per project.
    pub files_per_project: usize,
    /// Whether the change log starts with a `create` event for every generated object, as a real API's
    /// audit log would (otherwise it starts empty).
    pub history: bool,
}

impl Default for Size {
    fn default() -> Self {
        Size { workspaces: 2, users: 10, projects: 5, tasks_per_project: 40, files_per_project: 3, history: false }
    }
}

/// One change-log event.
#[derive(Debug, Clone)]
pub struct Event {
    sequence: u64,
    kind: Kind,
    id: String,
    action: &'static str,
    payload: Json,
    timestamp: String,
}

impl Event {
    fn to_json(&self) -> Json {
        json!({
            "sequence": self.sequence, "entityType": self.kind.change_type(), "entityId": self.id,
            "action": self.action, "payload": self.payload, "timestamp": self.timestamp,
        })
    }
}

/// All objects of one kind: by id (sorted, for keyset pagination) and by parent.
#[derive(Debug, Default)]
struct Table {
    rows: BTreeMap<String, Json>,
    by_parent: HashMap<String, BTreeMap<String, ()>>,
    next_number: u64,
}

/// The whole data set.
#[derive(Debug)]
pub struct Dataset {
    tables: HashMap<Kind, Table>,
    log: Vec<Event>,
    /// Generated objects are logged too.
    history: bool,
}

const WORDS: &[&str] = &[
    "alpha",
    "billing",
    "cache",
    "dashboard",
    "export",
    "fix",
    "graph",
    "import",
    "login",
    "mobile",
    "onboarding",
    "payments",
    "query",
    "report",
    "search",
    "sync",
    "timeline",
    "upload",
    "webhook",
    "zoom",
];
const FIRST: &[&str] = &["Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Margaret", "Linus", "Donald", "Frances"];
const LAST: &[&str] =
    &["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Hamilton", "Torvalds", "Knuth", "Allen"];

fn timestamp(rng: &mut Rng) -> String {
    // Between 2024-01-01 and ~2025-11-26, to the millisecond.
    let ms = 1_704_067_200_000u64 + rng.below(60_000_000_000);
    format_ms(ms)
}

fn now() -> String {
    let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    format_ms(ms)
}

impl Dataset {
    /// Generates the data set for `seed` and `size`.
    pub fn generate(seed: u64, size: &Size) -> Self {
        let mut rng = Rng::new(seed);
        let mut data = Dataset {
            tables: Kind::ALL.into_iter().map(|k| (k, Table::default())).collect(),
            log: Vec::new(),
            history: size.history,
        };
        for w in 0..size.workspaces {
            let created = timestamp(&mut rng);
            let ws = data.insert_generated(Kind::Workspace, |id| {
                json!({"id": id, "name": format!("Workspace {}", w + 1), "createdAt": created, "updatedAt": created})
            });
            let mut users = Vec::new();
            for _ in 0..size.users {
                let (first, last) = (*rng.pick(FIRST), *rng.pick(LAST));
                let created = timestamp(&mut rng);
                let role = *rng.pick(&["admin", "member", "member", "member", "viewer"]);
                let active = rng.below(10) != 0;
                let user = data.insert_generated(Kind::User, |id| {
                    json!({"id": id, "workspaceId": ws, "email": format!("{}.{}.{id}@acme.test", first.to_lowercase(), last.to_lowercase()),
                           "displayName": format!("{first} {last}"), "role": role, "active": active,
                           "createdAt": created, "updatedAt": created})
                });
                users.push(user);
            }
            for p in 0..size.projects {
                let created = timestamp(&mut rng);
                let owner = users.get(rng.below(users.len() as u64) as usize).cloned();
                let status = *rng.pick(&["active", "active", "paused", "completed", "archived"]);
                let word = *rng.pick(WORDS);
                let name = format!("{} {}", capitalize(word), p + 1);
                let project = data.insert_generated(Kind::Project, |id| {
                    json!({"id": id, "workspaceId": ws, "name": name, "description": format!("The {name} project"),
                           "status": status, "ownerId": owner, "createdAt": created, "updatedAt": created})
                });
                for _ in 0..size.tasks_per_project {
                    let task = generate_task(&mut rng, &project, &users);
                    data.insert_generated(Kind::Task, |id| with_id(task, id));
                }
                for _ in 0..size.files_per_project {
                    let file = generate_file(&mut rng, &project, &users);
                    data.insert_generated(Kind::File, |id| with_id(file, id));
                }
            }
        }
        data
    }

    fn next_id(&mut self, kind: Kind) -> String {
        let table = self.tables.get_mut(&kind).expect("every kind has a table");
        table.next_number += 1;
        format!("{}_{:08}", kind.id_prefix(), table.next_number)
    }

    fn insert_generated(&mut self, kind: Kind, make: impl FnOnce(&str) -> Json) -> String {
        let id = self.next_id(kind);
        let object = make(&id);
        if self.history {
            let at = object["createdAt"].as_str().unwrap_or_default().to_string();
            self.append(kind, &id, "create", object.clone(), at);
        }
        self.put(kind, object);
        id
    }

    fn put(&mut self, kind: Kind, object: Json) {
        let id = object["id"].as_str().expect("objects have string ids").to_string();
        let table = self.tables.get_mut(&kind).expect("every kind has a table");
        if let Some(parent) = kind.parent_key().and_then(|key| object.get(key)).and_then(Json::as_str) {
            table.by_parent.entry(parent.to_string()).or_default().insert(id.clone(), ());
        }
        table.rows.insert(id, object);
    }

    /// The number of objects of each kind.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        Kind::ALL.into_iter().map(|k| (k.entity(), self.tables[&k].rows.len())).collect()
    }

    /// One object.
    pub fn get(&self, kind: Kind, id: &str) -> Option<&Json> {
        self.tables[&kind].rows.get(id)
    }

    /// Every object of `kind` (under `parent`, for scoped kinds) in id order, from after `cursor`,
    /// at most `limit`; and the cursor of the next page.
    pub fn list(
        &self,
        kind: Kind,
        parent: Option<&str>,
        cursor: Option<&str>,
        limit: Option<usize>,
    ) -> (Vec<Json>, Option<String>) {
        let (items, next) = self.page(kind, parent, cursor, limit);
        (items.into_iter().cloned().collect(), next)
    }

    /// [`Dataset::list`] as the JSON array the API answers, written straight from the stored objects.
    pub fn list_json(
        &self,
        kind: Kind,
        parent: Option<&str>,
        cursor: Option<&str>,
        limit: Option<usize>,
    ) -> (Vec<u8>, Option<String>) {
        let (items, next) = self.page(kind, parent, cursor, limit);
        (serde_json::to_vec(&items).expect("JSON values serialize"), next)
    }

    fn page(
        &self,
        kind: Kind,
        parent: Option<&str>,
        cursor: Option<&str>,
        limit: Option<usize>,
    ) -> (Vec<&Json>, Option<String>) {
        let table = &self.tables[&kind];
        let lower = match cursor {
            Some(c) => std::ops::Bound::Excluded(c.to_string()),
            None => std::ops::Bound::Unbounded,
        };
        let ids: Box<dyn Iterator<Item = &String>> = match parent {
            Some(parent) => match table.by_parent.get(parent) {
                Some(children) => Box::new(children.range((lower, std::ops::Bound::Unbounded)).map(|(id, _)| id)),
                None => Box::new(std::iter::empty()),
            },
            None => Box::new(table.rows.range((lower, std::ops::Bound::Unbounded)).map(|(id, _)| id)),
        };
        let limit = limit.unwrap_or(usize::MAX);
        let mut items = Vec::new();
        let mut more = false;
        for id in ids {
            if items.len() == limit {
                more = true;
                break;
            }
            items.push(&table.rows[id]);
        }
        let next = if more { items.last().and_then(|o| o["id"].as_str()).map(str::to_string) } else { None };
        (items, next)
    }

    /// Creates an object from `body`, fills `id` and timestamps, and logs it.
    pub fn create(&mut self, kind: Kind, body: Map<String, Json>) -> Json {
        let id = self.next_id(kind);
        let at = now();
        let mut object = body;
        object.insert("id".into(), json!(id));
        object.entry("createdAt").or_insert(json!(at));
        object.insert("updatedAt".into(), json!(at));
        let object = Json::Object(object);
        self.put(kind, object.clone());
        self.append(kind, &id, "create", object.clone(), at);
        object
    }

    /// Merges `patch` into an object, bumps `updatedAt`, and logs it.
    pub fn update(&mut self, kind: Kind, id: &str, patch: Map<String, Json>) -> Option<Json> {
        let mut object = self.get(kind, id)?.clone();
        let at = now();
        if let Json::Object(fields) = &mut object {
            for (key, value) in patch {
                if key != "id" {
                    fields.insert(key, value);
                }
            }
            fields.insert("updatedAt".into(), json!(at));
        }
        self.remove_row(kind, id);
        self.put(kind, object.clone());
        self.append(kind, id, "update", object.clone(), at);
        Some(object)
    }

    /// Deletes an object and logs it.
    pub fn delete(&mut self, kind: Kind, id: &str) -> Option<Json> {
        let object = self.remove_row(kind, id)?;
        self.append(kind, id, "delete", Json::Null, now());
        Some(object)
    }

    fn remove_row(&mut self, kind: Kind, id: &str) -> Option<Json> {
        let table = self.tables.get_mut(&kind).expect("every kind has a table");
        let object = table.rows.remove(id)?;
        if let Some(children) = kind
            .parent_key()
            .and_then(|k| object.get(k))
            .and_then(Json::as_str)
            .and_then(|parent| table.by_parent.get_mut(parent))
        {
            children.remove(id);
        }
        Some(object)
    }

    fn append(&mut self, kind: Kind, id: &str, action: &'static str, payload: Json, timestamp: String) {
        let sequence = self.log.len() as u64 + 1;
        self.log.push(Event { sequence, kind, id: id.to_string(), action, payload, timestamp });
    }

    /// The sequence of the newest event (0 when the log is empty): where a reader that wants only what
    /// happens from now on starts.
    pub fn latest_sequence(&self) -> u64 {
        self.log.len() as u64
    }

    /// Events after `since`, at most `limit`, and the next cursor when more remain.
    pub fn changes(&self, since: u64, limit: usize) -> (Vec<Json>, Option<u64>) {
        let start = (since as usize).min(self.log.len());
        let events: Vec<&Event> = self.log[start..].iter().take(limit).collect();
        let next = (start + events.len() < self.log.len()).then(|| events.last().map_or(since, |e| e.sequence));
        (events.into_iter().map(Event::to_json).collect(), next)
    }
}

fn with_id(mut object: Json, id: &str) -> Json {
    object["id"] = json!(id);
    object
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

fn generate_task(rng: &mut Rng, project: &str, users: &[String]) -> Json {
    let created = timestamp(rng);
    let status = *rng.pick(&["todo", "todo", "in_progress", "in_review", "done", "cancelled"]);
    let user = |rng: &mut Rng| if users.is_empty() { Json::Null } else { json!(rng.pick(users)) };
    let assignee = if rng.below(5) == 0 { Json::Null } else { user(rng) };
    let created_by = user(rng);
    let modified_by = user(rng);
    let verb = *rng.pick(&["fix", "add", "improve", "remove", "document"]);
    let title = format!("{} {} {}", capitalize(verb), rng.pick(WORDS), rng.pick(WORDS));
    let tags: Vec<&str> =
        (0..rng.below(4)).map(|_| *rng.pick(&["bug", "feature", "ux", "backend", "frontend", "infra"])).collect();
    let due = if rng.below(3) == 0 { Json::Null } else { json!(&timestamp(rng)[..10]) };
    let completed = if status == "done" { json!(timestamp(rng)) } else { Json::Null };
    json!({
        "id": "", "projectId": project, "title": title, "description": format!("{title}: details in the linked document"),
        "status": status, "priority": rng.pick(&["low", "medium", "medium", "high", "urgent"]),
        "assigneeId": assignee, "createdById": created_by, "lastModifiedById": modified_by, "dueDate": due,
        "tags": tags, "completedAt": completed, "createdAt": created, "updatedAt": created,
    })
}

fn generate_file(rng: &mut Rng, project: &str, users: &[String]) -> Json {
    let created = timestamp(rng);
    let (ext, mime) =
        *rng.pick(&[("pdf", "application/pdf"), ("png", "image/png"), ("md", "text/markdown"), ("csv", "text/csv")]);
    let uploader = if users.is_empty() { Json::Null } else { json!(rng.pick(users)) };
    json!({
        "id": "", "projectId": project, "name": format!("{}-{}.{ext}", rng.pick(WORDS), rng.below(1000)),
        "mimeType": mime, "sizeBytes": 1024 + rng.below(5_000_000), "uploadedById": uploader,
        "createdAt": created, "updatedAt": created,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_epoch_milliseconds() {
        assert_eq!(format_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_ms(1_714_644_672_345), "2024-05-02T10:11:12.345Z");
    }

    #[test]
    fn the_same_seed_gives_the_same_data() {
        let size = Size::default();
        let (a, b) = (Dataset::generate(7, &size), Dataset::generate(7, &size));
        assert_eq!(a.list(Kind::Task, None, None, None), b.list(Kind::Task, None, None, None));
        assert_ne!(
            a.list(Kind::Task, None, None, None),
            Dataset::generate(8, &size).list(Kind::Task, None, None, None)
        );
    }

    #[test]
    fn keyset_pages_cover_everything_once() {
        let data = Dataset::generate(1, &Size::default());
        let (all, _) = data.list(Kind::Task, None, None, None);
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let (page, next) = data.list(Kind::Task, None, cursor.as_deref(), Some(7));
            seen.extend(page);
            match next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, all);
    }

    #[test]
    fn mutations_append_to_the_change_log() {
        let mut data = Dataset::generate(1, &Size::default());
        let (tasks, _) = data.list(Kind::Task, None, None, Some(2));
        let id = tasks[0]["id"].as_str().unwrap().to_string();
        data.update(Kind::Task, &id, serde_json::from_value(json!({"title": "renamed"})).unwrap());
        data.delete(Kind::Task, tasks[1]["id"].as_str().unwrap());
        let (events, next) = data.changes(0, 10);
        assert_eq!(next, None);
        assert_eq!(events.len(), 2);
        assert_eq!(events[0]["action"], "update");
        assert_eq!(events[0]["payload"]["title"], "renamed");
        assert_eq!(events[1]["action"], "delete");
        assert_eq!(data.changes(0, 1).1, Some(1));
        assert_eq!(data.latest_sequence(), 2);
        assert_eq!(data.changes(data.latest_sequence(), 10), (Vec::new(), None));
    }

    #[test]
    fn a_history_logs_every_generated_object_once() {
        let size = Size { history: true, ..Size::default() };
        let data = Dataset::generate(1, &size);
        let objects: usize = data.counts().values().sum();
        let (events, next) = data.changes(0, objects + 1);
        assert_eq!((events.len(), next), (objects, None));
        assert!(events.iter().all(|e| e["action"] == "create" && e["payload"]["id"] == e["entityId"]));
        assert_eq!(Dataset::generate(1, &Size::default()).latest_sequence(), 0);
    }
}
