//! Whether something answers at a base URL's host and port: checked when onboarding is given a base
//! URL, and before a sync starts, so a dead or mistyped server is reported in seconds instead of after
//! every task's retries.

use std::time::Duration;

/// How long a check may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// A base URL that is no `http(s)://host[:port][/path]`, or whose server doesn't accept a connection:
/// the reason, in words.
pub(crate) async fn check(text: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(text).map_err(|e| format!("`{text}` is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("`{text}` must start with https:// (or http://)"));
    }
    let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
        return Err(format!("`{text}` names no host"));
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match tokio::time::timeout(TIMEOUT, tokio::net::TcpStream::connect((host, port))).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(format!("can't reach {host}:{port}: {error}")),
        Err(_) => Err(format!("can't reach {host}:{port}: no answer within {} s", TIMEOUT.as_secs())),
    }
}
