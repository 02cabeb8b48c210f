//! Talking to the person at the terminal on stderr: notes, questions and hidden secret input.

use std::io::{BufRead, Write};

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
