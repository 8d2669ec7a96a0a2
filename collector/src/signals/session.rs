//! The session model: what one shopper session did, folded from its events
//! in the order the collector received them. Pure; the rollup keeps these in
//! memory (tests, drills) or in `signal_sessions` (the collector).
//!
//! A session *ends* at most once: **completed** when checkout completes, or
//! **abandoned** when checkout started without completion and then either the
//! page was left (a `page_exit` followed by nothing for `exit_grace`: moving
//! from the cart page to the checkout page is not leaving) or nothing was
//! heard for `inactivity` (30 min by default).

use serde::{Deserialize, Serialize};
use steadycart_protocol::{Event, EventBody};

use super::rollup::endpoint_key;

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    /// Checkout completed.
    Completed,
    /// Checkout started, then the shopper left.
    Abandoned,
}

/// Timing of the session model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTiming {
    /// Quiet time after a page exit that makes it final, ms.
    pub exit_grace_ms: i64,
    /// Quiet time after which a started checkout counts as abandoned, ms.
    pub inactivity_ms: i64,
}

/// The first trouble a session met: what the incident view shows as cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trouble {
    /// `"POST /api/checkout"`.
    pub endpoint: String,
    /// `"503"`, `"network_error"`, `"stall"`, `"app_error"`.
    pub status: String,
}

/// One session's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionState {
    /// First event received, ms.
    pub first_seen: i64,
    /// Latest event received, ms.
    pub last_seen: i64,
    /// The latest event was a page exit.
    pub exited: bool,
    /// Touched the cart.
    pub cart: bool,
    /// Checkout started at, ms.
    pub checkout_at: Option<i64>,
    /// How and when it ended.
    pub ended: Option<(Ending, i64)>,
    /// Calls that went wrong (errors and stalls).
    pub trouble_count: u32,
    /// The first trouble seen (the likeliest cause).
    pub first_trouble: Option<Trouble>,
    /// The shopper answered the exit survey.
    #[serde(default)]
    pub survey_answered: bool,
}

/// What applying one event changed, for the rollup's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    /// The session is new.
    pub new_session: bool,
    /// Checkout started with this event.
    pub checkout_started: bool,
    /// The session ended with this event.
    pub ended: Option<Ending>,
}

/// Trouble label of a call outcome, or `None` when it went fine.
pub fn trouble_label(call: &steadycart_protocol::CallEvent) -> Option<String> {
    use steadycart_protocol::Outcome;
    match call.outcome {
        Outcome::HttpError => Some(call.status.map_or("http_error".into(), |s| s.to_string())),
        Outcome::NetworkError | Outcome::Stall | Outcome::AppError => {
            Some(call.outcome.as_str().to_string())
        }
        Outcome::Ok | Outcome::Slow | Outcome::Aborted => None,
    }
}

impl SessionState {
    /// A session first heard of at `at`.
    pub fn new(at: i64) -> Self {
        Self {
            first_seen: at,
            last_seen: at,
            exited: false,
            cart: false,
            checkout_at: None,
            ended: None,
            trouble_count: 0,
            first_trouble: None,
            survey_answered: false,
        }
    }

    /// Fold in `event`, received at `at`.
    pub fn apply(&mut self, event: &Event, at: i64) -> Applied {
        let mut applied = Applied::default();
        self.last_seen = self.last_seen.max(at);
        self.exited = matches!(event.body, EventBody::PageExit);
        match &event.body {
            EventBody::CartActivity => self.cart = true,
            EventBody::CartSnapshot(c) if !c.items.is_empty() => self.cart = true,
            EventBody::SurveyAnswered { .. } => self.survey_answered = true,
            EventBody::CheckoutStarted if self.checkout_at.is_none() && self.ended.is_none() => {
                self.checkout_at = Some(at);
                applied.checkout_started = true;
            }
            EventBody::CheckoutCompleted { .. } if self.ended.is_none() => {
                // A completion without a seen start still completes.
                if self.checkout_at.is_none() {
                    self.checkout_at = Some(at);
                    applied.checkout_started = true;
                }
                self.ended = Some((Ending::Completed, at));
                applied.ended = Some(Ending::Completed);
            }
            EventBody::Call(call) => {
                if let Some(status) = trouble_label(call) {
                    self.trouble_count += 1;
                    if self.first_trouble.is_none() {
                        self.first_trouble = Some(Trouble {
                            endpoint: endpoint_key(&call.method, &call.url),
                            status,
                        });
                    }
                }
            }
            _ => {}
        }
        applied
    }

