//! The one rule for text that came from a connector or an API (error messages, logs, account
//! summaries, labels, synced values) before a terminal shows it: nothing in it may change how the
//! terminal shows other text. Control characters (escape sequences, carriage returns, backspaces) and
//! the Unicode bidirectional controls (which reorder what follows, as in "Trojan source") are blanked.

/// Whether `c` can change how a terminal shows the text around it.
pub fn forges(c: char) -> bool {
    c.is_control() || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `text` as one line: every such character, line breaks included, as a space.
pub fn one_line(text: &str) -> String {
    text.chars().map(|c| if forges(c) { ' ' } else { c }).collect()
}

/// `text` with its line breaks kept and every other such character as a space.
pub fn lines(text: &str) -> String {
    text.chars().map(|c| if c != '\n' && forges(c) { ' ' } else { c }).collect()
}

/// Whether `text` holds such a character other than a line break or a tab (a description that does
/// is refused rather than cleaned).
pub fn is_forged(text: &str) -> bool {
    text.chars().any(|c| c != '\n' && c != '\t' && forges(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_carriage_returns_and_bidi_overrides_are_blanked() {
        let hostile = "ok\x1b[2J\rdone\u{202E}txt.exe\u{2066}\u{9b}31m\nnext";
        assert_eq!(one_line(hostile), "ok [2J done txt.exe  31m next");
        assert_eq!(lines(hostile), "ok [2J done txt.exe  31m\nnext");
        assert!(is_forged(hostile));
        assert!(!is_forged("two\tcolumns\nand lines, 日本語 🎉"));
        assert!(is_forged("right\u{202E}to left"));
    }
}
