//! The snippet on hostile or unusual pages, in headless Chromium: a page
//! whose own script throws and that includes the tag twice, hands fetch an
//! input whose getter throws, replaces fetch after us and then uninstalls
//! us; a streamed body read chunk by chunk; options from a JSON object on
//! the page; and misconfigured tags, which must leave the page untouched
//! with exactly one console warning.

use std::time::Duration;

use steadycart_tests::{lab::Lab, Browser};

async fn trace(browser: &Browser, url: &str) -> anyhow::Result<serde_json::Value> {
    browser.driver.goto(url).await?;
    browser
        .wait_for(
            "scenario",
            Duration::from_secs(30),
            "return window.__result",
        )
        .await
}

/// Call events' `(last path segment, outcome)`, sorted, once the page is left.
async fn reported(
    lab: &Lab,
    browser: &Browser,
    at_least: usize,
) -> anyhow::Result<Vec<(String, String)>> {
    browser.driver.goto("about:blank").await?;
    let calls = |ev: &[serde_json::Value]| ev.iter().filter(|e| e["type"] == "call").count();
    lab.wait_events("calls", Duration::from_secs(10), |ev| calls(ev) >= at_least)
        .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut v: Vec<_> = lab
        .events()
        .iter()
        .filter(|e| e["type"] == "call")
        .map(|e| {
            let url = e["url"].as_str().unwrap_or_default();
            let tail = url.rsplit('/').next().unwrap_or_default().to_string();
            (tail, e["outcome"].as_str().unwrap_or_default().to_string())
        })
        .collect();
    v.sort();
    Ok(v)
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_pages_streams_and_bad_configuration() -> anyhow::Result<()> {
    let lab = Lab::start().await?;
    let browser = Browser::start().await?;

    // Throwing page, tag twice, odd input, fetch replaced after us, uninstall.
    let without = trace(&browser, &lab.page("robust", false)).await?;
    lab.clear_events();
    let with = trace(&browser, &lab.page("robust", true)).await?;
    assert_eq!(without, with, "the page saw something different");
    assert_eq!(
        with["errors"],
        serde_json::json!(["error: Uncaught Error: the page's own script broke"]),
        "only the page's own error"
    );
    assert_eq!(with["afterUs"]["saw"], 1);
    assert_eq!(
        with["uninstall"],
        serde_json::json!({"open": true, "send": true, "abort": true, "fetchKeptPageWrapper": true}),
        "uninstall restores XHR and leaves the page's later fetch wrapper alone"
    );
    // Once each despite two tags; the odd input is let through unwatched;
    // nothing after uninstall.
    assert_eq!(
        reported(&lab, &browser, 2).await?,
        pairs(&[("ok-1", "ok"), ("ok-10", "ok")])
    );

    // A streamed body arrives chunk by chunk, with and without us.
    let without = trace(&browser, &lab.page("stream", false)).await?;
    lab.clear_events();
    let with = trace(&browser, &lab.page("stream", true)).await?;
    assert_eq!(without, with);
    assert_eq!(
        with["chunks"]["chunks"],
        serde_json::json!(["chunk0;", "chunk1;", "chunk2;", "chunk3;"])
    );
    let times = browser.eval("return window.__times").await?;
    let times: Vec<u64> = serde_json::from_value(times)?;
    for pair in times.windows(2) {
        assert!(
            pair[1] >= pair[0] + 120,
            "chunks must arrive as sent (200 ms apart), not buffered: {times:?}"
        );
    }
    assert_eq!(
        reported(&lab, &browser, 1).await?,
        pairs(&[("stream", "ok")])
    );
    lab.clear_events();

    // Options from the page's JSON object (stall threshold 5 s: the 600 ms
    // call is `ok`, not `stall`/`slow` as with the tag's 300 ms).
    let r = trace(&browser, &format!("{}/page/pageconfig", lab.url)).await?;
    assert_eq!(r["slow"], 200);
    assert_eq!(reported(&lab, &browser, 1).await?, pairs(&[("slow", "ok")]));

    // Misconfiguration: one warning naming the problem, nothing installed.
    for (page, problem) in [
        ("invalid", "unknown option data-chekout"),
        ("badjson", "#steadycart-config must hold a JSON object"),
    ] {
        lab.clear_events();
        let r = trace(&browser, &format!("{}/page/{page}", lab.url)).await?;
        assert_eq!(r["installed"], false, "{page}: {r}");
        assert_eq!(r["fetch"], true, "{page}: fetch untouched");
        assert_eq!(
            (&r["open"], &r["send"], &r["abort"]),
            (&true.into(), &true.into(), &true.into()),
            "{page}: XHR untouched"
        );
        assert_eq!(r["status"], 200);
        assert_eq!(r["errors"], serde_json::json!([]));
        let warns = r["warns"].as_array().cloned().unwrap_or_default();
        assert_eq!(warns.len(), 1, "{page}: exactly one warning: {warns:?}");
        assert!(
            warns[0].as_str().unwrap_or_default().contains(problem),
            "{page}: warning names the problem: {warns:?}"
        );
        browser.driver.goto("about:blank").await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(lab.events().is_empty(), "{page}: nothing reported");
    }

    browser.quit().await;
    lab.stop().await;
    Ok(())
}
