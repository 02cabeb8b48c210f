//! Request limits an API keeps without announcing them (contract 0.2.0): what
//! [`crate::Connector::request_limits`] returns.

use crate::bindings::max::connector::pacing as wit;
use crate::http::Method;

/// At most `max` requests of a group in any interval, enforced by the host across every instance.
///
/// ```
/// use max_connector_sdk::{http::Method, RequestLimit};
/// let search = RequestLimit::new("HubSpot CRM search", "/crm/v3/objects/*/search", 4, 1000).method(Method::Post);
/// # let _ = search;
/// ```
#[derive(Debug, Clone)]
pub struct RequestLimit(pub(crate) wit::RequestLimit);

impl RequestLimit {
    /// Requests to `path` (`/`-separated, `*` for any one segment), any method: at most `max` in any
    /// `interval_ms`. `name` is shown to the user.
    pub fn new(name: &str, path: &str, max: u32, interval_ms: u32) -> Self {
        RequestLimit(wit::RequestLimit {
            name: name.to_string(),
            method: None,
            path: path.to_string(),
            max,
            interval_ms,
        })
    }

    /// Only requests with this method count.
    pub fn method(mut self, method: Method) -> Self {
        self.0.method = Some(method);
        self
    }
}
