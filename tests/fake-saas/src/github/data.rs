//! The GitHub fake's data: users, an organization, repositories with labels, milestones, issues and
//! pull requests (each pull request is an issue too, as on GitHub), issue comments, reviews and review
//! comments; generated from a seed, changed between syncs by [`Mutation`]s. Every change moves a clock
//! a second forward, so `since` filters see it.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::Rng;

/// 2026-01-01T00:00:00Z in seconds: when the generated history starts.
const EPOCH: i64 = 1_767_225_600;

/// How much data.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    /// Users, the token's owner first; all of them members of the organization.
    pub users: usize,
    /// Repositories of the organization.
    pub org_repos: usize,
    /// Repositories of the token's owner.
    pub user_repos: usize,
    /// Issues per repository (pull requests not counted).
    pub issues: usize,
    /// Pull requests per repository.
    pub pulls: usize,
    /// Labels per repository.
    pub labels: usize,
    /// Milestones per repository.
    pub milestones: usize,
    /// Comments per issue or pull request (at most).
    pub comments: usize,
    /// Reviews per pull request (at most).
    pub reviews: usize,
    /// Review comments per pull request (at most).
    pub review_comments: usize,
}

impl Default for Size {
    fn default() -> Self {
        Size {
            users: 8,
            org_repos: 3,
            user_repos: 1,
            issues: 40,
            pulls: 15,
            labels: 6,
            milestones: 3,
            comments: 3,
            reviews: 2,
            review_comments: 2,
        }
    }
}

/// A user.
#[derive(Debug, Clone)]
pub struct User {
    /// Its id (an int64 on GitHub).
    pub id: u64,
    /// Its login.
    pub login: String,
    /// Its name.
    pub name: String,
}

/// A repository.
#[derive(Debug, Clone)]
pub struct Repo {
    /// Its id (an int64 on GitHub).
    pub id: u64,
    /// The owner's login (the organization or a user).
    pub owner: String,
    /// Its name.
    pub name: String,
    /// Whether it is private.
    pub private: bool,
    /// Its description.
    pub description: Option<String>,
    /// Its main language.
    pub language: Option<String>,
    /// Its topics.
    pub topics: Vec<String>,
    /// When it was created (seconds since the epoch).
    pub created_at: i64,
    /// When it last changed (seconds since the epoch).
    pub updated_at: i64,
    /// When it was last pushed to.
    pub pushed_at: i64,
    /// Deleted repositories answer 404.
    pub deleted: bool,
    /// Where a transferred or renamed repository was (`owner/name`): those paths answer 301.
    pub old_names: Vec<String>,
}

/// A label of a repository.
#[derive(Debug, Clone)]
pub struct Label {
    /// Its id (an int64 on GitHub).
    pub id: u64,
    /// The repository's id.
    pub repo: u64,
    /// Its name.
    pub name: String,
    /// Its colour (hex, no `#`).
    pub color: String,
    /// Its description.
    pub description: Option<String>,
}

/// A milestone of a repository.
#[derive(Debug, Clone)]
pub struct Milestone {
    /// Its id (an int64 on GitHub).
    pub id: u64,
    /// The repository's id.
    pub repo: u64,
    /// Its number in the repository.
    pub number: u64,
    /// Its title.
    pub title: String,
    /// Whether it is open.
    pub open: bool,
    /// When it is due.
    pub due_on: Option<i64>,
    /// When it was created (seconds since the epoch).
    pub created_at: i64,
    /// When it last changed (seconds since the epoch).
    pub updated_at: i64,
}

/// What makes an issue a pull request.
#[derive(Debug, Clone)]
pub struct Pull {
    /// The head branch.
    pub head_ref: String,
    /// The base branch.
    pub base_ref: String,
    /// The repository the head branch is in (a fork, or the same repository).
    pub head_repo: u64,
    /// Whether it is a draft.
    pub draft: bool,
    /// When it was merged.
    pub merged_at: Option<i64>,
}

