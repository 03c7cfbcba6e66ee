//! HTTPS for the REST API, from Kafka Connect's keys: a listener
//! `https://host:port` takes its settings from `listeners.https.ssl.*`
//! (`admin.listeners.https.ssl.*` for an admin listener), falling back to
//! the worker's `ssl.*`, as Kafka Connect's RestServer does.
//!
//! - The server's key and certificate chain: `ssl.keystore.location`, a
//!   PKCS#12 store (`ssl.keystore.type=PKCS12`, with
//!   `ssl.keystore.password`) or a PEM file holding the private key (PKCS#8,
//!   PKCS#1 or SEC1) and the chain (`ssl.keystore.type=PEM`, KIP-651); or
//!   `ssl.keystore.key` and `ssl.keystore.certificate.chain` as PEM text.
//!   The file's content decides between PEM and PKCS#12.
//! - Client certificates: `ssl.client.auth` none (default), requested or
//!   required, checked against the CAs of `ssl.truststore.location` (PEM or
//!   PKCS#12) or `ssl.truststore.certificates`.
//! - `ssl.enabled.protocols`: TLSv1.2 and TLSv1.3 (the default, both).
//!
//! An encrypted PEM private key (PKCS#8 or traditional) opens with
//! `ssl.key.password`, decrypted by the system OpenSSL.
//!
//! Key and trust stores may be PEM, PKCS#12 or JKS (see `crate::jks`).
//!
//! Not read: JCEKS and other stores (the error gives the keytool command
//! that turns them into PKCS#12). `ssl.cipher.suites` and the other JSSE
//! tuning keys are left to rustls's defaults.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

use crate::plugin::Props;

/// The value of `ssl.NAME` for a listener: the first of the prefixes that
/// has it, then the bare key.
fn key<'a>(props: &'a Props, prefixes: &[&str], name: &str) -> Option<(&'a str, String)> {
    prefixes
        .iter()
        .map(|p| format!("{p}ssl.{name}"))
        .chain(std::iter::once(format!("ssl.{name}")))
        .find_map(|k| {
            props
                .get(&k)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
                .map(|v| (v, k))
        })
}

/// The TLS settings of an HTTPS listener whose keys start with one of
/// `prefixes` (e.g. `listeners.https.`).
pub fn server_config(props: &Props, prefixes: &[&str]) -> Result<Arc<ServerConfig>, String> {
    let (certs, key_der) = key_store(props, prefixes)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions = protocols(props, prefixes)?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("REST HTTPS: {e}"))?;
    let client_auth = key(props, prefixes, "client.auth")
        .map(|(v, k)| (v.to_ascii_lowercase(), k))
        .unwrap_or(("none".into(), "ssl.client.auth".into()));
    let builder = match client_auth.0.as_str() {
        "none" => builder.with_no_client_auth(),
        "requested" | "required" => {
            let roots = trust_store(props, prefixes)?.ok_or_else(|| {
                format!(
                    "REST HTTPS: {}={} needs the CAs that sign client certificates: set ssl.truststore.location to a PEM file of them (ssl.truststore.type=PEM) or ssl.truststore.certificates to their PEM text",
                    client_auth.1, client_auth.0
                )
            })?;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if client_auth.0 == "requested" {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            builder.with_client_cert_verifier(verifier.build().map_err(|e| {
                format!("REST HTTPS: the trust store cannot check client certificates: {e}")
            })?)
        }
        other => {
            return Err(format!(
                "REST HTTPS: {}={other} is not one of none, requested, required",
                client_auth.1
            ))
        }
    };
    let mut config = builder.with_single_cert(certs, key_der).map_err(|e| {
        format!("REST HTTPS: the key store's key and certificate do not fit together: {e}")
    })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn protocols(
    props: &Props,
    prefixes: &[&str],
) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
    let Some((list, k)) = key(props, prefixes, "enabled.protocols") else {
        return Ok(vec![&rustls::version::TLS13, &rustls::version::TLS12]);
    };
    let mut out = Vec::new();
    for p in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match p {
            "TLSv1.3" => out.push(&rustls::version::TLS13),
            "TLSv1.2" => out.push(&rustls::version::TLS12),
            other => {
                return Err(format!(
                    "REST HTTPS: {k} names {other}; Sluice speaks TLSv1.2 and TLSv1.3 only"
                ))
            }
        }
    }
    if out.is_empty() {
        return Err(format!("REST HTTPS: {k} is empty; set TLSv1.2,TLSv1.3"));
    }
    Ok(out)
}

/// A store file as read: PEM text, or the DER contents of a PKCS#12 store.
enum Source {
    Pem(Vec<u8>),
    Pkcs12(crate::pkcs12::Store),
}