    /// When the session will count as abandoned if nothing else arrives, or
    /// `None` when it can't be abandoned (no checkout, or already ended).
    pub fn due_at(&self, t: &SessionTiming) -> Option<i64> {
        if self.ended.is_some() || self.checkout_at.is_none() {
            return None;
        }
        Some(if self.exited {
            self.last_seen + t.exit_grace_ms
        } else {
            self.last_seen + t.inactivity_ms
        })
    }

    /// Mark abandoned if it is due by `now`; returns whether it was.
    pub fn settle(&mut self, now: i64, t: &SessionTiming) -> bool {
        match self.due_at(t) {
            Some(due) if due <= now => {
                self.ended = Some((Ending::Abandoned, due));
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use steadycart_protocol::{CallEvent, Outcome, Role};

    const T: SessionTiming = SessionTiming {
        exit_grace_ms: 30_000,
        inactivity_ms: 1_800_000,
    };

    fn ev(body: EventBody) -> Event {
        Event {
            id: "0".repeat(32),
            ts: 0,
            session: "s_1".into(),
            page: None,
            body,
        }
    }

    fn failed_checkout() -> Event {
        ev(EventBody::Call(CallEvent {
            role: Role::Checkout,
            outcome: Outcome::HttpError,
            method: "POST".into(),
            url: "https://shop.example/api/checkout".into(),
            status: Some(503),
            duration_ms: 80,
            sku: None,
        }))
    }

    #[test]
    fn navigating_between_pages_is_not_abandoning() {
        let mut s = SessionState::new(0);
        s.apply(&ev(EventBody::CheckoutStarted), 1_000);
        s.apply(&ev(EventBody::PageExit), 2_000);
        assert_eq!(s.due_at(&T), Some(32_000));
        // The next page's events arrive within the grace.
        s.apply(&ev(EventBody::CheckoutCompleted { order_id: None }), 5_000);
        assert!(!s.settle(100_000_000, &T));
        assert_eq!(s.ended, Some((Ending::Completed, 5_000)));
    }

    #[test]
    fn exit_after_trouble_is_abandonment_after_the_grace() {
        let mut s = SessionState::new(0);
        assert!(
            s.apply(&ev(EventBody::CheckoutStarted), 1_000)
                .checkout_started
        );
        s.apply(&failed_checkout(), 1_500);
        s.apply(&ev(EventBody::PageExit), 2_000);
        assert!(!s.settle(31_999, &T));
        assert!(s.settle(32_000, &T));
        assert_eq!(s.ended, Some((Ending::Abandoned, 32_000)));
        let cause = s.first_trouble.clone().unwrap();
        assert_eq!(cause.endpoint, "POST /api/checkout");
        assert_eq!(cause.status, "503");
        // Ends once: a late completion changes nothing.
        assert_eq!(
            s.apply(&ev(EventBody::CheckoutCompleted { order_id: None }), 40_000)
                .ended,
            None
        );
    }

    #[test]
    fn a_survey_answer_is_remembered() {
        let mut s = SessionState::new(0);
        let answered: Event = serde_json::from_value(serde_json::json!({
            "id": "0".repeat(32), "ts": 0, "session": "s_1", "type": "survey_answered",
            "trigger": "pointer_top", "answer": {"choice": "price"}
        }))
        .unwrap();
        s.apply(&answered, 10);
        assert!(s.survey_answered);
    }

    #[test]
    fn inactivity_abandons_a_started_checkout_but_not_a_browse() {
        let mut browse = SessionState::new(0);
        browse.apply(&ev(EventBody::CartActivity), 10);
        assert_eq!(browse.due_at(&T), None);
        let mut s = SessionState::new(0);
        s.apply(&ev(EventBody::CheckoutStarted), 10);
        assert!(!s.settle(1_800_009, &T));
        assert!(s.settle(1_800_010, &T));
    }
}
