//! The artifact a connector is published as, and the checks an artifact passes before its bytes are
//! trusted as a component.
//!
//! The Wasm OCI artifact layout: an OCI image manifest whose `config` has media type
//! `application/vnd.wasm.config.v0+json` (a small JSON: `created`, `architecture: wasm`,
//! `os: wasip2`, `layerDigests`, the component's imports and exports) and exactly one layer of media
//! type `application/wasm`, the component itself. Max adds annotations: the standard
//! `org.opencontainers.image.*` (title, version, description, created) and its own
//! `dev.max.connector.*` (the contract version and the permissions the connector asks for, as JSON).

use std::collections::BTreeMap;

use oci_client::client::{Config, ImageLayer};
use oci_client::manifest::{OciDescriptor, OciImageManifest, OciManifest};
use serde::{Deserialize, Serialize};

use super::reference::OciReference;
use crate::project::{InstalledConnector, permission_lines};
use crate::{Error, Result};

/// The config media type of a Wasm component artifact.
pub const WASM_CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
/// The media type of its one layer.
pub const WASM_LAYER_MEDIA_TYPE: &str = "application/wasm";
/// The largest component a download takes (a Python component is ~18 MiB).
pub const MAX_COMPONENT_BYTES: u64 = 128 << 20;

/// Annotation keys.
pub mod keys {
    /// The connector's name.
    pub const TITLE: &str = "org.opencontainers.image.title";
    /// Its version.
    pub const VERSION: &str = "org.opencontainers.image.version";
    /// Its one-line description.
    pub const DESCRIPTION: &str = "org.opencontainers.image.description";
    /// When it was published (RFC 3339).
    pub const CREATED: &str = "org.opencontainers.image.created";
    /// The `max:connector` contract version it was built against.
    pub const CONTRACT: &str = "dev.max.connector.contract";
    /// The permissions it asks for: a JSON list of lines as `max connector install` shows them.
    pub const PERMISSIONS: &str = "dev.max.connector.permissions";
}

/// What an artifact's annotations say about the connector in it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Annotations {
    /// The connector's name.
    pub name: Option<String>,
    /// Its version.
    pub version: Option<String>,
    /// Its description.
    pub description: Option<String>,
    /// The contract version.
    pub contract: Option<String>,
    /// The permissions it asks for.
    pub permissions: Vec<String>,
}

impl Annotations {
    /// Reads them from a manifest's annotations (missing or malformed ones are left empty).
    pub fn read(annotations: Option<&BTreeMap<String, String>>) -> Annotations {
        let get = |key: &str| annotations.and_then(|a| a.get(key)).map(|v| crate::text::one_line(v));
        Annotations {
            name: get(keys::TITLE),
            version: get(keys::VERSION),
            description: get(keys::DESCRIPTION),
            contract: get(keys::CONTRACT),
            permissions: annotations
                .and_then(|a| a.get(keys::PERMISSIONS))
                .and_then(|p| serde_json::from_str::<Vec<String>>(p).ok())
                .unwrap_or_default()
                .iter()
                .map(|line| crate::text::one_line(line))
                .collect(),
        }
    }
}

/// The config blob of the Wasm OCI artifact layout.
#[derive(Debug, Serialize)]
struct WasmConfig<'a> {
    created: &'a str,
    architecture: &'static str,
    os: &'static str,
    #[serde(rename = "layerDigests")]
    layer_digests: Vec<String>,
    component: ComponentShape,
}

#[derive(Debug, Serialize)]
struct ComponentShape {
    exports: Vec<String>,
    imports: Vec<String>,
}

