//! The exit survey's site configuration (`data-survey-*` options), its
//! localized texts, and turning what the shopper entered into a checked
//! [`Answer`]: no consent, no email; free text capped and stripped of
//! control characters; email validated by the same rule as the collector.
//!
//! | option | meaning | default |
//! |---|---|---|
//! | `data-survey` | `trouble` (only after an error or stall), `always`, `never` | `trouble` |
//! | `data-survey-options` | `id:Label\|id:Label` choices of "What stopped you?" | four built-in choices |
//! | `data-survey-title`, `-question`, `-submit`, `-thanks` | texts | localized defaults |
//! | `data-survey-text` | free-text label, or `off` | localized default |
//! | `data-survey-rating` | rating label (1–5 stars), `on` for the default, or off when absent | off |
//! | `data-survey-email` | email field label, or `off` (no contact capture) | localized default |
//! | `data-survey-consent` | consent checkbox text, recorded verbatim | localized default |
//! | `data-survey-consent-version` | version of that text, recorded with it | `default-1` |
//! | `data-survey-cooldown-days` | days before a shopper may see it again (0–365) | 7 |
//! | `data-survey-dwell-ms`, `-idle-ms`, `-top-margin` | exit-intent thresholds (see [`crate::exit_intent`]) | 3000, 30000, 20 |
//!
//! Texts default to the page's language (`<html lang>`): English and German
//! are built in; site texts override them.

use steadycart_protocol::survey::{
    check_answer, is_valid_email, Answer, Consent, MAX_SURVEY_TEXT_CHARS,
};

use crate::{exit_intent::IntentConfig, survey_policy::Mode};

/// Which built-in language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English (default).
    En,
    /// German.
    De,
}

impl Lang {
    /// From a BCP 47 tag (`de-AT` → German); anything else is English.
    pub fn from_tag(tag: &str) -> Lang {
        if tag.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("de")) {
            Lang::De
        } else {
            Lang::En
        }
    }
}

/// All texts of the survey, resolved for one language.
#[derive(Debug, Clone, PartialEq)]
pub struct Texts {
    /// Dialog title.
    pub title: String,
    /// The choice question.
    pub question: String,
    /// Choices: `(id, label)`.
    pub options: Vec<(String, String)>,
    /// Free-text label; `None` hides the field.
    pub text: Option<String>,
    /// Rating label; `None` hides the rating.
    pub rating: Option<String>,
    /// Email label; `None` hides email and consent.
    pub email: Option<String>,
    /// Consent checkbox text, recorded verbatim.
    pub consent: String,
    /// Consent text version.
    pub consent_version: String,
    /// Submit button.
    pub submit: String,
    /// Close button's accessible name.
    pub close: String,
    /// Shown after answering.
    pub thanks: String,
    /// Shown when the email is not valid.
    pub email_error: String,
}

/// Site options, as configured (unset texts fall back per language).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SurveyConfig {
    /// When to show.
    pub mode: Mode,
    /// Days of cooldown after showing.
    pub cooldown_days: Option<u32>,
    /// Exit-intent thresholds.
    pub intent: IntentConfig,
    options: Option<Vec<(String, String)>>,
    title: Option<String>,
    question: Option<String>,
    text: Option<String>,
    rating: Option<String>,
    email: Option<String>,
    consent: Option<String>,
    consent_version: Option<String>,
    submit: Option<String>,
    thanks: Option<String>,
}

/// Default cooldown between surveys for one shopper, in days.
pub const DEFAULT_COOLDOWN_DAYS: u32 = 7;

fn text_option(value: &str) -> Option<String> {
    Some(crate::config::cap_chars(value, 1000)).filter(|v| !v.is_empty())
}

