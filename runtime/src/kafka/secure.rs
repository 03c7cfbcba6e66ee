//! TLS and SASL for the one Kafka connection Sluice opens itself: the
//! distributed workers' group-membership socket (see [`super::group`]),
//! from the same settings the worker's librdkafka clients take
//! (`security.protocol`, `sasl.mechanism`, `sasl.jaas.config` or
//! `sasl.username`/`sasl.password`, the `ssl.*` trust and key stores in
//! PEM, `ssl.endpoint.identification.algorithm`).
//!
//! SASL mechanisms: PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, as
//! Kafka's ScramSaslServer checks them), over SaslHandshake v1 and
//! SaslAuthenticate v1. Others (GSSAPI, OAUTHBEARER) are refused at start
//! with their name. TLS is rustls with the `ring` provider the rest of the
//! tree uses; without a trust store the Mozilla roots are trusted, as
//! librdkafka trusts the system's.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// How to reach the cluster on a socket of our own.
#[derive(Clone, Default)]
pub struct ClusterSecurity {
    pub tls: Option<Arc<ClientConfig>>,
    pub sasl: Option<Sasl>,
}

impl std::fmt::Debug for ClusterSecurity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterSecurity")
            .field("tls", &self.tls.is_some())
            .field("sasl", &self.sasl.as_ref().map(|s| s.mechanism.clone()))
            .finish()
    }
}

/// SASL credentials and mechanism.
#[derive(Clone)]
pub struct Sasl {
    pub mechanism: String,
    pub username: String,
    pub password: String,
}

impl ClusterSecurity {
    /// From Java or librdkafka client settings (`security.protocol`, ...).
    pub fn from_settings(settings: &BTreeMap<String, String>) -> Result<ClusterSecurity, String> {
        let s = super::with_librdkafka_names(settings)?;
        let get = |k: &str| s.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let protocol = get("security.protocol")
            .unwrap_or("PLAINTEXT")
            .to_ascii_uppercase();
        let (tls, sasl) = match protocol.as_str() {
            "PLAINTEXT" => (false, false),
            "SSL" => (true, false),
            "SASL_PLAINTEXT" => (false, true),
            "SASL_SSL" => (true, true),
            other => {
                return Err(format!(
                "security.protocol={other} is not one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"
            ))
            }
        };
        let sasl = if sasl {
            let mechanism = get("sasl.mechanism")
                .or_else(|| get("sasl.mechanisms"))
                .unwrap_or("GSSAPI")
                .to_ascii_uppercase();
            if !matches!(
                mechanism.as_str(),
                "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512"
            ) {
                return Err(format!(
                    "sasl.mechanism={mechanism}: the group membership of a distributed worker logs in with PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 only"
                ));
            }
            let username = get("sasl.username").ok_or_else(|| {
                format!("security.protocol={protocol} with sasl.mechanism={mechanism} needs credentials: set sasl.jaas.config (org.apache.kafka.common.security.scram.ScramLoginModule required username=\"...\" password=\"...\";)")
            })?;
            Some(Sasl {
                mechanism,
                username: username.to_string(),
                password: s.get("sasl.password").cloned().unwrap_or_default(),
            })
        } else {
            None
        };
        let tls = if tls {
            Some(Arc::new(tls_config(&s)?))
        } else {
            None
        };
        Ok(ClusterSecurity { tls, sasl })
    }
}

fn read_pem(
    s: &BTreeMap<String, String>,
    location: &str,
    inline: &str,
) -> Result<Option<Vec<u8>>, String> {
    if let Some(p) = s.get(location).filter(|v| !v.trim().is_empty()) {
        return std::fs::read(p.trim())
            .map(Some)
            .map_err(|e| format!("cannot read {p}: {e}"));
    }
    Ok(s.get(inline).map(|v| v.as_bytes().to_vec()))
}

