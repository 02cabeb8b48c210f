//! All output goes through the [`Printer`]: text or JSON on stdout, errors on stderr, colour only on a
//! terminal (and never with `NO_COLOR`).

use std::io::{IsTerminal, Write};

use crate::args::OutputFormat;
use crate::failure::Failure;

/// Writes results and errors in the chosen format.
#[derive(Debug)]
pub struct Printer {
    format: OutputFormat,
    color: bool,
}

impl Printer {
    /// A printer for `format`.
    pub fn new(format: OutputFormat) -> Self {
        Printer { format, color: colour_allowed(std::io::stdout().is_terminal()) }
    }

    /// Whether the user asked for machine-readable output (json, ndjson or csv).
    pub fn is_json(&self) -> bool {
        self.format != OutputFormat::Text
    }

    /// The format asked for.
    pub fn format(&self) -> OutputFormat {
        self.format
    }

    /// Whether colour and progress may be drawn on stderr.
    pub fn stderr_is_terminal(&self) -> bool {
        std::io::stderr().is_terminal()
    }

    /// Writes `value` as pretty JSON.
    pub fn json<T: serde::Serialize>(&self, value: &T) -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, value)?;
        writeln!(out)?;
        Ok(())
    }

    /// Writes lines of text.
    pub fn text(&self, text: &str) -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{text}")?;
        Ok(())
    }

    /// `text` in bold on a colour terminal.
    pub fn bold(&self, text: &str) -> String {
        self.styled("1", text)
    }

    /// What starts bold text on a colour terminal (nothing otherwise).
    pub fn bold_start(&self) -> &'static str {
        if self.color { "\x1b[1m" } else { "" }
    }

    /// What ends bold text started with [`Printer::bold_start`].
    pub fn bold_end(&self) -> &'static str {
        if self.color { "\x1b[22m" } else { "" }
    }

    /// `text` dimmed on a colour terminal.
    pub fn dim(&self, text: &str) -> String {
        self.styled("2", text)
    }

    /// A printer styling for stderr: colour only when stderr is a colour terminal.
    pub fn on_stderr(&self) -> Printer {
        Printer { format: self.format, color: colour_allowed(std::io::stderr().is_terminal()) }
    }

    fn styled(&self, code: &str, text: &str) -> String {
        if self.color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() }
    }

    /// Renders rows as columns aligned under `headers`.
    pub fn table(&self, headers: &[&str], rows: &[Vec<String>]) -> String {
        let mut widths: Vec<usize> = headers.iter().map(|h| crate::layout::width(h)).collect();
        for row in rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(crate::layout::width(cell));
            }
        }
        let line = |cells: Vec<String>| {
            let last = cells.len().saturating_sub(1);
            cells
                .into_iter()
                .enumerate()
                .map(|(i, cell)| if i == last { cell } else { padded(cell, widths[i]) })
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        };
        let mut out = vec![self.bold(&line(headers.iter().map(|h| h.to_string()).collect()))];
        out.extend(rows.iter().map(|row| line(row.clone())));
        out.join("\n")
    }

    /// Writes an error to stderr once: what happened, and on the next line what to do. With
    /// `-o json`, one JSON object `{"error": {code, message, hint}}` instead.
    pub fn error(&self, error: &anyhow::Error) {
        let mut err = std::io::stderr().lock();
        if self.is_json() {
            let _ = writeln!(err, "{}", error_json(error));
            return;
        }
        let (_, message, hint) = describe(error);
        let label = if colour_allowed(std::io::stderr().is_terminal()) { "\x1b[1;31merror:\x1b[0m" } else { "error:" };
        let _ = writeln!(err, "{label} {message}");
        if let Some(hint) = hint {
            // Continuation lines (a filter and its caret) line up under the first.
            let _ = writeln!(err, "  hint: {}", hint.replace('\n', "\n        "));
        }
    }
}

/// `cell` padded with spaces to `width` display columns. (Not `format!`'s width, which counts
/// characters and panics past 65,535: a synced value can be longer.)
fn padded(mut cell: String, width: usize) -> String {
    let short = width.saturating_sub(crate::layout::width(&cell));
    cell.extend(std::iter::repeat_n(' ', short));
    cell
}

/// The same, with line breaks kept.
use max_host::text::lines as printable_lines;
/// Text from a connector or an API (synced data, a failure message) as one line that can't move the
/// cursor, recolour, clear or reorder the terminal: the host's one rule for it.
pub use max_host::text::one_line as printable;

/// An error's code, message (its whole chain) and hint, without control characters but line breaks.
fn describe(error: &anyhow::Error) -> (String, String, Option<String>) {
    let (code, hint) = if let Some(e) = error.downcast_ref::<max_host::Error>() {
        (e.code().to_string(), crate::hints::hint(e))
    } else if let Some(f) = error.downcast_ref::<Failure>() {
        (f.code.to_string(), f.hint.clone())
    } else {
        ("error".to_string(), None)
    };
    (code, printable_lines(&chain(error)), hint.as_deref().map(printable_lines))
}

/// `{"error": {code, message, hint}}`, as `-o json` reports an error.
pub fn error_json(error: &anyhow::Error) -> serde_json::Value {
    let (code, message, hint) = describe(error);
    serde_json::json!({ "error": { "code": code, "message": message, "hint": hint } })
}

/// `{code, message, hint}` of a host error, as a JSON listing reports an entry it couldn't read.
pub fn host_error_json(error: &max_host::Error) -> serde_json::Value {
    crate::failure::Failure::of_host(error).json()
}

/// Colour on a terminal stream, unless `NO_COLOR` is set.
fn colour_allowed(stream_is_terminal: bool) -> bool {
    stream_is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The error and its causes joined by ": ", skipping a cause its parent's message already quotes.
fn chain(error: &anyhow::Error) -> String {
    let mut message = error.to_string();
    for cause in error.chain().skip(1) {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
    }
    message
}
