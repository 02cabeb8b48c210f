//! Google's partial responses (`fields=`): a selector names the keys a response keeps, nested with
//! parentheses (`files(id,owners(emailAddress))`) or slashes (`files/id`), `*` for every key at its
//! level. Keys not named are not returned, so a client only has what it asked for; a selector naming
//! a key the resource doesn't have is refused, as Google refuses it (400 `invalidParameter`).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// A parsed selector: each named key, with what to keep under it (none: all of it).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Selector {
    keys: BTreeMap<String, Option<Selector>>,
    all: bool,
}

impl Selector {
    /// Parses `text`; an error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Selector, String> {
        let chars: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
        let mut at = 0;
        let selector = parse_list(&chars, &mut at)?;
        if at != chars.len() {
            return Err(format!("unexpected `{}` in fields", chars[at]));
        }
        Ok(selector)
    }

    /// `value` with only the selected keys (applied to each element of an array).
    pub fn apply(&self, value: &Value) -> Value {
        match value {
            Value::Array(items) => Value::Array(items.iter().map(|v| self.apply(v)).collect()),
            Value::Object(object) if !self.all => {
                let mut kept = Map::new();
                for (key, sub) in &self.keys {
                    if let Some(found) = object.get(key) {
                        kept.insert(key.clone(), sub.as_ref().map_or_else(|| found.clone(), |s| s.apply(found)));
                    }
                }
                Value::Object(kept)
            }
            other => other.clone(),
        }
    }

    /// The keys named that `known` (the keys a resource may have at this level, with what may be under
    /// each) doesn't have, as `a/b` paths.
    pub fn unknown(&self, known: &Shape) -> Vec<String> {
        let mut out = Vec::new();
        for (key, sub) in &self.keys {
            match known.get(key) {
                None => out.push(key.clone()),
                Some(inner) => {
                    if let (Some(sub), Some(inner)) = (sub, inner) {
                        out.extend(sub.unknown(inner).into_iter().map(|k| format!("{key}/{k}")));
                    }
                }
            }
        }
        out
    }
}

/// The keys a resource has at one level, each with the shape under it when it is an object or a list
/// of them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Shape(BTreeMap<&'static str, Option<Shape>>);

impl Shape {
    /// Plain keys.
    pub fn of(keys: &[&'static str]) -> Self {
        Shape(keys.iter().map(|k| (*k, None)).collect())
    }

    /// This shape with `key` holding objects of `shape`.
    pub fn with(mut self, key: &'static str, shape: Shape) -> Self {
        self.0.insert(key, Some(shape));
        self
    }

    /// What `key` holds: none when it is unknown, `Some(None)` for a plain value.
    fn get(&self, key: &str) -> Option<&Option<Shape>> {
        self.0.get(key)
    }
}

/// `a,b(c),d/e` up to a closing parenthesis or the end.
fn parse_list(chars: &[char], at: &mut usize) -> Result<Selector, String> {
    let mut selector = Selector::default();
    loop {
        parse_path(chars, at, &mut selector)?;
        match chars.get(*at) {
            Some(',') => *at += 1,
            _ => return Ok(selector),
        }
    }
}

/// One `a/b/c(…)` path into `selector`.
fn parse_path(chars: &[char], at: &mut usize, selector: &mut Selector) -> Result<(), String> {
    let start = *at;
    while chars.get(*at).is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '*') {
        *at += 1;
    }
    let key: String = chars[start..*at].iter().collect();
    if key.is_empty() {
        return Err(match chars.get(*at) {
            Some(c) => format!("unexpected `{c}` in fields"),
            None => "fields ends where a field name was expected".into(),
        });
    }
    if key == "*" {
        selector.all = true;
        return Ok(());
    }
    let sub = match chars.get(*at) {
        Some('/') => {
            *at += 1;
            let mut inner = Selector::default();
            parse_path(chars, at, &mut inner)?;
            Some(inner)
        }
        Some('(') => {
            *at += 1;
            let inner = parse_list(chars, at)?;
            if chars.get(*at) != Some(&')') {
                return Err("a `(` in fields is not closed".into());
            }
            *at += 1;
            Some(inner)
        }
        _ => None,
    };
    let slot = selector.keys.entry(key).or_insert_with(|| Some(Selector::default()));
    match (slot.as_mut(), sub) {
        // Named whole somewhere: whole.
        (_, None) => *slot = None,
        (Some(existing), Some(sub)) => merge(existing, sub),
        (None, Some(_)) => {}
    }
    Ok(())
}

fn merge(into: &mut Selector, from: Selector) {
    into.all |= from.all;
    for (key, sub) in from.keys {
        let slot = into.keys.entry(key).or_insert_with(|| Some(Selector::default()));
        match (slot.as_mut(), sub) {
            (_, None) => *slot = None,
            (Some(existing), Some(sub)) => merge(existing, sub),
            (None, Some(_)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_the_named_keys_are_kept_at_every_level() {
        let selector = Selector::parse("nextPageToken, files(id,owners(emailAddress)),files/name").unwrap();
        let response = json!({
            "kind": "drive#fileList", "nextPageToken": "t", "incompleteSearch": false,
            "files": [{"id": "1", "name": "a", "size": "3", "owners": [{"emailAddress": "e", "me": true}]}],
        });
        assert_eq!(
            selector.apply(&response),
            json!({"nextPageToken": "t", "files": [{"id": "1", "name": "a", "owners": [{"emailAddress": "e"}]}]})
        );
        assert_eq!(Selector::parse("*").unwrap().apply(&response), response);
        assert_eq!(Selector::parse("files(*)").unwrap().apply(&response), json!({"files": response["files"]}));
    }

    #[test]
    fn malformed_selectors_and_unknown_keys_are_reported() {
        assert!(Selector::parse("files(id").is_err());
        assert!(Selector::parse("files(id))").is_err());
        assert!(Selector::parse("files,").is_err());
        let shape = Shape::of(&["nextPageToken"]).with("files", Shape::of(&["id", "name"]));
        let selector = Selector::parse("files(id,sizes),nextPageToken,bogus").unwrap();
        assert_eq!(selector.unknown(&shape), ["bogus", "files/sizes"]);
    }
}
