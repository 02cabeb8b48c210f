//! The HTTP capability as a guest sees it: secrets attached by the host, redirects checked on every
//! hop, and failures returned as typed errors.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use max_host::runtime::{InstancePool, Limits};
use max_host::{ConnectorError, Error};
use max_tests::{guest, load, runtime, setup};

use crate::sandbox::result_of;

/// A loopback server that echoes the `Authorization` header it got, and redirects `/away` to `target`.
async fn echo_server(target: Option<String>) -> (max_fake_saas::RunningServer, Arc<AtomicU64>) {
    let hits = Arc::new(AtomicU64::new(0));
    let counter = hits.clone();
    let router = Router::new()
        .route(
            "/echo",
            get(move |headers: HeaderMap| {
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, Ordering::Relaxed);
                    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("none").to_string();
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
        );
    let server = max_fake_saas::RunningServer::start(router, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    (server, hits)
}

async fn hostile_at(base_url: &str) -> InstancePool {
    let runtime = runtime();
    let loaded = load(&runtime, &guest("hostile"));
    let info = loaded.describe().await.unwrap();
    InstancePool::new("hostile", loaded, setup(&info.permissions, &[("base_url", base_url)], &[("token", "s3cret-token")], Limits::default()), 2)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_host_attaches_the_secret_the_guest_names() {
    let (server, hits) = echo_server(None).await;
    let pool = hostile_at(server.base_url()).await;
    let result = result_of(&pool, "http", &format!("{}/echo", server.base_url())).await.unwrap();
    assert_eq!(result, "HTTP 200: auth=Bearer s3cret-token");
    assert_eq!(hits.load(Ordering::Relaxed), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn redirects_to_an_undeclared_host_are_refused() {
    let (elsewhere, elsewhere_hits) = echo_server(None).await;
    let (server, _) = echo_server(Some(format!("{}/echo", elsewhere.base_url()))).await;
    let pool = hostile_at(server.base_url()).await;
    let error = result_of(&pool, "http", &format!("{}/away", server.base_url())).await.unwrap_err();
    let Error::ConnectorFailed { error: ConnectorError::Forbidden(message), .. } = &error else { panic!("{error:?}") };
    assert!(message.contains(elsewhere.base_url()), "{message}");
    assert_eq!(elsewhere_hits.load(Ordering::Relaxed), 0, "the redirect was not followed");
}

#[tokio::test(flavor = "multi_thread")]
async fn redirects_within_the_grant_are_followed_with_the_secret() {
    let (server, hits) = echo_server(Some("/echo".to_string())).await;
    let pool = hostile_at(server.base_url()).await;
    let result = result_of(&pool, "http", &format!("{}/away", server.base_url())).await.unwrap();
    assert_eq!(result, "HTTP 200: auth=Bearer s3cret-token");
    assert_eq!(hits.load(Ordering::Relaxed), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_server_is_a_transient_error() {
    // Bind and drop a listener to get a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let pool = hostile_at(&base).await;
    let error = result_of(&pool, "http", &format!("{base}/echo")).await.unwrap_err();
    assert!(matches!(error, Error::ConnectorFailed { error: ConnectorError::Transient(_), .. }), "{error:?}");
}