/// An issue or pull request.
#[derive(Debug, Clone)]
pub struct Issue {
    /// Its id (an int64 on GitHub).
    pub id: u64,
    /// The repository's id.
    pub repo: u64,
    /// Its number in the repository.
    pub number: u64,
    /// Its title.
    pub title: String,
    /// Its text.
    pub body: Option<String>,
    /// Whether it is open.
    pub open: bool,
    /// Who wrote it (a user id).
    pub author: u64,
    /// Who it is assigned to (user ids).
    pub assignees: Vec<u64>,
    /// Its labels (label ids).
    pub labels: Vec<u64>,
    /// Its milestone (by number).
    pub milestone: Option<u64>,
    /// When it was created (seconds since the epoch).
    pub created_at: i64,
    /// When it last changed (seconds since the epoch).
    pub updated_at: i64,
    /// When it was closed.
    pub closed_at: Option<i64>,
    /// The pull request (by number).
    pub pull: Option<Pull>,
    /// The pull request's own id (its `/pulls` object), distinct from the issue's.
    pub pull_id: u64,
}

/// A comment on an issue or pull request's conversation.
#[derive(Debug, Clone)]
pub struct Comment {
    /// Its id (an int64 on GitHub).
    pub id: u64,
    /// The repository's id.
    pub repo: u64,
    /// The issue or pull request it is on (by number).
    pub issue: u64,
    /// Who wrote it (a user id).
    pub author: u64,
    /// Its text.
    pub body: String,
    /// When it was created (seconds since the epoch).
    pub created_at: i64,
    /// When it last changed (seconds since the epoch).
    pub updated_at: i64,
}

/// A review of a pull request.
#[derive(Debug, Clone)]
pub struct Review {
    /// Its id (an int64 on GitHub).
    pub id: u64,
    /// The repository's id.
    pub repo: u64,
    /// The pull request (by number).
    pub pull: u64,
    /// Who wrote it (a user id).
    pub author: u64,
    /// `APPROVED`, `CHANGES_REQUESTED` or `COMMENTED`.
    pub state: &'static str,
    /// Its text.
    pub body: String,
    /// When it was submitted.
    pub submitted_at: i64,
}

/// A comment on a pull request's diff.
#[derive(Debug, Clone)]
pub struct ReviewComment {
    /// Its id (an int64 on GitHub).
    pub id: u64,
    /// The repository's id.
    pub repo: u64,
    /// The pull request (by number).
    pub pull: u64,
    /// The review it belongs to, if any.
    pub review: Option<u64>,
    /// Who wrote it (a user id).
    pub author: u64,
    /// Its text.
    pub body: String,
    /// The file it comments on.
    pub path: String,
    /// When it was created (seconds since the epoch).
    pub created_at: i64,
    /// When it last changed (seconds since the epoch).
    pub updated_at: i64,
}

/// Everything the fake serves.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The organization's login.
    pub org: String,
    /// The organization's id.
    pub org_id: u64,
    /// Users, the token's owner first.
    pub users: Vec<User>,
    /// Repositories, deleted ones kept (marked).
    pub repos: Vec<Repo>,
    /// Its labels (label ids).
    pub labels: Vec<Label>,
    /// Milestones.
    pub milestones: Vec<Milestone>,
    /// Issues and pull requests.
    pub issues: Vec<Issue>,
    /// Issue comments.
    pub comments: Vec<Comment>,
    /// Reviews.
    pub reviews: Vec<Review>,
    /// Review comments.
    pub review_comments: Vec<ReviewComment>,
    /// The clock, in seconds: every change happens a second after the one before.
    pub now: i64,
    next_id: u64,
}

const WORDS: &[&str] = &[
    "cache", "login", "timeout", "flaky", "test", "build", "deploy", "memory", "leak", "crash", "docs", "typo",
    "search", "index", "retry", "upload", "export", "import", "webhook", "token", "sync", "parser", "query", "theme",
];
const NAMES: &[&str] = &["Ada", "Grace", "Linus", "Ken", "Barbara", "Edsger", "Margaret", "Donald", "Frances", "Alan"];
const REVIEW_STATES: &[&str] = &["APPROVED", "CHANGES_REQUESTED", "COMMENTED"];

