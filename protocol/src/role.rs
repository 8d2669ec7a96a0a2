//! Endpoint roles (what a watched call is for) and call outcomes.

use serde::{Deserialize, Serialize};

/// What a watched storefront endpoint is for. Calls matching no rule are
/// ignored entirely.
///
/// JSON: `"checkout"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Cart reads and updates (`/api/cart`).
    Cart,
    /// Checkout / order placement (`POST /api/checkout`).
    Checkout,
    /// Payment sub-calls made during checkout.
    Payment,
    /// Product and price data (`GET /api/price/…`).
    Price,
}

impl Role {
    /// Every role, in a stable order.
    pub const ALL: [Role; 4] = [Role::Cart, Role::Checkout, Role::Payment, Role::Price];

    /// The wire name (`"checkout"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Cart => "cart",
            Role::Checkout => "checkout",
            Role::Payment => "payment",
            Role::Price => "price",
        }
    }

    /// Parse a wire name.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// How a watched call ended (or that it is stalling).
///
/// JSON: `"http_error"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Finished in time with a non-error status.
    Ok,
    /// Finished with a 5xx (or a configured 4xx such as 409/429).
    HttpError,
    /// The request failed at the network level (rejected fetch, XHR `error`).
    NetworkError,
    /// Still pending after the role's stall threshold (sent while pending).
    Stall,
    /// Finished successfully, but over the role's threshold.
    Slow,
    /// Aborted by the page.
    Aborted,
    /// A 2xx whose body reported an application error (opt-in).
    AppError,
}

impl Outcome {
    /// True for outcomes that mean the shopper is in trouble.
    pub fn is_trouble(self) -> bool {
        matches!(
            self,
            Outcome::HttpError | Outcome::NetworkError | Outcome::Stall | Outcome::AppError
        )
    }

    /// The wire name (`"http_error"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::HttpError => "http_error",
            Outcome::NetworkError => "network_error",
            Outcome::Stall => "stall",
            Outcome::Slow => "slow",
            Outcome::Aborted => "aborted",
            Outcome::AppError => "app_error",
        }
    }
}
