//! When the exit survey may show, and the session's trouble context that
//! travels with its events. Pure: the shell supplies what it sees.
//!
//! Rules, in order: never when switched off (site mode `never` or the
//! remote switch off), never after `checkout_completed`, never twice in a
//! session, never inside the cross-session cooldown (kept in localStorage),
//! never while our own modal or a native `<dialog>` is open, and in mode
//! `trouble` (the default) only after an error or stall on a watched call.

use steadycart_protocol::{
    survey::{Trouble, MAX_TROUBLE_ENDPOINTS},
    Outcome, Role,
};

/// Site setting `data-survey`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Only after trouble on cart/checkout/payment/price (default).
    #[default]
    Trouble,
    /// To every leaving shopper.
    Always,
    /// Never.
    Never,
}

impl Mode {
    /// Parse `trouble`, `always`, `never`.
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "trouble" => Some(Mode::Trouble),
            "always" => Some(Mode::Always),
            "never" | "off" => Some(Mode::Never),
            _ => None,
        }
    }
}

/// What the shell knows when an intent fires.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Situation {
    /// The site's mode.
    pub mode: Mode,
    /// The remote `survey enabled` switch, when remote config provides one.
    pub remote_enabled: Option<bool>,
    /// Whether the session had trouble.
    pub had_trouble: bool,
    /// Whether the checkout attempt completed.
    pub checkout_completed: bool,
    /// Whether the survey was shown in this session already.
    pub shown_this_session: bool,
    /// Cooldown end from localStorage (ms since epoch), if any.
    pub cooldown_until: Option<f64>,
    /// Now (ms since epoch).
    pub now: f64,
    /// Whether our own modal is open.
    pub modal_open: bool,
    /// Whether a native dialog (`dialog[open]`) is open.
    pub native_dialog_open: bool,
}

/// Why the survey is not shown (useful in tests and debugging).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// Mode `never` or the remote switch is off.
    Disabled,
    /// Checkout completed.
    Completed,
    /// Already shown in this session.
    AlreadyShown,
    /// Inside the cross-session cooldown.
    Cooldown,
    /// A modal or dialog is open.
    DialogOpen,
    /// Mode `trouble` and the session had none.
    NoTrouble,
}

/// Decide whether to show the survey.
pub fn decide(s: &Situation) -> Result<(), Skip> {
    if s.mode == Mode::Never || s.remote_enabled == Some(false) {
        return Err(Skip::Disabled);
    }
    if s.checkout_completed {
        return Err(Skip::Completed);
    }
    if s.shown_this_session {
        return Err(Skip::AlreadyShown);
    }
    if s.cooldown_until.is_some_and(|until| s.now < until) {
        return Err(Skip::Cooldown);
    }
    if s.modal_open || s.native_dialog_open {
        return Err(Skip::DialogOpen);
    }
    if s.mode == Mode::Trouble && !s.had_trouble {
        return Err(Skip::NoTrouble);
    }
    Ok(())
}

/// Parse the stored cooldown end (ms since epoch as text); junk is none.
pub fn parse_cooldown(stored: &str) -> Option<f64> {
    // Integers only: float parsing and printing would cost kilobytes of wasm.
    crate::config::parse_uint(stored.trim()).map(|v| v as f64)
}

/// The stored cooldown end after a survey shown at `now`.
pub fn cooldown_value(now: f64, cooldown_days: u32) -> String {
    let mut out = String::new();
    crate::event_json::push_int(
        &mut out,
        (now.max(0.0) as i64).saturating_add(i64::from(cooldown_days) * 86_400_000),
    );
    out
}

/// The session's trouble so far, kept in sessionStorage between pages.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TroubleLog {
    trouble: Trouble,
}

impl TroubleLog {
    /// Record a call's outcome; true when it was trouble.
    pub fn on_call(
        &mut self,
        role: Role,
        outcome: Outcome,
        method: &str,
        path: &str,
        status: Option<u16>,
    ) -> bool {
        if !outcome.is_trouble() {
            return false;
        }
        let t = &mut self.trouble;
        if !t.roles.contains(&role) {
            t.roles.push(role);
        }
        let endpoint = crate::config::cap_chars(&[method, " ", path].concat(), 200);
        if !t.endpoints.contains(&endpoint) && t.endpoints.len() < MAX_TROUBLE_ENDPOINTS {
            t.endpoints.push(endpoint);
        }
        t.last_outcome = Some(outcome);
        t.last_status = status;
        true
    }

    /// Whether anything went wrong.
    pub fn any(&self) -> bool {
        !self.trouble.roles.is_empty()
    }

    /// The context sent with survey events.
    pub fn context(&self) -> Trouble {
        self.trouble.clone()
    }

    /// Stored form: `roles|outcome|status|endpoint\tendpoint…`.
    pub fn to_stored(&self) -> String {
        let t = &self.trouble;
        let mut out = t
            .roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(",");
        out.push('|');
        out.push_str(t.last_outcome.map_or("", |o| o.as_str()));
        out.push('|');
        if let Some(s) = t.last_status {
            crate::event_json::push_int(&mut out, s.into());
        }
        out.push('|');
        out.push_str(&t.endpoints.join("\t"));
        out
    }

