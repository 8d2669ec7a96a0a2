//! The recovery mailer's SMTP transport, built from the `[recovery]`
//! settings, and how an SMTP failure is classified.
//!
//! - The URL picks the security: `smtp://host:25` plain,
//!   `smtp://host:587?tls=required` STARTTLS (nothing — credentials nor
//!   message — is sent before the upgrade; a server without STARTTLS is
//!   refused), `smtps://host:465` TLS from the first byte. Credentials come
//!   from the URL or `smtp_username`/`smtp_password`.
//! - `smtp_ca_file` (PEM) adds root certificates to the built-in ones for
//!   the TLS connection: a shop's private CA, or a relay's self-signed
//!   certificate. The certificate is still verified, host name included;
//!   there is deliberately no switch that skips verification.
//! - [`classify`]: what a failed send means. Only a refusal of the
//!   recipient's address (550/551/553, or an `X.1.x` addressing status) is
//!   a bounce. Refused credentials (530, 534, 535, 538), a TLS failure, a
//!   server without the required STARTTLS and policy refusals of the
//!   sender (`X.7.x`, `X.1.7`/`X.1.8`, relaying denied) are the shop's SMTP
//!   configuration ([`Failure::Config`]): the mailer holds such emails
//!   until the operator fixes it, and never marks a contact bounced.

use std::path::Path;

use lettre::{
    transport::smtp::{
        authentication::Credentials,
        client::{Certificate, Tls, TlsParameters},
        Error as SmtpError,
    },
    AsyncSmtpTransport, Tokio1Executor,
};

use super::{config::RecoveryConfig, mailer::scrub};

/// Why the SMTP transport could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The SMTP URL is not usable.
    #[error("invalid SMTP URL: {0}")]
    Url(String),
    /// The CA file could not be read, holds no certificate, or does not
    /// apply (the URL uses no TLS).
    #[error("smtp_ca_file {path}: {message}")]
    CaFile {
        /// The configured path.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// How the URL asks for TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// `smtp://` without `tls=`: plain text.
    Plain,
    /// `smtp://…?tls=opportunistic`: STARTTLS when offered.
    Opportunistic,
    /// `smtp://…?tls=required`: STARTTLS or nothing.
    Required,
    /// `smtps://`: TLS from the first byte.
    Wrapper,
}

/// The security and TLS host name (the URL's host) of `url`.
pub fn security(url: &str) -> Result<(Security, String), TransportError> {
    let u = url::Url::parse(url).map_err(|e| TransportError::Url(e.to_string()))?;
    let host = u
        .host_str()
        .ok_or_else(|| TransportError::Url("no host".into()))?
        .to_string();
    let tls = u
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.into_owned());
    let s = match (u.scheme(), tls.as_deref()) {
        ("smtps", _) => Security::Wrapper,
        ("smtp", None) => Security::Plain,
        ("smtp", Some("required")) => Security::Required,
        ("smtp", Some("opportunistic")) => Security::Opportunistic,
        (scheme, tls) => {
            return Err(TransportError::Url(format!(
            "scheme {scheme:?} with tls={tls:?} (use smtp://, smtp://…?tls=required or smtps://)"
        )))
        }
    };
    Ok((s, host))
}

/// TLS parameters for `host` trusting the built-in roots plus every
/// certificate in the PEM file at `ca_file`.
fn tls_parameters(host: &str, ca_file: &str) -> Result<TlsParameters, TransportError> {
    let err = |message: String| TransportError::CaFile {
        path: ca_file.to_string(),
        message,
    };
    let pem = std::fs::read(Path::new(ca_file)).map_err(|e| err(e.to_string()))?;
    if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
        return Err(err("no PEM certificate in the file".into()));
    }
    let cert = Certificate::from_pem(&pem).map_err(|e| err(e.to_string()))?;
    TlsParameters::builder(host.to_string())
        .add_root_certificate(cert)
        .build()
        .map_err(|e| err(e.to_string()))
}

