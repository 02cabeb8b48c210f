//! HubSpot's CRM search (`POST /crm/v3/objects/{type}/search`): filter groups (ORed) of filters
//! (ANDed) with HubSpot's operators, compared as the property's type says (numbers as numbers, dates
//! and datetimes as instants given in epoch milliseconds or ISO 8601); sorts as objects or as
//! `"-name"` strings; `limit` at most 200; `after` an offset; `total`; and no paging past the 10,000th
//! result. Archived objects are never found.

use std::cmp::Ordering;

use serde_json::{Value, json};

use super::data::{Dataset, Object, ObjectType};

/// The most results one search request returns.
pub const MAX_LIMIT: usize = 200;
/// The most results one query can page through.
pub const MAX_RESULTS: usize = 10_000;
/// The most filter groups, filters per group, and filters in all.
const MAX_GROUPS: usize = 5;
const MAX_FILTERS_PER_GROUP: usize = 10;
const MAX_FILTERS: usize = 25;

/// A search request that HubSpot would refuse, and why.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused(pub String);

/// The response body for `request` on `object_type`'s objects.
pub fn search(data: &Dataset, object_type: ObjectType, request: &Value) -> Result<Value, Refused> {
    let limit = match &request["limit"] {
        Value::Null => 10,
        value => value
            .as_u64()
            .filter(|n| (1..=MAX_LIMIT as u64).contains(n))
            .ok_or_else(|| Refused(format!("limit must be between 1 and {MAX_LIMIT}, got {value}")))?
            as usize,
    };
    let after = match &request["after"] {
        Value::Null => 0,
        Value::String(s) if s.is_empty() => 0,
        Value::String(s) => s.parse::<usize>().map_err(|_| Refused(format!("Invalid after: {s}")))?,
        value => value.as_u64().ok_or_else(|| Refused(format!("Invalid after: {value}")))? as usize,
    };
    if after.saturating_add(limit) > MAX_RESULTS {
        return Err(Refused(format!(
            "Search results are limited to {MAX_RESULTS}: after {after} with limit {limit} goes past them"
        )));
    }
    let groups = request["filterGroups"].as_array().map_or(&[][..], Vec::as_slice);
    let counts: Vec<usize> = groups.iter().map(|g| g["filters"].as_array().map_or(0, Vec::len)).collect();
    if groups.len() > MAX_GROUPS
        || counts.iter().any(|n| *n > MAX_FILTERS_PER_GROUP)
        || counts.iter().sum::<usize>() > MAX_FILTERS
    {
        return Err(Refused(format!(
            "at most {MAX_GROUPS} filter groups of {MAX_FILTERS_PER_GROUP} filters, {MAX_FILTERS} in all"
        )));
    }
    let kinds = |name: &str| data.properties(object_type).iter().find(|p| p.name == name).map_or("string", |p| p.kind);
    let mut found: Vec<&Object> = Vec::new();
    for object in data.all(object_type).iter().filter(|o| o.archived_ms.is_none()) {
        let mut matched = groups.is_empty();
        for group in groups {
            let filters = group["filters"].as_array().map_or(&[][..], Vec::as_slice);
            let mut all = true;
            for filter in filters {
                if !matches(object, filter, &kinds)? {
                    all = false;
                    break;
                }
            }
            if all {
                matched = true;
                break;
            }
        }
        if matched {
            found.push(object);
        }
    }
    let sorts = sorts(&request["sorts"])?;
    found.sort_by(|a, b| {
        for (name, descending) in &sorts {
            let order = compare(a.properties.get(name), b.properties.get(name), kinds(name));
            let order = if *descending { order.reverse() } else { order };
            if order != Ordering::Equal {
                return order;
            }
        }
        a.id.cmp(&b.id)
    });
    let wanted: Vec<String> =
        request["properties"].as_array().into_iter().flatten().filter_map(|p| p.as_str().map(str::to_string)).collect();
    let results: Vec<Value> = found
        .iter()
        .skip(after)
        .take(limit)
        .map(|o| {
            let mut json = data.object_json(object_type, o, &wanted, &[]);
            json.as_object_mut().map(|m| m.remove("associations"));
            json
        })
        .collect();
    let mut body = json!({ "total": found.len(), "results": results });
    let next = after.saturating_add(limit);
    if next < found.len() && next < MAX_RESULTS {
        body["paging"] = json!({ "next": { "after": next.to_string() } });
    }
    Ok(body)
}

