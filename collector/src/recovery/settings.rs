//! Per-site recovery settings, set by the site's admin with
//! `PUT /v1/admin/sites/{site}/recovery/settings`:
//!
//! ```json
//! {"enabled":true,"shop_name":"Voltline Electronics",
//!  "from":"Voltline <shop@voltline.example>","reply_to":"help@voltline.example",
//!  "recovery_url":"https://voltline.example/cart?recover={token}",
//!  "locale":"de","postal_address":"1 Main St, Springfield",
//!  "templates":{"en":{"subject":"…","text":"…{{unsubscribe_url}}…","html":"…"}}}
//! ```
//!
//! `recovery_url` must contain `{token}` (replaced by the signed, expiring
//! recovery token). Templates are optional per locale (built-in English
//! and German otherwise) and checked when stored.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::template::{Locale, Template};

/// One locale's template parts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateParts {
    /// Subject line.
    pub subject: String,
    /// text/plain part; must contain `{{unsubscribe_url}}`.
    pub text: String,
    /// text/html part; must contain `{{unsubscribe_url}}`.
    pub html: String,
}

fn yes() -> bool {
    true
}

fn en() -> String {
    "en".into()
}

/// A site's recovery settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteSettings {
    /// Send recovery emails for this site. Default true.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The shop's name as shown in emails.
    pub shop_name: String,
    /// Sender mailbox, `Name <addr@domain>` or `addr@domain`.
    pub from: String,
    /// Optional Reply-To mailbox.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// Recovery link with a `{token}` placeholder.
    pub recovery_url: String,
    /// Email language (BCP 47 tag; `de…` German, else English). Default `en`.
    #[serde(default = "en")]
    pub locale: String,
    /// Postal address for the footer (CAN-SPAM).
    #[serde(default)]
    pub postal_address: String,
    /// Templates by language (`en`, `de`); built-ins otherwise.
    #[serde(default)]
    pub templates: BTreeMap<String, TemplateParts>,
}

/// Why settings were refused: the field and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SettingsError {
    /// JSON path of the field.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

fn bad(field: impl Into<String>, message: impl Into<String>) -> SettingsError {
    SettingsError {
        field: field.into(),
        message: message.into(),
    }
}

impl SiteSettings {
    /// Check every field (mailboxes parse, link template, templates).
    pub fn check(&self) -> Result<(), SettingsError> {
        if self.shop_name.trim().is_empty() || self.shop_name.chars().count() > 200 {
            return Err(bad("shop_name", "must be 1-200 characters"));
        }
        self.from
            .parse::<lettre::message::Mailbox>()
            .map_err(|_| bad("from", "not a mailbox (Name <addr@domain>)"))?;
        if let Some(r) = &self.reply_to {
            r.parse::<lettre::message::Mailbox>()
                .map_err(|_| bad("reply_to", "not a mailbox"))?;
        }
        let url = &self.recovery_url;
        if !(url.starts_with("https://") || url.starts_with("http://"))
            || !url.contains("{token}")
            || url.len() > 2048
            || url.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(bad(
                "recovery_url",
                "must be an http(s) URL containing {token}",
            ));
        }
        if self.postal_address.chars().count() > 500 {
            return Err(bad("postal_address", "longer than 500 characters"));
        }
        for (lang, parts) in &self.templates {
            if !matches!(lang.as_str(), "en" | "de") {
                return Err(bad(format!("templates.{lang}"), "languages are en and de"));
            }
            Template::parse(&parts.subject, &parts.text, &parts.html)
                .map_err(|e| bad(format!("templates.{lang}"), e.to_string()))?;
        }
        Ok(())
    }

    /// The email language.
    pub fn locale(&self) -> Locale {
        Locale::from_tag(&self.locale)
    }

    /// The template for the site's language.
    pub fn template(&self) -> Template {
        self.template_for(self.locale())
    }

    /// The site's template for `locale` (the built-in one if the site has
    /// none for it).
    pub fn template_for(&self, locale: Locale) -> Template {
        let key = match locale {
            Locale::En => "en",
            Locale::De => "de",
        };
        self.templates
            .get(key)
            .and_then(|p| Template::parse(&p.subject, &p.text, &p.html).ok())
            .unwrap_or_else(|| Template::builtin(locale))
    }

    /// The recovery link for `token`.
    pub fn recovery_link(&self, token: &str) -> String {
        self.recovery_url.replace("{token}", token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> SiteSettings {
        serde_json::from_value(serde_json::json!({
            "shop_name": "Voltline", "from": "Voltline <shop@voltline.example>",
            "recovery_url": "https://voltline.example/cart?recover={token}"
        }))
        .unwrap()
    }

    #[test]
    fn defaults_and_link() {
        let s = settings();
        assert!(s.enabled);
        assert_eq!(s.locale(), Locale::En);
        assert_eq!(s.check(), Ok(()));
        assert_eq!(
            s.recovery_link("r.1.2.3.ab"),
            "https://voltline.example/cart?recover=r.1.2.3.ab"
        );
    }

    #[test]
    fn refuses_bad_fields() {
        let mut s = settings();
        s.from = "not a mailbox".into();
        assert_eq!(s.check().unwrap_err().field, "from");
        let mut s = settings();
        s.recovery_url = "https://voltline.example/cart".into();
        assert_eq!(s.check().unwrap_err().field, "recovery_url");
        let mut s = settings();
        s.recovery_url = "javascript:alert(1)//{token}".into();
        assert_eq!(s.check().unwrap_err().field, "recovery_url");
        let mut s = settings();
        s.templates.insert(
            "de".into(),
            TemplateParts {
                subject: "x".into(),
                text: "no link".into(),
                html: "{{unsubscribe_url}}".into(),
            },
        );
        assert_eq!(s.check().unwrap_err().field, "templates.de");
        assert!(serde_json::from_str::<SiteSettings>(
            r#"{"shop_name":"a","from":"a@b.example","recovery_url":"https://x/{token}","colour":"red"}"#
        )
        .is_err());
    }

    fn subject(s: &SiteSettings) -> String {
        let ctx = crate::recovery::template::EmailContext {
            shop_name: s.shop_name.clone(),
            trouble_time: "14:05 UTC".into(),
            cart: vec![],
            currency: None,
            recovery_url: "https://x".into(),
            unsubscribe_url: "https://y".into(),
            postal_address: String::new(),
        };
        s.template().render(&ctx, s.locale()).subject
    }

    #[test]
    fn site_template_wins_for_its_language() {
        let mut s = settings();
        s.locale = "de-AT".into();
        assert!(subject(&s).starts_with("Ihr Warenkorb"));
        s.templates.insert(
            "de".into(),
            TemplateParts {
                subject: "Hallo von {{shop_name}}".into(),
                text: "{{unsubscribe_url}}".into(),
                html: "{{unsubscribe_url}}".into(),
            },
        );
        assert_eq!(subject(&s), "Hallo von Voltline");
    }
}
