//! Delivery that survives outages and page exits, in headless Chromium
//! against the real collector (SQLite), with a [`Gate`] in front of the
//! collector to make ingestion fail on demand and to see every request.
//! One browser for the whole file; each scenario asserts exactly-once
//! counting by event id in the database.

use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use serde_json::Value;
use steadycart_tests::{Browser, Gate, GateMode, Stack, StackOptions};

const WAIT: Duration = Duration::from_secs(15);

/// Make `n` watched cart calls from the page and wait for their answers
/// (each ends as one `call` event).
async fn cart_calls(browser: &Browser, n: u32) -> anyhow::Result<()> {
    browser
        .driver
        .execute_async(
            &format!(
                "const done = arguments[arguments.length - 1];
                 Promise.all(Array.from({{length: {n}}}, () => fetch('/api/cart')))
                   .then(() => setTimeout(() => done(true), 0), e => done(String(e)));"
            ),
            vec![],
        )
        .await?;
    Ok(())
}

async fn open(browser: &Browser, url: &str) -> anyhow::Result<()> {
    browser.driver.goto(url).await?;
    browser
        .wait_for("snippet installed", WAIT, "return !!window.__steadycart")
        .await?;
    Ok(())
}

/// Stored events: id → how many rows carry it, and the events themselves.
async fn stored(stack: &Stack) -> anyhow::Result<(HashMap<String, usize>, Vec<Value>)> {
    let events = stack.events().await?;
    let mut counts = HashMap::new();
    for e in &events {
        *counts
            .entry(e["id"].as_str().unwrap_or_default().to_string())
            .or_insert(0) += 1;
    }
    Ok((counts, events))
}

