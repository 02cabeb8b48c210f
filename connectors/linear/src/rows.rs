//! GraphQL nodes to rows: each column read from the node as its kind says, nested connections
//! completed with further requests when they have more pages than the query fetched.

use max_connector_sdk::table::Kind;
use max_connector_sdk::{Batch, ConnectorError, Result};
use serde_json::Value as Json;

use crate::Linear;
use crate::model::{EntityKind, Select};

/// Appends `node` (an object of `kind` as the API returned it) to `batch`.
pub fn push(linear: &Linear, kind: &EntityKind, batch: &mut Batch, node: &Json) -> Result<()> {
    let id = node["id"]
        .as_str()
        .filter(|id| !id.is_empty())
        .ok_or_else(|| ConnectorError::invalid_response(format!("a {} without an id", kind.entity)))?;
    let mut row = batch.start_row();
    for (index, column) in kind.columns.iter().enumerate() {
        let value = EntityKind::value_of(column, node);
        if value.is_null() {
            row.null(index);
            continue;
        }
        let wrong =
            || ConnectorError::invalid_response(format!("{} {id}: `{}` is {value}", kind.entity, column.source));
        match (column.kind, column.extra) {
            (_, Select::Connection) => {
                let nodes = value["nodes"].as_array().ok_or_else(wrong)?;
                let mut ids: Vec<String> = nodes
                    .iter()
                    .map(|n| n["id"].as_str().map(str::to_string))
                    .collect::<Option<_>>()
                    .ok_or_else(wrong)?;
                if let Some(after) = crate::next_cursor(value) {
                    ids.extend(linear.rest_of(kind, id, column.source, after)?);
                }
                row.collection(index, &ids);
            }
            (Kind::Collection(_), _) => {
                let ids: Option<Vec<&str>> = value.as_array().ok_or_else(wrong)?.iter().map(Json::as_str).collect();
                row.collection(index, ids.ok_or_else(wrong)?);
            }
            (Kind::Json, _) => {
                row.json(index, &value.to_string());
            }
            (Kind::Text, _) => {
                row.text(index, value.as_str().ok_or_else(wrong)?);
            }
            (Kind::Datetime, _) => {
                row.datetime(index, value.as_str().ok_or_else(wrong)?);
            }
            (Kind::Float, _) => {
                row.float(index, value.as_f64().ok_or_else(wrong)?);
            }
            (Kind::Integer, _) => {
                row.integer(index, value.as_i64().ok_or_else(wrong)?);
            }
            (Kind::Boolean, _) => {
                row.boolean(index, value.as_bool().ok_or_else(wrong)?);
            }
            (Kind::Ref(_), _) => match value["id"].as_str() {
                Some(target) => {
                    row.reference(index, target);
                }
                None => return Err(wrong()),
            },
        }
    }
    row.finish(id);
    Ok(())
}
