//! `GET /openapi.json`: an OpenAPI 3.0 document of every public and admin
//! endpoint, built from the [`OPERATIONS`] table below.
//!
//! A route added to the router must be added here too: the test
//! `collector/tests/openapi.rs` walks every route path declared in
//! `src/http/` with every method and fails on any the document does not
//! describe (and on described operations the router does not serve); it
//! also validates the document with `openapi-spec-validator`.

use std::sync::OnceLock;

use axum::{
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use serde_json::{json, Map, Value};

use crate::state::AppState;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(serve))
}

async fn serve() -> Response {
    static TEXT: OnceLock<String> = OnceLock::new();
    let text = TEXT.get_or_init(|| document().to_string());
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        text.as_str(),
    )
        .into_response()
}

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (health, snippet files, public config, this document).
    Public,
    /// Anyone holding the site's public key (`?key=`); browsers must also
    /// come from an allowed origin.
    SiteKey,
    /// `Authorization: Bearer ADMIN_TOKEN` of the site in the path.
    Admin,
    /// The admin token as a bearer header or the incident view's cookie.
    AdminOrCookie,
}

/// A query or path parameter: name, JSON type, required, description.
pub type Param = (&'static str, &'static str, bool, &'static str);

/// One documented operation.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    /// Lower-case HTTP method.
    pub method: &'static str,
    /// Path template as in the router (`{site}`).
    pub path: &'static str,
    /// One line.
    pub summary: &'static str,
    /// Who may call it.
    pub access: Access,
    /// Query parameters.
    pub query: &'static [Param],
    /// Request body: content types and the schema (a component name or an
    /// inline JSON schema in `Value` form built by [`schema`]).
    pub body: Option<(&'static [&'static str], &'static str)>,
    /// Responses: status, description, content type and schema name ("" =
    /// no body).
    pub responses: &'static [(u16, &'static str, &'static str, &'static str)],
}

const JSON: &str = "application/json";
const ERR: &str = "ApiError";

/// Errors every admin route can answer.
const ADMIN_ERRORS: &[(u16, &str, &str, &str)] = &[
    (401, "missing or wrong admin token for this site", JSON, ERR),
    (503, "database unavailable; see Retry-After", JSON, ERR),
];

const PAGE: &[Param] = &[
    (
        "after",
        "integer",
        false,
        "cursor: the `next` of the previous page (default 0)",
    ),
    ("limit", "integer", false, "page size, 1-1000 (default 100)"),
];

