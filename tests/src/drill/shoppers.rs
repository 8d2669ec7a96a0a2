//! Synthetic shoppers: N concurrent headless-Chromium sessions (one
//! chromedriver, one browser profile each) walking the demo store's funnel
//! with the real snippet on the page — browse, open a product (live price),
//! add to cart, check out — and, when checkout goes wrong, retry, leave, or
//! move the pointer out of the window (exit intent) and answer or dismiss
//! the survey, with or without consent to be emailed.
//!
//! Every choice comes from a seeded RNG per shopper ([`VisitPlan::draw`]),
//! so a drill with the same seed makes the same choices; only the timing of
//! real browsers varies.

use std::time::{Duration, Instant};

use rand::{rngs::StdRng, Rng, SeedableRng};
use thirtyfour::{By, WebDriver};
use tokio::{sync::watch, task::JoinSet};

use crate::Chromedriver;

/// What a shopper does when checkout fails or stalls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnTrouble {
    /// Press the button once more.
    Retry,
    /// Head for the browser's top edge (exit intent); answer the survey
    /// (`answer`), giving an email with consent (`consent`), or dismiss it.
    ExitIntent {
        /// Answer rather than dismiss.
        answer: bool,
        /// Tick the consent box and give an email.
        consent: bool,
    },
    /// Just leave.
    Leave,
}

/// One visit's choices, drawn before it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct VisitPlan {
    /// Leave after browsing, without checking out.
    pub browse_only: bool,
    /// Open a product page first (its live price) instead of adding from
    /// the list.
    pub product_page: bool,
    /// Products (catalogue indexes) put in the cart.
    pub products: Vec<usize>,
    /// Reaction to trouble.
    pub on_trouble: OnTrouble,
    /// Pause between steps, ms.
    pub think_ms: u64,
}

/// Catalogue size of the demo store.
const PRODUCTS: usize = steadycart_demo_store::catalog::PRODUCTS.len();

impl VisitPlan {
    /// Draw a plan: 15% only browse, 70% open a product page, one or two
    /// products; on trouble 20% retry, 65% exit intent (70% of those answer,
    /// 80% of answers with consent), 15% leave.
    pub fn draw(rng: &mut impl Rng) -> VisitPlan {
        let browse_only = rng.random_bool(0.15);
        let product_page = rng.random_bool(0.7);
        let n = if rng.random_bool(0.3) { 2 } else { 1 };
        let products = (0..n).map(|_| rng.random_range(0..PRODUCTS)).collect();
        let r: f64 = rng.random();
        let on_trouble = if r < 0.2 {
            OnTrouble::Retry
        } else if r < 0.85 {
            OnTrouble::ExitIntent {
                answer: rng.random_bool(0.7),
                consent: rng.random_bool(0.8),
            }
        } else {
            OnTrouble::Leave
        };
        VisitPlan {
            browse_only,
            product_page,
            products,
            on_trouble,
            think_ms: rng.random_range(200..900),
        }
    }
}

/// How a visit ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VisitOutcome {
    /// Left after browsing.
    Browsed,
    /// Reached the order confirmation.
    Ordered,
    /// Checkout failed or stalled and the shopper left.
    GaveUp,
    /// Something in the browser went wrong (not the store).
    Broken,
}

/// One visit as the shopper saw it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Visit {
    /// Shopper number.
    pub shopper: usize,
    /// Visit start, ms since the Unix epoch.
    pub started_ms: i64,
    /// How it ended.
    pub outcome: VisitOutcome,
    /// The snippet's fallback message was on screen.
    pub saw_fallback: bool,
    /// The exit survey opened.
    pub saw_survey: bool,
    /// The email given with consent, if any.
    pub email: Option<String>,
}

/// Options of a shopper crowd.
#[derive(Debug, Clone)]
pub struct CrowdOptions {
    /// Concurrent browsers (each a Chromium process: keep it small).
    pub shoppers: usize,
    /// Seed of every choice.
    pub seed: u64,
    /// Demo store base URL.
    pub store_url: String,
    /// On the product list, press "Refresh prices" and wait for the new
    /// prices before going on: the store's own price calls at page load
    /// start before the snippet has loaded, so a lagging price API shows
    /// only in calls made after that.
    pub refresh_prices: bool,
}

/// Concurrent shoppers sharing one chromedriver.
pub struct Crowd {
    chromedriver: Chromedriver,
    sessions: Vec<(WebDriver, tempfile::TempDir)>,
    options: CrowdOptions,
}

const INSTALLED: &str = "return !!window.__steadycart";
const SURVEY_OPEN: &str = "const h = document.querySelector('steadycart-survey'); \
    return !!(h && h.shadowRoot && h.shadowRoot.querySelector('[role=dialog]'));";
const LEAVE_TOP: &str = "document.documentElement.dispatchEvent(new MouseEvent('mouseout', \
    {bubbles: true, clientX: 300, clientY: -2, relatedTarget: null})); return true;";