impl Dataset {
    /// Generates `size` from `seed`.
    pub fn generate(seed: u64, size: &Size) -> Dataset {
        let mut rng = Rng::new(seed);
        let mut data = Dataset {
            org: "acme-corp".into(),
            org_id: 9_000_001,
            users: Vec::new(),
            repos: Vec::new(),
            labels: Vec::new(),
            milestones: Vec::new(),
            issues: Vec::new(),
            comments: Vec::new(),
            reviews: Vec::new(),
            review_comments: Vec::new(),
            now: EPOCH,
            next_id: 1_000,
        };
        for i in 0..size.users.max(1) {
            let first = NAMES[i % NAMES.len()];
            let id = data.id();
            data.users.push(User {
                id,
                login: format!("{}-{i}", first.to_lowercase()),
                name: format!("{first} Example{i}"),
            });
        }
        let owners: Vec<String> = std::iter::repeat_n(data.org.clone(), size.org_repos)
            .chain(std::iter::repeat_n(data.users[0].login.clone(), size.user_repos))
            .collect();
        for (r, owner) in owners.into_iter().enumerate() {
            let repo = data.add_repo(&mut rng, owner, r);
            data.fill_repo(&mut rng, repo, size);
        }
        data
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// The next instant of the clock.
    fn tick(&mut self) -> i64 {
        self.now += 1;
        self.now
    }

    /// The instant of a change made now: the real time, as GitHub stamps changes (and its `Date`
    /// header agrees), or a second after the one before.
    fn tick_now(&mut self) -> i64 {
        let real = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        self.now = (self.now + 1).max(real);
        self.now
    }

    fn words(rng: &mut Rng, n: usize) -> String {
        (0..n).map(|_| *rng.pick(WORDS)).collect::<Vec<_>>().join(" ")
    }

    fn add_repo(&mut self, rng: &mut Rng, owner: String, index: usize) -> u64 {
        let id = self.id();
        let at = self.tick();
        self.repos.push(Repo {
            id,
            owner,
            name: format!("{}-{index}", rng.pick(&["api", "web", "cli", "infra", "docs"])),
            private: index % 2 == 1,
            description: (index % 3 != 2).then(|| format!("The {} service", Self::words(rng, 2))),
            language: Some(rng.pick(&["Rust", "Python", "TypeScript", "Go"]).to_string()),
            topics: vec![rng.pick(WORDS).to_string()],
            created_at: at,
            updated_at: at,
            pushed_at: at,
            deleted: false,
            old_names: Vec::new(),
        });
        id
    }

    fn fill_repo(&mut self, rng: &mut Rng, repo: u64, size: &Size) {
        let users = self.users.len() as u64;
        let user = |rng: &mut Rng, data: &Dataset| data.users[rng.below(users) as usize].id;
        for l in 0..size.labels {
            let id = self.id();
            let name = ["bug", "enhancement", "documentation", "question", "good first issue", "wontfix"]
                .get(l)
                .map_or_else(|| format!("area/{}", WORDS[l % WORDS.len()]), |n| n.to_string());
            self.labels.push(Label {
                id,
                repo,
                name,
                color: format!("{:06x}", rng.below(0xFF_FFFF)),
                description: (l % 2 == 0).then(|| format!("About {}", rng.pick(WORDS))),
            });
        }
        for m in 0..size.milestones {
            let id = self.id();
            let at = self.tick();
            self.milestones.push(Milestone {
                id,
                repo,
                number: m as u64 + 1,
                title: format!("v{}.{m}", rng.below(3) + 1),
                open: m + 1 == size.milestones,
                due_on: (m % 2 == 0).then_some(at + 86_400 * 30),
                created_at: at,
                updated_at: at,
            });
        }
        let repo_labels: Vec<u64> = self.labels.iter().filter(|l| l.repo == repo).map(|l| l.id).collect();
        let repo_milestones: Vec<u64> = self.milestones.iter().filter(|m| m.repo == repo).map(|m| m.number).collect();
        for n in 0..size.issues + size.pulls {
            let id = self.id();
            let at = self.tick();
            let is_pull =
                n % ((size.issues + size.pulls) / size.pulls.max(1)).max(1) == 0 && self.pulls_of(repo) < size.pulls;
            let open = rng.below(3) != 0;
            let pull = is_pull.then(|| Pull {
                head_ref: format!("feature/{}", rng.pick(WORDS)),
                base_ref: "main".into(),
                head_repo: repo,
                draft: rng.below(5) == 0,
                merged_at: (!open && rng.below(2) == 0).then_some(at + 3_600),
            });
            let labels = repo_labels.iter().copied().filter(|_| rng.below(3) == 0).collect();
            let assignees = (0..rng.below(3)).map(|_| user(rng, self)).collect::<std::collections::BTreeSet<_>>();
            let issue = Issue {
                id,
                repo,
                number: n as u64 + 1,
                title: format!("{} {}", if is_pull { "Fix" } else { "Bug:" }, Self::words(rng, 3)),
                body: (rng.below(4) != 0).then(|| format!("It {} when {}.", Self::words(rng, 2), Self::words(rng, 3))),
                open,
                author: user(rng, self),
                assignees: assignees.into_iter().collect(),
                labels,
                milestone: (!repo_milestones.is_empty() && rng.below(2) == 0).then(|| *rng.pick(&repo_milestones)),
                created_at: at,
                updated_at: at,
                closed_at: (!open).then_some(at + 7_200),
                pull,
                pull_id: if is_pull { self.id() } else { 0 },
            };
            let number = issue.number;
            self.issues.push(issue);
            for _ in 0..rng.below(size.comments as u64 + 1) {
                let (id, at) = (self.id(), self.tick());
                let author = user(rng, self);
                let body = format!("Looks like {}.", Self::words(rng, 3));
                self.comments.push(Comment { id, repo, issue: number, author, body, created_at: at, updated_at: at });
            }
            if is_pull {
                for _ in 0..rng.below(size.reviews as u64 + 1) {
                    let (id, at) = (self.id(), self.tick());
                    let author = user(rng, self);
                    let state = *rng.pick(REVIEW_STATES);
                    let body = format!("Reviewed: {}", Self::words(rng, 2));
                    self.reviews.push(Review { id, repo, pull: number, author, state, body, submitted_at: at });
                }
                for _ in 0..rng.below(size.review_comments as u64 + 1) {
                    let (id, at) = (self.id(), self.tick());
                    let review = self.reviews.iter().rev().find(|r| r.repo == repo && r.pull == number).map(|r| r.id);
                    let author = user(rng, self);
                    let body = format!("Nit: {}", Self::words(rng, 2));
                    let path = format!("src/{}.rs", rng.pick(WORDS));
                    self.review_comments.push(ReviewComment {
                        id,
                        repo,
                        pull: number,
                        review,
                        author,
                        body,
                        path,
                        created_at: at,
                        updated_at: at,
                    });
                }
            }
        }
    }

    fn pulls_of(&self, repo: u64) -> usize {
        self.issues.iter().filter(|i| i.repo == repo && i.pull.is_some()).count()
    }

    /// The user with this id.
    pub fn user(&self, id: u64) -> &User {
        self.users.iter().find(|u| u.id == id).expect("issues name existing users")
    }

    /// The user with this login.
    pub fn user_by_login(&self, login: &str) -> Option<&User> {
        self.users.iter().find(|u| u.login.eq_ignore_ascii_case(login))
    }

    /// The live repository at `owner/name` (case-insensitive, as GitHub).
    pub fn repo(&self, owner: &str, name: &str) -> Option<&Repo> {
        self.repos
            .iter()
            .find(|r| !r.deleted && r.owner.eq_ignore_ascii_case(owner) && r.name.eq_ignore_ascii_case(name))
    }

    /// The repository that was at `owner/name` before a transfer or rename.
    pub fn moved_from(&self, owner: &str, name: &str) -> Option<&Repo> {
        let full = format!("{owner}/{name}").to_lowercase();
        self.repos.iter().find(|r| !r.deleted && r.old_names.iter().any(|n| n.to_lowercase() == full))
    }

    /// How many objects of each kind there are (live repositories' only).
    pub fn counts(&self) -> std::collections::BTreeMap<&'static str, usize> {
        let live: std::collections::BTreeSet<u64> = self.repos.iter().filter(|r| !r.deleted).map(|r| r.id).collect();
        let in_live = |repo: &u64| live.contains(repo);
        std::collections::BTreeMap::from([
            ("Repository", live.len()),
            ("User", self.users.len()),
            ("Label", self.labels.iter().filter(|l| in_live(&l.repo)).count()),
            ("Milestone", self.milestones.iter().filter(|m| in_live(&m.repo)).count()),
            ("Issue", self.issues.iter().filter(|i| in_live(&i.repo) && i.pull.is_none()).count()),
            ("PullRequest", self.issues.iter().filter(|i| in_live(&i.repo) && i.pull.is_some()).count()),
            ("IssueComment", self.comments.iter().filter(|c| in_live(&c.repo)).count()),
            ("Review", self.reviews.iter().filter(|r| in_live(&r.repo)).count()),
            ("ReviewComment", self.review_comments.iter().filter(|c| in_live(&c.repo)).count()),
        ])
    }