/// Wait until `n` cart call events beyond `known` are stored; return their ids.
async fn new_calls(
    stack: &Stack,
    known: &HashSet<String>,
    n: usize,
) -> anyhow::Result<Vec<String>> {
    let start = std::time::Instant::now();
    loop {
        let (counts, events) = stored(stack).await?;
        assert!(
            counts.values().all(|c| *c == 1),
            "an event id stored twice: {counts:?}"
        );
        let fresh: Vec<String> = events
            .iter()
            // Cart calls only: the store page's own price calls at load
            // are watched too, and each reload makes more of them.
            .filter(|e| {
                e["type"] == "call"
                    && e["role"] == "cart"
                    && !known.contains(e["id"].as_str().unwrap_or(""))
            })
            .map(|e| e["id"].as_str().unwrap_or_default().to_string())
            .collect();
        if fresh.len() >= n {
            assert_eq!(fresh.len(), n, "more call events than the page made");
            return Ok(fresh);
        }
        anyhow::ensure!(
            start.elapsed() < WAIT,
            "only {} of {n} new call events stored",
            fresh.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn known_ids(stack: &Stack) -> anyhow::Result<HashSet<String>> {
    Ok(stored(stack).await?.0.into_keys().collect())
}

/// The page's localStorage records of undelivered events, joined.
async fn records(browser: &Browser) -> anyhow::Result<String> {
    Ok(browser
        .eval(
            "return Object.keys(localStorage).filter(k => k.startsWith('steadycart.q.'))
               .map(k => localStorage.getItem(k)).join('\\n')",
        )
        .await?
        .as_str()
        .unwrap_or_default()
        .to_string())
}

fn gate(stack: &Stack) -> &Gate {
    stack.gate.as_ref().expect("stack started with a gate")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_survives_outages_exits_and_reloads() -> anyhow::Result<()> {
    let stack = Stack::start_with_options(
        StackOptions {
            gate: true,
            snippet_attrs: r#" data-flush-ms="300" data-store-bytes="4096""#.into(),
        },
        |_| {},
    )
    .await?;
    let browser = Browser::start().await?;
    let g = gate(&stack);
    open(&browser, &stack.store_url).await?;
    // The session start is delivered first.
    g.wait_until("first delivery", WAIT, |s| {
        s.iter().any(|r| r.answered == Some(200))
    })
    .await?;

    // 1. Collector down mid-session, then back: every event once.
    let known = known_ids(&stack).await?;
    g.set(GateMode::Down);
    g.clear();
    cart_calls(&browser, 5).await?;
    let seen = g
        .wait_until("two failed attempts", WAIT, |s| {
            s.iter().filter(|r| r.answered.is_none()).count() >= 2
        })
        .await?;
    let attempted: HashSet<String> = seen.iter().flat_map(|r| r.calls.clone()).collect();
    assert_eq!(attempted.len(), 5, "the five calls were attempted");
    let record = records(&browser).await?;
    for id in &attempted {
        assert!(
            record.contains(id.as_str()),
            "undelivered {id} kept in localStorage"
        );
    }
    g.set(GateMode::Pass);
    browser
        .eval("window.dispatchEvent(new Event('online')); return true")
        .await?;
    let delivered: HashSet<String> = new_calls(&stack, &known, 5).await?.into_iter().collect();
    assert_eq!(delivered, attempted);
    let mut per_id: HashMap<String, usize> = HashMap::new();
    for id in g.seen().into_iter().flat_map(|r| r.ids) {
        *per_id.entry(id).or_default() += 1;
    }
    assert!(
        per_id.values().all(|n| *n >= 2),
        "each id sent again after failing, stored once: {per_id:?}"
    );
    browser
        .wait_for(
            "record removed once delivered",
            WAIT,
            "return !Object.keys(localStorage).some(k => k.startsWith('steadycart.q.'))",
        )
        .await?;

    // 2. 429 with Retry-After: 2 → no retry before two seconds.
    let known = known_ids(&stack).await?;
    g.clear();
    g.set(GateMode::Status {
        status: 429,
        retry_after: Some(2),
        times: 1,
    });
    cart_calls(&browser, 3).await?;
    let seen = g
        .wait_until("retry after the 429", WAIT, |s| {
            s.iter().any(|r| r.answered == Some(200))
        })
        .await?;
    assert_eq!(seen[0].answered, Some(429));
    let gap = seen[1].at - seen[0].at;
    assert!(
        gap >= Duration::from_millis(1900),
        "retried {gap:?} after a 429 asking for 2 s"
    );
    new_calls(&stack, &known, 3).await?;

    // 3. Navigation away mid-batch: the beacon delivers, CORS-simple; the
    //    next page's resend of the same events is not counted again.
    let known = known_ids(&stack).await?;
    g.clear();
    browser
        .driver
        .execute_async(
            "const done = arguments[arguments.length - 1];
             Promise.all([fetch('/api/cart'), fetch('/api/cart')]).then(() => {
               location.href = '/cart'; done(true); });",
            vec![],
        )
        .await?;
    let ids = new_calls(&stack, &known, 2).await?;
    let seen = g.seen();
    for id in &ids {
        assert!(
            seen.iter().any(|r| r.fetch_mode == "no-cors"
                && r.content_type.starts_with("text/plain")
                && r.ids.contains(id)),
            "{id} sent by beacon: {seen:#?}"
        );
    }
    let (_, events) = stored(&stack).await?;
    assert!(
        events.iter().any(|e| e["type"] == "page_exit"),
        "the page_exit event rode the beacon"
    );

    // 4. Offline across a reload: kept in localStorage, delivered by the next load.
    open(&browser, &stack.store_url).await?;
    let known = known_ids(&stack).await?;
    g.set(GateMode::Down);
    g.clear();
    cart_calls(&browser, 4).await?;
    g.wait_until("a failed attempt", WAIT, |s| {
        s.iter().any(|r| r.answered.is_none() && r.calls.len() >= 4)
    })
    .await?;
    browser.driver.goto("about:blank").await?;
    // The closing page's beacon fails too.
    g.wait_until("the exit beacon", WAIT, |s| {
        s.iter()
            .any(|r| r.fetch_mode == "no-cors" && r.answered.is_none())
    })
    .await?;
    g.set(GateMode::Pass);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        new_calls(&stack, &known, 0).await?.is_empty(),
        "nothing delivered while the collector was down"
    );
    g.clear();
    open(&browser, &format!("{}/cart", stack.store_url)).await?;
    let ids = new_calls(&stack, &known, 4).await?;
    let seen = g.seen();
    assert!(
        ids.iter().all(|id| seen
            .iter()
            .any(|r| r.fetch_mode == "cors" && r.answered == Some(200) && r.ids.contains(id))),
        "delivered by the next page's fetch: {seen:#?}"
    );

    // 5. Storage budget overflow: bounded localStorage, drops counted and
    //    reported to the collector, which stores the count. One call first,
    //    delivered: the page reports its cart once, so the 40 calls below
    //    are the only events recorded while the collector is down.
    let known = known_ids(&stack).await?;
    cart_calls(&browser, 1).await?;
    new_calls(&stack, &known, 1).await?;
    let known = known_ids(&stack).await?;
    g.set(GateMode::Down);
    g.clear();
    cart_calls(&browser, 40).await?;
    g.wait_until("a failed attempt", WAIT, |s| {
        s.iter().any(|r| r.answered.is_none())
    })
    .await?;
    let record = records(&browser).await?;
    assert!(!record.is_empty(), "undelivered events are kept");
    assert!(
        record.len() <= 4096,
        "record of {} bytes over the 4096 budget",
        record.len()
    );
    g.set(GateMode::Pass);
    browser
        .eval("window.dispatchEvent(new Event('online')); return true")
        .await?;
    g.wait_until("a delivered drop report", WAIT, |s| {
        s.iter().any(|r| r.answered == Some(200) && r.dropped > 0)
    })
    .await?;
    let start = std::time::Instant::now();
    let (delivered, dropped) = loop {
        let (_, events) = stored(&stack).await?;
        let delivered = events
            .iter()
            // Cart calls only: the store page's own price calls at load
            // are watched too, and each reload makes more of them.
            .filter(|e| {
                e["type"] == "call"
                    && e["role"] == "cart"
                    && !known.contains(e["id"].as_str().unwrap_or(""))
            })
            .count() as i64;
        let dropped = stack.drops().await?["dropped_total"].as_i64().unwrap_or(0);
        if delivered + dropped >= 40 || start.elapsed() > WAIT {
            break (delivered, dropped);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        dropped > 0 && delivered < 40,
        "{delivered} delivered, {dropped} dropped"
    );
    assert_eq!(
        delivered + dropped,
        40,
        "every call delivered or counted as dropped"
    );

    assert_eq!(browser.page_errors().await?, serde_json::json!([]));
    browser.quit().await;
    stack.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sampling_and_session_cap_limit_what_is_sent() -> anyhow::Result<()> {
    let browser = Browser::start().await?;

    // A hard cap of 3 events per session: a looping page sends 3, no more.
    let capped = Stack::start_with_options(
        StackOptions {
            gate: true,
            snippet_attrs: r#" data-flush-ms="200" data-max-events="3""#.into(),
        },
        |_| {},
    )
    .await?;
    open(&browser, &capped.store_url).await?;
    cart_calls(&browser, 10).await?;
    open(&browser, &format!("{}/cart", capped.store_url)).await?;
    cart_calls(&browser, 5).await?;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let (counts, _) = stored(&capped).await?;
    assert_eq!(counts.len(), 3, "the session cap holds across pages");

    // Sampled out: nothing at all reaches the collector.
    let sampled = Stack::start_with_options(
        StackOptions {
            gate: true,
            snippet_attrs: r#" data-flush-ms="200" data-sample-rate="0""#.into(),
        },
        |_| {},
    )
    .await?;
    open(&browser, &sampled.store_url).await?;
    cart_calls(&browser, 5).await?;
    open(&browser, &format!("{}/cart", sampled.store_url)).await?;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(
        gate(&sampled).seen().is_empty(),
        "a sampled-out session sends nothing"
    );
    assert_eq!(stored(&sampled).await?.0.len(), 0);

    browser.quit().await;
    capped.stop().await;
    sampled.stop().await;
    Ok(())
}
