//! Exports `max:connector/source@1.0.0`, which this host does not run.

wit_bindgen::generate!({ world: "connector", path: "wit" });

struct Future;

impl exports::max::connector::source::Guest for Future {
    fn describe() -> String {
        "from the future".to_string()
    }
}

export!(Future);
