//! Site keys (public), admin tokens (secret) and token hashing.
//!
//! Admin tokens are stored only as SHA-256 hex digests; a token is checked by
//! hashing it and comparing digests in constant time.

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// A new public site key: `pk_` and 24 hex characters.
pub fn new_site_key() -> String {
    format!("pk_{}", random_hex(12))
}

/// A new secret admin token: `sct_` and 64 hex characters (256 bits).
pub fn new_admin_token() -> String {
    format!("sct_{}", random_hex(32))
}

/// The stored form of an admin token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether `token` hashes to `stored_hash`, compared in constant time. A
/// revoked token's empty hash matches nothing.
pub fn token_matches(token: &str, stored_hash: &str) -> bool {
    if stored_hash.is_empty() {
        return false;
    }
    hash_token(token)
        .as_bytes()
        .ct_eq(stored_hash.as_bytes())
        .into()
}

/// Whether `key` looks like a site key (so junk never reaches the database).
pub fn is_plausible_site_key(key: &str) -> bool {
    key.len() <= 64
        && key.len() >= 8
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_hash_checks() {
        let a = new_admin_token();
        let b = new_admin_token();
        assert_ne!(a, b);
        let h = hash_token(&a);
        assert!(token_matches(&a, &h));
        assert!(!token_matches(&b, &h));
        assert!(!h.contains(&a[4..]), "hash must not contain the token");
        assert!(
            !token_matches(&a, ""),
            "a revoked (empty) hash matches nothing"
        );
        assert!(!token_matches("", ""));
    }

    #[test]
    fn site_keys_are_plausible() {
        assert!(is_plausible_site_key(&new_site_key()));
        assert!(!is_plausible_site_key("x'; DROP TABLE sites;--"));
        assert!(!is_plausible_site_key(""));
    }
}
