//! The HTTP capability as a guest sees it: secrets attached by the host, redirects checked on every
//! hop, and failures returned as typed errors.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use max_host::runtime::{InstancePool, Limits};
use max_host::{ConnectorError, Error};
use max_tests::{guest, load, runtime, setup};

use crate::sandbox::{Sandbox, connect_hostile, result_of};

/// The `Authorization` header of every request an echo server got, in order.
type Received = Arc<Mutex<Vec<String>>>;

/// A router that echoes the `Authorization` header it got (recording it: the host redacts the echo
/// before the guest sees it), and redirects `/away` to `target`.
fn echo_router(target: Option<String>, received: Received) -> Router {
    Router::new()
        .route(
            "/echo",
            get(move |headers: HeaderMap| {
                let received = received.clone();
                async move {
                    let auth =
                        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("none").to_string();
                    received.lock().unwrap().push(auth.clone());
                    format!("auth={auth}")
                }
            }),
        )
        .route(
            "/away",
            get(move || {
                let target = target.clone().unwrap_or_default();
                async move { (StatusCode::FOUND, [(header::LOCATION, target)]).into_response() }
            }),
        )
}

/// [`echo_router`] served on loopback in the test's runtime.
async fn echo_server(target: Option<String>) -> (max_fake_saas::RunningServer, Received) {
    let received = Received::default();
    let router = echo_router(target, received.clone());
    let server = max_fake_saas::RunningServer::start(router, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    (server, received)
}

async fn hostile_at(base_url: &str) -> Sandbox {
    let runtime = runtime();
    let loaded = load(&runtime, &guest("hostile"));
    let info = loaded.describe().await.unwrap();
    let setup = setup(&info.permissions, &[("base_url", base_url)], &[("token", "s3cret-token")], Limits::default());
    Sandbox { pool: InstancePool::new("hostile", loaded, setup, 2), runtime }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_host_attaches_the_secret_the_guest_names() {
    let (server, received) = echo_server(None).await;
    let sandbox = hostile_at(server.base_url()).await;
    let result = result_of(&sandbox.pool, "http", &format!("{}/echo", server.base_url())).await.unwrap();
    // The server got the secret; what it echoed reached the guest without it.
    assert_eq!(*received.lock().unwrap(), ["Bearer s3cret-token"]);
    assert_eq!(result, "HTTP 200: auth=Bearer [redacted]");
}

#[tokio::test(flavor = "multi_thread")]
async fn redirects_to_an_undeclared_host_are_refused() {
    let (elsewhere, elsewhere_received) = echo_server(None).await;
    let (server, _) = echo_server(Some(format!("{}/echo", elsewhere.base_url()))).await;
    let sandbox = hostile_at(server.base_url()).await;
    let error = result_of(&sandbox.pool, "http", &format!("{}/away", server.base_url())).await.unwrap_err();
    let Error::ConnectorFailed { error: ConnectorError::Forbidden(message), .. } = &error else { panic!("{error:?}") };
    assert!(message.contains(elsewhere.base_url()), "{message}");
    assert!(elsewhere_received.lock().unwrap().is_empty(), "the redirect was not followed");
    sandbox.stays_healthy().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn redirects_within_the_grant_are_followed_with_the_secret() {
    let (server, received) = echo_server(Some("/echo".to_string())).await;
    let sandbox = hostile_at(server.base_url()).await;
    let result = result_of(&sandbox.pool, "http", &format!("{}/away", server.base_url())).await.unwrap();
    assert_eq!(*received.lock().unwrap(), ["Bearer s3cret-token"]);
    assert_eq!(result, "HTTP 200: auth=Bearer [redacted]");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_server_is_a_transient_error() {
    // Bind and drop a listener to get a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let sandbox = hostile_at(&base).await;
    let error = result_of(&sandbox.pool, "http", &format!("{base}/echo")).await.unwrap_err();
    assert!(matches!(error, Error::ConnectorFailed { error: ConnectorError::Transient(_), .. }), "{error:?}");
}

mod capability {
    //! The capability itself, without a guest: how each kind of secret is attached, and the bounds.

    use std::sync::Arc;
    use std::time::Duration;

    use axum::Router;
    use axum::extract::RawQuery;
    use axum::http::HeaderMap;
    use axum::routing::get;
    use max_host::http::{HttpCapability, HttpError, HttpLimits, HttpRequest, Method};
    use max_host::manifest::{CredentialDef, CredentialInjection, Permissions};

    async fn inspector() -> max_fake_saas::RunningServer {
        recording_inspector(super::Received::default()).await
    }

    /// Answers `/inspect` with what it got (authorization, x-api-key, the query), recording it too.
    async fn recording_inspector(received: super::Received) -> max_fake_saas::RunningServer {
        let router = Router::new()
            .route(
                "/inspect",
                get(move |headers: HeaderMap, RawQuery(query): RawQuery| async move {
                    let header =
                        |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("-").to_string();
                    let seen = format!(
                        "auth={} x-api-key={} query={}",
                        header("authorization"),
                        header("x-api-key"),
                        query.unwrap_or_default()
                    );
                    received.lock().unwrap().push(seen.clone());
                    seen
                }),
            )
            .route("/big", get(|| async { vec![b'x'; 2 << 20] }))
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "late"
                }),
            );
        max_fake_saas::RunningServer::start(router, "127.0.0.1:0".parse().unwrap()).await.unwrap()
    }

    fn capability(
        base_url: &str,
        injection: CredentialInjection,
        hosts: &[&str],
        limits: HttpLimits,
    ) -> HttpCapability {
        let permissions = Permissions {
            credentials: vec![CredentialDef {
                name: "key".into(),
                injection,
                hosts: hosts.iter().map(|h| h.to_string()).collect(),
            }],
            base_url_key: Some("base_url".into()),
            ..Permissions::default()
        };
        let secrets = Arc::new(std::collections::HashMap::from([("key".to_string(), "s3cret".to_string())]));
        HttpCapability::new(&permissions, Some(base_url), secrets, limits)
    }

    fn request(url: String, credential: Option<&str>) -> HttpRequest {
        HttpRequest {
            method: Method::Get,
            url,
            headers: Vec::new(),
            body: None,
            credential: credential.map(str::to_string),
            timeout: None,
        }
    }

    /// What the server got; what it answered reaches the caller with the secret redacted.
    async fn inspect(injection: CredentialInjection) -> String {
        let received = super::Received::default();
        let server = recording_inspector(received.clone()).await;
        let http = capability(server.base_url(), injection, &[], HttpLimits::default());
        let response = http.send(request(format!("{}/inspect?page=2", server.base_url()), Some("key"))).await.unwrap();
        assert_eq!(response.status, 200);
        let seen = received.lock().unwrap().pop().expect("the request arrived");
        assert_eq!(String::from_utf8(response.body).unwrap(), seen.replace("s3cret", "[redacted]"));
        seen
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn headers_that_steer_the_connection_or_the_virtual_host_are_refused() {
        let received = super::Received::default();
        let server = recording_inspector(received.clone()).await;
        let http = capability(server.base_url(), CredentialInjection::Bearer, &[], HttpLimits::default());
        for (name, value) in [
            ("Host", "victim.example"),
            ("connection", "close"),
            ("Content-Length", "0"),
            ("Transfer-Encoding", "chunked"),
            ("Upgrade", "websocket"),
            ("Proxy-Authorization", "Basic eA=="),
            ("Sec-Fetch-Site", "none"),
            ("Cookie", "a=b"),
            ("X-HTTP-Method-Override", "TRACE"),
        ] {
            let mut forged = request(format!("{}/inspect", server.base_url()), None);
            forged.headers.push((name.into(), value.into()));
            let error = http.send(forged).await.unwrap_err();
            let HttpError::InvalidRequest(message) = &error else { panic!("{name}: {error:?}") };
            assert!(message.contains("is set by the host"), "{message}");
        }
        assert!(received.lock().unwrap().is_empty(), "nothing was sent");
        let mut fine = request(format!("{}/inspect", server.base_url()), None);
        fine.headers.push(("X-HTTP-Method-Override".into(), "PATCH".into()));
        assert_eq!(http.send(fine).await.unwrap().status, 200);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn each_injection_puts_the_secret_where_the_api_wants_it() {
        assert_eq!(inspect(CredentialInjection::Bearer).await, "auth=Bearer s3cret x-api-key=- query=page=2");
        assert_eq!(inspect(CredentialInjection::Authorization).await, "auth=s3cret x-api-key=- query=page=2");
        let header = CredentialInjection::Header { name: "X-Api-Key".into() };
        assert_eq!(inspect(header).await, "auth=- x-api-key=s3cret query=page=2");
        let query = CredentialInjection::Query { name: "api_key".into() };
        assert_eq!(inspect(query).await, "auth=- x-api-key=- query=page=2&api_key=s3cret");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn misuse_of_credentials_is_refused_before_sending() {
        let server = inspector().await;
        let http = capability(server.base_url(), CredentialInjection::Bearer, &[], HttpLimits::default());
        let url = format!("{}/inspect", server.base_url());
        let error = http.send(request(url.clone(), Some("other"))).await.unwrap_err();
        assert_eq!(error, HttpError::UnknownCredential("other".into()));
        let mut both = request(url, Some("key"));
        both.headers.push(("Authorization".into(), "Bearer mine".into()));
        assert!(matches!(http.send(both).await.unwrap_err(), HttpError::InvalidRequest(_)));
        assert_eq!(http.request_count(), 0);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_credential_bound_to_other_hosts_is_not_sent() {
        let server = inspector().await;
        let http =
            capability(server.base_url(), CredentialInjection::Bearer, &["api.example.com"], HttpLimits::default());
        let error = http.send(request(format!("{}/inspect", server.base_url()), Some("key"))).await.unwrap_err();
        let HttpError::Denied(message) = error else { panic!("{error:?}") };
        assert!(message.contains("credential `key` may not be sent"), "{message}");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn requests_over_the_body_and_header_caps_are_refused_before_sending() {
        let server = inspector().await;
        let limits = HttpLimits {
            max_request_bytes: 1024,
            max_request_headers: 4,
            max_header_value_bytes: 100,
            ..HttpLimits::default()
        };
        let http = capability(server.base_url(), CredentialInjection::Bearer, &[], limits);
        let url = format!("{}/inspect", server.base_url());
        let mut big = request(url.clone(), None);
        big.body = Some(vec![b'x'; 2048]);
        let mut many = request(url.clone(), None);
        many.headers = (0..5).map(|n| (format!("x-{n}"), "v".to_string())).collect();
        let mut long = request(url, None);
        long.headers = vec![("x-long".into(), "v".repeat(101))];
        for (request, expected) in [(big, "a body of 2048 bytes"), (many, "5 headers"), (long, "`x-long` is longer")] {
            let error = http.send(request).await.unwrap_err();
            let HttpError::InvalidRequest(message) = &error else { panic!("{error:?}") };
            assert!(message.contains(expected), "{message}");
        }
        assert_eq!(http.request_count(), 0, "nothing was sent");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn responses_over_the_cap_are_refused() {
        let server = inspector().await;
        let limits = HttpLimits { max_response_bytes: 1 << 20, ..HttpLimits::default() };
        let http = capability(server.base_url(), CredentialInjection::Bearer, &[], limits);
        let error = http.send(request(format!("{}/big", server.base_url()), None)).await.unwrap_err();
        assert_eq!(error, HttpError::TooLarge(1 << 20));
    }

    /// At most `max_concurrent` requests of one installation are in flight, however many are sent.
    #[tokio::test(flavor = "multi_thread")]
    async fn requests_in_flight_are_capped_per_installation() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (in_flight, peak) = (now.clone(), most.clone());
        let router = Router::new().route(
            "/hold",
            get(move || {
                let (in_flight, peak) = (in_flight.clone(), peak.clone());
                async move {
                    peak.fetch_max(in_flight.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    "held"
                }
            }),
        );
        let server = max_fake_saas::RunningServer::start(router, "127.0.0.1:0".parse().unwrap()).await.unwrap();
        for cap in [2, 8] {
            most.store(0, Ordering::SeqCst);
            let limits = HttpLimits { max_concurrent: cap, ..HttpLimits::default() };
            let http = capability(server.base_url(), CredentialInjection::Bearer, &[], limits);
            let url = format!("{}/hold", server.base_url());
            let sends = (0..12).map(|_| http.send(request(url.clone(), None)));
            for response in futures::future::join_all(sends).await {
                assert_eq!(response.unwrap().status, 200);
            }
            let peak = most.load(Ordering::SeqCst);
            // The cap is what holds them back: under a larger one, more are in flight at once.
            assert!(if cap == 2 { peak == 2 } else { peak > 2 && peak <= cap }, "cap {cap}: {peak} in flight");
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn slow_responses_time_out() {
        let server = inspector().await;
        let limits = HttpLimits { request_timeout: Duration::from_millis(200), ..HttpLimits::default() };
        let http = capability(server.base_url(), CredentialInjection::Bearer, &[], limits);
        let error = http.send(request(format!("{}/slow", server.base_url()), None)).await.unwrap_err();
        assert_eq!(error, HttpError::Timeout);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_guest_can_name_only_its_declared_credentials_and_never_reads_a_secret() {
    let (server, received) = echo_server(None).await;
    let runtime = runtime();
    let loaded = load(&runtime, &guest("hostile"));
    let info = loaded.describe().await.unwrap();
    let secrets = [
        ("token", "s3cret-token"),
        ("oauth_token", "lin_oauth_live"),
        ("oauth_refresh", "lin_refresh_live"),
        ("oauth_client_secret", "client-s3cret"),
        ("oauth_token:expires_at", "4102444800"),
    ];
    let pool = InstancePool::new(
        "hostile",
        loaded,
        setup(&info.permissions, &[("base_url", server.base_url())], &secrets, Limits::default()),
        1,
    );
    let report = result_of(&pool, "steal-secrets", &format!("{}/echo", server.base_url())).await.unwrap();
    for key in ["oauth_refresh", "oauth_client_secret", "oauth_token:expires_at"] {
        assert!(report.contains(&format!("{key}: refused (")), "{report}");
        assert!(report.contains(&format!("unknown credential `{key}`")), "{report}");
    }
    assert!(report.ends_with(&format!("config: base_url={}", server.base_url())), "{report}");
    for (_, secret) in secrets {
        assert!(!report.contains(secret), "the guest saw {secret}: {report}");
    }
    assert!(received.lock().unwrap().is_empty(), "no request left with a secret it may not carry");
    max_tests::another_installation_syncs(&runtime).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_granted_name_that_resolves_into_the_users_network_is_refused() {
    use max_host::http::{HttpCapability, HttpLimits};
    use max_host::runtime::InstanceSetup;
    let runtime = runtime();
    let loaded = load(&runtime, &guest("hostile"));
    let info = loaded.describe().await.unwrap();
    let pool_for = |address: &str, base_url: &str| {
        let hosts = std::collections::HashMap::from([("allowed.example".to_string(), vec![address.parse().unwrap()])]);
        let secrets = Arc::new(std::collections::HashMap::from([("token".to_string(), "t0ken".to_string())]));
        let http = HttpCapability::new(&info.permissions, Some(base_url), secrets, HttpLimits::default())
            .with_fixed_hosts(hosts);
        let config = vec![("base_url".to_string(), base_url.to_string())];
        InstancePool::new(
            "hostile",
            loaded.clone(),
            InstanceSetup { config, http: Arc::new(http), limits: Limits::default() },
            1,
        )
    };
    // `allowed.example` is a host the connector declared; here it resolves into the user's network.
    for address in ["127.0.0.1", "169.254.169.254", "10.0.0.1", "::1", "::ffff:127.0.0.1"] {
        let pool = pool_for(address, "https://api.other.example");
        let error = result_of(&pool, "http", "https://allowed.example/latest/meta-data").await.unwrap_err();
        let Error::ConnectorFailed { error: ConnectorError::Forbidden(message), .. } = &error else {
            panic!("{address}: {error:?}")
        };
        assert!(message.contains("may not reach") && message.contains(address), "{address}: {message}");
        still_alive(&pool).await;
    }
    // The same name is reached when the user made it the base URL: the address check was what refused.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let pool = pool_for("127.0.0.1", &format!("https://allowed.example:{port}"));
    let error = result_of(&pool, "http", &format!("https://allowed.example:{port}/x")).await.unwrap_err();
    let Error::ConnectorFailed { error: ConnectorError::Transient(message), .. } = &error else { panic!("{error:?}") };
    assert!(message.contains("connection failed"), "{message}");
    max_tests::another_installation_syncs(&runtime).await;
}

async fn still_alive(pool: &InstancePool) {
    assert_eq!(result_of(pool, "echo", "ok").await.unwrap(), "ok");
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_drip_and_endless_responses_are_cut_off_by_the_host() {
    use axum::body::{Body, Bytes};
    use max_host::http::{HttpCapability, HttpLimits};
    use max_host::runtime::InstanceSetup;
    use std::time::{Duration, Instant};
    // One byte every 200 ms, forever; and megabytes as fast as they go, forever.
    let drip = futures::stream::unfold((), |()| async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        Some((Ok::<_, std::io::Error>(Bytes::from_static(b"x")), ()))
    });
    let flood = futures::stream::repeat_with(|| Ok::<_, std::io::Error>(Bytes::from(vec![b'y'; 64 << 10])));
    let drip = std::sync::Mutex::new(Some(Body::from_stream(drip)));
    let flood = std::sync::Mutex::new(Some(Body::from_stream(flood)));
    let drip = Arc::new(drip);
    let flood = Arc::new(flood);
    let router = Router::new()
        .route(
            "/drip",
            get(move || {
                let body = drip.lock().unwrap().take().unwrap_or_else(Body::empty);
                async move { body }
            }),
        )
        .route(
            "/flood",
            get(move || {
                let body = flood.lock().unwrap().take().unwrap_or_else(Body::empty);
                async move { body }
            }),
        );
    let server = max_fake_saas::RunningServer::start(router, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let runtime = runtime();
    let loaded = load(&runtime, &guest("hostile"));
    let info = loaded.describe().await.unwrap();
    let limits =
        HttpLimits { request_timeout: Duration::from_secs(1), max_response_bytes: 1 << 20, ..HttpLimits::default() };
    let secrets = Arc::new(std::collections::HashMap::from([("token".to_string(), "t0ken".to_string())]));
    let http = HttpCapability::new(&info.permissions, Some(server.base_url()), secrets, limits);
    let config = vec![("base_url".to_string(), server.base_url().to_string())];
    let setup = InstanceSetup { config, http: Arc::new(http), limits: Limits::default() };
    let pool = InstancePool::new("hostile", loaded, setup, 1);

    let started = Instant::now();
    let error = result_of(&pool, "http", &format!("{}/drip", server.base_url())).await.unwrap_err();
    let Error::ConnectorFailed { error: ConnectorError::Transient(message), .. } = &error else { panic!("{error:?}") };
    assert!(message.contains("timed out"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(5), "the drip was cut at the timeout: {:?}", started.elapsed());

    let error = result_of(&pool, "http", &format!("{}/flood", server.base_url())).await.unwrap_err();
    let Error::ConnectorFailed { error: ConnectorError::InvalidResponse(message), .. } = &error else {
        panic!("{error:?}")
    };
    assert!(message.contains("larger than 1048576 bytes"), "{message}");
    assert_eq!(result_of(&pool, "echo", "still here").await.unwrap(), "still here");
    max_tests::another_installation_syncs(&runtime).await;
}

/// A server echoes the token the host attached; the guest logs the echo, returns it as an error and
/// panics with it. The secret shows up nowhere: not on the terminal, not in the recorded failure, not in
/// any file of the project but the credential store.
#[test]
fn a_secret_a_server_echoes_is_redacted_from_logs_errors_and_crash_reports() {
    const SECRET: &str = "s3cret-token-4f9a";
    let received = Received::default();
    let record = received.clone();
    let server =
        max_fake_saas::RunningServer::spawn(move || echo_router(None, record), "127.0.0.1:0".parse().unwrap()).unwrap();
    let project = max_tests::TestProject::new();
    project.max().arg("init").assert().success();
    project.max().args(["connector", "install", "--yes"]).arg(guest("hostile")).assert().success();
    let (acme, _acme_server) = project.connect_acme();
    for (name, how) in [("error", "leak"), ("crash", "leak-panic")] {
        let probe = format!("{how}:{}/echo", server.base_url());
        connect_hostile(&project, name, server.base_url(), SECRET, &probe, &[]).success();
        let installation = format!("hostile/{name}");
        // The same process then syncs another installation completely.
        let output = project.max().args(["sync", &installation, "acme"]).env("MAX_LOG", "warn").assert().failure();
        let output = output.get_output();
        let shown = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(!shown.contains(SECRET), "{how}: the secret was shown: {shown}");
        assert!(shown.contains("the server said auth=Bearer [redacted]"), "{how}: {shown}");
        assert!(shown.contains("Synced acme/default"), "{how}: {shown}");
        project.assert_acme_synced(&acme);
        let json = project.max().args(["sync", &installation, "--retry-failed", "--json"]).assert().failure();
        let json = String::from_utf8_lossy(&json.get_output().stdout).into_owned();
        assert!(!json.contains(SECRET) && json.contains("[redacted]"), "{how}: {json}");
    }
    let sent = format!("Bearer {SECRET}");
    assert_eq!(*received.lock().unwrap(), [sent.as_str(); 4], "every attempt really sent the secret");
    for file in project.files_under(&project.path().join(".max")) {
        let text =
            String::from_utf8_lossy(&std::fs::read(project.path().join(".max").join(&file)).unwrap()).into_owned();
        let hostiles = file.starts_with("installations/hostile/") && file.ends_with("credentials.json");
        assert_eq!(text.contains(SECRET), hostiles, "{file}");
    }
}

/// An HTTP capability with the GitHub fake's token, for requests to `server`, and a request for
/// `/user` (with `If-None-Match: etag` when given, timing out after `timeout`).
fn github_capability(
    server: &max_fake_saas::RunningServer,
) -> (max_host::http::HttpCapability, impl Fn(Option<&str>, Option<Duration>) -> max_host::http::HttpRequest) {
    use max_fake_saas::github::DEFAULT_TOKEN;
    use max_host::http::{HttpCapability, HttpLimits, HttpRequest, Method, SecretSource};
    use max_host::manifest::{CredentialDef, CredentialInjection, Permissions};
    let secrets: Arc<dyn SecretSource> =
        Arc::new(std::collections::HashMap::from([("token".to_string(), DEFAULT_TOKEN.to_string())]));
    let permissions = Permissions {
        credentials: vec![CredentialDef {
            name: "token".into(),
            injection: CredentialInjection::Bearer,
            hosts: Vec::new(),
        }],
        ..Permissions::default()
    };
    let http = HttpCapability::new(&permissions, Some(server.base_url()), secrets, HttpLimits::default());
    let url = format!("{}/user", server.base_url());
    let request = move |etag: Option<&str>, timeout: Option<Duration>| {
        let mut headers = vec![("User-Agent".to_string(), "max-tests".to_string())];
        headers.extend(etag.map(|e| ("If-None-Match".to_string(), e.to_string())));
        HttpRequest {
            method: Method::Get,
            url: url.clone(),
            headers,
            body: None,
            credential: Some("token".into()),
            timeout,
        }
    };
    (http, request)
}

/// A conditional request answered `304 Not Modified` reaches the connector as a response and is
/// counted apart (the sync summary shows how many): against the GitHub fake, which doesn't count it
/// against the rate limit either.
#[tokio::test(flavor = "multi_thread")]
async fn answers_304_not_modified_are_counted_apart() {
    use max_fake_saas::github::{GitHub, GitHubConfig};
    let fake = GitHub::new(GitHubConfig::default());
    let server = fake.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let (http, request) = github_capability(&server);
    let first = http.send(request(None, None)).await.unwrap();
    assert_eq!(first.status, 200);
    let etag = first.headers.iter().find(|(n, _)| n == "etag").map(|(_, v)| v.clone()).unwrap();
    let second = http.send(request(Some(&etag), None)).await.unwrap();
    assert_eq!((second.status, second.body.len()), (304, 0));
    assert_eq!((http.not_modified_count(), http.request_count()), (1, 2));
    assert_eq!(fake.stats()["not_modified"], 1);
}

/// While the API has every request of the installation wait (a secondary limit's `Retry-After`),
/// the wait is not the request's own time: a request held longer than its timeout is still sent when
/// the wait ends. One held past the time its connector call has left is answered `429` with the
/// `Retry-After` still to wait, never sent, so the connector reports the limit and the task waits
/// outside the call instead of the call running out of time.
#[tokio::test(flavor = "multi_thread")]
async fn time_held_by_the_rate_limiter_is_not_a_request_s_and_ends_with_the_call() {
    use max_fake_saas::github::{GitHub, GitHubConfig};
    use max_host::http::HttpCapability;
    let fake = GitHub::new(GitHubConfig::default());
    let server = fake.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let (http, request) = github_capability(&server);
    http.send(request(None, None)).await.unwrap();

    http.pause_for(Duration::from_millis(1500));
    let started = std::time::Instant::now();
    let waited = http.send(request(None, Some(Duration::from_millis(500)))).await.unwrap();
    assert_eq!(waited.status, 200, "held 1.5 s with a timeout of 0.5 s, and answered");
    assert!(started.elapsed() >= Duration::from_millis(1400), "{:?}", started.elapsed());

    http.pause_for(Duration::from_secs(30));
    let before = fake.request_count();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
    let started = std::time::Instant::now();
    let held = HttpCapability::answering_by(deadline, http.send(request(None, None))).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5), "answered when the call's time was up");
    assert_eq!(held.status, 429);
    let header = |name: &str| held.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let retry_after: u64 = header("retry-after").unwrap().parse().unwrap();
    assert!((28..=30).contains(&retry_after), "the wait still ahead: {retry_after}");
    assert_eq!(header("x-max-held-back").as_deref(), Some("rate limit"));
    assert_eq!(fake.request_count(), before, "never sent");
}

/// A replayed answer gets the checks a live one gets: a cassette (a file anyone may have written)
/// can't hand a connector a body over the response cap, or reach an undeclared host.
#[tokio::test(flavor = "multi_thread")]
async fn a_replayed_answer_is_held_to_the_live_caps_and_grants() {
    use max_host::http::{
        Body, CASSETTE_FORMAT, Cassette, Exchange, HttpCapability, HttpError, HttpLimits, HttpRequest, Method, Outcome,
        RecordedRequest, Tape,
    };
    use max_host::manifest::Permissions;
    let exchange = |url: &str, body: &str| Exchange {
        request: RecordedRequest {
            method: "GET".into(),
            url: url.into(),
            headers: Vec::new(),
            body: None,
            credential: None,
        },
        outcome: Outcome::Response { status: 200, headers: Vec::new(), body: Body::Text(body.into()) },
    };
    let cassette = Cassette {
        format: CASSETTE_FORMAT,
        connector: "any".into(),
        version: "1.0.0".into(),
        config: Vec::new(),
        credentials: Vec::new(),
        exchanges: vec![
            exchange("http://127.0.0.1:9/small", "ok"),
            exchange("http://127.0.0.1:9/big", &"x".repeat(64)),
            exchange("https://elsewhere.example/", "never"),
        ],
    };
    let limits = HttpLimits { max_response_bytes: 16, ..HttpLimits::default() };
    let http = HttpCapability::new(
        &Permissions::default(),
        Some("http://127.0.0.1:9"),
        Arc::new(std::collections::HashMap::new()),
        limits,
    )
    .with_tape(Arc::new(Tape::replaying(&cassette)));
    let get = |url: &str| HttpRequest {
        method: Method::Get,
        url: url.into(),
        headers: Vec::new(),
        body: None,
        credential: None,
        timeout: None,
    };
    assert_eq!(http.send(get("http://127.0.0.1:9/small")).await.unwrap().body, b"ok");
    assert_eq!(http.send(get("http://127.0.0.1:9/big")).await.unwrap_err(), HttpError::TooLarge(16));
    assert!(matches!(http.send(get("https://elsewhere.example/")).await.unwrap_err(), HttpError::Denied(_)));
}
