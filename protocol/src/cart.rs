//! The `cart_snapshot` event: what is in the shopper's cart, as the
//! storefront's own cart responses (or `Steadycart.setCart(items)`) showed it.
//! The collector keeps the latest snapshot per session so a recovery email
//! can list the cart and the marketing export can show its value.
//!
//! As JSON (prices in minor units, e.g. cents, so no floats cross the wire):
//! ```json
//! {"id":"…","ts":1764333599000,"session":"s_…","page":"/cart",
//!  "type":"cart_snapshot","currency":"USD",
//!  "items":[{"sku":"VL-HP-01","name":"Aurora Headphones","qty":2,"unit_price_minor":12900}]}
//! ```
//! A snapshot replaces the previous one of its session; an empty `items`
//! list means the cart was emptied. [`check_cart`] is the one definition of
//! a valid snapshot for the snippet, the JS API and the collector.

use serde::{Deserialize, Serialize};

/// Most items in one snapshot.
pub const MAX_CART_ITEMS: usize = 50;
/// Longest product name, in characters.
pub const MAX_CART_NAME_CHARS: usize = 200;
/// Longest SKU, in bytes.
pub const MAX_CART_SKU_LEN: usize = 64;
/// Largest quantity of one line.
pub const MAX_CART_QTY: u32 = 9_999;
/// Largest unit price in minor units (10^12: far above any real price, well
/// inside an `i64` even multiplied by the quantity).
pub const MAX_CART_UNIT_PRICE_MINOR: i64 = 1_000_000_000_000;

/// One line of the cart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartItem {
    /// Product SKU. `"VL-HP-01"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    /// Product name as shown. `"Aurora Headphones"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Quantity, 1 to [`MAX_CART_QTY`]. `2`.
    pub qty: u32,
    /// Price of one unit in minor units of [`CartSnapshot::currency`]
    /// (cents for USD). `12900`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_price_minor: Option<i64>,
}

/// The cart at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartSnapshot {
    /// ISO 4217 code of the prices. `"USD"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// The lines, at most [`MAX_CART_ITEMS`].
    #[serde(default)]
    pub items: Vec<CartItem>,
}

/// Why a snapshot is refused, and which field (under the event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartError {
    /// `"items"`, `"items[3].name"`, `"currency"`, …
    pub field: String,
    /// What is wrong.
    pub message: &'static str,
}

/// `i` in decimal.
fn index_text(mut i: usize) -> String {
    let mut digits = Vec::new();
    loop {
        digits.push(b'0' + (i % 10) as u8);
        i /= 10;
        if i == 0 {
            break;
        }
    }
    digits.iter().rev().map(|&d| char::from(d)).collect()
}

fn err(field: impl Into<String>, message: &'static str) -> CartError {
    CartError {
        field: field.into(),
        message,
    }
}

impl CartSnapshot {
    /// The cart's value in minor units, when every line has a price.
    pub fn total_minor(&self) -> Option<i64> {
        if self.items.is_empty() {
            return None;
        }
        self.items.iter().try_fold(0i64, |sum, i| {
            sum.checked_add(i.unit_price_minor?.checked_mul(i64::from(i.qty))?)
        })
    }
}

/// Check a snapshot's sizes and values.
pub fn check_cart(c: &CartSnapshot) -> Result<(), CartError> {
    if let Some(cur) = &c.currency {
        if cur.len() != 3 || !cur.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(err("currency", "must be a three-letter ISO 4217 code"));
        }
    }
    if c.items.len() > MAX_CART_ITEMS {
        return Err(err("items", "more than 50 items"));
    }
    for (i, item) in c.items.iter().enumerate() {
        // Without `format!`: this check runs in the snippet's wasm too,
        // where `core::fmt` would cost kilobytes.
        let at = |f: &str| ["items[", &index_text(i), "].", f].concat();
        if !(1..=MAX_CART_QTY).contains(&item.qty) {
            return Err(err(at("qty"), "must be 1 to 9999"));
        }
        if let Some(sku) = &item.sku {
            if sku.is_empty()
                || sku.len() > MAX_CART_SKU_LEN
                || sku.chars().any(|ch| ch.is_control())
            {
                return Err(err(
                    at("sku"),
                    "must be 1-64 bytes without control characters",
                ));
            }
        }
        if let Some(name) = &item.name {
            if name.chars().count() > MAX_CART_NAME_CHARS || name.chars().any(|ch| ch.is_control())
            {
                return Err(err(
                    at("name"),
                    "must be at most 200 characters without control characters",
                ));
            }
        }
        if item
            .unit_price_minor
            .is_some_and(|p| !(0..=MAX_CART_UNIT_PRICE_MINOR).contains(&p))
        {
            return Err(err(at("unit_price_minor"), "must be 0 to 10^12"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_indexes_in_decimal() {
        for i in [0, 7, 10, 49, 1234, usize::MAX] {
            assert_eq!(index_text(i), i.to_string());
        }
    }

    fn item(qty: u32, price: Option<i64>) -> CartItem {
        CartItem {
            sku: Some("VL-HP-01".into()),
            name: Some("Aurora Headphones".into()),
            qty,
            unit_price_minor: price,
        }
    }

    #[test]
    fn round_trips_and_totals() {
        let c = CartSnapshot {
            currency: Some("USD".into()),
            items: vec![item(2, Some(12900)), item(1, Some(5900))],
        };
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<CartSnapshot>(&json).unwrap(), c);
        assert_eq!(c.total_minor(), Some(31700));
        assert_eq!(check_cart(&c), Ok(()));
        let unknown_price = CartSnapshot {
            items: vec![item(1, None)],
            ..c
        };
        assert_eq!(unknown_price.total_minor(), None);
        assert_eq!(CartSnapshot::default().total_minor(), None);
    }

    #[test]
    fn refuses_what_the_collector_would_refuse() {
        let mut c = CartSnapshot {
            currency: Some("usd".into()),
            items: vec![item(1, Some(1))],
        };
        assert_eq!(check_cart(&c).unwrap_err().field, "currency");
        c.currency = None;
        c.items[0].qty = 0;
        assert_eq!(check_cart(&c).unwrap_err().field, "items[0].qty");
        c.items[0].qty = 1;
        c.items[0].unit_price_minor = Some(-1);
        assert_eq!(
            check_cart(&c).unwrap_err().field,
            "items[0].unit_price_minor"
        );
        c.items[0].unit_price_minor = None;
        c.items[0].name = Some("a\u{0}b".into());
        assert_eq!(check_cart(&c).unwrap_err().field, "items[0].name");
        c.items[0].name = None;
        c.items = vec![item(1, None); MAX_CART_ITEMS + 1];
        assert_eq!(check_cart(&c).unwrap_err().field, "items");
    }
}
