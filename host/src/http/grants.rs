//! Which URLs an installation may reach: the hosts its connector declared (HTTPS only, optional path
//! prefix) and the origin of the base URL its user configured (any scheme the user chose).

use reqwest::Url;

use crate::manifest::HostPermission;

/// A URL's scheme, host and port: what "same origin" compares.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl Origin {
    fn of(url: &Url) -> Option<Self> {
        Some(Origin {
            scheme: url.scheme().to_string(),
            host: url.host_str()?.to_ascii_lowercase(),
            port: url.port_or_known_default(),
        })
    }
}

/// The hosts granted to one installation.
#[derive(Debug, Clone)]
pub struct Grants {
    hosts: Vec<HostPermission>,
    base: Option<Origin>,
}

impl Grants {
    /// Grants the declared `hosts` and the origin of `base_url`.
    pub fn new(hosts: &[HostPermission], base_url: Option<&str>) -> Self {
        let base = base_url.and_then(|b| Url::parse(b).ok()).and_then(|u| Origin::of(&u));
        Grants { hosts: hosts.to_vec(), base }
    }

    /// Whether `url` may be requested; the error says what was refused and what is granted.
    pub fn check(&self, url: &Url) -> Result<(), String> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("scheme `{}` is not allowed (only http and https)", url.scheme()));
        }
        if self.base.is_some() && Origin::of(url) == self.base {
            return Ok(());
        }
        let granted = self.hosts.iter().any(|grant| {
            url.scheme() == "https"
                && host_matches(&grant.host, url)
                && grant.path_prefix.as_deref().is_none_or(|prefix| url.path().starts_with(prefix))
        });
        if granted {
            return Ok(());
        }
        Err(format!("{} was not granted to this connector (granted: {})", describe(url), self.describe_grants()))
    }

    fn describe_grants(&self) -> String {
        let mut granted: Vec<String> = self.hosts.iter().map(|h| format!("https://{h}")).collect();
        if let Some(base) = &self.base {
            let port = base.port.map(|p| format!(":{p}")).unwrap_or_default();
            granted.push(format!("{}://{}{port}", base.scheme, base.host));
        }
        if granted.is_empty() { "nothing".to_string() } else { granted.join(", ") }
    }
}

/// `scheme://host[:port]/path` of a URL, without its query (which may carry a secret).
fn describe(url: &Url) -> String {
    format!("{}://{}{}", url.scheme(), authority(url), url.path())
}

/// `host[:port]` of a URL.
pub(crate) fn authority(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_string(),
        (None, _) => "(no host)".to_string(),
    }
}

/// Whether `pattern` (`api.example.com`, `*.example.com`, `localhost:8080`) matches the URL's host and
/// port. Without a port in the pattern only the scheme's default port matches.
pub(crate) fn host_matches(pattern: &str, url: &Url) -> bool {
    let Some(host) = url.host_str() else { return false };
    let host = host.to_ascii_lowercase();
    let pattern = pattern.to_ascii_lowercase();
    let (pattern_host, pattern_port) = split_port(&pattern);
    let port_ok = match pattern_port {
        Some(port) => url.port_or_known_default() == Some(port),
        None => url.port().is_none(),
    };
    let host_ok = match pattern_host.strip_prefix("*.") {
        Some(domain) => {
            host.len() > domain.len() + 1 && host.ends_with(domain) && host[..host.len() - domain.len()].ends_with('.')
        }
        None => host == pattern_host,
    };
    port_ok && host_ok
}

fn split_port(pattern: &str) -> (&str, Option<u16>) {
    let (host, port) = match pattern.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && (!host.contains(':') || host.ends_with(']')) => {
            (host, port.parse().ok())
        }
        _ => (pattern, None),
    };
    if port.is_none() { (pattern, None) } else { (host, port) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants(hosts: &[&str], base: Option<&str>) -> Grants {
        let hosts: Vec<HostPermission> =
            hosts.iter().map(|h| HostPermission { host: h.to_string(), path_prefix: None }).collect();
        Grants::new(&hosts, base)
    }

    fn allows(g: &Grants, url: &str) -> bool {
        g.check(&Url::parse(url).unwrap()).is_ok()
    }

    #[test]
    fn declared_hosts_need_https_and_default_port() {
        let g = grants(&["api.linear.app"], None);
        assert!(allows(&g, "https://api.linear.app/graphql"));
        assert!(allows(&g, "https://API.Linear.app/graphql"));
        assert!(!allows(&g, "http://api.linear.app/graphql"));
        assert!(!allows(&g, "https://api.linear.app:8443/graphql"));
        assert!(!allows(&g, "https://evil.com/api.linear.app"));
        assert!(!allows(&g, "https://api.linear.app.evil.com/"));
    }

    #[test]
    fn wildcards_match_subdomains_only() {
        let g = grants(&["*.example.com"], None);
        assert!(allows(&g, "https://a.example.com/"));
        assert!(allows(&g, "https://a.b.example.com/"));
        assert!(!allows(&g, "https://example.com/"));
        assert!(!allows(&g, "https://badexample.com/"));
    }

    #[test]
    fn base_url_grants_its_origin_only() {
        let g = grants(&[], Some("http://127.0.0.1:4000/api"));
        assert!(allows(&g, "http://127.0.0.1:4000/api/tasks"));
        assert!(allows(&g, "http://127.0.0.1:4000/other"));
        assert!(!allows(&g, "http://127.0.0.1:4001/api"));
        assert!(!allows(&g, "https://127.0.0.1:4000/api"));
        assert!(!allows(&g, "http://localhost:4000/api"));
    }

    #[test]
    fn path_prefixes_restrict() {
        let hosts = vec![HostPermission { host: "api.github.com".into(), path_prefix: Some("/repos/".into()) }];
        let g = Grants::new(&hosts, None);
        assert!(allows(&g, "https://api.github.com/repos/a/b"));
        assert!(!allows(&g, "https://api.github.com/user"));
    }

    #[test]
    fn refusals_name_the_url_without_its_query() {
        let g = grants(&["api.linear.app"], None);
        let err = g.check(&Url::parse("https://evil.com/x?token=secret").unwrap()).unwrap_err();
        assert!(err.contains("https://evil.com/x"), "{err}");
        assert!(!err.contains("secret"), "{err}");
        assert!(err.contains("https://api.linear.app"), "{err}");
    }

    #[test]
    fn explicit_ports_match_exactly() {
        let g = grants(&["localhost:8080"], None);
        assert!(allows(&g, "https://localhost:8080/"));
        assert!(!allows(&g, "https://localhost/"));
    }
}
