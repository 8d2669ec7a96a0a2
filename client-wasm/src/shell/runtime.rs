//! The snippet's state on this page and what each hook call does to it.
//!
//! State lives in one thread-local [`Runtime`]; hooks borrow it with
//! `try_borrow_mut`, so a re-entrant call is skipped rather than panicking.

use std::cell::RefCell;

use gloo_timers::callback::Timeout;
use steadycart_protocol::{remote::SiteConfig, CallEvent, Event, EventBody, Role};
use wasm_bindgen::{prelude::*, JsCast};

use super::{
    page, remote, transport,
    transport::Transport,
    ui::{Slot, Ui},
    warn,
};
use crate::{
    classify::{classify, Ending},
    config::{self, idx, Config},
    delivery::SessionCount,
    fallback::{Change, FallbackBoard},
    funnel::{Completion, Funnel},
    outbox::Outbox,
    remote::{apply as apply_remote_config, Applied},
    rules::{self, strip_query},
    session::{self, Session},
    sku,
    stale::{self, Entry, Live, StaleCache},
};

const SESSION_KEY: &str = "steadycart.session";
const FUNNEL_KEY: &str = "steadycart.funnel";
const COUNT_KEY: &str = "steadycart.count";
const STALE_KEY: &str = "steadycart.stale";

#[wasm_bindgen(module = "/js/shim.js")]
extern "C" {
    #[wasm_bindgen(catch)]
    fn install(
        dispatch: &JsValue,
        prefixes: &js_sys::Array,
        inspect: bool,
        stale: bool,
    ) -> Result<JsValue, JsValue>;
    fn uninstall();
    fn drain();
    #[wasm_bindgen(js_name = serveStale)]
    fn serve_stale(
        live: &JsValue,
        url: &str,
        cap: u32,
        wait_ms: u32,
        cached: &JsValue,
        signal: &JsValue,
    ) -> JsValue;
}

struct Pending {
    role: Role,
    method: String,
    url: String,
    started: f64,
    stalled: bool,
    sku: Option<String>,
    /// The full URL, for calls eligible for stale-if-error.
    stale_url: Option<String>,
    /// The response status while its small JSON body is still being read:
    /// a page leaving meanwhile ends the call with it.
    answered: Option<u16>,
    /// When the call stalls (ms since the epoch), if still pending.
    deadline: f64,
}

/// sessionStorage writes (session touch, event count) wait this long, ms, so
/// a burst of calls writes once; the page hiding or leaving writes at once.
const PERSIST_MS: u32 = 1000;

pub(super) struct Runtime {
    pub(super) config: Config,
    page_origin: String,
    page_path: String,
    session: Session,
    /// Calls under way. A few at a time: a Vec is smaller in the wasm than
    /// a HashMap and as fast at this size.
    pending: Vec<(u32, Pending)>,
    next_token: u32,
    /// One timer for every stall notice, due at the earliest deadline of
    /// the calls under way (not one timer per call).
    stall_timer: Option<(f64, Timeout)>,
    /// The coming sessionStorage write, if one waits ([`PERSIST_MS`]).
    persist: Option<Timeout>,
    /// Event ids: a random prefix for this page and a counter (one random
    /// draw per page, not per event).
    id_prefix: String,
    next_id: u32,
    board: FallbackBoard,
    hide_checks: [Option<Timeout>; 4],
    pub(super) funnel: Funnel,
    pub(super) exit: super::survey::ExitSurvey,
    pub(super) outbox: Outbox,
    pub(super) transport: Transport,
    ui: Option<Ui>,
    /// Events this session has reported (sampling and the per-session cap).
    count: SessionCount,
    /// The tag's own configuration, before the remote config.
    base: Config,
    /// The remote config in force (from the collector or its cached copy).
    remote: Option<SiteConfig>,
    /// Banner text the shopper dismissed (not shown again until it changes).
    banner_dismissed: Option<String>,
    /// Messages as a toast instead of a top bar.
    toast: bool,
    /// Next remote config poll.
    pub(super) poll: Option<Timeout>,
    /// Whether the survey may show: `Some(false)` when the incident team
    /// disabled it remotely (`survey` in the remote config); `None` leaves
    /// it to the page's own setting.
    pub(super) survey_enabled: Option<bool>,
    /// Kept price responses for stale-if-error; `None` unless a rule opted in.
    stale: Option<StaleCache>,
    /// `Steadycart.pause()`: new calls are not watched, no survey shows.
    pub(super) paused: bool,
    /// The JS API's event dispatcher (`on('trouble' | 'recovered' |
    /// 'survey', cb)`); it runs the callbacks later, each guarded.
    emit: Option<js_sys::Function>,
    /// The cart last read from a cart response: an unchanged cart is not
    /// reported again (a page polling its cart would flood the session).
    last_cart: Option<steadycart_protocol::cart::CartSnapshot>,
}

