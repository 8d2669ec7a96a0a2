//! Funnel signals derived from watched calls and page paths: cart activity,
//! checkout started, checkout completed.

use steadycart_protocol::{EventBody, Outcome, Role};

/// Funnel state of the current checkout attempt. It outlives the page (the
/// shell keeps it in sessionStorage, see [`Funnel::to_stored`]): the order
/// POST completes on one page and the confirmation page loads next, and the
/// two must count as one completed checkout.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Funnel {
    checkout_started: bool,
    completed: bool,
}

impl Funnel {
    /// Parse the stored form; junk is a fresh funnel.
    pub fn parse(stored: &str) -> Funnel {
        let b = stored.as_bytes();
        Funnel {
            checkout_started: b.first() == Some(&b'1'),
            completed: b.get(1) == Some(&b'1'),
        }
    }

    /// The stored form (two flags, `"10"` = started, not completed).
    pub fn to_stored(&self) -> String {
        let flag = |b| if b { '1' } else { '0' };
        [flag(self.checkout_started), flag(self.completed)]
            .iter()
            .collect()
    }

    /// A watched call started: a checkout or payment call starts a checkout
    /// attempt, unless one is already under way. After a completed attempt,
    /// only the next checkout (order) call starts a new one (a second order):
    /// a payment call after the order call belongs to the same attempt (shops
    /// place the order, then pay for it), so it neither starts an attempt nor
    /// reopens the completed one.
    pub fn on_call_start(&mut self, role: Role) -> Option<EventBody> {
        let new_attempt = match role {
            Role::Checkout => !self.checkout_started || self.completed,
            Role::Payment => !self.checkout_started,
            _ => false,
        };
        if new_attempt {
            self.checkout_started = true;
            self.completed = false;
            return Some(EventBody::CheckoutStarted);
        }
        None
    }

    /// A watched call ended: a successful cart write is cart activity, a
    /// successful non-GET checkout call completes the attempt (once).
    pub fn on_call_end(&mut self, role: Role, method: &str, outcome: Outcome) -> Option<EventBody> {
        let ok = matches!(outcome, Outcome::Ok | Outcome::Slow);
        let write = !method.eq_ignore_ascii_case("GET") && !method.eq_ignore_ascii_case("HEAD");
        match role {
            Role::Cart if ok && write => Some(EventBody::CartActivity),
            Role::Checkout if ok && write && !self.completed => {
                self.completed = true;
                Some(EventBody::CheckoutCompleted { order_id: None })
            }
            _ => None,
        }
    }

    /// The page is at `path`: a confirmation path completes the attempt,
    /// unless the order call already did (or the page is reloaded).
    pub fn on_page(&mut self, path: &str, confirmation_paths: &[String]) -> Option<EventBody> {
        if !self.completed
            && confirmation_paths
                .iter()
                .any(|p| path.starts_with(p.as_str()))
        {
            self.completed = true;
            return Some(EventBody::CheckoutCompleted { order_id: None });
        }
        None
    }

    /// The shop's app says checkout started (`markCheckoutStarted`): the
    /// same rule as a checkout call.
    pub fn start_by_app(&mut self) -> Option<EventBody> {
        self.on_call_start(Role::Checkout)
    }

    /// The shop's app says the order went through (`markCheckoutCompleted`):
    /// completes the attempt once, with the order id when given. A second
    /// call for the same attempt (or after the order call or confirmation
    /// page already did) is ignored.
    pub fn complete_by_app(&mut self, order_id: Option<String>) -> Option<EventBody> {
        if self.completed {
            return None;
        }
        self.completed = true;
        Some(EventBody::CheckoutCompleted { order_id })
    }

