//! The crisis drill, short (CI): three synthetic shoppers in headless
//! Chromium on the demo store, checkout answering 503 for 40 s after 40 s
//! of healthy traffic, ten-second signal buckets.
//! Asserted: the fallback showed during the outage, the incident reached
//! the PagerDuty, Slack and webhook receivers after the outage began and
//! was resolved after it ended, naming the checkout endpoint; the JSON
//! timeline has every field with RFC 3339 times; the report and the
//! incident view (with an incident band — a real spike from the demo
//! store) were drawn and saved under `artifacts/`; the recovery emails of
//! the shoppers who left their email with consent reached the SMTP server
//! after the outage, never while an incident was open, one per contact.

use serde_json::Value;
use steadycart_tests::{
    artifacts_dir,
    drill::{self, timeline::rfc3339, DrillOptions, Scenario},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkout_outage_drill_pages_and_resolves() -> anyhow::Result<()> {
    let dir = artifacts_dir();
    let json_path = dir.join("drill-ci.json");
    let report_path = dir.join("drill-ci-report.html");
    let outcome = drill::run(&DrillOptions {
        scenario: Scenario::CheckoutOutage,
        speed: 2.0,
        shoppers: 3,
        seed: 11,
        database_url: None,
        json: Some(json_path.clone()),
        report: Some(report_path.clone()),
        screenshots: Some(dir.join("drill-ci")),
        progress: true,
    })
    .await?;
    let t = &outcome.timeline;
    eprintln!("{}", t.render_text());
    let visits = &outcome.visits;

    // Shoppers shopped, and met the outage.
    assert!(visits.len() >= 6, "{visits:#?}");
    assert!(t.sessions >= 6, "{}", t.render_text());
    assert!(t.sessions_affected >= 1, "{}", t.render_text());
    let fallback = t.first_fallback_shown.expect("a fallback was shown");
    assert!(
        (t.outage_started - 1_000..=t.outage_ended).contains(&fallback),
        "{}",
        t.render_text()
    );

    // The incident reached the receivers during the outage and was resolved
    // after it, on every target.
    let triggered = t.incident_triggered.expect("incident triggered");
    let resolved = t.incident_resolved.expect("incident resolved");
    assert!(triggered > t.outage_started, "{}", t.render_text());
    assert!(
        resolved > t.outage_ended && resolved > triggered,
        "{}",
        t.render_text()
    );
    let (pd, slack, hook) = outcome.deliveries;
    assert!(
        pd >= 2 && slack >= 2 && hook >= 2,
        "{:?}",
        outcome.deliveries
    );
    let incident = t.incident.as_deref().unwrap_or_default();
    assert!(incident.contains("POST /api/checkout"), "{incident}");
    assert!(
        outcome.incidents.iter().any(|i| i["series"] == "errors"),
        "{:#?}",
        outcome.incidents
    );

    // Recovery emails: shoppers left an email with consent during the
    // outage; each got one email, after the outage, not while its incident
    // was open (the drill's collector waits for the resolution).
    assert!(t.contacts_captured >= 1, "{}", t.render_text());
    let email = t
        .first_recovery_email
        .expect("a recovery email was delivered");
    assert!(email > t.outage_ended, "{}", t.render_text());
    let given: Vec<&str> = visits.iter().filter_map(|v| v.email.as_deref()).collect();
    for d in &outcome.emails {
        assert_eq!(d.to.len(), 1, "{d:?}");
        assert!(given.contains(&d.to[0].as_str()), "{d:?} not in {given:?}");
        // Held while the outage's incident was open.
        for i in outcome
            .incidents
            .iter()
            .filter(|i| i["series"] == "errors" && i["opened_at"].as_i64() < Some(t.outage_ended))
        {
            let resolved = i["resolved_at"].as_i64().expect("resolved");
            assert!(d.at_ms >= resolved, "email at {} before {i}", d.at_ms);
        }
    }
    let emailed = outcome
        .contacts
        .iter()
        .filter(|c| c["status"] == "emailed")
        .count();
    assert!(
        outcome.contacts.iter().all(|c| c["status"] != "pending"),
        "{:#?}",
        outcome.contacts
    );
    assert_eq!(t.emails_sent, emailed as u64, "{:#?}", outcome.contacts);
    assert_eq!(t.emails_sent as usize, outcome.emails.len());

    // The JSON: every field the issue names, RFC 3339 times.
    let j: Value = serde_json::from_slice(&std::fs::read(&json_path)?)?;
    for (k, ms) in [
        ("outage_started_at", t.outage_started),
        ("first_fallback_shown_at", fallback),
        ("incident_triggered_at", triggered),
        ("incident_resolved_at", resolved),
        ("first_recovery_email_at", email),
    ] {
        let s = j[k].as_str().unwrap_or_else(|| panic!("{k}: {j}"));
        assert_eq!(s, rfc3339(ms), "{k}");
        assert!(
            s.len() >= 20 && s.as_bytes()[10] == b'T' && s.ends_with('Z'),
            "{k}={s}"
        );
    }
    assert!(j.get("first_survey_answer_at").is_some(), "{j}");
    for k in [
        "sessions",
        "sessions_affected",
        "abandoned",
        "contacts_captured",
        "emails_sent",
    ] {
        assert!(j[k].is_u64(), "{k}: {j}");
    }
    assert_eq!(j["emails_sent"], t.emails_sent);

    // The report and the incident view, with the spike.
    let html = std::fs::read_to_string(&report_path)?;
    assert!(html.contains("<svg") && html.contains(r#"class="incident""#));
    assert!(
        outcome.incident_view_bands >= 1,
        "the incident view draws the incident"
    );
    for shot in &outcome.screenshots {
        assert!(
            std::fs::metadata(shot)?.len() > 10_000,
            "{}",
            shot.display()
        );
    }
    assert_eq!(outcome.screenshots.len(), 2);
    Ok(())
}