impl SurveyConfig {
    /// Apply option `data-survey{suffix}`; `Err` names what is wrong.
    pub fn set(&mut self, suffix: &str, value: &str) -> Result<(), String> {
        // Whole numbers only: float parsing would cost kilobytes of wasm.
        let number = |max: u32| -> Result<f64, String> {
            crate::config::parse_uint(value)
                .filter(|v| *v <= u64::from(max))
                .map(|v| v as f64)
                .ok_or_else(|| {
                    let mut why =
                        ["data-survey", suffix, " must be a whole number from 0 to "].concat();
                    crate::event_json::push_int(&mut why, max.into());
                    why
                })
        };
        match suffix {
            "" => {
                self.mode =
                    Mode::parse(value).ok_or("data-survey must be trouble, always or never")?
            }
            "-options" => {
                let options = value
                    .split('|')
                    .map(|o| {
                        let (id, label) = o.split_once(':')?;
                        let (id, label) = (id.trim(), label.trim());
                        let ok = !id.is_empty()
                            && id.len() <= 64
                            && id.bytes().all(|b| {
                                b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
                            })
                            && !label.is_empty();
                        ok.then(|| (id.to_string(), crate::config::cap_chars(label, 200)))
                    })
                    .collect::<Option<Vec<_>>>()
                    .filter(|o| !o.is_empty() && o.len() <= 12)
                    .ok_or(
                        "data-survey-options must be id:Label|id:Label (ids of [0-9A-Za-z_.-])",
                    )?;
                self.options = Some(options);
            }
            "-title" => self.title = text_option(value),
            "-question" => self.question = text_option(value),
            "-text" => self.text = text_option(value),
            "-rating" => self.rating = text_option(value),
            "-email" => self.email = text_option(value),
            "-consent" => self.consent = text_option(value),
            "-consent-version" => {
                if !steadycart_protocol::survey::is_valid_token(value) {
                    return Err(
                        "data-survey-consent-version must be 1-64 characters of [0-9A-Za-z_.-]"
                            .into(),
                    );
                }
                self.consent_version = Some(value.to_string());
            }
            "-submit" => self.submit = text_option(value),
            "-thanks" => self.thanks = text_option(value),
            "-cooldown-days" => self.cooldown_days = Some(number(365)? as u32),
            "-dwell-ms" => self.intent.min_dwell_ms = number(600_000)?,
            "-idle-ms" => self.intent.idle_ms = number(3_600_000)?,
            "-top-margin" => self.intent.top_margin_px = number(500)?,
            _ => return Err(["unknown option data-survey", suffix].concat()),
        }
        Ok(())
    }

    /// Cooldown in days.
    pub fn cooldown(&self) -> u32 {
        self.cooldown_days.unwrap_or(DEFAULT_COOLDOWN_DAYS)
    }

    /// The texts for `lang`, site options first.
    pub fn texts(&self, lang: Lang) -> Texts {
        let de = lang == Lang::De;
        let pick = |site: &Option<String>, en: &str, de_text: &str| {
            site.clone()
                .unwrap_or_else(|| if de { de_text } else { en }.to_string())
        };
        let off = |site: &Option<String>, en: &str, de_text: &str, default_on: bool| match site
            .as_deref()
        {
            Some("off") => None,
            Some("on") => Some(if de { de_text } else { en }.to_string()),
            Some(s) => Some(s.to_string()),
            None => default_on.then(|| if de { de_text } else { en }.to_string()),
        };
        let builtin: &[(&str, &str, &str)] = &[
            (
                "broken",
                "Checkout didn't work",
                "Der Checkout hat nicht funktioniert",
            ),
            (
                "price",
                "Price or shipping cost",
                "Preis oder Versandkosten",
            ),
            (
                "later",
                "Just looking, buying later",
                "Nur umsehen, kaufe später",
            ),
            ("other", "Something else", "Etwas anderes"),
        ];
        Texts {
            title: pick(&self.title, "Before you go", "Bevor Sie gehen"),
            question: pick(&self.question, "What stopped you?", "Was hat Sie aufgehalten?"),
            options: self.options.clone().unwrap_or_else(|| {
                builtin
                    .iter()
                    .map(|(id, en, de_text)| (id.to_string(), if de { de_text } else { en }.to_string()))
                    .collect()
            }),
            text: off(&self.text, "Anything else? (optional)", "Noch etwas? (optional)", true),
            rating: off(&self.rating, "How was your visit? (1–5)", "Wie war Ihr Besuch? (1–5)", false),
            email: off(
                &self.email,
                "Email (optional)",
                "E-Mail (optional)",
                true,
            ),
            consent: pick(
                &self.consent,
                "Yes, you may email me once the problem is fixed. I can withdraw this any time.",
                "Ja, Sie dürfen mir eine E-Mail senden, sobald das Problem behoben ist. Ich kann das jederzeit widerrufen.",
            ),
            consent_version: self.consent_version.clone().unwrap_or_else(|| "default-1".into()),
            submit: pick(&self.submit, "Send", "Senden"),
            close: if de { "Schließen" } else { "Close" }.to_string(),
            thanks: pick(&self.thanks, "Thank you!", "Vielen Dank!"),
            email_error: if de {
                "Bitte eine gültige E-Mail-Adresse eingeben."
            } else {
                "Please enter a valid email address."
            }
            .to_string(),
        }
    }
}

/// What the shopper entered.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FormInput {
    /// Chosen option id.
    pub choice: Option<String>,
    /// Free text as typed.
    pub text: String,
    /// Rating 1..5.
    pub rating: Option<u8>,
    /// Email as typed.
    pub email: String,
    /// Whether the (initially unticked) consent box is ticked.
    pub consent: bool,
}

/// Why the form cannot be sent yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormError {
    /// The box is ticked but the email is missing or invalid.
    Email,
}