fn tls_config(s: &BTreeMap<String, String>) -> Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    match read_pem(s, "ssl.ca.location", "ssl.ca.pem")? {
        Some(pem) => {
            for c in CertificateDer::pem_slice_iter(&pem) {
                roots
                    .add(c.map_err(|e| format!("the trust store's PEM: {e}"))?)
                    .map_err(|e| format!("a CA certificate of the trust store: {e}"))?;
            }
            if roots.is_empty() {
                return Err(
                    "the trust store (ssl.truststore.location) holds no CERTIFICATE".into(),
                );
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let check_names = !s
        .get("ssl.endpoint.identification.algorithm")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("none"));
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = if check_names {
        builder.with_root_certificates(roots)
    } else {
        let inner =
            rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| e.to_string())?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyName(inner)))
    };
    if let Some(loc) = s.get("ssl.keystore.location") {
        // A PKCS#12 key store (librdkafka's own setting after mapping).
        let store = crate::pkcs12::read(
            std::path::Path::new(loc.trim()),
            s.get("ssl.keystore.password")
                .map(String::as_str)
                .unwrap_or(""),
            "ssl.keystore.location",
        )?;
        let key = store
            .key
            .ok_or("ssl.keystore.location: the key store holds no private key")?;
        return builder
            .with_client_auth_cert(
                store.certs.into_iter().map(CertificateDer::from).collect(),
                PrivateKeyDer::Pkcs8(key.into()),
            )
            .map_err(|e| format!("the key store's key and certificate: {e}"));
    }
    let cert = read_pem(s, "ssl.certificate.location", "ssl.certificate.pem")?;
    let key = read_pem(s, "ssl.key.location", "ssl.key.pem")?;
    match (cert, key) {
        (Some(cert), Some(key)) => {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert)
                .collect::<Result<_, _>>()
                .map_err(|e| format!("the key store's certificate: {e}"))?;
            let key = PrivateKeyDer::from_pem_slice(&key).map_err(|e| {
                format!("the key store holds no unencrypted private key Sluice reads ({e})")
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("the key store's key and certificate: {e}"))
        }
        _ => Ok(builder.with_no_client_auth()),
    }
}

/// Checks the chain but not the name (`ssl.endpoint.identification.algorithm=`).
#[derive(Debug)]
struct AnyName(Arc<rustls::client::WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName))
            | Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// A SCRAM exchange (RFC 5802) from the client's side.
pub struct Scram {
    algorithm: ring::hmac::Algorithm,
    pbkdf2: ring::pbkdf2::Algorithm,
    username: String,
    password: String,
    client_nonce: String,
    client_first_bare: String,
    expected_server_signature: Option<Vec<u8>>,
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

impl Scram {
    pub fn new(mechanism: &str, username: &str, password: &str, nonce: Option<String>) -> Scram {
        let (algorithm, pbkdf2) = if mechanism == "SCRAM-SHA-256" {
            (ring::hmac::HMAC_SHA256, ring::pbkdf2::PBKDF2_HMAC_SHA256)
        } else {
            (ring::hmac::HMAC_SHA512, ring::pbkdf2::PBKDF2_HMAC_SHA512)
        };
        let client_nonce = nonce.unwrap_or_else(|| {
            let mut bytes = [0u8; 24];
            let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
            b64().encode(bytes)
        });
        let name = username.replace('=', "=3D").replace(',', "=2C");
        Scram {
            algorithm,
            pbkdf2,
            username: name.clone(),
            password: password.to_string(),
            client_first_bare: format!("n={name},r={client_nonce}"),
            client_nonce,
            expected_server_signature: None,
        }
    }

    pub fn client_first(&self) -> Vec<u8> {
        format!("n,,{}", self.client_first_bare).into_bytes()
    }

