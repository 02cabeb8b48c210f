//! Taking secrets out of what a connector or an API produced before the connector, the terminal or
//! storage sees it: response bodies and headers (an API may echo the request), log, error and panic
//! messages, synced data; and finding them in requests a connector built itself. A connector never
//! reads a secret, but a server may reflect one, and a hostile connector would pass it on.

use aho_corasick::{AhoCorasick, MatchKind};

/// What a secret becomes.
pub const REDACTED: &str = "[redacted]";

/// Secrets shorter than this are left alone: replacing every occurrence of a two-letter string would
/// garble the text, and a secret that short protects nothing.
pub const MIN_REDACTED_CHARS: usize = 6;

/// `text` with every occurrence of each secret (as is, and percent-encoded as a query parameter would
/// carry it) replaced by [`REDACTED`]. Where secrets overlap the longest match wins, so one that
/// contains another is replaced whole.
pub fn redact(text: &str, secrets: impl IntoIterator<Item = String>) -> String {
    let mut text = text.to_string();
    Redactor::new(secrets).redact_in_place(&mut text);
    text
}

/// Each secret long enough to redact, as is and percent-encoded.
fn forms(secrets: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut forms: Vec<String> = Vec::new();
    for secret in secrets.into_iter().filter(|s| s.chars().count() >= MIN_REDACTED_CHARS) {
        let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        if encoded != secret {
            forms.push(encoded);
        }
        forms.push(secret);
    }
    forms
}

/// The secrets of an installation, ready to find in many texts and byte strings at once.
#[derive(Debug, Clone)]
pub struct Redactor {
    /// None when there is no secret long enough to look for.
    finder: Option<AhoCorasick>,
}

impl Redactor {
    /// A redactor for `secrets` (as is and percent-encoded; the longest match wins).
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let forms = forms(secrets);
        let finder = (!forms.is_empty())
            .then(|| AhoCorasick::builder().match_kind(MatchKind::LeftmostLongest).build(&forms).ok())
            .flatten();
        Redactor { finder }
    }

    /// Whether `bytes` hold a secret.
    pub fn finds(&self, bytes: &[u8]) -> bool {
        self.finder.as_ref().is_some_and(|f| f.is_match(bytes))
    }

    /// `bytes` with every secret replaced, or `None` when they hold none.
    pub fn redact_bytes(&self, bytes: &[u8]) -> Option<Vec<u8>> {
        let finder = self.finder.as_ref().filter(|f| f.is_match(bytes))?;
        let mut out = Vec::with_capacity(bytes.len());
        finder.replace_all_with_bytes(bytes, &mut out, |_, _, out| {
            out.extend_from_slice(REDACTED.as_bytes());
            true
        });
        Some(out)
    }

    /// Replaces every secret in `text`, in place; true if there was one.
    pub fn redact_in_place(&self, text: &mut String) -> bool {
        let Some(finder) = self.finder.as_ref().filter(|f| f.is_match(text.as_str())) else { return false };
        *text = finder.replace_all(text, &vec![REDACTED; finder.patterns_len()]);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(values: &[&str]) -> Vec<String> {
        values.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn every_occurrence_of_every_secret_is_replaced() {
        let text = "got Bearer s3cret-token twice: s3cret-token; refresh lin_refresh_live";
        assert_eq!(
            redact(text, secrets(&["s3cret-token", "lin_refresh_live"])),
            "got Bearer [redacted] twice: [redacted]; refresh [redacted]"
        );
    }

    #[test]
    fn a_secret_containing_another_is_replaced_whole() {
        assert_eq!(redact("key=abcdef-123456", secrets(&["abcdef", "abcdef-123456"])), "key=[redacted]");
    }

    #[test]
    fn the_percent_encoded_form_is_replaced_too() {
        let text = "GET /x?api_key=a%2Fb+c%3Dd%26e";
        assert_eq!(redact(text, secrets(&["a/b c=d&e"])), "GET /x?api_key=[redacted]");
    }

    #[test]
    fn the_redactor_finds_and_replaces_in_text_and_bytes() {
        let redactor = Redactor::new(secrets(&["abcdef", "abcdef-123456", "a/b c=d&e"]));
        assert!(redactor.finds(b"x abcdef-123456 y") && !redactor.finds(b"abcde"));
        assert_eq!(redactor.redact_bytes(b"k=abcdef-123456&q=a%2Fb+c%3Dd%26e").unwrap(), b"k=[redacted]&q=[redacted]");
        assert_eq!(redactor.redact_bytes(b"nothing here"), None);
        let mut text = "abcdef twice abcdef".to_string();
        assert!(redactor.redact_in_place(&mut text));
        assert_eq!(text, "[redacted] twice [redacted]");
        assert!(!Redactor::new(secrets(&["short"])).finds(b"short"));
    }

    #[test]
    fn very_short_values_are_not_treated_as_secrets() {
        assert_eq!(redact("a token t", secrets(&["t", "token"])), "a token t");
    }
}
