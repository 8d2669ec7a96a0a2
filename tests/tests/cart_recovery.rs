//! Cart recovery end to end in headless Chromium on the demo store, with
//! the real optimised snippet, the real collector and a real SMTP server:
//! the shopper fills a cart (the snippet reports it from the store's own
//! cart response), checkout fails (503 outage), the exit survey is answered
//! with an email and consent; the outage ends; after the (seconds-scale)
//! delay the recovery email arrives at the SMTP server with the cart, an
//! unsubscribe header and a recovery link that verifies; the contact is in
//! the CSV export; one-click unsubscribe removes it. A second test: the
//! shop's app calls `Steadycart.identify(email, consent)`, checkout then
//! fails (no survey), and the identified shopper gets the email.

use std::time::{Duration, Instant};

use mailparse::MailHeaderMap;
use serde_json::{json, Value};
use steadycart_tests::{smtp::SmtpInbox, thirtyfour::By, Browser, Stack};

const OPEN: &str = "const h = document.querySelector('steadycart-survey'); \
    return !!(h && h.shadowRoot && h.shadowRoot.querySelector('[role=dialog]'));";
const LEAVE_TOP: &str = "document.documentElement.dispatchEvent(new MouseEvent('mouseout', \
    {bubbles: true, clientX: 300, clientY: -2, relatedTarget: null})); return true;";

async fn csv_rows(stack: &Stack) -> anyhow::Result<Vec<csv::StringRecord>> {
    let text = stack
        .admin(reqwest::Method::GET, "recovery/contacts.csv")
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    anyhow::ensure!(
        reader.headers()?.get(0) == Some("Email"),
        "CSV header: {text}"
    );
    Ok(reader.records().collect::<Result<_, _>>()?)
}

/// A stack whose recovery emails go to a fresh SMTP server `delay` after
/// the abandonment, with the demo store's recovery settings.
async fn recovery_stack(delay: Duration) -> anyhow::Result<(Stack, SmtpInbox)> {
    let (inbox, smtp_url) = SmtpInbox::start()?;
    let stack = Stack::start_with(|c| {
        c.recovery.smtp_url = Some(smtp_url.clone());
        c.recovery.delay = delay;
        c.recovery.tick = Duration::from_millis(200);
    })
    .await?;
    let res = stack
        .admin(reqwest::Method::PUT, "recovery/settings")
        .json(&json!({
            "shop_name": "Voltline Electronics",
            "from": "Voltline <shop@voltline.example>",
            "recovery_url": format!("{}/cart?recover={{token}}", stack.store_url),
        }))
        .send()
        .await?;
    anyhow::ensure!(res.status() == 200, "settings: {}", res.text().await?);
    Ok((stack, inbox))
}