    /// Applies one change; an error says what was wrong with it.
    pub fn apply(&mut self, mutation: Mutation) -> Result<Value, String> {
        let at = self.tick_now();
        let repo_id = |data: &Dataset, full: &str| {
            let (owner, name) = full.split_once('/').ok_or_else(|| format!("`{full}` is not owner/name"))?;
            data.repo(owner, name).map(|r| r.id).ok_or_else(|| format!("no repository {full}"))
        };
        match mutation {
            Mutation::EditIssue { repo, number, title, state } => {
                let repo = repo_id(self, &repo)?;
                let issue = self
                    .issues
                    .iter_mut()
                    .find(|i| i.repo == repo && i.number == number)
                    .ok_or_else(|| format!("no issue #{number}"))?;
                if let Some(title) = title {
                    issue.title = title;
                }
                if let Some(state) = state {
                    issue.open = state == "open";
                    issue.closed_at = (!issue.open).then_some(at);
                }
                issue.updated_at = at;
                Ok(json!({"number": number, "updated_at": iso(at)}))
            }
            Mutation::AddComment { repo, number, body } => {
                let repo = repo_id(self, &repo)?;
                let author = self.users[0].id;
                let id = self.id();
                let issue = self
                    .issues
                    .iter_mut()
                    .find(|i| i.repo == repo && i.number == number)
                    .ok_or_else(|| format!("no issue #{number}"))?;
                issue.updated_at = at;
                self.comments.push(Comment { id, repo, issue: number, author, body, created_at: at, updated_at: at });
                Ok(json!({"id": id}))
            }
            Mutation::AddReview { repo, number, state, body } => {
                let repo = repo_id(self, &repo)?;
                let author = self.users[0].id;
                let id = self.id();
                let pull = self
                    .issues
                    .iter_mut()
                    .find(|i| i.repo == repo && i.number == number && i.pull.is_some())
                    .ok_or_else(|| format!("no pull request #{number}"))?;
                pull.updated_at = at;
                let state = REVIEW_STATES
                    .iter()
                    .copied()
                    .find(|s| *s == state)
                    .ok_or_else(|| format!("no review state {state}"))?;
                self.reviews.push(Review { id, repo, pull: number, author, state, body, submitted_at: at });
                Ok(json!({"id": id}))
            }
            Mutation::DeleteLabel { repo, name } => {
                let repo = repo_id(self, &repo)?;
                let label = self
                    .labels
                    .iter()
                    .find(|l| l.repo == repo && l.name == name)
                    .map(|l| l.id)
                    .ok_or_else(|| format!("no label {name}"))?;
                // GitHub takes a deleted label off its issues without touching their `updated_at`.
                self.labels.retain(|l| l.id != label);
                for issue in &mut self.issues {
                    issue.labels.retain(|l| *l != label);
                }
                Ok(json!({"deleted": label}))
            }
            Mutation::CreateRepo { name } => {
                let mut rng = Rng::new(self.next_id);
                let owner = self.org.clone();
                let index = self.repos.len();
                let id = self.add_repo(&mut rng, owner, index);
                if let Some(repo) = self.repos.iter_mut().find(|r| r.id == id) {
                    repo.name = name;
                }
                let size = Size { issues: 4, pulls: 2, labels: 2, milestones: 1, ..Size::default() };
                self.fill_repo(&mut rng, id, &size);
                Ok(json!({"id": id}))
            }
            Mutation::DeleteComment { id } => {
                let before = self.comments.len();
                self.comments.retain(|c| c.id != id);
                if before == self.comments.len() {
                    return Err(format!("no comment {id}"));
                }
                Ok(json!({"deleted": id}))
            }
            Mutation::DeleteRepo { repo } => {
                let id = repo_id(self, &repo)?;
                if let Some(r) = self.repos.iter_mut().find(|r| r.id == id) {
                    r.deleted = true;
                }
                Ok(json!({"deleted": repo}))
            }
            Mutation::TransferRepo { repo, to, name } => {
                let id = repo_id(self, &repo)?;
                let target = self.repos.iter_mut().find(|r| r.id == id).expect("found above");
                target.old_names.push(format!("{}/{}", target.owner, target.name));
                target.owner = to;
                if let Some(name) = name {
                    target.name = name;
                }
                target.updated_at = at;
                Ok(json!({"full_name": format!("{}/{}", target.owner, target.name)}))
            }
        }
    }
}

