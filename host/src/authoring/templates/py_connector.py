"""{{name}}: a Max connector. It syncs the items of an example API: replace the example's calls
(`GET /me`, `GET /items?limit=100&cursor=…`) with your API's."""

from typing import List, Optional

from max_connector import (
    Batch,
    Config,
    Connector,
    ConnectorError,
    ConnectorInfo,
    EntityRef,
    FieldType,
    InvalidResponse,
    Loader,
    Onboarding,
    Operation,
    Page,
    Permissions,
    Schema,
    SeedState,
    SyncPlan,
    Target,
    Value,
    http,
)
from max_connector.http import encode_query

#: Items per request.
PAGE_SIZE = 100


class Example(Connector):
    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.base_url = config.base_url("https://api.example.com")

    @staticmethod
    def describe() -> ConnectorInfo:
        schema = (
            Schema()
            .entity("Account", lambda e: e.describe("The account the API key belongs to").collection("items", "Item"))
            .entity(
                "Item",
                lambda e: e.describe("An item")
                .field("title", FieldType.STRING)
                .field("done", FieldType.BOOLEAN)
                .field("updatedAt", FieldType.DATETIME)
                .searchable("title", 5),
            )
            .root("Account", "me")
        )
        return (
            ConnectorInfo("{{name}}", "0.1.0", "Items from the example API", schema)
            .loader(Loader.collection("account-items", "Account", "items", "Item", PAGE_SIZE).describe("GET /items"))
            .onboarding(
                Onboarding()
                .input("base_url", "API URL", "https://api.example.com")
                .help("Change it to test against a local server")
                .secret("api_key", "API key")
                .help("Sent as `Authorization: Bearer <key>`")
                .validate("Checking the API key")
            )
            .permissions(Permissions().host("api.example.com").bearer("api_key").base_url_key("base_url"))
        )

    def validate(self) -> str:
        me = http.get(f"{self.base_url}/me").credential("api_key").send().ok().json()
        return f"connected as {me.get('name') or 'an unnamed account'}"

    def seed(self, state: SeedState) -> SyncPlan:
        return SyncPlan().then(Target.ROOT, Operation.collection("items"))

    def load_page(self, loader: str, parent: EntityRef, cursor: Optional[str]) -> Page:
        """One page of items: `GET /items?limit=100&cursor=…`, answering `{items: [...], next}`."""
        if loader != "account-items":
            raise ConnectorError.unknown_loader(loader)
        url = f"{self.base_url}/items?limit={PAGE_SIZE}"
        if cursor is not None:
            url += f"&cursor={encode_query(cursor)}"
        body = http.get(url).credential("api_key").send().ok().json()
        if not isinstance(body, dict) or not isinstance(body.get("items"), list):
            raise InvalidResponse("no `items` list")
        batch = Batch("Item", ["title", "done", "updatedAt"])
        for item in body["items"]:
            updated = item.get("updatedAt")
            batch.row(item["id"], [item.get("title"), item.get("done"), None if updated is None else Value.datetime(updated)])
        return Page(batch, body.get("next"))
