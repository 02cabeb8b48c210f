//! A publisher's signature of an artifact, attached the way cosign attaches one (no referrers API
//! needed, so every registry holds it): an artifact in the same repository tagged
//! `sha256-<manifest digest hex>.sig`, whose one layer (`application/vnd.dev.cosign.simplesigning.v1+json`)
//! is a payload naming the repository and the signed manifest's digest, and whose layer annotation
//! `dev.cosignproject.cosign/signature` holds the signature of that payload (base64; ed25519 here,
//! with Max's publisher keys). `dev.max.signer` names the public key (hex), so the user is told
//! which key signed when it isn't one they trust.

use std::collections::BTreeMap;

use base64::Engine as _;
use oci_client::client::{Config, ImageLayer};
use oci_client::manifest::{OciImageManifest, OciManifest};
use serde::{Deserialize, Serialize};

use super::reference::OciReference;
use crate::{Error, Result};

/// The payload's media type.
pub const PAYLOAD_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The annotation holding the signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The annotation naming the signer's public key.
pub const SIGNER_ANNOTATION: &str = "dev.max.signer";
/// What the payload says it is.
const PAYLOAD_TYPE: &str = "cosign container image signature";

/// The tag a signature of `manifest_digest` is pushed under.
pub fn tag_for(manifest_digest: &str) -> String {
    format!("{}.sig", manifest_digest.replacen(':', "-", 1))
}

/// The simple-signing payload.
#[derive(Debug, Serialize, Deserialize)]
struct Payload {
    critical: Critical,
    #[serde(default)]
    optional: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Critical {
    identity: Identity,
    image: Image,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Identity {
    #[serde(rename = "docker-reference")]
    docker_reference: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Image {
    #[serde(rename = "docker-manifest-digest")]
    docker_manifest_digest: String,
}

/// The most signatures one signature artifact holds that are read.
pub const MOST_SIGNATURES: usize = 16;

/// The signature artifact of the manifest `manifest_digest` in `reference`'s repository, signed with
/// the secret key in `key_text` (read from `key_path`): its layer, config and manifest. The other
/// publishers' signatures of an `existing` artifact stay beside it (as cosign adds one), one by the
/// same key is replaced.
pub fn build(
    reference: &OciReference,
    manifest_digest: &str,
    key_text: &str,
    key_path: &std::path::Path,
    existing: Option<&OciManifest>,
) -> Result<(ImageLayer, Config, OciImageManifest)> {
    let payload = Payload {
        critical: Critical {
            identity: Identity { docker_reference: format!("{}/{}", reference.registry(), reference.repository()) },
            image: Image { docker_manifest_digest: manifest_digest.to_string() },
            kind: PAYLOAD_TYPE.to_string(),
        },
        optional: BTreeMap::new(),
    };
    let payload = serde_json::to_vec(&payload).map_err(|e| Error::Runtime(e.to_string()))?;
    let (signature, signer) = crate::signing::sign_payload(&payload, key_text, key_path)?;
    let annotations = BTreeMap::from([
        (SIGNATURE_ANNOTATION.to_string(), base64::engine::general_purpose::STANDARD.encode(signature)),
        (SIGNER_ANNOTATION.to_string(), signer),
    ]);
    let layer = ImageLayer::new(payload, PAYLOAD_MEDIA_TYPE.to_string(), Some(annotations));
    let config = Config::oci_v1(b"{}".to_vec(), None);
    let mut manifest = OciImageManifest::build(std::slice::from_ref(&layer), &config, None);
    manifest.media_type = Some(oci_client::manifest::OCI_IMAGE_MEDIA_TYPE.to_string());
    if let Some(OciManifest::Image(existing)) = existing {
        let ours = layer.annotations.as_ref().and_then(|a| a.get(SIGNER_ANNOTATION));
        let others = existing.layers.iter().filter(|other| {
            other.media_type == PAYLOAD_MEDIA_TYPE
                && other
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(SIGNER_ANNOTATION))
                    .map(|s| s.to_ascii_lowercase())
                    .as_ref()
                    != ours
        });
        manifest.layers.extend(others.take(MOST_SIGNATURES - 1).cloned());
    }
    Ok((layer, config, manifest))
}

/// What a signature artifact holds: the payload to fetch (its layer), and its claimed signer.
pub struct Attached {
    /// The payload's layer.
    pub layer: oci_client::manifest::OciDescriptor,
    /// The signature's bytes.
    pub signature: Vec<u8>,
    /// The public key it names (hex), if any.
    pub signer: Option<String>,
}

/// Reads a signature artifact's manifest: each signature it holds (at most [`MOST_SIGNATURES`]).
pub fn attached(reference: &OciReference, manifest: &OciManifest) -> Result<Vec<Attached>> {
    let bad = |reason: &str| Error::BadSignature { path: reference.to_string().into(), reason: reason.to_string() };
    let OciManifest::Image(image) = manifest else { return Err(bad("the signature is an image index")) };
    let signatures: Vec<Attached> = image
        .layers
        .iter()
        .filter(|l| l.media_type == PAYLOAD_MEDIA_TYPE)
        .take(MOST_SIGNATURES)
        .filter_map(|layer| {
            let annotations = layer.annotations.clone().unwrap_or_default();
            let signature =
                base64::engine::general_purpose::STANDARD.decode(annotations.get(SIGNATURE_ANNOTATION)?).ok()?;
            Some(Attached {
                layer: layer.clone(),
                signature,
                signer: annotations.get(SIGNER_ANNOTATION).map(|s| s.to_ascii_lowercase()),
            })
        })
        .collect();
    if signatures.is_empty() {
        return Err(bad("the signature artifact holds no signed simple-signing payload"));
    }
    Ok(signatures)
}

/// Checks that `payload` names `manifest_digest` in `reference`'s repository and that `signature`
/// signs it with one of the `trusted` keys; returns that key. A signature by another key is
/// [`Error::UntrustedSigner`]; one that names another digest or doesn't hold, [`Error::BadSignature`].
pub fn verify(
    reference: &OciReference,
    manifest_digest: &str,
    payload: &[u8],
    attached: &Attached,
    trusted: &[String],
) -> Result<String> {
    let bad = |reason: &str| Error::BadSignature { path: reference.to_string().into(), reason: reason.to_string() };
    let parsed: Payload =
        serde_json::from_slice(payload).map_err(|_| bad("the payload is not a simple-signing payload"))?;
    if parsed.critical.image.docker_manifest_digest != manifest_digest {
        return Err(bad("it signs another artifact (the tag was moved to other bytes after signing?)"));
    }
    let repository = format!("{}/{}", reference.registry(), reference.repository());
    if parsed.critical.identity.docker_reference != repository {
        return Err(bad("it was signed for another repository"));
    }
    if let Some(key) = trusted.iter().find(|key| crate::signing::verify_payload(payload, &attached.signature, key)) {
        return Ok(key.clone());
    }
    match &attached.signer {
        Some(signer) if crate::signing::verify_payload(payload, &attached.signature, signer) => {
            Err(Error::UntrustedSigner { key: signer.clone() })
        }
        // A signature that names its signer and doesn't hold for it was changed.
        Some(_) => Err(bad("the signature does not hold for the key it names")),
        // Signed by some key it doesn't name (cosign names none): no trusted key's, which is all
        // that can be said.
        None => Err(Error::UntrustedSigner { key: "a key the signature doesn't name".to_string() }),
    }
}
