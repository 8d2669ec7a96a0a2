//! Funnel signals derived from watched calls and page paths: cart activity,
//! checkout started, checkout completed.
//!
//! When a checkout completes ([`Completion`]): on the confirmation page
//! (`data-confirmation`), when the shop's app says so, or by watched calls —
//! the order call's 2xx when the shop watches no payment call; when it does
//! (`data-payment` rules), the order call's 2xx *and* the payment call's 2xx
//! in the same attempt, in either order. An order accepted whose payment then
//! hangs or fails is not a completed checkout: that shopper is exactly the
//! one the exit survey and cart recovery exist for.

use steadycart_protocol::{EventBody, Outcome, Role};

/// Funnel state of the current checkout attempt. It outlives the page (the
/// shell keeps it in sessionStorage, see [`Funnel::to_stored`]): the order
/// POST completes on one page and the confirmation page loads next, and the
/// two must count as one completed checkout.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Funnel {
    checkout_started: bool,
    completed: bool,
    /// The order (checkout write) call succeeded in this attempt.
    order_ok: bool,
    /// The payment call succeeded in this attempt.
    payment_ok: bool,
}

/// Which watched calls complete a checkout attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// The order call's 2xx (no payment call is watched).
    Order,
    /// The order call's 2xx and the payment call's 2xx, in either order.
    OrderAndPayment,
}

impl Completion {
    /// The rule for a shop: with payment rules, the payment must go through.
    pub fn for_rules(watches_payment: bool) -> Completion {
        if watches_payment {
            Completion::OrderAndPayment
        } else {
            Completion::Order
        }
    }
}

impl Funnel {
    /// Parse the stored form; junk is a fresh funnel.
    pub fn parse(stored: &str) -> Funnel {
        let b = stored.as_bytes();
        Funnel {
            checkout_started: b.first() == Some(&b'1'),
            completed: b.get(1) == Some(&b'1'),
            order_ok: b.get(2) == Some(&b'1'),
            payment_ok: b.get(3) == Some(&b'1'),
        }
    }

