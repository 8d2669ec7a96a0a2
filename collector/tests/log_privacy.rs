//! Secrets and emails never reach the logs: the real `collector` binary runs
//! as a child process (JSON logs, then text logs, at `debug` level) while the
//! test sends it everything secret it handles — the admin token (valid and
//! wrong, as a bearer header, in the view's login form and cookie), notifier
//! credentials (webhook secret, Slack webhook URL, PagerDuty routing key, also
//! in a refused request), shopper emails in survey answers (accepted, and
//! refused for lack of consent) — and the CLI that prints a new token. Every
//! line it logged is then searched for each secret.

mod common;

use std::{
    process::{Command, Stdio},
    time::Duration,
};

use common::*;

const WEBHOOK_SECRET: &str = "whsec_LOGPRIVACY_0123456789";
const SLACK_URL_SECRET: &str = "T0LOGPRIV/B0LOGPRIV/SlackLogPrivacySecret";
const ROUTING_KEY: &str = "R0UT1NGL0GPR1VACYR0UT1NGKEY12345";
const EMAIL: &str = "ann.logprivacy@example.com";
const EMAIL_NO_CONSENT: &str = "bob.noconsent@example.com";
const WRONG_TOKEN: &str = "sct_wrongwrongwrong0123456789abcdef0123456789abcdef0123456789ab";

fn survey(id: u32, email: &str, consent: bool) -> String {
    let now = now_ms();
    let consent = if consent {
        r#","consent":{"text":"Yes, email me once it is fixed.","version":"2026-11"}"#
    } else {
        ""
    };
    format!(
        r#"{{"v":1,"sdk":"test","sent_at":{now},"events":[{{"id":"{id:032x}","ts":{now},"session":"s_logprivacy_001","page":"/checkout",
        "type":"survey_answered","trigger":"pointer_top",
        "answer":{{"choice":"payment_failed","text":"write to {email}","rating":2,"email":"{email}"{consent}}}}}]}}"#
    )
}

/// Run one collector with `log_json`, exercise it, stop it; its stderr and
/// the CLI's stderr, and every secret that must not appear in them.
async fn run(log_json: bool) -> (String, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/c.db", dir.path().display());
    let mut logs = String::new();

    // The CLI prints the new site's token on stdout; its logs must not.
    let out = Command::new(env!("CARGO_BIN_EXE_collector"))
        .args(["site", "add", "--name", "Log shop", "--origin", ORIGIN])
        .args(["--database-url", &url])
        .env("RUST_LOG", "debug")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    logs.push_str(&String::from_utf8_lossy(&out.stderr));
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let key = created["site_key"].as_str().unwrap().to_string();
    let token = created["admin_token"].as_str().unwrap().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_collector"))
        .args([
            "site",
            "rotate-token",
            "--site",
            &key,
            "--database-url",
            &url,
        ])
        .env("RUST_LOG", "debug")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    logs.push_str(&String::from_utf8_lossy(&out.stderr));
    let old_token = token;
    let token = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["admin_token"]
        .as_str()
        .unwrap()
        .to_string();

    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_collector"));
    cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--database-url", &url, "--signals-disabled"])
        .env("RUST_LOG", "debug")
        .env_remove("STEADYCART_LOG_JSON")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if log_json {
        cmd.arg("--log-json");
    }
    let mut child = cmd.spawn().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..200 {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await {
            if r.status().is_success() {
                ready = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "collector did not become ready");

    let admin = format!("{base}/v1/admin/sites/{key}");
    for t in [&token, &old_token, &WRONG_TOKEN.to_string()] {
        let _ = http
            .get(format!("{admin}/events"))
            .bearer_auth(t)
            .send()
            .await
            .unwrap();
        let _ = http
            .get(format!("{admin}/incidents/view"))
            .header("cookie", format!("sc_admin={t}"))
            .send()
            .await
            .unwrap();
        // The login form, with its CSRF pair and without (refused).
        let view = http
            .get(format!("{admin}/incidents/view"))
            .send()
            .await
            .unwrap();
        let cookie = view
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .unwrap_or("")
            .to_string();
        let csrf = cookie
            .split_once('=')
            .map(|(_, v)| v.to_string())
            .unwrap_or_default();
        for (c, f) in [(cookie.as_str(), csrf.as_str()), ("", "")] {
            let _ = http
                .post(format!("{admin}/incidents/view"))
                .header("cookie", c)
                .form(&[("token", t.as_str()), ("csrf", f)])
                .send()
                .await
                .unwrap();
        }
    }
    let notifiers = [
        serde_json::json!({"kind": "webhook", "url": "https://hooks.example/in", "secret": WEBHOOK_SECRET}),
        serde_json::json!({"kind": "slack", "webhook_url": format!("https://hooks.slack.com/services/{SLACK_URL_SECRET}")}),
        serde_json::json!({"kind": "pagerduty", "routing_key": ROUTING_KEY}),
        // Refused (bad field): the error must not quote the secret either.
        serde_json::json!({"kind": "webhook", "url": "ftp://x", "secret": WEBHOOK_SECRET, "extra": ROUTING_KEY}),
        serde_json::json!({"kind": "pagerduty", "routing_key": 12, "severity": WEBHOOK_SECRET}),
    ];
    for n in &notifiers {
        let _ = http
            .post(format!("{admin}/notifiers"))
            .bearer_auth(&token)
            .json(n)
            .send()
            .await
            .unwrap();
    }
    let _ = http
        .get(format!("{admin}/notifiers"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let ingest = format!("{base}/v1/ingest?key={key}");
    let ok = http
        .post(&ingest)
        .header("content-type", "application/json")
        .body(survey(1, EMAIL, true))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200, "{}", ok.text().await.unwrap());
    let refused = http
        .post(&ingest)
        .header("content-type", "application/json")
        .body(survey(2, EMAIL_NO_CONSENT, false))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 400);
    assert!(!refused.text().await.unwrap().contains(EMAIL_NO_CONSENT));
    let _ = http
        .get(format!("{admin}/survey/answers"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();

    // SIGTERM, then collect everything it logged.
    assert!(Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let out = tokio::task::spawn_blocking(move || {
        let _ = child.stdout.take();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    logs.push_str(&String::from_utf8_lossy(&out.stderr));
    let secrets = vec![
        token.clone(),
        token[4..].to_string(),
        old_token[4..].to_string(),
        WRONG_TOKEN[4..].to_string(),
        WEBHOOK_SECRET.into(),
        SLACK_URL_SECRET.into(),
        ROUTING_KEY.into(),
        EMAIL.into(),
        EMAIL_NO_CONSENT.into(),
    ];
    (logs, secrets)
}

async fn check(log_json: bool) {
    let (logs, secrets) = run(log_json).await;
    // The logs are real: the server said what it did.
    assert!(logs.contains("collector listening"), "{logs}");
    assert!(logs.contains("collector stopped"), "{logs}");
    if log_json {
        for line in logs.lines().filter(|l| l.starts_with('{')) {
            serde_json::from_str::<serde_json::Value>(line)
                .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        }
    }
    for secret in &secrets {
        if let Some(line) = logs.lines().find(|l| l.contains(secret.as_str())) {
            panic!("secret {secret:?} logged: {line}");
        }
    }
}

#[tokio::test]
async fn secrets_and_emails_never_reach_json_logs() {
    check(true).await;
}

#[tokio::test]
async fn secrets_and_emails_never_reach_text_logs() {
    check(false).await;
}
