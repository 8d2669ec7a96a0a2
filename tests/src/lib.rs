//! End-to-end harness: starts a real collector (embedded SQLite in a temp
//! dir, serving the built snippet from `dist/snippet`), the real demo store
//! embedding the snippet with its script tag, and headless Chromium driven
//! through chromedriver (WebDriver).
//!
//! Run through `cargo xtask test`, which builds the snippet first and tells
//! this harness where Chromium, chromedriver and the snippet are.
//!
//! # Layout
//! - [`Stack`]: collector + demo store on loopback ports, with a site.
//! - [`Browser`]: a chromedriver process and a WebDriver session.
//! - [`lab`]: a test-only server with known endpoints and library pages, for
//!   the snippet's transparency suite and benchmark.
//! - [`gate`]: a controllable HTTP gate in front of the collector (outages,
//!   429/5xx) that records every ingest request.
//! - [`smtp`]: a real SMTP server that keeps what it receives.
//! - [`drill`]: the crisis drill — synthetic shoppers, local alert
//!   receivers, a scheduled outage and its timeline (`cargo xtask drill`).

use std::{
    net::SocketAddr,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

pub mod drill;
pub mod lab;
pub mod smtp;

use anyhow::{bail, Context};
use steadycart_collector::{config::Config, keys, store::Db};
use steadycart_demo_store::StoreConfig;
pub use thirtyfour;
use thirtyfour::{ChromiumLikeCapabilities, DesiredCapabilities, WebDriver};
use tokio::{net::TcpListener, sync::oneshot};

pub mod gate;
pub use gate::{Gate, GateMode};

/// Options of [`Stack::start_with`]; the default is what [`Stack::start`] runs.
#[derive(Debug, Default, Clone)]
pub struct StackOptions {
    /// Put a [`Gate`] between the page and the collector.
    pub gate: bool,
    /// Extra attributes for the embed tag, e.g. ` data-flush-ms="300"`.
    pub snippet_attrs: String,
}

fn env_path(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| default.into())
}

/// The built snippet directory.
pub fn snippet_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::var_os("STEADYCART_SNIPPET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../dist/snippet"));
    if !dir.join("steadycart.js").exists() {
        bail!(
            "no built snippet in {}: run the tests with `cargo xtask test` (it builds it)",
            dir.display()
        );
    }
    Ok(dir)
}

