"""The Acme connector in Python: syncs workspaces, users, projects, tasks and files from the Acme demo
API, the same data as the Rust `connectors/acme`, on Max's Python SDK.

Pagination: list endpoints take `limit` and `cursor` and return the next cursor in `X-Next-Cursor`.
Incremental sync: `/api/changes?since=<sequence>` is a change feed of creates, updates and deletes;
`/api/changes/cursor` is its newest sequence, where a full sync starts following it.
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
    InvalidResponse,
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
    export,
    http,
)
from max_connector.http import encode_query

from model import FILE, KINDS, PROJECT, TASK, USER, WORKSPACE, kind_named

VERSION = "0.3.0"
#: Items per page of a collection, unless the `page_size` config says otherwise.
PAGE_SIZE = 1000
#: Refs per call of a by-id loader (fetched concurrently through the host).
BY_ID_BATCH = 50
#: Events per page of the change feed.
CHANGES_PAGE = 1000

ROOT, ROOT_ID = "Account", "acme"

#: Collection loaders: (loader, parent, field, child, query parameter naming the parent, parent field).
COLLECTIONS = [
    ("workspaces", ROOT, "workspaces", WORKSPACE, None, None),
    ("workspace-users", "Workspace", "users", USER, "workspaceId", "workspace"),
    ("workspace-projects", "Workspace", "projects", PROJECT, "workspaceId", "workspace"),
    ("project-tasks", "Project", "tasks", TASK, "projectId", "project"),
    ("project-files", "Project", "files", FILE, "projectId", "project"),
]


def by_id_loader(kind) -> str:
    return f"{kind.path}-by-id"


def text(value) -> str:
    """A string, or the text of any other scalar (`12` → `"12"`)."""
    return value if isinstance(value, str) else str(value)


class Acme(Connector):
    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.base_url = config.require("base_url").rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise InvalidInput(f"base_url `{self.base_url}` must start with http:// or https://")
        size = config.get("page_size") or ""
        if not size:
            self.page_size = PAGE_SIZE
        elif size.isdigit() and 1 <= int(size) <= 1000:
            self.page_size = int(size)
        else:
            raise InvalidInput(f"page_size `{size}`: a number from 1 to 1000")

    @staticmethod
    def describe() -> ConnectorInfo:
        schema = (
            Schema()
            .entity(ROOT, lambda e: e.describe("The Acme account the API key belongs to").collection("workspaces", "Workspace"))
            .entity("Workspace", lambda e: WORKSPACE.declare(e).collection("users", "User").collection("projects", "Project"))
            .entity("User", USER.declare)
            .entity("Project", lambda e: PROJECT.declare(e).collection("tasks", "Task").collection("files", "File"))
            .entity("Task", TASK.declare)
            .entity("File", FILE.declare)
            .root(ROOT, ROOT_ID)
        )
        info = ConnectorInfo("acme", VERSION, "Acme demo API: workspaces, users, projects, tasks and files", schema)
        for loader, parent, field, child, param, parent_field in COLLECTIONS:
            spec = Loader.collection(loader, parent, field, child.entity, PAGE_SIZE).describe(
                f"GET /api/{child.path} by {param or 'account'}"
            )
            if parent_field:
                spec.parent_field(parent_field)
            info.loader(spec)
        for kind in KINDS:
            info.loader(kind.by_id_loader(by_id_loader(kind), BY_ID_BATCH).describe(f"GET /api/{kind.path}/<id>, concurrently"))
        return (
            info.loader(Loader.change_feed("changes", "Task").describe("GET /api/changes: creates, updates and deletes of every type"))
            .onboarding(
                Onboarding()
                .input("base_url", "Acme API URL", "https://api.acme.dev")
                .help("Where the Acme API runs; change it for a self-hosted or local demo server")
                .secret("api_key", "Acme API key")
                .help("Sent as `Authorization: Bearer <key>`")
                .validate("Checking the API key against the Acme API")
                .input("page_size", "Items per request", "1000")
                .help("Smaller pages mean more requests, each quicker")
                .optional()
            )
            .permissions(Permissions().host("api.acme.dev").bearer("api_key").base_url_key("base_url"))
        )

    def get(self, path_and_query: str) -> http.Response:
        return http.get(f"{self.base_url}{path_and_query}").credential("api_key").send().ok()

    def validate(self) -> str:
        workspaces = self.get("/api/workspaces").json()
        n = len(workspaces)
        return f"1 workspace at {self.base_url}" if n == 1 else f"{n} workspaces at {self.base_url}"

    def seed(self, state: SeedState) -> SyncPlan:
        """After a completed sync, only the change feed from its stored cursor. Otherwise everything,
        after first following the change feed (its cursor is stored before any data is read, so a change
        made while the full sync runs is replayed by the next sync rather than missed)."""
        changes = SyncPlan().then(Target.ROOT, Operation.changes("changes"))
        if not state.full and state.last_completed_sync is not None and state.cursor("changes") is not None:
            return changes
        return (
            changes.then(Target.ROOT, Operation.collection("workspaces"))
            .together([(Target.all("Workspace"), Operation.collection("users")), (Target.all("Workspace"), Operation.collection("projects"))])
            .together([(Target.all("Project"), Operation.collection("tasks")), (Target.all("Project"), Operation.collection("files"))])
        )

    def load(self, loader: str, refs: List[EntityRef]) -> List[Batch]:
        kind = next((k for k in KINDS if by_id_loader(k) == loader), None)
        if kind is None:
            raise ConnectorError.unknown_loader(loader)
        requests = [http.get(f"{self.base_url}/api/{kind.path}/{r.id}").credential("api_key") for r in refs]
        batch = kind.batch()
        for response in http.send_all(requests):
            if isinstance(response, ConnectorError):
                raise response
            try:
                kind.push(batch, response.ok().json())
            except NotFound:
                pass  # deleted since it was listed: nothing to load
        return [batch]

    def load_page(self, loader: str, parent: EntityRef, cursor: Optional[str]) -> Page:
        spec = next((c for c in COLLECTIONS if c[0] == loader), None)
        if spec is None:
            raise ConnectorError.unknown_loader(loader)
        _, _, _, child, param, _ = spec
        query = f"/api/{child.path}?limit={self.page_size}"
        if param:
            query += f"&{param}={encode_query(parent.id)}"
        if cursor is not None:
            query += f"&cursor={encode_query(cursor)}"
        response = self.get(query)
        return Page(child.rows(response.json()), response.header("x-next-cursor") or None)

    def changes(self, loader: str, cursor: Optional[str]) -> ChangePage:
        if loader != "changes":
            raise ConnectorError.unknown_loader(loader)
        if cursor is None:
            return self.change_position()
        body = self.get(f"/api/changes?since={encode_query(cursor)}&limit={CHANGES_PAGE}").json()
        if not isinstance(body, dict) or not isinstance(body.get("events"), list):
            raise InvalidResponse("a change log expected: {events, nextCursor}")
        last = cursor
        upserts: dict = {}
        page = ChangePage("", False)
        for event in body["events"]:
            last = text(event["sequence"])
            kind = kind_named(str(event.get("entityType", "")))
            if kind is None:
                continue
            id = text(event["entityId"])
            if event.get("action") == "delete":
                page.delete(kind.entity, id)
                continue
            payload = event.get("payload")
            if not isinstance(payload, dict):
                continue
            if kind.entity not in upserts:
                upserts[kind.entity] = kind.batch()
            kind.push(upserts[kind.entity], payload)
        next_cursor = body.get("nextCursor")
        page.has_more = next_cursor is not None and bool(body["events"])
        page.next_cursor = last if next_cursor is None else text(next_cursor)
        for batch in upserts.values():
            page.upsert(batch)
        return page

    def change_position(self) -> ChangePage:
        """The change feed's current position, as an empty page; a server without that endpoint (an
        older demo server) answers 404, and the feed is then read from its start."""
        try:
            body = self.get("/api/changes/cursor").json()
        except NotFound:
            return self.changes("changes", "0")
        if not isinstance(body, dict) or "cursor" not in body:
            raise InvalidResponse("a change cursor expected: {cursor}")
        return ChangePage(text(body["cursor"]), False)


Source = export(Acme)
