//! The storefront's JSON APIs. Each consults the [`FaultBoard`] first, so
//! tests and drills can make it fail, stall, hang, reset the connection or
//! answer garbage.

use std::time::Duration;

use axum::{
    extract::{ConnectInfo, Path, State},
    http::{header, Extensions, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{
    catalog,
    faults::{Endpoint, Fault},
    reset::Conn,
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

/// The currency of every price (ISO 4217), stated in cart responses so
/// readers such as the Steadycart snippet need not guess.
const CURRENCY: &str = "USD";

/// Longest a `hang` fault holds a request (less if its rule ends sooner).
const HANG_FOR: Duration = Duration::from_secs(120);

/// The schema error a `version_mismatch` fault answers with.
const SCHEMA_ERROR: &str = r#"{"error":"schema_mismatch","message":"request does not match the API schema 2026-10: field `items[].qty` was renamed to `items[].quantity`","api_version":"2026-10","field":"items"}"#;

/// Apply the endpoint's fault: `Some(response)` replaces the real answer.
async fn fault(state: &StoreState, endpoint: Endpoint, ext: &Extensions) -> Option<Response> {
    let now = crate::now_ms();
    let decision = state.faults.decide(endpoint, now);
    let json_body = |status: StatusCode, body: &'static str| {
        (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    };
    match decision.fault {
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
            let hold = decision
                .until_ms
                .map_or(HANG_FOR, |u| Duration::from_millis((u - now).max(0) as u64))
                .min(HANG_FOR);
            tokio::time::sleep(hold).await;
            Some(StatusCode::GATEWAY_TIMEOUT.into_response())
        }
        Fault::Reset => match ext.get::<ConnectInfo<Conn>>() {
            Some(ConnectInfo(conn)) => {
                conn.reset.trip();
                // The write of this response fails and resets the connection.
                Some(StatusCode::BAD_GATEWAY.into_response())
            }
            // Served without a socket (router tests): the closest answer.
            None => Some(StatusCode::BAD_GATEWAY.into_response()),
        },
        Fault::MalformedJson => Some(json_body(StatusCode::OK, r#"{"ok":true,"items":[{"sku":"#)),
        Fault::VersionMismatch => Some(json_body(StatusCode::BAD_REQUEST, SCHEMA_ERROR)),
    }
}

async fn products() -> Json<&'static [catalog::Product]> {
    Json(catalog::PRODUCTS)
}

async fn price(State(s): State<StoreState>, ext: Extensions, Path(sku): Path<String>) -> Response {
    if let Some(r) = fault(&s, Endpoint::Price, &ext).await {
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

async fn get_cart(State(s): State<StoreState>, ext: Extensions) -> Response {
    if let Some(r) = fault(&s, Endpoint::Cart, &ext).await {
        return r;
    }
    Json(json!({ "items": [], "total_cents": 0, "currency": CURRENCY })).into_response()
}

async fn save_cart(
    State(s): State<StoreState>,
    ext: Extensions,
    Json(body): Json<CartBody>,
) -> Response {
    if let Some(r) = fault(&s, Endpoint::Cart, &ext).await {
        return r;
    }
    match price_lines(&body.items) {
        Ok((items, total)) => {
            Json(json!({ "items": items, "total_cents": total, "currency": CURRENCY }))
                .into_response()
        }
        Err(e) => e.into_response(),
    }
}

async fn checkout(
    State(s): State<StoreState>,
    ext: Extensions,
    Json(body): Json<CartBody>,
) -> Response {
    if let Some(r) = fault(&s, Endpoint::Checkout, &ext).await {
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
            Json(json!({ "order_id": order_id, "items": items, "total_cents": total, "currency": CURRENCY }))
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

async fn payment(
    State(s): State<StoreState>,
    ext: Extensions,
    Json(body): Json<PaymentBody>,
) -> Response {
    if let Some(r) = fault(&s, Endpoint::Payment, &ext).await {
        return r;
    }
    Json(json!({ "order_id": body.order_id, "status": "paid" })).into_response()
}
