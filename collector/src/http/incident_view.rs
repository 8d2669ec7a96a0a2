//! The incident view: `GET /v1/admin/sites/{site}/incidents/view?hours=6`
//! (or `?minutes=10`), a
//! server-rendered page (HTML + inline SVG, no JavaScript) that draws the
//! abandonment and error rates over time with incident bands and lists the
//! incidents with their top endpoints, causes and sample sessions.
//!
//! Authentication is the site's admin token: an `Authorization: Bearer`
//! header, or — for people with a browser — a small login form that stores
//! the token in an `HttpOnly`, `SameSite=Strict` cookie scoped to the site's
//! admin path. Every response carries a strict CSP (no scripts at all; the
//! one stylesheet is allowed by nonce), `nosniff`, `no-referrer`,
//! `frame-ancestors 'none'` and `no-store`. The login form is protected
//! against CSRF (see [`super::csrf`]).

use std::fmt::Write as _;

use axum::{
    extract::{Path, Query, RawQuery, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Form, Router,
};
use serde::Deserialize;

use super::{admin::authorize, csrf, error::ApiError};
use crate::{
    signals::{
        incident::{clock, series_label},
        store::{self, Incident, Slot},
    },
    state::AppState,
};

/// Cookie holding the admin token for the view.
const COOKIE: &str = "sc_admin";

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route(
        "/v1/admin/sites/{site}/incidents/view",
        get(view).post(login),
    )
}

/// HTML-escape text and (single- or double-quoted) attribute values.
pub fn esc(s: &str) -> std::borrow::Cow<'_, str> {
    html_escape::encode_quoted_attribute(s)
}

fn nonce() -> String {
    crate::keys::new_admin_token()[4..36].to_string()
}