    /// The stored form: four flags — started, completed, order call ok,
    /// payment call ok (`"1010"` = started, order placed, not paid). The
    /// older two-flag form parses with both calls not yet ok.
    pub fn to_stored(&self) -> String {
        let flag = |b| if b { '1' } else { '0' };
        [
            flag(self.checkout_started),
            flag(self.completed),
            flag(self.order_ok),
            flag(self.payment_ok),
        ]
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
            self.order_ok = false;
            self.payment_ok = false;
            return Some(EventBody::CheckoutStarted);
        }
        None
    }

    /// A watched call ended: a successful cart write is cart activity; a
    /// successful non-GET checkout (order) call, and under
    /// [`Completion::OrderAndPayment`] a successful payment call too,
    /// complete the attempt (once).
    pub fn on_call_end(
        &mut self,
        role: Role,
        method: &str,
        outcome: Outcome,
        rule: Completion,
    ) -> Option<EventBody> {
        let ok = matches!(outcome, Outcome::Ok | Outcome::Slow);
        let write = !method.eq_ignore_ascii_case("GET") && !method.eq_ignore_ascii_case("HEAD");
        match role {
            Role::Cart if ok && write => return Some(EventBody::CartActivity),
            Role::Checkout if ok && write => self.order_ok = true,
            Role::Payment if ok && write => self.payment_ok = true,
            _ => return None,
        }
        let done = match rule {
            Completion::Order => self.order_ok,
            Completion::OrderAndPayment => self.order_ok && self.payment_ok,
        };
        if done && !self.completed {
            self.completed = true;
            return Some(EventBody::CheckoutCompleted { order_id: None });
        }
        None
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
            f.on_call_end(Role::Cart, "POST", Outcome::Ok, Completion::Order),
            Some(EventBody::CartActivity)
        );
        assert_eq!(
            f.on_call_end(Role::Cart, "GET", Outcome::Ok, Completion::Order),
            None
        );
        assert_eq!(
            f.on_call_start(Role::Checkout),
            Some(EventBody::CheckoutStarted)
        );
        assert_eq!(f.on_call_start(Role::Checkout), None, "once");
        assert_eq!(
            f.on_call_end(
                Role::Checkout,
                "POST",
                Outcome::HttpError,
                Completion::Order
            ),
            None
        );
        assert_eq!(
            f.on_call_end(Role::Checkout, "POST", Outcome::Ok, Completion::Order),
            Some(EventBody::CheckoutCompleted { order_id: None })
        );
        assert!(f.completed());
        assert_eq!(
            f.on_call_end(Role::Checkout, "POST", Outcome::Ok, Completion::Order),
            None
        );
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
        assert!(f
            .on_call_end(Role::Checkout, "POST", Outcome::Ok, Completion::Order)
            .is_some());
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
        let both = Completion::OrderAndPayment;
        let paths = vec!["/order/".to_string()];
        let mut f = Funnel::default();
        let mut events = Vec::new();
        events.extend(f.on_call_start(Role::Checkout));
        events.extend(f.on_call_end(Role::Checkout, "POST", Outcome::Ok, both));
        assert_eq!(events.len(), 1, "order placed, not paid yet: {events:?}");
        events.extend(f.on_call_start(Role::Payment));
        events.extend(f.on_call_end(Role::Payment, "POST", Outcome::Ok, both));
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
        assert_eq!(
            g.on_call_end(Role::Payment, "POST", Outcome::Ok, both),
            None
        );
        assert_eq!(g.on_call_start(Role::Checkout), None);
        assert!(g
            .on_call_end(Role::Checkout, "POST", Outcome::Ok, both)
            .is_some());
        // The next order is a new attempt, and needs its own payment.
        assert_eq!(
            g.on_call_start(Role::Checkout),
            Some(EventBody::CheckoutStarted)
        );
        assert_eq!(
            g.on_call_end(Role::Checkout, "POST", Outcome::Ok, both),
            None
        );
    }

    /// The payment-timeouts drill: the order call answers 2xx, then the
    /// payment call hangs (stall), fails, is retried. Only the payment's 2xx
    /// completes the checkout; a shopper who leaves before it abandoned it.
    #[test]
    fn order_placed_but_payment_hanging_is_not_completed() {
        let both = Completion::OrderAndPayment;
        let mut f = Funnel::default();
        f.on_call_start(Role::Checkout);
        assert_eq!(
            f.on_call_end(Role::Checkout, "POST", Outcome::Ok, both),
            None
        );
        f.on_call_start(Role::Payment);
        assert_eq!(
            f.on_call_end(Role::Payment, "POST", Outcome::Stall, both),
            None
        );
        assert_eq!(
            f.on_call_end(Role::Payment, "POST", Outcome::NetworkError, both),
            None
        );
        assert!(!f.completed());
        // The page reloads mid-attempt: the placed order is remembered.
        let mut next_page = Funnel::parse(&f.to_stored());
        assert_eq!(next_page, f);
        assert_eq!(next_page.on_call_start(Role::Payment), None);
        assert_eq!(
            next_page.on_call_end(Role::Payment, "POST", Outcome::Slow, both),
            Some(EventBody::CheckoutCompleted { order_id: None })
        );
        // Without payment rules the order call alone completes.
        let mut g = Funnel::default();
        g.on_call_start(Role::Checkout);
        assert!(g
            .on_call_end(Role::Checkout, "POST", Outcome::Ok, Completion::Order)
            .is_some());
        assert_eq!(Completion::for_rules(true), both);
        assert_eq!(Completion::for_rules(false), Completion::Order);
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
        assert_eq!(
            f.on_call_end(Role::Checkout, "POST", Outcome::Ok, Completion::Order),
            None
        );
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
        // The two-flag form stored by older snippets.
        let old = Funnel::parse("10");
        assert!(!old.completed());
        assert_eq!(old.to_stored(), "1000");
    }
}
