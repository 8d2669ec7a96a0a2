//! PagerDuty Events API v2: `POST {base}/v2/enqueue`. Trigger carries a
//! `payload` (summary ≤ 1024 chars, source, severity, timestamp, component,
//! group, class, custom_details) and `links`; resolve repeats the same
//! `routing_key` and `dedup_key`. 202 means accepted.

use serde_json::json;

use super::{rfc3339, truncate, Action, Delivery, Notice};

/// The request for `notice`.
pub fn build(base: &str, routing_key: &str, severity: Option<&str>, n: &Notice<'_>) -> Delivery {
    let i = n.incident;
    let body = match n.action {
        Action::Trigger => {
            let mut event = json!({
                "routing_key": routing_key,
                "event_action": "trigger",
                "dedup_key": n.dedup_key(),
                "payload": {
                    "summary": truncate(&i.summary, 1024),
                    "source": format!("steadycart/{}", n.site_key),
                    "severity": severity.unwrap_or("critical"),
                    "timestamp": rfc3339(i.since),
                    "component": i.details.culprits.first().map(|c| c.endpoint.clone()).unwrap_or_else(|| "checkout".into()),
                    "group": n.site_key,
                    "class": i.series,
                    "custom_details": {
                        "ratio": i.peak_ratio,
                        "baseline": i.baseline,
                        "observed": i.observed,
                        "culprits": i.details.culprits,
                        "causes": i.details.causes,
                        "sample_sessions": i.details.samples,
                    },
                },
            });
            if let Some(url) = &n.view_url {
                event["links"] = json!([{ "href": url, "text": "Steadycart incident view" }]);
            }
            event
        }
        Action::Resolve => json!({
            "routing_key": routing_key,
            "event_action": "resolve",
            "dedup_key": n.dedup_key(),
        }),
    };
    Delivery {
        url: format!("{}/v2/enqueue", base.trim_end_matches('/')),
        headers: Vec::new(),
        body: body.to_string(),
    }
}