fn page(
    status: StatusCode,
    nonce: &str,
    html: String,
    extra: Option<(header::HeaderName, HeaderValue)>,
) -> Response {
    let csp = format!(
        "default-src 'none'; style-src 'nonce-{nonce}'; img-src 'self' data:; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    );
    let mut res = (status, html).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some((k, v)) = extra {
        h.append(k, v);
    }
    res
}

const CSS: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1000px;color:#1d2330;padding:0 16px}\
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px}h3{font-size:16px;margin:0 0 6px}\
h4{font-size:13px;margin:10px 0 2px;text-transform:uppercase;letter-spacing:.04em;color:#5a6272}\
.muted{color:#5a6272}figure{margin:16px 0}svg{width:100%;height:auto;background:#fff;border:1px solid #dde1e8;border-radius:6px}\
.grid{stroke:#eceff4}.axis{fill:#5a6272;font-size:11px}.ab{fill:none;stroke:#c2410c;stroke-width:2}\
.er{fill:none;stroke:#1d4ed8;stroke-width:2;stroke-dasharray:5 3}.band{fill:#fca5a5;fill-opacity:.35}\
.band.open{fill:#f87171;fill-opacity:.45}.legend span{display:inline-block;margin-right:18px}\
.sw{display:inline-block;width:18px;height:3px;vertical-align:middle;margin-right:6px}.sw.ab{background:#c2410c}\
.sw.er{background:#1d4ed8}.sw.band{background:#fca5a5;height:10px}\
article{border:1px solid #dde1e8;border-left:5px solid #9ca3af;border-radius:6px;padding:12px 16px;margin:12px 0}\
article.open{border-left-color:#dc2626}article.resolved{border-left-color:#16a34a}code{font-size:13px}\
ol,ul{margin:2px 0 0;padding-left:20px}form{margin-top:16px}input{font:inherit;padding:6px;width:420px}\
button{font:inherit;padding:6px 14px}.error{color:#b91c1c}";

fn login_page(site_key: &str, csrf: &str, error: Option<&str>) -> (String, String) {
    let n = nonce();
    let mut html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Steadycart — sign in</title>\
         <style nonce=\"{n}\">{CSS}</style></head><body><h1>Steadycart incident view</h1>\
         <p class=\"muted\">Site <code>{}</code>. Enter the site's admin token.</p>",
        esc(site_key)
    );
    if let Some(e) = error {
        let _ = write!(html, "<p class=\"error\" role=\"alert\">{}</p>", esc(e));
    }
    html.push_str(
        "<form method=\"post\"><label for=\"token\">Admin token</label><br>\
         <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" required> \
         <button type=\"submit\">Open</button>",
    );
    let _ = write!(
        html,
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\"></form></body></html>",
        esc(csrf)
    );
    (n, html)
}

/// The token from the bearer header or the view's cookie.
fn with_cookie_token(headers: &HeaderMap) -> HeaderMap {
    let mut h = headers.clone();
    if h.contains_key(header::AUTHORIZATION) {
        return h;
    }
    let token = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string());
    if let Some(t) = token.and_then(|t| HeaderValue::from_str(&format!("Bearer {t}")).ok()) {
        h.insert(header::AUTHORIZATION, t);
    }
    h
}

/// Query of the view.
#[derive(Debug, Deserialize)]
pub struct ViewQuery {
    /// Hours to show, 1–720. Default 6.
    hours: Option<i64>,
    /// Minutes to show instead, 1–43200 (drills with second-long buckets
    /// look at a few minutes).
    minutes: Option<i64>,
    /// End of the range, ms. Default now.
    to: Option<i64>,
}

async fn view(
    State(state): State<AppState>,
    Path(site_key): Path<String>,
    Query(q): Query<ViewQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let site = match authorize(&state, &site_key, &with_cookie_token(&headers)).await {
        Ok(site) => site,
        Err(ApiError::Unauthorized(_)) => {
            return Ok(login_response(
                &state,
                &site_key,
                &headers,
                StatusCode::UNAUTHORIZED,
                None,
            ));
        }
        Err(e) => return Err(e),
    };
    let span = match q.minutes {
        Some(m) if !(1..=43_200).contains(&m) => {
            return Err(ApiError::field("minutes", "must be between 1 and 43200"))
        }
        Some(m) => m * 60_000,
        None => {
            let hours = q.hours.unwrap_or(6);
            if !(1..=720).contains(&hours) {
                return Err(ApiError::field("hours", "must be between 1 and 720"));
            }
            hours * 3_600_000
        }
    };
    let bucket = state.config.signals.bucket_ms();
    let to = q.to.unwrap_or_else(crate::now_ms);
    // About 240 points across, whole buckets.
    let step = ((span / 240).max(bucket) / bucket) * bucket;
    let from = (to - span).div_euclid(step) * step;
    let slots = store::slots(&state.db, site.id, from, to, step).await?;
    let incidents = store::list_incidents(&state.db, site.id, None, from, to, 100).await?;
    let n = nonce();
    let html = render(&n, &site.name, from, to, step, &slots, &incidents);
    Ok(page(StatusCode::OK, &n, html, None))
}

/// The login form, with a CSRF token (reusing the browser's cookie when it
/// has a well-formed one, else setting a fresh one).
fn login_response(
    state: &AppState,
    site_key: &str,
    headers: &HeaderMap,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let (csrf, fresh) = csrf::form_token(headers);
    let (n, html) = login_page(site_key, &csrf, error);
    let cookie = fresh
        .then(|| {
            HeaderValue::from_str(&format!(
                "{}={csrf}; HttpOnly; SameSite=Strict; Path=/v1/admin/sites/{site_key}/{}",
                csrf::COOKIE,
                if secure_cookies(state) {
                    "; Secure"
                } else {
                    ""
                }
            ))
            .ok()
        })
        .flatten()
        .map(|v| (header::SET_COOKIE, v));
    page(status, &n, html, cookie)
}

/// `Secure` cookies when the collector is published over HTTPS.
fn secure_cookies(state: &AppState) -> bool {
    state
        .config
        .signals
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"))
}

/// Form of the login POST.
#[derive(Deserialize)]
pub struct Login {
    token: String,
    /// The CSRF token from the form (see [`csrf`]).
    #[serde(default)]
    csrf: String,
}

async fn login(
    State(state): State<AppState>,
    Path(site_key): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    Form(form): Form<Login>,
) -> Result<Response, ApiError> {
    if let Err(e) = csrf::check(&headers, &form.csrf) {
        tracing::info!(reason = %e, "incident view login refused (CSRF)");
        return Ok(login_response(
            &state,
            &site_key,
            &headers,
            StatusCode::FORBIDDEN,
            Some("This form expired or was sent from another site. Please sign in again."),
        ));
    }
    let token = form.token.trim().to_string();
    let mut h = HeaderMap::new();
    let valid = token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if let Ok(v) = HeaderValue::from_str(&format!("Bearer {token}")) {
        h.insert(header::AUTHORIZATION, v);
    }
    match authorize(&state, &site_key, &h).await {
        Ok(_) if valid => {
            let secure = secure_cookies(&state);
            let cookie = format!(
                "{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/v1/admin/sites/{site_key}/; Max-Age=43200{}",
                if secure { "; Secure" } else { "" }
            );
            let mut res = StatusCode::SEE_OTHER.into_response();
            res.headers_mut().insert(
                header::LOCATION,
                HeaderValue::from_str(&format!(
                    "/v1/admin/sites/{site_key}/incidents/view{}",
                    query
                        .filter(|q| q
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"=&_-".contains(&b)))
                        .map(|q| format!("?{q}"))
                        .unwrap_or_default()
                ))
                .map_err(|e| ApiError::Internal(e.into()))?,
            );
            res.headers_mut().insert(
                header::SET_COOKIE,
                HeaderValue::from_str(&cookie).map_err(|e| ApiError::Internal(e.into()))?,
            );
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(res)
        }
        Ok(_) | Err(ApiError::Unauthorized(_)) => Ok(login_response(
            &state,
            &site_key,
            &headers,
            StatusCode::UNAUTHORIZED,
            Some("That token does not open this site."),
        )),
        Err(e) => Err(e),
    }
}

/// Chart geometry.
const W: f64 = 960.0;
const H: f64 = 300.0;
const L: f64 = 52.0;
const R: f64 = 16.0;
const T: f64 = 14.0;
const B: f64 = 30.0;

/// A path through the points of `name`, broken where there is no data.
fn line(slots: &[Slot], name: &str, x: impl Fn(i64) -> f64, y: impl Fn(f64) -> f64) -> String {
    let mut d = String::new();
    let mut pen = false;
    for s in slots {
        match s.value(name) {
            Some(v) => {
                let _ = write!(
                    d,
                    "{}{:.1},{:.1} ",
                    if pen { "L" } else { "M" },
                    x(s.t),
                    y(v)
                );
                pen = true;
            }
            None => pen = false,
        }
    }
    d.trim_end().to_string()
}

/// The whole page. Pure, so it is unit-tested for escaping and structure.
pub fn render(
    nonce: &str,
    site_name: &str,
    from: i64,
    to: i64,
    step: i64,
    slots: &[Slot],
    incidents: &[Incident],
) -> String {
    let max = slots
        .iter()
        .flat_map(|s| [s.value("abandonment_rate"), s.value("error_rate")])
        .flatten()
        .fold(0.05f64, f64::max);
    // A round top: the next 5% (or 1% below 10%).
    let unit = if max > 0.1 { 0.05 } else { 0.01 };
    let top = ((max * 1.1) / unit).ceil() * unit;
    let span = (to - from).max(1) as f64;
    let x = |t: i64| L + (t - from) as f64 / span * (W - L - R);
    let y = |v: f64| T + (1.0 - v / top) * (H - T - B);
    let mut svg = format!(
        "<svg viewBox=\"0 0 {W} {H}\" role=\"img\" aria-labelledby=\"chart-title\" xmlns=\"http://www.w3.org/2000/svg\">\
         <title id=\"chart-title\">Checkout abandonment and storefront API error rates</title>"
    );
    for i in 0..=4 {
        let v = top * f64::from(i) / 4.0;
        let _ = write!(
            svg,
            "<line class=\"grid\" x1=\"{L}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/><text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{:.0}%</text>",
            W - R,
            L - 6.0,
            y(v) + 4.0,
            v * 100.0,
            y = y(v)
        );
    }
    let ticks = 6;
    for i in 0..=ticks {
        let t = from + (to - from) * i / ticks;
        let _ = write!(
            svg,
            "<text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            x(t),
            H - 10.0,
            esc(clock(t).trim_end_matches(" UTC"))
        );
    }
    for i in incidents {
        let start = i.since.max(from);
        let end = i.resolved_at.unwrap_or(to).min(to);
        if end <= start {
            continue;
        }
        let _ = write!(
            svg,
            "<rect class=\"band {}\" data-incident=\"{}\" x=\"{:.1}\" y=\"{T}\" width=\"{:.1}\" height=\"{:.1}\"><title>{}</title></rect>",
            esc(&i.status),
            i.id,
            x(start),
            (x(end) - x(start)).max(2.0),
            H - T - B,
            esc(&i.summary)
        );
    }
    let _ = write!(
        svg,
        "<path class=\"ab\" data-series=\"abandonment_rate\" d=\"{}\"/><path class=\"er\" data-series=\"error_rate\" d=\"{}\"/></svg>",
        line(slots, "abandonment_rate", x, y),
        line(slots, "error_rate", x, y)
    );

    let mut html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Steadycart incidents — {name}</title><style nonce=\"{nonce}\">{CSS}</style></head><body>\
         <header><h1>Checkout health — {name}</h1><p class=\"muted\">{} to {}, one point per {} s</p></header>\
         <figure>{svg}<figcaption class=\"legend\"><span><i class=\"sw ab\"></i>Checkout abandonment rate</span>\
         <span><i class=\"sw er\"></i>API error rate</span><span><i class=\"sw band\"></i>Incident</span></figcaption></figure>\
         <section><h2>Incidents</h2>",
        clock(from),
        clock(to),
        step / 1000,
        name = esc(site_name),
    );
    if incidents.is_empty() {
        html.push_str("<p class=\"muted\">No incidents in this period.</p>");
    }
    for i in incidents {
        let until = match i.resolved_at {
            Some(r) => format!("until {}", clock(r)),
            None => "ongoing".to_string(),
        };
        let _ = write!(
            html,
            "<article class=\"incident {status}\" id=\"incident-{id}\"><h3>{summary}</h3>\
             <p class=\"muted\">#{id} · {series} · {status} · since {since}, {until} · peak {peak:.1}× baseline ({base:.1}%)</p>",
            status = esc(&i.status),
            id = i.id,
            summary = esc(&i.summary),
            series = esc(series_label(&i.series)),
            since = clock(i.since),
            peak = i.peak_ratio,
            base = i.baseline * 100.0,
        );
        if !i.details.culprits.is_empty() {
            html.push_str("<h4>Top endpoints</h4><ol class=\"culprits\">");
            for c in &i.details.culprits {
                let _ = write!(
                    html,
                    "<li><code>{}</code> — {} of {} calls failed{}</li>",
                    esc(&c.endpoint),
                    c.trouble,
                    c.calls,
                    c.top_status
                        .as_deref()
                        .map(|s| format!(", mostly {}", esc(s)))
                        .unwrap_or_default()
                );
            }
            html.push_str("</ol>");
        }
        if !i.details.causes.is_empty() {
            html.push_str("<h4>What abandoning shoppers met</h4><ul>");
            for c in &i.details.causes {
                let _ = write!(
                    html,
                    "<li><code>{}</code> — {} sessions ({:.0}%)</li>",
                    esc(&c.label),
                    c.sessions,
                    c.share * 100.0
                );
            }
            html.push_str("</ul>");
        }
        if !i.details.samples.is_empty() {
            let s: Vec<String> = i
                .details
                .samples
                .iter()
                .map(|s| format!("<code>{}</code>", esc(s)))
                .collect();
            let _ = write!(html, "<h4>Sample sessions</h4><p>{}</p>", s.join(", "));
        }
        let sv = &i.details.survey;
        if sv.answered > 0 {
            let _ = write!(
                html,
                "<h4>Exit-survey answers during it ({})</h4><ul class=\"survey\">",
                sv.answered
            );
            for (choice, n) in &sv.choices {
                let _ = write!(html, "<li><code>{}</code> — {n}</li>", esc(choice));
            }
            for a in sv
                .latest
                .iter()
                .filter(|a| a.free_text.is_some() || a.rating.is_some())
            {
                let _ = write!(
                    html,
                    "<li>{}{}<span class=\"muted\"> — {} at {}</span></li>",
                    a.rating.map(|r| format!("{r}/5 ")).unwrap_or_default(),
                    a.free_text
                        .as_deref()
                        .map(|t| format!("“{}”", esc(t)))
                        .unwrap_or_default(),
                    esc(&a.session),
                    clock(a.at)
                );
            }
            html.push_str("</ul>");
        }
        html.push_str("</article>");
    }
    html.push_str("</section></body></html>");
    html
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{detect::attribution::Culprit, signals::incident::IncidentDetails};

    #[test]
    fn shopper_strings_are_escaped_and_bands_drawn() {
        let slots: Vec<Slot> = (0..10)
            .map(|i| Slot {
                t: i * 60_000,
                sums: [10, 10, 8, if i >= 5 { 6 } else { 2 }, 0, 40, 1, 0],
                seen: i != 3,
            })
            .collect();
        let incident = Incident {
            id: 3,
            series: "abandonment".into(),
            status: "open".into(),
            since: 300_000,
            opened_at: 360_000,
            updated_at: 360_000,
            ended: None,
            resolved_at: None,
            baseline: 0.2,
            observed: 0.43,
            peak_ratio: 2.1,
            summary: "checkout abandonment <script>alert(1)</script>".into(),
            details: IncidentDetails {
                culprits: vec![Culprit {
                    endpoint: "POST /a\"><img src=x onerror=alert(1)>".into(),
                    top_status: Some("503".into()),
                    calls: 9,
                    trouble: 5,
                    excess: 4.0,
                }],
                samples: vec!["s_'x'".into()],
                survey: crate::signals::incident::SurveyDigest {
                    answered: 1,
                    choices: vec![("price".into(), 1)],
                    latest: vec![crate::signals::incident::SurveyBrief {
                        session: "s_1".into(),
                        at: 0,
                        choice: Some("price".into()),
                        free_text: Some("</li><script>x</script>".into()),
                        rating: Some(2),
                        last_status: Some(503),
                    }],
                },
                ..Default::default()
            },
        };
        let html = render(
            "N0NCE",
            "Shop & <Co>",
            0,
            600_000,
            60_000,
            &slots,
            &[incident],
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;script&gt;") && html.contains("Shop &amp; &lt;Co&gt;"));
        assert!(
            html.contains("2/5 “&lt;/li&gt;&lt;script&gt;x&lt;/script&gt;”"),
            "{html}"
        );
        assert!(html.contains("<style nonce=\"N0NCE\">"));
        assert!(html.contains("class=\"band open\" data-incident=\"3\""));
        // The gap at slot 3 breaks the line into two pieces.
        let ab = html
            .split("data-series=\"abandonment_rate\" d=\"")
            .nth(1)
            .unwrap();
        let d = &ab[..ab.find('"').unwrap()];
        assert_eq!(d.matches('M').count(), 2, "{d}");
        assert_eq!(d.matches('L').count(), 7, "{d}");
    }
}
