//! The Linear fake speaks Linear's wire format: Relay pages that cover every object once, filters,
//! archived objects, auth by personal key (no `Bearer`) or OAuth token, rotating refresh tokens, and
//! rate limits with Linear's headers and `RATELIMITED` errors. The connector's tests rely on all of it.

use std::collections::BTreeSet;
use std::time::Duration;

use max_fake_saas::linear::{DEFAULT_API_KEY, Linear, LinearConfig, OAuth, RateLimits, Size};
use serde_json::{Value, json};

struct Client {
    http: reqwest::Client,
    url: String,
}

impl Client {
    fn new(server: &max_fake_saas::RunningServer) -> Self {
        Client { http: reqwest::Client::new(), url: server.base_url().to_string() }
    }

    async fn post(&self, auth: &str, query: &str, variables: Value) -> reqwest::Response {
        let body = json!({"query": query, "variables": variables}).to_string();
        let mut request = self.http.post(format!("{}/graphql", self.url)).header("content-type", "application/json");
        if !auth.is_empty() {
            request = request.header("authorization", auth);
        }
        request.body(body).send().await.unwrap()
    }

    async fn query(&self, query: &str, variables: Value) -> Value {
        let response = self.post(DEFAULT_API_KEY, query, variables).await;
        let status = response.status();
        let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        assert_eq!(status, 200, "{body}");
        assert!(body.get("errors").is_none(), "{body}");
        body["data"].clone()
    }
}

async fn start(config: LinearConfig) -> (Linear, max_fake_saas::RunningServer) {
    let fake = Linear::new(config);
    let server = fake.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    (fake, server)
}

const ISSUES: &str = "query($after: String, $filter: IssueFilter, $archived: Boolean) {
  issues(first: 7, after: $after, filter: $filter, includeArchived: $archived, orderBy: updatedAt) {
    nodes { id updatedAt archivedAt labelIds team { id key } labels(first: 50) { nodes { id } } }
    pageInfo { hasNextPage endCursor }
  }
}";

async fn all_issues(client: &Client, filter: Value, archived: bool) -> Vec<Value> {
    let (mut after, mut issues) = (Value::Null, Vec::new());
    for _ in 0..1000 {
        let data = client.query(ISSUES, json!({"after": after, "filter": filter, "archived": archived})).await;
        let page = &data["issues"];
        assert!(page["nodes"].as_array().unwrap().len() <= 7);
        issues.extend(page["nodes"].as_array().unwrap().iter().cloned());
        if page["pageInfo"]["hasNextPage"] != true {
            return issues;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    panic!("pagination never ended");
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_cover_every_issue_once_and_filters_narrow_them() {
    let size = Size { teams: 2, issues_per_team: 12, ..Size::default() };
    let (fake, server) = start(LinearConfig { size, ..LinearConfig::default() }).await;
    let client = Client::new(&server);
    let issues = all_issues(&client, Value::Null, false).await;
    let ids: BTreeSet<&str> = issues.iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!((issues.len(), ids.len()), (24, 24), "every issue exactly once over 4 pages");
    let stamps: Vec<&str> = issues.iter().map(|i| i["updatedAt"].as_str().unwrap()).collect();
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]), "ordered by updatedAt");
    for issue in &issues {
        let labels: BTreeSet<&str> =
            issue["labels"]["nodes"].as_array().unwrap().iter().map(|l| l["id"].as_str().unwrap()).collect();
        let label_ids: BTreeSet<&str> =
            issue["labelIds"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
        assert_eq!(labels, label_ids, "the labels connection holds the labelIds");
    }

    // updatedAt > t keeps exactly the later ones; team.id narrows to one team.
    let pivot = stamps[10];
    let later = all_issues(&client, json!({"updatedAt": {"gt": pivot}}), false).await;
    assert_eq!(later.len(), stamps.iter().filter(|s| **s > pivot).count());
    let team = issues[0]["team"]["id"].clone();
    let one_team = all_issues(&client, json!({"team": {"id": {"eq": team}}}), false).await;
    assert_eq!(one_team.len(), 12);
    let chosen: Vec<Value> = issues[..3].iter().map(|i| i["id"].clone()).collect();
    let by_id = all_issues(&client, json!({"id": {"in": chosen}}), false).await;
    assert_eq!(by_id.len(), 3);

    // An archived issue disappears unless includeArchived, then shows archivedAt.
    let archived = issues[5]["id"].as_str().unwrap().to_string();
    fake.with_data(|d| {
        d.mutate(&serde_json::from_value(json!({"op": "archive", "type": "Issue", "id": archived})).unwrap()).unwrap()
    });
    assert_eq!(all_issues(&client, Value::Null, false).await.len(), 23);
    let with_archived = all_issues(&client, Value::Null, true).await;
    let found = with_archived.iter().find(|i| i["id"] == archived.as_str()).unwrap();
    assert!(found["archivedAt"].is_string());
    assert_eq!(fake.counts()["Issue"], 23);

    // More than the cap per page is refused, like an unknown field.
    let response = client.post(DEFAULT_API_KEY, "{ issues(first: 1000) { nodes { id } } }", Value::Null).await;
    let body: Value = response.json_body().await;
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("first must be between 0 and 250"), "{body}");
    let response = client.post(DEFAULT_API_KEY, "{ issues { nodes { nope } } }", Value::Null).await;
    assert_eq!(response.status(), 400);
}

