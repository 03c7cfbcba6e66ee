//! TLS to the server (database.ssl.mode), with rustls: the TLS stack the
//! MongoDB driver already brings into the build (no second one).
//!
//! Modes, as MySQL's clients and Debezium define them:
//! - `disabled`: plain TCP.
//! - `preferred` (default): TLS when the server offers it, else plain; the
//!   certificate is not checked (encryption, not authentication).
//! - `required`: TLS or fail; the certificate is not checked.
//! - `verify_ca`: TLS, the certificate chain must lead to a trusted CA
//!   (database.ssl.ca, a PEM file; default: the Mozilla roots); the host
//!   name is not checked.
//! - `verify_identity`: as verify_ca, and the certificate must name
//!   database.hostname (DNS name or IP address).
//!
//! The switch happens inside the handshake (Protocol::SSLRequest): the
//! server's greeting comes in clear, the client answers with its
//! capabilities and CLIENT_SSL, then TLS starts and the authentication
//! goes through it.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

/// database.ssl.mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    Disabled,
    #[default]
    Preferred,
    Required,
    VerifyCa,
    VerifyIdentity,
}

impl SslMode {
    pub fn parse(v: &str) -> Option<SslMode> {
        Some(match v.trim().to_ascii_lowercase().as_str() {
            "disabled" | "disable" => SslMode::Disabled,
            "preferred" | "prefer" => SslMode::Preferred,
            "required" | "require" => SslMode::Required,
            "verify_ca" => SslMode::VerifyCa,
            "verify_identity" => SslMode::VerifyIdentity,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            SslMode::Disabled => "disabled",
            SslMode::Preferred => "preferred",
            SslMode::Required => "required",
            SslMode::VerifyCa => "verify_ca",
            SslMode::VerifyIdentity => "verify_identity",
        }
    }

    /// Whether a server without TLS is refused.
    pub fn requires_tls(self) -> bool {
        matches!(
            self,
            SslMode::Required | SslMode::VerifyCa | SslMode::VerifyIdentity
        )
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    pub mode: SslMode,
    /// PEM file of the CA certificates to trust (verify_ca, verify_identity).
    pub ca_file: Option<String>,
}

/// Checks what the mode asks for and no more.
#[derive(Debug)]
struct Verifier {
    /// `None`: accept any certificate (preferred, required).
    chain: Option<Arc<WebPkiServerVerifier>>,
    check_name: bool,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            r => r,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The rustls client configuration for `opts`; errors name the key to fix.
pub fn client_config(opts: &TlsOptions) -> Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = match opts.mode {
        SslMode::VerifyCa | SslMode::VerifyIdentity => {
            let mut roots = RootCertStore::empty();
            match &opts.ca_file {
                Some(path) => {
                    let certs = CertificateDer::pem_file_iter(path)
                        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                        .map_err(|e| {
                            format!(
                                "database.ssl.ca: cannot read PEM certificates from {path}: {e}"
                            )
                        })?;
                    let (added, _) = roots.add_parsable_certificates(certs);
                    if added == 0 {
                        return Err(format!(
                            "database.ssl.ca: {path} holds no usable CA certificate"
                        ));
                    }
                }
                None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            }
            Some(
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| format!("database.ssl.ca: {e}"))?,
            )
        }
        _ => None,
    };
    let verifier = Verifier {
        chain,
        check_name: opts.mode == SslMode::VerifyIdentity,
        provider: provider.clone(),
    };
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_say_when_tls_is_required() {
        assert_eq!(
            SslMode::parse("VERIFY_IDENTITY"),
            Some(SslMode::VerifyIdentity)
        );
        assert_eq!(SslMode::parse("preferred"), Some(SslMode::Preferred));
        assert!(SslMode::parse("sometimes").is_none());
        assert!(SslMode::Required.requires_tls() && !SslMode::Preferred.requires_tls());
    }

    #[test]
    fn a_missing_ca_file_names_the_key() {
        let e = client_config(&TlsOptions {
            mode: SslMode::VerifyCa,
            ca_file: Some("/nonexistent/ca.pem".into()),
        })
        .unwrap_err();
        assert!(e.contains("database.ssl.ca"), "{e}");
        assert!(client_config(&TlsOptions::default()).is_ok());
    }
}