    /// Parse the stored form; junk gives an empty log.
    pub fn parse(stored: &str) -> TroubleLog {
        let mut parts = stored.splitn(4, '|');
        let roles = parts.next().unwrap_or("");
        let outcome = parts.next().unwrap_or("");
        let status = parts.next().unwrap_or("");
        let endpoints = parts.next().unwrap_or("");
        TroubleLog {
            trouble: Trouble {
                roles: roles.split(',').filter_map(Role::parse).take(4).collect(),
                endpoints: endpoints
                    .split('\t')
                    .filter(|e| !e.is_empty())
                    .take(MAX_TROUBLE_ENDPOINTS)
                    .map(String::from)
                    .collect(),
                last_outcome: outcome_parse(outcome),
                last_status: crate::config::parse_uint(status).and_then(|s| u16::try_from(s).ok()),
            },
        }
    }
}

fn outcome_parse(s: &str) -> Option<Outcome> {
    [
        Outcome::HttpError,
        Outcome::NetworkError,
        Outcome::Stall,
        Outcome::AppError,
        Outcome::Slow,
        Outcome::Aborted,
        Outcome::Ok,
    ]
    .into_iter()
    .find(|o| o.as_str() == s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn troubled() -> Situation {
        Situation {
            had_trouble: true,
            now: 1_000_000.0,
            ..Situation::default()
        }
    }

    #[test]
    fn default_mode_needs_trouble() {
        assert_eq!(decide(&troubled()), Ok(()));
        let healthy = Situation {
            had_trouble: false,
            ..troubled()
        };
        assert_eq!(decide(&healthy), Err(Skip::NoTrouble));
        let always = Situation {
            mode: Mode::Always,
            ..healthy
        };
        assert_eq!(decide(&always), Ok(()));
    }

    #[test]
    fn switches_and_blockers() {
        let never = Situation {
            mode: Mode::Never,
            ..troubled()
        };
        assert_eq!(decide(&never), Err(Skip::Disabled));
        let remote_off = Situation {
            remote_enabled: Some(false),
            mode: Mode::Always,
            ..troubled()
        };
        assert_eq!(decide(&remote_off), Err(Skip::Disabled));
        let remote_on = Situation {
            remote_enabled: Some(true),
            ..troubled()
        };
        assert_eq!(decide(&remote_on), Ok(()));
        let completed = Situation {
            checkout_completed: true,
            ..troubled()
        };
        assert_eq!(decide(&completed), Err(Skip::Completed));
        let shown = Situation {
            shown_this_session: true,
            ..troubled()
        };
        assert_eq!(decide(&shown), Err(Skip::AlreadyShown));
        let dialog = Situation {
            native_dialog_open: true,
            ..troubled()
        };
        assert_eq!(decide(&dialog), Err(Skip::DialogOpen));
        let modal = Situation {
            modal_open: true,
            ..troubled()
        };
        assert_eq!(decide(&modal), Err(Skip::DialogOpen));
    }

    #[test]
    fn cooldown_spans_sessions() {
        let stored = cooldown_value(1_000_000.0, 7);
        let until = parse_cooldown(&stored);
        assert_eq!(until, Some(1_000_000.0 + 7.0 * 86_400_000.0));
        let inside = Situation {
            cooldown_until: until,
            now: 1_000_000.0 + 6.0 * 86_400_000.0,
            ..troubled()
        };
        assert_eq!(decide(&inside), Err(Skip::Cooldown));
        let after = Situation {
            now: 1_000_000.0 + 8.0 * 86_400_000.0,
            ..inside
        };
        assert_eq!(decide(&after), Ok(()));
        assert_eq!(parse_cooldown("junk"), None);
    }

    #[test]
    fn trouble_log_collects_and_round_trips() {
        let mut log = TroubleLog::default();
        assert!(!log.on_call(Role::Cart, Outcome::Ok, "POST", "/api/cart", Some(200)));
        assert!(!log.any());
        assert!(log.on_call(
            Role::Checkout,
            Outcome::HttpError,
            "POST",
            "/api/checkout",
            Some(503)
        ));
        assert!(log.on_call(
            Role::Checkout,
            Outcome::HttpError,
            "POST",
            "/api/checkout",
            Some(502)
        ));
        assert!(log.on_call(Role::Price, Outcome::Stall, "GET", "/api/price/a", None));
        let t = log.context();
        assert_eq!(t.roles, vec![Role::Checkout, Role::Price]);
        assert_eq!(t.endpoints, vec!["POST /api/checkout", "GET /api/price/a"]);
        assert_eq!(t.last_outcome, Some(Outcome::Stall));
        assert_eq!(t.last_status, None);
        assert_eq!(TroubleLog::parse(&log.to_stored()), log);
        assert_eq!(TroubleLog::parse("garbage"), TroubleLog::default());
        for i in 0..20 {
            log.on_call(Role::Price, Outcome::Stall, "GET", &format!("/p/{i}"), None);
        }
        assert_eq!(log.context().endpoints.len(), MAX_TROUBLE_ENDPOINTS);
    }
}