trait JsonBody {
    async fn json_body(self) -> Value;
}

impl JsonBody for reqwest::Response {
    async fn json_body(self) -> Value {
        serde_json::from_slice(&self.bytes().await.unwrap()).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn personal_keys_go_without_bearer_and_oauth_tokens_rotate() {
    let oauth = OAuth { token_ttl: Duration::from_millis(300), ..OAuth::default() };
    // (The initial token keeps the default lifetime; refreshed ones live 300 ms.)
    let (fake, server) = start(LinearConfig { oauth, ..LinearConfig::default() }).await;
    let client = Client::new(&server);
    let viewer = "{ viewer { id } }";
    assert_eq!(client.post(DEFAULT_API_KEY, viewer, Value::Null).await.status(), 200);
    for refused in [format!("Bearer {DEFAULT_API_KEY}"), "lin_api_wrong".to_string(), String::new()] {
        let response = client.post(&refused, viewer, Value::Null).await;
        assert_eq!(response.status(), 401, "{refused}");
        let body = response.json_body().await;
        assert_eq!(body["errors"][0]["extensions"]["type"], "authentication error");
    }
    assert_eq!(client.post("Bearer lin_oauth_initial", viewer, Value::Null).await.status(), 200);

    let refresh = |token: &str| {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", "fake-client"),
            ("client_secret", "fake-secret"),
        ];
        client.http.post(format!("{}/oauth/token", client.url)).form(&form).send()
    };
    let granted = refresh("lin_refresh_initial").await.unwrap().json_body().await;
    assert_eq!(granted["token_type"], "Bearer");
    let (access, rotated) = (granted["access_token"].as_str().unwrap(), granted["refresh_token"].as_str().unwrap());
    assert_ne!(rotated, "lin_refresh_initial", "refresh tokens rotate");
    let reused = refresh("lin_refresh_initial").await.unwrap();
    assert_eq!(reused.status(), 400);
    assert_eq!(reused.json_body().await["error"], "invalid_grant");
    assert_eq!(client.post(&format!("Bearer {access}"), viewer, Value::Null).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let expired = client.post(&format!("Bearer {access}"), viewer, Value::Null).await;
    assert_eq!(expired.status(), 401);
    assert_eq!(fake.stats()["refreshes"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn budgets_are_advertised_and_enforced_like_linear() {
    let limits = RateLimits { requests: 3, period: Duration::from_secs(60), ..RateLimits::default() };
    let (fake, server) = start(LinearConfig { limits, ..LinearConfig::default() }).await;
    let client = Client::new(&server);
    let query = "{ teams(first: 10) { nodes { id name } } }";
    let first = client.post(DEFAULT_API_KEY, query, Value::Null).await;
    let header = |r: &reqwest::Response, name: &str| r.headers()[name].to_str().unwrap().parse::<u64>().unwrap();
    assert_eq!(header(&first, "x-ratelimit-requests-limit"), 3);
    assert_eq!(header(&first, "x-ratelimit-requests-remaining"), 2);
    assert!(header(&first, "x-complexity") >= 2, "ten teams of two fields cost points");
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    assert!(header(&first, "x-ratelimit-requests-reset") > now_ms, "reset is in epoch milliseconds, in the future");
    for _ in 0..2 {
        assert_eq!(client.post(DEFAULT_API_KEY, query, Value::Null).await.status(), 200);
    }
    let limited = client.post(DEFAULT_API_KEY, query, Value::Null).await;
    assert_eq!(limited.status(), 400);
    assert!(header(&limited, "retry-after") >= 1);
    assert_eq!(header(&limited, "x-ratelimit-requests-remaining"), 0);
    let body = limited.json_body().await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "RATELIMITED");
    assert_eq!(body["errors"][0]["extensions"]["type"], "ratelimited");
    let stats = fake.stats();
    assert_eq!((stats["rate_limited"].as_u64(), stats["requests"].as_u64()), (Some(1), Some(4)));

    // One query above the per-query cap is refused whatever the budget.
    let (_, server) = start(LinearConfig::default()).await;
    let client = Client::new(&server);
    let heavy = "{ issues(first: 250) { nodes { id children(first: 250) { nodes { id title } } } } }";
    let response = client.post(DEFAULT_API_KEY, heavy, Value::Null).await;
    assert_eq!(response.status(), 400);
    let body = response.json_body().await;
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("Query too complex"), "{body}");
}
