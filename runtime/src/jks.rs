//! JKS key and trust stores (`ssl.keystore.type=JKS`, Java's default store
//! type before JDK 9, still what many Kafka Connect deployments hold),
//! read into the same [`Store`] as a PKCS#12 file.
//!
//! The format is Java's `JavaKeyStore`: a big-endian header (magic
//! `FEEDFEED`, version 1 or 2, entry count), then per entry a tag (1: a
//! private key with its certificate chain, 2: a trusted certificate), an
//! alias and a time; then a SHA-1 over the password, the words "Mighty
//! Aphrodite" and everything before it, which proves the store password.
//! A private key is an `EncryptedPrivateKeyInfo` whose algorithm is Sun's
//! key protector (OID 1.3.6.1.4.1.42.2.17.1.1): 20 bytes of salt, the key
//! XORed with a stream of chained SHA-1s of the password and the salt, and
//! a SHA-1 of the password and the plain key that proves the key password.
//! Passwords enter both digests as UTF-16BE. SHA-1 comes from the system
//! OpenSSL, which librdkafka links anyway.

use std::path::Path;

use crate::pkcs12::Store;

const MAGIC: [u8; 4] = [0xfe, 0xed, 0xfe, 0xed];
/// DER of the OID 1.3.6.1.4.1.42.2.17.1.1 (Sun's JKS key protector).
const KEY_PROTECTOR_OID: [u8; 10] = [0x2b, 0x06, 0x01, 0x04, 0x01, 0x2a, 0x02, 0x11, 0x01, 0x01];

/// Whether `bytes` start like a JKS file.
pub fn looks_like(bytes: &[u8]) -> bool {
    bytes.starts_with(&MAGIC)
}

/// Reads a JKS file: its first private key (opened with `key_password`,
/// Java's default being the store password) with that key's chain, and
/// every trusted certificate. `what` names the setting in errors; no
/// password ever appears in them.
pub fn read(
    path: &Path,
    store_password: &str,
    key_password: &str,
    what: &str,
) -> Result<Store, String> {
    let bytes =
        std::fs::read(path).map_err(|e| format!("cannot read {what}={}: {e}", path.display()))?;
    parse(&bytes, store_password, key_password)
        .map_err(|e| format!("{what}={}: {e}", path.display()))
}

fn utf16be(password: &str) -> Vec<u8> {
    password
        .encode_utf16()
        .flat_map(|c| c.to_be_bytes())
        .collect()
}

fn sha1(parts: &[&[u8]]) -> [u8; 20] {
    let mut h = openssl::sha::Sha1::new();
    for p in parts {
        h.update(p);
    }
    h.finish()
}

/// A big-endian reader over the store's bytes; running out is an error.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err("the JKS store is cut short (not a whole store)".into());
        };
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_be_bytes(
            self.take(2)?.try_into().expect("2 bytes"),
        ))
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_be_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn utf(&mut self) -> Result<String, String> {
        let n = self.u16()? as usize;
        Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
    }
    /// A certificate: its type name (version 2), then its DER.
    fn cert(&mut self, version: u32) -> Result<Vec<u8>, String> {
        if version == 2 {
            let kind = self.utf()?;
            if kind != "X.509" {
                return Err(format!(
                    "the JKS store holds a {kind} certificate; only X.509 is read"
                ));
            }
        }
        let n = self.u32()? as usize;
        Ok(self.take(n)?.to_vec())
    }
}

fn parse(bytes: &[u8], store_password: &str, key_password: &str) -> Result<Store, String> {
    if !looks_like(bytes) || bytes.len() < 20 {
        return Err("not a JKS store".into());
    }
    // The store password first: a wrong one must not read as a bad key.
    let (body, digest) = bytes.split_at(bytes.len() - 20);
    let pw = utf16be(store_password);
    if sha1(&[&pw, b"Mighty Aphrodite", body]) != digest {
        return Err("the JKS store does not open with its password (check the store's .password setting), or the file is damaged".into());
    }
    let mut c = Cursor { bytes: body, at: 4 };
    let version = c.u32()?;
    if version != 1 && version != 2 {
        return Err(format!("JKS version {version} is not read (1 and 2 are)"));
    }
    let count = c.u32()?;
    let mut store = Store {
        key: None,
        certs: Vec::new(),
    };
    let mut trusted = Vec::new();
    for _ in 0..count {
        let tag = c.u32()?;
        let _alias = c.utf()?;
        c.take(8)?; // creation time
        match tag {
            1 => {
                let n = c.u32()? as usize;
                let protected = c.take(n)?;
                let chain = c.u32()?;
                let mut certs = Vec::new();
                for _ in 0..chain {
                    certs.push(c.cert(version)?);
                }
                if store.key.is_none() {
                    store.key = Some(unprotect(protected, key_password)?);
                    store.certs = certs;
                }
            }
            2 => trusted.push(c.cert(version)?),
            other => return Err(format!("the JKS store has an entry of kind {other}, which is not read (secret keys are JCEKS's)")),
        }
    }
    store.certs.extend(trusted);
    Ok(store)
}

