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
//! - [`classify`]: a 5xx reply about the recipient or the message is
//!   permanent (a bounce); refused credentials (530, 534, 535, 538) are the
//!   shop's configuration, not the shopper's address, so they are retried
//!   like an unreachable server or a TLS failure until the operator fixes
//!   them, and never mark a contact bounced.

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

/// What an SMTP failure means for the email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Try again later (unreachable, 4xx, TLS, refused credentials).
    Temporary(String),
    /// The recipient or the message was refused for good (a bounce).
    Permanent(String),
}

/// Reply codes that refuse the sender's authentication (RFC 4954, RFC 3207):
/// authentication required, mechanism too weak, credentials invalid,
/// encryption required.
const AUTH_CODES: [&str; 4] = ["530", "534", "535", "538"];

/// Classify a failed send; the text is scrubbed of addresses.
pub fn classify(e: &SmtpError) -> Failure {
    let code = e.status().map(|c| c.to_string());
    if code.as_deref().is_some_and(|c| AUTH_CODES.contains(&c)) {
        return Failure::Temporary(scrub(&format!(
            "SMTP authentication refused (check smtp_username and smtp_password): {e}"
        )));
    }
    let text = scrub(&format!("SMTP: {e}"));
    if e.is_permanent() {
        Failure::Permanent(text)
    } else {
        Failure::Temporary(text)
    }
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
}
