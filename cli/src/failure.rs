//! Errors the CLI itself raises (as opposed to the host's), with the hint shown under them.

/// A failure found by the CLI, such as a refused confirmation.
#[derive(Debug)]
pub struct Failure {
    /// What happened.
    pub message: String,
    /// What to do.
    pub hint: Option<String>,
    /// A stable code for `-o json`.
    pub code: &'static str,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

impl Failure {
    /// A failure with a hint.
    pub fn new(code: &'static str, message: impl Into<String>, hint: impl Into<String>) -> Self {
        Failure { message: message.into(), hint: Some(hint.into()), code }
    }
}
