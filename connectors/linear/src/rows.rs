//! GraphQL nodes to rows: each column read from the node as its kind says, nested connections
//! completed with further requests when they have more pages than the query fetched.

use max_connector_sdk::{Batch, ConnectorError, Result};
use serde_json::Value as Json;

use crate::Linear;
use crate::model::{EntityKind, Kind};

/// Appends `node` (an object of `kind` as the API returned it) to `batch`.
pub fn push(linear: &Linear, kind: &EntityKind, batch: &mut Batch, node: &Json) -> Result<()> {
    let id = node["id"]
        .as_str()
        .filter(|id| !id.is_empty())
        .ok_or_else(|| ConnectorError::invalid_response(format!("a {} without an id", kind.entity)))?;
    let mut row = batch.start_row();
    for (index, column) in kind.columns.iter().enumerate() {
        let value = &node[column.api];
        if value.is_null() {
            row.null(index);
            continue;
        }
        let wrong = || ConnectorError::invalid_response(format!("{} {id}: `{}` is {value}", kind.entity, column.api));
        match column.kind {
            Kind::Text => {
                row.text(index, value.as_str().ok_or_else(wrong)?);
            }
            Kind::Datetime => {
                row.datetime(index, value.as_str().ok_or_else(wrong)?);
            }
            Kind::Float => {
                row.float(index, value.as_f64().ok_or_else(wrong)?);
            }
            Kind::Integer => {
                row.integer(index, value.as_i64().ok_or_else(wrong)?);
            }
            Kind::Boolean => {
                row.boolean(index, value.as_bool().ok_or_else(wrong)?);
            }
            Kind::Ref(_) => match value["id"].as_str() {
                Some(target) => {
                    row.reference(index, target);
                }
                None => return Err(wrong()),
            },
            Kind::IdList(_) => {
                let ids: Option<Vec<&str>> = value.as_array().ok_or_else(wrong)?.iter().map(Json::as_str).collect();
                row.collection(index, ids.ok_or_else(wrong)?);
            }
            Kind::Connection(_) => {
                let nodes = value["nodes"].as_array().ok_or_else(wrong)?;
                let mut ids: Vec<String> = nodes
                    .iter()
                    .map(|n| n["id"].as_str().map(str::to_string))
                    .collect::<Option<_>>()
                    .ok_or_else(wrong)?;
                if let Some(after) = crate::next_cursor(value) {
                    ids.extend(linear.rest_of(kind, id, column.api, after)?);
                }
                row.collection(index, &ids);
            }
        }
    }
    row.finish(id);
    Ok(())
}
