"""GitHub's data model in Max: each entity type as a table of columns, and the functions that turn the
REST API's JSON objects into rows of them.

Ids are what GitHub users write: a repository is `owner/name`, an issue or a pull request
`owner/name#12` (a pull request is an issue on GitHub: both tables hold one row under that id), so
references from comments, which only name the number, resolve. Labels, milestones, reviews and users
keep GitHub's numeric ids; comments (issue and review comments come from two id spaces) their
`node_id`s.
"""

from typing import Any, Dict, List, Optional

from max_connector import Column, Kind, Table


def col(field: str, kind, doc: str = "") -> Column:
    return Column(field, kind, doc=doc)


USER = Table("User", "A GitHub account: a person, a bot or an organization", [
    col("login", Kind.TEXT, "The handle (`octocat`)").searchable(5),
    col("type", Kind.TEXT, "`User`, `Bot` or `Organization`"),
    col("siteAdmin", Kind.BOOLEAN),
    col("avatarUrl", Kind.TEXT),
    col("url", Kind.TEXT, "Its page on github.com"),
])

REPOSITORY = Table("Repository", "A repository (id `owner/name`)", [
    col("fullName", Kind.TEXT, "`owner/name`").searchable(5),
    col("name", Kind.TEXT),
    col("owner", Kind.ref("User")),
    col("description", Kind.TEXT).searchable(2),
    col("private", Kind.BOOLEAN),
    col("visibility", Kind.TEXT, "`public`, `private` or `internal`"),
    col("fork", Kind.BOOLEAN),
    col("archived", Kind.BOOLEAN),
    col("defaultBranch", Kind.TEXT),
    col("language", Kind.TEXT),
    col("topics", Kind.JSON),
    col("stars", Kind.INTEGER),
    col("forks", Kind.INTEGER),
    col("openIssues", Kind.INTEGER, "Open issues and pull requests"),
    col("url", Kind.TEXT, "Its page on github.com"),
    col("githubId", Kind.INTEGER, "GitHub's numeric id"),
    col("createdAt", Kind.DATETIME),
    col("updatedAt", Kind.DATETIME),
    col("pushedAt", Kind.DATETIME),
])

LABEL = Table("Label", "A label of a repository", [
    col("repository", Kind.ref("Repository")),
    col("name", Kind.TEXT).searchable(5),
    col("description", Kind.TEXT).searchable(1),
    col("color", Kind.TEXT, "Hex, without `#`"),
    col("default", Kind.BOOLEAN),
])

MILESTONE = Table("Milestone", "A milestone of a repository", [
    col("repository", Kind.ref("Repository")),
    col("number", Kind.INTEGER),
    col("title", Kind.TEXT).searchable(5),
    col("description", Kind.TEXT).searchable(1),
    col("state", Kind.TEXT, "`open` or `closed`"),
    col("openIssues", Kind.INTEGER),
    col("closedIssues", Kind.INTEGER),
    col("dueOn", Kind.DATETIME),
    col("createdAt", Kind.DATETIME),
    col("updatedAt", Kind.DATETIME),
    col("closedAt", Kind.DATETIME),
])

ISSUE = Table("Issue", "An issue, or a pull request's conversation: every pull request is an issue on GitHub "
              "(`isPullRequest`); id `owner/name#number`", [
    col("repository", Kind.ref("Repository")),
    col("number", Kind.INTEGER),
    col("title", Kind.TEXT).searchable(5),
    col("body", Kind.TEXT).searchable(1),
    col("state", Kind.TEXT, "`open` or `closed`"),
    col("stateReason", Kind.TEXT, "`completed`, `not_planned` or `reopened`"),
    col("author", Kind.ref("User")),
    col("assignees", Kind.collection("User")),
    col("labels", Kind.collection("Label")),
    col("milestone", Kind.ref("Milestone")),
    col("commentCount", Kind.INTEGER),
    col("locked", Kind.BOOLEAN),
    col("isPullRequest", Kind.BOOLEAN),
    col("pullRequest", Kind.ref("PullRequest"), "The pull request, when it is one"),
    col("authorAssociation", Kind.TEXT, "`OWNER`, `MEMBER`, `CONTRIBUTOR`, …"),
    col("url", Kind.TEXT, "Its page on github.com"),
    col("githubId", Kind.INTEGER, "GitHub's numeric id"),
    col("createdAt", Kind.DATETIME),
    col("updatedAt", Kind.DATETIME),
    col("closedAt", Kind.DATETIME),
])

