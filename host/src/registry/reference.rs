//! `oci://REGISTRY/NAMESPACE/NAME:TAG` and `oci://REGISTRY/NAMESPACE/NAME@sha256:…`: where a connector
//! is in a registry.

use crate::{Error, Result};

/// The scheme that marks a registry reference.
pub const SCHEME: &str = "oci://";

/// A connector's place in a registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciReference {
    inner: oci_client::Reference,
}

impl OciReference {
    /// Parses `oci://…`. The registry is required (no implicit Docker Hub): `localhost:5000/ns/name`,
    /// `ghcr.io/org/name`. A reference with neither tag nor digest means `latest`.
    pub fn parse(text: &str) -> Result<OciReference> {
        let bad = |reason: &str| Error::BadReference { reference: text.to_string(), reason: reason.to_string() };
        let rest = text.strip_prefix(SCHEME).ok_or_else(|| bad("it must start with oci://"))?;
        let registry = rest.split('/').next().unwrap_or_default();
        if !rest.contains('/') || !(registry.contains('.') || registry.contains(':') || registry == "localhost") {
            return Err(bad("name the registry first: oci://REGISTRY/NAMESPACE/NAME:TAG (ghcr.io/acme/linear:1.0.0)"));
        }
        let inner: oci_client::Reference = rest.parse().map_err(|e: oci_client::ParseError| bad(&e.to_string()))?;
        Ok(OciReference { inner })
    }

    /// Whether `text` is meant as a registry reference (it has the scheme).
    pub fn is_reference(text: &str) -> bool {
        text.starts_with(SCHEME)
    }

    /// The same repository at `digest`.
    pub fn at_digest(&self, digest: &str) -> OciReference {
        let inner = oci_client::Reference::with_digest(
            self.inner.registry().to_string(),
            self.inner.repository().to_string(),
            digest.to_string(),
        );
        OciReference { inner }
    }

    /// The same repository at `tag`.
    pub fn at_tag(&self, tag: &str) -> OciReference {
        let inner = oci_client::Reference::with_tag(
            self.inner.registry().to_string(),
            self.inner.repository().to_string(),
            tag.to_string(),
        );
        OciReference { inner }
    }

    /// The registry (`host:port`).
    pub fn registry(&self) -> &str {
        self.inner.registry()
    }

    /// The repository (`namespace/name`).
    pub fn repository(&self) -> &str {
        self.inner.repository()
    }

    /// The tag, if the reference has one.
    pub fn tag(&self) -> Option<&str> {
        self.inner.tag()
    }

    /// The digest, if the reference names one.
    pub fn digest(&self) -> Option<&str> {
        self.inner.digest()
    }

    /// Whether the registry is on this machine (`localhost`, `127.0.0.0/8`, `[::1]`): spoken to over
    /// plain HTTP, as Docker does for loopback registries.
    pub fn is_loopback(&self) -> bool {
        let host = self.registry().rsplit_once(':').map_or(self.registry(), |(host, _)| host);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    pub(crate) fn inner(&self) -> &oci_client::Reference {
        &self.inner
    }
}

impl std::fmt::Display for OciReference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{SCHEME}{}/{}", self.registry(), self.repository())?;
        if let Some(tag) = self.tag() {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = self.digest() {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_name_a_registry_and_a_tag_or_digest() {
        let tagged = OciReference::parse("oci://127.0.0.1:5000/max/linear:0.3.0").unwrap();
        assert_eq!(
            (tagged.registry(), tagged.repository(), tagged.tag()),
            ("127.0.0.1:5000", "max/linear", Some("0.3.0"))
        );
        assert!(tagged.is_loopback());
        assert_eq!(tagged.to_string(), "oci://127.0.0.1:5000/max/linear:0.3.0");
        let digest = format!("sha256:{}", "a".repeat(64));
        let pinned = OciReference::parse(&format!("oci://ghcr.io/acme/linear@{digest}")).unwrap();
        assert_eq!(pinned.digest(), Some(digest.as_str()));
        assert!(!pinned.is_loopback());
        assert_eq!(OciReference::parse("oci://localhost:5000/linear").unwrap().tag(), Some("latest"));
        for bad in ["./linear.wasm", "oci://linear:1.0", "oci://ghcr.io", "oci://ghcr.io/Acme/LINEAR:1.0"] {
            assert!(matches!(OciReference::parse(bad), Err(Error::BadReference { .. })), "{bad}");
        }
    }
}
