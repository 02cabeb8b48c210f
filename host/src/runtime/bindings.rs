//! The `bindgen!`s of the contract versions this host runs: `v0_1`, `v0_2` and `v0_3` (the frozen WIT
//! in `wit/frozen/<version>/`) and `v0_4` (the current one in `wit/`). Each version kept the interfaces
//! of the one before it unchanged (`types`, `http` and `log` are 0.1.0's; `discovery` and `pacing`
//! 0.2.0's), so the newer bindings reuse the older Rust types and host traits for them (`with`): one
//! implementation of the imports and one set of conversions serve every version. The remapped imports
//! are linked under each version's names by [`add_to_linker`].

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
        path: "../wit/frozen/0.2.0",
        imports: { default: async },
        exports: { default: async },
        with: {
            "max:connector/types@0.2.0": super::v0_1::max::connector::types,
            "max:connector/http@0.2.0": super::v0_1::max::connector::http,
            "max:connector/log@0.2.0": super::v0_1::max::connector::log,
        },
    });
}

/// Contract 0.3.0: `searchable-fields`, `field-versions` and `owned-collections`.
pub mod v0_3 {
    wasmtime::component::bindgen!({
        world: "max:connector/connector@0.3.0",
        path: "../wit/frozen/0.3.0",
        imports: { default: async },
        exports: { default: async },
        with: {
            "max:connector/types@0.3.0": super::v0_1::max::connector::types,
            "max:connector/http@0.3.0": super::v0_1::max::connector::http,
            "max:connector/log@0.3.0": super::v0_1::max::connector::log,
            "max:connector/discovery@0.3.0": super::v0_2::max::connector::discovery,
            "max:connector/pacing@0.3.0": super::v0_2::max::connector::pacing,
        },
    });
}

/// Contract 0.4.0: `scoped-feeds` and `changes-of`.
pub mod v0_4 {
    wasmtime::component::bindgen!({
        world: "max:connector/connector@0.4.0",
        path: "../wit",
        imports: { default: async },
        exports: { default: async },
        with: {
            "max:connector/types@0.4.0": super::v0_1::max::connector::types,
            "max:connector/http@0.4.0": super::v0_1::max::connector::http,
            "max:connector/log@0.4.0": super::v0_1::max::connector::log,
            "max:connector/discovery@0.4.0": super::v0_2::max::connector::discovery,
            "max:connector/pacing@0.4.0": super::v0_2::max::connector::pacing,
            "max:connector/text-search@0.4.0": super::v0_3::max::connector::text_search,
            "max:connector/versioned@0.4.0": super::v0_3::max::connector::versioned,
            "max:connector/ownership@0.4.0": super::v0_3::max::connector::ownership,
        },
    });
}

/// The types every version shares (0.1.0's, which later versions kept).
pub use v0_1::max::connector::types;

/// The discovery records (0.2.0's, which 0.3.0 kept).
pub use v0_2::max::connector::discovery;

/// The request limits (0.2.0's, which 0.3.0 kept).
pub use v0_2::max::connector::pacing;

/// The 0.3.0 searchable fields.
pub use v0_3::max::connector::text_search;

/// The 0.3.0 versioned fields.
pub use v0_3::max::connector::versioned;

/// The 0.3.0 owned collections.
pub use v0_3::max::connector::ownership;

/// The 0.4.0 scoped change feeds.
pub use v0_4::max::connector::scoping;

/// Adds the imports of every contract version to `linker`.
pub(super) fn add_to_linker(linker: &mut Linker<StoreState>) -> wasmtime::Result<()> {
    v0_1::Connector::add_to_linker::<_, HasSelf<_>>(linker, |state| state)?;
    // Later versions: the same host functions under their names; types-only interfaces are empty
    // instances.
    // The minor version each types-only interface appeared in.
    let since = |interface: &str| match interface {
        "text-search" | "versioned" | "ownership" => 3,
        "scoping" => 4,
        _ => 2,
    };
    for minor in 2..=4 {
        let version = format!("0.{minor}.0");
        for types_only in ["types", "discovery", "pacing", "text-search", "versioned", "ownership", "scoping"] {
            if since(types_only) <= minor {
                linker.instance(&format!("max:connector/{types_only}@{version}"))?;
            }
        }
        let mut http = linker.instance(&format!("max:connector/http@{version}"))?;
        v0_1::max::connector::http::add_to_linker_instance::<_, HasSelf<_>>(&mut http, |state| state)?;
        let mut log = linker.instance(&format!("max:connector/log@{version}"))?;
        v0_1::max::connector::log::add_to_linker_instance::<_, HasSelf<_>>(&mut log, |state| state)?;
    }
    Ok(())
}
