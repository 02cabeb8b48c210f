//! Publisher signatures of components (ed25519). A publisher makes a key pair once
//! (`max connector keygen`), signs each build (`max connector sign` writes `<file>.sig` beside it),
//! and users install with `--require-signed --trust <publisher.pub>`. What is signed is the
//! component's sha256 under a fixed context string, so a signature can't be replayed for anything else.
//! Keys and signatures are small text files: hex, and JSON.

use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::format::hex;
use crate::{Error, Result};

/// Prefixed to the sha256 that is signed.
const CONTEXT: &str = "max connector signature v1\n";
/// What a secret key file starts with, so a public key (bare hex) is never taken for one.
const SECRET_KEY_PREFIX: &str = "max-secret-key-v1:";

/// A `.sig` file.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SignatureFile {
    algorithm: String,
    /// The signer's public key (hex).
    public_key: String,
    /// The sha256 of the component (hex).
    sha256: String,
    /// The signature (hex).
    signature: String,
}

/// Where the signature of `component` is kept by default.
pub fn signature_path(component: &Path) -> PathBuf {
    let mut name = component.as_os_str().to_os_string();
    name.push(".sig");
    PathBuf::from(name)
}

/// A new key pair: (secret key file text, public key file text).
pub fn generate() -> Result<(String, String)> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).map_err(|e| Error::Runtime(format!("no randomness for a key: {e}")))?;
    let key = SigningKey::from_bytes(&seed);
    Ok((format!("{SECRET_KEY_PREFIX}{}\n", hex(&seed)), format!("{}\n", hex(key.verifying_key().as_bytes()))))
}

/// The seed in a secret key file's text: `max-secret-key-v1:<hex>`, or the bare hex of keys made
/// before the prefix (unless the file is named like a public key).
fn secret_seed(key_text: &str, key_path: &Path) -> Result<[u8; 32]> {
    let text = key_text.trim();
    let bad = |reason: &str| Error::BadKey { path: key_path.to_path_buf(), reason: reason.to_string() };
    let hex_digits = match text.strip_prefix(SECRET_KEY_PREFIX) {
        Some(digits) => digits,
        None if key_path.extension().is_some_and(|e| e == "pub") => {
            return Err(bad("this is a public key: sign with the `.key` file of the pair"));
        }
        None => text,
    };
    unhex(hex_digits)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| bad("not a secret key made by `max connector keygen`"))
}

/// The public key (hex) of the secret key in `key_text`.
pub fn public_key_of(key_text: &str, key_path: &Path) -> Result<String> {
    Ok(hex(SigningKey::from_bytes(&secret_seed(key_text, key_path)?).verifying_key().as_bytes()))
}

/// The public key (hex) a `.sig` file's text names, if it is one.
pub fn signer_of(signature_text: &str) -> Option<String> {
    serde_json::from_str::<SignatureFile>(signature_text).ok().map(|f| f.public_key.to_ascii_lowercase())
}

/// Signs a component with the secret key in `key_text`; returns the `.sig` file's text.
pub fn sign(component: &[u8], key_text: &str, key_path: &Path) -> Result<String> {
    let key = SigningKey::from_bytes(&secret_seed(key_text, key_path)?);
    let sha256 = crate::format::sha256_hex(component);
    let signature = key.sign(format!("{CONTEXT}{sha256}").as_bytes());
    let file = SignatureFile {
        algorithm: "ed25519".to_string(),
        public_key: hex(key.verifying_key().as_bytes()),
        sha256,
        signature: hex(&signature.to_bytes()),
    };
    Ok(serde_json::to_string_pretty(&file).expect("signature files serialize") + "\n")
}

/// A trusted public key read from a `.pub` file.
pub fn read_public_key(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path).map_err(Error::io("read", path))?;
    let key = text.trim().to_ascii_lowercase();
    let valid =
        unhex(&key).and_then(|b| <[u8; 32]>::try_from(b).ok()).is_some_and(|b| VerifyingKey::from_bytes(&b).is_ok());
    if !valid {
        return Err(Error::BadKey {
            path: path.to_path_buf(),
            reason: "not a public key made by `max connector keygen` (64 hex digits)".to_string(),
        });
    }
    Ok(key)
}

/// Checks that `signature_text` signs `component` with one of the `trusted` public keys; returns
/// the signer's key.
pub fn verify(component: &[u8], signature_text: &str, signature_path: &Path, trusted: &[String]) -> Result<String> {
    let bad = |reason: &str| Error::BadSignature { path: signature_path.to_path_buf(), reason: reason.to_string() };
    let file: SignatureFile = serde_json::from_str(signature_text).map_err(|_| bad("not a signature file"))?;
    if file.algorithm != "ed25519" {
        return Err(bad("an unknown algorithm"));
    }
    let sha256 = crate::format::sha256_hex(component);
    if file.sha256 != sha256 {
        return Err(bad("it signs a different file (the component changed after it was signed)"));
    }
    let key_bytes: [u8; 32] =
        unhex(&file.public_key).and_then(|b| b.try_into().ok()).ok_or_else(|| bad("a malformed public key"))?;
    let key = VerifyingKey::from_bytes(&key_bytes).map_err(|_| bad("a malformed public key"))?;
    let signature: [u8; 64] =
        unhex(&file.signature).and_then(|b| b.try_into().ok()).ok_or_else(|| bad("a malformed signature"))?;
    key.verify(format!("{CONTEXT}{sha256}").as_bytes(), &Signature::from_bytes(&signature))
        .map_err(|_| bad("the signature does not match"))?;
    let signer = file.public_key.to_ascii_lowercase();
    if !trusted.contains(&signer) {
        return Err(Error::UntrustedSigner { key: signer });
    }
    Ok(signer)
}

/// Signs `payload` (a registry signature's payload, which names the artifact's digest) with the
/// secret key in `key_text`: the signature's 64 bytes and the signer's public key (hex).
pub fn sign_payload(payload: &[u8], key_text: &str, key_path: &Path) -> Result<([u8; 64], String)> {
    let key = SigningKey::from_bytes(&secret_seed(key_text, key_path)?);
    Ok((key.sign(payload).to_bytes(), hex(key.verifying_key().as_bytes())))
}

/// Whether `signature` signs `payload` with the public key `key` (hex).
pub fn verify_payload(payload: &[u8], signature: &[u8], key: &str) -> bool {
    let Some(key) = unhex(key).and_then(|b| <[u8; 32]>::try_from(b).ok()) else { return false };
    let Ok(key) = VerifyingKey::from_bytes(&key) else { return false };
    let Ok(signature) = <[u8; 64]>::try_from(signature) else { return false };
    key.verify(payload, &Signature::from_bytes(&signature)).is_ok()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}
