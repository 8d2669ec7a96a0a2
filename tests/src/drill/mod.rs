//! The crisis drill: a real collector (SQLite, or PostgreSQL with a URL)
//! with second-scale signal buckets, the demo store, local PagerDuty /
//! Slack / webhook receivers, a real SMTP server for the recovery emails,
//! and synthetic shoppers in headless Chromium. After a healthy baseline
//! the store's fault schedule breaks one endpoint for a while; the drill
//! watches the incident open and resolve at the receivers and the recovery
//! emails arrive at the SMTP server, then builds the timeline, the JSON and
//! the HTML report.
//!
//! `cargo xtask drill` runs it from the command line (`src/bin/drill.rs`);
//! `tests/crisis_drill.rs` runs a short one with asserted bounds.
//!
//! # Layout
//! - [`scenario`]: what breaks and the phase durations per speed (pure).
//! - [`shoppers`]: the seeded synthetic shoppers (browsers).
//! - [`receivers`]: the local alert receivers with receive times.
//! - [`mailbox`]: the SMTP server with receive times.
//! - [`database`]: a fresh PostgreSQL database per drill.
//! - [`timeline`]: facts → timeline, text and JSON (pure).
//! - [`report`]: the HTML/SVG report (pure).
//!
//! Recovery emails: the collector sends them over SMTP to [`mailbox`], due
//! [`Phases::recovery_delay`] after the survey answer and held while the
//! site's incident is open (`wait_for_resolution`), as a shop would set it
//! up to say "it's fixed" only when it is.

pub mod database;
pub mod mailbox;
pub mod receivers;
pub mod report;
pub mod scenario;
pub mod shoppers;
pub mod timeline;

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use anyhow::Context;
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::Stack;
use mailbox::Mailbox;
use receivers::Receivers;
use report::Point;
pub use scenario::{Phases, Scenario};
use shoppers::{Crowd, CrowdOptions, Visit};
use timeline::{Facts, Timeline};

/// Options of one drill.
#[derive(Debug, Clone)]
pub struct DrillOptions {
    /// What breaks.
    pub scenario: Scenario,
    /// Speed factor (1: twenty-second buckets, about five minutes in all).
    pub speed: f64,
    /// Concurrent browsers.
    pub shoppers: usize,
    /// Seed of the shoppers' choices.
    pub seed: u64,
    /// `postgres://…` to run on PostgreSQL; SQLite in a temp dir otherwise.
    pub database_url: Option<String>,
    /// Where to write the JSON timeline.
    pub json: Option<PathBuf>,
    /// Where to write the HTML report.
    pub report: Option<PathBuf>,
    /// Directory for screenshots of the report and the incident view.
    pub screenshots: Option<PathBuf>,
    /// Print progress to stderr.
    pub progress: bool,
}

impl Default for DrillOptions {
    fn default() -> Self {
        Self {
            scenario: Scenario::CheckoutOutage,
            speed: 1.0,
            shoppers: 4,
            seed: 7,
            database_url: None,
            json: None,
            report: None,
            screenshots: None,
            progress: true,
        }
    }
}

/// What a drill produced.
#[derive(Debug)]
pub struct DrillOutcome {
    /// The timeline.
    pub timeline: Timeline,
    /// Every shopper visit.
    pub visits: Vec<Visit>,
    /// The collector's incidents (admin API JSON).
    pub incidents: Vec<Value>,
    /// Requests per receiver: (PagerDuty, Slack, webhook).
    pub deliveries: (usize, usize, usize),
    /// Messages the SMTP server accepted (recovery emails).
    pub emails: Vec<mailbox::Delivery>,
    /// The collector's recovery contacts at the end (admin API JSON).
    pub contacts: Vec<Value>,
    /// The HTML report.
    pub report_html: String,
    /// Screenshots taken: (report, incident view).
    pub screenshots: Vec<PathBuf>,
    /// Incident bands the incident view drew (when screenshots were taken).
    pub incident_view_bands: usize,
}

fn say(on: bool, started: Instant, what: &str) {
    if on {
        eprintln!("drill +{:>5.1}s  {what}", started.elapsed().as_secs_f64());
    }
}

/// A 32-character PagerDuty routing key for the local receiver.
const ROUTING_KEY: &str = "DR1LLR0UT1NGKEYDR1LLR0UT1NGKEY32";

