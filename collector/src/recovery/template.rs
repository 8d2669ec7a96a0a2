//! Recovery email templates: subject, plain text and HTML, per site and
//! locale, with the cart summary and the recovery and unsubscribe links.
//!
//! A template is three strings with `{{placeholders}}`. Built-in defaults
//! exist for English and German; a site may override them. Placeholders are
//! checked when a template is parsed ([`Template::parse`]), so a typo fails
//! at configuration time, not when an email goes out. Values are inserted
//! verbatim in the subject and text and HTML-escaped in the HTML body: shop
//! and product names come from the storefront's responses and are not
//! trusted.

use std::fmt::Write as _;

/// Placeholders a template may use.
pub const PLACEHOLDERS: [&str; 7] = [
    "shop_name",
    "trouble_time",
    "cart_lines",
    "cart_total",
    "recovery_url",
    "unsubscribe_url",
    "postal_address",
];

/// A supported email language; anything else falls back to English.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locale {
    /// English (default).
    En,
    /// German.
    De,
}

impl Locale {
    /// The locale for a BCP 47 tag such as `de-AT`; English otherwise.
    pub fn from_tag(tag: &str) -> Self {
        Self::supported(tag).unwrap_or(Locale::En)
    }

    /// The locale for a BCP 47 tag, if it is one we have emails for.
    pub fn supported(tag: &str) -> Option<Self> {
        let primary = tag.split(['-', '_']).next().unwrap_or("");
        if primary.eq_ignore_ascii_case("de") {
            Some(Locale::De)
        } else if primary.eq_ignore_ascii_case("en") {
            Some(Locale::En)
        } else {
            None
        }
    }
}

/// The most preferred language tag of an `Accept-Language` header value
/// (browsers list them in order of preference): 1-35 characters of
/// `[A-Za-z0-9-]`, `*` skipped; `None` when there is none.
pub fn preferred_language(header: &str) -> Option<String> {
    header
        .split(',')
        .map(|part| part.split(';').next().unwrap_or("").trim())
        .find(|tag| {
            !tag.is_empty()
                && tag.len() <= 35
                && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        .map(String::from)
}

/// One line of the cart snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartLine {
    /// Product name as the storefront showed it.
    pub name: String,
    /// Quantity.
    pub quantity: u32,
    /// Unit price in minor units (cents), when the snippet could see it.
    pub unit_price_minor: Option<i64>,
}

/// What one email is about.
#[derive(Debug, Clone)]
pub struct EmailContext {
    /// The shop's name.
    pub shop_name: String,
    /// When the trouble hit, already formatted for the reader (`14:05 UTC`).
    pub trouble_time: String,
    /// The cart snapshot (may be empty).
    pub cart: Vec<CartLine>,
    /// ISO 4217 currency of the prices.
    pub currency: Option<String>,
    /// The signed recovery link.
    pub recovery_url: String,
    /// The signed unsubscribe link (also in `List-Unsubscribe`).
    pub unsubscribe_url: String,
    /// The sender's postal address (CAN-SPAM); may be empty.
    pub postal_address: String,
}

/// A rendered email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    /// Subject line (one line).
    pub subject: String,
    /// The text/plain part.
    pub text: String,
    /// The text/html part.
    pub html: String,
}

