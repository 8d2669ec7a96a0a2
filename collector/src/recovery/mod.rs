//! Cart recovery: recovery emails to shoppers who left a broken checkout
//! with consent, one-click unsubscribe, and the marketing export.
//!
//! Contacts, cart snapshots and the outbox rows are written by the event
//! writer ([`crate::store::recovery`]); the [`mailer`] sends due emails;
//! the HTTP side is [`crate::http::recovery`] (admin export, erasure,
//! settings) and [`crate::http::unsubscribe`] (public links).
//!
//! # Layout
//! - [`config`]: the `[recovery]` settings (delay, period, SMTP, retention).
//! - [`settings`]: per-site settings (sender, shop name, link, templates).
//! - [`template`]: per-site, localized subject/text/HTML templates with the
//!   cart summary; shopper strings are HTML-escaped.
//! - [`token`]: signed, expiring recovery and unsubscribe tokens (HMAC-SHA256).
//! - [`headers`]: RFC 8058 one-click unsubscribe headers and Message-IDs.
//! - [`export_csv`]: the CSV export with formula-injection neutralisation.
//! - [`mailer`]: the outbox sender (SMTP via lettre, or `.eml` files).
//! - [`smtp`]: the SMTP transport (TLS modes, extra trusted roots,
//!   credentials) and which SMTP failures are retried.

pub mod config;
pub mod export_csv;
pub mod headers;
pub mod mailer;
pub mod settings;
pub mod smtp;
pub mod template;
pub mod token;

pub use config::RecoveryConfig;
