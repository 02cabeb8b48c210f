//! `--match` words as users write them, parsed into [`Words`] and turned into an FTS5 query that can't
//! be malformed: every word and phrase becomes an FTS5 string, so FTS5's own operators and
//! punctuation in what users type never reach its parser. (PostgreSQL storage renders [`Words`] as
//! its own text search.)
//!
//! The language: words (all must match, in any field, stems compared: `plans` finds `plan`),
//! `"a phrase"` (the words in that order), `word*` (a prefix), `OR` between two terms (either),
//! `-term` (must not match), and `field:term` (in that searchable field only; a colon after anything
//! but a searchable field's name is part of the word, as in `10:30`).

use crate::{Error, Result};

/// The most terms a search has (each is a lookup in the index).
const MAX_TERMS: usize = 200;

/// One term as written: a word or phrase, maybe a prefix, restricted to a field, excluded.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    /// The word, or the phrase's words.
    pub text: String,
    /// `word*`: words starting so.
    pub prefix: bool,
    /// `field:term`: in that searchable field only (its declared name).
    pub field: Option<String>,
    excluded: bool,
}

/// A `--match` as parsed: groups of terms that must all match (a group matches when any of its
/// terms does: `a OR b`), and terms that must not match.
#[derive(Debug, Clone, PartialEq)]
pub struct Words {
    /// Every group must match; within a group, any term.
    pub groups: Vec<Vec<Term>>,
    /// No term may match.
    pub excluded: Vec<Term>,
}

impl Words {
    /// The FTS5 query these words are.
    pub fn to_fts5(&self) -> String {
        let group = |terms: &Vec<Term>| {
            let parts: Vec<String> = terms.iter().map(fts5_term).collect();
            if parts.len() == 1 { parts[0].clone() } else { format!("({})", parts.join(" OR ")) }
        };
        let mut query = self.groups.iter().map(group).collect::<Vec<_>>().join(" AND ");
        if !self.excluded.is_empty() {
            query = format!("({query})");
            for term in &self.excluded {
                query.push_str(&format!(" NOT {}", fts5_term(term)));
            }
        }
        query
    }
}

/// Turns `input` into an FTS5 query over an index whose columns are `fields`.
#[cfg(test)]
fn to_fts5(input: &str, fields: &[&str]) -> Result<String> {
    Ok(parse(input, fields)?.to_fts5())
}

/// Parses `input` for an entity whose searchable fields are `fields`.
pub fn parse(input: &str, fields: &[&str]) -> Result<Words> {
    let invalid = |message: String| Error::Query {
        message: format!("invalid --match `{input}`: {message}"),
        hint: Some(
            "write words (all must match), \"a phrase\", word* (a prefix), a OR b, -word (must not match), \
             field:word"
                .into(),
        ),
    };
    if input.chars().count() > super::filter::MAX_CHARS {
        return Err(invalid(format!("longer than {} characters", super::filter::MAX_CHARS)));
    }
    let tokens = tokenize(input).map_err(invalid)?;
    if tokens.len() > MAX_TERMS {
        return Err(invalid(format!("more than {MAX_TERMS} terms")));
    }
    // Groups of terms joined by OR; the groups are all required.
    let mut groups: Vec<Vec<Term>> = Vec::new();
    let mut excluded: Vec<Term> = Vec::new();
    let mut or_pending = false;
    for token in tokens {
        match token {
            Token::Or => {
                if groups.is_empty() || or_pending {
                    return Err(invalid("OR needs a term on each side".into()));
                }
                or_pending = true;
            }
            Token::Term(mut term) => {
                // `field:` restricts the term to a searchable field; anything else before a colon
                // (`10:30`, `https://…`) is part of the words.
                if let Some(field) = term.field.take() {
                    match fields.iter().find(|f| f.eq_ignore_ascii_case(&field)) {
                        Some(known) => term.field = Some(known.to_string()),
                        None => term.text = format!("{field}:{}", term.text),
                    }
                }
                if !term.text.chars().any(char::is_alphanumeric) {
                    if or_pending {
                        return Err(invalid(format!("`{}` has no letters or digits to search for", term.text)));
                    }
                    continue;
                }
                if term.excluded {
                    if or_pending {
                        return Err(invalid("an excluded -term can't be one side of OR".into()));
                    }
                    excluded.push(term);
                } else if or_pending {
                    groups.last_mut().expect("OR follows a group").push(term);
                    or_pending = false;
                } else {
                    groups.push(vec![term]);
                }
            }
        }
    }
    if or_pending {
        return Err(invalid("OR needs a term on each side".into()));
    }
    if groups.is_empty() {
        let why = if excluded.is_empty() { "nothing to search for" } else { "only excluded terms" };
        return Err(invalid(format!("{why}: name at least one word that must match")));
    }
    Ok(Words { groups, excluded })
}

