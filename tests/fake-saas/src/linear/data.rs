//! The fake Linear workspace: objects of every type as JSON maps keyed by their GraphQL field names,
//! generated from a seed. References are stored as `<field>Id` keys and connections as id lists
//! (hidden keys start with `_`, and only `labelIds` is a real Linear field). Mutations bump
//! `updatedAt` on a clock that never goes backwards.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::{Map, Value as Json, json};

use crate::Rng;
use crate::format_ms;

/// An object as the API shows it (plus hidden keys).
pub type Object = Arc<Map<String, Json>>;

/// How much data to generate.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    /// Teams.
    pub teams: usize,
    /// Users (each a member of one to all teams).
    pub users: usize,
    /// Labels per team (plus as many workspace labels, halved).
    pub labels_per_team: usize,
    /// Projects.
    pub projects: usize,
    /// Cycles per team.
    pub cycles_per_team: usize,
    /// Issues per team.
    pub issues_per_team: usize,
    /// Comments per issue, at most (0 to this many).
    pub comments_per_issue: usize,
}

impl Default for Size {
    fn default() -> Self {
        Size {
            teams: 3,
            users: 12,
            labels_per_team: 4,
            projects: 5,
            cycles_per_team: 3,
            issues_per_team: 40,
            comments_per_issue: 3,
        }
    }
}

/// The entity types, with their list query field.
pub const TYPES: &[(&str, &str)] = &[
    ("Team", "teams"),
    ("User", "users"),
    ("WorkflowState", "workflowStates"),
    ("IssueLabel", "issueLabels"),
    ("Project", "projects"),
    ("Cycle", "cycles"),
    ("Issue", "issues"),
    ("Comment", "comments"),
];

/// Workflow states every team gets: (name, type, color).
const STATES: &[(&str, &str, &str)] = &[
    ("Triage", "triage", "#fc7840"),
    ("Backlog", "backlog", "#bec2c8"),
    ("Todo", "unstarted", "#e2e2e2"),
    ("In Progress", "started", "#f2c94c"),
    ("In Review", "started", "#5e6ad2"),
    ("Done", "completed", "#5e6ad2"),
    ("Canceled", "canceled", "#95a2b3"),
];

const PRIORITY_LABELS: &[&str] = &["No priority", "Urgent", "High", "Medium", "Low"];
const FIRST: &[&str] = &["Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Margaret", "Linus", "Donald", "Frances"];
const LAST: &[&str] =
    &["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Hamilton", "Torvalds", "Knuth", "Allen"];
const WORDS: &[&str] = &[
    "sync",
    "crash",
    "login",
    "export",
    "search",
    "billing",
    "onboarding",
    "latency",
    "cache",
    "webhook",
    "import",
    "dark mode",
    "permissions",
    "calendar",
    "upload",
    "timezone",
];
const TEAMS: &[(&str, &str)] = &[
    ("ENG", "Engineering"),
    ("DES", "Design"),
    ("OPS", "Operations"),
    ("MOB", "Mobile"),
    ("WEB", "Web"),
    ("DAT", "Data"),
    ("SEC", "Security"),
    ("INF", "Infrastructure"),
];

/// Every object of the workspace.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The organization (`viewer.organization`, `organization`).
    pub organization: Object,
    /// The user the credentials belong to (`viewer`).
    pub viewer_id: String,
    objects: BTreeMap<&'static str, Vec<Object>>,
    index: HashMap<String, (&'static str, usize)>,
    clock_ms: u64,
}

/// A UUID-shaped id, deterministic from the generator.
fn uuid(rng: &mut Rng) -> String {
    let (a, b) = (rng.next_u64(), rng.next_u64());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}

fn object(value: Json) -> Map<String, Json> {
    match value {
        Json::Object(map) => map,
        _ => unreachable!("generated objects are JSON objects"),
    }
}

/// Bookkeeping every type has.
fn stamps(created: u64, updated: u64) -> Map<String, Json> {
    object(json!({"createdAt": format_ms(created), "updatedAt": format_ms(updated), "archivedAt": null}))
}

fn words(rng: &mut Rng, n: usize) -> String {
    (0..n).map(|_| *rng.pick(WORDS)).collect::<Vec<_>>().join(" ")
}