/// Build the answer: unknown choices dropped, text cleaned and capped, and
/// the email kept only with ticked consent (with its text and version,
/// verbatim). An email typed without consent is discarded, never sent.
pub fn build_answer(texts: &Texts, input: &FormInput) -> Result<Answer, FormError> {
    let choice = input
        .choice
        .clone()
        .filter(|c| texts.options.iter().any(|(id, _)| id == c));
    let text: String = input
        .text
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .take(MAX_SURVEY_TEXT_CHARS)
        .collect();
    let text = Some(text.trim().to_string()).filter(|t| !t.is_empty() && texts.text.is_some());
    let rating = input
        .rating
        .filter(|r| (1..=5).contains(r) && texts.rating.is_some());
    let email = input.email.trim();
    let (email, consent) = if input.consent && texts.email.is_some() {
        if !is_valid_email(email) {
            return Err(FormError::Email);
        }
        (
            Some(email.to_string()),
            Some(Consent {
                text: texts.consent.clone(),
                version: texts.consent_version.clone(),
            }),
        )
    } else {
        (None, None)
    };
    let answer = Answer {
        choice,
        text,
        rating,
        email,
        consent,
    };
    // Everything above keeps within the shared rules; if a site's consent
    // text broke them, send no contact rather than a refused batch.
    match check_answer(&answer) {
        Ok(()) => Ok(answer),
        Err(_) => Ok(Answer {
            email: None,
            consent: None,
            ..answer
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts() -> Texts {
        SurveyConfig::default().texts(Lang::En)
    }

    #[test]
    fn no_consent_no_email() {
        let input = FormInput {
            choice: Some("broken".into()),
            email: "ann@example.com".into(),
            consent: false,
            ..FormInput::default()
        };
        let a = build_answer(&texts(), &input).unwrap();
        assert_eq!(a.email, None);
        assert_eq!(a.consent, None);
        assert_eq!(a.choice.as_deref(), Some("broken"));
    }

    #[test]
    fn consent_records_text_and_version_verbatim() {
        let mut cfg = SurveyConfig::default();
        cfg.set("-consent", "Mail me — once.").unwrap();
        cfg.set("-consent-version", "2026-11").unwrap();
        let input = FormInput {
            email: "  ann@example.com ".into(),
            consent: true,
            ..FormInput::default()
        };
        let a = build_answer(&cfg.texts(Lang::En), &input).unwrap();
        assert_eq!(a.email.as_deref(), Some("ann@example.com"));
        let c = a.consent.unwrap();
        assert_eq!(
            (c.text.as_str(), c.version.as_str()),
            ("Mail me — once.", "2026-11")
        );
        let bad = FormInput {
            email: "<script>@x".into(),
            consent: true,
            ..FormInput::default()
        };
        assert_eq!(build_answer(&texts(), &bad), Err(FormError::Email));
    }

    #[test]
    fn text_is_capped_and_cleaned() {
        let input = FormInput {
            text: format!("a\u{0}b{}", "x".repeat(5000)),
            choice: Some("not-an-option".into()),
            rating: Some(9),
            ..FormInput::default()
        };
        let a = build_answer(&texts(), &input).unwrap();
        let t = a.text.unwrap();
        assert!(t.starts_with("abx"));
        assert_eq!(t.chars().count(), MAX_SURVEY_TEXT_CHARS);
        assert_eq!(a.choice, None, "unknown choices are dropped");
        assert_eq!(a.rating, None);
        assert!(check_answer(&a_clone(&t)).is_ok());
    }

    fn a_clone(t: &str) -> Answer {
        Answer {
            text: Some(t.to_string()),
            ..Answer::default()
        }
    }

    #[test]
    fn options_and_languages() {
        let mut cfg = SurveyConfig::default();
        cfg.set("-options", "slow:Too slow | pay:Payment failed")
            .unwrap();
        cfg.set("-rating", "on").unwrap();
        cfg.set("-text", "off").unwrap();
        cfg.set("", "always").unwrap();
        cfg.set("-cooldown-days", "3").unwrap();
        let t = cfg.texts(Lang::De);
        assert_eq!(t.options[1], ("pay".into(), "Payment failed".into()));
        assert_eq!(t.title, "Bevor Sie gehen");
        assert!(t.rating.is_some() && t.text.is_none());
        assert_eq!(cfg.mode, Mode::Always);
        assert_eq!(cfg.cooldown(), 3);
        assert_eq!(Lang::from_tag("de-AT"), Lang::De);
        assert_eq!(Lang::from_tag("fr"), Lang::En);
        assert!(cfg.set("-options", "<b>:x").is_err());
        assert!(cfg.set("", "sometimes").is_err());
        assert!(cfg.set("-colour", "x").is_err());
        assert!(cfg.set("-consent-version", "v 1").is_err());
    }
}
