//! Talking to the person at the terminal on stderr: notes, questions and hidden secret input.

use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// `--quiet`: notes are left out.
static QUIET: AtomicBool = AtomicBool::new(false);

/// Leaves notes out from now on (`--quiet`).
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Whether notes are left out.
pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// A note on stderr (what to run next, how many rows, a page's cursor), left out with `--quiet`.
pub fn note(text: &str) {
    if !quiet() {
        say(text);
    }
}

/// A warning on stderr, shown even with `--quiet`.
pub fn warn(text: &str) {
    say(&format!("warning: {text}"));
}

/// Writes a line to stderr.
pub fn say(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// Writes to stderr without ending the line (for "doing X… ok").
pub fn say_inline(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "{text}");
    let _ = err.flush();
}

/// Asks a question and returns the trimmed answer.
pub fn ask(question: &str) -> std::io::Result<String> {
    say_inline(question);
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line)? == 0 {
        say("");
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "no answer: the input ended (Ctrl-D)"));
    }
    Ok(line.trim().to_string())
}

/// Asks for a secret without echoing it.
pub fn ask_secret(question: &str) -> std::io::Result<String> {
    rpassword::prompt_password(question)
}
