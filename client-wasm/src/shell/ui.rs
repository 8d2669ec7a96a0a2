//! Fallback messages in a Shadow DOM root: the page's CSS cannot reach them
//! and ours cannot leak. Styles come from a constructable stylesheet
//! (`adoptedStyleSheets`), so a strict CSP without `'unsafe-inline'` is fine.
//! Text goes in through `textContent` only.
//!
//! The host is shown as a manual popover (top layer) where supported, so no
//! page overlay, however large its `z-index`, can cover it and page rules
//! like `* { display: none !important }` lose to our `:host` rules. Opening a
//! manual popover never moves focus. Escape or the OK button dismisses.
//! While the exit survey (a modal dialog, also top layer) is open, a
//! message shown goes beneath it: the survey answers the popover's `toggle`
//! by showing itself again (see [`super::survey`]), so the message is never
//! above the modal yet outside its focus trap.

use steadycart_protocol::Role;
use wasm_bindgen::{prelude::*, JsCast};

use super::runtime::with_runtime;
use crate::config::idx;

const CSS: &str = ":host{all:initial!important;display:block!important;position:fixed!important;inset:0 0 auto 0!important;margin:0!important;padding:0!important;border:0!important;background:transparent!important;width:auto!important;height:auto!important;overflow:visible!important;z-index:2147483647!important;pointer-events:none!important;visibility:visible!important;opacity:1!important;transform:none!important;clip-path:none!important;filter:none!important}
:host([data-position=toast]){inset:auto 0 0 auto!important}
:host([data-position=toast]) .stack{align-items:flex-end}
.stack{display:flex;flex-direction:column;align-items:center;gap:8px;padding:8px;font:15px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif}
.notice{pointer-events:auto;display:flex!important;visibility:visible!important;align-items:center;gap:12px;max-width:40rem;padding:10px 14px;border-radius:8px;background:var(--steadycart-bg,#fffbe6);color:var(--steadycart-fg,#3d3200);border:1px solid var(--steadycart-border,#d9b600);box-shadow:0 2px 10px rgba(0,0,0,.15)}
.notice button{font:inherit;color:inherit;background:transparent;border:1px solid currentColor;border-radius:6px;padding:2px 10px;cursor:pointer}
.notice button:focus-visible{outline:2px solid currentColor;outline-offset:2px}
.notice[data-severity=critical]{background:var(--steadycart-critical-bg,#fdecea);color:var(--steadycart-critical-fg,#5f1410);border-color:var(--steadycart-critical-border,#d93025)}
.notice[data-severity=info]{background:var(--steadycart-info-bg,#e8f0fe);color:var(--steadycart-info-fg,#0b2a5b);border-color:var(--steadycart-info-border,#4a78c2)}
@media (prefers-color-scheme:dark){.notice{background:var(--steadycart-bg-dark,#2b2600);color:var(--steadycart-fg-dark,#fff3b0)}.notice[data-severity=critical]{background:var(--steadycart-critical-bg-dark,#3b0f0c);color:var(--steadycart-critical-fg-dark,#ffd7d2)}.notice[data-severity=info]{background:var(--steadycart-info-bg-dark,#0e213f);color:var(--steadycart-info-fg-dark,#d6e4ff)}}
@media (prefers-reduced-motion:no-preference){.notice{animation:sc-in .2s ease-out}}
@keyframes sc-in{from{opacity:0;transform:translateY(-6px)}}";

/// Which notice: a role's fallback message or the site-wide banner.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Slot {
    /// A role's fallback message.
    Role(Role),
    /// The site-wide banner from the remote config.
    Banner,
}

impl Slot {
    fn index(self) -> usize {
        match self {
            Slot::Role(r) => idx(r),
            Slot::Banner => 4,
        }
    }
}

struct Notice {
    element: web_sys::Element,
    text: String,
    /// Kept alive while the notice is shown; dropped with it.
    _listeners: [Closure<dyn FnMut(web_sys::Event)>; 2],
}

/// The message host and the notices in it.
pub(super) struct Ui {
    host: web_sys::Element,
    stack: web_sys::Element,
    notices: [Option<Notice>; 5],
    /// The document-level sheet putting back a hidden `<html>`/`<body>`
    /// ([`unhide_ancestors`]), removed with the host.
    doc_sheet: Option<web_sys::CssStyleSheet>,
}

impl Ui {
    /// Create the host element and its shadow root.
    pub(super) fn new(toast: bool) -> Result<Ui, JsValue> {
        let doc = document()?;
        let host = doc.create_element("steadycart-messages")?;
        let shadow = shadow_with_css(&host, CSS)?;
        let stack = node(&doc, &shadow, "div", &[("class", "stack")], None)?;
        let parent: web_sys::Node = match doc.body() {
            Some(b) => b.into(),
            None => doc.document_element().ok_or("no root element")?.into(),
        };
        parent.append_child(&host)?;
        let ui = Ui {
            host,
            stack,
            notices: Default::default(),
            doc_sheet: None,
        };
        ui.set_toast(toast);
        Ok(ui)
    }

    /// Top bar (default) or toast in the bottom corner.
    pub(super) fn set_toast(&self, toast: bool) {
        let _ = self
            .host
            .set_attribute("data-position", if toast { "toast" } else { "top" });
    }

    /// Put the host in the top layer (manual popover: no focus change, no
    /// light dismiss) when the browser supports it; re-done after each show
    /// so it stays above popovers the page opened since.
    fn raise(&mut self) {
        unhide_ancestors(&mut self.doc_sheet);
        let f = js_sys::Reflect::get(&self.host, &"showPopover".into()).ok();
        let Some(f) = f.and_then(|f| f.dyn_into::<js_sys::Function>().ok()) else {
            return;
        };
        let hide = js_sys::Reflect::get(&self.host, &"hidePopover".into()).ok();
        if self.host.has_attribute("popover") {
            if let Some(h) = hide.and_then(|h| h.dyn_into::<js_sys::Function>().ok()) {
                let _ = h.call0(&self.host);
            }
        } else {
            let _ = self.host.set_attribute("popover", "manual");
        }
        let _ = f.call0(&self.host);
    }

    /// Show `text` in `slot` (replacing what was there). Urgent notices are
    /// announced assertively (`role=alert`), the rest politely (`role=status`).
    pub(super) fn show(
        &mut self,
        slot: Slot,
        text: &str,
        urgent: bool,
        severity: &str,
    ) -> Result<(), JsValue> {
        if self.notices[slot.index()]
            .as_ref()
            .is_some_and(|n| n.text == text)
        {
            return Ok(());
        }
        self.hide(slot);
        let doc = document()?;
        let role = match slot {
            Slot::Role(r) => r.as_str(),
            Slot::Banner => "banner",
        };
        let notice = node(
            &doc,
            &self.stack,
            "div",
            &[
                ("class", "notice"),
                ("role", if urgent { "alert" } else { "status" }),
                ("aria-live", if urgent { "assertive" } else { "polite" }),
                ("aria-atomic", "true"),
                ("data-severity", severity),
                ("data-role", role),
            ],
            None,
        )?;
        node(&doc, &notice, "span", &[], Some(text))?;
        // The name starts with the visible text (WCAG 2.5.3 label in name:
        // speech users say what they see; axe checks it).
        let button = node(
            &doc,
            &notice,
            "button",
            &[
                ("type", "button"),
                ("aria-label", "OK, dismiss this message"),
            ],
            Some("OK"),
        )?;
        let on_click = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            with_runtime(|rt| rt.dismiss(slot));
        });
        let on_key = Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
            let key = e.dyn_ref::<web_sys::KeyboardEvent>().map(|k| k.key());
            if key.as_deref() == Some("Escape") {
                with_runtime(|rt| rt.dismiss(slot));
            }
        });
        let listening = button
            .add_event_listener_with_callback("click", on_click.as_ref().unchecked_ref())
            .and_then(|()| {
                notice.add_event_listener_with_callback("keydown", on_key.as_ref().unchecked_ref())
            });
        if let Err(e) = listening {
            notice.remove();
            return Err(e);
        }
        self.notices[slot.index()] = Some(Notice {
            element: notice,
            text: text.to_string(),
            _listeners: [on_click, on_key],
        });
        self.raise();
        Ok(())
    }

    /// Hide the slot's notice; false if none was shown.
    pub(super) fn hide(&mut self, slot: Slot) -> bool {
        match self.notices[slot.index()].take() {
            Some(n) => {
                n.element.remove();
                true
            }
            None => false,
        }
    }

    /// Remove the host from the page (kill switch).
    pub(super) fn remove(self) {
        self.host.remove();
        drop_doc_sheet(self.doc_sheet);
    }
}

/// Create `<tag>` with `attrs` and `text`, appended to `parent`: the one
/// place the messages' and the survey's DOM is built (one call per element, not a dozen
/// inlined web-sys calls each).
#[inline(never)]
pub(super) fn node(
    doc: &web_sys::Document,
    parent: &web_sys::Node,
    tag: &str,
    attrs: &[(&str, &str)],
    text: Option<&str>,
) -> Result<web_sys::Element, JsValue> {
    let e = doc.create_element(tag)?;
    for (name, value) in attrs {
        e.set_attribute(name, value)?;
    }
    if text.is_some() {
        e.set_text_content(text);
    }
    parent.append_child(&e)?;
    Ok(e)
}

/// Attach an open shadow root to `host`, styled by `css` in a
/// constructable stylesheet (CSP-safe: no inline style element).
pub(super) fn shadow_with_css(
    host: &web_sys::Element,
    css: &str,
) -> Result<web_sys::ShadowRoot, JsValue> {
    let shadow =
        host.attach_shadow(&web_sys::ShadowRootInit::new(web_sys::ShadowRootMode::Open))?;
    let sheet = web_sys::CssStyleSheet::new()?;
    sheet.replace_sync(css)?;
    js_sys::Reflect::set(
        &shadow,
        &"adoptedStyleSheets".into(),
        &js_sys::Array::of1(&sheet),
    )?;
    Ok(shadow)
}

/// A page that hides its whole document (`* { display: none !important }`)
/// would hide our hosts with it: even an element in the top layer is not
/// rendered under a `display: none` ancestor. Only then, and only for
/// `<html>`/`<body>` that compute to `display: none`, a document-level
/// constructable sheet puts them back to their default `display: block`;
/// their other children stay as the page styled them. `sheet` holds the
/// caller's sheet (at most one per caller: once added, nothing computes to
/// `none` any more).
pub(super) fn unhide_ancestors(sheet: &mut Option<web_sys::CssStyleSheet>) {
    if sheet.is_some() {
        return;
    }
    let (Some(win), Ok(doc)) = (web_sys::window(), document()) else {
        return;
    };
    let hidden = |el: Option<web_sys::Element>| {
        el.and_then(|e| win.get_computed_style(&e).ok().flatten())
            .and_then(|s| s.get_property_value("display").ok())
            .is_some_and(|d| d == "none")
    };
    let mut rules = String::new();
    if hidden(doc.document_element()) {
        rules.push_str(":root{display:block!important}");
    }
    if hidden(doc.body().map(Into::into)) {
        rules.push_str(":root>body{display:block!important}");
    }
    if rules.is_empty() {
        return;
    }
    let Ok(new) = web_sys::CssStyleSheet::new() else {
        return;
    };
    if new.replace_sync(&rules).is_err() {
        return;
    }
    let key = JsValue::from_str("adoptedStyleSheets");
    if let Ok(list) = js_sys::Reflect::get(&doc, &key) {
        let list: js_sys::Array = js_sys::Array::from(&list);
        list.push(&new);
        let _ = js_sys::Reflect::set(&doc, &key, &list);
    }
    *sheet = Some(new);
}

/// Take a sheet added by [`unhide_ancestors`] off the document again.
pub(super) fn drop_doc_sheet(sheet: Option<web_sys::CssStyleSheet>) {
    if let (Some(sheet), Ok(doc)) = (sheet, document()) {
        let key = JsValue::from_str("adoptedStyleSheets");
        if let Ok(list) = js_sys::Reflect::get(&doc, &key) {
            // A loop, not `Array.filter`: a callback from JS would bring
            // its own closure shims into the wasm.
            let sheet = JsValue::from(sheet);
            let kept = js_sys::Array::new();
            for s in js_sys::Array::from(&list).iter() {
                if s != sheet {
                    kept.push(&s);
                }
            }
            let _ = js_sys::Reflect::set(&doc, &key, &kept);
        }
    }
}

fn document() -> Result<web_sys::Document, JsValue> {
    web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| "no document".into())
}