/// `(property, descending)` per sort, from `{propertyName, direction}` objects or `"-name"` strings.
fn sorts(value: &Value) -> Result<Vec<(String, bool)>, Refused> {
    value
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .map(|sort| match sort {
            Value::String(s) => Ok(match s.strip_prefix('-') {
                Some(name) => (name.to_string(), true),
                None => (s.clone(), false),
            }),
            Value::Object(o) => {
                let name = o
                    .get("propertyName")
                    .and_then(Value::as_str)
                    .ok_or_else(|| Refused("a sort without propertyName".into()))?;
                let descending = match o.get("direction").and_then(Value::as_str) {
                    None | Some("ASCENDING") => false,
                    Some("DESCENDING") => true,
                    Some(other) => return Err(Refused(format!("Unknown sort direction: {other}"))),
                };
                Ok((name.to_string(), descending))
            }
            other => Err(Refused(format!("Invalid sort: {other}"))),
        })
        .collect()
}

/// A property value as something to compare: numbers and instants as numbers, the rest as text.
#[derive(Debug, PartialEq, PartialOrd)]
enum Comparable {
    Number(f64),
    Text(String),
}

fn comparable(text: &str, kind: &str) -> Comparable {
    let number = match kind {
        "number" => text.parse::<f64>().ok(),
        "date" | "datetime" => text.parse::<f64>().ok().or_else(|| {
            chrono::DateTime::parse_from_rfc3339(text).map(|t| t.timestamp_millis() as f64).ok().or_else(|| {
                chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                    .ok()
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .map(|t| t.and_utc().timestamp_millis() as f64)
            })
        }),
        _ => None,
    };
    number.map_or_else(|| Comparable::Text(text.to_lowercase()), Comparable::Number)
}

