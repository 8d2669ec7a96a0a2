//! Signed, expiring tokens for recovery and unsubscribe links.
//!
//! A token is `PURPOSE.SITE.CONTACT.EXPIRES.SIG`: the purpose letter (`r`
//! recover, `u` unsubscribe), the site and contact ids, the expiry in Unix
//! milliseconds (`0` = never, used for unsubscribe links, which must keep
//! working for as long as the email exists) and a hex HMAC-SHA256 over all
//! of it. Only ASCII letters, digits and dots, so it sits in a URL path or
//! query without escaping. Verification is constant-time.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Domain separation: a signature made for something else never verifies.
const CONTEXT: &[u8] = b"steadycart-recovery-token-v1";

/// What a token may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Opens the shopper's cart again (the recovery link).
    Recover,
    /// Unsubscribes the contact's address from the site's emails.
    Unsubscribe,
}

impl Purpose {
    fn tag(self) -> &'static str {
        match self {
            Purpose::Recover => "r",
            Purpose::Unsubscribe => "u",
        }
    }
}

/// What a valid token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claims {
    /// What the token is for.
    pub purpose: Purpose,
    /// The site the contact belongs to.
    pub site_id: i64,
    /// The recovery contact.
    pub contact_id: i64,
    /// Expiry in Unix milliseconds; `None` never expires.
    pub expires_ms: Option<i64>,
}

/// Why a token was refused. Deliberately coarse: callers answer all of them
/// with the same "link invalid or expired" page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not of the token shape.
    #[error("malformed token")]
    Malformed,
    /// Made for another purpose (a recovery token used to unsubscribe).
    #[error("token made for another purpose")]
    WrongPurpose,
    /// The signature does not match (forged, altered or another secret).
    #[error("bad token signature")]
    BadSignature,
    /// Past its expiry.
    #[error("token expired")]
    Expired,
}

/// Signs and verifies tokens with the configured secret.
#[derive(Clone)]
pub struct TokenSigner {
    secret: Vec<u8>,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigner")
            .field("secret", &"[redacted]")
            .finish()
    }
}

impl TokenSigner {
    /// A signer for `secret` (any length; 32 random bytes recommended).
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        Self {
            secret: secret.into(),
        }
    }

    fn mac(&self, body: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(CONTEXT);
        mac.update(b"|");
        mac.update(body.as_bytes());
        mac
    }

    /// The token for `claims`.
    pub fn sign(&self, claims: &Claims) -> String {
        let body = format!(
            "{}.{}.{}.{}",
            claims.purpose.tag(),
            claims.site_id,
            claims.contact_id,
            claims.expires_ms.unwrap_or(0)
        );
        let sig = hex::encode(self.mac(&body).finalize().into_bytes());
        format!("{body}.{sig}")
    }

    /// Check `token` for `purpose` at time `now_ms` and return its claims.
    pub fn verify(&self, token: &str, purpose: Purpose, now_ms: i64) -> Result<Claims, TokenError> {
        let (body, sig) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
        let sig = hex::decode(sig).map_err(|_| TokenError::Malformed)?;
        let parts: Vec<&str> = body.split('.').collect();
        let [tag, site, contact, expires] = parts.as_slice() else {
            return Err(TokenError::Malformed);
        };
        let parse = |s: &str| -> Result<i64, TokenError> {
            // Canonical decimal only, so one claim set has one token.
            if s.is_empty()
                || !s.bytes().all(|b| b.is_ascii_digit())
                || (s.len() > 1 && s.starts_with('0'))
            {
                return Err(TokenError::Malformed);
            }
            s.parse().map_err(|_| TokenError::Malformed)
        };
        let token_purpose = match *tag {
            "r" => Purpose::Recover,
            "u" => Purpose::Unsubscribe,
            _ => return Err(TokenError::Malformed),
        };
        let (site_id, contact_id, expires) = (parse(site)?, parse(contact)?, parse(expires)?);
        // The signature first: nothing about an unsigned token is trusted.
        self.mac(body)
            .verify_slice(&sig)
            .map_err(|_| TokenError::BadSignature)?;
        if token_purpose != purpose {
            return Err(TokenError::WrongPurpose);
        }
        let expires_ms = (expires != 0).then_some(expires);
        if expires_ms.is_some_and(|e| now_ms >= e) {
            return Err(TokenError::Expired);
        }
        Ok(Claims {
            purpose,
            site_id,
            contact_id,
            expires_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(purpose: Purpose, expires_ms: Option<i64>) -> Claims {
        Claims {
            purpose,
            site_id: 7,
            contact_id: 42,
            expires_ms,
        }
    }

    #[test]
    fn round_trips_and_expires() {
        let signer = TokenSigner::new(b"secret one".to_vec());
        let c = claims(Purpose::Recover, Some(10_000));
        let token = signer.sign(&c);
        assert!(token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.'));
        assert_eq!(signer.verify(&token, Purpose::Recover, 9_999), Ok(c));
        assert_eq!(
            signer.verify(&token, Purpose::Recover, 10_000),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn never_expiring_unsubscribe_token() {
        let signer = TokenSigner::new(b"k".to_vec());
        let c = claims(Purpose::Unsubscribe, None);
        let token = signer.sign(&c);
        assert_eq!(signer.verify(&token, Purpose::Unsubscribe, i64::MAX), Ok(c));
    }

    #[test]
    fn refuses_other_secret_purpose_and_tampering() {
        let signer = TokenSigner::new(b"secret one".to_vec());
        let token = signer.sign(&claims(Purpose::Recover, Some(10_000)));
        let other = TokenSigner::new(b"secret two".to_vec());
        assert_eq!(
            other.verify(&token, Purpose::Recover, 0),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            signer.verify(&token, Purpose::Unsubscribe, 0),
            Err(TokenError::WrongPurpose)
        );
        // Another contact id with the old signature.
        let forged = token.replacen(".42.", ".43.", 1);
        assert_eq!(
            signer.verify(&forged, Purpose::Recover, 0),
            Err(TokenError::BadSignature)
        );
        // Moving the expiry needs a new signature too.
        let extended = token.replacen(".10000.", ".99999.", 1);
        assert_eq!(
            signer.verify(&extended, Purpose::Recover, 0),
            Err(TokenError::BadSignature)
        );
        // A recovery token cannot be relabelled as an unsubscribe one.
        let relabelled = format!("u{}", &token[1..]);
        assert_eq!(
            signer.verify(&relabelled, Purpose::Unsubscribe, 0),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let signer = TokenSigner::new(b"k".to_vec());
        for bad in [
            "",
            "r",
            "r.1.2.3",
            "r.1.2.3.zz",
            "x.1.2.3.00",
            "r.-1.2.3.00",
            "r.01.2.3.00",
            "r.1.2.3.4.00",
        ] {
            assert_eq!(
                signer.verify(bad, Purpose::Recover, 0),
                Err(TokenError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn debug_redacts_the_secret() {
        let shown = format!("{:?}", TokenSigner::new(b"hunter2".to_vec()));
        assert!(!shown.contains("hunter2") && shown.contains("redacted"));
    }
}
