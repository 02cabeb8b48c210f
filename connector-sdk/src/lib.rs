//! Write [Max](https://github.com/max-sync/max) connectors in Rust.
//!
//! A connector is a WebAssembly component that tells Max what data it can load (its schema, loaders
//! and permissions) and loads it on request through HTTP calls the host makes for it. This crate hides
//! the generated WIT bindings: you implement [`Connector`], describe yourself with the builders, call
//! APIs with [`http`], and export the type with [`export_connector!`]. Build with
//! `cargo build --release --target wasm32-wasip2` (crate type `cdylib`).
//!
//! ```
//! use max_connector_sdk::{
//!     export_connector, http, Batch, Config, Connector, ConnectorError, ConnectorInfo, Entities, EntityRef,
//!     FieldType, Loader, Onboarding, Page, Permissions, Result, Schema, SeedState, SyncPlan, Target,
//! };
//!
//! struct Notes {
//!     base_url: String,
//! }
//!
//! impl Connector for Notes {
//!     fn describe() -> ConnectorInfo {
//!         let schema = Schema::new()
//!             .entity("Note", |e| e.field("title", FieldType::String).field("updatedAt", FieldType::Datetime))
//!             .entity("Account", |e| e.field("notes", FieldType::Collection("Note".into())))
//!             .root("Account", "me");
//!         ConnectorInfo::new("notes", "0.1.0", "Notes from notes.example.com", schema)
//!             .loader(Loader::batched("notes-by-id", "Note", 50).fills(&["title", "updatedAt"]))
//!             .loader(Loader::collection("account-notes", "Account", "notes", "Note", 100))
//!             .onboarding(
//!                 Onboarding::new()
//!                     .input("base_url", "API base URL", Some("https://api.notes.example.com"))
//!                     .secret("api_key", "API key")
//!                     .validate("Checking the API key"),
//!             )
//!             .permissions(
//!                 Permissions::new()
//!                     .host("api.notes.example.com")
//!                     .bearer("api_key")
//!                     .base_url_key("base_url"),
//!             )
//!     }
//!
//!     fn initialise(config: Config) -> Result<Self> {
//!         Ok(Notes { base_url: config.require("base_url")?.trim_end_matches('/').to_string() })
//!     }
//!
//!     fn validate(&mut self) -> Result<String> {
//!         http::get(format!("{}/me", self.base_url)).credential("api_key").send()?.ok()?;
//!         Ok("connected".to_string())
//!     }
//!
//!     fn seed(&mut self, _state: &SeedState) -> Result<SyncPlan> {
//!         Ok(SyncPlan::new()
//!             .then(Target::Root, |s| s.collection("notes"))
//!             .then(Target::all("Note"), |s| s.fields(&["title", "updatedAt"])))
//!     }
//!
//!     fn load(&mut self, loader: &str, refs: &[EntityRef]) -> Result<Entities> {
//!         match loader {
//!             "notes-by-id" => {
//!                 let mut batch = Batch::new("Note", &["title", "updatedAt"]);
//!                 for r in refs {
//!                     let note: serde_json::Value =
//!                         http::get(format!("{}/notes/{}", self.base_url, r.id)).credential("api_key").send()?.json()?;
//!                     batch.row(&r.id, vec![note["title"].as_str().into(), note["updatedAt"].as_str().map(max_connector_sdk::Value::datetime).into()]);
//!                 }
//!                 Ok(Entities::from(batch))
//!             }
//!             other => Err(ConnectorError::unknown_loader(other)),
//!         }
//!     }
//!
//!     /// The account's notes, a page of ids at a time (`GET /notes?cursor=…`, the next cursor in the
//!     /// `X-Next-Cursor` header); `notes-by-id` fills their fields.
//!     fn load_page(&mut self, loader: &str, _parent: &EntityRef, cursor: Option<&str>) -> Result<Page> {
//!         if loader != "account-notes" {
//!             return Err(ConnectorError::unknown_loader(loader));
//!         }
//!         let mut url = format!("{}/notes?limit=100", self.base_url);
//!         if let Some(cursor) = cursor {
//!             url.push_str(&format!("&cursor={}", http::encode_query(cursor)));
//!         }
//!         let response = http::get(url).credential("api_key").send()?.ok()?;
//!         let next = response.header("x-next-cursor").map(str::to_string);
//!         let notes: Vec<serde_json::Value> = response.json()?;
//!         let mut ids = Batch::id_only("Note");
//!         for note in &notes {
//!             let id = note["id"].as_str().ok_or_else(|| ConnectorError::invalid_response("a note without an id"))?;
//!             ids.row(id, Vec::new());
//!         }
//!         Ok(Page::new(ids).next(next))
//!     }
//! }
//!
//! export_connector!(Notes);
//! # fn main() {}
//! ```