/// Epoch ms of 2024-01-01; generated data lies within the following ~22 months.
const EPOCH: u64 = 1_704_067_200_000;

fn moment(rng: &mut Rng) -> u64 {
    EPOCH + rng.below(58_000_000_000)
}

impl Dataset {
    /// Generates the workspace for `seed` and `size`.
    pub fn generate(seed: u64, size: &Size) -> Self {
        let mut rng = Rng::new(seed);
        let mut objects: BTreeMap<&'static str, Vec<Map<String, Json>>> = BTreeMap::new();
        let organization = object(json!({
            "id": uuid(&mut rng), "name": "Acme Inc", "urlKey": "acme", "createdAt": format_ms(EPOCH),
        }));

        let mut users = Vec::new();
        for n in 0..size.users.max(1) {
            let (first, last) = (FIRST[n % FIRST.len()], LAST[(n / FIRST.len() + n) % LAST.len()]);
            let created = moment(&mut rng);
            let mut user = object(json!({
                "id": uuid(&mut rng), "name": format!("{first} {last}"), "displayName": first.to_lowercase(),
                "email": format!("{}.{}{n}@acme.com", first.to_lowercase(), last.to_lowercase()),
                "active": rng.below(10) != 0, "admin": n == 0, "guest": n % 7 == 6, "app": false,
                "avatarUrl": null, "timezone": "Europe/London", "lastSeen": format_ms(created + 1_000_000),
                "url": format!("https://linear.app/acme/profiles/{}", first.to_lowercase()),
                "_teamIds": [],
            }));
            user.extend(stamps(created, created + rng.below(1_000_000_000)));
            users.push(user);
        }

        let mut teams = Vec::new();
        for n in 0..size.teams.max(1) {
            let (key, name) = TEAMS[n % TEAMS.len()];
            let key = if n < TEAMS.len() { key.to_string() } else { format!("{key}{}", n / TEAMS.len()) };
            let created = moment(&mut rng);
            // Every user is in at least one team; the first user is in all of them.
            let members: Vec<Json> = (0..users.len())
                .filter(|&u| u == 0 || u % size.teams.max(1) == n || rng.below(4) == 0)
                .map(|u| users[u]["id"].clone())
                .collect();
            let mut team = object(json!({
                "id": uuid(&mut rng), "key": key, "name": name, "displayName": name,
                "description": format!("The {name} team"), "color": "#5e6ad2", "icon": null,
                "timezone": "Europe/London", "private": false, "cyclesEnabled": size.cycles_per_team > 0,
                "_memberIds": members,
            }));
            team.extend(stamps(created, created + rng.below(1_000_000_000)));
            teams.push(team);
        }
        for team in &teams {
            for member in team["_memberIds"].as_array().into_iter().flatten() {
                if let Some(user) = users.iter_mut().find(|u| &u["id"] == member) {
                    user["_teamIds"].as_array_mut().expect("a list").push(team["id"].clone());
                }
            }
        }

        let mut states = Vec::new();
        for team in &teams {
            for (position, (name, kind, color)) in STATES.iter().enumerate() {
                let created = moment(&mut rng);
                let mut state = object(json!({
                    "id": uuid(&mut rng), "name": name, "type": kind, "color": color, "position": position as f64,
                    "description": null, "teamId": team["id"],
                }));
                state.extend(stamps(created, created));
                states.push(state);
            }
        }

        let mut labels = Vec::new();
        let team_slots: Vec<Option<&Map<String, Json>>> = teams
            .iter()
            .flat_map(|t| std::iter::repeat_n(Some(t), size.labels_per_team))
            .chain(std::iter::repeat_n(None, size.labels_per_team.div_ceil(2)))
            .collect();
        for (n, team) in team_slots.into_iter().enumerate() {
            let created = moment(&mut rng);
            let mut label = object(json!({
                "id": uuid(&mut rng), "name": format!("{} {n}", words(&mut rng, 1)), "color": "#26b5ce",
                "description": null, "isGroup": false, "teamId": team.map(|t| t["id"].clone()),
                "parentId": null, "creatorId": rng.pick(&users)["id"],
            }));
            label.extend(stamps(created, created + rng.below(100_000_000)));
            labels.push(label);
        }

        let mut projects = Vec::new();
        for n in 0..size.projects {
            let created = moment(&mut rng);
            let project_teams: Vec<Json> =
                teams.iter().filter(|_| rng.below(2) == 0).map(|t| t["id"].clone()).collect();
            let project_teams =
                if project_teams.is_empty() { vec![teams[n % teams.len()]["id"].clone()] } else { project_teams };
            let name = format!("{} {n}", capitalise(&words(&mut rng, 2)));
            let mut project = object(json!({
                "id": uuid(&mut rng), "name": name, "description": format!("All about {name}"), "content": null,
                "slugId": format!("{:012x}", rng.next_u64() & 0xffff_ffff_ffff), "color": "#bec2c8", "icon": null,
                "priority": rng.below(5), "progress": (rng.below(101) as f64) / 100.0,
                "startDate": format_ms(created)[..10], "targetDate": null,
                "startedAt": format_ms(created), "completedAt": null, "canceledAt": null,
                "url": format!("https://linear.app/acme/project/p{n}"), "state": "started",
                "leadId": rng.pick(&users)["id"], "creatorId": rng.pick(&users)["id"],
                "_teamIds": project_teams, "_memberIds": [],
            }));
            project.extend(stamps(created, created + rng.below(1_000_000_000)));
            projects.push(project);
        }

        let mut cycles = Vec::new();
        for team in &teams {
            for number in 1..=size.cycles_per_team {
                let starts = EPOCH + number as u64 * 14 * 86_400_000;
                let mut cycle = object(json!({
                    "id": uuid(&mut rng), "number": number as f64, "name": format!("Cycle {number}"), "description": null,
                    "startsAt": format_ms(starts), "endsAt": format_ms(starts + 14 * 86_400_000),
                    "completedAt": null, "progress": 0.5, "isActive": number == size.cycles_per_team,
                    "teamId": team["id"],
                }));
                cycle.extend(stamps(starts - 86_400_000, starts));
                cycles.push(cycle);
            }
        }

        let mut issues: Vec<Map<String, Json>> = Vec::new();
        let mut comments = Vec::new();
        for team in &teams {
            let team_id = team["id"].as_str().unwrap_or_default().to_string();
            let key = team["key"].as_str().unwrap_or_default().to_string();
            let team_states: Vec<&Map<String, Json>> = states.iter().filter(|s| s["teamId"] == team["id"]).collect();
            let team_labels: Vec<&Map<String, Json>> =
                labels.iter().filter(|l| l["teamId"] == team["id"] || l["teamId"].is_null()).collect();
            let team_cycles: Vec<&Map<String, Json>> = cycles.iter().filter(|c| c["teamId"] == team["id"]).collect();
            let first_issue = issues.len();
            for number in 1..=size.issues_per_team {
                let created = moment(&mut rng);
                let state = *rng.pick(&team_states);
                let priority = rng.below(5);
                let title = capitalise(&words(&mut rng, 3));
                let label_ids: Vec<Json> =
                    (0..rng.below(3)).map(|_| rng.pick(&team_labels)["id"].clone()).collect::<Vec<_>>();
                let mut label_ids_unique = Vec::new();
                for id in label_ids {
                    if !label_ids_unique.contains(&id) {
                        label_ids_unique.push(id);
                    }
                }
                // About one issue in five is a sub-issue of an earlier issue of its team.
                let parent = (number > 1 && rng.below(5) == 0)
                    .then(|| issues[first_issue + rng.below(number as u64 - 1) as usize]["id"].clone());
                let identifier = format!("{key}-{number}");
                let mut issue = object(json!({
                    "id": uuid(&mut rng), "identifier": identifier, "number": number as f64, "title": title,
                    "description": if rng.below(3) == 0 { Json::Null } else { json!(format!("Steps to reproduce: {}", words(&mut rng, 6))) },
                    "priority": priority as f64, "priorityLabel": PRIORITY_LABELS[priority as usize],
                    "estimate": if rng.below(2) == 0 { Json::Null } else { json!(rng.below(8) as f64) },
                    "dueDate": if rng.below(4) == 0 { json!(format_ms(created + 2_000_000_000)[..10]) } else { Json::Null },
                    "completedAt": if state["type"] == "completed" { json!(format_ms(created + 500_000_000)) } else { Json::Null },
                    "canceledAt": if state["type"] == "canceled" { json!(format_ms(created + 500_000_000)) } else { Json::Null },
                    "startedAt": if state["type"] == "started" { json!(format_ms(created + 100_000_000)) } else { Json::Null },
                    "url": format!("https://linear.app/acme/issue/{identifier}"),
                    "branchName": format!("{}/{}", key.to_lowercase(), identifier.to_lowercase()),
                    "labelIds": label_ids_unique, "sortOrder": -(number as f64), "trashed": null,
                    "teamId": team_id, "stateId": state["id"],
                    "assigneeId": if rng.below(4) == 0 { Json::Null } else { rng.pick(&users)["id"].clone() },
                    "creatorId": rng.pick(&users)["id"],
                    "projectId": if projects.is_empty() || rng.below(3) == 0 { Json::Null } else { rng.pick(&projects)["id"].clone() },
                    "cycleId": if team_cycles.is_empty() || rng.below(2) == 0 { Json::Null } else { rng.pick(&team_cycles)["id"].clone() },
                    "parentId": parent, "_childIds": [], "_commentIds": [],
                }));
                issue.extend(stamps(created, created + rng.below(2_000_000_000)));
                for c in 0..rng.below(size.comments_per_issue as u64 + 1) {
                    let at = created + (c + 1) * 3_600_000;
                    let id = uuid(&mut rng);
                    let mut comment = object(json!({
                        "id": id, "body": format!("About {}: {}", issue["identifier"].as_str().unwrap_or_default(), words(&mut rng, 5)),
                        "url": format!("https://linear.app/acme/issue/{}#comment-{c}", issue["identifier"].as_str().unwrap_or_default()),
                        "editedAt": null, "resolvedAt": null, "issueId": issue["id"], "parentId": null,
                        "userId": if c % 5 == 4 { Json::Null } else { rng.pick(&users)["id"].clone() },
                    }));
                    comment.extend(stamps(at, at));
                    issue["_commentIds"].as_array_mut().expect("a list").push(json!(id));
                    comments.push(comment);
                }
                if let Some(parent) = issue["parentId"].as_str().map(str::to_string)
                    && let Some(p) = issues.iter_mut().find(|i| i["id"] == parent.as_str())
                {
                    p["_childIds"].as_array_mut().expect("a list").push(issue["id"].clone());
                }
                issues.push(issue);
            }
        }
        let viewer_id = users[0]["id"].as_str().unwrap_or_default().to_string();
        for (name, list) in [
            ("User", users),
            ("Team", teams),
            ("WorkflowState", states),
            ("IssueLabel", labels),
            ("Project", projects),
            ("Cycle", cycles),
            ("Issue", issues),
            ("Comment", comments),
        ] {
            objects.insert(name, list);
        }
        let objects: BTreeMap<&'static str, Vec<Object>> =
            objects.into_iter().map(|(k, v)| (k, v.into_iter().map(Arc::new).collect())).collect();
        let mut dataset = Dataset {
            organization: Arc::new(organization),
            viewer_id,
            objects,
            index: HashMap::new(),
            clock_ms: EPOCH + 60_000_000_000,
        };
        dataset.reindex();
        dataset
    }

