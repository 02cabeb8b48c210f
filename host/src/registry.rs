//! Connectors in OCI registries: any registry people already run (GHCR, Docker Hub, Harbor, a
//! self-hosted `registry`) as Max's marketplace.
//!
//! A connector is published as a Wasm OCI artifact (CNCF TAG Runtime's layout, as `wkg` and `wash`
//! publish components): an image manifest whose config has media type
//! `application/vnd.wasm.config.v0+json` and whose one layer, `application/wasm`, is the component;
//! annotations name it, its version and description, the contract it was built against and the
//! permissions it asks for. Its publisher's ed25519 signature is attached the way cosign attaches
//! one: an artifact tagged `sha256-<manifest digest>.sig` whose layer is a simple-signing payload
//! naming the manifest's digest, signed in the `dev.cosignproject.cosign/signature` annotation.
//!
//! - [`reference`]: `oci://registry/namespace/name:tag` or `…@sha256:…`.
//! - [`artifact`]: the artifact's shape, built for publishing and checked when fetched.
//! - [`signature`]: the cosign-style signature.
//! - [`client`]: the registry, through `oci-client`: credentials from the user's Docker
//!   configuration, downloads capped before and during transfer, checked against their digests, and
//!   retried from where they stopped.

pub mod artifact;
pub mod client;
pub mod reference;
pub mod signature;

pub use artifact::{Annotations, Fetched, MAX_COMPONENT_BYTES};
pub use client::{Credentials, Registry};
pub use reference::OciReference;
