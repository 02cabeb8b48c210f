//! Owners, pipelines with their stages, and the account: JSON objects the API returns with real JSON
//! types, written column by column from their keys.

use max_connector_sdk::http::encode_query;
use max_connector_sdk::table::EntityTable;
use max_connector_sdk::{Batch, ConnectorError, Result};
use serde_json::{Value as Json, json};

use crate::api::{self, Api};
use crate::model::{OWNER_TABLE, PIPELINE, PORTAL, PORTAL_ID, Plain, STAGE};
use crate::objects::property;

/// The object types that have pipelines, as their API paths.
pub const WITH_PIPELINES: [&str; 2] = ["deals", "tickets"];

/// Appends `object` to `batch` as a row of `table` with id `id`.
fn push(table: &Plain, batch: &mut Batch, id: &str, object: &Json) {
    let mut row = batch.start_row();
    for (index, column) in table.columns.iter().enumerate() {
        property(&mut row, index, column.kind, &object[column.source]);
    }
    row.finish(id);
}

/// The account's details as the portal's row.
pub fn portal(api: &Api) -> Result<Batch> {
    let (details, _) = api.send(api.get("/account-info/v3/details"))?;
    let mut batch = PORTAL.batch();
    push(&PORTAL, &mut batch, PORTAL_ID, &details);
    Ok(batch)
}

/// One page of owners (active ones, or `archived` ones) after `after`, and the `after` of the next.
pub fn owners_page(api: &Api, after: Option<&str>) -> Result<(Batch, Option<String>)> {
    let mut url = "/crm/v3/owners?limit=100&archived=false".to_string();
    if let Some(after) = after {
        url.push_str(&format!("&after={}", encode_query(after)));
    }
    let (body, _) = api.send(api.get(&url))?;
    let mut batch = OWNER_TABLE.batch();
    for owner in api::results(&body)? {
        push(&OWNER_TABLE, &mut batch, &id_of(owner, "owner")?, owner);
    }
    Ok((batch, api::next_after(&body)))
}

/// The owners with these ids, deactivated ones included (objects keep pointing at them).
pub fn owners_by_id(api: &Api, ids: &[&str]) -> Result<Batch> {
    let mut batch = OWNER_TABLE.batch();
    let mut missing = Vec::new();
    for (id, found) in ids.iter().zip(max_connector_sdk::http::send_all(
        ids.iter().map(|id| api.get(&format!("/crm/v3/owners/{}?idProperty=id", encode_query(id)))).collect(),
    )) {
        match api::check(found?) {
            Ok(owner) => push(&OWNER_TABLE, &mut batch, id, &owner),
            Err(ConnectorError::NotFound(_)) => missing.push(*id),
            Err(other) => return Err(other),
        }
    }
    let archived = missing
        .iter()
        .map(|id| api.get(&format!("/crm/v3/owners/{}?idProperty=id&archived=true", encode_query(id))))
        .collect();
    for (id, found) in missing.iter().zip(max_connector_sdk::http::send_all(archived)) {
        match api::check(found?) {
            Ok(owner) => push(&OWNER_TABLE, &mut batch, id, &owner),
            Err(ConnectorError::NotFound(_)) => {}
            Err(other) => return Err(other),
        }
    }
    Ok(batch)
}

/// Appends the pipelines of `object_type` (`deals` or `tickets`) and their stages to the batches.
pub fn pipelines(api: &Api, object_type: &str, pipelines: &mut Batch, stages: &mut Batch) -> Result<()> {
    let (body, _) = api.send(api.get(&format!("/crm/v3/pipelines/{object_type}")))?;
    for pipeline in api::results(&body)? {
        let id = id_of(pipeline, "pipeline")?;
        let mut ids = Vec::new();
        for stage in pipeline["stages"].as_array().into_iter().flatten() {
            let stage_id = id_of(stage, "pipeline stage")?;
            let metadata = &stage["metadata"];
            let row = json!({
                "label": stage["label"],
                "displayOrder": stage["displayOrder"],
                "pipeline": id,
                "probability": metadata["probability"],
                "isClosed": metadata["isClosed"],
                "ticketState": metadata["ticketState"],
                "archived": stage["archived"],
                "createdAt": stage["createdAt"],
                "updatedAt": stage["updatedAt"],
            });
            push(&STAGE, stages, &stage_id, &row);
            ids.push(stage_id);
        }
        let mut row = pipeline.clone();
        row["objectType"] = json!(object_type);
        row["stages"] = json!(ids);
        push(&PIPELINE, pipelines, &id, &row);
    }
    Ok(())
}

fn id_of(object: &Json, what: &str) -> Result<String> {
    api::id_text(&object["id"]).ok_or_else(|| ConnectorError::invalid_response(format!("a {what} without an id")))
}
