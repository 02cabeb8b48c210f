//! Talking to one registry through `oci-client`: credentials, retries with backoff, downloads capped
//! before (the size the manifest announces) and during transfer (the bytes that come), resumed from
//! where they stopped, and checked against their digests; the registry's failures as Max's errors.

use std::time::Duration;

use futures::StreamExt as _;
use oci_client::RegistryOperation;
use oci_client::client::{BlobResponse, ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::errors::{DigestError, OciDistributionError};
use oci_client::manifest::{
    OCI_IMAGE_INDEX_MEDIA_TYPE, OCI_IMAGE_MEDIA_TYPE, OciDescriptor, OciImageManifest, OciManifest,
};
use oci_client::secrets::RegistryAuth;

use super::reference::OciReference;
use crate::{Error, Result};

/// How many times a request that failed for a moment (no connection, a 5xx, a 429) is tried.
const ATTEMPTS: u32 = 4;
/// The largest manifest read (a connector's is a few KiB).
const MAX_MANIFEST_BYTES: usize = 4 << 20;
/// The largest page of a tag list or catalog read.
const MAX_LIST_BYTES: usize = 4 << 20;
/// Items asked for per page of a list.
const PAGE: usize = 100;
/// The most pages of one list read.
const MOST_PAGES: usize = 100;
/// The most tags of one repository read.
const MOST_TAGS: usize = 10_000;

/// A user name and password (or token) for a registry.
#[derive(Clone)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password or token.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("username", &self.username).finish_non_exhaustive()
    }
}

impl Credentials {
    /// The user's own credentials for `registry`, from Docker's configuration
    /// (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`; its `auths` entries, as `docker
    /// login` writes them). Max never stores them.
    pub fn from_docker_config(registry: &str) -> Option<Credentials> {
        let dir = std::env::var_os("DOCKER_CONFIG")
            .map(std::path::PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| std::path::Path::new(&home).join(".docker")))?;
        let config: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("config.json")).ok()?).ok()?;
        let auths = config.get("auths")?.as_object()?;
        let entry = auths.iter().find(|(key, _)| {
            let host = key.trim_start_matches("https://").trim_start_matches("http://");
            host.split('/').next() == Some(registry)
        })?;
        use base64::Engine as _;
        let decoded = base64::engine::general_purpose::STANDARD.decode(entry.1.get("auth")?.as_str()?).ok()?;
        let (username, password) =
            String::from_utf8(decoded).ok()?.split_once(':').map(|(u, p)| (u.to_string(), p.to_string()))?;
        Some(Credentials { username, password })
    }
}

/// One registry, as a reference names it.
pub struct Registry {
    client: oci_client::Client,
    /// For the small documents read whole (manifests, tag lists, the catalog), each capped.
    http: reqwest::Client,
    /// The pull token of each repository asked about (none: the registry wants basic or no auth).
    tokens: tokio::sync::Mutex<std::collections::HashMap<String, Option<String>>>,
    auth: RegistryAuth,
    name: String,
    /// `http` for a registry on this machine, else `https`.
    scheme: &'static str,
}

impl Registry {
    /// The registry of `reference`, with `credentials` (else the user's Docker credentials for it,
    /// else anonymous). A registry on this machine is spoken to over HTTP, others over HTTPS.
    pub fn of(reference: &OciReference, credentials: Option<Credentials>) -> Registry {
        let protocol = if reference.is_loopback() { ClientProtocol::Http } else { ClientProtocol::Https };
        let config = ClientConfig {
            protocol,
            connect_timeout: Some(Duration::from_secs(10)),
            read_timeout: Some(Duration::from_secs(60)),
            user_agent: concat!("max/", env!("CARGO_PKG_VERSION")),
            ..ClientConfig::default()
        };
        let auth = match credentials.or_else(|| Credentials::from_docker_config(reference.registry())) {
            Some(c) => RegistryAuth::Basic(c.username, c.password),
            None => RegistryAuth::Anonymous,
        };
        let scheme = if reference.is_loopback() { "http" } else { "https" };
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("max/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Registry {
            client: oci_client::Client::new(config),
            http,
            tokens: Default::default(),
            auth,
            name: reference.registry().to_string(),
            scheme,
        }
    }

    /// Pushes an artifact (its blobs, then its manifest) to `reference`'s tag; returns the manifest's
    /// digest (of the exact bytes pushed, which the registry keeps as they are).
    pub async fn push(
        &self,
        reference: &OciReference,
        layer: ImageLayer,
        config: Config,
        manifest: OciImageManifest,
    ) -> Result<String> {
        let body = serde_json::to_vec(&manifest).map_err(|e| Error::Runtime(e.to_string()))?;
        let digest = format!("sha256:{}", crate::format::sha256_hex(&body));
        let image = reference.inner();
        self.client.store_auth_if_needed(image.resolve_registry(), &self.auth).await;
        self.retrying(reference, || self.client.push_blob(image, &layer.data, &manifest.layers[0].digest)).await?;
        self.retrying(reference, || self.client.push_blob(image, &config.data, &manifest.config.digest)).await?;
        let media_type = reqwest::header::HeaderValue::from_static(OCI_IMAGE_MEDIA_TYPE);
        self.retrying(reference, || self.client.push_manifest_raw(image, body.clone(), media_type.clone())).await?;
        Ok(digest)
    }