/// Why the snippet did not start.
pub(super) enum StartError {
    /// The configuration was refused.
    Config(config::ConfigError),
    /// Already running on this page (tag included twice, `init` after the
    /// tag, or after `uninstall`).
    AlreadyStarted,
    /// A browser API failed.
    Js(JsValue),
}

impl From<JsValue> for StartError {
    fn from(e: JsValue) -> Self {
        StartError::Js(e)
    }
}

thread_local! {
    static RUNTIME: RefCell<Option<Runtime>> = const { RefCell::new(None) };
}

/// Run `f` on the runtime, unless it is absent or already borrowed.
pub(super) fn with_runtime<R>(f: impl FnOnce(&mut Runtime) -> R) -> Option<R> {
    RUNTIME.with(|cell| {
        let mut guard = cell.try_borrow_mut().ok()?;
        guard.as_mut().map(f)
    })
}

/// Start from the script tag (`attrs` = its attributes merged over the
/// page's `steadycart-config` object) or from `Steadycart.init(config)`
/// (`attrs` = the config object's options). `emit` is the JS API's event
/// dispatcher.
pub(super) fn start(
    attrs: Result<Vec<(String, String)>, config::ConfigError>,
    script_url: &str,
    emit: Option<js_sys::Function>,
) -> Result<(), StartError> {
    let mut config = attrs
        .and_then(|attrs| config::from_attributes(&attrs, script_url))
        .map_err(StartError::Config)?;
    if RUNTIME.with(|c| c.borrow().is_some()) {
        return Err(StartError::AlreadyStarted); // the tag was included twice
    }
    config.localize(&remote::languages());
    let window = web_sys::window().ok_or(JsValue::from_str("no window"))?;
    let config_url = [&config.collector, "/v1/config?site=", &config.site_key].concat();
    let cached = remote::cached(&config.site_key);
    if cached.as_ref().is_some_and(|c| c.kill) {
        // Switched off: install nothing, only learn whether that changed.
        if let Ok(f) = js_sys::Reflect::get(&window, &"fetch".into()) {
            if let Ok(f) = f.dyn_into::<js_sys::Function>() {
                remote::refresh(f, config_url, config.site_key.clone());
            }
        }
        return Ok(());
    }
    let location = window.location();
    let now = page::now();
    let stored = page::session_storage()
        .and_then(|s| s.get_item(SESSION_KEY).ok().flatten())
        .and_then(|s| Session::parse(&s));
    let (session, is_new) =
        session::resolve(stored, now, || ["s_", &page::random_hex(12)].concat());

    // Hooks first: if another copy already installed itself, we stop here.
    let page_origin = location.origin()?;
    let original_fetch = install_hooks(&config, &page_origin)?;
    if original_fetch.is_null() {
        return Err(StartError::AlreadyStarted);
    }
    let transport = Transport::new(&config, original_fetch.unchecked_into());
    let mut runtime = Runtime {
        page_origin,
        page_path: location.pathname()?,
        session,
        pending: Vec::new(),
        next_token: 1,
        stall_timer: None,
        persist: None,
        id_prefix: page::random_hex(12),
        next_id: 0,
        board: FallbackBoard::default(),
        hide_checks: Default::default(),
        funnel: page::session_storage()
            .and_then(|s| s.get_item(FUNNEL_KEY).ok().flatten())
            .map(|s| Funnel::parse(&s))
            .unwrap_or_default(),
        exit: super::survey::ExitSurvey::new(&config),
        outbox: Outbox::new(&config.delivery),
        transport,
        ui: None,
        count: page::session_storage()
            .and_then(|s| s.get_item(COUNT_KEY).ok().flatten())
            .and_then(|s| SessionCount::parse(&s))
            .unwrap_or(SessionCount {
                session: String::new(),
                used: 0,
            }),
        base: config.clone(),
        config,
        remote: None,
        banner_dismissed: None,
        toast: false,
        poll: None,
        survey_enabled: None,
        stale: None,
        paused: false,
        emit,
        last_cart: None,
    };
    if runtime.config.rules.iter().any(|r| r.stale) {
        let stored = page::session_storage().and_then(|s| s.get_item(STALE_KEY).ok().flatten());
        runtime.stale = Some(StaleCache::parse(
            stored.as_deref().unwrap_or_default(),
            runtime.config.stale,
        ));
    }
    transport::adopt(&mut runtime);
    if let Some(c) = &cached {
        runtime.apply_remote(c);
    }
    let (fetch, site) = (runtime.transport.fetch(), runtime.config.site_key.clone());
    if is_new {
        runtime.record(EventBody::SessionStart);
    }
    let path = runtime.page_path.clone();
    if let Some(done) = runtime
        .funnel
        .on_page(&path, &runtime.config.confirmation_paths)
    {
        runtime.funnel_event(done);
    }
    RUNTIME.with(|c| *c.borrow_mut() = Some(runtime));
    install_page_listeners(&window);
    super::survey::install(&window);
    // In the background: the page never waits for the collector.
    remote::refresh(fetch, config_url, site);
    Ok(())
}

