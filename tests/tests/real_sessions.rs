//! The session model on the real snippet's events: in headless Chromium one
//! shopper meets a failing checkout (503) and leaves, another checks out
//! fine; the collector's signals engine (two-second buckets) counts one
//! abandonment after trouble and one completion, readable through the
//! signals API.

use std::time::{Duration, Instant};

use steadycart_tests::{thirtyfour::By, Browser, Stack};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_checkout_then_leaving_counts_as_abandonment_after_trouble() -> anyhow::Result<()>
{
    let stack = Stack::start_with(|c| {
        c.signals.bucket = Duration::from_secs(2);
        c.signals.settle = Duration::from_millis(300);
        c.signals.exit_grace = Duration::from_secs(1);
        c.signals.tick = Duration::from_millis(200);
    })
    .await?;
    let from = steadycart_collector::now_ms() - 10_000;
    let browser = Browser::start().await?;
    let d = &browser.driver;

    // Shopper 1: checkout fails, the fallback shows, the shopper leaves.
    browser.open_cart_with_item(&stack.store_url).await?;
    stack.fail("checkout", 503).await?;
    d.find(By::Id("checkout")).await?.click().await?;
    let failed = stack
        .wait_for_event("failed checkout", Duration::from_secs(10), |e| {
            e["type"] == "call" && e["role"] == "checkout" && e["outcome"] == "http_error"
        })
        .await?;
    d.goto("about:blank").await?;
    stack
        .wait_for_event("page exit", Duration::from_secs(10), |e| {
            e["type"] == "page_exit"
        })
        .await?;

    // Shopper 2, in a new tab (so a new session): checkout works.
    stack.heal("checkout").await?;
    let tab = d.new_tab().await?;
    d.switch_to_window(tab).await?;
    browser.open_cart_with_item(&stack.store_url).await?;
    d.find(By::Id("checkout")).await?.click().await?;
    browser
        .wait_for(
            "confirmation",
            Duration::from_secs(10),
            "return location.pathname.startsWith('/order/')",
        )
        .await?;

    let first = failed["session"].as_str().unwrap_or_default().to_string();
    stack
        .wait_for_event(
            "second shopper's completion",
            Duration::from_secs(10),
            |e| e["type"] == "checkout_completed" && e["session"] != first.as_str(),
        )
        .await?;

    // The engine's rollups, through the signals API.
    let started = Instant::now();
    let totals = loop {
        let to = steadycart_collector::now_ms();
        let v = stack
            .admin_get(&format!(
                "signals?from={from}&to={to}&step={}&series=sessions,checkout_starts,completions,abandonments,abandon_after_trouble,errors",
                to - from
            ))
            .await?;
        let get = |k: &str| {
            v["series"][k]
                .as_array()
                .and_then(|a| a.first())
                .and_then(|x| x.as_f64())
                .unwrap_or(0.0)
        };
        let totals = [
            get("sessions"),
            get("checkout_starts"),
            get("completions"),
            get("abandonments"),
            get("abandon_after_trouble"),
            get("errors"),
        ];
        if (totals[2] >= 1.0 && totals[3] >= 1.0) || started.elapsed() > Duration::from_secs(20) {
            break totals;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let [sessions, starts, completions, abandonments, after_trouble, errors] = totals;
    assert_eq!(sessions, 2.0, "{totals:?}");
    assert_eq!(starts, 2.0, "{totals:?}");
    assert_eq!(completions, 1.0, "{totals:?}");
    assert_eq!(abandonments, 1.0, "{totals:?}");
    assert_eq!(after_trouble, 1.0, "{totals:?}");
    assert!(errors >= 1.0, "{totals:?}");

    browser.quit().await;
    stack.stop().await;
    Ok(())
}