/// Run one drill end to end.
pub async fn run(o: &DrillOptions) -> anyhow::Result<DrillOutcome> {
    let clock = Instant::now();
    let phases = Phases::at_speed(o.speed);
    let receivers = Receivers::start().await?;
    let mailbox = Mailbox::start()?;
    let (database, fresh_db) = match &o.database_url {
        Some(u) if u.starts_with("postgres") => ("postgres", Some(database::create(u).await?)),
        _ => ("sqlite", None),
    };
    let stack = {
        let db_url = fresh_db.as_ref().map(|d| d.url.clone());
        let pd = receivers.url.clone();
        let smtp = mailbox.url.clone();
        Stack::start_with(move |c| {
            c.database_url = db_url;
            c.signals.bucket = phases.bucket;
            c.signals.settle = phases.settle;
            c.signals.exit_grace = phases.exit_grace;
            c.signals.tick = Duration::from_millis(250);
            c.signals.pagerduty_url = pd;
            c.signals.min_backoff = Duration::from_millis(250);
            c.signals.max_backoff = Duration::from_secs(2);
            c.recovery.smtp_url = Some(smtp);
            c.recovery.delay = phases.recovery_delay;
            c.recovery.wait_for_resolution = true;
            c.recovery.tick = Duration::from_millis(250);
            c.recovery.min_backoff = Duration::from_secs(1);
            c.recovery.max_backoff = Duration::from_secs(5);
        })
        .await?
    };
    say(
        o.progress,
        clock,
        &format!(
            "collector {} ({}), demo store {}, receivers {}, SMTP {}",
            stack.collector_url,
            fresh_db.as_ref().map_or(database, |d| d.name()),
            stack.store_url,
            receivers.url,
            mailbox.url
        ),
    );
    let admin = |method: reqwest::Method, path: &str, body: Value| {
        stack
            .http
            .request(
                method,
                format!(
                    "{}/v1/admin/sites/{}/{path}",
                    stack.collector_url, stack.site_key
                ),
            )
            .bearer_auth(&stack.admin_token)
            .json(&body)
            .send()
    };
    for n in [
        json!({"kind": "pagerduty", "routing_key": ROUTING_KEY}),
        json!({"kind": "slack", "webhook_url": format!("{}/slack", receivers.url)}),
        json!({"kind": "webhook", "url": format!("{}/hook", receivers.url), "secret": "drill-webhook-secret-0123"}),
    ] {
        admin(reqwest::Method::POST, "notifiers", n)
            .await?
            .error_for_status()
            .context("adding a notifier")?;
    }
    admin(
        reqwest::Method::PUT,
        "detector",
        phases.detector_overrides(),
    )
    .await?
    .error_for_status()
    .context("setting the site's detector parameters")?;
    admin(
        reqwest::Method::PUT,
        "recovery/settings",
        json!({
            "shop_name": "Voltline Electronics",
            "from": "Voltline Electronics <shop@voltline.example>",
            "recovery_url": format!("{}/cart?recover={{token}}", stack.store_url),
            "postal_address": "1 Drill Street, Springfield",
        }),
    )
    .await?
    .error_for_status()
    .context("setting the site's recovery email settings")?;

    let crowd = Crowd::start(CrowdOptions {
        shoppers: o.shoppers,
        seed: o.seed,
        store_url: stack.store_url.clone(),
        refresh_prices: o.scenario == Scenario::PriceLag,
    })
    .await?;
    say(o.progress, clock, &format!("{} shoppers ready", o.shoppers));

    // The outage is a schedule on the store: it starts and ends by itself.
    let started = steadycart_collector::now_ms();
    // It starts on a signal-bucket boundary: the detector then judges a
    // first outage bucket that is all outage, as it would in a shop with
    // real traffic; with a few browsers' calls, a bucket half healthy and
    // half failing is too thin to be significant, and it is learned into
    // the baseline the next bucket is tested against (seen in CI under load:
    // no incident at all). Detection delay is still measured from here.
    let bucket_ms = phases.bucket.as_millis() as i64;
    let outage_from = (started + phases.baseline.as_millis() as i64 + bucket_ms - 1)
        .div_euclid(bucket_ms)
        * bucket_ms;
    let outage_until = outage_from + phases.outage.as_millis() as i64;
    let (endpoint, mut rule) = o.scenario.fault();
    rule["from_ms"] = json!(outage_from);
    rule["until_ms"] = json!(outage_until);
    stack.set_fault(endpoint, rule.clone()).await?;
    let fault = fault_label(endpoint, &rule);

    let (stop, stopped) = watch::channel(false);
    let watch_incident = async {
        let mut said = (false, false, 0usize, 0usize, 0usize);
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let now = steadycart_collector::now_ms();
            let paged = receivers.incidents();
            if o.progress {
                if !said.0 && now >= outage_from {
                    said.0 = true;
                    say(true, clock, &format!("outage started: {fault}"));
                }
                if !said.1 && now >= outage_until {
                    said.1 = true;
                    say(true, clock, "outage ended");
                }
                if paged.len() > said.2 {
                    for p in &paged[said.2..] {
                        say(true, clock, &format!("PagerDuty trigger: {}", p.summary));
                    }
                    said.2 = paged.len();
                }
                let resolved = paged.iter().filter(|p| p.resolved_ms.is_some()).count();
                if resolved > said.3 {
                    said.3 = resolved;
                    say(true, clock, "PagerDuty resolve");
                }
                let mails = mailbox.deliveries().len();
                if mails > said.4 {
                    say(true, clock, &format!("recovery emails delivered: {mails}"));
                    said.4 = mails;
                }
            }
            let all_resolved = !paged.is_empty() && paged.iter().all(|p| p.resolved_ms.is_some());
            if now >= outage_until
                && (all_resolved || now >= outage_until + phases.recovery_max.as_millis() as i64)
            {
                break;
            }
        }
        let _ = stop.send(true);
    };
    let (visits, ()) = tokio::join!(crowd.shop(stopped), watch_incident);
    let ended = steadycart_collector::now_ms();
    say(
        o.progress,
        clock,
        &format!("traffic stopped after {} visits", visits.len()),
    );
    // Let the last beacons land and the last bucket roll up.
    tokio::time::sleep(phases.exit_grace + phases.bucket + phases.settle + Duration::from_secs(1))
        .await;
    // Recovery emails are due `recovery_delay` after each answer and held
    // while the incident is open: wait until no contact is pending (each
    // emailed, or recovered by a purchase), at most `email_max`.
    let waited = Instant::now();
    let contacts = loop {
        let contacts = recovery_contacts(&stack).await?;
        let pending = contacts.iter().filter(|c| c["status"] == "pending").count();
        if pending == 0 || waited.elapsed() >= phases.email_max {
            break contacts;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let emails = mailbox.deliveries();
    if o.progress {
        let status = |s: &str| contacts.iter().filter(|c| c["status"] == s).count();
        say(
            true,
            clock,
            &format!(
                "recovery contacts: {} ({} emailed, {} pending, {} recovered, {} bounced); SMTP server accepted {} emails",
                contacts.len(),
                status("emailed"),
                status("pending"),
                status("recovered"),
                status("bounced"),
                emails.len()
            ),
        );
    }
    // The drill ends with its last email.
    let ended = emails.iter().map(|d| d.at_ms + 1_000).fold(ended, i64::max);

    let events = stack.events().await?;
    let answers = stack
        .admin_get("survey/answers?with_email=true&limit=1000")
        .await?;
    let from = started.div_euclid(bucket_ms) * bucket_ms;
    let to = steadycart_collector::now_ms();
    let signals = stack
        .admin_get(&format!(
            "signals?from={from}&to={to}&step={bucket_ms}&series=error_rate,stall_rate,abandonment_rate,sessions,abandonments,calls,errors,stalls,completions"
        ))
        .await?;
    let incidents = stack.admin_get("incidents").await?;
    let points = points(&signals);
    if o.progress {
        eprintln!(
            "drill buckets (offset s: sessions calls errors stalls abandonments completions):"
        );
        let get = |name: &str, i: usize| signals["series"][name][i].as_f64().unwrap_or(0.0);
        for (i, p) in points.iter().enumerate() {
            eprintln!(
                "  {:>6.1}: {:>3} {:>4} {:>3} {:>3} {:>3} {:>3}",
                (p.t - started) as f64 / 1000.0,
                get("sessions", i),
                get("calls", i),
                get("errors", i),
                get("stalls", i),
                get("abandonments", i),
                get("completions", i)
            );
        }
        for i in incidents["incidents"].as_array().into_iter().flatten() {
            eprintln!(
                "drill incident: {} {} {}",
                i["series"], i["status"], i["summary"]
            );
        }
    }
    let abandoned = signals["series"]["abandonments"]
        .as_array()
        .map_or(0.0, |a| a.iter().filter_map(Value::as_f64).sum::<f64>())
        as u64;

    let paged = receivers.incidents();
    let first = paged.first();
    let resolved_ms = match paged.iter().all(|p| p.resolved_ms.is_some()) {
        true => paged.iter().filter_map(|p| p.resolved_ms).max(),
        false => None,
    };
    let facts = Facts {
        scenario: o.scenario.name().into(),
        speed: o.speed,
        shoppers: o.shoppers,
        seed: o.seed,
        database: database.into(),
        fault,
        started_ms: started,
        outage_ms: (outage_from, outage_until),
        ended_ms: ended,
        events,
        answers: answers["answers"].as_array().cloned().unwrap_or_default(),
        triggered_ms: first.map(|p| p.triggered_ms),
        resolved_ms,
        incident: first.map(|p| p.summary.clone()),
        abandoned,
        emails_ms: emails.iter().map(|d| d.at_ms).collect(),
    };
    let timeline = Timeline::from_facts(&facts);
    let report_html = report::render(&timeline, &points);
    if let Some(path) = &o.json {
        std::fs::write(path, serde_json::to_string_pretty(&timeline.to_json())?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &o.report {
        std::fs::write(path, &report_html)
            .with_context(|| format!("writing {}", path.display()))?;
    }

    let mut screenshots = Vec::new();
    let mut incident_view_bands = 0;
    if let Some(dir) = &o.screenshots {
        std::fs::create_dir_all(dir)?;
        let d = crowd.driver();
        if let Some(report) = &o.report {
            let abs = std::fs::canonicalize(report)?;
            d.set_window_rect(0, 0, 1040, 1180).await?;
            d.goto(&format!("file://{}", abs.display())).await?;
            let path = dir.join("drill-report.png");
            d.screenshot(&path).await?;
            screenshots.push(path);
        }
        let minutes = ((ended - started) / 60_000 + 2).max(3);
        d.set_window_rect(0, 0, 1280, 1100).await?;
        d.goto(&format!(
            "{}/v1/admin/sites/{}/incidents/view?minutes={minutes}",
            stack.collector_url, stack.site_key
        ))
        .await?;
        d.find(thirtyfour::By::Id("token"))
            .await?
            .send_keys(&stack.admin_token)
            .await?;
        d.find(thirtyfour::By::Css("button[type=submit]"))
            .await?
            .click()
            .await?;
        let t = Instant::now();
        while d.find_all(thirtyfour::By::Css("svg")).await?.is_empty()
            && t.elapsed() < Duration::from_secs(10)
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let path = dir.join("drill-incident-view.png");
        d.screenshot(&path).await?;
        screenshots.push(path);
        incident_view_bands = d
            .find_all(thirtyfour::By::Css("svg rect.band"))
            .await?
            .len();
    }

    let deliveries = receivers.counts();
    crowd.quit().await;
    stack.stop().await;
    if let Some(db) = fresh_db {
        db.drop_database().await?;
    }
    Ok(DrillOutcome {
        timeline,
        visits,
        incidents: incidents["incidents"]
            .as_array()
            .cloned()
            .unwrap_or_default(),
        deliveries,
        emails,
        contacts,
        report_html,
        screenshots,
        incident_view_bands,
    })
}

/// The site's recovery contacts (admin export as JSON; a drill has far
/// fewer than a page).
async fn recovery_contacts(stack: &Stack) -> anyhow::Result<Vec<Value>> {
    stack
        .admin_list("recovery/contacts?limit=1000", "contacts")
        .await
}

/// `POST /api/checkout → 503` and the like.
fn fault_label(endpoint: &str, rule: &Value) -> String {
    let call = match endpoint {
        "checkout" => "POST /api/checkout",
        "payment" => "POST /api/payment",
        "price" => "GET /api/price/*",
        _ => "/api/cart",
    };
    let what = match rule["mode"].as_str() {
        Some("error") => format!("{}", rule["status"]),
        Some("delay") => format!("+{} ms", rule["ms"]),
        Some("hang") => "hangs".into(),
        Some(m) => m.replace('_', " "),
        None => "?".into(),
    };
    format!("{call} → {what}")
}

/// The signals API answer as chart points.
fn points(signals: &Value) -> Vec<Point> {
    let t = signals["t"].as_array().cloned().unwrap_or_default();
    let s = &signals["series"];
    let at = |name: &str, i: usize| s[name][i].as_f64().unwrap_or(0.0);
    t.iter()
        .enumerate()
        .map(|(i, t)| Point {
            t: t.as_i64().unwrap_or(0),
            error_rate: at("error_rate", i),
            stall_rate: at("stall_rate", i),
            abandonment_rate: at("abandonment_rate", i),
            sessions: at("sessions", i),
        })
        .collect()
}