/// Where screenshots go.
pub fn artifacts_dir() -> PathBuf {
    let dir = env_path(
        "STEADYCART_ARTIFACTS",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../artifacts"),
    );
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// A running collector and demo store.
pub struct Stack {
    /// Collector base URL.
    pub collector_url: String,
    /// Demo store base URL.
    pub store_url: String,
    /// The demo site's public key.
    pub site_key: String,
    /// The demo site's admin token.
    pub admin_token: String,
    /// The store's fault control token.
    pub control_token: String,
    /// HTTP client for the test's own calls.
    pub http: reqwest::Client,
    /// The gate the page reports through, if asked for.
    pub gate: Option<Gate>,
    _data: tempfile::TempDir,
    stops: Vec<oneshot::Sender<()>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Stack {
    /// Start both servers on free loopback ports.
    pub async fn start() -> anyhow::Result<Stack> {
        Self::start_with(|_| {}).await
    }

    /// Like [`Stack::start`], with the collector's config adjusted first
    /// (e.g. second-long signal buckets).
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> anyhow::Result<Stack> {
        Self::start_with_options(StackOptions::default(), tweak).await
    }

    /// Start both servers with `options` (a gate, snippet attributes) and the
    /// collector's config adjusted by `tweak`.
    pub async fn start_with_options(
        options: StackOptions,
        tweak: impl FnOnce(&mut Config),
    ) -> anyhow::Result<Stack> {
        let snippet = snippet_dir()?;
        let data = tempfile::tempdir()?;
        let store_listener = TcpListener::bind("127.0.0.1:0").await?;
        let collector_listener = TcpListener::bind("127.0.0.1:0").await?;
        let store_addr: SocketAddr = store_listener.local_addr()?;
        let collector_addr: SocketAddr = collector_listener.local_addr()?;
        let store_url = format!("http://{store_addr}");
        let collector_url = format!("http://{collector_addr}");

        let mut config = Config {
            listen: collector_addr,
            data_dir: data.path().to_path_buf(),
            snippet_dir: snippet,
            ..Config::default()
        };
        tweak(&mut config);
        let db = Db::connect(&config.database_url()).await?;
        db.migrate().await?;
        let site_key = keys::new_site_key();
        let admin_token = keys::new_admin_token();
        db.insert_site(
            &site_key,
            "E2E shop",
            &keys::hash_token(&admin_token),
            std::slice::from_ref(&store_url),
            0,
        )
        .await?;
        db.close().await;

        let mut stops = Vec::new();
        let mut tasks = Vec::new();
        let (stop, stopped) = oneshot::channel::<()>();
        stops.push(stop);
        tasks.push(tokio::spawn(async move {
            if let Err(e) = steadycart_collector::serve(collector_listener, config, async {
                let _ = stopped.await;
            })
            .await
            {
                eprintln!("collector failed: {e:#}");
            }
        }));
        let control_token = keys::new_admin_token();
        let gate = match options.gate {
            true => Some(Gate::start(collector_url.clone()).await?),
            false => None,
        };
        let store_config = StoreConfig {
            collector_url: gate
                .as_ref()
                .map_or_else(|| collector_url.clone(), |g| g.url.clone()),
            snippet_attrs: options.snippet_attrs,
            site_key: site_key.clone(),
            control_token: control_token.clone(),
        };
        let (stop, stopped) = oneshot::channel::<()>();
        stops.push(stop);
        tasks.push(tokio::spawn(async move {
            let _ = steadycart_demo_store::serve(store_listener, store_config, async {
                let _ = stopped.await;
            })
            .await;
        }));
        Ok(Stack {
            collector_url,
            store_url,
            site_key,
            admin_token,
            control_token,
            http: reqwest::Client::new(),
            gate,
            _data: data,
            stops,
            tasks,
        })
    }

    /// Make the demo store's `endpoint` answer with HTTP `status`.
    pub async fn fail(&self, endpoint: &str, status: u16) -> anyhow::Result<()> {
        self.set_fault(
            endpoint,
            serde_json::json!({"mode": "error", "status": status}),
        )
        .await
    }

    /// Take any fault off the demo store's `endpoint`.
    pub async fn heal(&self, endpoint: &str) -> anyhow::Result<()> {
        self.set_fault(endpoint, serde_json::json!({"mode": "none"}))
            .await
    }

    /// Set a fault on a demo store endpoint (`checkout`, `cart`, `price`, `payment`).
    pub async fn set_fault(&self, endpoint: &str, fault: serde_json::Value) -> anyhow::Result<()> {
        let res = self
            .http
            .put(format!("{}/control/faults/{endpoint}", self.store_url))
            .header("x-control-token", &self.control_token)
            .json(&fault)
            .send()
            .await?;
        anyhow::ensure!(
            res.status().as_u16() == 204,
            "setting fault: {}",
            res.status()
        );
        Ok(())
    }

    /// Every stored event of the site, through the admin API.
    pub async fn events(&self) -> anyhow::Result<Vec<serde_json::Value>> {
        let mut all = Vec::new();
        let mut after = 0i64;
        loop {
            let page = self
                .admin_get(&format!("events?limit=1000&after={after}"))
                .await?;
            all.extend(
                page["events"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|e| e["event"].clone()),
            );
            match page["next"].as_i64() {
                Some(n) => after = n,
                None => return Ok(all),
            }
        }
    }

    /// A request to `/v1/admin/sites/{key}/{rel}` carrying the site's
    /// admin token.
    pub fn admin(&self, method: reqwest::Method, rel: &str) -> reqwest::RequestBuilder {
        self.http
            .request(
                method,
                format!(
                    "{}/v1/admin/sites/{}/{rel}",
                    self.collector_url, self.site_key
                ),
            )
            .bearer_auth(&self.admin_token)
    }

    /// `GET /v1/admin/sites/{key}/{rel}` with the site's admin token: the
    /// JSON answer (an error for a non-2xx status).
    pub async fn admin_get(&self, rel: &str) -> anyhow::Result<serde_json::Value> {
        Ok(self
            .admin(reqwest::Method::GET, rel)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }

    /// The array `field` of [`Stack::admin_get`]`(rel)` (empty when absent).
    pub async fn admin_list(
        &self,
        rel: &str,
        field: &str,
    ) -> anyhow::Result<Vec<serde_json::Value>> {
        let page = self.admin_get(rel).await?;
        Ok(page[field].as_array().cloned().unwrap_or_default())
    }

    /// `PATCH` the site's remote configuration through the admin API and
    /// return the stored document (with its new `version`).
    pub async fn patch_config(&self, doc: serde_json::Value) -> anyhow::Result<serde_json::Value> {
        let res = self
            .admin(reqwest::Method::PATCH, "config")
            .json(&doc)
            .send()
            .await?;
        anyhow::ensure!(res.status() == 200, "patch config: {}", res.status());
        Ok(res.json().await?)
    }

    /// The site's client-side drop totals, through the admin API.
    pub async fn drops(&self) -> anyhow::Result<serde_json::Value> {
        self.admin_get("drops").await
    }

    /// Poll the stored events until one satisfies `pred`, or time out.
    pub async fn wait_for_event(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> anyhow::Result<serde_json::Value> {
        let start = Instant::now();
        loop {
            let events = self.events().await?;
            if let Some(e) = events.iter().find(|e| pred(e)) {
                return Ok(e.clone());
            }
            if start.elapsed() > timeout {
                bail!(
                    "no {what} event within {timeout:?}; stored: {}",
                    serde_json::to_string_pretty(&events)?
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Stop both servers, letting the collector flush.
    pub async fn stop(mut self) {
        for s in self.stops.drain(..) {
            let _ = s.send(());
        }
        for t in self.tasks.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
    }
}

/// A chromedriver process and one headless Chromium session.
pub struct Browser {
    /// The WebDriver session.
    pub driver: WebDriver,
    chromedriver: Chromedriver,
    _profile: tempfile::TempDir,
}

/// A chromedriver process on a free loopback port. Several WebDriver
/// sessions (each its own headless Chromium) can share it.
pub struct Chromedriver {
    /// Its WebDriver URL.
    pub url: String,
    child: Child,
}

impl Chromedriver {
    /// Start chromedriver (`STEADYCART_CHROMEDRIVER`, default
    /// `/usr/bin/chromedriver`) on a free port.
    pub fn start() -> anyhow::Result<Chromedriver> {
        let chromedriver = env_path("STEADYCART_CHROMEDRIVER", "/usr/bin/chromedriver");
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            l.local_addr()?.port()
        };
        let child = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| {
                format!(
                    "starting {} (run `cargo xtask test`, it installs it)",
                    chromedriver.display()
                )
            })?;
        Ok(Chromedriver {
            url: format!("http://127.0.0.1:{port}"),
            child,
        })
    }

    /// Open a headless Chromium session with its own profile in `profile`.
    pub async fn session(&self, profile: &std::path::Path) -> anyhow::Result<WebDriver> {
        let chromium = env_path("STEADYCART_CHROMIUM", "/usr/bin/chromium");
        let mut caps = DesiredCapabilities::chrome();
        caps.set_binary(&chromium.to_string_lossy())?;
        for arg in [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
            "--window-size=1280,900",
        ] {
            caps.add_arg(arg)?;
        }
        caps.add_arg(&format!("--user-data-dir={}", profile.display()))?;
        let start = Instant::now();
        loop {
            match WebDriver::new(&self.url, caps.clone()).await {
                Ok(d) => return Ok(d),
                Err(e) if start.elapsed() < Duration::from_secs(15) => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => return Err(e).context("connecting to chromedriver"),
            }
        }
    }

    /// Stop chromedriver.
    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

impl Browser {
    /// Start chromedriver on a free port and open a headless session.
    pub async fn start() -> anyhow::Result<Browser> {
        let chromedriver = Chromedriver::start()?;
        let profile = tempfile::tempdir()?;
        let driver = chromedriver.session(profile.path()).await?;
        Ok(Browser {
            driver,
            chromedriver,
            _profile: profile,
        })
    }

    /// Run a script and return its JSON result.
    pub async fn eval(&self, script: &str) -> anyhow::Result<serde_json::Value> {
        Ok(self.driver.execute(script, vec![]).await?.json().clone())
    }

    /// Poll `script` until it returns a truthy value, or time out.
    pub async fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        script: &str,
    ) -> anyhow::Result<serde_json::Value> {
        let start = Instant::now();
        loop {
            let v = self.eval(script).await?;
            let truthy = !(v.is_null() || v == false || v == "" || v == 0);
            if truthy {
                return Ok(v);
            }
            if start.elapsed() > timeout {
                bail!("timed out after {timeout:?} waiting for {what}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Wait (up to 10 s) until the snippet on the current page has
    /// installed its wrappers (`window.__steadycart` is set).
    pub async fn installed(&self) -> anyhow::Result<()> {
        self.wait_for(
            "snippet installed",
            Duration::from_secs(10),
            "return !!window.__steadycart",
        )
        .await?;
        Ok(())
    }

    /// Navigate to `url` and wait until the snippet is installed there.
    pub async fn open(&self, url: &str) -> anyhow::Result<()> {
        self.driver.goto(url).await?;
        self.installed().await
    }

    /// The demo store's usual first steps: add the first product on the
    /// home page, open the cart page and wait for the snippet there.
    pub async fn open_cart_with_item(&self, store_url: &str) -> anyhow::Result<()> {
        self.driver.goto(store_url).await?;
        self.driver
            .find(thirtyfour::By::Css("[data-add]"))
            .await?
            .click()
            .await?;
        self.open(&format!("{store_url}/cart")).await
    }

    /// Save a screenshot under the artifacts directory.
    pub async fn screenshot(&self, name: &str) -> anyhow::Result<PathBuf> {
        let path = artifacts_dir().join(format!("{name}.png"));
        self.driver.screenshot(&path).await?;
        Ok(path)
    }

    /// Console messages are not exposed by chromedriver portably; pages under
    /// test record errors in `window.__errors` instead. Returns them.
    pub async fn page_errors(&self) -> anyhow::Result<serde_json::Value> {
        self.eval("return window.__errors || []").await
    }

    /// End the session and chromedriver.
    pub async fn quit(self) {
        let _ = self.driver.clone().quit().await;
        self.chromedriver.stop();
    }
}
