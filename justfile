# Thin aliases of `cargo xtask`; CI runs `cargo xtask test` (see .ci/run).

# Build max, fake-saas, the connectors and the test guests.
build:
    cargo xtask build

# Formatting and lints, everything the tests need, then every test.
test:
    cargo xtask test

# Start the Acme fake API and show Max working against it.
demo:
    cargo xtask demo
