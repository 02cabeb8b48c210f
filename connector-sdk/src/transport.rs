//! Where requests go: the host's `http` import inside a component, the host a native build was given
//! (feature `native`), or the fake a native unit test installed (feature `testing`).

use crate::bindings::max::connector::http as wit;

/// Sends one request.
pub(crate) fn send(request: &wit::Request) -> Result<wit::Response, wit::HttpError> {
    #[cfg(all(feature = "testing", not(target_arch = "wasm32")))]
    return crate::testing::send(request);
    #[cfg(all(feature = "native", not(all(feature = "testing", not(target_arch = "wasm32")))))]
    return crate::native::host().send(request);
    #[cfg(not(any(feature = "native", all(feature = "testing", not(target_arch = "wasm32")))))]
    wit::send(request)
}

/// Sends several requests.
pub(crate) fn send_all(requests: &[wit::Request]) -> Vec<Result<wit::Response, wit::HttpError>> {
    #[cfg(all(feature = "testing", not(target_arch = "wasm32")))]
    return requests.iter().map(crate::testing::send).collect();
    #[cfg(all(feature = "native", not(all(feature = "testing", not(target_arch = "wasm32")))))]
    return crate::native::host().send_all(requests);
    #[cfg(not(any(feature = "native", all(feature = "testing", not(target_arch = "wasm32")))))]
    wit::send_all(requests)
}
