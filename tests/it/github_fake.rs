//! The GitHub fake speaks GitHub's REST wire format (`../shared/apis.md` §4): bare arrays paged by a
//! `Link` header, ETags and 304s that don't count, the `X-RateLimit-*` headers, primary and secondary
//! limits as 403 or 429, a required `User-Agent`, issues that include pull requests, `since`, deleted
//! and transferred repositories, and GitHub's error bodies. The GitHub connector's tests rely on it.

use max_fake_saas::Faults;
use max_fake_saas::github::{DEFAULT_TOKEN, FINE_GRAINED_TOKEN, GitHub, GitHubConfig, SCOPES, Size};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

async fn start(config: GitHubConfig) -> (GitHub, max_fake_saas::RunningServer) {
    let fake = GitHub::new(config);
    let server = fake.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    (fake, server)
}

/// GET `url` (absolute, or a path on `server`) as a well-behaved client: the status, headers and body.
async fn get_with(url: &str, token: &str, etag: Option<&str>) -> (u16, HeaderMap, Value) {
    let mut request = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(url)
        .header("User-Agent", "max-tests")
        .header("Accept", "application/vnd.github+json")
        .bearer_auth(token);
    if let Some(etag) = etag {
        request = request.header("If-None-Match", etag);
    }
    let response = request.send().await.unwrap();
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    let bytes = response.bytes().await.unwrap();
    let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap() };
    (status, headers, body)
}

async fn get(server: &max_fake_saas::RunningServer, path: &str) -> (u16, HeaderMap, Value) {
    get_with(&format!("{}{path}", server.base_url()), DEFAULT_TOKEN, None).await
}

/// Changes the fake's data (`POST /_fake/mutate`).
async fn mutate(server: &max_fake_saas::RunningServer, changes: Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/_fake/mutate", server.base_url()))
        .header("content-type", "application/json")
        .body(changes.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200, "{:?}", response.text().await);
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> &'h str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

fn next_link(headers: &HeaderMap) -> Option<String> {
    header(headers, "link").split(',').find(|part| part.contains("rel=\"next\"")).map(|part| {
        let url = part.split(';').next().unwrap().trim();
        url.trim_start_matches('<').trim_end_matches('>').to_string()
    })
}

/// Following `Link: rel="next"` covers every issue and pull request once; the last page has no `next`;
/// `per_page` is capped at 100; pull requests are issues marked by `pull_request`.
#[tokio::test]
async fn link_pages_cover_every_issue_and_pull_request_once() {
    let (fake, server) = start(GitHubConfig::default()).await;
    let repo = fake.with_data(|d| format!("{}/{}", d.repos[0].owner, d.repos[0].name));
    let mut url = format!("{}/repos/{repo}/issues?state=all&per_page=7&sort=updated&direction=asc", server.base_url());
    let (mut numbers, mut pulls, mut pages) = (Vec::new(), 0, 0);
    loop {
        let (status, headers, body) = get_with(&url, DEFAULT_TOKEN, None).await;
        assert_eq!(status, 200, "{body}");
        pages += 1;
        for issue in body.as_array().unwrap() {
            numbers.push(issue["number"].as_u64().unwrap());
            pulls += usize::from(issue.get("pull_request").is_some());
            assert!(
                issue["id"].is_u64()
                    && issue["user"]["login"].is_string()
                    && issue["created_at"].as_str().unwrap().ends_with('Z')
            );
        }
        match next_link(&headers) {
            Some(next) => url = next,
            None => break,
        }
    }
    let mut unique = numbers.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), numbers.len(), "no issue twice");
    let size = Size::default();
    assert_eq!(numbers.len(), size.issues + size.pulls);
    assert_eq!(pulls, size.pulls);
    assert_eq!(pages, (size.issues + size.pulls).div_ceil(7));
    let many = GitHubConfig { size: Size { issues: 130, ..Size::default() }, ..GitHubConfig::default() };
    let (fake, server) = start(many).await;
    let repo = fake.with_data(|d| format!("{}/{}", d.repos[0].owner, d.repos[0].name));
    let (_, headers, capped) = get(&server, &format!("/repos/{repo}/issues?state=all&per_page=1000")).await;
    assert_eq!(capped.as_array().unwrap().len(), 100, "per_page is at most 100");
    assert!(next_link(&headers).is_some());
}

