//! Which fallback message is visible per role, without flapping: a message
//! shows on the first trouble, stays at least [`FallbackBoard::min_visible_ms`],
//! and hides only after the role has been healthy for
//! [`FallbackBoard::settle_ms`] with no new trouble.

use steadycart_protocol::{Outcome, Role};

use crate::config::idx;

/// A change the UI should make.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Change {
    /// Show the role's message now.
    Show {
        /// Role in trouble.
        role: Role,
        /// The outcome that caused it.
        reason: Outcome,
    },
    /// Ask [`FallbackBoard::hide_due`] again after this many ms.
    CheckLater {
        /// Role to re-check.
        role: Role,
        /// Delay in ms.
        after_ms: f64,
    },
    /// Hide the role's message now.
    Hide {
        /// Role that recovered.
        role: Role,
    },
}

#[derive(Debug, Clone, Copy)]
struct Shown {
    since: f64,
    healthy_since: Option<f64>,
}

/// Visible fallback messages and their timing.
#[derive(Debug, Clone)]
pub struct FallbackBoard {
    shown: [Option<Shown>; 4],
    /// Shortest time a message stays up, ms.
    pub min_visible_ms: f64,
    /// How long a role must stay healthy before its message hides, ms.
    pub settle_ms: f64,
}

impl Default for FallbackBoard {
    fn default() -> Self {
        Self {
            shown: [None; 4],
            min_visible_ms: 2500.0,
            settle_ms: 1000.0,
        }
    }
}

impl FallbackBoard {
    /// Feed a call outcome at time `now` (ms).
    pub fn on_outcome(&mut self, role: Role, outcome: Outcome, now: f64) -> Option<Change> {
        let slot = &mut self.shown[idx(role)];
        if outcome.is_trouble() {
            return match slot {
                Some(s) => {
                    s.healthy_since = None;
                    None
                }
                None => {
                    *slot = Some(Shown {
                        since: now,
                        healthy_since: None,
                    });
                    Some(Change::Show {
                        role,
                        reason: outcome,
                    })
                }
            };
        }
        if !matches!(outcome, Outcome::Ok | Outcome::Slow) {
            return None;
        }
        let s = slot.as_mut()?;
        s.healthy_since.get_or_insert(now);
        Some(Change::CheckLater {
            role,
            after_ms: self.wait_ms(role, now),
        })
    }

    fn wait_ms(&self, role: Role, now: f64) -> f64 {
        match self.shown[idx(role)] {
            Some(Shown {
                since,
                healthy_since: Some(h),
            }) => (since + self.min_visible_ms - now)
                .max(h + self.settle_ms - now)
                .max(0.0),
            _ => 0.0,
        }
    }

    /// Re-check a role at `now`: hide it if it has recovered long enough.
    pub fn hide_due(&mut self, role: Role, now: f64) -> Option<Change> {
        let s = self.shown[idx(role)]?;
        s.healthy_since?;
        let wait = self.wait_ms(role, now);
        if wait > 0.0 {
            return Some(Change::CheckLater {
                role,
                after_ms: wait,
            });
        }
        self.shown[idx(role)] = None;
        Some(Change::Hide { role })
    }

    /// The shopper dismissed the role's message.
    pub fn dismiss(&mut self, role: Role) -> bool {
        self.shown[idx(role)].take().is_some()
    }

    /// Whether the role's message is up.
    pub fn is_shown(&self, role: Role) -> bool {
        self.shown[idx(role)].is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_once_and_hides_after_recovery() {
        let mut b = FallbackBoard::default();
        assert_eq!(
            b.on_outcome(Role::Checkout, Outcome::HttpError, 0.0),
            Some(Change::Show {
                role: Role::Checkout,
                reason: Outcome::HttpError
            })
        );
        assert_eq!(
            b.on_outcome(Role::Checkout, Outcome::Stall, 10.0),
            None,
            "already shown"
        );
        // Recovery early: wait for the minimum display time.
        assert_eq!(
            b.on_outcome(Role::Checkout, Outcome::Ok, 500.0),
            Some(Change::CheckLater {
                role: Role::Checkout,
                after_ms: 2000.0
            })
        );
        assert!(matches!(
            b.hide_due(Role::Checkout, 1000.0),
            Some(Change::CheckLater { .. })
        ));
        assert_eq!(
            b.hide_due(Role::Checkout, 2500.0),
            Some(Change::Hide {
                role: Role::Checkout
            })
        );
        assert!(!b.is_shown(Role::Checkout));
    }

    #[test]
    fn new_trouble_cancels_a_pending_hide() {
        let mut b = FallbackBoard::default();
        b.on_outcome(Role::Price, Outcome::Stall, 0.0);
        b.on_outcome(Role::Price, Outcome::Ok, 3000.0);
        b.on_outcome(Role::Price, Outcome::NetworkError, 3500.0);
        assert_eq!(
            b.hide_due(Role::Price, 4000.0),
            None,
            "trouble again: stays up"
        );
        assert!(b.is_shown(Role::Price));
        // Healthy again, settles after settle_ms.
        assert!(
            matches!(b.on_outcome(Role::Price, Outcome::Ok, 5000.0), Some(Change::CheckLater { after_ms, .. }) if after_ms == 1000.0)
        );
        assert_eq!(
            b.hide_due(Role::Price, 6000.0),
            Some(Change::Hide { role: Role::Price })
        );
    }

    #[test]
    fn healthy_calls_without_message_do_nothing() {
        let mut b = FallbackBoard::default();
        assert_eq!(b.on_outcome(Role::Cart, Outcome::Ok, 0.0), None);
        assert_eq!(b.on_outcome(Role::Cart, Outcome::Aborted, 0.0), None);
        assert_eq!(b.hide_due(Role::Cart, 0.0), None);
    }

    #[test]
    fn dismiss_removes() {
        let mut b = FallbackBoard::default();
        b.on_outcome(Role::Cart, Outcome::HttpError, 0.0);
        assert!(b.dismiss(Role::Cart));
        assert!(!b.dismiss(Role::Cart));
    }
}
