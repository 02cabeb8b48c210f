//! Limits an API sets on groups of requests without announcing them (contract 0.2.0's `pacing`): what
//! a connector declares, how a request is matched against one, and the checks a declaration passes.

use serde::{Deserialize, Serialize};

/// The most limits a connector may declare.
pub const MAX_REQUEST_LIMITS: usize = 16;
/// The most requests one limit may allow per interval.
pub const MAX_REQUESTS_PER_LIMIT: u32 = 10_000;
/// The longest interval of a limit, in milliseconds (an hour): a sync waits at most that long for one.
pub const MAX_LIMIT_INTERVAL_MS: u32 = 3_600_000;
/// The longest name of a limit, in characters.
const MAX_NAME_CHARS: usize = 64;
/// The longest path pattern of a limit, in bytes.
const MAX_PATH_BYTES: usize = 256;

/// At most `max` requests of a group in any `interval_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestLimit {
    /// What the limit is (`HubSpot CRM search`).
    pub name: String,
    /// The method it applies to (`POST`); none: every method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The path pattern: `/`-separated segments, `*` standing for any one segment.
    pub path: String,
    /// Requests allowed per interval.
    pub max: u32,
    /// The interval in milliseconds.
    pub interval_ms: u32,
}

impl RequestLimit {
    /// Whether a request with `method` (`GET`, upper case) to `path` (without the query) counts
    /// against this limit.
    pub fn matches(&self, method: &str, path: &str) -> bool {
        if self.method.as_deref().is_some_and(|m| !m.eq_ignore_ascii_case(method)) {
            return false;
        }
        let mut pattern = self.path.split('/');
        let mut segments = path.split('/');
        loop {
            match (pattern.next(), segments.next()) {
                (None, None) => return true,
                (Some("*"), Some(_)) => {}
                (Some(expected), Some(segment)) if expected == segment => {}
                _ => return false,
            }
        }
    }
}

impl std::fmt::Display for RequestLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let method = self.method.as_deref().map(|m| format!("{m} ")).unwrap_or_default();
        write!(f, "{}: at most {} {method}{} per {}", self.name, self.max, self.path, interval(self.interval_ms))
    }
}

/// `1 s`, `250 ms`, `1 min`.
fn interval(ms: u32) -> String {
    match ms {
        ms if ms % 60_000 == 0 => format!("{} min", ms / 60_000),
        ms if ms % 1000 == 0 => format!("{} s", ms / 1000),
        ms => format!("{ms} ms"),
    }
}

/// Adds a problem for every declared limit past the contract's bounds.
pub(super) fn check_request_limits(limits: &[RequestLimit], problems: &mut Vec<String>) {
    if limits.len() > MAX_REQUEST_LIMITS {
        problems.push(format!("{} request limits; at most {MAX_REQUEST_LIMITS} may be declared", limits.len()));
        return;
    }
    for limit in limits {
        let name: String = limit.name.chars().take(MAX_NAME_CHARS).collect();
        if limit.name.is_empty() || limit.name.chars().count() > MAX_NAME_CHARS {
            problems.push(format!("request limit `{name}` needs a name of 1 to {MAX_NAME_CHARS} characters"));
        }
        let printable = limit.path.bytes().all(|b| b.is_ascii_graphic() && b != b'?' && b != b'#');
        if !limit.path.starts_with('/') || limit.path.len() > MAX_PATH_BYTES || !printable {
            problems.push(format!(
                "request limit `{name}`: the path must start with `/` and be at most {MAX_PATH_BYTES} bytes of \
                 printable ASCII without `?` or `#`"
            ));
        }
        if !(1..=MAX_REQUESTS_PER_LIMIT).contains(&limit.max) {
            problems.push(format!(
                "request limit `{name}` allows {} requests; from 1 to {MAX_REQUESTS_PER_LIMIT} may be declared",
                limit.max
            ));
        }
        if !(1..=MAX_LIMIT_INTERVAL_MS).contains(&limit.interval_ms) {
            problems.push(format!(
                "request limit `{name}` has an interval of {} ms; from 1 ms to an hour may be declared",
                limit.interval_ms
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search() -> RequestLimit {
        RequestLimit {
            name: "HubSpot CRM search".into(),
            method: Some("POST".into()),
            path: "/crm/v3/objects/*/search".into(),
            max: 4,
            interval_ms: 1000,
        }
    }

    #[test]
    fn a_star_stands_for_one_segment_and_the_method_must_match() {
        let limit = search();
        assert!(limit.matches("POST", "/crm/v3/objects/contacts/search"));
        assert!(limit.matches("post", "/crm/v3/objects/0-1/search"));
        assert!(!limit.matches("GET", "/crm/v3/objects/contacts/search"));
        assert!(!limit.matches("POST", "/crm/v3/objects/contacts"));
        assert!(!limit.matches("POST", "/crm/v3/objects/contacts/search/more"));
        assert!(!limit.matches("POST", "/crm/v3/objects/a/b/search"));
        let any_method = RequestLimit { method: None, ..search() };
        assert!(any_method.matches("GET", "/crm/v3/objects/deals/search"));
        assert_eq!(limit.to_string(), "HubSpot CRM search: at most 4 POST /crm/v3/objects/*/search per 1 s");
    }

    #[test]
    fn declarations_past_the_bounds_are_problems() {
        let mut problems = Vec::new();
        check_request_limits(&[search()], &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        let bad = [
            RequestLimit { max: 0, ..search() },
            RequestLimit { interval_ms: MAX_LIMIT_INTERVAL_MS + 1, ..search() },
            RequestLimit { path: "crm/search".into(), ..search() },
            RequestLimit { path: "/crm/search?x=1".into(), ..search() },
            RequestLimit { name: String::new(), ..search() },
        ];
        for limit in bad {
            let mut problems = Vec::new();
            check_request_limits(std::slice::from_ref(&limit), &mut problems);
            assert_eq!(problems.len(), 1, "{limit:?}: {problems:?}");
        }
        let mut problems = Vec::new();
        check_request_limits(&vec![search(); MAX_REQUEST_LIMITS + 1], &mut problems);
        assert_eq!(problems.len(), 1);
    }
}