/// Wait (bounded) for the first email, then a little for any duplicate.
async fn first_mails(inbox: &SmtpInbox) -> anyhow::Result<Vec<steadycart_tests::smtp::Received>> {
    let start = Instant::now();
    while inbox.mails().is_empty() {
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(60),
            "no recovery email within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(inbox.mails())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_survey_consent_then_recovery_email_and_export() -> anyhow::Result<()> {
    let (stack, inbox) = recovery_stack(Duration::from_secs(3)).await?;
    let browser = Browser::start().await?;
    let d = &browser.driver;
    stack
        .set_fault("checkout", json!({"mode": "error", "status": 503}))
        .await?;

    // A cart, reported by the snippet from the store's own cart response.
    d.goto(&stack.store_url).await?;
    browser
        .eval("localStorage.clear(); sessionStorage.clear(); return true;")
        .await?;
    browser.open(&stack.store_url).await?;
    // Two products: one once, one (whose name needs HTML escaping) twice.
    let add = d.find_all(By::Css("[data-add]")).await?;
    anyhow::ensure!(add.len() >= 3, "the store lists its products");
    add[0].click().await?;
    add[2].click().await?;
    add[2].click().await?;
    let snapshot = stack
        .wait_for_event("cart snapshot", Duration::from_secs(15), |e| {
            e["type"] == "cart_snapshot" && e["items"][1]["qty"] == 2
        })
        .await?;
    let items = snapshot["items"].as_array().expect("items").clone();
    assert_eq!(items.len(), 2, "{snapshot}");
    assert_eq!(items[0]["qty"], 1, "{snapshot}");
    assert_eq!(snapshot["currency"], "USD", "{snapshot}");
    // (name, qty, unit price in cents) as the store's cart response said.
    let lines: Vec<(String, i64, i64)> = items
        .iter()
        .map(|i| {
            (
                i["name"].as_str().expect("named").to_string(),
                i["qty"].as_i64().expect("qty"),
                i["unit_price_minor"].as_i64().expect("priced"),
            )
        })
        .collect();
    assert!(lines.iter().all(|l| l.2 > 0), "{snapshot}");
    let product = lines[0].0.clone();

    // Checkout fails; the shopper heads out and answers with consent.
    d.goto(&format!("{}/cart", stack.store_url)).await?;
    let loaded = Instant::now();
    browser.installed().await?;
    d.find(By::Id("checkout")).await?.click().await?;
    browser
        .wait_for(
            "checkout failure handled by the page",
            Duration::from_secs(10),
            "return document.getElementById('status').textContent.includes('503')",
        )
        .await?;
    if let Some(rest) = Duration::from_millis(3300).checked_sub(loaded.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    browser.eval(LEAVE_TOP).await?;
    browser
        .wait_for("survey", Duration::from_secs(5), OPEN)
        .await?;
    let root = d
        .find(By::Css("steadycart-survey"))
        .await?
        .get_shadow_root()
        .await?;
    root.find(By::Css("input[value=broken]"))
        .await?
        .click()
        .await?;
    root.find(By::Id("sc-email"))
        .await?
        .send_keys("ann@example.com")
        .await?;
    root.find(By::Id("sc-consent")).await?.click().await?;
    root.find(By::Css(".send")).await?.click().await?;
    stack
        .wait_for_event("answer with consent", Duration::from_secs(10), |e| {
            e["type"] == "survey_answered" && e["answer"]["email"] == "ann@example.com"
        })
        .await?;

    // The outage ends.
    stack.set_fault("checkout", json!({"mode": "none"})).await?;

    // After the delay, the email arrives at the SMTP server.
    let mails = first_mails(&inbox).await?;
    assert_eq!(mails.len(), 1, "one email");
    assert_eq!(mails[0].to, vec!["ann@example.com"]);
    let parsed = mailparse::parse_mail(&mails[0].data)?;
    let headers = parsed.get_headers();
    let list = headers
        .get_first_value("List-Unsubscribe")
        .expect("List-Unsubscribe");
    assert_eq!(
        headers.get_first_value("List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    assert!(headers.get_first_value("Message-ID").is_some());
    let plain = parsed
        .subparts
        .iter()
        .find(|p| p.ctype.mimetype == "text/plain")
        .expect("text part")
        .get_body()?
        .replace("\r\n", "\n");
    let html = parsed
        .subparts
        .iter()
        .find(|p| p.ctype.mimetype == "text/html")
        .expect("HTML part")
        .get_body()?;
    // The cart as the snippet read it from the store's cart response: items,
    // quantities and prices, in both parts (HTML-escaped in the HTML one).
    let money = |cents: i64| format!("{}.{:02} USD", cents / 100, cents % 100);
    for (name, qty, unit) in &lines {
        let line = format!("{qty} × {name} — {}", money(qty * unit));
        assert!(plain.contains(&format!("- {line}\n")), "{line} in {plain}");
        let escaped = line.replace('&', "&amp;").replace('"', "&quot;");
        assert!(
            html.contains(&format!("<li>{escaped}</li>")),
            "{escaped} in {html}"
        );
    }
    let total: i64 = lines.iter().map(|(_, q, u)| q * u).sum();
    assert!(
        plain.contains(&format!("Total: {}", money(total))),
        "{plain}"
    );
    assert!(html.contains(&format!("Total: {}", money(total))), "{html}");
    assert!(!html.contains("27\" 4K"), "unescaped quote in {html}");
    assert!(plain.contains("Voltline Electronics"), "{plain}");
    assert!(
        plain.contains(list.trim_matches(|c| c == '<' || c == '>')),
        "visible unsubscribe link"
    );

    // The recovery link opens the cart again.
    let prefix = format!("{}/cart?recover=", stack.store_url);
    let at = plain.find(&prefix).expect("recovery link") + prefix.len();
    let token: String = plain[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '.')
        .collect();
    let cart: Value = stack
        .http
        .get(format!("{}/v1/recover/{token}", stack.collector_url))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    assert_eq!(cart["items"][0]["name"], product.as_str(), "{cart}");
    assert_eq!(cart["items"][1]["qty"], 2, "{cart}");
    assert!(
        html.contains(&format!("href=\"{prefix}{token}\"")),
        "recovery link in {html}"
    );

    // The contact is in the CSV export.
    let rows = csv_rows(&stack).await?;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(&rows[0][0], "ann@example.com");
    assert_eq!(&rows[0][2], "Subscribed");
    assert!(!rows[0][5].is_empty(), "cart value");
    assert_eq!(
        &rows[0][5],
        money(total).trim_end_matches(" USD"),
        "cart value"
    );
    assert_eq!(&rows[0][6], "USD");
    let items_cell = lines
        .iter()
        .map(|(name, qty, _)| format!("{qty} × {name}"))
        .collect::<Vec<_>>()
        .join("; ");
    assert_eq!(&rows[0][7], items_cell.as_str(), "{:?}", &rows[0]);
    assert_eq!(&rows[0][9], "emailed");

    // One-click unsubscribe (what a mail client POSTs) removes it.
    let url = list.trim_matches(|c| c == '<' || c == '>');
    let res = stack
        .http
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await?;
    assert_eq!(res.status(), 200);
    assert!(csv_rows(&stack).await?.is_empty());

    browser.quit().await;
    stack.stop().await;
    Ok(())
}

/// `Steadycart.identify(email, consent)` from the shop's own code, then a
/// failing checkout and no survey: the identified shopper gets the email
/// once the delay after the trouble is over, and is in the export with the
/// consent the app recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identified_shopper_is_emailed_after_checkout_fails() -> anyhow::Result<()> {
    let (stack, inbox) = recovery_stack(Duration::from_secs(2)).await?;
    let browser = Browser::start().await?;
    let d = &browser.driver;
    d.goto(&stack.store_url).await?;
    browser
        .eval("localStorage.clear(); sessionStorage.clear(); return true;")
        .await?;
    browser.open(&stack.store_url).await?;
    d.find(By::Css("[data-add]")).await?.click().await?;
    let snapshot = stack
        .wait_for_event("cart snapshot", Duration::from_secs(15), |e| {
            e["type"] == "cart_snapshot"
        })
        .await?;
    let product = snapshot["items"][0]["name"]
        .as_str()
        .expect("named")
        .to_string();
    browser
        .eval(
            "Steadycart.identify('bo@example.com', \
             {text: 'Email me about my order', version: 'app-1'}); return true;",
        )
        .await?;
    stack
        .wait_for_event("identify", Duration::from_secs(10), |e| {
            e["type"] == "identify"
        })
        .await?;
    // Nothing has gone wrong yet; the email waits for trouble (a session
    // that ends without any is covered in collector/tests/recovery_mail.rs).
    stack
        .set_fault("checkout", json!({"mode": "error", "status": 503}))
        .await?;
    browser.open(&format!("{}/cart", stack.store_url)).await?;
    d.find(By::Id("checkout")).await?.click().await?;
    stack
        .wait_for_event("failed checkout", Duration::from_secs(15), |e| {
            e["type"] == "call" && e["role"] == "checkout" && e["status"] == 503
        })
        .await?;
    stack.set_fault("checkout", json!({"mode": "none"})).await?;

    let mails = first_mails(&inbox).await?;
    assert_eq!(mails.len(), 1, "one email");
    assert_eq!(mails[0].to, vec!["bo@example.com"]);
    let parsed = mailparse::parse_mail(&mails[0].data)?;
    let plain = parsed
        .subparts
        .iter()
        .find(|p| p.ctype.mimetype == "text/plain")
        .expect("text part")
        .get_body()?;
    assert!(plain.contains(&format!("1 × {product}")), "{plain}");
    let rows = csv_rows(&stack).await?;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(&rows[0][0], "bo@example.com");
    assert_eq!(&rows[0][4], "app-1", "the consent version the app recorded");
    assert_eq!(&rows[0][9], "emailed");

    browser.quit().await;
    stack.stop().await;
    Ok(())
}