/// A fallback message of the snippet is on screen.
const FALLBACK_VISIBLE: &str = "const h = document.querySelector('steadycart-messages'); \
    return !!(h && h.shadowRoot && h.shadowRoot.querySelector('.notice'));";
/// Forget the previous visit (session, cart, survey memory) but keep the
/// snippet's undelivered-event records, which the next page sends.
const NEW_SHOPPER: &str = "for (const k of Object.keys(localStorage)) { if (!k.startsWith('steadycart.q.')) localStorage.removeItem(k); } \
    sessionStorage.clear(); return true;";
/// Minimum time on a page before an exit counts (the snippet's 3 s + slack).
const DWELL: Duration = Duration::from_millis(3300);

impl Crowd {
    /// Start chromedriver and one browser per shopper.
    pub async fn start(options: CrowdOptions) -> anyhow::Result<Crowd> {
        let chromedriver = Chromedriver::start()?;
        let mut sessions = Vec::new();
        for _ in 0..options.shoppers.max(1) {
            let profile = tempfile::tempdir()?;
            let driver = chromedriver.session(profile.path()).await?;
            driver
                .set_page_load_timeout(Duration::from_secs(20))
                .await?;
            sessions.push((driver, profile));
        }
        Ok(Crowd {
            chromedriver,
            sessions,
            options,
        })
    }

    /// One of the browsers, for the drill's own pages (incident view,
    /// report) once shopping is over.
    pub fn driver(&self) -> &WebDriver {
        &self.sessions[0].0
    }

