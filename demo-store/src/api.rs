//! The storefront's JSON APIs. Each consults the [`FaultBoard`] first, so
//! tests and drills can make it fail, stall or hang.

use std::time::Duration;

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{
    catalog,
    faults::{Endpoint, Fault, FaultBoard},
    StoreState,
};

/// Routes of this module.
pub fn router() -> Router<StoreState> {
    Router::new()
        .route("/api/products", get(products))
        .route("/api/price/{sku}", get(price))
        .route("/api/cart", get(get_cart).post(save_cart))
        .route("/api/checkout", post(checkout))
        .route("/api/payment", post(payment))
}

/// How long a `hang` fault holds a request before giving up on it.
const HANG_FOR: Duration = Duration::from_secs(120);

/// Apply the endpoint's fault: `Some(response)` replaces the real answer.
async fn fault(board: &FaultBoard, endpoint: Endpoint) -> Option<Response> {
    match board.get(endpoint) {
        Fault::None => None,
        Fault::Error { status } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            Some(
                (
                    status,
                    Json(json!({ "error": "service temporarily unavailable" })),
                )
                    .into_response(),
            )
        }
        Fault::Delay { ms } => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            None
        }
        Fault::Hang => {
            tokio::time::sleep(HANG_FOR).await;
            Some(StatusCode::GATEWAY_TIMEOUT.into_response())
        }
    }
}

async fn products() -> Json<&'static [catalog::Product]> {
    Json(catalog::PRODUCTS)
}

async fn price(State(s): State<StoreState>, Path(sku): Path<String>) -> Response {
    if let Some(r) = fault(&s.faults, Endpoint::Price).await {
        return r;
    }
    match catalog::find(&sku) {
        Some(p) => Json(json!({ "sku": p.sku, "price_cents": p.price_cents, "currency": "USD" }))
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "unknown sku" })),
        )
            .into_response(),
    }
}

/// A cart line as the page sends it.
#[derive(Debug, Deserialize)]
pub struct Line {
    sku: String,
    qty: u32,
}

/// A cart or order body.
#[derive(Debug, Deserialize)]
pub struct CartBody {
    items: Vec<Line>,
}

#[derive(Debug, Serialize)]
struct PricedLine {
    sku: &'static str,
    name: &'static str,
    qty: u32,
    price_cents: u32,
}

/// A rejected cart: the client sent a SKU we don't sell.
#[derive(Debug)]
struct UnknownSku;

impl IntoResponse for UnknownSku {
    fn into_response(self) -> Response {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "unknown sku" })),
        )
            .into_response()
    }
}

fn price_lines(items: &[Line]) -> Result<(Vec<PricedLine>, u64), UnknownSku> {
    let mut lines = Vec::new();
    let mut total = 0u64;
    for l in items {
        let p = catalog::find(&l.sku).ok_or(UnknownSku)?;
        let qty = l.qty.clamp(1, 99);
        total += u64::from(p.price_cents) * u64::from(qty);
        lines.push(PricedLine {
            sku: p.sku,
            name: p.name,
            qty,
            price_cents: p.price_cents,
        });
    }
    Ok((lines, total))
}

async fn get_cart(State(s): State<StoreState>) -> Response {
    if let Some(r) = fault(&s.faults, Endpoint::Cart).await {
        return r;
    }
    Json(json!({ "items": [], "total_cents": 0 })).into_response()
}

async fn save_cart(State(s): State<StoreState>, Json(body): Json<CartBody>) -> Response {
    if let Some(r) = fault(&s.faults, Endpoint::Cart).await {
        return r;
    }
    match price_lines(&body.items) {
        Ok((items, total)) => Json(json!({ "items": items, "total_cents": total })).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn checkout(State(s): State<StoreState>, Json(body): Json<CartBody>) -> Response {
    if let Some(r) = fault(&s.faults, Endpoint::Checkout).await {
        return r;
    }
    if body.items.is_empty() {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "cart is empty" })),
        )
            .into_response();
    }
    match price_lines(&body.items) {
        Ok((items, total)) => {
            let order_id = format!("A-{}", 1000 + rand::random::<u32>() % 9000);
            Json(json!({ "order_id": order_id, "items": items, "total_cents": total }))
                .into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// Payment request.
#[derive(Debug, Deserialize)]
pub struct PaymentBody {
    order_id: String,
}

async fn payment(State(s): State<StoreState>, Json(body): Json<PaymentBody>) -> Response {
    if let Some(r) = fault(&s.faults, Endpoint::Payment).await {
        return r;
    }
    Json(json!({ "order_id": body.order_id, "status": "paid" })).into_response()
}
