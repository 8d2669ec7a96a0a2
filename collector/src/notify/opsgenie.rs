//! Opsgenie Alert API: create with `POST {base}/v2/alerts` (message ≤ 130
//! chars, alias ≤ 512 as the dedup key, description, priority, details,
//! tags, entity, source); close with
//! `POST {base}/v2/alerts/{alias}/close?identifierType=alias`. The key goes in
//! `Authorization: GenieKey …`. 202 means accepted.

use std::collections::BTreeMap;

use serde_json::json;

use super::{truncate, Action, Delivery, Notice};

/// The request for `notice`.
pub fn build(base: &str, api_key: &str, priority: Option<&str>, n: &Notice<'_>) -> Delivery {
    let i = n.incident;
    let base = base.trim_end_matches('/');
    let alias = truncate(&n.dedup_key(), 512);
    let headers = vec![("Authorization".to_string(), format!("GenieKey {api_key}"))];
    match n.action {
        Action::Trigger => {
            // Opsgenie's details are a flat string map.
            let mut details = BTreeMap::new();
            details.insert("series", i.series.clone());
            details.insert("ratio", format!("{:.2}", i.peak_ratio));
            details.insert("baseline", format!("{:.4}", i.baseline));
            if let Some(c) = i.details.culprits.first() {
                details.insert("top_endpoint", c.endpoint.clone());
            }
            if let Some(c) = i.details.causes.first() {
                details.insert("top_cause", c.label.clone());
            }
            details.insert("sample_sessions", i.details.samples.join(", "));
            if let Some(url) = &n.view_url {
                details.insert("view", url.clone());
            }
            let body = json!({
                "message": truncate(&i.summary, 130),
                "alias": alias,
                "description": truncate(&i.summary, 15_000),
                "priority": priority.unwrap_or("P2"),
                "details": details,
                "tags": ["steadycart", i.series],
                "entity": n.site_key,
                "source": "steadycart",
            });
            Delivery {
                url: format!("{base}/v2/alerts"),
                headers,
                body: body.to_string(),
            }
        }
        Action::Resolve => Delivery {
            url: format!(
                "{base}/v2/alerts/{}/close?identifierType=alias",
                url::form_urlencoded::byte_serialize(alias.as_bytes()).collect::<String>()
            ),
            headers,
            body: json!({ "source": "steadycart", "note": "Resolved: back to baseline." })
                .to_string(),
        },
    }
}