/// A template that failed to parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `{{name}}` is not one of [`PLACEHOLDERS`].
    #[error("unknown placeholder {{{{{0}}}}} in the {1}")]
    UnknownPlaceholder(String, &'static str),
    /// `{{` without a closing `}}`.
    #[error("unclosed placeholder in the {0}")]
    Unclosed(&'static str),
    /// The text or HTML part has no `{{unsubscribe_url}}`: every email must
    /// carry a visible unsubscribe link.
    #[error("the {0} must contain {{{{unsubscribe_url}}}}")]
    NoUnsubscribeLink(&'static str),
}

/// A checked per-site template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    subject: String,
    text: String,
    html: String,
}

impl Template {
    /// Check and keep a template's three parts.
    pub fn parse(subject: &str, text: &str, html: &str) -> Result<Self, TemplateError> {
        check(subject, "subject")?;
        check(text, "text part")?;
        check(html, "HTML part")?;
        for (part, what) in [(text, "text part"), (html, "HTML part")] {
            if !part.contains("{{unsubscribe_url}}") {
                return Err(TemplateError::NoUnsubscribeLink(what));
            }
        }
        Ok(Self {
            subject: subject.into(),
            text: text.into(),
            html: html.into(),
        })
    }

    /// The built-in template for `locale`.
    pub fn builtin(locale: Locale) -> Self {
        let (subject, text, html) = match locale {
            Locale::En => (EN_SUBJECT, EN_TEXT, EN_HTML),
            Locale::De => (DE_SUBJECT, DE_TEXT, DE_HTML),
        };
        Self::parse(subject, text, html).expect("built-in templates are valid")
    }

    /// Render for `ctx` in `locale` (used for number formatting).
    pub fn render(&self, ctx: &EmailContext, locale: Locale) -> RenderedEmail {
        let plain = |name: &str| value(ctx, locale, name, false);
        let html = |name: &str| value(ctx, locale, name, true);
        RenderedEmail {
            // A subject is one header line: no line breaks from any value.
            subject: fill(&self.subject, plain)
                .replace(['\r', '\n'], " ")
                .trim()
                .to_string(),
            text: fill(&self.text, plain),
            html: fill(&self.html, html),
        }
    }
}

fn check(part: &str, what: &'static str) -> Result<(), TemplateError> {
    let mut rest = part;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or(TemplateError::Unclosed(what))?;
        let name = after[..end].trim();
        if !PLACEHOLDERS.contains(&name) {
            return Err(TemplateError::UnknownPlaceholder(name.into(), what));
        }
        rest = &after[end + 2..];
    }
    Ok(())
}

/// Replace every (already checked) placeholder by `value(name)`.
fn fill(part: &str, value: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(part.len() + 256);
    let mut rest = part;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").unwrap_or(after.len());
        out.push_str(&value(after[..end].trim()));
        rest = after.get(end + 2..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

/// Escape text for HTML element content and quoted attributes.
pub fn escape_html(s: &str) -> std::borrow::Cow<'_, str> {
    html_escape::encode_quoted_attribute(s)
}

/// `minor` units as `12.34` (English) or `12,34` (German).
pub fn format_money(minor: i64, locale: Locale) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let sep = match locale {
        Locale::En => '.',
        Locale::De => ',',
    };
    format!("{sign}{}{sep}{:02}", abs / 100, abs % 100)
}

/// The cart total in minor units, if every line has a price.
pub fn cart_total_minor(cart: &[CartLine]) -> Option<i64> {
    if cart.is_empty() {
        return None;
    }
    cart.iter().try_fold(0i64, |sum, line| {
        line.unit_price_minor
            .and_then(|p| p.checked_mul(i64::from(line.quantity)))
            .and_then(|p| sum.checked_add(p))
    })
}

fn money(minor: i64, ctx: &EmailContext, locale: Locale) -> String {
    match &ctx.currency {
        Some(cur) => format!("{} {cur}", format_money(minor, locale)),
        None => format_money(minor, locale),
    }
}

fn value(ctx: &EmailContext, locale: Locale, name: &str, html: bool) -> String {
    let esc = |s: &str| {
        if html {
            escape_html(s).into_owned()
        } else {
            s.to_string()
        }
    };
    match name {
        "shop_name" => esc(&ctx.shop_name),
        "trouble_time" => esc(&ctx.trouble_time),
        "recovery_url" => esc(&ctx.recovery_url),
        "unsubscribe_url" => esc(&ctx.unsubscribe_url),
        "postal_address" => esc(&ctx.postal_address),
        "cart_total" => cart_total_minor(&ctx.cart)
            .map(|t| esc(&money(t, ctx, locale)))
            .unwrap_or_default(),
        "cart_lines" => {
            let mut out = String::new();
            if html && !ctx.cart.is_empty() {
                out.push_str("<ul>");
            }
            for line in &ctx.cart {
                let price = line
                    .unit_price_minor
                    .map(|p| format!(" — {}", money(p * i64::from(line.quantity), ctx, locale)))
                    .unwrap_or_default();
                let item = format!("{} × {}{price}", line.quantity, line.name);
                if html {
                    let _ = write!(out, "<li>{}</li>", escape_html(&item));
                } else {
                    let _ = writeln!(out, "- {item}");
                }
            }
            if html && !ctx.cart.is_empty() {
                out.push_str("</ul>");
            }
            out
        }
        _ => String::new(),
    }
}

