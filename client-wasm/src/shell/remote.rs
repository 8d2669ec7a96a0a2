//! Remote config in the browser: read the cached copy from localStorage at
//! start, fetch `GET /v1/config?site=KEY` in the background (never blocking
//! the page; the browser revalidates with the ETag), store it, hand it to the
//! runtime, and ask again every `max_age_s` while the page is open. Any
//! failure keeps the cached (or the tag's embedded) config.

use gloo_timers::callback::Timeout;
use steadycart_protocol::{
    remote::{Banner, LocalText, RoleMs, SiteConfig, DEFAULT_MAX_AGE_S},
    Role,
};
use wasm_bindgen::prelude::*;

use super::runtime::{kill_runtime, with_runtime};

fn storage_key(site: &str) -> String {
    ["steadycart.config.", site].concat()
}

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

fn parse(text: &str) -> Option<SiteConfig> {
    decode(&js_sys::JSON::parse(text).ok()?)
}

/// Read a [`SiteConfig`] from parsed JSON with a few property reads instead
/// of a serde deserializer (which costs the wasm about 20 KB). Same rules as
/// its serde form: absent or `null` optional fields are `None`, unknown
/// fields are ignored, and a field of the wrong type (or an unknown role)
/// refuses the whole config.
fn decode(v: &JsValue) -> Option<SiteConfig> {
    let c = SiteConfig {
        version: opt(v, "version", |x| int(x, -(1 << 53), 1 << 53))?.unwrap_or(0),
        kill: opt(v, "kill", JsValue::as_bool)?.unwrap_or(false),
        banner: opt(v, "banner", |b| {
            Some(Banner {
                text: field(b, "text")?.as_string()?,
                severity: opt(b, "severity", JsValue::as_string)?.unwrap_or_else(|| "info".into()),
                expires_at: opt(b, "expires_at", |x| int(x, -(1 << 53), 1 << 53))?,
            })
        })?,
        texts: list(v, "texts", |t| {
            Some(LocalText {
                role: role(&field(t, "role")?)?,
                locale: opt(t, "locale", JsValue::as_string)?.unwrap_or_default(),
                text: field(t, "text")?.as_string()?,
            })
        })?,
        stall_ms: list(v, "stall_ms", |t| {
            Some(RoleMs {
                role: role(&field(t, "role")?)?,
                ms: u32::try_from(int(&field(t, "ms")?, 0, u32::MAX.into())?).ok()?,
            })
        })?,
        survey: opt(v, "survey", JsValue::as_bool)?,
        sample_rate: opt(v, "sample_rate", JsValue::as_f64)?,
        event_cap: opt(v, "event_cap", |x| {
            u32::try_from(int(x, 0, u32::MAX.into())?).ok()
        })?,
        position: opt(v, "position", JsValue::as_string)?,
        max_age_s: opt(v, "max_age_s", |x| {
            u32::try_from(int(x, 0, u32::MAX.into())?).ok()
        })?,
    };
    Some(c)
}

/// Property `key` of the object `v`; `None` if `v` is not an object.
fn field(v: &JsValue, key: &str) -> Option<JsValue> {
    if !v.is_object() {
        return None;
    }
    js_sys::Reflect::get(v, &JsValue::from_str(key)).ok()
}

/// An optional property: `Some(None)` when absent or `null`, `None` when
/// present but not readable by `read` (the config is then refused).
fn opt<T>(v: &JsValue, key: &str, read: impl FnOnce(&JsValue) -> Option<T>) -> Option<Option<T>> {
    let x = field(v, key)?;
    if x.is_undefined() || x.is_null() {
        return Some(None);
    }
    read(&x).map(Some)
}

/// An array property of items read by `item` (absent: empty).
fn list<T>(v: &JsValue, key: &str, item: impl Fn(&JsValue) -> Option<T>) -> Option<Vec<T>> {
    let x = field(v, key)?;
    if x.is_undefined() {
        return Some(Vec::new());
    }
    if !js_sys::Array::is_array(&x) {
        return None;
    }
    js_sys::Array::from(&x).iter().map(|i| item(&i)).collect()
}

/// A whole number in `lo..=hi`.
fn int(x: &JsValue, lo: i64, hi: i64) -> Option<i64> {
    let n = x.as_f64()?;
    (n.fract() == 0.0 && n >= lo as f64 && n <= hi as f64).then_some(n as i64)
}

fn role(x: &JsValue) -> Option<Role> {
    Role::parse(&x.as_string()?)
}

/// The config cached by an earlier page of this site, if any.
pub(super) fn cached(site: &str) -> Option<SiteConfig> {
    parse(&local_storage()?.get_item(&storage_key(site)).ok()??)
}

/// The shopper's preferred languages, most preferred first.
pub(super) fn languages() -> Vec<String> {
    let Some(nav) = web_sys::window().map(|w| w.navigator()) else {
        return Vec::new();
    };
    let list: Vec<String> = nav
        .languages()
        .iter()
        .filter_map(|l| l.as_string())
        .collect();
    if list.is_empty() {
        nav.language().into_iter().collect()
    } else {
        list
    }
}

thread_local! {
    /// Where the config comes from: the original fetch, the config URL and
    /// the site key (for the next poll and the localStorage copy).
    static SOURCE: std::cell::RefCell<Option<(js_sys::Function, String, String)>> =
        const { std::cell::RefCell::new(None) };
}

/// Fetch the config once, in the background (`send` in `js/shim.js`:
/// revalidated with the server every time, the ETag making it a cheap
/// 304); [`on_config`] gets the answer.
pub(super) fn refresh(fetch: js_sys::Function, url: String, site: String) {
    super::transport::send(&super::runtime::dispatcher(), &fetch, &url, None, 0);
    SOURCE.with(|s| *s.borrow_mut() = Some((fetch, url, site)));
}

/// The config request answered: `text` is the body of a 2xx answer (a 304
/// from revalidation arrives as the cached 200), `None` for anything
/// else. Store it; then, if the runtime is alive, apply it and schedule
/// the next poll.
pub(super) fn on_config(text: Option<String>) {
    let Some((fetch, url, site)) = SOURCE.with(|s| s.borrow().clone()) else {
        return;
    };
    if let Some(text) = &text {
        if let Some(s) = local_storage() {
            let _ = s.set_item(&storage_key(&site), text);
        }
    }
    let config = text.as_deref().and_then(parse);
    let killed = with_runtime(|rt| {
        let killed = config.as_ref().is_some_and(|c| rt.apply_remote(c));
        if !killed {
            let secs = rt.remote_max_age().unwrap_or(DEFAULT_MAX_AGE_S);
            rt.poll = Some(Timeout::new(secs * 1000, move || refresh(fetch, url, site)));
        }
        killed
    });
    if killed == Some(true) {
        kill_runtime();
    }
}