/// Kill switch: remove the wrappers (the page's fetch and XHR are the
/// originals again), the messages, an open survey and all timers; the
/// snippet is then gone from this page.
pub(super) fn kill_runtime() {
    let runtime = RUNTIME.with(|c| c.try_borrow_mut().ok().and_then(|mut r| r.take()));
    if let Some(mut rt) = runtime {
        uninstall();
        rt.exit.remove();
        if let Some(ui) = rt.ui {
            ui.remove();
        }
    }
}

/// A timer running `f`. Both of the runtime's own timers go through this
/// one closure type: each distinct closure type costs the wasm its glue.
fn later(ms: u32, f: fn()) -> Timeout {
    Timeout::new(ms, f)
}

/// The hooks the wrappers call (`watch` in `js/steadycart.js` documents
/// the contract; `js/shim.js` builds the object): what a watched call's
/// URL starts with, whether bodies are inspected, whether stale-if-error
/// is on, and one page-lifetime dispatcher for every hook (one closure
/// type instead of eight: each costs the wasm and the glue its own shims).
fn install_hooks(config: &Config, page_origin: &str) -> Result<JsValue, JsValue> {
    let prefixes: js_sys::Array = config
        .rules
        .iter()
        .map(|r| JsValue::from(r.url_prefix(page_origin)))
        .collect();
    let inspect =
        config.app_error_field.is_some() || config.rules.iter().any(|r| r.role == Role::Cart);
    let stale = config.rules.iter().any(|r| r.stale);
    install(&dispatcher(), &prefixes, inspect, stale)
}

thread_local! {
    /// The one closure JavaScript calls the wasm through ([`on_hook`]).
    /// Page-lifetime: the wrappers and our own requests may call it anytime.
    static DISPATCH: JsValue = {
        let f = Closure::<dyn FnMut(u32, JsValue, JsValue, JsValue, JsValue) -> JsValue>::new(
            |hook: u32, a: JsValue, b: JsValue, c: JsValue, d: JsValue| {
                on_hook(hook, &a, &b, &c, &d)
            },
        );
        let js = f.as_ref().clone();
        f.forget();
        js
    };
}

/// The dispatcher function (created on first use).
pub(super) fn dispatcher() -> JsValue {
    DISPATCH.with(JsValue::clone)
}

/// A number argument of a hook (0 when absent).
fn num(v: &JsValue) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

/// A text argument of a hook.
fn text(v: &JsValue) -> String {
    v.as_string().unwrap_or_default()
}

