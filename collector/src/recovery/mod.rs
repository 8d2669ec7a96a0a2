//! Cart recovery: the pure building blocks of recovery emails and the
//! marketing export.
//!
//! Everything here is free of I/O so it is unit-tested natively; the
//! contacts table, the outbox and the SMTP sender build on it.
//!
//! # Layout
//! - [`template`]: per-site, localized subject/text/HTML templates with the
//!   cart summary; shopper strings are HTML-escaped.
//! - [`token`]: signed, expiring recovery and unsubscribe tokens (HMAC-SHA256).
//! - [`headers`]: RFC 8058 one-click unsubscribe headers and Message-IDs.
//! - [`export_csv`]: the CSV export with formula-injection neutralisation.

pub mod export_csv;
pub mod headers;
pub mod template;
pub mod token;
