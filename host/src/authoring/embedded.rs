//! The files authors build against, compiled into Max so that `max connector new` and `max connector
//! build` need nothing but Max and the language's own tool: the contract (`wit/`) and the Python,
//! JavaScript and Rust SDKs, each as (path relative to its folder, contents). The tidy tests check that
//! these lists name every file of those folders.

/// The contract, `max:connector` as this host implements it (`wit/`).
pub const WIT: &[(&str, &str)] = &[
    ("discovery.wit", include_str!("../../../wit/discovery.wit")),
    ("http.wit", include_str!("../../../wit/http.wit")),
    ("log.wit", include_str!("../../../wit/log.wit")),
    ("ownership.wit", include_str!("../../../wit/ownership.wit")),
    ("pacing.wit", include_str!("../../../wit/pacing.wit")),
    ("scoping.wit", include_str!("../../../wit/scoping.wit")),
    ("source.wit", include_str!("../../../wit/source.wit")),
    ("text-search.wit", include_str!("../../../wit/text-search.wit")),
    ("types.wit", include_str!("../../../wit/types.wit")),
    ("versioned.wit", include_str!("../../../wit/versioned.wit")),
    ("world.wit", include_str!("../../../wit/world.wit")),
];

/// The Python SDK, the package `max_connector` (`connector-sdk-python/max_connector/`).
pub const PYTHON_SDK: &[(&str, &str)] = &[
    ("__init__.py", include_str!("../../../connector-sdk-python/max_connector/__init__.py")),
    ("_export.py", include_str!("../../../connector-sdk-python/max_connector/_export.py")),
    ("_log.py", include_str!("../../../connector-sdk-python/max_connector/_log.py")),
    ("batch.py", include_str!("../../../connector-sdk-python/max_connector/batch.py")),
    ("config.py", include_str!("../../../connector-sdk-python/max_connector/config.py")),
    ("connector.py", include_str!("../../../connector-sdk-python/max_connector/connector.py")),
    ("describe.py", include_str!("../../../connector-sdk-python/max_connector/describe.py")),
    ("errors.py", include_str!("../../../connector-sdk-python/max_connector/errors.py")),
    ("http.py", include_str!("../../../connector-sdk-python/max_connector/http.py")),
    ("plan.py", include_str!("../../../connector-sdk-python/max_connector/plan.py")),
    ("py.typed", include_str!("../../../connector-sdk-python/max_connector/py.typed")),
    ("table.py", include_str!("../../../connector-sdk-python/max_connector/table.py")),
    ("testing.py", include_str!("../../../connector-sdk-python/max_connector/testing.py")),
];

/// The JavaScript SDK (`connector-sdk-js/src/`).
pub const JS_SDK: &[(&str, &str)] = &[
    ("batch.js", include_str!("../../../connector-sdk-js/src/batch.js")),
    ("component.js", include_str!("../../../connector-sdk-js/src/component.js")),
    ("config.js", include_str!("../../../connector-sdk-js/src/config.js")),
    ("connector.js", include_str!("../../../connector-sdk-js/src/connector.js")),
    ("describe.js", include_str!("../../../connector-sdk-js/src/describe.js")),
    ("errors.js", include_str!("../../../connector-sdk-js/src/errors.js")),
    ("http.js", include_str!("../../../connector-sdk-js/src/http.js")),
    ("index.js", include_str!("../../../connector-sdk-js/src/index.js")),
    ("log.js", include_str!("../../../connector-sdk-js/src/log.js")),
    ("plan.js", include_str!("../../../connector-sdk-js/src/plan.js")),
    ("table.js", include_str!("../../../connector-sdk-js/src/table.js")),
    ("testing.js", include_str!("../../../connector-sdk-js/src/testing.js")),
];

/// The Rust SDK's sources (`connector-sdk/src/`); its contract is [`WIT`].
pub const RUST_SDK: &[(&str, &str)] = &[
    ("adapter.rs", include_str!("../../../connector-sdk/src/adapter.rs")),
    ("bindings.rs", include_str!("../../../connector-sdk/src/bindings.rs")),
    ("data.rs", include_str!("../../../connector-sdk/src/data.rs")),
    ("describe.rs", include_str!("../../../connector-sdk/src/describe.rs")),
    ("discovery.rs", include_str!("../../../connector-sdk/src/discovery.rs")),
    ("error.rs", include_str!("../../../connector-sdk/src/error.rs")),
    ("http.rs", include_str!("../../../connector-sdk/src/http.rs")),
    ("lib.rs", include_str!("../../../connector-sdk/src/lib.rs")),
    ("native.rs", include_str!("../../../connector-sdk/src/native.rs")),
    ("pacing.rs", include_str!("../../../connector-sdk/src/pacing.rs")),
    ("packed.rs", include_str!("../../../connector-sdk/src/packed.rs")),
    ("plan.rs", include_str!("../../../connector-sdk/src/plan.rs")),
    ("table.rs", include_str!("../../../connector-sdk/src/table.rs")),
    ("testing.rs", include_str!("../../../connector-sdk/src/testing.rs")),
    ("time.rs", include_str!("../../../connector-sdk/src/time.rs")),
    ("transport.rs", include_str!("../../../connector-sdk/src/transport.rs")),
];
