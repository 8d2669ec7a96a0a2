//! Survey payloads (`survey_shown`, `survey_dismissed`, `survey_answered`)
//! and the checks both sides apply to them, so the snippet never builds what
//! the collector would reject: [`check_answer`] is the one definition of
//! "valid answer" (text caps, email syntax, no email without consent).
//!
//! A `survey_answered` event, as JSON:
//! ```json
//! {"id":"…","ts":1764333599000,"session":"s_…","page":"/checkout",
//!  "type":"survey_answered","trigger":"pointer_top",
//!  "answer":{"choice":"broken","text":"the pay button did nothing","rating":2,
//!            "email":"ann@example.com",
//!            "consent":{"text":"Yes, email me once it is fixed.","version":"2026-11"}},
//!  "trouble":{"roles":["checkout"],"endpoints":["POST /api/checkout"],
//!             "last_outcome":"http_error","last_status":503}}
//! ```

use serde::{Deserialize, Serialize};

use crate::role::{Outcome, Role};

/// Longest free-text answer, in characters.
pub const MAX_SURVEY_TEXT_CHARS: usize = 1000;
/// Longest email address (RFC 5321 path limit).
pub const MAX_EMAIL_LEN: usize = 254;
/// Longest consent text, in characters.
pub const MAX_CONSENT_TEXT_CHARS: usize = 1000;
/// Longest consent version, choice id or trigger.
pub const MAX_SURVEY_TOKEN_LEN: usize = 64;
/// Most endpoints listed in a trouble context.
pub const MAX_TROUBLE_ENDPOINTS: usize = 8;

/// What the session ran into before the survey: lets answers be linked to
/// incidents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trouble {
    /// Roles whose calls failed or stalled, first trouble first.
    #[serde(default)]
    pub roles: Vec<Role>,
    /// `"METHOD /path"` of the failing calls (no query), at most
    /// [`MAX_TROUBLE_ENDPOINTS`].
    #[serde(default)]
    pub endpoints: Vec<String>,
    /// The last troubled call's outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_outcome: Option<Outcome>,
    /// The last troubled call's HTTP status, if a response arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status: Option<u16>,
}

/// The consent the shopper gave, recorded verbatim as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    /// The checkbox label exactly as displayed.
    pub text: String,
    /// The site's version of that text. `"2026-11"`.
    pub version: String,
}

/// The shopper's answers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// Id of the chosen option of "What stopped you?". `"broken"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choice: Option<String>,
    /// Free text, at most [`MAX_SURVEY_TEXT_CHARS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Rating 1 to 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<u8>,
    /// Email, only together with [`Answer::consent`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Consent to be emailed, when the box was ticked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<Consent>,
}

/// Why an answer is refused, and which field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerError {
    /// Field under `answer` (`"email"`, `"text"`, …).
    pub field: &'static str,
    /// What is wrong.
    pub message: &'static str,
}

fn err(field: &'static str, message: &'static str) -> AnswerError {
    AnswerError { field, message }
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_SURVEY_TOKEN_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Whether `s` is a plausible email address: one `@`, a local part of
/// printable ASCII without spaces, quotes or angle brackets (≤ 64), a domain
/// of dot-separated LDH labels with a dot, at most [`MAX_EMAIL_LEN`] bytes.
/// Deliberately strict: anything that could be markup is refused.
pub fn is_valid_email(s: &str) -> bool {
    if s.len() > MAX_EMAIL_LEN {
        return false;
    }
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        // Bytes, not `contains(".."`): no substring searcher in the snippet.
        && !local.as_bytes().windows(2).any(|w| w == b"..")
        && local.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'.' | b'!'
                        | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'/'
                        | b'='
                        | b'?'
                        | b'^'
                        | b'_'
                        | b'{'
                        | b'|'
                        | b'}'
                        | b'~'
                        | b'\''
                )
        });
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && !tld.bytes().all(|b| b.is_ascii_digit()));
    local_ok && domain_ok
}

