//! The drill's HTML report (pure): one self-contained page, no script — an
//! SVG chart of the error, stall and abandonment rates per bucket with the
//! outage and the incident as bands and every moment of the timeline as a
//! marker, then the timeline table and the counts.

use std::fmt::Write as _;

use super::timeline::{clock, offset, rfc3339, Timeline};

/// One bucket of the collector's signals.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Point {
    /// Bucket start, ms.
    pub t: i64,
    /// Errors per call.
    pub error_rate: f64,
    /// Stalls per call.
    pub stall_rate: f64,
    /// Abandonments per ended checkout.
    pub abandonment_rate: f64,
    /// Sessions seen.
    pub sessions: f64,
}

fn esc(s: &str) -> std::borrow::Cow<'_, str> {
    html_escape::encode_quoted_attribute(s)
}

const W: f64 = 960.0;
const H: f64 = 320.0;
const L: f64 = 48.0;
const R: f64 = 16.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 36.0;

/// The report page.
pub fn render(t: &Timeline, points: &[Point]) -> String {
    let from = t.drill_started;
    let to = t.drill_ended.max(from + 1);
    let x = |ms: i64| L + (ms - from).clamp(0, to - from) as f64 / (to - from) as f64 * (W - L - R);
    let top = points
        .iter()
        .flat_map(|p| [p.error_rate, p.stall_rate, p.abandonment_rate])
        .fold(0.1f64, f64::max)
        .min(1.0);
    let y = |v: f64| TOP + (1.0 - v / top) * (H - TOP - BOTTOM);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="Error, stall and abandonment rates during the drill">"#
    );
    // Bands: the outage, then the incident as PagerDuty saw it.
    let _ = write!(
        svg,
        r#"<rect class="outage" x="{:.1}" y="{TOP}" width="{:.1}" height="{:.1}"/><text class="band" x="{:.1}" y="{:.1}">outage</text>"#,
        x(t.outage_started),
        x(t.outage_ended) - x(t.outage_started),
        H - TOP - BOTTOM,
        x(t.outage_started) + 4.0,
        TOP + 14.0
    );
    if let Some(start) = t.incident_triggered {
        let end = t.incident_resolved.unwrap_or(to);
        let _ = write!(
            svg,
            r#"<rect class="incident" x="{:.1}" y="{TOP}" width="{:.1}" height="{:.1}"/><text class="band" x="{:.1}" y="{:.1}">incident</text>"#,
            x(start),
            (x(end) - x(start)).max(1.0),
            H - TOP - BOTTOM,
            x(start) + 4.0,
            TOP + 30.0
        );
    }
    // Axes: rate gridlines and time ticks.
    for i in 0..=4 {
        let v = top * f64::from(i) / 4.0;
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{L}" x2="{:.1}" y1="{:.1}" y2="{:.1}"/><text class="axis" x="{:.1}" y="{:.1}" text-anchor="end">{:.0}%</text>"#,
            W - R,
            y(v),
            y(v),
            L - 6.0,
            y(v) + 4.0,
            v * 100.0
        );
    }
    for i in 0..=6 {
        let ms = from + (to - from) * i / 6;
        let anchor = match i {
            0 => "start",
            6 => "end",
            _ => "middle",
        };
        let _ = write!(
            svg,
            r#"<text class="axis" x="{:.1}" y="{:.1}" text-anchor="{anchor}">{}</text>"#,
            x(ms),
            H - BOTTOM + 16.0,
            offset(ms - from)
        );
    }
    // A bucket's value belongs to its whole span: draw it at the middle, so
    // a rise starts where the outage does, not a bucket early.
    let half = points
        .windows(2)
        .map(|w| w[1].t - w[0].t)
        .find(|d| *d > 0)
        .unwrap_or(0)
        / 2;
    // Series.
    for (name, class, get) in [
        (
            "error rate",
            "errors",
            (|p: &Point| p.error_rate) as fn(&Point) -> f64,
        ),
        (
            "stall rate",
            "stalls",
            (|p: &Point| p.stall_rate) as fn(&Point) -> f64,
        ),
        (
            "abandonment rate",
            "abandonment",
            (|p: &Point| p.abandonment_rate) as fn(&Point) -> f64,
        ),
    ] {
        let d: Vec<String> = points
            .iter()
            .filter(|p| p.t + half >= from && p.t + half <= to)
            .map(|p| format!("{:.1},{:.1}", x(p.t + half), y(get(p).min(top))))
            .collect();
        if !d.is_empty() {
            let _ = write!(
                svg,
                r#"<polyline class="{class}" data-series="{class}" points="{}"><title>{name}</title></polyline>"#,
                d.join(" ")
            );
        }
    }
    // Markers.
    for (ms, label) in t.moments() {
        let Some(ms) = ms else { continue };
        if ms == t.drill_started {
            continue;
        }
        let _ = write!(
            svg,
            r#"<line class="marker" x1="{0:.1}" x2="{0:.1}" y1="{TOP}" y2="{1:.1}"><title>{2} at {3}</title></line>"#,
            x(ms),
            H - BOTTOM,
            esc(label),
            clock(ms)
        );
    }
    svg.push_str("</svg>");

    let mut rows = String::new();
    for (ms, label) in t.moments() {
        let _ = write!(
            rows,
            "<tr><td>{}</td><td><time>{}</time></td><td>{}</td></tr>",
            ms.map_or("—".into(), |ms| offset(ms - from)),
            ms.map_or_else(|| t.missing(label).to_string(), rfc3339),
            esc(label)
        );
    }
    let secs = |s: Option<f64>| s.map_or("—".to_string(), |s| format!("{s:.1} s"));
    let counts = [
        ("sessions", t.sessions.to_string()),
        ("sessions affected", t.sessions_affected.to_string()),
        ("abandoned", t.abandoned.to_string()),
        ("contacts captured", t.contacts_captured.to_string()),
        ("emails sent", t.emails_sent.to_string()),
        ("detection delay", secs(t.detection_delay_s())),
        ("resolved after outage", secs(t.resolution_delay_s())),
    ];
    let counts: String = counts
        .iter()
        .map(|(k, v)| {
            format!(
                r#"<div class="stat"><b>{}</b><span>{}</span></div>"#,
                esc(v),
                k
            )
        })
        .collect();
    format!(
        r##"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Crisis drill · {scenario}</title>
<style>
body {{ font: 15px/1.45 system-ui, sans-serif; color: #1d2430; margin: 24px; background: #fff; }}
h1 {{ font-size: 1.4rem; margin: 0 0 4px; }} .sub {{ color: #5b6575; margin: 0 0 16px; }}
.stats {{ display: flex; flex-wrap: wrap; gap: 10px; margin: 16px 0; }}
.stat {{ border: 1px solid #e3e7ee; border-radius: 8px; padding: 8px 12px; min-width: 110px; }}
.stat b {{ display: block; font-size: 1.3rem; }} .stat span {{ color: #5b6575; font-size: .85rem; }}
svg {{ border: 1px solid #e3e7ee; border-radius: 8px; max-width: 100%; height: auto; }}
.outage {{ fill: #d93025; fill-opacity: .10; }} .incident {{ fill: none; stroke: #e37400; stroke-width: 2; stroke-dasharray: 6 4; }}
.band {{ font-size: 12px; fill: #5b6575; }} .grid {{ stroke: #eef1f5; }} .axis {{ font-size: 11px; fill: #5b6575; }}
polyline {{ fill: none; stroke-width: 2.5; }} .errors {{ stroke: #d93025; }} .stalls {{ stroke: #e3a500; }} .abandonment {{ stroke: #1f6feb; }}
.marker {{ stroke: #1d2430; stroke-opacity: .45; stroke-dasharray: 2 3; }}
.legend span {{ margin-right: 16px; }} .legend i {{ display: inline-block; width: 14px; height: 3px; vertical-align: middle; margin-right: 4px; }}
table {{ border-collapse: collapse; margin-top: 12px; }} td {{ padding: 4px 14px 4px 0; border-bottom: 1px solid #eef1f5; }}
</style></head>
<body><h1>Crisis drill: {scenario}</h1>
<p class="sub">{fault} · speed {speed} · {shoppers} synthetic shoppers (seed {seed}) · {database}</p>
<div class="stats">{counts}</div>
<p class="legend"><span><i style="background:#d93025"></i>error rate</span><span><i style="background:#e3a500"></i>stall rate</span><span><i style="background:#1f6feb"></i>abandonment rate</span><span>shaded: outage · dashed: incident open</span></p>
{svg}
{incident}
<table><tbody>{rows}</tbody></table>
</body></html>
"##,
        scenario = esc(&t.scenario),
        fault = esc(&t.fault),
        speed = t.speed,
        shoppers = t.shoppers,
        seed = t.seed,
        database = esc(&t.database),
        incident = t
            .incident
            .as_deref()
            .map(|i| format!(
                r#"<p class="incident-line"><b>Incident:</b> {}</p>"#,
                esc(i)
            ))
            .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_draws_bands_series_and_markers() {
        let t = Timeline {
            scenario: "checkout-outage".into(),
            speed: 2.0,
            shoppers: 3,
            seed: 7,
            database: "sqlite".into(),
            fault: "POST /api/checkout → 503 <b>".into(),
            drill_started: 0,
            outage_started: 30_000,
            outage_ended: 60_000,
            drill_ended: 90_000,
            first_fallback_shown: Some(31_000),
            first_survey_answer: Some(44_000),
            incident_triggered: Some(42_000),
            incident_resolved: Some(70_000),
            first_recovery_email: Some(71_500),
            incident: Some("errors 9× baseline".into()),
            sessions: 40,
            sessions_affected: 12,
            abandoned: 8,
            contacts_captured: 3,
            emails_sent: 2,
        };
        let points: Vec<Point> = (0..18)
            .map(|i| Point {
                t: i * 5_000,
                error_rate: if (6..12).contains(&i) { 0.2 } else { 0.0 },
                ..Point::default()
            })
            .collect();
        let html = render(&t, &points);
        assert!(html.contains(r#"class="outage""#) && html.contains(r#"class="incident""#));
        assert_eq!(html.matches("<polyline").count(), 3);
        assert!(html.contains("&lt;b&gt;"), "escaped");
        assert!(!html.contains("<script"));
        // Every step of the chain, the recovery email included.
        assert_eq!(html.matches(r#"class="marker""#).count(), 7);
        assert!(html.contains(
            "<time>1970-01-01T00:01:11.5Z</time></td><td>first recovery email delivered"
        ));
        assert!(html.contains("<b>2</b><span>emails sent</span>"));

        let none = Timeline {
            first_recovery_email: None,
            emails_sent: 0,
            contacts_captured: 0,
            ..t
        };
        assert!(render(&none, &points).contains("none (no contacts captured)"));
    }
}