    /// The manifest at `reference` and its digest (computed from its bytes, and checked against the
    /// digest the reference names). At most 4 MiB is read, however much the registry sends.
    pub async fn manifest(&self, reference: &OciReference) -> Result<(OciManifest, String)> {
        let accept = [OCI_IMAGE_MEDIA_TYPE, OCI_IMAGE_INDEX_MEDIA_TYPE].join(", ");
        let name = reference.digest().or(reference.tag()).unwrap_or("latest");
        let path = format!("/v2/{}/manifests/{name}", reference.repository());
        let (body, _) =
            self.retrying(reference, || self.get_capped(reference, &path, &accept, MAX_MANIFEST_BYTES)).await?;
        let digest = format!("sha256:{}", crate::format::sha256_hex(&body));
        if let Some(expected) = reference.digest()
            && expected != digest
        {
            return Err(Error::DigestMismatch {
                reference: reference.to_string(),
                what: "manifest".to_string(),
                expected: expected.to_string(),
                found: digest,
            });
        }
        let manifest: OciManifest = serde_json::from_slice(&body).map_err(|e| Error::NotAComponentArtifact {
            reference: reference.to_string(),
            reason: format!("its manifest doesn't parse: {e}"),
        })?;
        Ok((manifest, digest))
    }

    /// The blob `descriptor` describes, at most `limit` bytes (and never more than it announces),
    /// resumed from where a broken transfer stopped, checked against its digest.
    pub async fn blob(
        &self,
        reference: &OciReference,
        descriptor: &OciDescriptor,
        what: &str,
        limit: u64,
    ) -> Result<Vec<u8>> {
        let announced = descriptor.size.max(0) as u64;
        let too_large = |size: u64| Error::ArtifactTooLarge {
            reference: reference.to_string(),
            what: what.to_string(),
            size,
            limit,
        };
        if announced > limit {
            return Err(too_large(announced));
        }
        let mut bytes: Vec<u8> = Vec::with_capacity(announced as usize);
        let mut attempt = 0;
        loop {
            let started = if bytes.is_empty() {
                self.client.pull_blob_stream(reference.inner(), descriptor).await.map(|s| (s, false))
            } else {
                match self
                    .client
                    .pull_blob_stream_partial(reference.inner(), descriptor, bytes.len() as u64, None)
                    .await
                {
                    Ok(BlobResponse::Partial(stream)) => Ok((stream, false)),
                    Ok(BlobResponse::Full(stream)) => Ok((stream, true)),
                    Err(error) => Err(error),
                }
            };
            let broken = match started {
                Ok((mut stream, restart)) => {
                    if restart {
                        bytes.clear();
                    }
                    let mut broken = None;
                    while let Some(chunk) = stream.next().await {
                        match chunk {
                            Ok(chunk) => {
                                bytes.extend_from_slice(&chunk);
                                if bytes.len() as u64 > announced.min(limit) {
                                    return Err(too_large(bytes.len() as u64));
                                }
                            }
                            // Every byte came but they don't hash to the digest: said below, with both digests.
                            Err(error) if error.get_ref().is_some_and(|inner| inner.is::<DigestError>()) => break,
                            Err(error) => {
                                broken = Some(error.to_string());
                                break;
                            }
                        }
                    }
                    broken
                }
                Err(error) => Some(self.describe(reference, error)?),
            };
            match broken {
                None => break,
                Some(reason) if attempt + 1 >= ATTEMPTS => {
                    return Err(Error::RegistryUnreachable { registry: self.name.clone(), reason });
                }
                Some(_) => {
                    attempt += 1;
                    tokio::time::sleep(backoff(attempt)).await;
                }
            }
        }
        let digest = format!("sha256:{}", crate::format::sha256_hex(&bytes));
        if digest != descriptor.digest {
            return Err(Error::DigestMismatch {
                reference: reference.to_string(),
                what: what.to_string(),
                expected: descriptor.digest.clone(),
                found: digest,
            });
        }
        Ok(bytes)
    }