    /// Shop until `stop` turns true; every shopper finishes its visit.
    /// Returns every visit.
    pub async fn shop(&self, stop: watch::Receiver<bool>) -> Vec<Visit> {
        let mut set = JoinSet::new();
        for (i, (driver, _)) in self.sessions.iter().enumerate() {
            let driver = driver.clone();
            let stop = stop.clone();
            let store = self.options.store_url.clone();
            let refresh = self.options.refresh_prices;
            let seed = self.options.seed ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            set.spawn(async move {
                let mut rng = StdRng::seed_from_u64(seed);
                let mut visits = Vec::new();
                let mut n = 0;
                while !*stop.borrow() {
                    n += 1;
                    let plan = VisitPlan::draw(&mut rng);
                    let started_ms = steadycart_collector::now_ms();
                    let mut visit = Visit {
                        shopper: i,
                        started_ms,
                        outcome: VisitOutcome::Broken,
                        saw_fallback: false,
                        saw_survey: false,
                        email: None,
                    };
                    if let Err(e) = walk(&driver, &store, &plan, refresh, i, n, &mut visit).await {
                        eprintln!("shopper {i}: visit {n}: {e:#}");
                        visit.outcome = VisitOutcome::Broken;
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                    // Leaving sends the page's last events (beacon).
                    let _ = driver.goto("about:blank").await;
                    visits.push(visit);
                }
                visits
            });
        }
        let mut all = Vec::new();
        while let Some(r) = set.join_next().await {
            if let Ok(v) = r {
                all.extend(v);
            }
        }
        all.sort_by_key(|v| v.started_ms);
        all
    }

    /// Close every browser and chromedriver.
    pub async fn quit(self) {
        for (d, _) in &self.sessions {
            let _ = d.clone().quit().await;
        }
        self.chromedriver.stop();
    }
}

async fn eval(d: &WebDriver, script: &str) -> anyhow::Result<serde_json::Value> {
    Ok(d.execute(script, vec![]).await?.json().clone())
}

fn truthy(v: &serde_json::Value) -> bool {
    !(v.is_null() || *v == false || *v == "" || *v == 0)
}

/// Poll `script` until truthy; false on timeout.
async fn wait(d: &WebDriver, timeout: Duration, script: &str) -> anyhow::Result<bool> {
    let start = Instant::now();
    loop {
        if truthy(&eval(d, script).await?) {
            return Ok(true);
        }
        if start.elapsed() > timeout {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn think(plan: &VisitPlan) {
    tokio::time::sleep(Duration::from_millis(plan.think_ms)).await;
}

/// Walk one visit.
///
/// With `refresh_prices`, the shopper presses the list's "Refresh prices"
/// and waits until every price call has answered: the store's own price
/// calls at page load start before the snippet has loaded (it starts
/// watching once its WebAssembly is ready), so a lagging price API shows
/// only in calls made after that.
async fn walk(
    d: &WebDriver,
    store: &str,
    plan: &VisitPlan,
    refresh_prices: bool,
    shopper: usize,
    n: u32,
    visit: &mut Visit,
) -> anyhow::Result<()> {
    let skus: Vec<&str> = plan
        .products
        .iter()
        .map(|i| steadycart_demo_store::catalog::PRODUCTS[*i].sku)
        .collect();
    // A same-origin page without the snippet (the store's stylesheet) to
    // forget the previous visit, so no page of the old session loads again.
    d.goto(&format!("{store}/assets/store.css")).await?;
    eval(d, NEW_SHOPPER).await?;
    d.goto(store).await?;
    wait(d, Duration::from_secs(10), INSTALLED).await?;
    think(plan).await;
    if refresh_prices {
        let t0 = eval(d, "return performance.now()").await?;
        d.find(By::Id("refresh-prices")).await?.click().await?;
        wait(
            d,
            Duration::from_secs(8),
            &format!(
                "const n = document.querySelectorAll('[data-live-price]').length; \
                 return performance.getEntriesByType('resource') \
                   .filter(e => e.name.includes('/api/price/') && e.startTime >= {t0}).length >= n;"
            ),
        )
        .await?;
        think(plan).await;
    }
    for sku in &skus {
        if plan.product_page {
            d.goto(&format!("{store}/product/{sku}")).await?;
            wait(
                d,
                Duration::from_secs(8),
                "const p = document.querySelector('[data-live-price]'); return p && p.textContent !== 'checking…';",
            )
            .await?;
            think(plan).await;
        }
        d.find(By::Css(format!("[data-add='{sku}']")))
            .await?
            .click()
            .await?;
        wait(
            d,
            Duration::from_secs(8),
            "return document.getElementById('status').textContent.length > 0",
        )
        .await?;
    }
    if plan.browse_only {
        think(plan).await;
        visit.outcome = VisitOutcome::Browsed;
        return Ok(());
    }
    d.goto(&format!("{store}/cart")).await?;
    let loaded = Instant::now();
    wait(d, Duration::from_secs(10), INSTALLED).await?;
    think(plan).await;
    let mut tries = 0;
    loop {
        tries += 1;
        d.find(By::Id("checkout")).await?.click().await?;
        // Ordered, refused, or still waiting after 9 s (a hanging call).
        wait(
            d,
            Duration::from_secs(9),
            "return location.pathname.startsWith('/order/') || /failed|try again/.test(document.getElementById('status').textContent)",
        )
        .await?;
        if eval(d, "return location.pathname.startsWith('/order/')").await? == true {
            // The confirmation page reports the completion; give it a moment.
            wait(d, Duration::from_secs(10), INSTALLED).await?;
            tokio::time::sleep(Duration::from_millis(300)).await;
            visit.outcome = VisitOutcome::Ordered;
            return Ok(());
        }
        visit.saw_fallback |= truthy(&eval(d, FALLBACK_VISIBLE).await?);
        if plan.on_trouble == OnTrouble::Retry && tries == 1 {
            think(plan).await;
            // The button is disabled while a call hangs.
            if eval(d, "return !document.getElementById('checkout').disabled").await? == true {
                continue;
            }
        }
        break;
    }
    visit.outcome = VisitOutcome::GaveUp;
    if let OnTrouble::ExitIntent { answer, consent } = plan.on_trouble {
        if let Some(rest) = DWELL.checked_sub(loaded.elapsed()) {
            tokio::time::sleep(rest).await;
        }
        eval(d, LEAVE_TOP).await?;
        if wait(d, Duration::from_secs(3), SURVEY_OPEN).await? {
            visit.saw_survey = true;
            think(plan).await;
            if answer {
                let email = consent.then(|| format!("shopper{shopper}.visit{n}@example.com"));
                let script = format!(
                    "const r = document.querySelector('steadycart-survey').shadowRoot; \
                     const c = r.querySelector('input[name=choice]'); if (c) c.click(); \
                     const em = r.getElementById('sc-email'); const k = r.getElementById('sc-consent'); \
                     const email = {}; \
                     if (email && em && k) {{ em.value = email; em.dispatchEvent(new Event('input', {{bubbles: true}})); if (!k.checked) k.click(); }} \
                     r.querySelector('button.send').click(); return true;",
                    serde_json::to_string(&email)?
                );
                eval(d, &script).await?;
                visit.email = email;
            } else {
                eval(
                    d,
                    "document.querySelector('steadycart-survey').shadowRoot.querySelector('.x').click(); return true;",
                )
                .await?;
            }
            wait(
                d,
                Duration::from_secs(3),
                "return !document.querySelector('steadycart-survey')",
            )
            .await?;
        }
    }
    think(plan).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_plans() {
        let draw = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            (0..50)
                .map(|_| VisitPlan::draw(&mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        let plans = draw(7);
        assert!(plans.iter().any(|p| p.browse_only));
        assert!(plans.iter().any(|p| matches!(
            p.on_trouble,
            OnTrouble::ExitIntent {
                answer: true,
                consent: true
            }
        )));
        assert!(plans
            .iter()
            .all(|p| p.products.iter().all(|i| *i < PRODUCTS)));
    }
}
