//! The OAuth2 refresh-token flow for credentials a connector declares as `oauth2`. The host refreshes
//! the access token itself: before it expires (once an expiry is known) and when the API answers 401.
//! One refresh runs at a time per installation, and a worker that finds the token already replaced
//! uses the new one instead of refreshing again. New tokens (a rotated refresh token included) are
//! stored through the secret source before any request uses them. The connector never sees a token:
//! it names the credential, and the refresh and client secrets can't be named at all.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::Url;

use super::SecretSource;
use super::grants::{self, Grants};
use crate::manifest::{CredentialDef, HostPermission, OAuth2};

/// The largest token response read.
const MAX_TOKEN_RESPONSE: usize = 64 << 10;

/// Refresh this long before the stored expiry.
const EARLY: Duration = Duration::from_secs(60);

/// Per-installation refresh state.
#[derive(Debug)]
pub struct Refresher {
    lock: tokio::sync::Mutex<()>,
    declared_hosts: Vec<HostPermission>,
    base_url: Option<Url>,
}

/// What a refresh needs from the HTTP capability.
pub struct Context<'a> {
    pub client: &'a reqwest::Client,
    pub grants: &'a Grants,
    pub resolver: &'a super::addresses::CheckedResolver,
    pub secrets: &'a dyn SecretSource,
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Where the expiry of credential `name` is kept in the secret store.
fn expiry_key(name: &str) -> String {
    format!("{name}:expires_at")
}

impl Refresher {
    /// For a connector declaring `hosts`, installed with `base_url`.
    pub fn new(hosts: &[HostPermission], base_url: Option<&str>) -> Self {
        Refresher {
            lock: tokio::sync::Mutex::new(()),
            declared_hosts: hosts.to_vec(),
            base_url: base_url.and_then(|u| Url::parse(u).ok()),
        }
    }

    /// Whether the stored access token of `def` expires within a minute.
    pub fn expiring(&self, secrets: &dyn SecretSource, def: &CredentialDef) -> bool {
        let expires = secrets.secret(&expiry_key(&def.name)).and_then(|s| s.parse::<u64>().ok());
        expires.is_some_and(|at| now_secs() + EARLY.as_secs() >= at)
    }

    /// The token endpoint: as declared, or moved to the configured base URL's origin when it is on
    /// one of the declared hosts (so a test server or a self-hosted API gets its own endpoint).
    fn token_url(&self, declared: &str) -> Result<Url, String> {
        let mut url = Url::parse(declared).map_err(|e| format!("bad token URL `{declared}`: {e}"))?;
        if let Some(base) = &self.base_url
            && self.declared_hosts.iter().any(|h| grants::host_matches(&h.host, &url))
        {
            url.set_scheme(base.scheme()).map_err(|()| "the base URL's scheme can't carry a token URL".to_string())?;
            url.set_host(base.host_str()).map_err(|e| e.to_string())?;
            url.set_port(base.port()).map_err(|()| "the base URL's port can't carry a token URL".to_string())?;
        }
        Ok(url)
    }

    /// Replaces the access token `used` of `def` with a fresh one and returns it, or returns the token
    /// another worker already put in its place.
    pub async fn refresh(
        &self,
        context: &Context<'_>,
        def: &CredentialDef,
        oauth: &OAuth2,
        used: &str,
    ) -> Result<String, String> {
        let _one_at_a_time = self.lock.lock().await;
        let secrets = context.secrets;
        if let Some(current) = secrets.secret(&def.name).filter(|current| current != used) {
            return Ok(current);
        }
        let refresh_token = secrets
            .secret(&oauth.refresh_token_key)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| format!("no refresh token is stored under `{}`", oauth.refresh_token_key))?;
        let mut form =
            vec![("grant_type".to_string(), "refresh_token".to_string()), ("refresh_token".to_string(), refresh_token)];
        for (field, key) in [("client_id", &oauth.client_id_key), ("client_secret", &oauth.client_secret_key)] {
            if let Some(value) = key.as_ref().and_then(|k| secrets.secret(k)) {
                form.push((field.to_string(), value));
            }
        }
        let url = self.token_url(&oauth.token_url)?;
        context.grants.check(&url)?;
        if let Some(ip) = super::literal_ip(&url) {
            context.resolver.check_literal(url.host_str().unwrap_or_default(), ip).map_err(|e| e.to_string())?;
        }
        let response = context
            .client
            .post(url)
            .form(&form)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| format!("the token endpoint could not be reached: {}", e.without_url()))?;
        let status = response.status().as_u16();
        let mut response = response;
        let mut bytes = Vec::new();
        while let Some(chunk) =
            response.chunk().await.map_err(|e| format!("reading the token response: {}", e.without_url()))?
        {
            if bytes.len() + chunk.len() > MAX_TOKEN_RESPONSE {
                return Err(format!("the token response is larger than {MAX_TOKEN_RESPONSE} bytes"));
            }
            bytes.extend_from_slice(&chunk);
        }
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let text = |key: &str| body.get(key).and_then(|v| v.as_str()).filter(|s| !s.is_empty());
        let Some(access) = text("access_token").filter(|_| status == 200) else {
            let why = [text("error"), text("error_description")].into_iter().flatten().collect::<Vec<_>>().join(": ");
            return Err(format!(
                "the token endpoint refused the refresh (HTTP {status}{}{why})",
                if why.is_empty() { "" } else { ", " }
            ));
        };
        let mut changes = vec![(def.name.clone(), access.to_string())];
        if let Some(rotated) = text("refresh_token") {
            changes.push((oauth.refresh_token_key.clone(), rotated.to_string()));
        }
        if let Some(seconds) = body.get("expires_in").and_then(serde_json::Value::as_u64) {
            changes.push((expiry_key(&def.name), (now_secs() + seconds).to_string()));
        }
        secrets.store(&changes).map_err(|e| format!("the new tokens could not be stored: {e}"))?;
        Ok(access.to_string())
    }
}