/// The SMTP transport `cfg` describes (`cfg.smtp_url` must be set).
pub fn transport(
    cfg: &RecoveryConfig,
    url: &str,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, TransportError> {
    let (security, host) = security(url)?;
    let mut b = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
        .map_err(|e| TransportError::Url(scrub(&e.to_string())))?;
    if let Some(ca_file) = cfg.smtp_ca_file.as_deref().filter(|f| !f.is_empty()) {
        let tls = match security {
            Security::Wrapper => Tls::Wrapper,
            Security::Required => Tls::Required,
            Security::Opportunistic => Tls::Opportunistic,
            Security::Plain => {
                return Err(TransportError::CaFile {
                    path: ca_file.to_string(),
                    message: "the SMTP URL uses no TLS (use smtp://…?tls=required or smtps://)"
                        .into(),
                })
            }
        };
        b = b.tls(tls(tls_parameters(&host, ca_file)?));
    }
    if let Some((user, pass)) = override_credentials(cfg, url) {
        b = b.credentials(Credentials::new(user, pass));
    }
    Ok(b.timeout(Some(cfg.smtp_timeout)).build())
}

/// The user and password when `smtp_username` or `smtp_password` is set
/// (the other one from the URL, percent-decoded as lettre decodes them);
/// `None` leaves the URL's credentials to lettre.
fn override_credentials(cfg: &RecoveryConfig, url: &str) -> Option<(String, String)> {
    if cfg.smtp_username.is_none() && cfg.smtp_password.is_none() {
        return None;
    }
    let parsed = url::Url::parse(url).ok();
    let user = cfg.smtp_username.clone().unwrap_or_else(|| {
        parsed
            .as_ref()
            .map(|u| percent_decode(u.username()))
            .unwrap_or_default()
    });
    let pass = cfg.smtp_password.clone().unwrap_or_else(|| {
        parsed
            .as_ref()
            .and_then(|u| u.password().map(percent_decode))
            .unwrap_or_default()
    });
    Some((user, pass))
}

/// `%XX` escapes of a URL's user info decoded (invalid ones kept as is).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// How the stored error of an email held by [`Failure::Config`] starts
/// (`smtp_config: …`): the outbox row stays `queued`, and this marks it
/// held for the metrics, `/readyz` and a restart.
pub const CONFIG_FAULT: &str = "smtp_config";

/// What an SMTP failure means for the email and its contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Try again later: unreachable, a 4xx reply, no answer in time.
    Temporary(String),
    /// The shop's SMTP setup is wrong (credentials, TLS, STARTTLS, the
    /// sender or relaying refused by policy): held and retried until it is
    /// fixed; never the shopper's fault.
    Config(String),
    /// The recipient's address was refused for good: the contact bounced.
    Bounce(String),
    /// Any other permanent refusal (of the message, a protocol error): this
    /// email failed, the contact is not blamed.
    Rejected(String),
}

/// Reply codes that refuse the sender's authentication (RFC 4954, RFC 3207):
/// authentication required, mechanism too weak, credentials invalid,
/// encryption required.
const AUTH_CODES: [u16; 4] = [530, 534, 535, 538];

/// Basic reply codes that refuse a recipient's mailbox when the reply has
/// no enhanced status code: unavailable, not local, name not allowed.
const RECIPIENT_CODES: [u16; 3] = [550, 551, 553];

/// The enhanced status code (RFC 3463, `class.subject.detail`) in a reply's
/// text, if any.
fn enhanced_status(text: &str) -> Option<(u16, u16, u16)> {
    text.split(|c: char| c.is_whitespace() || c == ':' || c == ',' || c == '-')
        .find_map(|w| {
            let mut parts = w.trim_matches(|c: char| !c.is_ascii_digit()).split('.');
            let class = parts.next()?.parse::<u16>().ok()?;
            let subject = parts.next()?.parse::<u16>().ok()?;
            let detail = parts.next()?.parse::<u16>().ok()?;
            (parts.next().is_none() && matches!(class, 2 | 4 | 5) && subject <= 7 && detail < 1000)
                .then_some((class, subject, detail))
        })
}

