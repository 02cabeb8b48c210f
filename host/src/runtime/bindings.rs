//! The one `bindgen!` of the `max:connector` world: async imports (HTTP awaits reqwest) and exports.

#![allow(missing_docs, reason = "generated code; wit/ documents every item")]

wasmtime::component::bindgen!({
    world: "connector",
    path: "../wit",
    imports: { default: async },
    exports: { default: async },
});