PULL_REQUEST = Table("PullRequest", "A pull request (id `owner/name#number`, as its issue's)", [
    col("repository", Kind.ref("Repository")),
    col("number", Kind.INTEGER),
    col("title", Kind.TEXT).searchable(5),
    col("body", Kind.TEXT).searchable(1),
    col("state", Kind.TEXT, "`open` or `closed`"),
    col("draft", Kind.BOOLEAN),
    col("merged", Kind.BOOLEAN),
    col("mergedAt", Kind.DATETIME),
    col("mergeCommitSha", Kind.TEXT),
    col("author", Kind.ref("User")),
    col("assignees", Kind.collection("User")),
    col("requestedReviewers", Kind.collection("User")),
    col("labels", Kind.collection("Label")),
    col("milestone", Kind.ref("Milestone")),
    col("headRef", Kind.TEXT, "The branch with the changes"),
    col("headSha", Kind.TEXT),
    col("headRepository", Kind.ref("Repository"), "Where the head branch is (a fork's may be outside the sync)"),
    col("baseRef", Kind.TEXT, "The branch it merges into"),
    col("baseSha", Kind.TEXT),
    col("baseRepository", Kind.ref("Repository")),
    col("issue", Kind.ref("Issue"), "Its conversation"),
    col("authorAssociation", Kind.TEXT),
    col("url", Kind.TEXT, "Its page on github.com"),
    col("githubId", Kind.INTEGER, "GitHub's numeric id (not its issue's)"),
    col("createdAt", Kind.DATETIME),
    col("updatedAt", Kind.DATETIME),
    col("closedAt", Kind.DATETIME),
])

REVIEW = Table("Review", "A review of a pull request", [
    col("pullRequest", Kind.ref("PullRequest")),
    col("author", Kind.ref("User")),
    col("state", Kind.TEXT, "`APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, `DISMISSED` or `PENDING`"),
    col("body", Kind.TEXT).searchable(1),
    col("commitId", Kind.TEXT, "The commit it reviewed"),
    col("url", Kind.TEXT),
    col("submittedAt", Kind.DATETIME),
])

COMMENT = Table("Comment", "A comment: on an issue's or pull request's conversation (`kind` `issue`), or on a "
                "pull request's diff (`review`)", [
    col("kind", Kind.TEXT, "`issue` or `review`"),
    col("repository", Kind.ref("Repository")),
    col("issue", Kind.ref("Issue"), "The conversation an `issue` comment is in"),
    col("pullRequest", Kind.ref("PullRequest"), "The pull request a `review` comment is on"),
    col("review", Kind.ref("Review"), "The review a `review` comment belongs to"),
    col("path", Kind.TEXT, "The file a `review` comment is on"),
    col("author", Kind.ref("User")),
    col("body", Kind.TEXT).searchable(1),
    col("authorAssociation", Kind.TEXT),
    col("url", Kind.TEXT),
    col("githubId", Kind.INTEGER, "GitHub's numeric id (issue and review comments count apart)"),
    col("createdAt", Kind.DATETIME),
    col("updatedAt", Kind.DATETIME),
])

TABLES = [USER, REPOSITORY, LABEL, MILESTONE, ISSUE, PULL_REQUEST, REVIEW, COMMENT]


def object_of(value: Any) -> Dict[str, Any]:
    """`value` when it is a JSON object, else an empty one (GitHub nulls nested objects freely)."""
    return value if isinstance(value, dict) else {}


def number_in(url: Any) -> Optional[int]:
    """The issue or pull request number at the end of an API URL (`…/issues/12` → 12)."""
    tail = str(url or "").rstrip("/").rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else None


def issue_id(repo: str, number: Any) -> Optional[str]:
    """`owner/name#12`."""
    return None if number is None else f"{repo}#{number}"


