//! PKCS#12 key and trust stores (`ssl.keystore.type=PKCS12`,
//! `ssl.truststore.type=PKCS12`, Java's default store type since JDK 9),
//! read with the system OpenSSL that librdkafka links anyway: the private
//! key (PKCS#8 DER) and the certificates (DER), leaf first.
//!
//! JKS, Java's older proprietary format, has no reader outside Java; the
//! callers' errors give the `keytool` command that converts it.

use std::path::Path;

/// What a PKCS#12 file holds.
pub struct Store {
    /// PKCS#8 DER of the private key, if the store has one.
    pub key: Option<Vec<u8>>,
    /// DER certificates: the key's own first, then the others (CAs).
    pub certs: Vec<Vec<u8>>,
}

/// Whether `bytes` look like a PKCS#12 file (a DER SEQUENCE that OpenSSL
/// parses as one), as opposed to PEM or JKS (which starts FE ED FE ED).
pub fn looks_like(bytes: &[u8]) -> bool {
    bytes.first() == Some(&0x30) && openssl::pkcs12::Pkcs12::from_der(bytes).is_ok()
}

/// Reads a PKCS#12 file with its password (`what` names the setting in
/// errors; the password never appears in them).
pub fn read(path: &Path, password: &str, what: &str) -> Result<Store, String> {
    let bytes =
        std::fs::read(path).map_err(|e| format!("cannot read {what}={}: {e}", path.display()))?;
    let p12 = openssl::pkcs12::Pkcs12::from_der(&bytes)
        .map_err(|_| format!("{what}={} is not a PKCS#12 file", path.display()))?;
    let parsed = p12.parse2(password).map_err(|_| {
        format!(
            "{what}={}: the PKCS#12 store does not open with its password (check the store's .password setting)",
            path.display()
        )
    })?;
    let key = match parsed.pkey {
        Some(k) => Some(
            k.private_key_to_pkcs8()
                .map_err(|e| format!("{what}: the private key cannot be read: {e}"))?,
        ),
        None => None,
    };
    let mut certs = Vec::new();
    if let Some(c) = parsed.cert {
        certs.push(c.to_der().map_err(|e| format!("{what}: {e}"))?);
    }
    for c in parsed.ca.into_iter().flatten() {
        certs.push(c.to_der().map_err(|e| format!("{what}: {e}"))?);
    }
    Ok(Store { key, certs })
}

/// DER certificates as PEM text.
pub fn to_pem(certs: &[Vec<u8>]) -> String {
    use base64::Engine;
    let mut out = String::new();
    for der in certs {
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out
}
