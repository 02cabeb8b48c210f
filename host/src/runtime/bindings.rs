//! The `bindgen!`s of the contract versions this host runs: `v0_1` (the frozen 0.1.0 WIT in
//! `wit/frozen/0.1.0/`) and `v0_2` (the current one in `wit/`). 0.2.0 kept `types`, `http` and `log` as 0.1.0 has them,
//! so `v0_2` reuses `v0_1`'s Rust types and host traits for them (`with`): one implementation of the
//! imports and one set of conversions serve both versions. The remapped imports are linked under
//! their 0.2.0 names by [`add_to_linker`].

#![allow(missing_docs, reason = "generated code; wit/ documents every item")]

use wasmtime::component::{HasSelf, Linker};

use super::state::StoreState;

/// Contract 0.1.0.
pub mod v0_1 {
    wasmtime::component::bindgen!({
        world: "max:connector/connector@0.1.0",
        path: "../wit/frozen/0.1.0",
        imports: { default: async },
        exports: { default: async },
    });
}

/// Contract 0.2.0: `discover`, `initialise` with the discovered fields, and `request-limits`.
pub mod v0_2 {
    wasmtime::component::bindgen!({
        world: "max:connector/connector@0.2.0",
        path: "../wit",
        imports: { default: async },
        exports: { default: async },
        with: {
            "max:connector/types@0.2.0": super::v0_1::max::connector::types,
            "max:connector/http@0.2.0": super::v0_1::max::connector::http,
            "max:connector/log@0.2.0": super::v0_1::max::connector::log,
        },
    });
}

/// The types every version shares (0.1.0's, which 0.2.0 kept).
pub use v0_1::max::connector::types;

/// The 0.2.0 discovery records.
pub use v0_2::max::connector::discovery;

/// The 0.2.0 request limits.
pub use v0_2::max::connector::pacing;

/// Adds the imports of every contract version to `linker`.
pub(super) fn add_to_linker(linker: &mut Linker<StoreState>) -> wasmtime::Result<()> {
    v0_1::Connector::add_to_linker::<_, HasSelf<_>>(linker, |state| state)?;
    // 0.2.0: the same host functions under the new version's names; types-only interfaces are empty
    // instances.
    linker.instance("max:connector/types@0.2.0")?;
    linker.instance("max:connector/discovery@0.2.0")?;
    linker.instance("max:connector/pacing@0.2.0")?;
    let mut http = linker.instance("max:connector/http@0.2.0")?;
    v0_1::max::connector::http::add_to_linker_instance::<_, HasSelf<_>>(&mut http, |state| state)?;
    let mut log = linker.instance("max:connector/log@0.2.0")?;
    v0_1::max::connector::log::add_to_linker_instance::<_, HasSelf<_>>(&mut log, |state| state)?;
    Ok(())
}
