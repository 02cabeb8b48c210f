//! Errors the CLI itself raises (as opposed to the host's), with the hint shown under them.

/// A failure found by the CLI, such as a refused confirmation.
#[derive(Debug)]
pub struct Failure {
    /// What happened.
    pub message: String,
    /// What to do.
    pub hint: Option<String>,
    /// A stable code for `-o json` (a daemon's failure keeps the host's code).
    pub code: std::borrow::Cow<'static, str>,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// `max`'s exit statuses (also listed in `max --help`).
pub mod exit {
    /// The command failed.
    pub const FAILURE: u8 = 1;
    /// The command line was wrong (clap's own status for usage errors).
    pub const USAGE: u8 = 2;
    /// The command ran to its end but part of its work failed: tasks of a sync, or some of several
    /// installations.
    pub const PARTIAL: u8 = 3;
    /// Stopped by Ctrl-C (128 + SIGINT, as shells report it).
    pub const INTERRUPTED: u8 = 130;
}

impl Failure {
    /// The exit status this failure ends `max` with.
    pub fn exit_status(&self) -> u8 {
        match self.code.as_ref() {
            "interrupted" => exit::INTERRUPTED,
            "sync_failed" => exit::PARTIAL,
            "usage" => exit::USAGE,
            _ => exit::FAILURE,
        }
    }

    /// A host error as the CLI shows it: its code, its message, and what to do in CLI words.
    pub fn of_host(error: &max_host::Error) -> Self {
        Failure { message: error.to_string(), hint: crate::hints::hint(error), code: error.code().into() }
    }

    /// `{code, message, hint}`, as `-o json` shows an error.
    pub fn json(&self) -> serde_json::Value {
        use max_host::text::lines;
        serde_json::json!({ "code": self.code, "message": lines(&self.message), "hint": self.hint.as_deref().map(lines) })
    }

    /// A failure with a hint.
    pub fn new(code: &'static str, message: impl Into<String>, hint: impl Into<String>) -> Self {
        Failure { message: message.into(), hint: Some(hint.into()), code: code.into() }
    }
}
