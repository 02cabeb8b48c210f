//! Where requests go: the host's `http` import inside a component, or the host a native build was
//! given (feature `native`).

use crate::bindings::max::connector::http as wit;

/// Sends one request.
pub(crate) fn send(request: &wit::Request) -> Result<wit::Response, wit::HttpError> {
    #[cfg(feature = "native")]
    return crate::native::host().send(request);
    #[cfg(not(feature = "native"))]
    wit::send(request)
}

/// Sends several requests.
pub(crate) fn send_all(requests: &[wit::Request]) -> Vec<Result<wit::Response, wit::HttpError>> {
    #[cfg(feature = "native")]
    return crate::native::host().send_all(requests);
    #[cfg(not(feature = "native"))]
    wit::send_all(requests)
}
