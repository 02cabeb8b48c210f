//! Bridges the generated `source` exports to a [`Connector`]: keeps the instance created by
//! `initialise` and converts between the builders and the WIT types.

use std::any::Any;
use std::cell::RefCell;
use std::marker::PhantomData;

use crate::bindings::exports::max::connector::source::Guest;
use crate::bindings::max::connector::discovery::SchemaExtension;
use crate::bindings::max::connector::ownership::OwnedCollection;
use crate::bindings::max::connector::pacing;
use crate::bindings::max::connector::scoping::ScopedFeed;
use crate::bindings::max::connector::text_search::SearchableField;
use crate::bindings::max::connector::types as wit;
use crate::bindings::max::connector::versioned::VersionedFields;
use crate::{Config, Connector, ConnectorError, Discovery, Result};

thread_local! {
    /// The connector created by `initialise`. A component instance is single-threaded.
    static INSTANCE: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

/// Implements the generated exports for any [`Connector`]; used by [`crate::export_connector!`].
pub struct Adapter<C>(PhantomData<C>);

impl<C: Connector> Adapter<C> {
    fn with<T>(call: impl FnOnce(&mut C) -> Result<T>) -> Result<T> {
        INSTANCE.with(|cell| {
            let mut slot = cell.borrow_mut();
            match slot.as_mut().and_then(|b| b.downcast_mut::<C>()) {
                Some(connector) => call(connector),
                None => {
                    Err(ConnectorError::InvalidInput("the host called the connector before `initialise`".to_string()))
                }
            }
        })
    }
}

impl<C: Connector> Guest for Adapter<C> {
    fn describe() -> wit::ConnectorInfo {
        C::describe().info
    }

    fn request_limits() -> Vec<pacing::RequestLimit> {
        C::request_limits().into_iter().map(|limit| limit.0).collect()
    }

    fn searchable_fields() -> Vec<SearchableField> {
        C::describe().searchable
    }

    fn field_versions() -> Vec<VersionedFields> {
        C::describe().versioned
    }

    fn owned_collections() -> Vec<OwnedCollection> {
        C::describe().owned
    }

    fn scoped_feeds() -> Vec<ScopedFeed> {
        C::describe().scoped
    }

    fn initialise(config: wit::Config, discovered: SchemaExtension) -> Result<()> {
        let connector = C::initialise(Config::with_discovered(config, Discovery(discovered)))?;
        INSTANCE.with(|cell| *cell.borrow_mut() = Some(Box::new(connector)));
        Ok(())
    }

    fn validate() -> Result<String> {
        Self::with(|c| c.validate())
    }

    fn discover() -> Result<SchemaExtension> {
        Self::with(|c| c.discover()).map(|found| found.0)
    }

    fn select_options(key: String) -> Result<Vec<wit::SelectOption>> {
        Self::with(|c| c.select_options(&key))
    }

    fn seed(state: wit::SeedState) -> Result<wit::SyncPlan> {
        Self::with(|c| c.seed(&state)).map(|plan| wit::SyncPlan { groups: plan.0 })
    }

    fn load(loader: String, refs: Vec<wit::EntityRef>) -> Result<Vec<wit::EntityBatch>> {
        Self::with(|c| c.load(&loader, &refs)).map(|entities| entities.0)
    }

    fn load_page(loader: String, parent: wit::EntityRef, cursor: Option<String>) -> Result<wit::Page> {
        Self::with(|c| c.load_page(&loader, &parent, cursor.as_deref()))
    }

    fn changes(loader: String, cursor: Option<String>) -> Result<wit::ChangePage> {
        Self::with(|c| c.changes(&loader, cursor.as_deref()))
    }

    fn changes_of(loader: String, parent: wit::EntityRef, cursor: Option<String>) -> Result<wit::ChangePage> {
        Self::with(|c| c.changes_of(&loader, &parent, cursor.as_deref()))
    }
}