/// One hook call, numbered as in `js/shim.js`: 0 `start(method, url, body,
/// at) -> token | undefined`, 1 `bodyCap(token, status?) -> bytes`, 2
/// `end(token, status, body, at)`, 3 `fail(token, aborted, at)`, 4
/// `route(path)`, 5 `substitute(token, live, signal)`, 6 `keep(url,
/// status, headers, body)`, 7 `staleFor(status, aborted) -> bool`; and
/// the answers to our own requests (`send` in `js/shim.js`): 8 the remote
/// config's `(text?)`, 9 a batch's `(status?, retryAfter?, generation)`.
fn on_hook(hook: u32, a: &JsValue, b: &JsValue, c: &JsValue, d: &JsValue) -> JsValue {
    match hook {
        0 => with_runtime(|rt| rt.on_start(text(a), text(b), c, num(d)))
            .flatten()
            .map_or(JsValue::UNDEFINED, JsValue::from),
        1 => {
            let status = b.as_f64().map(|s| s as u16);
            JsValue::from(with_runtime(|rt| rt.body_cap(num(a) as u32, status)).unwrap_or(0))
        }
        2 => {
            with_runtime(|rt| rt.on_response(num(a) as u32, num(b) as u16, c, num(d)));
            JsValue::UNDEFINED
        }
        3 => {
            let ending = if b.is_truthy() {
                Ending::Aborted
            } else {
                Ending::NetworkError
            };
            with_runtime(|rt| rt.on_end(num(a) as u32, ending, num(c)));
            JsValue::UNDEFINED
        }
        4 => {
            with_runtime(|rt| rt.on_route(text(a)));
            JsValue::UNDEFINED
        }
        5 => substitute(num(a) as u32, b, c),
        6 => {
            with_runtime(|rt| rt.keep_stale(text(a), num(b) as u16, &text(c), text(d)));
            JsValue::UNDEFINED
        }
        8 => {
            super::remote::on_config(a.as_string());
            JsValue::UNDEFINED
        }
        9 => {
            let status = a.as_f64().map(|s| s as u16);
            with_runtime(|rt| transport::on_sent(rt, status, b.as_string(), num(c) as u32));
            JsValue::UNDEFINED
        }
        _ => {
            let live = match (num(a) as u16, b.is_truthy()) {
                (_, true) => Live::Aborted,
                (0, _) => Live::NetworkError,
                (s, _) => Live::Status(s),
            };
            JsValue::from(
                with_runtime(|rt| stale::serve_stale(live, &rt.config.error_statuses))
                    .unwrap_or(false),
            )
        }
    }
}

/// Stale-if-error for a price call under way: the promise the page gets
/// instead of the live one (see `serveStale` in `js/shim.js`), or
/// `undefined` to leave the call alone.
fn substitute(token: u32, live: &JsValue, signal: &JsValue) -> JsValue {
    let plan = with_runtime(|rt| rt.stale_plan(token)).flatten();
    let Some((url, wait_ms, cached)) = plan else {
        return JsValue::UNDEFINED;
    };
    let cached = match cached {
        Some(e) => js_sys::Array::of3(
            &JsValue::from(e.status),
            &JsValue::from_str(&e.headers),
            &JsValue::from_str(&e.body),
        )
        .into(),
        None => JsValue::UNDEFINED,
    };
    serve_stale(live, &url, stale::ENTRY_CAP, wait_ms, &cached, signal)
}

fn install_page_listeners(window: &web_sys::Window) {
    page::listen_forever(window, "pagehide", |_| {
        with_runtime(|rt| {
            rt.end_answered();
            rt.record(EventBody::PageExit);
            rt.persist_now();
            transport::flush_on_exit(rt, true);
        });
    });
    let doc = window.document();
    if let Some(doc) = doc {
        let d = doc.clone();
        page::listen_forever(&doc, "visibilitychange", move |_| {
            if d.visibility_state() == web_sys::VisibilityState::Hidden {
                with_runtime(|rt| {
                    rt.persist_now();
                    transport::flush_on_exit(rt, false);
                });
            }
        });
    }
    // Back from the back/forward cache: take our handed-over record back.
    page::listen_forever(window, "pageshow", |e| {
        let restored = js_sys::Reflect::get(&e, &"persisted".into())
            .map(|v| v.is_truthy())
            .unwrap_or(false);
        if restored {
            with_runtime(transport::adopt);
        }
    });
    page::listen_forever(window, "online", |_| {
        with_runtime(|rt| rt.transport.retry_now());
    });
}