/// Classify an SMTP reply `code` with its `text` (already scrubbed).
pub fn classify_reply(code: u16, text: String) -> Failure {
    if AUTH_CODES.contains(&code) {
        return Failure::Config(format!(
            "SMTP authentication refused (check smtp_username and smtp_password): {text}"
        ));
    }
    if code < 500 {
        return Failure::Temporary(text);
    }
    // Without a telling enhanced status, a reply that names relaying or
    // authentication is about the sender's account.
    let lower = text.to_ascii_lowercase();
    let sender_refused = lower.contains("relay") || lower.contains("authenticat");
    let sender = |text: String| {
        Failure::Config(format!(
            "SMTP server refused the sender (check the site's sender and the SMTP account): {text}"
        ))
    };
    match enhanced_status(&text) {
        // Security or policy (relaying, sender authentication, SPF/DMARC),
        // or the sender's own mailbox: the shop's setup.
        Some((_, 7, _) | (_, 1, 7 | 8)) => sender(text),
        // Addressing status, or the mailbox disabled.
        Some((_, 1, _) | (_, 2, 1)) => Failure::Bounce(text),
        Some(_) | None if sender_refused => sender(text),
        Some(_) => Failure::Rejected(text),
        None if RECIPIENT_CODES.contains(&code) => Failure::Bounce(text),
        None => Failure::Rejected(text),
    }
}

/// Whether `e` failed in the TLS handshake (rustls reports it as invalid
/// data inside a connection error, e.g. an untrusted certificate).
fn is_tls_failure(e: &SmtpError) -> bool {
    if e.is_tls() {
        return true;
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return io.kind() == std::io::ErrorKind::InvalidData;
        }
        source = s.source();
    }
    false
}

