//! Applying the collector's remote site configuration
//! ([`steadycart_protocol::remote::SiteConfig`]) over the script tag's
//! configuration: texts per locale, stall thresholds, banner, position and
//! the kill switch. Pure: the shell fetches, caches and polls.

use steadycart_protocol::{remote::SiteConfig, Role};

use crate::config::{idx, Config};

/// What the page should look like under a remote config.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// Fallback texts per role ([`idx`] order).
    pub texts: [String; 4],
    /// Stall thresholds per role ([`idx`] order).
    pub stall_ms: [u32; 4],
    /// Banner to show: text and whether it is urgent (`critical`).
    pub banner: Option<(String, bool)>,
    /// Messages as a toast (bottom corner) instead of a top bar.
    pub toast: bool,
    /// Kill switch: remove everything.
    pub kill: bool,
}

/// Combine the tag's `base` config with `remote` for a shopper whose
/// preferred languages are `languages` (`navigator.languages`), at `now_ms`.
pub fn apply(base: &Config, remote: &SiteConfig, languages: &[String], now_ms: i64) -> Applied {
    let mut texts = base.texts.clone();
    for role in Role::ALL {
        if let Some(t) = pick_text(remote, role, languages) {
            texts[idx(role)] = t.to_string();
        }
    }
    let mut stall_ms = base.stall_ms;
    for s in &remote.stall_ms {
        if (100..=120_000).contains(&s.ms) {
            stall_ms[idx(s.role)] = s.ms;
        }
    }
    Applied {
        texts,
        stall_ms,
        banner: remote
            .live_banner(now_ms)
            .filter(|b| !b.text.trim().is_empty())
            .map(|b| (b.text.clone(), b.severity == "critical")),
        toast: remote.position.as_deref() == Some("toast"),
        kill: remote.kill,
    }
}

/// The remote text for `role` best matching `languages`: for each preferred
/// language in order, an exact tag, then the same primary language (`de`
/// for `de-CH` and vice versa); then a text with no locale; else `None`.
pub fn pick_text<'a>(remote: &'a SiteConfig, role: Role, languages: &[String]) -> Option<&'a str> {
    pick_local(&remote.texts, role, languages)
}

/// The text for `role` in `texts` best matching `languages` (the order of
/// [`pick_text`]); also used for the tag's `data-text-ROLE-LOCALE` texts.
pub fn pick_local<'a>(
    texts: &'a [steadycart_protocol::remote::LocalText],
    role: Role,
    languages: &[String],
) -> Option<&'a str> {
    let texts: Vec<_> = texts
        .iter()
        .filter(|t| t.role == role && !t.text.trim().is_empty())
        .collect();
    let primary = |tag: &str| tag.split('-').next().unwrap_or("").to_ascii_lowercase();
    for lang in languages {
        if let Some(t) = texts
            .iter()
            .find(|t| !t.locale.is_empty() && t.locale.eq_ignore_ascii_case(lang))
        {
            return Some(&t.text);
        }
        if let Some(t) = texts
            .iter()
            .find(|t| !t.locale.is_empty() && primary(&t.locale) == primary(lang))
        {
            return Some(&t.text);
        }
    }
    texts
        .iter()
        .find(|t| t.locale.is_empty())
        .map(|t| t.text.as_str())
}

#[cfg(test)]
mod tests {
    use steadycart_protocol::remote::{Banner, LocalText, RoleMs};

    use super::*;
    use crate::config::{from_attributes, DEFAULT_TEXTS};

    fn base() -> Config {
        let attrs = [
            ("data-site", "pk_test1"),
            ("data-price", "/p"),
            ("data-text-cart", "Tag cart text"),
        ];
        let attrs: Vec<_> = attrs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        from_attributes(&attrs, "https://c.example/snippet/steadycart.js").unwrap()
    }

    fn text(role: Role, locale: &str, text: &str) -> LocalText {
        LocalText {
            role,
            locale: locale.into(),
            text: text.into(),
        }
    }

    fn langs(l: &[&str]) -> Vec<String> {
        l.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn empty_remote_keeps_the_tag() {
        let a = apply(&base(), &SiteConfig::default(), &langs(&["en"]), 0);
        assert_eq!(a.texts[idx(Role::Cart)], "Tag cart text");
        assert_eq!(a.texts[idx(Role::Price)], DEFAULT_TEXTS[3]);
        assert_eq!(a.stall_ms, base().stall_ms);
        assert_eq!((a.banner, a.toast, a.kill), (None, false, false));
    }

    #[test]
    fn locale_preference_order() {
        let remote = SiteConfig {
            texts: vec![
                text(Role::Price, "", "Prices are being checked"),
                text(Role::Price, "de", "Preis wird geprüft"),
                text(Role::Price, "fr-CH", "Prix en vérification (CH)"),
            ],
            ..Default::default()
        };
        let pick = |l: &[&str]| {
            pick_text(&remote, Role::Price, &langs(l))
                .unwrap()
                .to_string()
        };
        assert_eq!(
            pick(&["de-AT", "en"]),
            "Preis wird geprüft",
            "primary language"
        );
        assert_eq!(
            pick(&["fr-ch"]),
            "Prix en vérification (CH)",
            "exact, any case"
        );
        assert_eq!(
            pick(&["fr-FR"]),
            "Prix en vérification (CH)",
            "same primary language"
        );
        assert_eq!(
            pick(&["it", "de"]),
            "Preis wird geprüft",
            "second preference"
        );
        assert_eq!(
            pick(&["ja"]),
            "Prices are being checked",
            "no-locale default"
        );
        assert_eq!(pick(&[]), "Prices are being checked");
        assert_eq!(pick_text(&remote, Role::Cart, &langs(&["de"])), None);
    }

    #[test]
    fn thresholds_banner_position_kill() {
        let remote = SiteConfig {
            stall_ms: vec![
                RoleMs {
                    role: Role::Checkout,
                    ms: 800,
                },
                RoleMs {
                    role: Role::Cart,
                    ms: 1,
                },
            ],
            banner: Some(Banner {
                text: "<b>Sale</b> delayed".into(),
                severity: "critical".into(),
                expires_at: Some(1000),
            }),
            position: Some("toast".into()),
            kill: true,
            ..Default::default()
        };
        let a = apply(&base(), &remote, &[], 999);
        assert_eq!(a.stall_ms[idx(Role::Checkout)], 800);
        assert_eq!(
            a.stall_ms[idx(Role::Cart)],
            base().stall_ms[0],
            "out of range ignored"
        );
        assert_eq!(a.banner, Some(("<b>Sale</b> delayed".to_string(), true)));
        assert!(a.toast && a.kill);
        assert_eq!(apply(&base(), &remote, &[], 1000).banner, None, "expired");
    }
}
