//! Cart snapshots from the storefront's own cart responses: when a call
//! under the cart rule answers 2xx with a small JSON body (read from a
//! clone, like the `app_error` check), its `items` (or `lines`, or a
//! top-level array) become a `cart_snapshot` event for recovery emails.
//! Per item: `sku`|`id`, `name`|`title`, `qty`|`quantity`, and a unit price
//! in minor units (`unit_price_minor`|`price_cents`|`unit_price_cents`) or
//! major units (`unit_price`|`price`); `currency` at the top. Anything not
//! of that shape is ignored; the snapshot is checked with the collector's
//! own rules ([`check_cart`]) before it is recorded.

use steadycart_protocol::cart::{
    check_cart, CartItem, CartSnapshot, MAX_CART_ITEMS, MAX_CART_NAME_CHARS,
};
use wasm_bindgen::{JsCast, JsValue};

fn first(o: &JsValue, keys: &[&str]) -> JsValue {
    keys.iter()
        .map(|k| js_sys::Reflect::get(o, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED))
        .find(|v| !v.is_undefined() && !v.is_null())
        .unwrap_or(JsValue::UNDEFINED)
}

fn whole(v: &JsValue) -> Option<i64> {
    v.as_f64()
        .filter(|n| n.fract() == 0.0 && n.abs() < 1e15)
        .map(|n| n as i64)
}

/// The snapshot in a cart response body (text or parsed JSON), if any.
pub fn snapshot(body: &JsValue) -> Option<CartSnapshot> {
    let value = match body.as_string() {
        Some(text) => js_sys::JSON::parse(&text).ok()?,
        None => body.clone(),
    };
    if !value.is_object() {
        return None;
    }
    let list = if js_sys::Array::is_array(&value) {
        value.clone()
    } else {
        first(&value, &["items", "lines"])
    };
    if !js_sys::Array::is_array(&list) {
        return None;
    }
    let list: js_sys::Array = list.unchecked_into();
    if list.length() as usize > MAX_CART_ITEMS {
        return None;
    }
    let mut items = Vec::new();
    for v in list.iter() {
        let qty = whole(&first(&v, &["qty", "quantity"]))?;
        let unit_price_minor = whole(&first(
            &v,
            &["unit_price_minor", "price_cents", "unit_price_cents"],
        ))
        .or_else(|| {
            first(&v, &["unit_price", "price"])
                .as_f64()
                .filter(|p| p.is_finite())
                .map(|p| (p * 100.0).round() as i64)
        });
        let sku = first(&v, &["sku", "id"]);
        items.push(CartItem {
            sku: sku
                .as_string()
                .or_else(|| whole(&sku).map(crate::event_json::int_text)),
            name: first(&v, &["name", "title"])
                .as_string()
                .map(|n| n.chars().take(MAX_CART_NAME_CHARS).collect()),
            qty: u32::try_from(qty).ok()?,
            unit_price_minor,
        });
    }
    let snap = CartSnapshot {
        currency: first(&value, &["currency"])
            .as_string()
            .map(|c| c.to_ascii_uppercase()),
        items,
    };
    check_cart(&snap).ok().map(|()| snap)
}
