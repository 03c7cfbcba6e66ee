//! HTTPS for the REST API, from Kafka Connect's keys: a listener
//! `https://host:port` takes its settings from `listeners.https.ssl.*`
//! (`admin.listeners.https.ssl.*` for an admin listener), falling back to
//! the worker's `ssl.*`, as Kafka Connect's RestServer does.
//!
//! - The server's key and certificate chain: a PEM key store
//!   (`ssl.keystore.type=PEM`, KIP-651): `ssl.keystore.location`, a file
//!   holding the private key (PKCS#8, PKCS#1 or SEC1) and the chain, or
//!   `ssl.keystore.key` and `ssl.keystore.certificate.chain` as PEM text.
//!   A file that is PEM is read as PEM whatever `ssl.keystore.type` says.
//! - Client certificates: `ssl.client.auth` none (default), requested or
//!   required, checked against the CAs of `ssl.truststore.location` (PEM)
//!   or `ssl.truststore.certificates`.
//! - `ssl.enabled.protocols`: TLSv1.2 and TLSv1.3 (the default, both).
//!
//! Not read: JKS and PKCS#12 stores (the error gives the openssl/keytool
//! command that turns them into PEM) and encrypted private keys (the error
//! gives the command that writes the key unencrypted; protect it with the
//! file's permissions). `ssl.cipher.suites` and the other JSSE tuning keys
//! are left to rustls's defaults.

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

/// PEM text of a store: the file at `location`, or the inline value.
fn pem_source(
    props: &Props,
    prefixes: &[&str],
    store: &str,
) -> Result<Option<(Vec<u8>, String)>, String> {
    let Some((location, k)) = key(props, prefixes, &format!("{store}.location")) else {
        return Ok(None);
    };
    let bytes = std::fs::read(location)
        .map_err(|e| format!("REST HTTPS: cannot read {k}={location}: {e}"))?;
    let is_pem = bytes.windows(11).any(|w| w == b"-----BEGIN ");
    if !is_pem {
        let kind = key(props, prefixes, &format!("{store}.type"))
            .map(|(v, _)| v.to_ascii_uppercase())
            .unwrap_or_else(|| "JKS".into());
        return Err(format!(
            "REST HTTPS: {k}={location} is a {kind} store, which Sluice does not read; convert it to PEM and set {store}.type=PEM: {}",
            if store == "keystore" {
                format!("keytool -importkeystore -srckeystore {location} -destkeystore ks.p12 -deststoretype PKCS12 (for JKS), then openssl pkcs12 -in ks.p12 -nodes -out keystore.pem")
            } else {
                format!("keytool -exportcert -rfc -keystore {location} -alias CA > truststore.pem (for each CA)")
            }
        ));
    }
    Ok(Some((bytes, format!("{k}={location}"))))
}

fn key_store(
    props: &Props,
    prefixes: &[&str],
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let (pem, what) = match pem_source(props, prefixes, "keystore")? {
        Some(found) => found,
        None => {
            let key_text = key(props, prefixes, "keystore.key");
            let chain = key(props, prefixes, "keystore.certificate.chain");
            match (key_text, chain) {
                (Some((k, kk)), Some((c, ck))) => (format!("{k}\n{c}").into_bytes(), format!("{kk} and {ck}")),
                _ => return Err("REST HTTPS: a listener https://... needs the server's key and certificate: set listeners.https.ssl.keystore.location to a PEM file holding both (with listeners.https.ssl.keystore.type=PEM), or ssl.keystore.key and ssl.keystore.certificate.chain to their PEM text".into()),
            }
        }
    };
    if pem
        .windows(29)
        .any(|w| w == b"-----BEGIN ENCRYPTED PRIVATE")
    {
        return Err(format!(
            "REST HTTPS: the private key in {what} is encrypted, which Sluice does not read; write it unencrypted (openssl pkcs8 -in key.pem -out key-plain.pem) and keep the file readable by the worker only"
        ));
    }
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("REST HTTPS: {what}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("REST HTTPS: {what} holds no CERTIFICATE"));
    }
    let key_der = PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|e| format!("REST HTTPS: {what} holds no private key that Sluice reads ({e})"))?;
    Ok((certs, key_der))
}

fn trust_store(props: &Props, prefixes: &[&str]) -> Result<Option<RootCertStore>, String> {
    let (pem, what) = match pem_source(props, prefixes, "truststore")? {
        Some(found) => found,
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