    /// The client's final message for the server's first.
    pub fn client_final(&mut self, server_first: &[u8]) -> Result<Vec<u8>, String> {
        let sf = std::str::from_utf8(server_first)
            .map_err(|_| "the server's SCRAM message is not text")?;
        let field = |k: &str| {
            sf.split(',')
                .find_map(|p| p.strip_prefix(k))
                .ok_or_else(|| format!("the server's SCRAM message has no {k}"))
        };
        let nonce = field("r=")?;
        if !nonce.starts_with(&self.client_nonce) {
            return Err("the server's SCRAM nonce does not extend ours".into());
        }
        let salt = b64()
            .decode(field("s=")?)
            .map_err(|_| "the server's SCRAM salt is not base64")?;
        let iterations: u32 = field("i=")?
            .parse()
            .map_err(|_| "the server's SCRAM iteration count is not a number")?;
        let iterations = std::num::NonZeroU32::new(iterations).ok_or("SCRAM iteration count 0")?;
        let len = self.algorithm.digest_algorithm().output_len();
        let mut salted = vec![0u8; len];
        ring::pbkdf2::derive(
            self.pbkdf2,
            iterations,
            &salt,
            self.password.as_bytes(),
            &mut salted,
        );
        let key = ring::hmac::Key::new(self.algorithm, &salted);
        let client_key = ring::hmac::sign(&key, b"Client Key");
        let stored_key =
            ring::digest::digest(self.algorithm.digest_algorithm(), client_key.as_ref());
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{sf},{without_proof}", self.client_first_bare);
        let signature = ring::hmac::sign(
            &ring::hmac::Key::new(self.algorithm, stored_key.as_ref()),
            auth_message.as_bytes(),
        );
        let proof: Vec<u8> = client_key
            .as_ref()
            .iter()
            .zip(signature.as_ref())
            .map(|(a, b)| a ^ b)
            .collect();
        let server_key = ring::hmac::sign(&key, b"Server Key");
        self.expected_server_signature = Some(
            ring::hmac::sign(
                &ring::hmac::Key::new(self.algorithm, server_key.as_ref()),
                auth_message.as_bytes(),
            )
            .as_ref()
            .to_vec(),
        );
        Ok(format!("{without_proof},p={}", b64().encode(proof)).into_bytes())
    }

    /// Checks the server's final message (that it knew the password too).
    pub fn check_server_final(&self, server_final: &[u8]) -> Result<(), String> {
        let sf = String::from_utf8_lossy(server_final);
        if let Some(e) = sf.strip_prefix("e=") {
            return Err(format!(
                "the server refused the SCRAM login of {}: {e}",
                self.username
            ));
        }
        let v = sf
            .strip_prefix("v=")
            .and_then(|v| b64().decode(v.trim()).ok())
            .ok_or("the server's final SCRAM message has no signature")?;
        if Some(v) != self.expected_server_signature {
            return Err("the server's SCRAM signature is wrong: it does not know the password (a man in the middle?)".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677's SCRAM-SHA-256 example.
    #[test]
    fn scram_sha_256_matches_rfc_7677() {
        let mut s = Scram::new(
            "SCRAM-SHA-256",
            "user",
            "pencil",
            Some("rOprNGfwEbeRWgbNEkqO".into()),
        );
        assert_eq!(s.client_first(), b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let server_first = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let fin = s.client_final(server_first).unwrap();
        assert_eq!(
            String::from_utf8(fin).unwrap(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        s.check_server_final(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap();
        assert!(s.check_server_final(b"v=AAAA").is_err());
        assert!(s
            .check_server_final(b"e=invalid-proof")
            .unwrap_err()
            .contains("invalid-proof"));
    }

    #[test]
    fn settings_say_what_is_missing() {
        let m = |kv: &[(&str, &str)]| {
            ClusterSecurity::from_settings(
                &kv.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        };
        assert!(m(&[]).unwrap().tls.is_none());
        let e = m(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "GSSAPI"),
        ])
        .unwrap_err();
        assert!(e.contains("GSSAPI"), "{e}");
        let e = m(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "PLAIN"),
        ])
        .unwrap_err();
        assert!(e.contains("sasl.jaas.config"), "{e}");
        let ok = m(&[
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            ("sasl.jaas.config", r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="w" password="p";"#),
        ])
        .unwrap();
        assert!(ok.tls.is_some());
        assert_eq!(ok.sasl.as_ref().map(|s| s.username.as_str()), Some("w"));
        assert!(m(&[("security.protocol", "SSLv3")]).is_err());
    }
}
