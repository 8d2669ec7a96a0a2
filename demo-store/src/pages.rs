//! Server-rendered pages, each embedding the snippet with the one script tag
//! a shop would paste, plus the store's own static assets. The page's own
//! script is an external file, so the pages work under a strict CSP.

use axum::{
    extract::{Path, State},
    http::{header, StatusCode},
    response::{Html, IntoResponse, Response},
    routing::get,
    Router,
};

use crate::{catalog, StoreState};

/// Routes of this module.
pub fn router() -> Router<StoreState> {
    Router::new()
        .route("/", get(home))
        .route("/product/{sku}", get(product))
        .route("/cart", get(cart))
        .route("/order/{id}", get(order))
        .route(
            "/assets/store.js",
            get(|| async {
                asset(
                    "text/javascript; charset=utf-8",
                    include_str!("../assets/store.js"),
                )
            }),
        )
        .route(
            "/assets/store.css",
            get(|| async {
                asset(
                    "text/css; charset=utf-8",
                    include_str!("../assets/store.css"),
                )
            }),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// Escape text for HTML content and quoted attributes.
pub fn escape(s: &str) -> std::borrow::Cow<'_, str> {
    html_escape::encode_quoted_attribute(s)
}

/// The embed tag, exactly as the README tells shops to paste it.
pub fn embed_tag(collector_url: &str, site_key: &str) -> String {
    let c = escape(collector_url.trim_end_matches('/'));
    format!(
        r#"<script src="{c}/snippet/steadycart.js" data-site="{}" data-collector="{c}"
        data-checkout="POST /api/checkout" data-payment="POST /api/payment" data-cart="/api/cart"
        data-price="GET /api/price/* stale" data-confirmation="/order/"></script>"#,
        escape(site_key)
    )
}

fn layout(state: &StoreState, title: &str, body: &str) -> Html<String> {
    Html(format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Voltline Electronics</title>
<link rel="stylesheet" href="/assets/store.css">
{tag}
<script type="module" src="/assets/store.js"></script>
</head>
<body>
<header><a href="/">⚡ Voltline Electronics</a><a href="/cart" id="cart-link">Cart (<span id="cart-count">0</span>)</a></header>
<main>
{body}
<p id="status" role="status"></p>
</main>
</body>
</html>"#,
        title = escape(title),
        tag = embed_tag(&state.config.collector_url, &state.config.site_key).replace(
            "></script>",
            &format!("{}></script>", state.config.snippet_attrs)
        ),
    ))
}

async fn home(State(s): State<StoreState>) -> Html<String> {
    let cards: String = catalog::PRODUCTS
        .iter()
        .map(|p| {
            format!(
                r#"<article class="card"><h2><a href="/product/{sku}">{name}</a></h2><p class="muted">{blurb}</p>
<p class="price" data-live-price="{sku}">${price:.2}</p><button type="button" data-add="{sku}">Add to cart</button></article>"#,
                sku = escape(p.sku),
                name = escape(p.name),
                blurb = escape(p.blurb),
                price = f64::from(p.price_cents) / 100.0
            )
        })
        .collect();
    layout(
        &s,
        "Shop",
        &format!(
            r#"<h1>New arrivals</h1><button type="button" id="refresh-prices">Refresh prices</button><div class="grid">{cards}</div>"#
        ),
    )
}

async fn product(State(s): State<StoreState>, Path(sku): Path<String>) -> Response {
    let Some(p) = catalog::find(&sku) else {
        return (
            StatusCode::NOT_FOUND,
            layout(&s, "Not found", "<h1>Product not found</h1>"),
        )
            .into_response();
    };
    layout(
        &s,
        p.name,
        &format!(
            r#"<article class="card"><h1>{name}</h1><p class="muted">{blurb}</p>
<p>Live price: <span class="price" data-live-price="{sku}">checking…</span></p>
<button type="button" data-add="{sku}">Add to cart</button></article>"#,
            name = escape(p.name),
            blurb = escape(p.blurb),
            sku = escape(p.sku)
        ),
    )
    .into_response()
}

async fn cart(State(s): State<StoreState>) -> Html<String> {
    layout(
        &s,
        "Cart",
        r#"<h1>Your cart</h1><article class="card"><ul id="cart-lines"></ul>
<p>Total: <span class="price" id="cart-total">—</span></p>
<button type="button" id="checkout">Checkout</button></article>"#,
    )
}

async fn order(State(s): State<StoreState>, Path(id): Path<String>) -> Html<String> {
    layout(
        &s,
        "Order confirmed",
        &format!(
            r#"<h1>Thank you!</h1><p>Order <strong id="order-id">{}</strong> is confirmed.</p>"#,
            escape(&id)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_hostile_text() {
        assert_eq!(
            escape(r#"<script>"x"&'y'</script>"#),
            "&lt;script&gt;&quot;x&quot;&amp;&#x27;y&#x27;&lt;/script&gt;"
        );
    }

    #[test]
    fn embed_tag_is_the_documented_one() {
        let tag = embed_tag("http://127.0.0.1:7070/", "pk_abc");
        assert!(tag.starts_with(
            r#"<script src="http://127.0.0.1:7070/snippet/steadycart.js" data-site="pk_abc""#
        ));
        assert!(tag.contains(r#"data-checkout="POST /api/checkout""#));
    }
}
