//! Drive's search query language (`q` of `files.list`), as the search-files guide describes it:
//! `name contains 'plan' and mimeType != 'application/vnd.google-apps.folder' and trashed = false`,
//! `'<folderId>' in parents`, `'<email>' in owners`, `modifiedTime > '2024-05-01T00:00:00'`,
//! `fullText contains 'budget'`, with `and`, `or`, `not` and parentheses. Strings are single-quoted
//! with `\'` and `\\` escaped; times are RFC 3339, UTC unless they carry an offset.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::Value;

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// Every one.
    And(Vec<Query>),
    /// Any one.
    Or(Vec<Query>),
    /// Not.
    Not(Box<Query>),
    /// `field op value`.
    Compare { field: String, op: String, value: Literal },
    /// `'value' in field` (parents, owners, writers, readers).
    In { value: String, field: String },
}

/// A value in a query.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `'text'`.
    Text(String),
    /// `true` or `false`.
    Bool(bool),
}

/// What a query is evaluated against: a file resource with every field, and its text for `fullText`.
pub struct Subject<'a> {
    /// The file as `fields=*` returns it.
    pub file: &'a Value,
    /// Its content's text (empty for none).
    pub text: &'a str,
}

const TEXT_FIELDS: &[&str] = &["name", "mimeType", "fullText"];
const TIME_FIELDS: &[&str] = &["modifiedTime", "createdTime", "viewedByMeTime"];
const BOOL_FIELDS: &[&str] = &["trashed", "starred", "sharedWithMe"];
const IN_FIELDS: &[&str] = &["parents", "owners", "writers", "readers"];

impl Query {
    /// Parses `text`; an error says what Google would refuse.
    pub fn parse(text: &str) -> Result<Query, String> {
        let tokens = tokenize(text)?;
        let mut at = 0;
        let query = parse_or(&tokens, &mut at)?;
        if at != tokens.len() {
            return Err(format!("unexpected {:?}", tokens[at]));
        }
        Ok(query)
    }

    /// Whether `subject` matches.
    pub fn matches(&self, subject: &Subject<'_>) -> bool {
        match self {
            Query::And(all) => all.iter().all(|q| q.matches(subject)),
            Query::Or(any) => any.iter().any(|q| q.matches(subject)),
            Query::Not(inner) => !inner.matches(subject),
            Query::In { value, field } => {
                let people = |list: &str| subject.file[list].as_array().into_iter().flatten();
                let email = |person: &Value| person["emailAddress"].as_str() == Some(value.as_str());
                match field.as_str() {
                    "parents" => strings(&subject.file["parents"]).any(|p| p == value),
                    "owners" => people("owners").any(email),
                    "writers" => people("permissions")
                        .filter(|p| {
                            matches!(p["role"].as_str(), Some("owner" | "organizer" | "fileOrganizer" | "writer"))
                        })
                        .any(email),
                    _ => people("permissions").any(email),
                }
            }
            Query::Compare { field, op, value } => compare(subject, field, op, value),
        }
    }
}

fn strings(value: &Value) -> impl Iterator<Item = &str> {
    value.as_array().into_iter().flatten().filter_map(Value::as_str)
}

fn compare(subject: &Subject<'_>, field: &str, op: &str, value: &Literal) -> bool {
    match (field, value) {
        ("fullText", Literal::Text(word)) => {
            let word = word.to_lowercase();
            let name = subject.file["name"].as_str().unwrap_or_default().to_lowercase();
            name.contains(&word) || subject.text.to_lowercase().contains(&word)
        }
        (f, Literal::Text(text)) if TIME_FIELDS.contains(&f) => {
            let (Some(have), Some(want)) = (subject.file[f].as_str().and_then(instant), instant(text)) else {
                return false;
            };
            ordered(op, have.cmp(&want))
        }
        (f, Literal::Text(text)) => {
            let have = subject.file[f].as_str().unwrap_or_default();
            match op {
                "contains" if f == "name" => have.to_lowercase().contains(&text.to_lowercase()),
                "contains" => have.contains(text.as_str()),
                _ => ordered(op, have.cmp(text)),
            }
        }
        (f, Literal::Bool(want)) => {
            let have = subject.file[f].as_bool().unwrap_or(false);
            if op == "=" { have == *want } else { have != *want }
        }
    }
}

fn ordered(op: &str, ordering: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::*;
    match op {
        "=" => ordering == Equal,
        "!=" => ordering != Equal,
        "<" => ordering == Less,
        "<=" => ordering != Greater,
        ">" => ordering == Greater,
        ">=" => ordering != Less,
        _ => false,
    }
}

/// An RFC 3339 instant, UTC when it has no offset.
fn instant(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .map(|t| t.and_utc())
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Text(String),
    Op(String),
    Open,
    Close,
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' => {
                chars.next();
                tokens.push(if c == '(' { Token::Open } else { Token::Close });
            }
            '\'' => {
                chars.next();
                let mut value = String::new();
                loop {
                    match chars.next() {
                        Some('\\') => value.push(chars.next().ok_or("a string ends in `\\`")?),
                        Some('\'') => break,
                        Some(c) => value.push(c),
                        None => return Err("a string is not closed".into()),
                    }
                }
                tokens.push(Token::Text(value));
            }
            '=' | '!' | '<' | '>' => {
                chars.next();
                let mut op = c.to_string();
                if chars.next_if_eq(&'=').is_some() {
                    op.push('=');
                }
                if op == "!" {
                    return Err("`!` must be `!=`".into());
                }
                tokens.push(Token::Op(op));
            }
            c if c.is_ascii_alphanumeric() || c == '_' => {
                let mut word = String::new();
                while let Some(c) = chars.next_if(|c| c.is_ascii_alphanumeric() || *c == '_') {
                    word.push(c);
                }
                tokens.push(Token::Word(word));
            }
            other => return Err(format!("unexpected `{other}`")),
        }
    }
    Ok(tokens)
}