impl Runtime {
    /// A call was answered with `status` at `at`; `body` is its small JSON
    /// body (text or parsed) when the wrappers read one, else `undefined`.
    fn on_response(&mut self, token: u32, status: u16, body: &JsValue, at: f64) {
        let is_cart = self
            .pending
            .iter()
            .any(|(t, p)| *t == token && p.role == Role::Cart);
        if is_cart && (200..300).contains(&status) && !body.is_undefined() {
            if let Some(snap) = super::cart::snapshot(body) {
                if self.last_cart.as_ref() != Some(&snap) {
                    self.last_cart = Some(snap.clone());
                    self.record(EventBody::CartSnapshot(snap));
                }
            }
        }
        let app_error = (200..300).contains(&status)
            && self
                .config
                .app_error_field
                .as_deref()
                .is_some_and(|f| !body.is_undefined() && page::json_field(body, f).is_some());
        let ending = if app_error {
            Ending::AppError(status)
        } else {
            Ending::Response(status)
        };
        self.on_end(token, ending, at);
    }

    /// A call began at `at` (ms since the epoch; the wrappers may report it
    /// a little later).
    fn on_start(&mut self, method: String, url: String, body: &JsValue, at: f64) -> Option<u32> {
        if self.paused || self.config.is_collector_url(&url) {
            return None;
        }
        let rule = rules::rule_of(&self.config.rules, &method, &url, &self.page_origin)?;
        let role = rule.role;
        let stale_url = (self.stale.is_some() && stale::eligible(role, &method, rule.stale))
            .then(|| url.clone());
        // Most shops configure no SKU rules: no second URL split then.
        let sku = (!self.config.sku_rules.is_empty())
            .then(|| rules::split_url(&url))
            .flatten()
            .and_then(|u| sku::from_path(&self.config.sku_rules, u.path))
            .or_else(|| {
                let field = sku::body_field(&self.config.sku_rules)?;
                let text = body.as_string().filter(|t| t.len() <= 4096)?;
                sku::clean(&page::json_field(&JsValue::from_str(&text), field)?)
            });
        let token = self.next_token;
        self.next_token = self.next_token.wrapping_add(1).max(1);
        let deadline = at + f64::from(self.config.stall_ms[idx(role)]);
        self.pending.push((
            token,
            Pending {
                role,
                url: strip_query(&url).to_string(),
                method,
                started: at,
                stalled: false,
                sku,
                stale_url,
                answered: None,
                deadline,
            },
        ));
        if self
            .stall_timer
            .as_ref()
            .is_none_or(|(due, _)| deadline < *due)
        {
            self.arm_stall_timer(deadline);
        }
        if let Some(e) = self.funnel.on_call_start(role) {
            self.funnel_event(e);
        }
        Some(token)
    }

    /// For a call eligible for stale-if-error: its URL, the wait before a
    /// kept copy stands in for a pending call (the role's stall threshold),
    /// and the fresh kept copy, if any.
    fn stale_plan(&self, token: u32) -> Option<(String, u32, Option<Entry>)> {
        let (_, p) = self.pending.iter().find(|(t, _)| *t == token)?;
        let url = p.stale_url.clone()?;
        let cached = self.stale.as_ref()?.get(&url, page::now() as u64).cloned();
        Some((url, self.config.stall_ms[idx(p.role)], cached))
    }

    /// Keep a good live response for stale-if-error (memory and
    /// sessionStorage).
    fn keep_stale(&mut self, url: String, status: u16, headers: &str, body: String) {
        let Some(cache) = &mut self.stale else {
            return;
        };
        if !stale::keepable(status, body.len()) {
            return;
        }
        cache.keep(Entry {
            url,
            stored_ms: page::now() as u64,
            status,
            headers: stale::replay_headers(headers),
            body,
        });
        if let Some(s) = page::session_storage() {
            let _ = s.set_item(STALE_KEY, &cache.to_stored());
        }
    }