class Rows:
    """Rows gathered from API objects: each table's batch, and the users embedded along the way
    (each once)."""

    def __init__(self) -> None:
        self.batches: Dict[str, Any] = {}
        self.ids: Dict[str, set] = {}
        self.users: Dict[str, Dict[str, Any]] = {}

    def add(self, table: Table, row: Dict[str, Any]) -> None:
        """Adds a row, unless one with its id is in already (two lists of one call can name the same
        issue: a batch holds each id once)."""
        if table.entity not in self.batches:
            self.batches[table.entity] = table.batch()
            self.ids[table.entity] = set()
        if row["id"] in self.ids[table.entity]:
            return
        self.ids[table.entity].add(row["id"])
        table.push(self.batches[table.entity], row)

    def user(self, value: Any) -> Optional[str]:
        """Remembers an embedded user and returns its id (None for a missing one, a ghost)."""
        obj = object_of(value)
        if obj.get("id") is None:
            return None
        id = str(obj["id"])
        if id not in self.users:
            self.users[id] = {
                "id": id,
                "login": obj.get("login"),
                "type": obj.get("type"),
                "siteAdmin": obj.get("site_admin"),
                "avatarUrl": obj.get("avatar_url"),
                "url": obj.get("html_url"),
            }
        return id

    def count(self, entity: str) -> int:
        batch = self.batches.get(entity)
        return len(batch) if batch is not None else 0

    def all(self, without: Optional[str] = None) -> List[Any]:
        """Every batch (the users' last), leaving out `without`'s."""
        out = [b for e, b in self.batches.items() if e != without]
        if self.users:
            users = USER.batch()
            for row in self.users.values():
                USER.push(users, row)
            out.append(users)
        return out

    # -- one function per kind of API object ------------------------------------------------------

    def repository(self, r: Dict[str, Any]) -> str:
        full = str(r.get("full_name") or "")
        self.add(REPOSITORY, {
            "id": full,
            "fullName": full,
            "name": r.get("name"),
            "owner": self.user(r.get("owner")),
            "description": r.get("description"),
            "private": r.get("private"),
            "visibility": r.get("visibility"),
            "fork": r.get("fork"),
            "archived": r.get("archived"),
            "defaultBranch": r.get("default_branch"),
            "language": r.get("language"),
            "topics": r.get("topics"),
            "stars": r.get("stargazers_count"),
            "forks": r.get("forks_count"),
            "openIssues": r.get("open_issues_count"),
            "url": r.get("html_url"),
            "githubId": r.get("id"),
            "createdAt": r.get("created_at"),
            "updatedAt": r.get("updated_at"),
            "pushedAt": r.get("pushed_at"),
        })
        return full

    def label(self, repo: str, l: Dict[str, Any]) -> str:
        id = str(l.get("id"))
        self.add(LABEL, {
            "id": id,
            "repository": repo,
            "name": l.get("name"),
            "description": l.get("description"),
            "color": l.get("color"),
            "default": l.get("default"),
        })
        return id

    def milestone(self, repo: str, m: Dict[str, Any]) -> str:
        id = str(m.get("id"))
        self.add(MILESTONE, {
            "id": id,
            "repository": repo,
            "number": m.get("number"),
            "title": m.get("title"),
            "description": m.get("description"),
            "state": m.get("state"),
            "openIssues": m.get("open_issues"),
            "closedIssues": m.get("closed_issues"),
            "dueOn": m.get("due_on"),
            "createdAt": m.get("created_at"),
            "updatedAt": m.get("updated_at"),
            "closedAt": m.get("closed_at"),
        })
        return id

    def _labels(self, repo: str, labels: Any) -> List[str]:
        # Label objects (strings, names only, are an older form without ids: left out).
        return [self.label(repo, l) for l in labels or [] if isinstance(l, dict) and l.get("id") is not None]

    def _milestone(self, repo: str, m: Any) -> Optional[str]:
        return self.milestone(repo, m) if isinstance(m, dict) and m.get("id") is not None else None

    def _users(self, users: Any) -> List[str]:
        return [id for id in (self.user(u) for u in users or []) if id is not None]

    def issue(self, repo: str, i: Dict[str, Any]) -> str:
        """An issue (pull requests' conversations too); returns its id."""
        id = issue_id(repo, i.get("number"))
        is_pull = isinstance(i.get("pull_request"), dict)
        self.add(ISSUE, {
            "id": id,
            "repository": repo,
            "number": i.get("number"),
            "title": i.get("title"),
            "body": i.get("body"),
            "state": i.get("state"),
            "stateReason": i.get("state_reason"),
            "author": self.user(i.get("user")),
            "assignees": self._users(i.get("assignees")),
            "labels": self._labels(repo, i.get("labels")),
            "milestone": self._milestone(repo, i.get("milestone")),
            "commentCount": i.get("comments"),
            "locked": i.get("locked"),
            "isPullRequest": is_pull,
            "pullRequest": id if is_pull else None,
            "authorAssociation": i.get("author_association"),
            "url": i.get("html_url"),
            "githubId": i.get("id"),
            "createdAt": i.get("created_at"),
            "updatedAt": i.get("updated_at"),
            "closedAt": i.get("closed_at"),
        })
        return id

    def pull(self, repo: str, p: Dict[str, Any]) -> str:
        id = issue_id(repo, p.get("number"))
        head, base = object_of(p.get("head")), object_of(p.get("base"))
        self.add(PULL_REQUEST, {
            "id": id,
            "repository": repo,
            "number": p.get("number"),
            "title": p.get("title"),
            "body": p.get("body"),
            "state": p.get("state"),
            "draft": p.get("draft"),
            "merged": p.get("merged") if isinstance(p.get("merged"), bool) else p.get("merged_at") is not None,
            "mergedAt": p.get("merged_at"),
            "mergeCommitSha": p.get("merge_commit_sha"),
            "author": self.user(p.get("user")),
            "assignees": self._users(p.get("assignees")),
            "requestedReviewers": self._users(p.get("requested_reviewers")),
            "labels": self._labels(repo, p.get("labels")),
            "milestone": self._milestone(repo, p.get("milestone")),
            "headRef": head.get("ref"),
            "headSha": head.get("sha"),
            "headRepository": object_of(head.get("repo")).get("full_name"),
            "baseRef": base.get("ref"),
            "baseSha": base.get("sha"),
            "baseRepository": object_of(base.get("repo")).get("full_name") or repo,
            "issue": id,
            "authorAssociation": p.get("author_association"),
            "url": p.get("html_url"),
            "githubId": p.get("id"),
            "createdAt": p.get("created_at"),
            "updatedAt": p.get("updated_at"),
            "closedAt": p.get("closed_at"),
        })
        return id

    def review(self, pull: str, r: Dict[str, Any]) -> str:
        id = str(r.get("id"))
        self.add(REVIEW, {
            "id": id,
            "pullRequest": pull,
            "author": self.user(r.get("user")),
            "state": r.get("state"),
            "body": r.get("body"),
            "commitId": r.get("commit_id"),
            "url": r.get("html_url"),
            "submittedAt": r.get("submitted_at"),
        })
        return id

    def issue_comment(self, repo: str, c: Dict[str, Any]) -> str:
        id = str(c.get("node_id") or f"issue-comment-{c.get('id')}")
        self.add(COMMENT, {
            "id": id,
            "kind": "issue",
            "repository": repo,
            "issue": issue_id(repo, number_in(c.get("issue_url"))),
            "author": self.user(c.get("user")),
            "body": c.get("body"),
            "authorAssociation": c.get("author_association"),
            "url": c.get("html_url"),
            "githubId": c.get("id"),
            "createdAt": c.get("created_at"),
            "updatedAt": c.get("updated_at"),
        })
        return id

    def review_comment(self, repo: str, c: Dict[str, Any]) -> str:
        id = str(c.get("node_id") or f"review-comment-{c.get('id')}")
        review = c.get("pull_request_review_id")
        self.add(COMMENT, {
            "id": id,
            "kind": "review",
            "repository": repo,
            "pullRequest": issue_id(repo, number_in(c.get("pull_request_url"))),
            "review": None if review is None else str(review),
            "path": c.get("path"),
            "author": self.user(c.get("user")),
            "body": c.get("body"),
            "authorAssociation": c.get("author_association"),
            "url": c.get("html_url"),
            "githubId": c.get("id"),
            "createdAt": c.get("created_at"),
            "updatedAt": c.get("updated_at"),
        })
        return id