fn keyword(token: Option<&Token>, word: &str) -> bool {
    matches!(token, Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
}

fn parse_or(tokens: &[Token], at: &mut usize) -> Result<Query, String> {
    let mut terms = vec![parse_and(tokens, at)?];
    while keyword(tokens.get(*at), "or") {
        *at += 1;
        terms.push(parse_and(tokens, at)?);
    }
    Ok(if terms.len() == 1 { terms.remove(0) } else { Query::Or(terms) })
}

fn parse_and(tokens: &[Token], at: &mut usize) -> Result<Query, String> {
    let mut terms = vec![parse_not(tokens, at)?];
    while keyword(tokens.get(*at), "and") {
        *at += 1;
        terms.push(parse_not(tokens, at)?);
    }
    Ok(if terms.len() == 1 { terms.remove(0) } else { Query::And(terms) })
}

fn parse_not(tokens: &[Token], at: &mut usize) -> Result<Query, String> {
    if keyword(tokens.get(*at), "not") {
        *at += 1;
        return Ok(Query::Not(Box::new(parse_not(tokens, at)?)));
    }
    match tokens.get(*at) {
        Some(Token::Open) => {
            *at += 1;
            let inner = parse_or(tokens, at)?;
            if tokens.get(*at) != Some(&Token::Close) {
                return Err("a `(` is not closed".into());
            }
            *at += 1;
            Ok(inner)
        }
        Some(Token::Text(value)) => {
            *at += 1;
            if !keyword(tokens.get(*at), "in") {
                return Err(format!("expected `in` after '{value}'"));
            }
            *at += 1;
            match tokens.get(*at) {
                Some(Token::Word(field)) if IN_FIELDS.contains(&field.as_str()) => {
                    *at += 1;
                    Ok(Query::In { value: value.clone(), field: field.clone() })
                }
                other => Err(format!("`in` takes parents, owners, writers or readers, not {other:?}")),
            }
        }
        Some(Token::Word(field)) => {
            *at += 1;
            let op = match tokens.get(*at) {
                Some(Token::Op(op)) => op.clone(),
                Some(Token::Word(w)) if w.eq_ignore_ascii_case("contains") => "contains".to_string(),
                other => return Err(format!("expected an operator after `{field}`, found {other:?}")),
            };
            *at += 1;
            let value = match tokens.get(*at) {
                Some(Token::Text(text)) => Literal::Text(text.clone()),
                Some(Token::Word(w)) if w == "true" || w == "false" => Literal::Bool(w == "true"),
                other => return Err(format!("expected a value after `{field} {op}`, found {other:?}")),
            };
            *at += 1;
            let valid = match &value {
                Literal::Text(_) if TIME_FIELDS.contains(&field.as_str()) => op != "contains",
                Literal::Text(_) => TEXT_FIELDS.contains(&field.as_str()),
                Literal::Bool(_) => BOOL_FIELDS.contains(&field.as_str()) && (op == "=" || op == "!="),
            };
            if !valid || (field == "fullText" && op != "contains") {
                return Err(format!("`{field} {op}` is not a valid query term"));
            }
            Ok(Query::Compare { field: field.clone(), op, value })
        }
        other => Err(format!("expected a query term, found {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn matches(q: &str, file: &Value, text: &str) -> bool {
        Query::parse(q).unwrap().matches(&Subject { file, text })
    }

    #[test]
    fn the_operators_a_sync_uses_select_what_drive_would() {
        let file = json!({
            "name": "Q2 Plan.docx", "mimeType": "application/vnd.google-apps.document", "trashed": false,
            "parents": ["0AFolder"], "owners": [{"emailAddress": "ada@acme.com"}],
            "modifiedTime": "2024-05-02T10:11:12.345Z",
        });
        assert!(matches("name contains 'plan' and trashed = false", &file, ""));
        assert!(matches("'0AFolder' in parents and not mimeType = 'application/vnd.google-apps.folder'", &file, ""));
        assert!(matches("'ada@acme.com' in owners", &file, ""));
        assert!(matches("modifiedTime > '2024-05-01T00:00:00'", &file, ""));
        assert!(matches("modifiedTime > '2024-05-02T12:00:00+02:00'", &file, ""), "10:00 UTC");
        assert!(!matches("modifiedTime > '2024-05-02T12:00:00+01:00'", &file, ""), "an offset counts");
        assert!(matches(
            "(trashed = true or name = 'Q2 Plan.docx') and modifiedTime <= '2024-05-02T10:11:12.345Z'",
            &file,
            ""
        ));
        assert!(matches("fullText contains 'budget'", &file, "The budget for Q2"));
        assert!(!matches("fullText contains 'forecast'", &file, "The budget for Q2"));
        assert!(matches(r"name != 'it\'s'", &file, ""));
    }

    #[test]
    fn malformed_queries_are_refused() {
        for q in [
            "name contains",
            "name ~ 'x'",
            "'x' in bogus",
            "(trashed = false",
            "trashed = 'yes' and",
            "trashed > true",
            "'unclosed",
        ] {
            assert!(Query::parse(q).is_err(), "{q}");
        }
    }
}