/// Classify a failed send; the text is scrubbed of addresses.
pub fn classify(e: &SmtpError) -> Failure {
    let text = scrub(&format!("SMTP: {e}"));
    if let Some(code) = e.status() {
        let code = code.to_string().parse::<u16>().unwrap_or(0);
        return classify_reply(code, text);
    }
    if is_tls_failure(e) {
        return Failure::Config(format!(
            "SMTP TLS failed (check the URL's host, smtp_ca_file and the server's certificate): {text}"
        ));
    }
    // Lettre's own refusals: STARTTLS required but not offered, no common
    // authentication mechanism.
    if e.is_client() {
        return Failure::Config(text);
    }
    Failure::Temporary(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(ca: Option<&str>) -> RecoveryConfig {
        RecoveryConfig {
            smtp_ca_file: ca.map(String::from),
            ..RecoveryConfig::default()
        }
    }

    #[test]
    fn the_url_picks_the_security() {
        let s = |u: &str| security(u).unwrap();
        assert_eq!(
            s("smtp://relay.test:25"),
            (Security::Plain, "relay.test".into())
        );
        assert_eq!(
            s("smtp://u:p@relay.test:587?tls=required"),
            (Security::Required, "relay.test".into())
        );
        assert_eq!(
            s("smtp://relay.test?tls=opportunistic").0,
            Security::Opportunistic
        );
        assert_eq!(
            s("smtps://127.0.0.1:465"),
            (Security::Wrapper, "127.0.0.1".into())
        );
        assert!(security("smtp://relay.test?tls=maybe").is_err());
        assert!(security("http://relay.test").is_err());
    }

    #[test]
    fn a_ca_file_without_tls_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("ca.pem");
        std::fs::write(&f, "-----BEGIN CERTIFICATE-----\n").unwrap();
        let e = transport(&cfg(Some(f.to_str().unwrap())), "smtp://relay.test:25").unwrap_err();
        assert!(e.to_string().contains("uses no TLS"), "{e}");
    }

    #[test]
    fn a_missing_or_empty_ca_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let url = "smtp://relay.test:587?tls=required";
        let e = transport(&cfg(Some(missing.to_str().unwrap())), url).unwrap_err();
        assert!(e.to_string().contains("missing.pem"), "{e}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate").unwrap();
        let e = transport(&cfg(Some(empty.to_str().unwrap())), url).unwrap_err();
        assert!(e.to_string().contains("no PEM certificate"), "{e}");
    }

    #[test]
    fn an_overridden_user_or_password_keeps_the_other_from_the_url_decoded() {
        let url = "smtp://us%40er:p%40ss%2Fw%25rd@relay.test:587?tls=required";
        let with = |user: Option<&str>, pass: Option<&str>| {
            override_credentials(
                &RecoveryConfig {
                    smtp_username: user.map(String::from),
                    smtp_password: pass.map(String::from),
                    ..RecoveryConfig::default()
                },
                url,
            )
        };
        assert_eq!(with(None, None), None, "lettre takes the URL's");
        assert_eq!(
            with(Some("other"), None),
            Some(("other".into(), "p@ss/w%rd".into()))
        );
        assert_eq!(
            with(None, Some("new pass")),
            Some(("us@er".into(), "new pass".into()))
        );
        assert_eq!(percent_decode("a%zz%4"), "a%zz%4");
    }

    #[test]
    fn without_a_ca_file_every_documented_url_builds() {
        for url in [
            "smtp://relay.test:25",
            "smtp://user:pass@relay.test:587?tls=required",
            "smtps://relay.test:465",
        ] {
            transport(&cfg(None), url).unwrap();
            transport(&cfg(Some("")), url).unwrap();
        }
    }

    #[test]
    fn only_a_refused_recipient_is_a_bounce() {
        let kind = |code: u16, text: &str| match classify_reply(code, text.to_string()) {
            Failure::Temporary(_) => "temporary",
            Failure::Config(_) => "config",
            Failure::Bounce(_) => "bounce",
            Failure::Rejected(_) => "rejected",
        };
        for code in [530, 534, 535, 538] {
            assert_eq!(
                kind(code, "5.7.8 Authentication credentials invalid"),
                "config"
            );
        }
        assert_eq!(kind(451, "4.7.1 Greylisted, try again later"), "temporary");
        assert_eq!(kind(421, "Service not available"), "temporary");
        assert_eq!(kind(550, "Mailbox unavailable"), "bounce");
        assert_eq!(kind(551, "User not local"), "bounce");
        assert_eq!(kind(553, "Mailbox name not allowed"), "bounce");
        assert_eq!(
            kind(
                550,
                "5.1.1 The email account that you tried to reach does not exist"
            ),
            "bounce"
        );
        assert_eq!(kind(550, "5.2.1 Mailbox disabled"), "bounce");
        assert_eq!(kind(554, "5.1.10 Recipient address has null MX"), "bounce");
        assert_eq!(
            kind(553, "5.1.8 Sender address rejected: domain not found"),
            "config"
        );
        assert_eq!(
            kind(550, "5.7.1 Message rejected: SPF check failed"),
            "config"
        );
        assert_eq!(kind(554, "Relay access denied"), "config");
        assert_eq!(
            kind(550, "5.1.1 User unknown in relay recipient table"),
            "bounce"
        );
        assert_eq!(
            kind(550, "Relaying denied. Proper authentication required"),
            "config"
        );
        assert_eq!(
            kind(552, "5.3.4 Message size exceeds fixed limit"),
            "rejected"
        );
        assert_eq!(kind(554, "Transaction failed"), "rejected");
        assert_eq!(kind(500, "Syntax error, command unrecognized"), "rejected");
    }

    #[test]
    fn enhanced_status_codes_are_found_in_the_text() {
        assert_eq!(enhanced_status("5.1.1 no such user"), Some((5, 1, 1)));
        assert_eq!(
            enhanced_status("SMTP: permanent error (550): 5.7.1 denied"),
            Some((5, 7, 1))
        );
        assert_eq!(enhanced_status("550-5.1.1 gone"), Some((5, 1, 1)));
        assert_eq!(enhanced_status("version 1.2.3 of 10.0.0.1"), None);
        assert_eq!(enhanced_status("Mailbox unavailable"), None);
    }
}
