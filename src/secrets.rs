//! Bearer tokens and API keys: generated with 256 bits of randomness, shown once, stored only
//! as a SHA-256 hash, compared in constant time.

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub const MERCHANT_KEY_PREFIX: &str = "mik_";
pub const STAFF_TOKEN_PREFIX: &str = "mis_";
pub const CREATOR_KEY_PREFIX: &str = "mic_";
/// Dashboard session cookies and the CSRF tokens of their forms.
pub const SESSION_PREFIX: &str = "mid_";
pub const CSRF_PREFIX: &str = "mif_";
/// How many characters of a secret are kept in clear, so people can tell keys apart.
const VISIBLE: usize = 12;

/// A freshly generated secret: the full value (shown once) and what is stored.
pub struct NewSecret {
    pub value: String,
    pub prefix: String,
    pub hash: String,
}

pub fn generate(kind_prefix: &str) -> NewSecret {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let value = format!("{kind_prefix}{}", hex::encode(bytes));
    NewSecret {
        prefix: value[..VISIBLE].to_string(),
        hash: hash(&value),
        value,
    }
}

pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Constant-time comparison of two hex digests.
pub fn hashes_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_prefixed_and_hashed() {
        let a = generate(MERCHANT_KEY_PREFIX);
        let b = generate(MERCHANT_KEY_PREFIX);
        assert_ne!(a.value, b.value);
        assert!(a.value.starts_with("mik_"));
        assert_eq!(a.value.len(), 4 + 64, "256 bits of randomness, hex-encoded");
        assert!(a.value.starts_with(&a.prefix));
        assert_eq!(a.hash, hash(&a.value));
        assert!(!a.hash.contains(&a.value[4..]));
        assert!(hashes_equal(&a.hash, &hash(&a.value)));
        assert!(!hashes_equal(&a.hash, &b.hash));
    }
}