/// A 304 answers an unchanged `If-None-Match` with no body and costs no budget; a change gives a new
/// ETag. Every answer carries the `X-RateLimit-*` headers; the classic token's carry its scopes.
#[tokio::test]
async fn unchanged_lists_answer_304_without_counting() {
    let (fake, server) = start(GitHubConfig::default()).await;
    let repo = fake.with_data(|d| format!("{}/{}", d.repos[0].owner, d.repos[0].name));
    let url = format!("{}/repos/{repo}/issues?state=all&per_page=100&since=2020-01-01T00:00:00Z", server.base_url());
    let (status, headers, _) = get_with(&url, DEFAULT_TOKEN, None).await;
    assert_eq!(status, 200);
    let etag = header(&headers, "etag").to_string();
    assert!(etag.starts_with("W/\""), "{etag}");
    assert_eq!(header(&headers, "x-oauth-scopes"), SCOPES);
    for name in
        ["x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-used", "x-ratelimit-reset", "x-ratelimit-resource"]
    {
        assert!(!header(&headers, name).is_empty(), "{name}");
    }
    let remaining = header(&headers, "x-ratelimit-remaining").to_string();
    let (status, again, body) = get_with(&url, DEFAULT_TOKEN, Some(&etag)).await;
    assert_eq!((status, body), (304, Value::Null));
    assert_eq!(header(&again, "x-ratelimit-remaining"), remaining, "a 304 doesn't count");
    assert_eq!(fake.stats()["not_modified"], 1);
    mutate(&server, json!({"op": "edit_issue", "repo": repo, "number": 2, "title": "Renamed"})).await;
    let (status, changed, _) = get_with(&url, DEFAULT_TOKEN, Some(&etag)).await;
    assert_eq!(status, 200);
    assert_ne!(header(&changed, "etag"), etag);
    let (_, fine, _) = get_with(&url, FINE_GRAINED_TOKEN, None).await;
    assert!(fine.get("x-oauth-scopes").is_none(), "fine-grained tokens have no scopes header");
}

/// `since` keeps what changed at or after it, in updated order.
#[tokio::test]
async fn since_returns_only_what_changed() {
    let (fake, server) = start(GitHubConfig::default()).await;
    let (repo, now) = fake.with_data(|d| (format!("{}/{}", d.repos[1].owner, d.repos[1].name), d.now));
    let since = max_fake_saas::github::iso(now + 1);
    mutate(
        &server,
        json!([{"op": "edit_issue", "repo": repo, "number": 5, "state": "closed"},
                      {"op": "add_comment", "repo": repo, "number": 7, "body": "New"}]),
    )
    .await;
    let (_, _, issues) =
        get(&server, &format!("/repos/{repo}/issues?state=all&since={since}&sort=updated&direction=asc")).await;
    let numbers: Vec<u64> = issues.as_array().unwrap().iter().map(|i| i["number"].as_u64().unwrap()).collect();
    assert_eq!(numbers, [5, 7]);
    let (_, _, comments) = get(&server, &format!("/repos/{repo}/issues/comments?since={since}")).await;
    assert_eq!(comments.as_array().unwrap().len(), 1);
    assert!(comments[0]["issue_url"].as_str().unwrap().ends_with("/issues/7"));
}

/// Past the primary limit: 403 and 429 in turn, `remaining: 0`, a reset, GitHub's message and a string
/// `status`; `/rate_limit` is not counted.
#[tokio::test]
async fn the_primary_limit_is_403_or_429_with_remaining_zero() {
    let (_fake, server) = start(GitHubConfig { hourly_limit: 3, ..GitHubConfig::default() }).await;
    for _ in 0..3 {
        assert_eq!(get(&server, "/user").await.0, 200);
    }
    let mut statuses = Vec::new();
    for _ in 0..2 {
        let (status, headers, body) = get(&server, "/user").await;
        statuses.push(status);
        assert_eq!(header(&headers, "x-ratelimit-remaining"), "0");
        assert!(header(&headers, "x-ratelimit-reset").parse::<u64>().unwrap() > 1_700_000_000);
        assert!(body["message"].as_str().unwrap().starts_with("API rate limit exceeded"), "{body}");
        assert!(body["status"].is_string() && body["documentation_url"].is_string());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [403, 429]);
    let (status, _, limits) = get(&server, "/rate_limit").await;
    assert_eq!((status, limits["resources"]["core"]["remaining"].as_u64()), (200, Some(0)));
}

/// Secondary limits: too many requests in flight, or a throttled one, are 403 or 429 with
/// `Retry-After` and the secondary-limit message, while the primary budget remains.
#[tokio::test]
async fn secondary_limits_answer_with_retry_after() {
    let config = GitHubConfig {
        max_concurrent: 2,
        retry_after_seconds: 3,
        faults: Faults { latency: std::time::Duration::from_millis(200), ..Faults::default() },
        ..GitHubConfig::default()
    };
    let (fake, server) = start(config).await;
    let url = format!("{}/user", server.base_url());
    let answers = futures::future::join_all((0..6).map(|_| get_with(&url, DEFAULT_TOKEN, None))).await;
    let limited: Vec<&(u16, HeaderMap, Value)> = answers.iter().filter(|(status, _, _)| *status != 200).collect();
    assert!(!limited.is_empty(), "more than 2 at once are limited");
    for (status, headers, body) in limited {
        assert!(matches!(status, 403 | 429));
        assert_eq!(header(headers, "retry-after"), "3");
        assert!(body["message"].as_str().unwrap().contains("secondary rate limit"), "{body}");
        assert_ne!(header(headers, "x-ratelimit-remaining"), "0");
    }
    assert!(fake.stats()["secondary_limited"].as_u64().unwrap() > 0);

    let throttled =
        GitHubConfig { faults: Faults { throttle_rate: 1.0, ..Faults::default() }, ..GitHubConfig::default() };
    let (_fake, server) = start(throttled).await;
    let (status, headers, body) = get(&server, "/user").await;
    assert!(matches!(status, 403 | 429) && header(&headers, "retry-after") == "60", "{status} {body}");
}

