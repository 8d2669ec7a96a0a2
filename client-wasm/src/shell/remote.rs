//! Remote config in the browser: read the cached copy from localStorage at
//! start, fetch `GET /v1/config?site=KEY` in the background (never blocking
//! the page; the browser revalidates with the ETag), store it, hand it to the
//! runtime, and ask again every `max_age_s` while the page is open. Any
//! failure keeps the cached (or the tag's embedded) config.

use gloo_timers::callback::Timeout;
use steadycart_protocol::remote::{SiteConfig, DEFAULT_MAX_AGE_S};
use wasm_bindgen::{prelude::*, JsCast};
use wasm_bindgen_futures::JsFuture;

use super::runtime::{kill_runtime, with_runtime};

fn storage_key(site: &str) -> String {
    format!("steadycart.config.{site}")
}

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

fn parse(text: &str) -> Option<SiteConfig> {
    let value = js_sys::JSON::parse(text).ok()?;
    serde_wasm_bindgen::from_value(value).ok()
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

/// Fetch the config once (in the background) and store it; then, if the
/// runtime is alive, apply it and schedule the next poll.
pub(super) fn refresh(fetch: js_sys::Function, url: String, site: String) {
    wasm_bindgen_futures::spawn_local(async move {
        let fetched = get(&fetch, &url).await.ok().flatten();
        if let Some(text) = &fetched {
            if let Some(s) = local_storage() {
                let _ = s.set_item(&storage_key(&site), text);
            }
        }
        let config = fetched.as_deref().and_then(parse);
        let killed = with_runtime(|rt| {
            let killed = config.as_ref().is_some_and(|c| rt.apply_remote(c));
            if !killed {
                let secs = rt.remote_max_age().unwrap_or(DEFAULT_MAX_AGE_S);
                let (fetch, url, site) = (fetch.clone(), url.clone(), site.clone());
                rt.poll = Some(Timeout::new(secs * 1000, move || refresh(fetch, url, site)));
            }
            killed
        });
        if killed == Some(true) {
            kill_runtime();
        }
    });
}

/// The body of a 2xx answer (a 304 from revalidation arrives as the cached
/// 200), `None` for anything else.
async fn get(fetch: &js_sys::Function, url: &str) -> Result<Option<String>, JsValue> {
    let init = web_sys::RequestInit::new();
    init.set_method("GET");
    init.set_credentials(web_sys::RequestCredentials::Omit);
    init.set_mode(web_sys::RequestMode::Cors);
    // Revalidate with the server every time (ETag makes it a cheap 304).
    js_sys::Reflect::set(&init, &"cache".into(), &"no-cache".into())?;
    let window: JsValue = web_sys::window().ok_or("no window")?.into();
    let promise: js_sys::Promise = fetch
        .call2(&window, &JsValue::from_str(url), &init)?
        .dyn_into()?;
    let response: web_sys::Response = JsFuture::from(promise).await?.dyn_into()?;
    if !response.ok() {
        return Ok(None);
    }
    Ok(JsFuture::from(response.text()?).await?.as_string())
}
