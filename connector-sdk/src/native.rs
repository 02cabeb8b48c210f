//! A connector as a native Rust library (feature `native`), so the same code can be measured without
//! the WebAssembly boundary. HTTP goes to the [`NativeHost`] given to [`set_host`].

use std::sync::OnceLock;

use crate::bindings::max::connector::http as wit_http;
use crate::bindings::max::connector::types as wit;
use crate::{Config, Connector, ConnectorError, Result};

pub use wit_http::{HttpError, Method, Request, Response};

/// What a native connector calls for HTTP.
pub trait NativeHost: Send + Sync {
    /// Sends one request.
    fn send(&self, request: &Request) -> std::result::Result<Response, HttpError>;

    /// Sends several, in order.
    fn send_all(&self, requests: &[Request]) -> Vec<std::result::Result<Response, HttpError>> {
        requests.iter().map(|r| self.send(r)).collect()
    }
}

static HOST: OnceLock<Box<dyn NativeHost>> = OnceLock::new();

/// Sets the host native connectors use (once per process).
pub fn set_host(host: Box<dyn NativeHost>) -> std::result::Result<(), &'static str> {
    HOST.set(host).map_err(|_| "a native host is already set")
}

pub(crate) fn host() -> &'static dyn NativeHost {
    HOST.get().map(|h| h.as_ref()).expect("native::set_host must be called before a native connector makes requests")
}

/// The calls of the `source` interface, object-safe.
pub trait DynConnector: Send {
    /// `initialise`.
    fn initialise(&mut self, config: Vec<(String, String)>) -> Result<()>;
    /// `load`.
    fn load(&mut self, loader: &str, refs: &[wit::EntityRef]) -> Result<Vec<wit::EntityBatch>>;
    /// `load-page`.
    fn load_page(&mut self, loader: &str, parent: &wit::EntityRef, cursor: Option<&str>) -> Result<wit::Page>;
}

/// A [`Connector`] behind [`DynConnector`].
pub struct Native<C>(Option<C>);

impl<C> Default for Native<C> {
    fn default() -> Self {
        Native(None)
    }
}

impl<C: Connector + Send> Native<C> {
    fn connector(&mut self) -> Result<&mut C> {
        self.0.as_mut().ok_or_else(|| ConnectorError::InvalidInput("called before `initialise`".into()))
    }
}

impl<C: Connector + Send> DynConnector for Native<C> {
    fn initialise(&mut self, config: Vec<(String, String)>) -> Result<()> {
        self.0 = Some(C::initialise(Config::new(config))?);
        Ok(())
    }

    fn load(&mut self, loader: &str, refs: &[wit::EntityRef]) -> Result<Vec<wit::EntityBatch>> {
        self.connector()?.load(loader, refs).map(|entities| entities.0)
    }

    fn load_page(&mut self, loader: &str, parent: &wit::EntityRef, cursor: Option<&str>) -> Result<wit::Page> {
        self.connector()?.load_page(loader, parent, cursor)
    }
}
