//! How Max reaches a PostgreSQL URL: the URL's own settings, and TLS as libpq and `psql` do it, so
//! that the URL a hosted database gives (`…?sslmode=require`) works as it is. TLS is rustls's.
//!
//! `sslmode`:
//! - `disable`: never TLS;
//! - `allow`, `prefer` (the default): TLS when the server offers it, else plain;
//! - `require`: TLS or nothing;
//! - `verify-ca`: TLS with a certificate signed by a trusted root;
//! - `verify-full`: that, and the certificate names the host connected to.
//!
//! As with libpq, `prefer` and `require` encrypt without checking who answers, unless `sslrootcert`
//! names roots to check against (then `require` checks as `verify-ca` does). `sslrootcert` is a PEM
//! file, or `system` for the roots browsers trust (Mozilla's list, built in; `verify-full` then, the
//! only mode that means something with roots anyone can get a certificate under); without it the
//! verifying modes use `~/.postgresql/root.crt` when it exists, else those roots. `sslcert` and `sslkey` name a
//! client certificate and its key (PEM) for servers that authenticate clients by certificate.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// The URL settings this module reads; tokio-postgres is given the rest.
const TLS_SETTINGS: [&str; 4] = ["sslmode", "sslrootcert", "sslcert", "sslkey"];

/// A PostgreSQL URL made ready to connect: the client's settings and the TLS it connects with.
pub(crate) struct Target {
    /// Host, port, user, database and the other settings, with `sslmode` as tokio-postgres knows it.
    pub config: tokio_postgres::Config,
    /// Makes each connection's TLS session (not used when `sslmode=disable`).
    pub tls: MakeRustlsConnect,
}

/// How much of the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Nothing: the session is encrypted, but anyone could be answering.
    Nothing,
    /// That a trusted root signed it.
    Chain,
    /// That, and that it names the host.
    ChainAndName,
}

/// `url` with the files its TLS settings name made absolute (from the current folder, as libpq
/// reads them), so that it means the same from wherever it is used later: a project's other
/// folders, its daemon, workers. The URL as it was when it isn't one.
pub(crate) fn with_absolute_files(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else { return url.to_string() };
    let mut changed = false;
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(key, value)| {
            let file = matches!(&*key, "sslrootcert" | "sslcert" | "sslkey") && value != "system";
            match std::path::absolute(&*value) {
                Ok(absolute) if file && Path::new(&*value).is_relative() => {
                    changed = true;
                    (key.into_owned(), absolute.display().to_string())
                }
                _ => (key.into_owned(), value.into_owned()),
            }
        })
        .collect();
    if !changed {
        return url.to_string();
    }
    parsed.query_pairs_mut().clear().extend_pairs(&pairs);
    parsed.to_string()
}

/// Reads `url` (a `postgres://` URL) into what connecting to it takes; the message says what is
/// wrong with it otherwise.
pub(crate) fn target(url: &str) -> Result<Target, String> {
    let mut parsed = url::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    let mut tls: Vec<(String, String)> = Vec::new();
    let mut others: Vec<(String, String)> = Vec::new();
    for (key, value) in parsed.query_pairs() {
        let pair = (key.into_owned(), value.into_owned());
        if TLS_SETTINGS.contains(&pair.0.as_str()) { tls.push(pair) } else { others.push(pair) }
    }
    if others.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(&others);
    }
    let mut config: tokio_postgres::Config = parsed.as_str().parse().map_err(|e: tokio_postgres::Error| {
        // The error says only that it failed; its cause says what (`unknown option `x``).
        match std::error::Error::source(&e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        }
    })?;
    let setting = |key: &str| tls.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let root_file = setting("sslrootcert");
    // As libpq 16 does: the roots anyone can get a certificate under only mean something with the name.
    let public_roots = root_file == Some("system");
    let default_mode = if public_roots { "verify-full" } else { "prefer" };
    let (mode, check) = match setting("sslmode").unwrap_or(default_mode) {
        weaker if public_roots && weaker != "verify-full" => {
            return Err(format!("sslrootcert=system needs sslmode=verify-full, not {weaker}"));
        }
        "disable" => (SslMode::Disable, Check::Nothing),
        "allow" | "prefer" => (SslMode::Prefer, if root_file.is_some() { Check::Chain } else { Check::Nothing }),
        "require" => (SslMode::Require, if root_file.is_some() { Check::Chain } else { Check::Nothing }),
        "verify-ca" => (SslMode::Require, Check::Chain),
        "verify-full" => (SslMode::Require, Check::ChainAndName),
        other => {
            return Err(format!(
                "sslmode={other} isn't one of disable, allow, prefer, require, verify-ca, verify-full"
            ));
        }
    };
    config.ssl_mode(mode);
    let client = client_config(check, root_file, setting("sslcert"), setting("sslkey"))?;
    Ok(Target { config, tls: MakeRustlsConnect::new(client) })
}

