//! {{name}}: a Max connector. It syncs the items of an example API: replace the example's calls
//! (`GET /me`, `GET /items?limit=100&cursor=…`) with your API's.

use max_connector_sdk::http::{self, encode_query};
use max_connector_sdk::{
    Batch, Config, Connector, ConnectorError, ConnectorInfo, Entities, EntityRef, FieldType, Loader, Onboarding, Page,
    Permissions, Result, Schema, SeedState, SyncPlan, Target, Value, export_connector,
};

/// Items per request.
const PAGE_SIZE: u32 = 100;

struct Example {
    base_url: String,
}

impl Connector for Example {
    fn describe() -> ConnectorInfo {
        let schema = Schema::new()
            .entity("Account", |e| e.describe("The account the API key belongs to").collection("items", "Item"))
            .entity("Item", |e| {
                e.describe("An item")
                    .field("title", FieldType::String)
                    .field("done", FieldType::Boolean)
                    .field("updatedAt", FieldType::Datetime)
                    .searchable("title", 5)
            })
            .root("Account", "me");
        ConnectorInfo::new("{{name}}", env!("CARGO_PKG_VERSION"), "Items from the example API", schema)
            .loader(Loader::collection("account-items", "Account", "items", "Item", PAGE_SIZE).describe("GET /items"))
            .onboarding(
                Onboarding::new()
                    .input("base_url", "API URL", Some("https://api.example.com"))
                    .help("Change it to test against a local server")
                    .secret("api_key", "API key")
                    .help("Sent as `Authorization: Bearer <key>`")
                    .validate("Checking the API key"),
            )
            .permissions(Permissions::new().host("api.example.com").bearer("api_key").base_url_key("base_url"))
    }

    fn initialise(config: Config) -> Result<Self> {
        Ok(Example { base_url: config.base_url("https://api.example.com")? })
    }

    fn validate(&mut self) -> Result<String> {
        let me: serde_json::Value =
            http::get(format!("{}/me", self.base_url)).credential("api_key").send()?.ok()?.json()?;
        Ok(format!("connected as {}", me["name"].as_str().unwrap_or("an unnamed account")))
    }

    fn seed(&mut self, _state: &SeedState) -> Result<SyncPlan> {
        Ok(SyncPlan::new().then(Target::Root, |s| s.collection("items")))
    }

    fn load(&mut self, loader: &str, _refs: &[EntityRef]) -> Result<Entities> {
        Err(ConnectorError::unknown_loader(loader))
    }

    /// One page of items: `GET /items?limit=100&cursor=…`, answering `{items: [...], next}`.
    fn load_page(&mut self, loader: &str, _parent: &EntityRef, cursor: Option<&str>) -> Result<Page> {
        if loader != "account-items" {
            return Err(ConnectorError::unknown_loader(loader));
        }
        let mut url = format!("{}/items?limit={PAGE_SIZE}", self.base_url);
        if let Some(cursor) = cursor {
            url.push_str(&format!("&cursor={}", encode_query(cursor)));
        }
        let body: serde_json::Value = http::get(url).credential("api_key").send()?.ok()?.json()?;
        let items = body["items"].as_array().ok_or_else(|| ConnectorError::invalid_response("no `items` list"))?;
        let mut batch = Batch::new("Item", &["title", "done", "updatedAt"]);
        for item in items {
            let id = item["id"].as_str().ok_or_else(|| ConnectorError::invalid_response("an item without an id"))?;
            batch.row(
                id,
                vec![
                    item["title"].as_str().into(),
                    item["done"].as_bool().into(),
                    item["updatedAt"].as_str().map(Value::datetime).into(),
                ],
            );
        }
        Ok(Page::new(batch).next(body["next"].as_str().map(str::to_string)))
    }
}

export_connector!(Example);

#[cfg(test)]
mod tests {
    use max_connector_sdk::testing::{FakeHttp, rows};

    use super::*;

    #[test]
    fn pages_of_items_become_rows_until_there_is_no_next_page() {
        let fake = FakeHttp::new()
            .get(
                "https://api.example.com/items?limit=100",
                200,
                r#"{"items":[{"id":"1","title":"First","done":true,"updatedAt":"2026-01-02T10:00:00Z"}],"next":"p2"}"#,
            )
            .get("https://api.example.com/items?limit=100&cursor=p2", 200, r#"{"items":[],"next":null}"#);
        let _installed = fake.install();
        let mut connector = Example::initialise(Config::new(vec![])).unwrap();
        let account = EntityRef { entity: "Account".into(), id: "me".into() };
        let first = connector.load_page("account-items", &account, None).unwrap();
        let row = &rows(&first.items)[0];
        assert_eq!((row["id"].as_str(), row["title"].as_str(), row["done"].as_bool()), (Some("1"), Some("First"), Some(true)));
        assert_eq!(first.next_cursor.as_deref(), Some("p2"));
        let last = connector.load_page("account-items", &account, Some("p2")).unwrap();
        assert_eq!(last.next_cursor, None);
        assert!(fake.requests().iter().all(|r| r.credential.as_deref() == Some("api_key")));
    }

    #[test]
    fn a_refused_key_is_unauthorized() {
        let _installed = FakeHttp::new().get("https://api.example.com/me", 401, r#"{"error":"bad key"}"#).install();
        let error = Example::initialise(Config::new(vec![])).unwrap().validate().unwrap_err();
        assert!(matches!(error, ConnectorError::Unauthorized(_)), "{error:?}");
    }
}