    fn reindex(&mut self) {
        self.index.clear();
        for (name, list) in &self.objects {
            for (position, object) in list.iter().enumerate() {
                if let Some(id) = object["id"].as_str() {
                    self.index.insert(id.to_string(), (name, position));
                }
            }
        }
    }

    /// Every object of `type_name`, archived ones included, in creation order.
    pub fn all(&self, type_name: &str) -> &[Object] {
        self.objects.get(type_name).map_or(&[], Vec::as_slice)
    }

    /// The object with `id`, of any type.
    pub fn get(&self, id: &str) -> Option<&Object> {
        self.index.get(id).map(|(name, position)| &self.objects[name][*position])
    }

    /// How many objects of each type are visible without `includeArchived`.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        self.objects
            .iter()
            .map(|(name, list)| (*name, list.iter().filter(|o| o["archivedAt"].is_null()).count()))
            .collect()
    }

    /// The next `updatedAt`: now, or a millisecond after the last one if the clock hasn't moved.
    fn tick(&mut self) -> String {
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        self.clock_ms = now.max(self.clock_ms + 1);
        format_ms(self.clock_ms)
    }

    /// Applies one mutation (`POST /_fake/mutate`); returns the object after it, or why not.
    pub fn mutate(&mut self, mutation: &Mutation) -> Result<Json, String> {
        let type_name = TYPES
            .iter()
            .map(|(name, _)| *name)
            .find(|name| *name == mutation.type_name)
            .ok_or_else(|| format!("unknown type `{}`", mutation.type_name))?;
        let now = self.tick();
        let object = match mutation.op.as_str() {
            "create" => {
                let mut rng = Rng::new(self.clock_ms);
                let mut object = mutation.fields.clone();
                object.insert("id".into(), json!(uuid(&mut rng)));
                object.insert("createdAt".into(), json!(now));
                object.insert("updatedAt".into(), json!(now));
                object.entry("archivedAt").or_insert(Json::Null);
                for hidden in ["_childIds", "_commentIds", "_memberIds", "_teamIds"] {
                    object.entry(hidden).or_insert(json!([]));
                }
                if type_name == "Issue" {
                    object.entry("labelIds").or_insert(json!([]));
                }
                let object = Arc::new(object);
                self.link(type_name, &object);
                self.objects.entry(type_name).or_default().push(object.clone());
                self.reindex();
                object
            }
            "update" | "archive" | "unarchive" => {
                let id = mutation.id.as_deref().ok_or("`id` is required")?;
                let &(found, position) = self.index.get(id).ok_or_else(|| format!("no object `{id}`"))?;
                if found != type_name {
                    return Err(format!("`{id}` is a {found}, not a {type_name}"));
                }
                let slot = &mut self.objects.get_mut(type_name).expect("indexed type")[position];
                let object = Arc::make_mut(slot);
                match mutation.op.as_str() {
                    "archive" => {
                        object.insert("archivedAt".into(), json!(now));
                    }
                    "unarchive" => {
                        object.insert("archivedAt".into(), Json::Null);
                    }
                    _ => object.extend(mutation.fields.clone()),
                }
                object.insert("updatedAt".into(), json!(now));
                slot.clone()
            }
            other => return Err(format!("unknown op `{other}`: create, update, archive or unarchive")),
        };
        Ok(Json::Object(strip_hidden(&object)))
    }

    /// Adds a new object to the id lists of what it points at.
    fn link(&mut self, type_name: &str, object: &Object) {
        let id = object["id"].clone();
        let links: &[(&str, &str)] = match type_name {
            "Issue" => &[("parentId", "_childIds")],
            "Comment" => &[("issueId", "_commentIds")],
            _ => &[],
        };
        for (key, list) in links {
            if let Some(target) = object.get(*key).and_then(Json::as_str)
                && let Some(&(name, position)) = self.index.get(target)
            {
                let parent = Arc::make_mut(&mut self.objects.get_mut(name).expect("indexed type")[position]);
                if let Some(ids) = parent.get_mut(*list).and_then(Json::as_array_mut) {
                    ids.push(id.clone());
                }
            }
        }
    }
}

/// The object without its hidden keys.
pub fn strip_hidden(object: &Map<String, Json>) -> Map<String, Json> {
    object.iter().filter(|(k, _)| !k.starts_with('_')).map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}

/// A change made by a test between syncs.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Mutation {
    /// `create`, `update`, `archive` or `unarchive`.
    pub op: String,
    /// The entity type (`Issue`).
    #[serde(rename = "type")]
    pub type_name: String,
    /// The object's id (not for `create`).
    #[serde(default)]
    pub id: Option<String>,
    /// Fields to set, by their GraphQL names; references as `<field>Id` (`stateId`).
    #[serde(default)]
    pub fields: Map<String, Json>,
}