/// The rustls client for `check`, with the roots and client certificate named.
fn client_config(
    check: Check,
    root_file: Option<&str>,
    cert_file: Option<&str>,
    key_file: Option<&str>,
) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let algorithms = provider.signature_verification_algorithms;
    let chain = match check {
        Check::Nothing => None,
        Check::Chain | Check::ChainAndName => {
            let roots = Arc::new(roots(root_file)?);
            let verifier = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| format!("sslrootcert: {e}"))?;
            Some(verifier)
        }
    };
    let verifier = Arc::new(Verifier { chain, check_name: check == Check::ChainAndName, algorithms });
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    match (cert_file, key_file) {
        (None, None) => Ok(builder.with_no_client_auth()),
        (Some(cert), Some(key)) => {
            let certs = read_certs("sslcert", Path::new(cert))?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("sslkey {key}: {e}"))?;
            builder.with_client_auth_cert(certs, key).map_err(|e| format!("sslcert and sslkey: {e}"))
        }
        _ => Err("sslcert and sslkey go together: name both files or neither".to_string()),
    }
}

/// The roots a server's certificate may be signed by: the file named, Mozilla's list for `system`,
/// and without a name `~/.postgresql/root.crt` when it exists, else Mozilla's list.
fn roots(file: Option<&str>) -> Result<RootCertStore, String> {
    let default = || std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".postgresql/root.crt"));
    let file = match file {
        Some("system") => None,
        Some(path) => Some(PathBuf::from(path)),
        None => default().filter(|path| path.is_file()),
    };
    let Some(file) = file else {
        return Ok(RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() });
    };
    let mut roots = RootCertStore::empty();
    for cert in read_certs("sslrootcert", &file)? {
        roots.add(cert).map_err(|e| format!("sslrootcert {}: {e}", file.display()))?;
    }
    if roots.is_empty() {
        return Err(format!("sslrootcert {}: no certificate in it", file.display()));
    }
    Ok(roots)
}

/// The certificates in the PEM file `file`, named by the URL's `setting`.
fn read_certs(setting: &str, file: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    CertificateDer::pem_file_iter(file)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{setting} {}: {e}", file.display()))
}

/// Checks a server's certificate as the `sslmode` asks; the handshake's signatures are always
/// checked against the certificate presented.
#[derive(Debug)]
struct Verifier {
    /// Checks the chain (and the name) against the roots; none when nothing is checked.
    chain: Option<Arc<WebPkiServerVerifier>>,
    /// Whether a certificate for another name is refused.
    check_name: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else { return Ok(ServerCertVerified::assertion()) };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            // The chain is checked before the name: this error means the chain was good.
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            checked => checked,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_settings_are_taken_out_and_the_rest_kept() {
        let target = target("postgres://max:pw@db.example:6543/max?sslmode=verify-full&sslrootcert=system&application_name=x&connect_timeout=3")
            .unwrap();
        assert_eq!(target.config.get_ssl_mode(), SslMode::Require);
        assert_eq!(target.config.get_dbname(), Some("max"));
        assert_eq!(target.config.get_application_name(), Some("x"));
        assert_eq!(target.config.get_connect_timeout(), Some(&std::time::Duration::from_secs(3)));
    }

    #[test]
    fn modes_map_to_what_tokio_postgres_negotiates() {
        for (mode, expected) in [
            ("disable", SslMode::Disable),
            ("allow", SslMode::Prefer),
            ("prefer", SslMode::Prefer),
            ("require", SslMode::Require),
            ("verify-ca", SslMode::Require),
        ] {
            let target = target(&format!("postgres://h/d?sslmode={mode}")).unwrap();
            assert_eq!(target.config.get_ssl_mode(), expected, "{mode}");
        }
        assert_eq!(target("postgres://h/d").unwrap().config.get_ssl_mode(), SslMode::Prefer);
        assert_eq!(target("postgres://h/d?sslrootcert=system").unwrap().config.get_ssl_mode(), SslMode::Require);
    }

    #[test]
    fn files_named_relative_to_here_are_made_absolute_and_the_rest_kept() {
        let here = std::env::current_dir().unwrap();
        let url = "postgres://u:p@h:5/d?sslmode=verify-full&sslrootcert=certs/root.pem&sslcert=/abs/c.pem&sslkey=k.pem&application_name=a";
        let made = url::Url::parse(&with_absolute_files(url)).unwrap();
        let pairs: std::collections::HashMap<_, _> = made.query_pairs().into_owned().collect();
        assert_eq!(pairs["sslrootcert"], here.join("certs/root.pem").display().to_string());
        assert_eq!(pairs["sslcert"], "/abs/c.pem");
        assert_eq!(pairs["sslkey"], here.join("k.pem").display().to_string());
        assert_eq!((pairs["sslmode"].as_str(), pairs["application_name"].as_str()), ("verify-full", "a"));
        assert_eq!((made.username(), made.password(), made.path()), ("u", Some("p"), "/d"));
        for unchanged in ["postgres://h/d?sslrootcert=system", "postgres://h/d", "postgres://h/d?sslrootcert=/r.pem"] {
            assert_eq!(with_absolute_files(unchanged), unchanged);
        }
    }

    #[test]
    fn bad_settings_say_what_is_wrong() {
        let error = |url: &str| target(url).err().unwrap();
        assert!(error("postgres://h/d?sslmode=verify").contains("isn't one of"));
        assert!(error("postgres://h/d?sslmode=require&sslrootcert=system").contains("needs sslmode=verify-full"));
        assert!(error("postgres://h/d?sslmode=verify-full&sslrootcert=/nonexistent.pem").contains("/nonexistent.pem"));
        assert!(error("postgres://h/d?sslcert=/c.pem").contains("go together"));
        let bogus = error("postgres://h/d?bogus=1");
        assert!(bogus.contains("bogus"), "{bogus}");
    }
}
