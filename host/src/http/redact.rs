//! Taking secrets out of text a connector or an API produced (log messages, error messages, panic
//! messages) before the host shows or stores it. A connector never reads a secret, but a server may
//! echo one back to it, and a hostile connector would pass that on.

/// What a secret becomes.
pub const REDACTED: &str = "[redacted]";

/// Secrets shorter than this are left alone: replacing every occurrence of a two-letter string would
/// garble the text, and a secret that short protects nothing.
pub const MIN_REDACTED_CHARS: usize = 6;

/// `text` with every occurrence of each secret (as is, and percent-encoded as a query parameter would
/// carry it) replaced by [`REDACTED`]. Longer secrets go first, so one that contains another is
/// replaced whole.
pub fn redact(text: &str, secrets: impl IntoIterator<Item = String>) -> String {
    let mut forms: Vec<String> = Vec::new();
    for secret in secrets.into_iter().filter(|s| s.chars().count() >= MIN_REDACTED_CHARS) {
        let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        if encoded != secret {
            forms.push(encoded);
        }
        forms.push(secret);
    }
    forms.sort_by_key(|form| std::cmp::Reverse(form.len()));
    let mut text = text.to_string();
    for form in forms {
        if text.contains(&form) {
            text = text.replace(&form, REDACTED);
        }
    }
    text
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
    fn very_short_values_are_not_treated_as_secrets() {
        assert_eq!(redact("a token t", secrets(&["t", "token"])), "a token t");
    }
}