/// The PKCS#8 DER of a key under Sun's key protector.
fn unprotect(info: &[u8], password: &str) -> Result<Vec<u8>, String> {
    let data = encrypted_data(info)?;
    if data.len() < 40 {
        return Err("the JKS store's private key is too short to be one".into());
    }
    let (salt, rest) = data.split_at(20);
    let (enc, check) = rest.split_at(rest.len() - 20);
    let pw = utf16be(password);
    let mut plain = Vec::with_capacity(enc.len());
    let mut digest: [u8; 20] = salt.try_into().expect("20 bytes");
    for chunk in enc.chunks(20) {
        digest = sha1(&[&pw, &digest]);
        plain.extend(chunk.iter().zip(digest.iter()).map(|(a, b)| a ^ b));
    }
    if sha1(&[&pw, &plain]) != check {
        return Err("the JKS store's private key does not open with its password (ssl.key.password, or the store's password when that is not set)".into());
    }
    Ok(plain)
}

/// The encrypted data of an `EncryptedPrivateKeyInfo`
/// (SEQUENCE { SEQUENCE { OID, NULL }, OCTET STRING }), checking that
/// its algorithm is the key protector.
fn encrypted_data(der: &[u8]) -> Result<&[u8], String> {
    let bad = || "the JKS store's private key entry is not an EncryptedPrivateKeyInfo".to_string();
    let (tag, outer, _) = tlv(der).ok_or_else(bad)?;
    if tag != 0x30 {
        return Err(bad());
    }
    let (tag, alg, rest) = tlv(outer).ok_or_else(bad)?;
    if tag != 0x30 {
        return Err(bad());
    }
    let (tag, oid, _) = tlv(alg).ok_or_else(bad)?;
    if tag != 0x06 || oid != KEY_PROTECTOR_OID {
        return Err("the JKS store's private key is protected by an algorithm other than JKS's own (a JCEKS store?); convert the store to PKCS12 with keytool -importkeystore".into());
    }
    let (tag, data, _) = tlv(rest).ok_or_else(bad)?;
    if tag != 0x04 {
        return Err(bad());
    }
    Ok(data)
}

/// One DER tag-length-value: (tag, value, what follows).
fn tlv(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *der.first()?;
    let first = *der.get(1)? as usize;
    let (len, head) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let len = der
            .get(2..2 + n)?
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (len, 2 + n)
    };
    let value = der.get(head..head.checked_add(len)?)?;
    Some((tag, value, &der[head + len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_wrong_password_and_a_cut_store_without_panicking() {
        let mut bytes = MAGIC.to_vec();
        bytes.extend([0, 0, 0, 2, 0, 0, 0, 0]);
        let digest = sha1(&[&utf16be("right"), b"Mighty Aphrodite", &bytes]);
        bytes.extend(digest);
        let Ok(empty) = parse(&bytes, "right", "right") else {
            panic!("the right password did not open the store");
        };
        assert!(empty.key.is_none() && empty.certs.is_empty());
        let Err(e) = parse(&bytes, "wrong", "wrong") else {
            panic!("a wrong password opened the store");
        };
        assert!(e.contains("password") && !e.contains("wrong"), "{e}");
        // An entry count with no entries behind it (digest made to match).
        let mut cut = MAGIC.to_vec();
        cut.extend([0, 0, 0, 2, 0, 0, 0, 3]);
        let digest = sha1(&[&utf16be("pw"), b"Mighty Aphrodite", &cut]);
        cut.extend(digest);
        let Err(e) = parse(&cut, "pw", "pw") else {
            panic!("a cut store read");
        };
        assert!(e.contains("cut short"), "{e}");
        assert!(tlv(&[0x30, 0x85, 1, 1, 1, 1, 1]).is_none());
    }
}
