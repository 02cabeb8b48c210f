//! The error every connector method returns: the WIT `connector-error` variant, with helpers.

pub use crate::bindings::max::connector::types::ConnectorError;

/// `Result` with [`ConnectorError`].
pub type Result<T, E = ConnectorError> = std::result::Result<T, E>;

impl ConnectorError {
    /// The host asked for a loader this connector doesn't have.
    pub fn unknown_loader(loader: &str) -> Self {
        ConnectorError::InvalidInput(format!("unknown loader `{loader}`"))
    }

    /// The API answered with something that could not be parsed.
    pub fn invalid_response(what: impl std::fmt::Display) -> Self {
        ConnectorError::InvalidResponse(what.to_string())
    }
}

impl From<serde_json::Error> for ConnectorError {
    fn from(error: serde_json::Error) -> Self {
        ConnectorError::InvalidResponse(format!("invalid JSON: {error}"))
    }
}
