//! Generic webhook: a JSON body `{"version":1,"event":"incident.triggered"|
//! "incident.resolved","site":…,"incident":{…}}` signed so receivers can
//! check it came from this collector and is fresh:
//!
//! - `X-Steadycart-Timestamp: <unix seconds>`
//! - `X-Steadycart-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`
//!
//! Receivers recompute the HMAC over the timestamp, a dot and the raw body,
//! compare in constant time and reject timestamps older than a few minutes.

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use super::{Action, Delivery, Notice};

/// `v1=<hex>` signature of `body` at `timestamp` (unix seconds).
pub fn sign(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The request for `notice`.
pub fn build(url: &str, secret: &str, n: &Notice<'_>) -> Delivery {
    let event = match n.action {
        Action::Trigger => "incident.triggered",
        Action::Resolve => "incident.resolved",
    };
    let body = json!({
        "version": 1,
        "event": event,
        "site": n.site_key,
        "dedup_key": n.dedup_key(),
        "view_url": n.view_url,
        "incident": n.incident,
    })
    .to_string();
    let ts = n.now.div_euclid(1000);
    Delivery {
        url: url.to_string(),
        headers: vec![
            ("X-Steadycart-Timestamp".into(), ts.to_string()),
            ("X-Steadycart-Signature".into(), sign(secret, ts, &body)),
        ],
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_over_timestamp_dot_body() {
        // The well-known HMAC-SHA256 vector (key "key", the quick brown fox).
        let mut mac = Hmac::<Sha256>::new_from_slice(b"key").unwrap();
        mac.update(b"The quick brown fox jumps over the lazy dog");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
        // The same MAC over "<ts>.<body>".
        let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret-s3cret-s3").unwrap();
        mac.update(b"1700000000.{}");
        let expected = format!("v1={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(sign("s3cret-s3cret-s3", 1_700_000_000, "{}"), expected);
        let a = sign("s3cret-s3cret-s3", 1_700_000_000, "{}");
        assert!(a.starts_with("v1=") && a.len() == 67);
        assert_ne!(
            a,
            sign("s3cret-s3cret-s3", 1_700_000_001, "{}"),
            "timestamp is signed"
        );
        assert_ne!(
            a,
            sign("s3cret-s3cret-s3", 1_700_000_000, "{ }"),
            "body is signed"
        );
    }
}