/// Every operation the collector serves.
pub const OPERATIONS: &[Operation] = &[
    Operation {
        method: "post",
        path: "/v1/ingest",
        summary: "Send a batch of events (the snippet; sendBeacon-compatible)",
        access: Access::SiteKey,
        query: &[("key", "string", true, "the site's public key")],
        body: Some((&["application/json", "text/plain"], "Batch")),
        responses: &[
            (200, "stored (committed before this answer)", JSON, "IngestAccepted"),
            (400, "invalid batch; `field` names the culprit (`v` for an unsupported protocol version)", JSON, ERR),
            (401, "missing or unknown site key", JSON, ERR),
            (403, "origin not allowed for this site", JSON, ERR),
            (408, "body not received within the deadline", JSON, ERR),
            (413, "body larger than the limit (256 KiB by default)", JSON, ERR),
            (415, "content type other than application/json or text/plain", JSON, ERR),
            (429, "client IP or site over its rate; see Retry-After", JSON, ERR),
            (503, "writer behind or database down; see Retry-After", JSON, ERR),
        ],
    },
    Operation {
        method: "options",
        path: "/v1/ingest",
        summary: "CORS preflight, answered per site",
        access: Access::SiteKey,
        query: &[("key", "string", true, "the site's public key")],
        body: None,
        responses: &[
            (204, "allowed: Access-Control-Allow-* headers", "", ""),
            (401, "missing or unknown site key", JSON, ERR),
            (403, "origin not allowed for this site", JSON, ERR),
            (429, "client IP over its rate; see Retry-After", JSON, ERR),
        ],
    },
    Operation {
        method: "get",
        path: "/v1/config",
        summary: "The site's remote configuration as the snippet applies it (ETag, max-age)",
        access: Access::Public,
        query: &[("site", "string", true, "the site's public key")],
        body: None,
        responses: &[
            (200, "the configuration", JSON, "SiteConfig"),
            (304, "not modified (If-None-Match)", "", ""),
            (400, "missing site", JSON, ERR),
            (404, "no such site", JSON, ERR),
        ],
    },
    Operation {
        method: "get",
        path: "/v1/admin/sites/{site}/config",
        summary: "The stored remote configuration with its version",
        access: Access::Admin,
        query: &[],
        body: None,
        responses: &[(200, "the configuration", JSON, "SiteConfig")],
    },
    Operation {
        method: "put",
        path: "/v1/admin/sites/{site}/config",
        summary: "Replace the remote configuration",
        access: Access::Admin,
        query: &[],
        body: Some((&["application/json"], "SiteConfig")),
        responses: &[
            (200, "the stored configuration", JSON, "SiteConfig"),
            (400, "invalid; `field` names the culprit", JSON, ERR),
            (413, "body too large", JSON, ERR),
        ],
    },
    Operation {
        method: "patch",
        path: "/v1/admin/sites/{site}/config",
        summary: "Change the remote configuration by JSON merge patch (RFC 7386), e.g. {\"kill\":true}",
        access: Access::Admin,
        query: &[],
        body: Some((&["application/json", "application/merge-patch+json"], "SiteConfig")),
        responses: &[
            (200, "the stored configuration", JSON, "SiteConfig"),
            (400, "invalid; `field` names the culprit", JSON, ERR),
            (413, "body too large", JSON, ERR),
        ],
    },
    Operation {
        method: "get",
        path: "/v1/admin/sites/{site}/events",
        summary: "Stored events, oldest first, cursor-paged",
        access: Access::Admin,
        query: PAGE,
        body: None,
        responses: &[
            (200, "a page of events", JSON, "EventPage"),
            (400, "bad limit", JSON, ERR),
        ],
    },
    Operation {
        method: "get",
        path: "/v1/admin/sites/{site}/drops",
        summary: "Events the site's snippets report they dropped before delivery",
        access: Access::Admin,
        query: &[],
        body: None,
        responses: &[(200, "totals", JSON, "DropTotals")],
    },
    Operation {
        method: "get",
        path: "/v1/admin/sites/{site}/survey/answers",
        summary: "Exit-survey answers, oldest first, with consent text and version",
        access: Access::Admin,
        query: &[
            ("after", "integer", false, "cursor: the `next` of the previous page (default 0)"),
            ("limit", "integer", false, "page size, 1-1000 (default 100)"),
            ("with_email", "boolean", false, "only answers that carry a consented email (default false: every answer, each with its email if consented)"),
        ],
        body: None,
        responses: &[
            (200, "a page of answers", JSON, "AnswersPage"),
            (400, "bad limit", JSON, ERR),
        ],
    },
    Operation {
        method: "get",
        path: "/v1/admin/sites/{site}/signals",
        summary: "Signal time series (sessions, checkouts, abandonment, errors, stalls, rates)",
        access: Access::Admin,
        query: &[
            ("from", "integer", false, "start, ms since the epoch (default: 6 hours ago)"),
            ("to", "integer", false, "end, ms since the epoch (default: now)"),
            ("step", "integer", false, "ms per point, at least 1000 (default: one bucket)"),
            ("series", "string", false, "comma-separated series names (default: all)"),
        ],
        body: None,
        responses: &[
            (200, "{from, to, step, t: [ms], series: {name: [value|null]}}", JSON, "Object"),
            (400, "bad range, step or series; `field` names it", JSON, ERR),
        ],
    },
    Operation {
        method: "get",
        path: "/v1/admin/sites/{site}/incidents",
        summary: "Incidents, newest first",
        access: Access::Admin,
        query: &[
            ("status", "string", false, "open or resolved"),
            ("from", "integer", false, "ms since the epoch"),
            ("to", "integer", false, "ms since the epoch"),
            ("limit", "integer", false, "1-500 (default 50)"),
        ],
        body: None,
        responses: &[
            (200, "{incidents: [...]}", JSON, "Object"),
            (400, "bad status or limit", JSON, ERR),
        ],
    },
    Operation {
        method: "get",
        path: "/v1/admin/sites/{site}/incidents/{id}",
        summary: "One incident with its notification deliveries",
        access: Access::Admin,
        query: &[],
        body: None,
        responses: &[
            (200, "{incident, notifications: [...]}", JSON, "Object"),
            (404, "no such incident of this site", JSON, ERR),
        ],
    },
    Operation {
        method: "get",
        path: "/v1/admin/sites/{site}/incidents/view",
        summary: "Server-rendered incident page (HTML, no scripts)",
        access: Access::AdminOrCookie,
        query: &[("hours", "integer", false, "time range shown (default 6)")],
        body: None,
        responses: &[
            (200, "the page, or the login form without credentials", "text/html", "Html"),
        ],
    },
    Operation {
        method: "post",
        path: "/v1/admin/sites/{site}/incidents/view",
        summary: "Log in to the incident view with the admin token (sets an HttpOnly cookie)",
        access: Access::Public,
        query: &[],
        body: Some((&["application/x-www-form-urlencoded"], "LoginForm")),
        responses: &[
            (303, "logged in: redirect to the view", "", ""),
            (401, "wrong token", "text/html", "Html"),
            (403, "CSRF check failed (missing or wrong form token, foreign origin)", "text/html", "Html"),
        ],
    },
    Operation {
        method: "get",
        path: "/v1/admin/sites/{site}/notifications",
        summary: "Notification deliveries with their state (pending, delivered, dead letters)",
        access: Access::Admin,
        query: &[
            ("state", "string", false, "pending, delivered or dead"),
            ("limit", "integer", false, "1-1000 (default 100)"),
        ],
        body: None,
        responses: &[
            (200, "{notifications: [...], counts: {pending, delivered, dead}}", JSON, "Object"),
            (400, "bad state or limit", JSON, ERR),
        ],
    },
    Operation {
        method: "get",
        path: "/v1/admin/sites/{site}/notifiers",
        summary: "Configured notifiers (secrets never echoed)",
        access: Access::Admin,
        query: &[],
        body: None,
        responses: &[(200, "{notifiers: [...]}", JSON, "Object")],
    },
    Operation {
        method: "post",
        path: "/v1/admin/sites/{site}/notifiers",
        summary: "Add a notifier (pagerduty, opsgenie, slack or webhook)",
        access: Access::Admin,
        query: &[],
        body: Some((&["application/json"], "Notifier")),
        responses: &[
            (201, "{id, config} with secrets redacted", JSON, "Object"),
            (400, "invalid; `field` names the culprit", JSON, ERR),
        ],
    },
    Operation {
        method: "delete",
        path: "/v1/admin/sites/{site}/notifiers/{id}",
        summary: "Remove a notifier",
        access: Access::Admin,
        query: &[],
        body: None,
        responses: &[
            (204, "removed", "", ""),
            (404, "no such notifier of this site", JSON, ERR),
        ],
    },
    Operation {
        method: "get",
        path: "/v1/admin/sites/{site}/detector",
        summary: "Detector parameters: collector defaults, the site's overrides and the effective values",
        access: Access::Admin,
        query: &[],
        body: None,
        responses: &[(200, "{defaults, overrides, effective}", JSON, "Object")],
    },
    Operation {
        method: "put",
        path: "/v1/admin/sites/{site}/detector",
        summary: "Replace the site's detector overrides (every field optional; {} returns to the defaults)",
        access: Access::Admin,
        query: &[],
        body: Some((&["application/json"], "Object")),
        responses: &[
            (200, "{defaults, overrides, effective}", JSON, "Object"),
            (400, "unknown field or out-of-range value; `field` names it", JSON, ERR),
            (413, "body too large", JSON, ERR),
        ],
    },
    Operation {
        method: "get",
        path: "/v1/admin/sites/{site}/metrics",
        summary: "The site's signal gauges in Prometheus text format",
        access: Access::Admin,
        query: &[],
        body: None,
        responses: &[(200, "gauges", "text/plain", "Text")],
    },
    Operation {
        method: "get",
        path: "/snippet/{file}",
        summary: "The built snippet files (CORS *, pre-compressed)",
        access: Access::Public,
        query: &[],
        body: None,
        responses: &[
            (200, "the file", "application/octet-stream", "Binary"),
            (404, "no such file", "", ""),
        ],
    },
    Operation {
        method: "get",
        path: "/healthz",
        summary: "Liveness: the process answers",
        access: Access::Public,
        query: &[],
        body: None,
        responses: &[(200, "ok", "text/plain", "Text")],
    },
    Operation {
        method: "get",
        path: "/readyz",
        summary: "Readiness: database reachable and writer keeping up",
        access: Access::Public,
        query: &[],
        body: None,
        responses: &[
            (200, "ready", JSON, "Readiness"),
            (503, "not ready", JSON, "Readiness"),
        ],
    },
    Operation {
        method: "get",
        path: "/metrics",
        summary: "Process metrics (OpenMetrics text): events accepted by site and kind, rejections by reason, \
            request latency by route, writer commits, queue depth, database up, recovery emails queued and held",
        access: Access::Public,
        query: &[],
        body: None,
        responses: &[
            (200, "metrics", "application/openmetrics-text", "Text"),
            (401, "metrics_token is set and was not sent", JSON, ERR),
        ],
    },
    Operation {
        method: "get",
        path: "/v1/admin/sites/{site}/recovery/contacts",
        summary: "Marketing export of recovery contacts (consented, not unsubscribed), oldest first",
        access: Access::Admin,
        query: &[
            ("after", "integer", false, "cursor: the `next` of the previous page (default 0)"),
            ("limit", "integer", false, "page size, 1-1000 (default 500)"),
            ("since", "integer", false, "only contacts changed at or after this time, ms (default 0)"),
        ],
        body: None,
        responses: &[
            (200, "{contacts: [...], next}", JSON, "Object"),
            (400, "bad limit", JSON, ERR),
        ],
    },
    Operation {
        method: "get",
        path: "/v1/admin/sites/{site}/recovery/contacts.csv",
        summary: "The same export as CSV (formula cells neutralised; next cursor in X-Next-Cursor and Link)",
        access: Access::Admin,
        query: &[
            ("after", "integer", false, "cursor: X-Next-Cursor of the previous page (default 0)"),
            ("limit", "integer", false, "page size, 1-1000 (default 500)"),
            ("since", "integer", false, "only contacts changed at or after this time, ms (default 0)"),
        ],
        body: None,
        responses: &[
            (200, "CSV with a header row", "text/csv", "Text"),
            (400, "bad limit", JSON, ERR),
        ],
    },
    Operation {
        method: "post",
        path: "/v1/admin/sites/{site}/recovery/erase",
        summary: "Erase every trace of an email address (contact, emails, answers' email, stored events)",
        access: Access::Admin,
        query: &[],
        body: Some((&["application/json"], "Object")),
        responses: &[
            (200, "{contacts, answers, events, mails} removed", JSON, "Object"),
            (400, "no email in the body", JSON, ERR),
        ],
    },
    Operation {
        method: "get",
        path: "/v1/admin/sites/{site}/recovery/settings",
        summary: "The site's recovery email settings",
        access: Access::Admin,
        query: &[],
        body: None,
        responses: &[
            (200, "the settings", JSON, "Object"),
            (404, "not set", JSON, ERR),
        ],
    },
    Operation {
        method: "put",
        path: "/v1/admin/sites/{site}/recovery/settings",
        summary: "Set the site's recovery email settings (sender, shop name, link template, templates)",
        access: Access::Admin,
        query: &[],
        body: Some((&["application/json"], "Object")),
        responses: &[
            (200, "the stored settings", JSON, "Object"),
            (400, "invalid settings; `field` names the culprit", JSON, ERR),
        ],
    },
    Operation {
        method: "get",
        path: "/v1/unsubscribe/{token}",
        summary: "Unsubscribe page of a recovery email (a button; a GET changes nothing)",
        access: Access::Public,
        query: &[],
        body: None,
        responses: &[
            (200, "the page", "text/html", "Html"),
            (400, "invalid link", "text/html", "Html"),
        ],
    },
    Operation {
        method: "post",
        path: "/v1/unsubscribe/{token}",
        summary: "RFC 8058 one-click unsubscribe: the address is suppressed for the site forever",
        access: Access::Public,
        query: &[],
        body: Some((&["application/x-www-form-urlencoded"], "Text")),
        responses: &[
            (200, "unsubscribed", "text/html", "Html"),
            (400, "invalid link", "text/html", "Html"),
        ],
    },
    Operation {
        method: "get",
        path: "/v1/recover/{token}",
        summary: "The cart of a recovery link, for the shop's page to restore it (CORS-open)",
        access: Access::Public,
        query: &[],
        body: None,
        responses: &[
            (200, "{currency, items: [...]}", JSON, "Object"),
            (404, "invalid link", JSON, "Object"),
            (410, "expired link", JSON, "Object"),
        ],
    },
    Operation {
        method: "get",
        path: "/openapi.json",
        summary: "This document",
        access: Access::Public,
        query: &[],
        body: None,
        responses: &[(200, "OpenAPI 3.0 document", JSON, "Object")],
    },
];