/// The layer, config and manifest that publish `component` (described by `connector`).
pub fn build(
    component: &[u8],
    connector: &InstalledConnector,
    now: &str,
) -> Result<(ImageLayer, Config, OciImageManifest)> {
    let info = &connector.info;
    let layer = ImageLayer::new(component.to_vec(), WASM_LAYER_MEDIA_TYPE.to_string(), None);
    let (imports, exports) = crate::runtime::contract::interface_names(component, &connector.file)?;
    let shape = WasmConfig {
        created: now,
        architecture: "wasm",
        os: "wasip2",
        layer_digests: vec![layer.sha256_digest()],
        component: ComponentShape { exports, imports },
    };
    let config_bytes = serde_json::to_vec(&shape).map_err(|e| Error::Runtime(e.to_string()))?;
    let config = Config::new(config_bytes, WASM_CONFIG_MEDIA_TYPE.to_string(), None);
    let permissions =
        serde_json::to_string(&permission_lines(&connector.granted)).map_err(|e| Error::Runtime(e.to_string()))?;
    let annotations = BTreeMap::from([
        (keys::TITLE.to_string(), info.name.clone()),
        (keys::VERSION.to_string(), info.version.clone()),
        (keys::DESCRIPTION.to_string(), info.description.clone()),
        (keys::CREATED.to_string(), now.to_string()),
        (keys::CONTRACT.to_string(), connector.contract.clone()),
        (keys::PERMISSIONS.to_string(), permissions),
    ]);
    let mut manifest = OciImageManifest::build(std::slice::from_ref(&layer), &config, Some(annotations));
    manifest.media_type = Some(oci_client::manifest::OCI_IMAGE_MEDIA_TYPE.to_string());
    Ok((layer, config, manifest))
}

/// Whether `digest` is `sha256:` and 64 lowercase hex digits.
pub fn is_sha256_digest(digest: &str) -> bool {
    digest
        .strip_prefix("sha256:")
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

/// A connector artifact as fetched: where it came from, the digests that pin it, who signed it, and
/// its component's bytes (checked against the layer digest).
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The reference it was fetched by, pinned to the manifest's digest.
    pub reference: OciReference,
    /// The manifest's digest.
    pub manifest_digest: String,
    /// The component's (the layer's) digest.
    pub component_digest: String,
    /// What its annotations say.
    pub annotations: Annotations,
    /// The publisher key that signed it (hex), when it was signed by a trusted key.
    pub signer: Option<String>,
    /// The component.
    pub bytes: Vec<u8>,
}

/// The one `application/wasm` layer of a manifest fetched by `reference`, after checking that it
/// is a Wasm component artifact whose component is at most `limit` bytes.
pub fn component_layer(
    reference: &OciReference,
    manifest: &OciManifest,
    limit: u64,
) -> Result<(OciDescriptor, Annotations)> {
    let refuse = |reason: String| Error::NotAComponentArtifact { reference: reference.to_string(), reason };
    let OciManifest::Image(image) = manifest else {
        return Err(refuse("it is an image index (several images), not one component".to_string()));
    };
    if image.config.media_type != WASM_CONFIG_MEDIA_TYPE {
        return Err(refuse(format!("its config is `{}`, not `{WASM_CONFIG_MEDIA_TYPE}`", image.config.media_type)));
    }
    let [layer] = image.layers.as_slice() else {
        return Err(refuse(format!("it has {} layers; a component artifact has one", image.layers.len())));
    };
    if layer.media_type != WASM_LAYER_MEDIA_TYPE {
        return Err(refuse(format!("its layer is `{}`, not `{WASM_LAYER_MEDIA_TYPE}`", layer.media_type)));
    }
    if layer.size < 0 || layer.size as u64 > limit {
        return Err(Error::ArtifactTooLarge {
            reference: reference.to_string(),
            what: "component".to_string(),
            size: layer.size.max(0) as u64,
            limit,
        });
    }
    if !is_sha256_digest(&layer.digest) {
        let shown: String = layer.digest.chars().take(80).collect();
        return Err(refuse(format!("its layer's digest `{}` is not a sha256 digest", crate::text::one_line(&shown))));
    }
    Ok((layer.clone(), Annotations::read(image.annotations.as_ref())))
}