const EN_SUBJECT: &str = "Your cart at {{shop_name}} is waiting — checkout works again";
const EN_TEXT: &str = "Hello,

checkout at {{shop_name}} had a problem at {{trouble_time}}. It is fixed now, and your cart is waiting:

{{cart_lines}}
Total: {{cart_total}}

Continue where you left off: {{recovery_url}}

You get this email once because you asked us to tell you when checkout works again.
Unsubscribe: {{unsubscribe_url}}
{{postal_address}}
";
const EN_HTML: &str = "<!doctype html><html><body>
<p>Hello,</p>
<p>checkout at {{shop_name}} had a problem at {{trouble_time}}. It is fixed now, and your cart is waiting:</p>
{{cart_lines}}
<p>Total: {{cart_total}}</p>
<p><a href=\"{{recovery_url}}\">Continue where you left off</a></p>
<p style=\"font-size:small\">You get this email once because you asked us to tell you when checkout works again.
<a href=\"{{unsubscribe_url}}\">Unsubscribe</a><br>{{postal_address}}</p>
</body></html>
";
const DE_SUBJECT: &str =
    "Ihr Warenkorb bei {{shop_name}} wartet — der Checkout funktioniert wieder";
const DE_TEXT: &str = "Hallo,

beim Checkout von {{shop_name}} gab es um {{trouble_time}} ein Problem. Es ist behoben, und Ihr Warenkorb wartet:

{{cart_lines}}
Summe: {{cart_total}}

Hier geht es weiter: {{recovery_url}}