    /// Whether the current attempt completed.
    pub fn completed(&self) -> bool {
        self.completed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkout_flow() {
        let mut f = Funnel::default();
        assert_eq!(
            f.on_call_end(Role::Cart, "POST", Outcome::Ok),
            Some(EventBody::CartActivity)
        );
        assert_eq!(f.on_call_end(Role::Cart, "GET", Outcome::Ok), None);
        assert_eq!(
            f.on_call_start(Role::Checkout),
            Some(EventBody::CheckoutStarted)
        );
        assert_eq!(f.on_call_start(Role::Checkout), None, "once");
        assert_eq!(
            f.on_call_end(Role::Checkout, "POST", Outcome::HttpError),
            None
        );
        assert_eq!(
            f.on_call_end(Role::Checkout, "POST", Outcome::Ok),
            Some(EventBody::CheckoutCompleted { order_id: None })
        );
        assert!(f.completed());
        assert_eq!(f.on_call_end(Role::Checkout, "POST", Outcome::Ok), None);
    }

    #[test]
    fn confirmation_page_completes() {
        let mut f = Funnel::default();
        let paths = vec!["/order/confirmed".to_string()];
        assert_eq!(f.on_page("/cart", &paths), None);
        assert!(f.on_page("/order/confirmed/A-1", &paths).is_some());
        assert_eq!(f.on_page("/order/confirmed/A-1", &paths), None);
    }

    /// The known bug: the order POST's 2xx and the confirmation page that
    /// follows it (a new page, state carried in sessionStorage) counted as
    /// two completed checkouts.
    #[test]
    fn order_call_then_confirmation_page_counts_once() {
        let paths = vec!["/order/".to_string()];
        let mut f = Funnel::default();
        assert!(f.on_call_start(Role::Checkout).is_some());
        assert!(f.on_call_end(Role::Checkout, "POST", Outcome::Ok).is_some());
        let mut next_page = Funnel::parse(&f.to_stored());
        assert_eq!(next_page.on_page("/order/A-1", &paths), None);
        // A second order in the same session is a new attempt.
        assert_eq!(
            next_page.on_call_start(Role::Checkout),
            Some(EventBody::CheckoutStarted)
        );
        assert!(next_page.on_page("/order/A-2", &paths).is_some());
    }

    /// The lost fix, redone: the demo store's checkout posts the order, then
    /// the payment, then loads the confirmation page. The payment call after
    /// the order call is the same attempt: one `checkout_started`, one
    /// `checkout_completed`.
    #[test]
    fn payment_after_order_call_is_the_same_attempt() {
        let paths = vec!["/order/".to_string()];
        let mut f = Funnel::default();
        let mut events = Vec::new();
        events.extend(f.on_call_start(Role::Checkout));
        events.extend(f.on_call_end(Role::Checkout, "POST", Outcome::Ok));
        events.extend(f.on_call_start(Role::Payment));
        events.extend(f.on_call_end(Role::Payment, "POST", Outcome::Ok));
        let mut next_page = Funnel::parse(&f.to_stored());
        events.extend(next_page.on_page("/order/A-1", &paths));
        assert_eq!(
            events,
            vec![
                EventBody::CheckoutStarted,
                EventBody::CheckoutCompleted { order_id: None }
            ]
        );
        // A payment retried after a failed payment is still the same attempt.
        assert_eq!(next_page.on_call_start(Role::Payment), None);
        // Payment first (some shops authorise before the order): it starts
        // the attempt and the order call completes it.
        let mut g = Funnel::default();
        assert_eq!(
            g.on_call_start(Role::Payment),
            Some(EventBody::CheckoutStarted)
        );
        assert_eq!(g.on_call_start(Role::Checkout), None);
        assert!(g.on_call_end(Role::Checkout, "POST", Outcome::Ok).is_some());
        // The next order is a new attempt.
        assert_eq!(
            g.on_call_start(Role::Checkout),
            Some(EventBody::CheckoutStarted)
        );
    }

    #[test]
    fn app_marks_count_once() {
        let mut f = Funnel::default();
        assert_eq!(f.start_by_app(), Some(EventBody::CheckoutStarted));
        assert_eq!(f.on_call_start(Role::Checkout), None, "already started");
        assert_eq!(
            f.complete_by_app(Some("A-7".into())),
            Some(EventBody::CheckoutCompleted {
                order_id: Some("A-7".into())
            })
        );
        assert_eq!(f.complete_by_app(Some("A-7".into())), None);
        assert_eq!(f.on_page("/order/A-7", &["/order/".to_string()]), None);
        assert_eq!(f.on_call_end(Role::Checkout, "POST", Outcome::Ok), None);
        assert_eq!(
            f.start_by_app(),
            Some(EventBody::CheckoutStarted),
            "a second order"
        );
    }

    #[test]
    fn stored_form_round_trips_and_junk_is_fresh() {
        let mut f = Funnel::default();
        f.on_call_start(Role::Payment);
        assert_eq!(Funnel::parse(&f.to_stored()), f);
        assert_eq!(Funnel::parse("<x>"), Funnel::default());
    }
}
