# Thin aliases of `cargo xtask`; CI runs `cargo xtask test` (see .ci/run).

# Build max, fake-saas, the connectors and the test guests.
build:
    cargo xtask build

# Everything the tests need, then every test.
test:
    cargo xtask test

# Start the Acme fake API and show Max working against it.
demo:
    cargo xtask demo

# Formatting and lints, as a reviewer would run them.
check:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings
    cargo xtask test