fn compare(a: Option<&String>, b: Option<&String>, kind: &str) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater, // unset values sort last
        (Some(_), None) => Ordering::Less,
        (Some(a), Some(b)) => comparable(a, kind).partial_cmp(&comparable(b, kind)).unwrap_or(Ordering::Equal),
    }
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn matches(object: &Object, filter: &Value, kinds: &dyn Fn(&str) -> &'static str) -> Result<bool, Refused> {
    let name = filter["propertyName"].as_str().ok_or_else(|| Refused("a filter without propertyName".into()))?;
    let operator = filter["operator"].as_str().unwrap_or("EQ");
    let kind = kinds(name);
    let own = object.properties.get(name);
    let against = |key: &str| text(&filter[key]).map(|v| comparable(&v, kind));
    let value = own.map(|v| comparable(v, kind));
    let compared = |key: &str, pass: fn(Ordering) -> bool| -> Result<bool, Refused> {
        let other = against(key).ok_or_else(|| Refused(format!("{operator} on {name} needs a {key}")))?;
        Ok(value.as_ref().and_then(|v| v.partial_cmp(&other)).is_some_and(pass))
    };
    match operator {
        "EQ" => compared("value", Ordering::is_eq),
        "NEQ" => Ok(!compared("value", Ordering::is_eq)?),
        "LT" => compared("value", Ordering::is_lt),
        "LTE" => compared("value", Ordering::is_le),
        "GT" => compared("value", Ordering::is_gt),
        "GTE" => compared("value", Ordering::is_ge),
        "BETWEEN" => Ok(compared("value", Ordering::is_ge)? && compared("highValue", Ordering::is_le)?),
        "IN" | "NOT_IN" => {
            let values: Vec<Comparable> = filter["values"]
                .as_array()
                .ok_or_else(|| Refused(format!("{operator} on {name} needs values")))?
                .iter()
                .filter_map(text)
                .map(|v| comparable(&v, kind))
                .collect();
            let inside = value.as_ref().is_some_and(|v| values.contains(v));
            Ok(if operator == "IN" { inside } else { !inside })
        }
        "HAS_PROPERTY" => Ok(own.is_some()),
        "NOT_HAS_PROPERTY" => Ok(own.is_none()),
        "CONTAINS_TOKEN" | "NOT_CONTAINS_TOKEN" => {
            let token = text(&filter["value"]).unwrap_or_default().to_lowercase();
            let token = token.trim_matches('*');
            let inside =
                own.is_some_and(|v| v.to_lowercase().split(|c: char| !c.is_alphanumeric()).any(|w| w == token));
            Ok(if operator == "CONTAINS_TOKEN" { inside } else { !inside })
        }
        other => Err(Refused(format!("Unknown filter operator: {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hubspot::data::Size;

    fn ids(body: &Value) -> Vec<u64> {
        body["results"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().parse().unwrap()).collect()
    }

    #[test]
    fn numbers_compare_as_numbers_and_groups_or_their_filters() {
        let data = Dataset::generate(1, &Size::default());
        let request = json!({"filterGroups": [{"filters": [{"propertyName": "amount", "operator": "GT", "value": "10000"}]}], "limit": 200});
        let found = ids(&search(&data, ObjectType::Deals, &request).unwrap());
        let want: Vec<u64> = data
            .all(ObjectType::Deals)
            .iter()
            .filter(|d| d.properties["amount"].parse::<f64>().unwrap() > 10_000.0)
            .map(|d| d.id)
            .collect();
        assert!(!want.is_empty());
        assert_eq!(found, want);
        let either = json!({"filterGroups": [
            {"filters": [{"propertyName": "amount", "operator": "GT", "value": "10000"}]},
            {"filters": [{"propertyName": "amount", "operator": "LTE", "value": "10000"}]}], "limit": 200});
        assert_eq!(search(&data, ObjectType::Deals, &either).unwrap()["total"], data.all(ObjectType::Deals).len());
    }

    #[test]
    fn datetimes_compare_as_instants_and_sort_ascending() {
        let data = Dataset::generate(2, &Size::default());
        let middle = &data.all(ObjectType::Contacts)[5].properties["lastmodifieddate"];
        let ms = chrono::DateTime::parse_from_rfc3339(middle).unwrap().timestamp_millis().to_string();
        let request = json!({
            "filterGroups": [{"filters": [{"propertyName": "lastmodifieddate", "operator": "GT", "value": ms}]}],
            "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}], "limit": 200});
        let body = search(&data, ObjectType::Contacts, &request).unwrap();
        let times: Vec<&str> = body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["properties"]["lastmodifieddate"].as_str().unwrap())
            .collect();
        assert!(!times.is_empty() && times.iter().all(|t| *t > middle.as_str()));
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "ascending");
    }

    #[test]
    fn paging_stops_at_ten_thousand_and_limits_are_hubspot_s() {
        let data = Dataset::generate(3, &Size { contacts: 10_050, ..Size::default() });
        let last = search(&data, ObjectType::Contacts, &json!({"limit": 200, "after": "9800"})).unwrap();
        assert_eq!(last["total"], 10_050);
        assert!(last["paging"].is_null(), "no page past the 10,000th result");
        assert!(search(&data, ObjectType::Contacts, &json!({"limit": 200, "after": "9900"})).is_err());
        assert!(search(&data, ObjectType::Contacts, &json!({"limit": 201})).is_err());
        let endless = json!({"limit": 10, "after": usize::MAX.to_string()});
        assert!(search(&data, ObjectType::Contacts, &endless).is_err(), "an offset past every result is refused");
    }
}
