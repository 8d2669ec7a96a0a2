//! RFC 8058 one-click unsubscribe headers and stable Message-IDs.
//!
//! Every recovery email carries `List-Unsubscribe: <URL>` and
//! `List-Unsubscribe-Post: List-Unsubscribe=One-Click`: mail clients show
//! an unsubscribe button and POST `List-Unsubscribe=One-Click` to the URL,
//! without cookies. (RFC 8058 also asks senders to DKIM-sign both headers;
//! that belongs to the relay the collector hands mail to.)

/// The exact `List-Unsubscribe-Post` value RFC 8058 prescribes.
pub const LIST_UNSUBSCRIBE_POST: &str = "List-Unsubscribe=One-Click";

/// Why a header could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// RFC 8058 requires an HTTPS URI (plain HTTP is accepted for local
    /// development and tests only, see [`list_unsubscribe`]).
    #[error("unsubscribe URL must be an absolute http(s) URL")]
    NotHttp,
    /// Characters that would break out of the `<…>` or the header line.
    #[error("unsubscribe URL contains characters not allowed in a header")]
    BadCharacters,
}

/// The `List-Unsubscribe` value for `url`: `<url>`.
///
/// Accepts `https://` and (for local set-ups and tests) `http://` URLs made
/// of visible ASCII without `<`, `>` or `,`.
pub fn list_unsubscribe(url: &str) -> Result<String, HeaderError> {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(HeaderError::NotHttp);
    }
    if !url
        .bytes()
        .all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b','))
    {
        return Err(HeaderError::BadCharacters);
    }
    Ok(format!("<{url}>"))
}

/// A Message-ID that is the same for every attempt of one outbox row, so a
/// resend after an uncertain SMTP reply is recognisable as the same message.
/// `from_address` supplies the domain (`shop@example.com` → `example.com`).
pub fn message_id(site_id: i64, outbox_id: i64, from_address: &str) -> String {
    let domain = from_address
        .rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('>'))
        .filter(|d| {
            !d.is_empty()
                && d.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        })
        .unwrap_or("steadycart.invalid");
    format!("<recovery.{site_id}.{outbox_id}@{domain}>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_unsubscribe_wraps_the_url() {
        assert_eq!(
            list_unsubscribe("https://c.example/v1/unsubscribe/u.1.2.0.ab").unwrap(),
            "<https://c.example/v1/unsubscribe/u.1.2.0.ab>"
        );
        assert_eq!(LIST_UNSUBSCRIBE_POST, "List-Unsubscribe=One-Click");
    }

    #[test]
    fn list_unsubscribe_refuses_header_injection() {
        assert_eq!(list_unsubscribe("mailto:x@y"), Err(HeaderError::NotHttp));
        assert_eq!(
            list_unsubscribe("javascript:alert(1)"),
            Err(HeaderError::NotHttp)
        );
        for bad in [
            "https://a/\r\nBcc: x@y",
            "https://a/>,<https://evil",
            "https://a/ b",
        ] {
            assert_eq!(
                list_unsubscribe(bad),
                Err(HeaderError::BadCharacters),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn message_id_is_stable_per_outbox_row() {
        let a = message_id(3, 99, "Shop <news@shop.example>");
        assert_eq!(a, "<recovery.3.99@shop.example>");
        assert_eq!(a, message_id(3, 99, "Shop <news@shop.example>"));
        assert_ne!(a, message_id(3, 100, "Shop <news@shop.example>"));
        assert_eq!(
            message_id(1, 1, "nonsense"),
            "<recovery.1.1@steadycart.invalid>"
        );
        assert_eq!(
            message_id(1, 1, "a@b c"),
            "<recovery.1.1@steadycart.invalid>"
        );
    }
}