/// A change between syncs (`POST /_fake/mutate`), as JSON `{"op": "edit_issue", …}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Mutation {
    /// Retitles, closes or reopens an issue or pull request.
    EditIssue {
        /// `owner/name`.
        repo: String,
        /// The issue's number.
        number: u64,
        /// A new title.
        title: Option<String>,
        /// `open` or `closed`.
        state: Option<String>,
    },
    /// Comments on an issue or pull request as the token's owner.
    AddComment {
        /// `owner/name`.
        repo: String,
        /// The issue's number.
        number: u64,
        /// The comment.
        body: String,
    },
    /// Reviews a pull request as the token's owner.
    AddReview {
        /// `owner/name`.
        repo: String,
        /// The pull request's number.
        number: u64,
        /// `APPROVED`, `CHANGES_REQUESTED` or `COMMENTED`.
        state: String,
        /// The review's text.
        body: String,
    },
    /// Deletes a label (taken off its issues, which don't count as updated).
    DeleteLabel {
        /// `owner/name`.
        repo: String,
        /// The label's name.
        name: String,
    },
    /// Creates a repository in the organization, with a few issues, pull requests and labels.
    CreateRepo {
        /// Its name.
        name: String,
    },
    /// Deletes an issue comment (GitHub lists no deletions: it is simply gone).
    DeleteComment {
        /// The comment's id.
        id: u64,
    },
    /// Deletes a repository: its paths answer 404.
    DeleteRepo {
        /// `owner/name`.
        repo: String,
    },
    /// Moves a repository to another owner (and name): its old paths answer 301 to its new ones.
    TransferRepo {
        /// `owner/name`.
        repo: String,
        /// The new owner's login.
        to: String,
        /// A new name.
        name: Option<String>,
    },
}

/// Seconds since the epoch as GitHub writes instants: `2011-04-22T13:33:48Z`.
pub fn iso(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0).map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string()).unwrap_or_default()
}

/// An ISO 8601 instant (`since=`) as seconds since the epoch.
pub fn parse_iso(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text).ok().map(|t| t.timestamp())
}