/// One term in FTS5's syntax: `field : "text" *`.
fn fts5_term(term: &Term) -> String {
    let mut text = format!("\"{}\"", term.text.replace('"', "\"\""));
    if term.prefix {
        text.push_str(" *");
    }
    match &term.field {
        Some(field) => format!("{field} : {text}"),
        None => text,
    }
}

#[derive(Debug, PartialEq)]
enum Token {
    Term(Term),
    Or,
}

/// Splits `input` at white space outside quotes.
fn tokenize(input: &str) -> std::result::Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = input.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(tokens);
        }
        let excluded = chars.next_if_eq(&'-').is_some();
        // An optional `field:` before a word or phrase.
        let mut word = String::new();
        let mut field = None;
        let mut quoted = false;
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            chars.next();
            if c == '"' && word.is_empty() {
                quoted = true;
                let mut phrase = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some(c) => phrase.push(c),
                        None => return Err("a phrase's closing quote is missing".into()),
                    }
                }
                word = phrase;
                break;
            }
            if c == ':'
                && field.is_none()
                && !word.is_empty()
                && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && chars.peek().is_some_and(|c| !c.is_whitespace())
            {
                field = Some(std::mem::take(&mut word));
                continue;
            }
            word.push(c);
        }
        if !quoted && !excluded && field.is_none() && word == "OR" {
            tokens.push(Token::Or);
            continue;
        }
        let prefix = !quoted && word.len() > 1 && word.ends_with('*');
        if prefix {
            word.pop();
        }
        tokens.push(Token::Term(Term { text: word, prefix, field, excluded }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: &[&str] = &["title", "body"];

    fn fts(input: &str) -> String {
        to_fts5(input, FIELDS).unwrap()
    }

    #[test]
    fn words_phrases_prefixes_fields_or_and_exclusions_become_fts5_strings() {
        assert_eq!(fts("quarterly plan"), r#""quarterly" AND "plan""#);
        assert_eq!(fts(r#""quarterly plan""#), r#""quarterly plan""#);
        assert_eq!(fts("plan*"), r#""plan" *"#);
        assert_eq!(fts("title:plan body:\"two words\""), r#"title : "plan" AND body : "two words""#);
        assert_eq!(fts("budget OR forecast q3"), r#"("budget" OR "forecast") AND "q3""#);
        assert_eq!(fts("plan -draft -title:old"), r#"("plan") NOT "draft" NOT title : "old""#);
    }

    #[test]
    fn fts5_syntax_in_what_users_type_stays_text() {
        assert_eq!(fts(r#"NEAR(a b) x"y AND"#), r#""NEAR(a" AND "b)" AND "x""y" AND "AND""#);
        assert_eq!(fts("e-mail: c++"), r#""e-mail:" AND "c++""#);
        assert_eq!(fts("or"), r#""or""#);
        // Punctuation alone has no words to find and is left out.
        assert_eq!(fts("plan & ++"), r#""plan""#);
    }

    #[test]
    fn what_can_not_be_searched_is_refused_clearly() {
        for (input, says) in [
            ("", "nothing to search for"),
            ("  ", "nothing to search for"),
            ("-draft", "only excluded terms"),
            ("OR plan", "OR needs a term on each side"),
            ("plan OR", "OR needs a term on each side"),
            ("a OR -b", "can't be one side of OR"),
            ("\"open phrase", "closing quote is missing"),
            (&"x ".repeat(201), "more than 200 terms"),
            (&"x".repeat(10_001), "longer than 10000 characters"),
        ] {
            let error = to_fts5(input, FIELDS).unwrap_err().to_string();
            assert!(error.contains(says), "{input}: {error}");
        }
    }

    #[test]
    fn a_colon_after_anything_but_a_searchable_field_is_part_of_the_word() {
        assert_eq!(fts("Title:plan"), r#"title : "plan""#);
        assert_eq!(fts("10:30 https://acme.com/x owner:ada"), r#""10:30" AND "https://acme.com/x" AND "owner:ada""#);
    }
}
