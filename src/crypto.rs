//! Client details at rest: AES-256-GCM with a key id stored beside each ciphertext, so keys
//! rotate (the first configured key encrypts, every configured key decrypts); and HMAC-SHA256
//! for values that must be found without being stored (claim codes) or signed (webhooks).
//!
//! Without `HAVEN_ENCRYPTION_KEYS`, a random key is made once and kept in a file beside the
//! database (`HAVEN_DEMO_KEY_FILE`). That keeps `cargo run` working and details readable across
//! restarts, but the key sits on the same disk (and in the same backups) as the data it
//! protects, so it is only fit for a demo: a warning says so at start.

use std::collections::HashMap;
use std::io::Write;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use anyhow::{anyhow, Context};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::Config;

/// A sealed value: the key id and `base64(nonce || ciphertext || tag)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    pub data: String,
}

#[derive(Clone)]
pub struct Keyring {
    current: String,
    keys: HashMap<String, [u8; 32]>,
}

impl Keyring {
    pub fn new(keys: Vec<(String, [u8; 32])>) -> anyhow::Result<Keyring> {
        let current = keys.first().ok_or_else(|| anyhow!("no key"))?.0.clone();
        Ok(Keyring {
            current,
            keys: keys.into_iter().collect(),
        })
    }

    /// The configured keys, or the demo key file (made on first use).
    pub fn from_config(config: &Config) -> anyhow::Result<Keyring> {
        match &config.encryption_keys {
            Some(keys) => Keyring::new(keys.clone()),
            None => {
                let key = demo_key(&config.demo_key_file)
                    .with_context(|| format!("the demo key file {}", config.demo_key_file))?;
                tracing::warn!(
                    file = %config.demo_key_file,
                    "HAVEN_ENCRYPTION_KEYS is not set: client details are encrypted with a demo \
                     key kept beside the data, which is fit for a demo only"
                );
                Keyring::new(vec![("demo".to_string(), key)])
            }
        }
    }

    pub fn seal(&self, plain: &[u8]) -> Sealed {
        let key = &self.keys[&self.current];
        let cipher = Aes256Gcm::new(key.into());
        let nonce_bytes: [u8; 12] = rand::random();
        let nonce = Nonce::from_slice(&nonce_bytes);
        let ct = cipher
            .encrypt(nonce, plain)
            .expect("AES-GCM encryption does not fail for in-memory buffers");
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&ct);
        Sealed {
            key_id: self.current.clone(),
            data: STANDARD.encode(out),
        }
    }

    pub fn open(&self, sealed: &Sealed) -> anyhow::Result<Vec<u8>> {
        let key = self
            .keys
            .get(&sealed.key_id)
            .ok_or_else(|| anyhow!("no configured key has id {:?}", sealed.key_id))?;
        let raw = STANDARD.decode(&sealed.data).context("sealed data")?;
        if raw.len() < 12 {
            return Err(anyhow!("sealed data is too short"));
        }
        let (nonce, ct) = raw.split_at(12);
        Aes256Gcm::new(key.into())
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| anyhow!("sealed data does not authenticate"))
    }

    /// A keyed digest for finding a secret value by itself (a claim code) without storing it:
    /// keyed with the current encryption key, so a copy of the database alone cannot test
    /// guesses.
    pub fn lookup_digest(&self, value: &str) -> String {
        hex(&hmac_sha256(&self.keys[&self.current], value.as_bytes()))
    }
}

impl Keyring {
    /// [`Keyring::lookup_digest`] under every configured key, current first, so values stored
    /// before a rotation are still found.
    pub fn lookup_digests(&self, value: &str) -> Vec<String> {
        let mut out = vec![self.lookup_digest(value)];
        for (kid, key) in &self.keys {
            if *kid != self.current {
                out.push(hex(&hmac_sha256(key, value.as_bytes())));
            }
        }
        out
    }
}

/// HMAC-SHA256.
/// Whether two secrets are equal, in time that does not depend on where they differ.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

pub fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads the demo key, or makes one readable by this user only.
fn demo_key(path: &str) -> anyhow::Result<[u8; 32]> {
    if let Ok(text) = std::fs::read_to_string(path) {
        return STANDARD
            .decode(text.trim())
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| anyhow!("does not hold a base64 32-byte key"));
    }
    let key: [u8; 32] = rand::random();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(STANDARD.encode(key).as_bytes())?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(keys: &[(&str, u8)]) -> Keyring {
        Keyring::new(
            keys.iter()
                .map(|(k, b)| (k.to_string(), [*b; 32]))
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn sealed_values_open_with_any_configured_key_and_not_otherwise() {
        let old = ring(&[("k1", 1)]);
        let sealed = old.seal(b"client details");
        assert_eq!(sealed.key_id, "k1");
        assert!(!sealed.data.contains("client"));
        // Rotated: new key first, old still configured.
        let rotated = ring(&[("k2", 2), ("k1", 1)]);
        assert_eq!(rotated.open(&sealed).unwrap(), b"client details");
        assert_eq!(rotated.seal(b"x").key_id, "k2");
        // Removed, or tampered with: refused.
        assert!(ring(&[("k2", 2)]).open(&sealed).is_err());
        let mut raw = STANDARD.decode(&sealed.data).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        let tampered = Sealed {
            key_id: "k1".into(),
            data: STANDARD.encode(raw),
        };
        assert!(old.open(&tampered).is_err());
        // The same plaintext seals differently each time (fresh nonce).
        assert_ne!(old.seal(b"same").data, old.seal(b"same").data);
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn the_demo_key_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("demo.key");
        let path = path.to_str().unwrap();
        let first = demo_key(path).unwrap();
        assert_eq!(demo_key(path).unwrap(), first);
    }
}
