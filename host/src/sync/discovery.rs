//! The schema a sync runs with: what the connector declared plus the fields it discovers in the
//! account (contract 0.2.0). Discovered again before every new sync and checked before anything is
//! stored; a sync that continues (resumed, or its failed tasks retried) keeps the fields it started
//! with, since its tasks were planned for them. Every instance the sync uses is initialised with the
//! fields accepted.

use super::{Start, SyncContext, SyncOptions, lock};
use crate::Result;
use crate::manifest::{ConnectorInfo, DiscoveredFields, SchemaExtension, check_extension};
use crate::storage::Storage;

/// The schema settled for one run of a sync.
pub(super) struct Settled {
    /// The declared schema with the discovered fields.
    pub info: ConnectorInfo,
    /// Whether a field that appears needs the rows already stored read again.
    pub refill_on_new_fields: bool,
}

/// Settles the schema `context`'s sync runs with, and initialises the pool's instances with it.
pub(super) async fn settle<S: Storage>(context: &SyncContext<S>, options: &SyncOptions) -> Result<Settled> {
    let (previous, continues) = {
        let storage = lock(&context.storage);
        let previous = storage.applied_schema().map(discovered_in).unwrap_or_default();
        (previous, continues(&*storage, options)?)
    };
    context.pool.set_discovered(previous.clone());
    if continues {
        return Ok(Settled { info: context.info.with_discovered(&previous), refill_on_new_fields: false });
    }
    let found = discover(context, options).await?;
    let info = check_extension(&context.info, &found)?;
    let refill_on_new_fields = found.refill_on_new_fields;
    context.pool.set_discovered(found);
    Ok(Settled { info, refill_on_new_fields })
}

/// The schema a worker helps a sync with: the one its coordinator applied (discovered fields
/// included), which the sync's tasks were planned for; the pool's instances are initialised with it.
pub(super) fn adopt<S: Storage>(context: &SyncContext<S>) -> ConnectorInfo {
    let discovered = lock(&context.storage).applied_schema().map(discovered_in).unwrap_or_default();
    context.pool.set_discovered(discovered.clone());
    context.info.with_discovered(&discovered)
}

/// Calls `discover`, again after a rate limit or a transient failure as a task would be (the API's
/// limits pause every request of the installation meanwhile).
async fn discover<S: Storage>(context: &SyncContext<S>, options: &SyncOptions) -> Result<SchemaExtension> {
    let mut attempt = 0;
    loop {
        let error = match context.pool.get().await?.discover().await {
            Ok(found) => return Ok(found),
            Err(error) => error,
        };
        attempt += 1;
        match super::after_failure(&context.http, &error, attempt, options) {
            // Stopped while waiting: the sync hasn't started, and the failure says why.
            Some(delay) => {
                tracing::info!(attempt, ?delay, "discover failed ({error}); trying again");
                if !super::sleep_unless_stopped(&options.stop, delay).await {
                    return Err(error);
                }
            }
            None => return Err(error),
        }
    }
}

/// Whether this run continues a sync instead of starting one (as `choose` will decide).
fn continues<S: Storage>(storage: &S, options: &SyncOptions) -> Result<bool> {
    Ok(match options.start {
        Start::Resume(_) | Start::RetryFailed => true,
        Start::Auto => !options.full && storage.resumable_sync()?.is_some(),
    })
}

/// The discovered fields of a schema applied earlier.
fn discovered_in(info: &ConnectorInfo) -> SchemaExtension {
    let entities = info
        .schema
        .entities
        .iter()
        .map(|e| DiscoveredFields {
            entity: e.name.clone(),
            fields: e.fields.iter().filter(|f| f.discovered).cloned().collect(),
        })
        .filter(|e| !e.fields.is_empty())
        .collect();
    SchemaExtension { entities, refill_on_new_fields: false }
}