mod adapter;
#[doc(hidden)]
pub mod bindings;
mod data;
mod describe;
mod discovery;
mod error;
pub mod http;
#[cfg(feature = "native")]
pub mod native;
mod pacing;
mod packed;
mod plan;
pub mod table;
#[cfg(all(feature = "testing", not(target_arch = "wasm32")))]
pub mod testing;
pub mod time;
mod transport;

pub use data::{Batch, ChangePage, Entities, Page, RowWriter, Value};
pub use describe::{ConnectorInfo, EntityBuilder, Loader, Onboarding, Permissions, Schema};
pub use discovery::{ALL_DISCOVERED, Discovery};
pub use error::{ConnectorError, Result};
pub use pacing::RequestLimit;
pub use plan::{Operation, SeedState, StepBuilder, SyncPlan, Target};

pub use bindings::max::connector::log::Level;
pub use bindings::max::connector::types::{EntityRef, FieldDef, FieldType, SelectOption};

#[doc(hidden)]
pub use adapter::Adapter;

/// The generated bindings, for `export_connector!` only.
#[doc(hidden)]
pub mod wit {
    pub use crate::bindings::*;
}

/// A connector: what it is (`describe`) and how it loads data.
///
/// The host creates one value per instance with [`Connector::initialise`] and then calls the other
/// methods on it, one call at a time. Every method that can fail returns a [`ConnectorError`], whose kind
/// tells the host whether to retry, wait or stop.
pub trait Connector: Sized + 'static {
    /// Describes the connector: pure data, with no HTTP and no dependence on config.
    fn describe() -> ConnectorInfo;

    /// The limits the API sets on groups of requests without saying so in its responses (contract
    /// 0.2.0): the host paces matching requests of every instance together. Most connectors have none;
    /// limits an API announces in headers (`X-RateLimit-*`, `Retry-After`) the host learns by itself.
    fn request_limits() -> Vec<RequestLimit> {
        Vec::new()
    }

    /// Creates the connector from the non-secret config collected by onboarding.
    fn initialise(config: Config) -> Result<Self>;

    /// Checks that the config and credentials work by calling the API; returns what it connected to.
    fn validate(&mut self) -> Result<String>;

    /// Reads the fields the account adds to declared entity types (contract 0.2.0). The host calls it
    /// before each new sync; the fields it accepts come back to every instance in
    /// [`Config::discovered`], and batches may then carry them. A resolver naming `*` fills them.
    fn discover(&mut self) -> Result<Discovery> {
        Ok(Discovery::new())
    }

    /// Returns the options of a `dynamic` select onboarding step.
    fn select_options(&mut self, key: &str) -> Result<Vec<SelectOption>> {
        Err(ConnectorError::InvalidInput(format!("no dynamic select step named `{key}`")))
    }

    /// Plans a sync.
    fn seed(&mut self, state: &SeedState) -> Result<SyncPlan>;

    /// Runs a single, batched or raw loader.
    fn load(&mut self, loader: &str, refs: &[EntityRef]) -> Result<Entities>;

    /// Runs a collection loader for one page.
    fn load_page(&mut self, loader: &str, parent: &EntityRef, cursor: Option<&str>) -> Result<Page> {
        let _ = (parent, cursor);
        Err(ConnectorError::unknown_loader(loader))
    }

    /// Runs a change-feed loader from a cursor.
    fn changes(&mut self, loader: &str, cursor: Option<&str>) -> Result<ChangePage> {
        let _ = cursor;
        Err(ConnectorError::unknown_loader(loader))
    }

    /// Runs a change feed followed per entity ([`Loader::per`], contract 0.4.0) on `parent`'s feed from
    /// its cursor; none means no sync followed this parent yet, so read everything it holds.
    fn changes_of(&mut self, loader: &str, parent: &EntityRef, cursor: Option<&str>) -> Result<ChangePage> {
        let _ = (parent, cursor);
        Err(ConnectorError::unknown_loader(loader))
    }
}