/// Check an answer: caps, rating range, email syntax, consent complete, and
/// no email without consent.
pub fn check_answer(a: &Answer) -> Result<(), AnswerError> {
    if let Some(choice) = &a.choice {
        if !is_token(choice) {
            return Err(err("choice", "must be 1-64 characters of [0-9A-Za-z_.-]"));
        }
    }
    if let Some(text) = &a.text {
        if text.chars().count() > MAX_SURVEY_TEXT_CHARS {
            return Err(err("text", "longer than 1000 characters"));
        }
        if text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(err("text", "control characters are not allowed"));
        }
    }
    if let Some(r) = a.rating {
        if !(1..=5).contains(&r) {
            return Err(err("rating", "must be 1 to 5"));
        }
    }
    if let Some(c) = &a.consent {
        if c.text.trim().is_empty() || c.text.chars().count() > MAX_CONSENT_TEXT_CHARS {
            return Err(err("consent.text", "must be 1-1000 characters"));
        }
        if !is_token(&c.version) {
            return Err(err(
                "consent.version",
                "must be 1-64 characters of [0-9A-Za-z_.-]",
            ));
        }
    }
    if let Some(email) = &a.email {
        if a.consent.is_none() {
            return Err(err("email", "an email requires consent"));
        }
        if !is_valid_email(email) {
            return Err(err("email", "not a valid email address"));
        }
    }
    Ok(())
}

/// Check an `identify` event (`Steadycart.identify(email, consent)`): a
/// valid email with complete consent, by the same rules as a survey
/// answer's contact. The field names `email` or `consent.text` /
/// `consent.version`.
pub fn check_identify(email: &str, consent: &Consent) -> Result<(), AnswerError> {
    check_answer(&Answer {
        email: Some(email.to_string()),
        consent: Some(consent.clone()),
        ..Answer::default()
    })
}

/// Check a trouble context's sizes.
pub fn check_trouble(t: &Trouble) -> Result<(), AnswerError> {
    if t.endpoints.len() > MAX_TROUBLE_ENDPOINTS || t.roles.len() > 4 {
        return Err(err("trouble", "too many entries"));
    }
    if t.endpoints
        .iter()
        .any(|e| e.len() > crate::limits::MAX_SHORT_LEN)
    {
        return Err(err("trouble.endpoints", "entry longer than 256 bytes"));
    }
    if t.last_status.is_some_and(|s| !(100..=599).contains(&s)) {
        return Err(err("trouble.last_status", "not an HTTP status"));
    }
    Ok(())
}

/// Whether `s` is a valid trigger or dismissal reason token.
pub fn is_valid_token(s: &str) -> bool {
    is_token(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in ["ann@example.com", "a.b+tag@shop.co.uk", "x_y@a-b.io"] {
            assert!(is_valid_email(ok), "{ok}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@localhost",
            "ann@@example.com",
            "a b@example.com",
            "<script>@example.com",
            "ann@example.com<script>alert(1)</script>",
            "ann@-x.com",
            "ann@x.123",
            ".ann@example.com",
            "an..n@example.com",
            "\"ann\"@example.com",
            long.as_str(),
        ] {
            assert!(!is_valid_email(bad), "{bad}");
        }
    }

    fn consent() -> Option<Consent> {
        Some(Consent {
            text: "Email me".into(),
            version: "v1".into(),
        })
    }

    #[test]
    fn email_needs_consent() {
        let mut a = Answer {
            email: Some("ann@example.com".into()),
            ..Answer::default()
        };
        assert_eq!(check_answer(&a).unwrap_err().field, "email");
        a.consent = consent();
        assert!(check_answer(&a).is_ok());
        a.consent.as_mut().unwrap().version = "<b>".into();
        assert_eq!(check_answer(&a).unwrap_err().field, "consent.version");
    }

    #[test]
    fn identify_needs_valid_email_and_consent() {
        let c = consent().unwrap();
        assert!(check_identify("ann@example.com", &c).is_ok());
        assert_eq!(check_identify("<script>", &c).unwrap_err().field, "email");
        let blank = Consent {
            text: " ".into(),
            version: "v1".into(),
        };
        assert_eq!(
            check_identify("ann@example.com", &blank).unwrap_err().field,
            "consent.text"
        );
    }

    #[test]
    fn caps_and_ranges() {
        let a = Answer {
            text: Some("é".repeat(MAX_SURVEY_TEXT_CHARS)),
            rating: Some(5),
            choice: Some("price".into()),
            ..Answer::default()
        };
        assert!(check_answer(&a).is_ok(), "the cap counts characters");
        let long = Answer {
            text: Some("x".repeat(MAX_SURVEY_TEXT_CHARS + 1)),
            ..Answer::default()
        };
        assert_eq!(check_answer(&long).unwrap_err().field, "text");
        let bad = Answer {
            rating: Some(0),
            ..Answer::default()
        };
        assert_eq!(check_answer(&bad).unwrap_err().field, "rating");
        let bad = Answer {
            choice: Some("<script>".into()),
            ..Answer::default()
        };
        assert_eq!(check_answer(&bad).unwrap_err().field, "choice");
        let bad = Answer {
            text: Some("nul\u{0}byte".into()),
            ..Answer::default()
        };
        assert_eq!(check_answer(&bad).unwrap_err().field, "text");
    }
}
