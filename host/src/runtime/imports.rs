//! The host's side of the contract's imports, one module per interface.

mod http;
pub(crate) mod log;

impl super::bindings::types::Host for super::state::StoreState {}