    /// Bytes of response body the shim may read (from a clone) for `token`.
    /// Cart responses are read too, for cart snapshots.
    /// How much of the response body the call's end wants to see (0: none).
    /// `status` is given by fetch, whose body is then read later: it is
    /// kept, so a page leaving before the body arrives still reports the call.
    fn body_cap(&mut self, token: u32, status: Option<u16>) -> u32 {
        let inspect = self.config.app_error_field.is_some();
        match self.pending.iter_mut().find(|(t, _)| *t == token) {
            Some((_, p)) if inspect || p.role == Role::Cart => {
                p.answered = status;
                config::APP_ERROR_BODY_CAP
            }
            _ => 0,
        }
    }

    /// The page is leaving: calls answered whose bodies are still being
    /// read end now with their status (their bodies may never arrive).
    fn end_answered(&mut self) {
        let answered: Vec<(u32, u16)> = self
            .pending
            .iter()
            .filter_map(|(t, p)| p.answered.map(|s| (*t, s)))
            .collect();
        let now = page::now();
        for (token, status) in answered {
            self.on_end(token, Ending::Response(status), now);
        }
    }

    /// A single-page app changed its route (History API or `popstate`):
    /// events now carry the new path, and a confirmation route completes
    /// the checkout. The session goes on: a route is not a new visit.
    fn on_route(&mut self, path: String) {
        if path == self.page_path {
            return;
        }
        self.page_path = path;
        let path = self.page_path.clone();
        if let Some(done) = self.funnel.on_page(&path, &self.config.confirmation_paths) {
            self.funnel_event(done);
        }
    }

    /// Hand an event to the JS API's `on(kind, cb)` callbacks.
    pub(super) fn emit(&self, kind: &str, detail: &[(&str, JsValue)]) {
        let Some(f) = &self.emit else { return };
        let o = js_sys::Object::new();
        for (k, v) in detail {
            let _ = js_sys::Reflect::set(&o, &JsValue::from_str(k), v);
        }
        let _ = f.call2(&JsValue::NULL, &JsValue::from_str(kind), &o);
    }

    fn emit_trouble(
        &self,
        role: Role,
        outcome: steadycart_protocol::Outcome,
        method: &str,
        url: &str,
        status: Option<u16>,
    ) {
        if outcome.is_trouble() {
            self.emit(
                "trouble",
                &[
                    ("role", JsValue::from_str(role.as_str())),
                    ("outcome", JsValue::from_str(outcome.as_str())),
                    ("method", JsValue::from_str(method)),
                    ("url", JsValue::from_str(url)),
                    ("status", status.map_or(JsValue::NULL, JsValue::from)),
                ],
            );
        }
    }

    /// Record a funnel event and persist the funnel for the next page.
    pub(super) fn funnel_event(&mut self, e: EventBody) {
        if let Some(s) = page::session_storage() {
            let _ = s.set_item(FUNNEL_KEY, &self.funnel.to_stored());
        }
        self.record(e);
    }

    /// Set the stall timer for `due` (replacing an armed one).
    fn arm_stall_timer(&mut self, due: f64) {
        let wait = (due - page::now()).max(0.0).ceil() as u32;
        let timer = later(wait, || {
            // Endings the wrappers still queue come first: a call that has
            // already ended must not be reported as stalled.
            drain();
            with_runtime(Runtime::on_stall_timer);
        });
        self.stall_timer = Some((due, timer));
    }

    /// The stall timer fired: every call past its deadline stalls; the
    /// timer is set again for the next deadline, if a call is still under way.
    fn on_stall_timer(&mut self) {
        self.stall_timer = None;
        let now = page::now();
        let due: Vec<u32> = self
            .pending
            .iter()
            .filter(|(_, p)| !p.stalled && p.deadline <= now)
            .map(|(t, _)| *t)
            .collect();
        for token in due {
            self.on_stall(token);
        }
        let next = self
            .pending
            .iter()
            .filter(|(_, p)| !p.stalled)
            .map(|(_, p)| p.deadline)
            .fold(f64::INFINITY, f64::min);
        if next.is_finite() {
            self.arm_stall_timer(next);
        }
    }