fn schema_ref(name: &str) -> Value {
    match name {
        "Object" => json!({ "type": "object" }),
        "Text" | "Html" => json!({ "type": "string" }),
        "Binary" => json!({ "type": "string", "format": "binary" }),
        _ => json!({ "$ref": format!("#/components/schemas/{name}") }),
    }
}

fn path_params(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            let (ty, desc) = match name {
                "site" => ("string", "the site's public key"),
                "id" => ("integer", "numeric id"),
                _ => ("string", "path segment"),
            };
            json!({ "name": name, "in": "path", "required": true,
                    "description": desc, "schema": { "type": ty } })
        })
        .collect()
}

fn operation(op: &Operation) -> Value {
    let mut parameters = path_params(op.path);
    for (name, ty, required, desc) in op.query {
        parameters.push(json!({ "name": name, "in": "query", "required": required,
                                "description": desc, "schema": { "type": ty } }));
    }
    let mut responses = Map::new();
    let errors: &[(u16, &str, &str, &str)] = match op.access {
        Access::Admin => ADMIN_ERRORS,
        _ => &[],
    };
    for (status, desc, ct, schema) in op.responses.iter().chain(errors) {
        let mut r = json!({ "description": desc });
        if !ct.is_empty() {
            r["content"] = json!({ *ct: { "schema": schema_ref(schema) } });
        }
        if matches!(status, 429 | 503) {
            r["headers"] = json!({ "Retry-After": {
                "description": "seconds to wait before retrying",
                "schema": { "type": "integer" } } });
        }
        responses.insert(status.to_string(), r);
    }
    let mut out = json!({
        "summary": op.summary,
        "operationId": format!("{}{}", op.method, op.path.replace(['/', '{', '}', '.'], "_")),
        "tags": [if op.path.starts_with("/v1/admin") { "admin" } else { "public" }],
        "responses": responses,
    });
    if !parameters.is_empty() {
        out["parameters"] = Value::Array(parameters);
    }
    if let Some((types, schema)) = op.body {
        let content: Map<String, Value> = types
            .iter()
            .map(|t| (t.to_string(), json!({ "schema": schema_ref(schema) })))
            .collect();
        out["requestBody"] = json!({ "required": true, "content": content });
    }
    out["security"] = match op.access {
        Access::Public => json!([]),
        Access::SiteKey => json!([{ "siteKey": [] }]),
        Access::Admin => json!([{ "adminToken": [] }]),
        Access::AdminOrCookie => json!([{ "adminToken": [] }, { "adminCookie": [] }]),
    };
    out
}

