//! Fallback messages in a Shadow DOM root: the page's CSS cannot reach them
//! and ours cannot leak. Styles come from a constructable stylesheet
//! (`adoptedStyleSheets`), so a strict CSP without `'unsafe-inline'` is fine.
//! Text goes in through `textContent` only.

use steadycart_protocol::Role;
use wasm_bindgen::{prelude::*, JsCast};

use super::runtime::with_runtime;
use crate::config::idx;

const CSS: &str = ":host{all:initial!important;display:block!important;position:fixed!important;top:0!important;left:0!important;right:0!important;z-index:2147483647!important;pointer-events:none!important;visibility:visible!important;opacity:1!important;transform:none!important}
.stack{display:flex;flex-direction:column;align-items:center;gap:8px;padding:8px;font:15px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif}
.notice{pointer-events:auto;display:flex;align-items:center;gap:12px;max-width:40rem;padding:10px 14px;border-radius:8px;background:var(--steadycart-bg,#fffbe6);color:var(--steadycart-fg,#3d3200);border:1px solid var(--steadycart-border,#d9b600);box-shadow:0 2px 10px rgba(0,0,0,.15)}
.notice button{font:inherit;color:inherit;background:transparent;border:1px solid currentColor;border-radius:6px;padding:2px 10px;cursor:pointer}
.notice button:focus-visible{outline:2px solid currentColor;outline-offset:2px}
@media (prefers-color-scheme:dark){.notice{background:var(--steadycart-bg-dark,#2b2600);color:var(--steadycart-fg-dark,#fff3b0)}}
@media (prefers-reduced-motion:no-preference){.notice{animation:sc-in .2s ease-out}}
@keyframes sc-in{from{opacity:0;transform:translateY(-6px)}}";

struct Notice {
    element: web_sys::Element,
    /// Kept alive while the notice is shown; dropped with it.
    _on_dismiss: Closure<dyn FnMut()>,
}

/// The message host and the notices in it.
pub(super) struct Ui {
    stack: web_sys::Element,
    notices: [Option<Notice>; 4],
}

impl Ui {
    /// Create the host element and its shadow root.
    pub(super) fn new() -> Result<Ui, JsValue> {
        let doc = web_sys::window()
            .and_then(|w| w.document())
            .ok_or("no document")?;
        let host = doc.create_element("steadycart-messages")?;
        let shadow =
            host.attach_shadow(&web_sys::ShadowRootInit::new(web_sys::ShadowRootMode::Open))?;
        let sheet = web_sys::CssStyleSheet::new()?;
        sheet.replace_sync(CSS)?;
        js_sys::Reflect::set(
            &shadow,
            &"adoptedStyleSheets".into(),
            &js_sys::Array::of1(&sheet),
        )?;
        let stack = doc.create_element("div")?;
        stack.set_class_name("stack");
        shadow.append_child(&stack)?;
        let parent: web_sys::Node = match doc.body() {
            Some(b) => b.into(),
            None => doc.document_element().ok_or("no root element")?.into(),
        };
        parent.append_child(&host)?;
        Ok(Ui {
            stack,
            notices: Default::default(),
        })
    }

    /// Show `text` for `role`. Checkout and payment trouble is announced
    /// assertively (`role=alert`), the rest politely (`role=status`).
    pub(super) fn show(&mut self, role: Role, text: &str, urgent: bool) -> Result<(), JsValue> {
        let doc = web_sys::window()
            .and_then(|w| w.document())
            .ok_or("no document")?;
        let notice = doc.create_element("div")?;
        notice.set_class_name("notice");
        notice.set_attribute("role", if urgent { "alert" } else { "status" })?;
        notice.set_attribute("aria-live", if urgent { "assertive" } else { "polite" })?;
        notice.set_attribute("data-role", role.as_str())?;
        let message = doc.create_element("span")?;
        message.set_text_content(Some(text));
        let button = doc.create_element("button")?;
        button.set_attribute("type", "button")?;
        button.set_attribute("aria-label", "Dismiss this message")?;
        button.set_text_content(Some("OK"));
        let on_dismiss = Closure::<dyn FnMut()>::new(move || {
            with_runtime(|rt| rt.dismiss(role));
        });
        button.add_event_listener_with_callback("click", on_dismiss.as_ref().unchecked_ref())?;
        notice.append_child(&message)?;
        notice.append_child(&button)?;
        self.stack.append_child(&notice)?;
        self.notices[idx(role)] = Some(Notice {
            element: notice,
            _on_dismiss: on_dismiss,
        });
        Ok(())
    }

    /// Hide the role's notice; false if none was shown.
    pub(super) fn hide(&mut self, role: Role) -> bool {
        match self.notices[idx(role)].take() {
            Some(n) => {
                n.element.remove();
                true
            }
            None => false,
        }
    }
}