    /// The tags of `reference`'s repository, page by page (`Link`), at most [`MOST_TAGS`].
    pub async fn tags(&self, reference: &OciReference) -> Result<Vec<String>> {
        #[derive(serde::Deserialize)]
        struct Tags {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let first = format!("/v2/{}/tags/list?n={PAGE}", reference.repository());
        self.paged(reference, first, MOST_TAGS, |body| {
            Ok(serde_json::from_slice::<Tags>(body)?.tags.unwrap_or_default())
        })
        .await
    }

    /// The repositories the registry lists (its catalog, `GET /v2/_catalog`), page by page, at most
    /// `most`. Registries that keep their catalog private (GHCR, Docker Hub) answer that they don't;
    /// `probe` names the registry (any repository in it).
    pub async fn catalog(&self, probe: &OciReference, most: usize) -> Result<Vec<String>> {
        #[derive(serde::Deserialize)]
        struct Catalog {
            #[serde(default)]
            repositories: Vec<String>,
        }
        let first = format!("/v2/_catalog?n={PAGE}");
        let listed =
            self.paged(probe, first, most, |body| Ok(serde_json::from_slice::<Catalog>(body)?.repositories)).await;
        match listed {
            Err(Error::ArtifactNotFound { .. }) => Err(Error::RegistryUnreachable {
                registry: self.name.clone(),
                reason: "it keeps no public catalog of its repositories; install by reference instead".to_string(),
            }),
            other => other,
        }
    }

    /// The items of a list the registry pages with `Link: <next>; rel="next"`, from `path`, at most
    /// `most`; each page read by `items` from its body.
    async fn paged(
        &self,
        reference: &OciReference,
        mut path: String,
        most: usize,
        items: impl Fn(&[u8]) -> serde_json::Result<Vec<String>>,
    ) -> Result<Vec<String>> {
        let mut all = Vec::new();
        for _ in 0..MOST_PAGES {
            let (body, next) = self
                .retrying(reference, || self.get_capped(reference, &path, "application/json", MAX_LIST_BYTES))
                .await?;
            let page = items(&body).map_err(|e| Error::RegistryUnreachable {
                registry: self.name.clone(),
                reason: format!("its list at {path} doesn't parse: {e}"),
            })?;
            let empty = page.is_empty();
            all.extend(page);
            match next {
                Some(next) if !empty && all.len() < most => path = next,
                _ => break,
            }
        }
        all.truncate(most);
        Ok(all)
    }

    /// `GET path` on the registry, as `reference`'s repository allows (a pull token, else the basic
    /// credentials): its body, read up to `limit` bytes (more is refused while it comes), and the
    /// path of the next page when `Link` names one. Failures as `oci-client` reports its own.
    async fn get_capped(
        &self,
        reference: &OciReference,
        path: &str,
        accept: &str,
        limit: usize,
    ) -> std::result::Result<(Vec<u8>, Option<String>), OciDistributionError> {
        let url = format!("{}://{}{path}", self.scheme, self.name);
        let mut request = self.http.get(&url).header(reqwest::header::ACCEPT, accept);
        request = match (self.pull_token(reference).await?, &self.auth) {
            (Some(token), _) => request.bearer_auth(token),
            (None, RegistryAuth::Basic(user, password)) => request.basic_auth(user, Some(password)),
            (None, _) => request,
        };
        let response = request.send().await?;
        let status = response.status().as_u16();
        let next =
            response.headers().get(reqwest::header::LINK).and_then(|link| link.to_str().ok()).and_then(next_page);
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            body.extend_from_slice(&chunk?);
            if body.len() > limit {
                return Err(OciDistributionError::GenericError(Some(format!(
                    "{path}: the registry sent more than {} KiB where a few are expected",
                    limit >> 10
                ))));
            }
        }
        if status == 200 {
            return Ok((body, next));
        }
        if status == 401 {
            return Err(OciDistributionError::UnauthorizedError { url });
        }
        match serde_json::from_slice::<oci_client::errors::OciEnvelope>(&body) {
            Ok(envelope) if !envelope.errors.is_empty() => Err(OciDistributionError::RegistryError { envelope, url }),
            _ => Err(OciDistributionError::ServerError {
                code: status,
                url,
                message: String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
            }),
        }
    }

    /// The bearer token that lets these credentials pull from `reference`'s repository, asked for
    /// once per repository; none when the registry takes basic credentials or none at all.
    async fn pull_token(&self, reference: &OciReference) -> std::result::Result<Option<String>, OciDistributionError> {
        let mut tokens = self.tokens.lock().await;
        if let Some(token) = tokens.get(reference.repository()) {
            return Ok(token.clone());
        }
        let token = self.client.auth(reference.inner(), &self.auth, RegistryOperation::Pull).await?;
        tokens.insert(reference.repository().to_string(), token.clone());
        Ok(token)
    }