/// No `User-Agent` is 403; a wrong token 401 `Bad credentials`; both in GitHub's error body.
#[tokio::test]
async fn requests_need_a_user_agent_and_a_good_token() {
    let (_fake, server) = start(GitHubConfig::default()).await;
    let response = reqwest::Client::new()
        .get(format!("{}/user", server.base_url()))
        .bearer_auth(DEFAULT_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
    let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert!(body["message"].as_str().unwrap().contains("User-Agent"), "{body}");
    let (status, _, body) = get_with(&format!("{}/user", server.base_url()), "ghp_wrong", None).await;
    assert_eq!(
        (status, body["message"].as_str(), body["status"].as_str()),
        (401, Some("Bad credentials"), Some("401"))
    );
}

/// A deleted repository is 404; a transferred one's old paths are 301 to its new ones, query kept.
#[tokio::test]
async fn deleted_repositories_are_gone_and_transferred_ones_redirect() {
    let (fake, server) = start(GitHubConfig::default()).await;
    let (first, second) = fake.with_data(|d| {
        (format!("{}/{}", d.repos[0].owner, d.repos[0].name), format!("{}/{}", d.repos[1].owner, d.repos[1].name))
    });
    let viewer = fake.with_data(|d| d.users[0].login.clone());
    mutate(&server, json!([{"op": "delete_repo", "repo": first}, {"op": "transfer_repo", "repo": second, "to": viewer, "name": "moved"}])).await;
    assert_eq!(get(&server, &format!("/repos/{first}/issues")).await.0, 404);
    let (status, headers, _) = get(&server, &format!("/repos/{second}/issues?state=all&page=2")).await;
    assert_eq!(status, 301);
    assert_eq!(
        header(&headers, "location"),
        format!("{}/repos/{viewer}/moved/issues?state=all&page=2", server.base_url())
    );
    let (status, _, repo) = get(&server, &format!("/repos/{viewer}/moved")).await;
    assert_eq!((status, repo["full_name"].as_str()), (200, Some(format!("{viewer}/moved").as_str())));
    let (_, _, listed) = get(&server, "/orgs/acme-corp/repos?per_page=100").await;
    assert_eq!(listed.as_array().unwrap().len(), Size::default().org_repos - 2);
}

/// Pulls carry head and base with their repositories; reviews and review comments point at theirs.
#[tokio::test]
async fn pulls_reviews_and_review_comments_have_githubs_shapes() {
    let (fake, server) = start(GitHubConfig::default()).await;
    let repo = fake.with_data(|d| format!("{}/{}", d.repos[0].owner, d.repos[0].name));
    let (_, _, pulls) = get(&server, &format!("/repos/{repo}/pulls?state=all&per_page=100")).await;
    let pulls = pulls.as_array().unwrap();
    assert_eq!(pulls.len(), Size::default().pulls);
    let pull = &pulls[0];
    assert_eq!(pull["base"]["repo"]["full_name"], repo);
    assert!(pull["head"]["ref"].is_string() && pull["id"] != Value::Null && pull["issue_url"].is_string());
    let number = pull["number"].as_u64().unwrap();
    let (status, _, reviews) = get(&server, &format!("/repos/{repo}/pulls/{number}/reviews")).await;
    assert_eq!(status, 200);
    for review in reviews.as_array().unwrap() {
        assert!(["APPROVED", "CHANGES_REQUESTED", "COMMENTED"].contains(&review["state"].as_str().unwrap()));
        assert!(review["pull_request_url"].as_str().unwrap().ends_with(&format!("/pulls/{number}")));
    }
    let (_, _, comments) = get(&server, &format!("/repos/{repo}/pulls/comments?per_page=100")).await;
    assert!(comments.as_array().unwrap().iter().all(|c| c["pull_request_url"].is_string() && c["path"].is_string()));
    let (_, _, labels) = get(&server, &format!("/repos/{repo}/labels")).await;
    assert_eq!(labels.as_array().unwrap().len(), Size::default().labels);
    let (_, _, milestones) = get(&server, &format!("/repos/{repo}/milestones?state=all")).await;
    assert_eq!(milestones.as_array().unwrap().len(), Size::default().milestones);
}