    fn on_stall(&mut self, token: u32) {
        let Some((_, p)) = self.pending.iter_mut().find(|(t, _)| *t == token) else {
            return;
        };
        p.stalled = true;
        let (role, method, url, started) = (p.role, p.method.clone(), p.url.clone(), p.started);
        let sku = p.sku.clone();
        let outcome = steadycart_protocol::Outcome::Stall;
        self.survey_on_call(role, outcome, &method, &url, None);
        self.emit_trouble(role, outcome, &method, &url, None);
        self.record(EventBody::Call(CallEvent {
            role,
            outcome,
            method,
            url,
            status: None,
            duration_ms: (page::now() - started) as u32,
            sku,
        }));
        self.apply_outcome(role, outcome);
    }

    /// A call ended at `at` (ms since the epoch).
    fn on_end(&mut self, token: u32, ending: Ending, at: f64) {
        let Some(i) = self.pending.iter().position(|(t, _)| *t == token) else {
            return;
        };
        let (_, p) = self.pending.swap_remove(i);
        let duration_ms = (at - p.started).max(0.0) as u32;
        let role = p.role;
        let outcome = classify(
            ending,
            duration_ms,
            self.config.stall_ms[idx(role)],
            &self.config.error_statuses,
        );
        let status = match ending {
            Ending::Response(s) | Ending::AppError(s) if s > 0 => Some(s),
            _ => None,
        };
        let completion =
            Completion::for_rules(self.config.rules.iter().any(|r| r.role == Role::Payment));
        if let Some(e) = self
            .funnel
            .on_call_end(role, &p.method, outcome, completion)
        {
            self.funnel_event(e);
        }
        self.survey_on_call(role, outcome, &p.method, &p.url, status);
        self.emit_trouble(role, outcome, &p.method, &p.url, status);
        self.record(EventBody::Call(CallEvent {
            role,
            outcome,
            method: p.method,
            url: p.url,
            status,
            duration_ms,
            sku: p.sku,
        }));
        self.apply_outcome(role, outcome);
    }

    fn apply_outcome(&mut self, role: Role, outcome: steadycart_protocol::Outcome) {
        let change = self.board.on_outcome(role, outcome, page::now());
        if let Some(change) = change {
            self.apply(change);
        }
    }

    fn apply(&mut self, change: Change) {
        match change {
            Change::Show { role, reason } => {
                let text = self.config.texts[idx(role)].clone();
                let urgent = role == Role::Checkout || role == Role::Payment;
                let severity = if urgent { "critical" } else { "warning" };
                if let Some(ui) = self.ui() {
                    if ui.show(Slot::Role(role), &text, urgent, severity).is_ok() {
                        self.record(EventBody::FallbackShown { role, reason });
                    }
                }
            }
            Change::CheckLater { role, after_ms } => {
                let check = Timeout::new(after_ms.ceil() as u32, move || {
                    with_runtime(|rt| {
                        if let Some(c) = rt.board.hide_due(role, page::now()) {
                            rt.apply(c);
                        }
                    });
                });
                self.hide_checks[idx(role)] = Some(check);
            }
            Change::Hide { role } => self.hide(role, "recovered"),
        }
    }

    fn hide(&mut self, role: Role, reason: &str) {
        self.hide_checks[idx(role)] = None;
        if let Some(ui) = &mut self.ui {
            if ui.hide(Slot::Role(role)) {
                self.record(EventBody::FallbackHidden {
                    role,
                    reason: reason.to_string(),
                });
                if reason == "recovered" {
                    self.emit("recovered", &[("role", JsValue::from_str(role.as_str()))]);
                }
            }
        }
    }

    /// `Steadycart.pause()`: stop watching new calls and take down the
    /// messages (nothing could make them recover while paused).
    pub(super) fn pause(&mut self) {
        self.paused = true;
        for role in [Role::Cart, Role::Checkout, Role::Payment, Role::Price] {
            if self.board.dismiss(role) {
                self.hide(role, "paused");
            }
        }
    }

    /// The shopper dismissed a message (OK button or Escape).
    pub(super) fn dismiss(&mut self, slot: Slot) {
        match slot {
            Slot::Role(role) => {
                if self.board.dismiss(role) {
                    self.hide(role, "dismissed");
                }
            }
            Slot::Banner => {
                self.banner_dismissed = self
                    .remote
                    .as_ref()
                    .and_then(|r| r.banner.as_ref())
                    .map(|b| b.text.clone());
                if let Some(ui) = &mut self.ui {
                    ui.hide(Slot::Banner);
                }
            }
        }
    }

