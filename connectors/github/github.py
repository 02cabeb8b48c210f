"""The GitHub connector, in Python on Max's SDK: repositories, issues, pull requests, reviews, comments,
labels, milestones and users from GitHub's REST API (`https://api.github.com`, or GitHub Enterprise
Server's `https://HOST/api/v3`), with a classic or fine-grained personal access token.

A sync lists the repositories chosen at `max connect` (every repository of an organization, the
token owner's own, or single ones), then follows each repository's change feed (`feed.py`): all of it
the first time, what changed since after that, with conditional requests that GitHub doesn't count
when nothing changed. A repository no longer listed (deleted, transferred away, out of the token's
reach) is deleted with everything in it. `max sync github --full` also lists every repository's
contents anew, which is how issues and comments deleted on GitHub (which no list reports) go.
"""

from typing import List, Optional

from max_connector import (
    Batch,
    ChangePage,
    Config,
    Connector,
    ConnectorError,
    ConnectorInfo,
    EntityRef,
    InvalidInput,
    Loader,
    NotFound,
    Onboarding,
    Operation,
    Page,
    Permissions,
    Schema,
    SeedState,
    SyncPlan,
    Target,
    Value,
)
from max_connector.http import encode_query

from api import PER_PAGE, Api, json_list, json_object
from feed import RepositoryFeed
from model import COMMENT, ISSUE, LABEL, MILESTONE, PULL_REQUEST, REPOSITORY, REVIEW, USER, Rows

VERSION = "0.1.0"
ROOT, ROOT_ID = "Account", "github"
DEFAULT_BASE_URL = "https://api.github.com"
#: Repositories offered one by one at `max connect` (beyond that, choose their organization).
MOST_REPOSITORY_OPTIONS = 1000

#: Collection loaders of a repository: (loader, field, item table, path under the repository).
REPOSITORY_LISTS = [
    ("repository-issues", "issues", ISSUE, "/issues?state=all&sort=created&direction=asc"),
    ("repository-pull-requests", "pullRequests", PULL_REQUEST, "/pulls?state=all&sort=created&direction=asc"),
    ("repository-labels", "labels", LABEL, "/labels?"),
    ("repository-milestones", "milestones", MILESTONE, "/milestones?state=all"),
    ("repository-comments", "comments", COMMENT, "/issues/comments?sort=created&direction=asc"),
]
#: Review comments continue the `comments` listing after the issue comments.
REVIEW_COMMENTS = "/pulls/comments?sort=created&direction=asc"