    /// Runs `call`, again after a backoff when it failed for a moment; its failure as Max's error.
    async fn retrying<T, F, Fut>(&self, reference: &OciReference, call: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = std::result::Result<T, OciDistributionError>>,
    {
        let mut attempt = 0;
        loop {
            match call().await {
                Ok(value) => return Ok(value),
                Err(error) => {
                    let reason = self.describe(reference, error)?;
                    attempt += 1;
                    if attempt >= ATTEMPTS {
                        return Err(Error::RegistryUnreachable { registry: self.name.clone(), reason });
                    }
                    tokio::time::sleep(backoff(attempt)).await;
                }
            }
        }
    }

    /// What a failure means: `Err` for one retrying can't help (refused credentials, nothing
    /// there), `Ok(reason)` for one worth another try.
    fn describe(&self, reference: &OciReference, error: OciDistributionError) -> Result<String> {
        let denied = |reason: String| Error::RegistryDenied { registry: self.name.clone(), reason };
        let missing = |reason: String| Error::ArtifactNotFound { reference: reference.to_string(), reason };
        match error {
            OciDistributionError::UnauthorizedError { .. } => Err(denied("no access with these credentials".into())),
            OciDistributionError::AuthenticationFailure(reason) => Err(denied(reason)),
            OciDistributionError::ImageManifestNotFoundError(reason) => Err(missing(reason)),
            OciDistributionError::RegistryError { envelope, .. } => {
                use oci_client::errors::OciErrorCode as Code;
                let text: Vec<String> = envelope.errors.iter().map(|e| e.message.clone()).collect();
                let text = text.join("; ");
                let code = |wanted: &[Code]| envelope.errors.iter().any(|e| wanted.contains(&e.code));
                if code(&[Code::ManifestUnknown, Code::NameUnknown, Code::BlobUnknown, Code::NotFound]) {
                    Err(missing(text))
                } else if code(&[Code::Denied, Code::Unauthorized]) {
                    Err(denied(text))
                } else if code(&[Code::Toomanyrequests]) {
                    Ok(text)
                } else {
                    Err(Error::RegistryUnreachable { registry: self.name.clone(), reason: text })
                }
            }
            OciDistributionError::ServerError { code, message, .. } => match code {
                404 => Err(missing(message)),
                401 | 403 => Err(denied(message)),
                408 | 429 | 500..=599 => Ok(format!("HTTP {code}: {message}")),
                _ => Err(Error::RegistryUnreachable {
                    registry: self.name.clone(),
                    reason: format!("HTTP {code}: {message}"),
                }),
            },
            OciDistributionError::RequestError(error) => Ok(describe_request_error(&error)),
            OciDistributionError::IoError(error) => Ok(error.to_string()),
            OciDistributionError::GenericError(reason) => {
                Err(Error::RegistryUnreachable { registry: self.name.clone(), reason: reason.unwrap_or_default() })
            }
            other => Err(Error::RegistryUnreachable { registry: self.name.clone(), reason: other.to_string() }),
        }
    }
}

/// The path (and query) of the next page a `Link` header names (`</v2/…?n=100&last=x>; rel="next"`).
fn next_page(link: &str) -> Option<String> {
    link.split(',').find(|part| part.contains("rel=\"next\"")).and_then(|part| {
        let target = part.split_once('<')?.1.split_once('>')?.0;
        // A registry may give an absolute URL; only its path is followed, on the same registry.
        let path = match target.find("://") {
            Some(at) => &target[at + 3..][target[at + 3..].find('/')?..],
            None => target,
        };
        path.starts_with("/v2/").then(|| path.to_string())
    })
}

/// A transport failure in a few words (no URL with credentials in it).
fn describe_request_error(error: &reqwest::Error) -> String {
    if error.is_connect() {
        "can't connect (is the registry running, and the address right?)".to_string()
    } else if error.is_timeout() {
        "timed out".to_string()
    } else {
        let mut text = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            text = format!("{text}: {cause}");
            source = cause.source();
        }
        text
    }
}

/// The wait before attempt `n` (from 1): 0.5 s, 1 s, 2 s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(250 << attempt.min(4))
}

#[cfg(test)]
mod tests {
    use super::next_page;

    #[test]
    fn the_next_page_is_followed_only_on_the_same_registry() {
        let link = r#"</v2/_catalog?last=max%2Facme&n=100>; rel="next""#;
        assert_eq!(next_page(link).as_deref(), Some("/v2/_catalog?last=max%2Facme&n=100"));
        let absolute = r#"<https://elsewhere.example/v2/max/acme/tags/list?last=1.0.0>; rel="next""#;
        assert_eq!(next_page(absolute).as_deref(), Some("/v2/max/acme/tags/list?last=1.0.0"));
        assert_eq!(next_page(r#"</v2/x>; rel="prev""#), None);
        assert_eq!(next_page(r#"</admin>; rel="next""#), None);
        assert_eq!(next_page("garbage"), None);
    }
}