    /// Queue an event (if the session is sampled and under its cap) and
    /// make sure a flush is scheduled.
    /// The message UI, created on first use.
    fn ui(&mut self) -> Option<&mut Ui> {
        if self.ui.is_none() {
            match Ui::new(self.toast) {
                Ok(ui) => self.ui = Some(ui),
                Err(e) => warn(&["cannot show messages: ", &super::js_error_text(&e)].concat()),
            }
        }
        self.ui.as_mut()
    }

    /// Apply a remote config over the tag's. Returns true if it switches the
    /// snippet off (the caller then runs [`kill_runtime`]).
    pub(super) fn apply_remote(&mut self, remote: &SiteConfig) -> bool {
        let Applied {
            texts,
            stall_ms,
            banner,
            toast,
            kill,
        } = apply_remote_config(&self.base, remote, &remote::languages(), page::now() as i64);
        self.remote = Some(remote.clone());
        if kill {
            return true;
        }
        self.config.texts = texts;
        self.config.stall_ms = stall_ms;
        self.survey_enabled = remote.survey;
        self.set_limits(
            remote.sample_rate.unwrap_or(self.base.delivery.sample_rate),
            remote.event_cap.unwrap_or(self.base.delivery.max_events),
        );
        self.toast = toast;
        if let Some(ui) = &self.ui {
            ui.set_toast(toast);
        }
        match banner {
            Some((text, urgent)) if self.banner_dismissed.as_deref() != Some(text.as_str()) => {
                let severity = remote
                    .banner
                    .as_ref()
                    .map_or("info", |b| b.severity.as_str())
                    .to_string();
                if let Some(ui) = self.ui() {
                    let _ = ui.show(Slot::Banner, &text, urgent, &severity);
                }
            }
            _ => {
                if let Some(ui) = &mut self.ui {
                    ui.hide(Slot::Banner);
                }
            }
        }
        false
    }

    /// Seconds until the remote config should be asked for again.
    pub(super) fn remote_max_age(&self) -> Option<u32> {
        self.remote.as_ref().map(SiteConfig::max_age)
    }

    /// Queue an event and make sure a flush is scheduled.
    pub(super) fn record(&mut self, body: EventBody) {
        let now = page::now();
        self.session.last_seen = now;
        if self.persist.is_none() {
            self.persist = Some(later(PERSIST_MS, || {
                with_runtime(Runtime::persist_now);
            }));
        }
        if !self.count.admit(&self.session.id, &self.config.delivery) {
            return;
        }
        self.next_id = self.next_id.wrapping_add(1);
        let mut id = self.id_prefix.clone();
        for shift in (0..32).step_by(4).rev() {
            id.push(char::from(
                b"0123456789abcdef"[(self.next_id >> shift) as usize & 15],
            ));
        }
        let event = Event {
            id,
            ts: now as i64,
            session: self.session.id.clone(),
            page: Some(self.page_path.clone()),
            body,
        };
        self.outbox.push(transport::encode_event(&event), now);
        let wait = self.outbox.ms_until_due(now).unwrap_or(0.0);
        self.transport.schedule(wait);
    }

    /// Write the session (last activity) and the event count to
    /// sessionStorage now, for the next page of this visit.
    pub(super) fn persist_now(&mut self) {
        self.persist = None;
        if let Some(s) = page::session_storage() {
            let _ = s.set_item(SESSION_KEY, &self.session.to_stored());
            let _ = s.set_item(COUNT_KEY, &self.count.to_stored());
        }
    }

    /// Change sampling and the per-session cap at run time (remote
    /// configuration). `sample_rate` is clamped to [0, 1].
    #[allow(dead_code)] // called by remote configuration
    pub(super) fn set_limits(&mut self, sample_rate: f64, max_events: u32) {
        self.config.delivery.sample_rate = if sample_rate.is_nan() {
            1.0
        } else {
            sample_rate.clamp(0.0, 1.0)
        };
        self.config.delivery.max_events = max_events;
    }
}