/// The document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for op in OPERATIONS {
        let item = paths
            .entry(op.path.to_string())
            .or_insert_with(|| json!({}));
        item[op.method] = operation(op);
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Steadycart collector",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Ingests the Steadycart snippet's event batches and serves the per-site admin API. \
                Errors answer {\"error\", \"field\"}. Site keys are public and can only write; \
                admin tokens are per site and secret.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "siteKey": { "type": "apiKey", "in": "query", "name": "key",
                             "description": "the site's public key (script tag data-site)" },
                "adminToken": { "type": "http", "scheme": "bearer",
                                "description": "the site's admin token (collector site add)" },
                "adminCookie": { "type": "apiKey", "in": "cookie", "name": "sc_admin",
                                 "description": "set by the incident view's login form" },
            },
            "schemas": schemas(),
        },
    })
}

fn schemas() -> Value {
    let s = |t: &str, d: &str| json!({ "type": t, "description": d });
    json!({
        "ApiError": {
            "type": "object", "required": ["error"],
            "properties": {
                "error": s("string", "what is wrong, for a developer"),
                "field": s("string", "JSON path of the offending field, e.g. events[3].ts"),
            },
        },
        "IngestAccepted": {
            "type": "object", "required": ["accepted", "duplicates"],
            "properties": {
                "accepted": s("integer", "events newly stored"),
                "duplicates": s("integer", "events skipped because their id repeated in the batch"),
            },
        },
        "Batch": {
            "type": "object", "required": ["v", "sent_at", "events"],
            "description": "Unknown fields are ignored (forward compatibility).",
            "properties": {
                "v": { "type": "integer", "description": "protocol version; the current and the previous one are accepted",
                       "minimum": steadycart_protocol::OLDEST_SUPPORTED_VERSION,
                       "maximum": steadycart_protocol::PROTOCOL_VERSION },
                "sdk": s("string", "snippet name and version"),
                "sent_at": s("integer", "client clock at sending, ms since the epoch"),
                "dropped": s("integer", "events the snippet had to drop since its last delivery"),
                "events": { "type": "array", "maxItems": steadycart_protocol::limits::MAX_EVENTS_PER_BATCH,
                            "items": { "$ref": "#/components/schemas/Event" } },
            },
        },
        "Event": {
            "type": "object", "required": ["id", "ts", "session", "type"],
            "description": "Common fields plus those of its type: call {role, outcome, method, url, status?, duration_ms, sku?}, \
                fallback_shown {role, reason}, fallback_hidden {role, reason}, session_start, cart_activity, checkout_started, \
                checkout_completed {order_id?}, page_exit, survey_shown {trigger, trouble}, survey_dismissed {reason, trouble}, \
                survey_answered {trigger, answer, trouble}. Unknown types are stored as unknown.",
            "additionalProperties": true,
            "properties": {
                "id": { "type": "string", "pattern": "^[0-9A-Za-z_-]{16,64}$", "description": "unique id, the deduplication key" },
                "ts": s("integer", "client clock, ms since the epoch"),
                "session": { "type": "string", "pattern": "^[0-9A-Za-z_-]{16,64}$" },
                "page": s("string", "page path"),
                "type": s("string", "event type"),
            },
        },
        "StoredEvent": {
            "type": "object", "required": ["received_at", "event"],
            "properties": {
                "received_at": s("integer", "server receive time, ms"),
                "event": { "$ref": "#/components/schemas/Event" },
            },
        },
        "EventPage": {
            "type": "object", "required": ["events"],
            "properties": {
                "events": { "type": "array", "items": { "$ref": "#/components/schemas/StoredEvent" } },
                "next": s("integer", "cursor of the next page; absent on the last"),
            },
        },
        "DropTotals": {
            "type": "object",
            "properties": {
                "dropped_total": s("integer", "events reported dropped"),
                "reports": s("integer", "batches carrying a drop report"),
                "last_reported_at": { "type": "integer", "nullable": true },
            },
        },
        "AnswersPage": {
            "type": "object", "required": ["answers"],
            "properties": {
                "answers": { "type": "array", "items": { "type": "object" } },
                "next": { "type": "integer", "nullable": true },
            },
        },
        "SiteConfig": {
            "type": "object",
            "description": "Remote configuration: version, kill, banner, texts, stall_ms, survey, sample_rate, event_cap, position, max_age_s.",
            "properties": {
                "version": s("integer", "increases on every change"),
                "kill": s("boolean", "crisis switch: the snippet installs nothing"),
                "banner": { "type": "object", "nullable": true },
                "texts": s("object", "message texts per locale"),
                "max_age_s": s("integer", "how long clients may cache it"),
            },
        },
        "Notifier": {
            "type": "object", "required": ["kind"],
            "description": "pagerduty {routing_key, severity?}, opsgenie {api_key, priority?}, slack {webhook_url}, webhook {url, secret}",
            "properties": { "kind": { "type": "string", "enum": ["pagerduty", "opsgenie", "slack", "webhook"] } },
        },
        "LoginForm": {
            "type": "object", "required": ["token", "csrf"],
            "properties": {
                "token": s("string", "the site's admin token"),
                "csrf": s("string", "the form's CSRF token (equal to the sc_csrf cookie)"),
            },
        },
        "Readiness": {
            "type": "object",
            "properties": {
                "database": s("boolean", "the database answered"),
                "queue_depth": s("integer", "batches waiting for the writer"),
                "keeping_up": s("boolean", "the writer queue is below 90% full"),
                "recovery_emails_held": s("integer", "recovery emails held by an SMTP configuration fault \
                    (refused credentials, TLS, sender refused); informational, never makes the instance unready"),
            },
        },
    })
}
