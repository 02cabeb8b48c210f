//! Exports `max:connector/source@1.0.0`, which this host does not run.

/// The bindings of the future contract.
mod bindings {
    #![allow(missing_docs, reason = "generated code; the WIT file documents every item")]
    wit_bindgen::generate!({ world: "connector", path: "wit" });
}
use bindings::{export, exports};

struct Future;

impl exports::max::connector::source::Guest for Future {
    fn describe() -> String {
        "from the future".to_string()
    }
}

export!(Future with_types_in bindings);