/// The store at `ssl.STORE.location`, PEM, PKCS#12 or JKS by its content;
/// another kind is an error with the conversion command.
fn store_source(
    props: &Props,
    prefixes: &[&str],
    store: &str,
) -> Result<Option<(Source, String)>, String> {
    let Some((location, k)) = key(props, prefixes, &format!("{store}.location")) else {
        return Ok(None);
    };
    let bytes = std::fs::read(location)
        .map_err(|e| format!("REST HTTPS: cannot read {k}={location}: {e}"))?;
    let what = format!("{k}={location}");
    if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        return Ok(Some((Source::Pem(bytes), what)));
    }
    if crate::pkcs12::looks_like(&bytes) {
        let password = key(props, prefixes, &format!("{store}.password"))
            .map(|(v, _)| v)
            .unwrap_or("");
        let p12 = crate::pkcs12::read(std::path::Path::new(location), password, &k)
            .map_err(|e| format!("REST HTTPS: {e}"))?;
        return Ok(Some((Source::Pkcs12(p12), what)));
    }
    if crate::jks::looks_like(&bytes) {
        let password = key(props, prefixes, &format!("{store}.password"))
            .map(|(v, _)| v)
            .unwrap_or("");
        // Java's default key password is the store's.
        let key_password = key(props, prefixes, "key.password")
            .map(|(v, _)| v)
            .unwrap_or(password);
        let jks = crate::jks::read(std::path::Path::new(location), password, key_password, &k)
            .map_err(|e| format!("REST HTTPS: {e}"))?;
        return Ok(Some((Source::Pkcs12(jks), what)));
    }
    let kind = key(props, prefixes, &format!("{store}.type"))
        .map(|(v, _)| v.to_ascii_uppercase())
        .unwrap_or_else(|| "JCEKS".into());
    Err(format!(
        "REST HTTPS: {k}={location} is a {kind} store, which Sluice does not read; convert it to PKCS12 and set {store}.type=PKCS12: keytool -importkeystore -srckeystore {location} -destkeystore {store}.p12 -deststoretype PKCS12"
    ))
}

fn key_store(
    props: &Props,
    prefixes: &[&str],
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let (pem, what) = match store_source(props, prefixes, "keystore")? {
        Some((Source::Pkcs12(p12), what)) => {
            let key = p12
                .key
                .ok_or_else(|| format!("REST HTTPS: {what} holds no private key"))?;
            if p12.certs.is_empty() {
                return Err(format!("REST HTTPS: {what} holds no certificate"));
            }
            return Ok((
                p12.certs.into_iter().map(CertificateDer::from).collect(),
                PrivateKeyDer::Pkcs8(key.into()),
            ));
        }
        Some((Source::Pem(pem), what)) => (pem, what),
        None => {
            let key_text = key(props, prefixes, "keystore.key");
            let chain = key(props, prefixes, "keystore.certificate.chain");
            match (key_text, chain) {
                (Some((k, kk)), Some((c, ck))) => (format!("{k}\n{c}").into_bytes(), format!("{kk} and {ck}")),
                _ => return Err("REST HTTPS: a listener https://... needs the server's key and certificate: set listeners.https.ssl.keystore.location to a PEM file holding both (with listeners.https.ssl.keystore.type=PEM), or ssl.keystore.key and ssl.keystore.certificate.chain to their PEM text".into()),
            }
        }
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("REST HTTPS: {what}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("REST HTTPS: {what} holds no CERTIFICATE"));
    }
    // An encrypted key (PKCS#8 "ENCRYPTED PRIVATE KEY", or a traditional
    // one with a DEK-Info header) opens with ssl.key.password, as Kafka
    // Connect's PEM stores do.
    let has = |needle: &[u8]| pem.windows(needle.len()).any(|w| w == needle);
    let encrypted = has(b"-----BEGIN ENCRYPTED PRIVATE KEY-----") || has(b"DEK-Info:");
    let key_der = if encrypted {
        let Some((password, pk)) = key(props, prefixes, "key.password") else {
            return Err(format!(
                "REST HTTPS: the private key in {what} is encrypted: set ssl.key.password (or listeners.https.ssl.key.password) to its passphrase"
            ));
        };
        let pkey = openssl::pkey::PKey::private_key_from_pem_passphrase(&pem, password.as_bytes())
            .map_err(|_| {
                format!("REST HTTPS: the private key in {what} does not open with {pk}; check the passphrase")
            })?;
        let der = pkey
            .private_key_to_pkcs8()
            .map_err(|e| format!("REST HTTPS: the private key in {what}: {e}"))?;
        PrivateKeyDer::Pkcs8(der.into())
    } else {
        PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
            format!("REST HTTPS: {what} holds no private key that Sluice reads ({e})")
        })?
    };
    Ok((certs, key_der))
}

fn trust_store(props: &Props, prefixes: &[&str]) -> Result<Option<RootCertStore>, String> {
    let (pem, what) = match store_source(props, prefixes, "truststore")? {
        Some((Source::Pkcs12(p12), what)) => (crate::pkcs12::to_pem(&p12.certs).into_bytes(), what),
        Some((Source::Pem(pem), what)) => (pem, what),
        None => match key(props, prefixes, "truststore.certificates") {
            Some((v, k)) => (v.as_bytes().to_vec(), k),
            None => return Ok(None),
        },
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| format!("REST HTTPS: {what}: {e}"))?;
        roots
            .add(cert)
            .map_err(|e| format!("REST HTTPS: {what}: a CA certificate cannot be used: {e}"))?;
    }
    if roots.is_empty() {
        return Err(format!("REST HTTPS: {what} holds no CERTIFICATE"));
    }
    Ok(Some(roots))
}
