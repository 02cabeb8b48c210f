//! The generated bindings of the `max:connector` world. Authors never use this module directly: the
//! curated types are re-exported from the crate root and `export_connector!` wires the exports.

#![allow(missing_docs, reason = "generated code; the WIT file documents every item")]

wit_bindgen::generate!({
    world: "connector",
    path: "wit",
    pub_export_macro: true,
    default_bindings_module: "max_connector_sdk::wit",
    export_macro_name: "__export_connector_world",
});