class GitHub(Connector):
    def __init__(self, config: Config) -> None:
        super().__init__(config)
        base = (config.get("base_url") or DEFAULT_BASE_URL).rstrip("/")
        if not base.startswith(("https://", "http://")):
            raise InvalidInput(f"base_url `{base}` must start with https://")
        self.api = Api(base, f"max-github-connector/{VERSION}")
        size = config.get("page_size") or ""
        if not size:
            self.per_page = PER_PAGE
        elif size.isdigit() and 1 <= int(size) <= PER_PAGE:
            self.per_page = int(size)
        else:
            raise InvalidInput(f"page_size `{size}`: a number from 1 to {PER_PAGE}")
        self.scopes = [s.strip() for s in (config.get("repositories") or "").split(",") if s.strip()]
        for scope in self.scopes:
            kind, _, name = scope.partition(":")
            if kind not in ("org", "user", "repo") or not name:
                raise InvalidInput(f"repositories: `{scope}` is not org:NAME, user:LOGIN or repo:OWNER/NAME")

    @staticmethod
    def describe() -> ConnectorInfo:
        def repository(e):
            REPOSITORY.declare(e)
            for _, field, table, _ in REPOSITORY_LISTS:
                e.collection(field, table.entity).owns(field)
            return e

        schema = (
            Schema()
            .entity(ROOT, lambda e: e.describe("The repositories the sync chose").collection("repositories", "Repository").owns("repositories"))
            .entity("Repository", repository)
            .entity("User", USER.declare)
            .entity("Label", LABEL.declare)
            .entity("Milestone", MILESTONE.declare)
            .entity("Issue", ISSUE.declare)
            .entity("PullRequest", lambda e: PULL_REQUEST.declare(e).collection("reviews", "Review").owns("reviews"))
            .entity("Review", REVIEW.declare)
            .entity("Comment", COMMENT.declare)
            .root(ROOT, ROOT_ID)
        )
        info = ConnectorInfo("github", VERSION, "GitHub: repositories, issues, pull requests, reviews, comments", schema)
        info.loader(
            Loader.collection("repositories", ROOT, "repositories", "Repository", PER_PAGE)
            .describe("The chosen repositories: GET /orgs/{org}/repos, /user/repos, /repos/{owner}/{repo}")
        )
        for loader, field, table, path in REPOSITORY_LISTS:
            info.loader(
                Loader.collection(loader, "Repository", field, table.entity, PER_PAGE)
                .parent_field("repository")
                .describe(
                    f"GET /repos/{{owner}}/{{repo}}{path.rstrip('?')}"
                    + (", then /pulls/comments" if field == "comments" else "")
                    + " (`--full` only)"
                )
            )
        info.loader(
            Loader.collection("pull-request-reviews", "PullRequest", "reviews", "Review", PER_PAGE)
            .parent_field("pullRequest")
            .describe("GET /repos/{owner}/{repo}/pulls/{number}/reviews (`--full` only)")
        )
        info.loader(
            Loader.change_feed("repository-changes", "Issue")
            .per("Repository")
            .describe("Everything in a repository the first time, then what changed since (conditional requests)")
        )
        return (
            info.onboarding(
                Onboarding()
                .secret("token", "GitHub personal access token")
                .help(
                    "A fine-grained token with read access to Metadata, Issues and Pull requests of the "
                    "repositories to sync, or a classic token with the `repo` scope (`public_repo` for public "
                    "ones) and `read:org`. Create one at https://github.com/settings/tokens"
                )
                .input("base_url", "GitHub API URL", DEFAULT_BASE_URL)
                .help("https://HOST/api/v3 for GitHub Enterprise Server")
                .validate("Checking the token with GitHub")
                .select("repositories", "Repositories to sync", dynamic=True, multiple=True)
                .help("Organizations (every repository, present and future), your own repositories, or single "
                      "ones; none chosen: every repository the token can read")
                .input("page_size", "Items per request", str(PER_PAGE))
                .help("GitHub sends at most 100; fewer make more requests, each quicker")
                .optional()
            )
            .permissions(Permissions().host("api.github.com").bearer("token").base_url_key("base_url"))
        )

    # -- onboarding ------------------------------------------------------------------------------

    def validate(self) -> str:
        response = self.api.get("/user")
        user = json_object(response, "the token's user")
        login = user.get("login") or "?"
        name = f" ({user['name']})" if user.get("name") else ""
        scopes = response.header("x-oauth-scopes")
        if scopes is None:
            access = "a fine-grained token (its access is per repository)"
        elif scopes.strip():
            access = f"a classic token with scopes {scopes.strip()}"
        else:
            access = "a classic token with no scopes (public data only)"
        return f"{login}{name} with {access} at {self.api.base}"

    def select_options(self, key: str) -> List[tuple]:
        if key != "repositories":
            raise InvalidInput(f"no dynamic select step named `{key}`")
        login = json_object(self.api.get("/user"), "the token's user").get("login") or ""
        options = [(f"user:{login}", f"{login}: every repository you own")]
        for org in self.all_pages(f"/user/orgs?per_page={PER_PAGE}", limit=10):
            name = org.get("login")
            if name:
                options.append((f"org:{name}", f"{name}: every repository of the organization"))
        repos = self.all_pages(f"/user/repos?sort=full_name&per_page={PER_PAGE}", limit=MOST_REPOSITORY_OPTIONS // PER_PAGE)
        for repo in repos:
            full = repo.get("full_name")
            if full:
                options.append((f"repo:{full}", f"{full}{' (private)' if repo.get('private') else ''}"))
        return options

    def all_pages(self, path: str, limit: int) -> List[dict]:
        """The objects of a list, following `Link` for at most `limit` pages."""
        out: List[dict] = []
        url: Optional[str] = path
        for _ in range(limit):
            if url is None:
                break
            response = self.api.get(url)
            out.extend(o for o in json_list(response, path) if isinstance(o, dict))
            url = response.link_next()
        return out

    # -- syncs -----------------------------------------------------------------------------------

    def seed(self, state: SeedState) -> SyncPlan:
        """Every sync lists the chosen repositories (a repository no longer listed goes, with what it
        holds) and follows each one's change feed. A full sync after an earlier one also lists every
        repository's contents anew: the only way issues and comments deleted on GitHub go."""
        plan = (
            SyncPlan()
            .then(Target.ROOT, Operation.collection("repositories"))
            .then(Target.all("Repository"), Operation.changes("repository-changes"))
        )
        if state.full and state.last_completed_sync is not None:
            plan.together([(Target.all("Repository"), Operation.collection(field)) for _, field, _, _ in REPOSITORY_LISTS])
            plan.then(Target.all("PullRequest"), Operation.collection("reviews"))
        return plan

    def load_page(self, loader: str, parent: EntityRef, cursor: Optional[str]) -> Page:
        if loader == "repositories":
            return self.repositories_page(cursor)
        if loader == "pull-request-reviews":
            repo, _, number = parent.id.rpartition("#")
            RepositoryFeed(self.api, repo)  # checks the id
            url = cursor or f"/repos/{repo}/pulls/{number}/reviews?per_page={self.per_page}"
            return self.list_page(url, REVIEW.entity, lambda rows, item: rows.review(parent.id, item))
        spec = next((s for s in REPOSITORY_LISTS if s[0] == loader), None)
        if spec is None:
            raise ConnectorError.unknown_loader(loader)
        _, field, table, path = spec
        repo = RepositoryFeed(self.api, parent.id).repo
        add = {
            "issues": lambda rows, item: rows.issue(repo, item),
            "pullRequests": lambda rows, item: rows.pull(repo, item),
            "labels": lambda rows, item: rows.label(repo, item),
            "milestones": lambda rows, item: rows.milestone(repo, item),
        }.get(field)
        if field == "comments":
            # Issue comments, then review comments: one collection, two lists.
            if cursor is None or cursor.startswith("issue "):
                url = cursor[6:] if cursor else f"/repos/{repo}{path}&per_page={self.per_page}"
                page = self.list_page(url, table.entity, lambda rows, item: rows.issue_comment(repo, item))
                page.next_cursor = (
                    f"issue {page.next_cursor}" if page.next_cursor else f"review /repos/{repo}{REVIEW_COMMENTS}&per_page={self.per_page}"
                )
                return page
            page = self.list_page(cursor[7:], table.entity, lambda rows, item: rows.review_comment(repo, item))
            page.next_cursor = f"review {page.next_cursor}" if page.next_cursor else None
            return page
        url = cursor or f"/repos/{repo}{path}{'&' if not path.endswith('?') else ''}per_page={self.per_page}"
        return self.list_page(url, table.entity, add)

    def list_page(self, url: str, entity: str, add) -> Page:
        """One page of a list: its items (of `entity`), what they embed, and the next page's URL."""
        response = self.api.get(url)
        rows = Rows()
        for item in json_list(response, url):
            if isinstance(item, dict):
                add(rows, item)
        items = rows.batches.get(entity) or Batch(entity, [])
        page = Page(items, response.link_next())
        for batch in rows.all(without=entity):
            page.with_related(batch)
        return page

    def repositories_page(self, cursor: Optional[str]) -> Page:
        """The chosen repositories: the cursor is the scope being listed (its index) and its next page."""
        scopes = self.scopes or [""]
        index, _, url = (cursor or "0 ").partition(" ")
        index = int(index) if index.isdigit() else 0
        if index >= len(scopes):
            return Page(Batch("Repository", []), None)
        rows = Rows()
        next_url: Optional[str] = None
        kind, _, name = scopes[index].partition(":")
        if kind == "repo":
            try:
                rows.repository(json_object(self.api.get(f"/repos/{name}"), f"repository {name}"))
            except NotFound:
                pass  # deleted, or out of the token's reach: no longer listed, so it goes
        else:
            url = url or {
                "org": f"/orgs/{encode_query(name)}/repos?type=all&sort=full_name&per_page={self.per_page}",
                "user": f"/user/repos?affiliation=owner&sort=full_name&per_page={self.per_page}",
                "": f"/user/repos?sort=full_name&per_page={self.per_page}",
            }[kind]
            response = self.api.get(url)
            for repo in json_list(response, url):
                if isinstance(repo, dict) and repo.get("full_name"):
                    rows.repository(repo)
            next_url = response.link_next()
        cursor_next = f"{index} {next_url}" if next_url else (f"{index + 1} " if index + 1 < len(scopes) else None)
        page = Page(rows.batches.get("Repository") or Batch("Repository", []), cursor_next)
        for batch in rows.all(without="Repository"):
            page.with_related(batch)
        return page

    def changes_of(self, loader: str, parent: EntityRef, cursor: Optional[str]) -> ChangePage:
        if loader != "repository-changes" or parent.entity != "Repository":
            raise ConnectorError.unknown_loader(loader)
        return RepositoryFeed(self.api, parent.id, self.per_page).run(cursor)

