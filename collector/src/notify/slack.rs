//! Slack incoming webhook: `text` (the notification fallback) plus `blocks`.
//! Everything that came from shoppers' pages (endpoint paths, statuses,
//! session ids) is escaped (`&`, `<`, `>`), so a crafted URL can neither
//! inject a link nor ping `<!channel>`; it is shown in code spans (which
//! Slack doesn't format; a backtick can't close them early), and in plain
//! text — the headline — `*_~` are swapped for look-alikes so `*bold*`
//! stays text. Webhooks and the incident view get the exact strings.

use serde_json::json;

use super::{Action, Delivery, Notice};

/// Escape text for Slack `mrkdwn`.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Shopper-derived text for a code span: escaped, and a backtick (which
/// would end the span) replaced by a look-alike.
pub fn code(s: &str) -> String {
    escape(s).replace('`', "\u{2CB}")
}

/// Shopper-derived text outside code spans: escaped, and Slack's formatting
/// characters replaced by look-alikes, so nothing turns bold, italic,
/// struck-through or code.
pub fn plain(s: &str) -> String {
    escape(s)
        .replace('*', "\u{2217}")
        .replace('_', "\u{2CD}")
        .replace('~', "\u{223C}")
        .replace('`', "\u{2CB}")
}

/// The request for `notice`.
pub fn build(webhook_url: &str, n: &Notice<'_>) -> Delivery {
    let i = n.incident;
    let headline = match n.action {
        Action::Trigger => format!(
            ":rotating_light: *Incident #{}*: {}",
            i.id,
            plain(&i.summary)
        ),
        Action::Resolve => format!(
            ":white_check_mark: *Resolved #{}*: {}",
            i.id,
            plain(&i.summary)
        ),
    };
    let mut lines = Vec::new();
    for c in i.details.culprits.iter().take(3) {
        lines.push(format!(
            "• `{}` — {} of {} calls failed{}",
            code(&c.endpoint),
            c.trouble,
            c.calls,
            c.top_status
                .as_deref()
                .map(|s| format!(" (mostly {})", plain(s)))
                .unwrap_or_default()
        ));
    }
    if !i.details.samples.is_empty() {
        let s: Vec<String> = i
            .details
            .samples
            .iter()
            .take(3)
            .map(|s| format!("`{}`", code(s)))
            .collect();
        lines.push(format!("Sample sessions: {}", s.join(", ")));
    }
    let mut blocks =
        vec![json!({ "type": "section", "text": { "type": "mrkdwn", "text": headline } })];
    if !lines.is_empty() && n.action == Action::Trigger {
        blocks.push(
            json!({ "type": "section", "text": { "type": "mrkdwn", "text": lines.join("\n") } }),
        );
    }
    if let Some(url) = &n.view_url {
        blocks.push(json!({ "type": "context", "elements": [{ "type": "mrkdwn", "text": format!("<{}|Open the incident view>", escape(url)) }] }));
    }
    Delivery {
        url: webhook_url.to_string(),
        headers: Vec::new(),
        body: json!({ "text": headline, "blocks": blocks }).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        detect::attribution::Culprit,
        signals::{incident::IncidentDetails, store::Incident},
    };

    #[test]
    fn shopper_strings_cannot_ping_or_link() {
        let incident = Incident {
            id: 7,
            series: "errors".into(),
            status: "open".into(),
            since: 0,
            opened_at: 0,
            updated_at: 0,
            ended: None,
            resolved_at: None,
            baseline: 0.01,
            observed: 0.3,
            peak_ratio: 30.0,
            summary:
                "storefront API errors 30.0× baseline, led by POST /api/<!channel>/*b*_i_~s~`c`"
                    .into(),
            details: IncidentDetails {
                culprits: vec![Culprit {
                    endpoint: "POST /x/<https://evil.example|click>&`*bold*`".into(),
                    top_status: Some("503".into()),
                    calls: 10,
                    trouble: 5,
                    excess: 4.0,
                }],
                samples: vec!["s_<@U123>".into()],
                ..Default::default()
            },
        };
        let n = Notice {
            site_key: "pk_test",
            incident: &incident,
            action: Action::Trigger,
            view_url: None,
            now: 0,
        };
        let d = build("https://hooks.example/T/B/X", &n);
        let v: serde_json::Value = serde_json::from_str(&d.body).unwrap();
        let all = v.to_string();
        for raw in ["<!channel>", "<https://evil", "<@U123>"] {
            assert!(!all.contains(raw), "{all}");
        }
        assert!(
            all.contains("&lt;!channel&gt;") && all.contains("&amp;"),
            "{all}"
        );
        assert_eq!(v["blocks"].as_array().unwrap().len(), 2);
        // No formatting in the headline; the endpoint's code span holds.
        let headline = v["text"].as_str().unwrap();
        let shopper = headline.split("led by").nth(1).unwrap();
        for c in ['*', '_', '~', '`'] {
            assert!(!shopper.contains(c), "{headline}");
        }
        let list = v["blocks"][1]["text"]["text"].as_str().unwrap();
        assert_eq!(
            list.matches('`').count(),
            4,
            "two intact code spans: {list}"
        );
    }
}