/// The non-secret configuration collected by onboarding.
#[derive(Debug, Clone, Default)]
pub struct Config {
    entries: Vec<(String, String)>,
    discovered: Discovery,
}

impl Config {
    /// Wraps key/value pairs.
    pub fn new(entries: Vec<(String, String)>) -> Self {
        Config { entries, discovered: Discovery::new() }
    }

    /// The API's base URL: the `base_url` entry (or `default`) without a trailing `/`; an
    /// `invalid-input` error unless it starts with `https://` (or `http://`, for test servers).
    pub fn base_url(&self, default: &str) -> Result<String> {
        let base_url = self.get("base_url").unwrap_or(default).trim_end_matches('/').to_string();
        if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
            return Err(ConnectorError::InvalidInput(format!("base_url `{base_url}` must start with https://")));
        }
        Ok(base_url)
    }

    /// Wraps key/value pairs and the fields discovered so far.
    pub fn with_discovered(entries: Vec<(String, String)>, discovered: Discovery) -> Self {
        Config { entries, discovered }
    }

    /// The fields the host accepted from an earlier [`Connector::discover`] (empty before the first).
    pub fn discovered(&self) -> &Discovery {
        &self.discovered
    }

    /// Every key/value pair, in the order the host gave them.
    pub fn entries(&self) -> &[(String, String)] {
        &self.entries
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The value of `key`, or an `invalid-input` error naming it.
    pub fn require(&self, key: &str) -> Result<&str> {
        self.get(key)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ConnectorError::InvalidInput(format!("missing config value `{key}`")))
    }
}

/// Writes a message to the host's log (to stderr in native unit tests, feature `testing`).
pub fn log(level: Level, message: &str) {
    #[cfg(all(feature = "testing", not(target_arch = "wasm32")))]
    {
        #[allow(clippy::print_stderr, reason = "a native test's log goes to the test's output")]
        {
            eprintln!("[{level:?}] {message}");
        }
    }
    #[cfg(not(all(feature = "testing", not(target_arch = "wasm32"))))]
    bindings::max::connector::log::log(level, message);
}

/// Exports a type implementing [`Connector`] as the component's `source` interface. Use once per crate.
#[macro_export]
macro_rules! export_connector {
    ($connector:ty) => {
        #[doc(hidden)]
        #[allow(dead_code, reason = "used by the component exports, which exist only on wasm32")]
        type __MaxConnectorExport = $crate::Adapter<$connector>;
        // The component's exports (their symbol names are not valid native symbol names).
        #[cfg(target_arch = "wasm32")]
        $crate::wit::__export_connector_world!(__MaxConnectorExport with_types_in $crate::wit);
        $crate::__native_entry!($connector);
    };
}

/// With the `native` feature: `native_connector()`, the connector as a plain Rust value (benchmarks).
#[cfg(feature = "native")]
#[doc(hidden)]
#[macro_export]
macro_rules! __native_entry {
    ($connector:ty) => {
        /// This connector as a native library, driven through [`max_connector_sdk::native`].
        pub fn native_connector() -> Box<dyn $crate::native::DynConnector> {
            Box::new($crate::native::Native::<$connector>::default())
        }
    };
}

/// Without the `native` feature: nothing.
#[cfg(not(feature = "native"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __native_entry {
    ($connector:ty) => {};
}
