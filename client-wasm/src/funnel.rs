//! Funnel signals derived from watched calls and page paths: cart activity,
//! checkout started, checkout completed.

use steadycart_protocol::{EventBody, Outcome, Role};

/// Funnel state of the current page.
#[derive(Debug, Clone, Default)]
pub struct Funnel {
    checkout_started: bool,
    completed: bool,
}

impl Funnel {
    /// A watched call started: a checkout or payment call starts checkout.
    pub fn on_call_start(&mut self, role: Role) -> Option<EventBody> {
        if matches!(role, Role::Checkout | Role::Payment)
            && !self.checkout_started
            && !self.completed
        {
            self.checkout_started = true;
            return Some(EventBody::CheckoutStarted);
        }
        None
    }

    /// A watched call ended: a successful cart write is cart activity, a
    /// successful non-GET checkout call completes the checkout.
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

    /// The page is at `path`: a confirmation path completes the checkout.
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

    /// Whether this page saw the checkout complete.
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
}
