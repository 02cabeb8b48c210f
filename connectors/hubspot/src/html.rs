//! The text of the HTML HubSpot keeps rich text in (a note's body): tags dropped, block elements and
//! line breaks as line breaks, character references decoded, runs of spaces made one. What people read,
//! and what full-text search finds words in (`<p>` is not a word).

/// Elements after which the text starts a new line.
const BLOCKS: &[&str] =
    &["p", "div", "br", "li", "ul", "ol", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre"];

/// Elements whose content is not text.
const HIDDEN: &[&str] = &["script", "style", "head", "title"];

/// The text of `html`.
pub fn text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    let mut hidden: Option<String> = None;
    while let Some(start) = rest.find(['<', '&']) {
        if hidden.is_none() {
            out.push_str(&rest[..start]);
        }
        rest = &rest[start..];
        if rest.starts_with('<') {
            let end = rest.find('>').map_or(rest.len(), |i| i + 1);
            let tag = &rest[1..end.saturating_sub(1).max(1)];
            let closing = tag.starts_with('/');
            let name: String = tag
                .trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_ascii_lowercase();
            match &hidden {
                Some(open) if closing && *open == name => hidden = None,
                Some(_) => {}
                None if !closing && HIDDEN.contains(&name.as_str()) && !tag.ends_with('/') => hidden = Some(name),
                None if BLOCKS.contains(&name.as_str()) => out.push('\n'),
                None => {}
            }
            rest = &rest[end..];
        } else {
            let (decoded, used) = reference(rest);
            if hidden.is_none() {
                out.push_str(&decoded);
            }
            rest = &rest[used..];
        }
    }
    if hidden.is_none() {
        out.push_str(rest);
    }
    tidy(&out)
}

/// The character reference `&…;` at the start of `text` and how many bytes it takes; a lone `&` is
/// itself.
fn reference(text: &str) -> (String, usize) {
    // `;` is ASCII, so where it is a character ends.
    let Some(end) = text.bytes().take(12).position(|b| b == b';') else { return ("&".into(), 1) };
    let name = &text[1..end];
    let named = match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        "nbsp" => Some(' '),
        _ => None,
    };
    let numeric = || {
        let digits = name.strip_prefix('#')?;
        let code = match digits.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => digits.parse().ok()?,
        };
        char::from_u32(code)
    };
    match named.or_else(numeric) {
        Some(c) => (c.to_string(), end + 1),
        None => ("&".into(), 1),
    }
}

/// Spaces within lines made one, blank lines dropped, lines trimmed.
fn tidy(text: &str) -> String {
    text.lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_go_blocks_break_lines_and_references_are_decoded() {
        let html = "<div><p>Call with <b>Ada</b> about pricing.</p><p>Next steps &amp; owners&nbsp;agreed \
                    &#8212; &#x2713;</p></div>";
        assert_eq!(text(html), "Call with Ada about pricing.\nNext steps & owners agreed — ✓");
        assert_eq!(text("one<br>two<br/>three"), "one\ntwo\nthree");
        assert_eq!(text("<ul><li>a</li><li>b</li></ul>"), "a\nb");
    }

    #[test]
    fn scripts_styles_and_broken_markup_leave_no_words_behind() {
        assert_eq!(text("<style>p { color: red }</style>Hello<script>alert(1)</script> there"), "Hello there");
        assert_eq!(text("a < b & c > d"), "a d");
        assert_eq!(text("é&é;&ééééééé"), "é&é;&ééééééé");
        assert_eq!(text("AT&T &unknown; &#xZZ; &"), "AT&T &unknown; &#xZZ; &");
        assert_eq!(text("plain text"), "plain text");
        assert_eq!(text("<p unclosed"), "");
        assert_eq!(text(""), "");
    }
}