Sie erhalten diese E-Mail einmal, weil Sie darum gebeten haben.
Abmelden: {{unsubscribe_url}}
{{postal_address}}
";
const DE_HTML: &str = "<!doctype html><html lang=\"de\"><body>
<p>Hallo,</p>
<p>beim Checkout von {{shop_name}} gab es um {{trouble_time}} ein Problem. Es ist behoben, und Ihr Warenkorb wartet:</p>
{{cart_lines}}
<p>Summe: {{cart_total}}</p>
<p><a href=\"{{recovery_url}}\">Hier geht es weiter</a></p>
<p style=\"font-size:small\">Sie erhalten diese E-Mail einmal, weil Sie darum gebeten haben.
<a href=\"{{unsubscribe_url}}\">Abmelden</a><br>{{postal_address}}</p>
</body></html>
";

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> EmailContext {
        EmailContext {
            shop_name: "Voltline <b>Electronics</b> & Co".into(),
            trouble_time: "14:05 UTC".into(),
            cart: vec![
                CartLine {
                    name: "USB-C \"Cable\" <script>alert(1)</script>".into(),
                    quantity: 2,
                    unit_price_minor: Some(999),
                },
                CartLine {
                    name: "Charger".into(),
                    quantity: 1,
                    unit_price_minor: Some(3999),
                },
            ],
            currency: Some("EUR".into()),
            recovery_url: "https://shop.example/cart/recover?t=r.1.2.3.ab&x=1".into(),
            unsubscribe_url: "https://c.example/v1/unsubscribe/u.1.2.0.ab".into(),
            postal_address: "1 Main St, Springfield".into(),
        }
    }

    #[test]
    fn english_email_has_cart_links_and_escaped_html() {
        let mail = Template::builtin(Locale::En).render(&ctx(), Locale::En);
        assert_eq!(
            mail.subject,
            "Your cart at Voltline <b>Electronics</b> & Co is waiting — checkout works again"
        );
        assert!(mail.text.contains("problem at 14:05 UTC"));
        assert!(mail
            .text
            .contains("- 2 × USB-C \"Cable\" <script>alert(1)</script> — 19.98 EUR\n"));
        assert!(mail.text.contains("Total: 59.97 EUR"));
        assert!(mail
            .text
            .contains("https://shop.example/cart/recover?t=r.1.2.3.ab&x=1"));
        assert!(mail
            .text
            .contains("Unsubscribe: https://c.example/v1/unsubscribe/u.1.2.0.ab"));
        assert!(!mail.html.contains("<script>"));
        assert!(!mail.html.contains("<b>"));
        assert!(mail
            .html
            .contains("Voltline &lt;b&gt;Electronics&lt;/b&gt; &amp; Co"));
        assert!(mail.html.contains("<li>2 × USB-C &quot;Cable&quot; &lt;script&gt;alert(1)&lt;/script&gt; — 19.98 EUR</li>"));
        assert!(mail
            .html
            .contains("href=\"https://shop.example/cart/recover?t=r.1.2.3.ab&amp;x=1\""));
        assert!(mail
            .html
            .contains("href=\"https://c.example/v1/unsubscribe/u.1.2.0.ab\""));
    }

    #[test]
    fn preferred_language_is_the_first_usable_tag() {
        assert_eq!(
            preferred_language("de-AT,de;q=0.9,en;q=0.8").as_deref(),
            Some("de-AT")
        );
        assert_eq!(preferred_language(" *;q=0.5, fr ").as_deref(), Some("fr"));
        assert_eq!(preferred_language("<script>,"), None);
        assert_eq!(preferred_language(""), None);
        assert_eq!(Locale::supported("fr-FR"), None);
        assert_eq!(Locale::supported("EN-gb"), Some(Locale::En));
        assert_eq!(Locale::supported("de"), Some(Locale::De));
    }

    #[test]
    fn german_email_uses_german_text_and_decimal_comma() {
        let locale = Locale::from_tag("de-AT");
        assert_eq!(locale, Locale::De);
        let mail = Template::builtin(locale).render(&ctx(), locale);
        assert!(mail.subject.starts_with("Ihr Warenkorb bei"));
        assert!(mail.text.contains("Summe: 59,97 EUR"));
        assert!(mail.html.contains("Abmelden"));
        assert_eq!(Locale::from_tag("fr-FR"), Locale::En);
    }

    #[test]
    fn site_template_is_checked_and_rendered() {
        let t = Template::parse(
            "{{ shop_name }}: cart",
            "{{cart_lines}}{{unsubscribe_url}}",
            "<a href=\"{{unsubscribe_url}}\">x</a>",
        )
        .unwrap();
        let mut c = ctx();
        c.shop_name = "A\r\nBcc: evil@example.com".into();
        let mail = t.render(&c, Locale::En);
        assert_eq!(mail.subject, "A  Bcc: evil@example.com: cart");
        assert!(!mail.subject.contains('\n'));
        assert_eq!(
            Template::parse("{{shop}}", "{{unsubscribe_url}}", "{{unsubscribe_url}}"),
            Err(TemplateError::UnknownPlaceholder("shop".into(), "subject"))
        );
        assert_eq!(
            Template::parse("x", "{{unsubscribe_url", "{{unsubscribe_url}}"),
            Err(TemplateError::Unclosed("text part"))
        );
        assert_eq!(
            Template::parse("x", "no link", "{{unsubscribe_url}}"),
            Err(TemplateError::NoUnsubscribeLink("text part"))
        );
    }

    #[test]
    fn totals_need_every_price() {
        let mut c = ctx();
        assert_eq!(cart_total_minor(&c.cart), Some(5997));
        c.cart[1].unit_price_minor = None;
        assert_eq!(cart_total_minor(&c.cart), None);
        let mail = Template::builtin(Locale::En).render(&c, Locale::En);
        assert!(mail.text.contains("- 1 × Charger\n"));
        assert!(mail.text.contains("Total: \n"));
        assert_eq!(cart_total_minor(&[]), None);
        assert_eq!(format_money(-5, Locale::En), "-0.05");
    }
}
