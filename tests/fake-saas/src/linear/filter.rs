//! Evaluating Linear's `filter` arguments: `id` (`IDComparator`), a team's `key` (`StringComparator`), `createdAt`/`updatedAt`
//! (`DateComparator` over ISO-8601 date-times or negative ISO durations such as `-P2W1D`), `team`
//! and `issue` (the referenced object's filter), and nested `and`/`or` lists.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value as Json};

use super::data::Dataset;

/// Whether `object` (of type `target`) passes `filter` (a `<Type>Filter` input as JSON).
pub fn matches(object: &Map<String, Json>, filter: &Json, data: &Dataset, target: &str) -> Result<bool, String> {
    let Some(filter) = filter.as_object() else { return Ok(true) };
    for (key, condition) in filter {
        if condition.is_null() {
            continue;
        }
        let passed = match key.as_str() {
            "id" => string_matches(object.get("id"), condition)?,
            "key" if target == "Team" => string_matches(object.get("key"), condition)?,
            "createdAt" | "updatedAt" => date_matches(object.get(key), condition)?,
            "team" => match object.get("teamId").and_then(Json::as_str).and_then(|id| data.get(id)) {
                Some(team) => matches(team, condition, data, "Team")?,
                None => false,
            },
            "issue" => match object.get("issueId").and_then(Json::as_str).and_then(|id| data.get(id)) {
                Some(issue) => matches(issue, condition, data, "Issue")?,
                None => false,
            },
            "and" => {
                let mut all = true;
                for part in condition.as_array().into_iter().flatten() {
                    all &= matches(object, part, data, target)?;
                }
                all
            }
            "or" => {
                let mut any = false;
                for part in condition.as_array().into_iter().flatten() {
                    any |= matches(object, part, data, target)?;
                }
                any
            }
            other => return Err(format!("the fake can't filter {target} by `{other}`")),
        };
        if !passed {
            return Ok(false);
        }
    }
    Ok(true)
}

fn string_matches(id: Option<&Json>, comparator: &Json) -> Result<bool, String> {
    let id = id.and_then(Json::as_str).unwrap_or_default();
    let list = |v: &Json| v.as_array().map(|a| a.iter().any(|x| x.as_str() == Some(id))).unwrap_or(false);
    for (op, operand) in comparator.as_object().into_iter().flatten() {
        if operand.is_null() {
            continue;
        }
        let passed = match op.as_str() {
            "eq" => operand.as_str() == Some(id),
            "neq" => operand.as_str() != Some(id),
            "in" => list(operand),
            "nin" => !list(operand),
            other => return Err(format!("unknown ID comparator `{other}`")),
        };
        if !passed {
            return Ok(false);
        }
    }
    Ok(true)
}

fn date_matches(value: Option<&Json>, comparator: &Json) -> Result<bool, String> {
    let Some(value) = value.and_then(Json::as_str) else { return Ok(false) };
    let value = instant(value)?;
    for (op, operand) in comparator.as_object().into_iter().flatten() {
        let Some(operand) = operand.as_str() else { continue };
        let operand = instant(operand)?;
        let passed = match op.as_str() {
            "eq" => value == operand,
            "neq" => value != operand,
            "gt" => value > operand,
            "gte" => value >= operand,
            "lt" => value < operand,
            "lte" => value <= operand,
            other => return Err(format!("unknown date comparator `{other}`")),
        };
        if !passed {
            return Ok(false);
        }
    }
    Ok(true)
}

/// An ISO-8601 date-time, or a negative duration relative to now (`-P2W1D`, `-PT12H`).
fn instant(text: &str) -> Result<DateTime<Utc>, String> {
    if let Some(duration) = text.strip_prefix("-P") {
        return Ok(Utc::now() - iso_duration(duration).ok_or_else(|| format!("invalid duration `{text}`"))?);
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("invalid DateTimeOrDuration `{text}`: {e}"))
}

/// The part of an ISO-8601 duration after `P`: weeks, days, and after `T` hours, minutes, seconds.
fn iso_duration(text: &str) -> Option<chrono::Duration> {
    let mut total = chrono::Duration::zero();
    let mut number = String::new();
    let mut in_time = false;
    for c in text.chars() {
        match c {
            '0'..='9' => number.push(c),
            'T' => in_time = true,
            unit => {
                let n: i64 = number.parse().ok()?;
                number.clear();
                total += match (unit, in_time) {
                    ('W', false) => chrono::Duration::weeks(n),
                    ('D', false) => chrono::Duration::days(n),
                    ('H', true) => chrono::Duration::hours(n),
                    ('M', true) => chrono::Duration::minutes(n),
                    ('S', true) => chrono::Duration::seconds(n),
                    _ => return None,
                };
            }
        }
    }
    number.is_empty().then_some(total)
}
