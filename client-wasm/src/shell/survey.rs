//! The exit survey in the page: feeds browser events to
//! [`crate::exit_intent`], asks [`crate::survey_policy`] whether to show,
//! and renders the modal dialog from [`crate::survey_form`] texts.
//!
//! The dialog is a `<dialog>` in its own Shadow DOM host
//! (`<steadycart-survey>`, position fixed: no layout shift), styled by a
//! constructable stylesheet (CSP-safe), text set through `textContent`
//! only. It opens with `showModal()`: it is in the browser's top layer, so
//! no page overlay or `z-index` covers it, the rest of the page is inert
//! and dimmed by its `::backdrop`. Page CSS hiding everything (`* {
//! display: none !important }`) loses to our `:host` rules and to
//! [`super::ui::unhide_ancestors`]. It is labelled by its title, traps Tab
//! and Shift+Tab (the browser alone would also visit its own address bar),
//! closes on the browser's close request (Escape, Android back: the
//! dialog's `cancel`/`close` events), its close button and a click on the
//! backdrop, and gives focus back to the element that had it. It never
//! locks page scrolling, so no lock can leak. On narrow screens it is a
//! bottom sheet.
//!
//! What the top layer orders by time of showing, it stays on top of:
//! - a page popover opened while the survey is up would cover it (visible,
//!   though inert): on its `toggle` the survey shows itself again, above
//!   it (a few times per survey at most, against pages that fight back).
//!   Opening the survey closes the page's auto popovers, as any modal does;
//! - our own fallback messages (a manual popover) likewise: a message that
//!   appears while the survey is open stays under the backdrop, dimmed and
//!   inert like the rest of the page, and is usable once the survey closes
//!   — never above the modal and outside its focus trap;
//! - a page's own modal `<dialog>` opened meanwhile keeps the top (the
//!   page's modal comes first); none open is a condition for showing.

use gloo_timers::callback::Timeout;
use steadycart_protocol::{EventBody, Outcome, Role};
use wasm_bindgen::{prelude::*, JsCast};

use super::{page, runtime::with_runtime, runtime::Runtime, ui::node};
use crate::{
    exit_intent::{ExitIntent, PointerOut, Trigger},
    survey_form::{build_answer, FormError, FormInput, Lang, Texts},
    survey_policy::{self, Situation, TroubleLog},
};

const TROUBLE_KEY: &str = "steadycart.trouble";
const SHOWN_KEY: &str = "steadycart.survey";
const COOLDOWN_KEY: &str = "steadycart.survey.until";

const CSS: &str = ":host{all:initial!important;position:fixed!important;display:block!important}
dialog{box-sizing:border-box;width:calc(100% - 2rem);max-width:28rem;max-height:none;padding:0;border:0;overflow:hidden;border-radius:12px;background:var(--steadycart-survey-bg,#fff);color:var(--steadycart-survey-fg,#1a1a1a);box-shadow:0 8px 30px rgba(0,0,0,.3);font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif}
dialog::backdrop{background:rgba(0,0,0,.45)}
.in{position:relative;box-sizing:border-box;max-height:90vh;overflow:auto;padding:20px;overscroll-behavior:contain}
h2{margin:0 2rem 12px 0;font-size:1.2em}
fieldset{border:0;margin:0 0 12px;padding:0}
legend{font-weight:600;margin-bottom:6px;padding:0}
label{display:block;margin:4px 0}
.row{display:flex;gap:12px;flex-wrap:wrap}
textarea,input[type=email]{box-sizing:border-box;width:100%;font:inherit;padding:6px 8px;border:1px solid #888;border-radius:6px;background:#fff;color:#1a1a1a}
textarea{min-height:4.5em;resize:vertical}
.x{position:absolute;top:10px;right:10px;width:32px;height:32px;font:20px/1 sans-serif;border:0;border-radius:6px;background:transparent;color:inherit;cursor:pointer}
.send{margin-top:12px;font:inherit;font-weight:600;padding:8px 18px;border:0;border-radius:8px;background:var(--steadycart-survey-accent,#1f5fbf);color:#fff;cursor:pointer}
.err{color:#b00020;margin:4px 0}
button:focus-visible,input:focus-visible,textarea:focus-visible{outline:3px solid #1f5fbf;outline-offset:2px}
@media (max-width:600px){dialog{width:100%;max-width:none;margin:auto 0 0;border-radius:14px 14px 0 0}.in{max-height:85vh}}
@media (prefers-color-scheme:dark){dialog{background:var(--steadycart-survey-bg-dark,#222);color:var(--steadycart-survey-fg-dark,#eee)}}";

/// Most times one survey shows itself again above popovers opened after it.
const MAX_RAISES: u8 = 8;

/// The open dialog.
struct Modal {
    host: web_sys::Element,
    shadow: web_sys::ShadowRoot,
    dialog: web_sys::Element,
    trigger: Trigger,
    return_focus: Option<web_sys::HtmlElement>,
    answered: bool,
    /// Times shown again above a popover opened after it.
    raises: u8,
    _close_timer: Option<Timeout>,
}

/// The page's exit-survey state, owned by the runtime.
pub(super) struct ExitSurvey {
    intent: ExitIntent,
    trouble: TroubleLog,
    modal: Option<Modal>,
    idle: Option<Timeout>,
    last_key: f64,
    touch: bool,
    /// The one listener of every dialog's events (page-lifetime, created
    /// with the first dialog): a closed dialog's late events, such as the
    /// `close` queued when the survey shows itself again, never reach a
    /// dropped closure.
    on_event: Option<js_sys::Function>,
    /// The document-level sheet putting back a page-hidden `<html>`/`<body>`.
    doc_sheet: Option<web_sys::CssStyleSheet>,
}

impl ExitSurvey {
    pub(super) fn new(config: &crate::config::Config) -> ExitSurvey {
        let trouble = page::session_storage()
            .and_then(|s| s.get_item(TROUBLE_KEY).ok().flatten())
            .map(|s| TroubleLog::parse(&s))
            .unwrap_or_default();
        let mut intent = ExitIntent::new(config.survey.intent, page::now());
        if trouble.any() {
            intent.trouble(page::now());
        }
        let touch = web_sys::window()
            .and_then(|w| w.match_media("(pointer: coarse)").ok().flatten())
            .is_some_and(|m| m.matches());
        ExitSurvey {
            intent,
            trouble,
            modal: None,
            idle: None,
            last_key: 0.0,
            touch,
            on_event: None,
            doc_sheet: None,
        }
    }
}

impl ExitSurvey {
    /// Kill switch: take an open survey off the page (no event: the
    /// snippet is going away), giving focus back to where it was.
    pub(super) fn remove(&mut self) {
        if let Some(m) = self.modal.take() {
            m.host.remove();
            if let Some(f) = &m.return_focus {
                let _ = f.focus();
            }
            // Its close timer may be running right now: drop it after this turn.
            Timeout::new(0, move || drop(m)).forget();
        }
        self.idle = None;
        super::ui::drop_doc_sheet(self.doc_sheet.take());
    }
}

fn storage_get(local: bool, key: &str) -> Option<String> {
    let w = web_sys::window()?;
    let s = if local {
        w.local_storage().ok().flatten()?
    } else {
        w.session_storage().ok().flatten()?
    };
    s.get_item(key).ok().flatten()
}

fn storage_set(local: bool, key: &str, value: &str) {
    if let Some(w) = web_sys::window() {
        let s = if local {
            w.local_storage().ok().flatten()
        } else {
            w.session_storage().ok().flatten()
        };
        if let Some(s) = s {
            let _ = s.set_item(key, value);
        }
    }
}

fn get(target: &JsValue, prop: &str) -> JsValue {
    js_sys::Reflect::get(target, &prop.into()).unwrap_or(JsValue::UNDEFINED)
}

/// Call `target.method()` (`showModal`, `close`: no web-sys binding needed).
fn call(target: &JsValue, method: &str) -> Result<JsValue, JsValue> {
    get(target, method)
        .dyn_into::<js_sys::Function>()?
        .call0(target)
}

/// `" text"`: the space between a box and its label (without `format!`).
fn spaced(text: &str) -> String {
    let mut s = String::with_capacity(text.len() + 1);
    s.push(' ');
    s.push_str(text);
    s
}

/// A fieldset of radio buttons `name` (`(value, label)` each) under `legend`.
fn radios(
    doc: &web_sys::Document,
    form: &web_sys::Node,
    legend: &str,
    name: &str,
    options: &[(String, String)],
) -> Result<(), JsValue> {
    let set = node(doc, form, "fieldset", &[], None)?;
    node(doc, &set, "legend", &[], Some(legend))?;
    let class: &[(&str, &str)] = if name == "rating" {
        &[("class", "row")]
    } else {
        &[]
    };
    let row = node(doc, &set, "div", class, None)?;
    for (value, label) in options {
        let l = node(doc, &row, "label", &[], None)?;
        node(
            doc,
            &l,
            "input",
            &[("type", "radio"), ("name", name), ("value", value)],
            None,
        )?;
        l.append_with_str_1(&spaced(label))?;
    }
    Ok(())
}

/// Install the page listeners that feed exit intent. Page-lifetime.
pub(super) fn install(window: &web_sys::Window) {
    let Some(doc) = window.document() else {
        return;
    };
    page::listen_forever(&doc, "mouseout", |e| {
        let now = page::now();
        let form_busy = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.active_element())
            .is_some_and(|el| match el.tag_name().as_str() {
                "SELECT" => true,
                "INPUT" | "TEXTAREA" => {
                    with_runtime(|rt| now - rt.exit.last_key < 1500.0).unwrap_or(false)
                }
                _ => false,
            });
        let p = PointerOut {
            y: get(&e, "clientY").as_f64().unwrap_or(f64::MAX),
            left_document: get(&e, "relatedTarget").is_null(),
            selecting: get(&e, "buttons").as_f64().unwrap_or(0.0) != 0.0,
            form_busy,
        };
        with_runtime(|rt| {
            if let Some(t) = rt.exit.intent.pointer_out(now, p) {
                rt.exit_intent(t);
            }
        });
    });
    let win = window.clone();
    page::listen_forever(window, "scroll", move |_| {
        let y = win.scroll_y().unwrap_or(0.0);
        with_runtime(|rt| {
            let now = page::now();
            if !rt.exit.touch {
                rt.exit.intent.activity(now);
            } else if let Some(t) = rt.exit.intent.scroll(now, y) {
                rt.exit_intent(t);
            }
        });
    });
    for kind in ["keydown", "pointerdown", "input"] {
        page::listen_forever(&doc, kind, |_| {
            with_runtime(|rt| {
                let now = page::now();
                rt.exit.last_key = now;
                rt.exit.intent.activity(now);
            });
        });
    }
    page::listen_forever(window, "popstate", |e| {
        // Our guard entry carries {steadycart: 1}; arriving anywhere else
        // by a pop means the guard was left: that back was the intent.
        let ours = get(&get(&e, "state"), "steadycart").is_truthy();
        if !ours {
            with_runtime(|rt| {
                if let Some(t) = rt.exit.intent.back() {
                    rt.exit_intent(t);
                }
            });
        }
    });
    // `toggle` does not bubble: listen in the capture phase.
    let raise = Closure::<dyn FnMut(web_sys::Event)>::new(|e: web_sys::Event| {
        with_runtime(|rt| rt.survey_over_popover(&e));
    });
    if doc
        .add_event_listener_with_callback_and_bool("toggle", raise.as_ref().unchecked_ref(), true)
        .is_ok()
    {
        raise.forget(); // page-lifetime
    }
    let d = doc.clone();
    page::listen_forever(&doc, "visibilitychange", move |_| {
        let hidden = d.visibility_state() == web_sys::VisibilityState::Hidden;
        with_runtime(|rt| {
            let now = page::now();
            if hidden {
                rt.exit.intent.hidden(now);
            } else if let Some(t) = rt.exit.intent.visible(now) {
                rt.exit_intent(t);
            }
        });
    });
}

impl Runtime {
    fn situation(&self) -> Situation {
        Situation {
            mode: self.config.survey.mode,
            remote_enabled: self.survey_enabled,
            had_trouble: self.exit.trouble.any(),
            checkout_completed: self.funnel.completed(),
            shown_this_session: storage_get(false, SHOWN_KEY).is_some(),
            cooldown_until: storage_get(true, COOLDOWN_KEY)
                .and_then(|s| survey_policy::parse_cooldown(&s)),
            now: page::now(),
            modal_open: self.exit.modal.is_some(),
            native_dialog_open: web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| d.query_selector("dialog[open]").ok().flatten())
                .is_some(),
        }
    }

    /// A watched call ended or stalled: keep the trouble context, arm the
    /// back guard (touch) and the idle check.
    pub(super) fn survey_on_call(
        &mut self,
        role: Role,
        outcome: Outcome,
        method: &str,
        url: &str,
        status: Option<u16>,
    ) {
        let path = crate::rules::split_url(url).map_or(url, |u| u.path);
        if !self
            .exit
            .trouble
            .on_call(role, outcome, method, path, status)
        {
            return;
        }
        storage_set(false, TROUBLE_KEY, &self.exit.trouble.to_stored());
        let now = page::now();
        self.exit.intent.trouble(now);
        if self.exit.touch
            && survey_policy::decide(&self.situation()).is_ok()
            && self.exit.intent.arm_guard()
        {
            if let Some(h) = web_sys::window().and_then(|w| w.history().ok()) {
                let state = js_sys::Object::new();
                let _ = js_sys::Reflect::set(&state, &"steadycart".into(), &1.into());
                let _ = h.push_state(&state, "");
            }
        }
        self.schedule_idle();
    }

    fn schedule_idle(&mut self) {
        self.exit.idle = self.exit.intent.idle_due_in(page::now()).map(|ms| {
            Timeout::new(ms.ceil() as u32 + 1, || {
                with_runtime(|rt| match rt.exit.intent.tick(page::now()) {
                    Some(t) => rt.exit_intent(t),
                    None => rt.schedule_idle(),
                });
            })
        });
    }

    /// An exit intent fired: show the survey if the policy allows.
    pub(super) fn exit_intent(&mut self, trigger: Trigger) {
        if self.paused || survey_policy::decide(&self.situation()).is_err() {
            return;
        }
        self.show_survey(trigger);
    }

    /// `Steadycart.showSurvey()`: the shop asks, so trouble, the
    /// once-per-session rule and the cooldown do not apply; a switched-off
    /// survey, a pause or an open dialog still win.
    pub(super) fn show_survey_by_app(&mut self) -> bool {
        use survey_policy::Skip;
        let s = self.situation();
        if self.paused
            || s.modal_open
            || s.native_dialog_open
            || survey_policy::decide(&s) == Err(Skip::Disabled)
        {
            return false;
        }
        self.show_survey(Trigger::Api)
    }

    fn show_survey(&mut self, trigger: Trigger) -> bool {
        match self.open_survey(trigger) {
            Ok(modal) => {
                self.exit.intent.shown();
                storage_set(false, SHOWN_KEY, "1");
                storage_set(
                    true,
                    COOLDOWN_KEY,
                    &survey_policy::cooldown_value(page::now(), self.config.survey.cooldown()),
                );
                self.exit.modal = Some(modal);
                self.record(EventBody::SurveyShown {
                    trigger: trigger.as_str().into(),
                    trouble: self.exit.trouble.context(),
                });
                self.emit_survey("shown", trigger.as_str());
                true
            }
            Err(e) => {
                super::warn(&["cannot show the survey: ", &super::js_error_text(&e)].concat());
                false
            }
        }
    }

    /// `on('survey', cb)`: `{action: "shown" | "answered" | "dismissed",
    /// reason}` (the trigger, or how it was dismissed).
    fn emit_survey(&self, action: &str, reason: &str) {
        self.emit(
            "survey",
            &[
                ("action", JsValue::from_str(action)),
                ("reason", JsValue::from_str(reason)),
            ],
        );
    }

    fn texts(&self) -> Texts {
        let lang = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
            .and_then(|e| e.get_attribute("lang"))
            .unwrap_or_default();
        self.config.survey.texts(Lang::from_tag(&lang))
    }

    fn open_survey(&mut self, trigger: Trigger) -> Result<Modal, JsValue> {
        let texts = self.texts();
        let doc = web_sys::window()
            .and_then(|w| w.document())
            .ok_or("no document")?;
        let return_focus = doc
            .active_element()
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
        let host = doc.create_element("steadycart-survey")?;
        let shadow = super::ui::shadow_with_css(&host, CSS)?;

        // What showModal() implies, spelled out for the selectors shops
        // (and our tests) use to find an open survey. The dialog has no
        // padding: a click whose target is the dialog itself was on its
        // ::backdrop.
        let dialog = node(
            &doc,
            &shadow,
            "dialog",
            &[
                ("role", "dialog"),
                ("aria-modal", "true"),
                ("aria-labelledby", "sc-title"),
            ],
            None,
        )?;
        let inner = node(&doc, &dialog, "div", &[("class", "in")], None)?;
        let close = node(
            &doc,
            &inner,
            "button",
            &[
                ("class", "x"),
                ("type", "button"),
                ("aria-label", &texts.close),
            ],
            Some("×"),
        )?;
        node(
            &doc,
            &inner,
            "h2",
            &[("id", "sc-title")],
            Some(&texts.title),
        )?;
        let form = node(&doc, &inner, "form", &[("novalidate", "")], None)?;
        radios(&doc, &form, &texts.question, "choice", &texts.options)?;
        if let Some(label) = &texts.rating {
            let stars: Vec<(String, String)> = ["1", "2", "3", "4", "5"]
                .iter()
                .map(|i| (i.to_string(), i.to_string()))
                .collect();
            radios(&doc, &form, label, "rating", &stars)?;
        }
        if let Some(label) = &texts.text {
            node(&doc, &form, "label", &[("for", "sc-text")], Some(label))?;
            node(
                &doc,
                &form,
                "textarea",
                &[("id", "sc-text"), ("maxlength", "1000")],
                None,
            )?;
        }
        if let Some(label) = &texts.email {
            node(&doc, &form, "label", &[("for", "sc-email")], Some(label))?;
            node(
                &doc,
                &form,
                "input",
                &[
                    ("id", "sc-email"),
                    ("type", "email"),
                    ("autocomplete", "email"),
                    ("maxlength", "254"),
                    ("aria-describedby", "sc-err"),
                ],
                None,
            )?;
            let c = node(&doc, &form, "label", &[], None)?;
            node(
                &doc,
                &c,
                "input",
                &[("id", "sc-consent"), ("type", "checkbox")],
                None,
            )?;
            c.append_with_str_1(&spaced(&texts.consent))?;
            node(
                &doc,
                &form,
                "p",
                &[
                    ("class", "err"),
                    ("id", "sc-err"),
                    ("aria-live", "assertive"),
                ],
                None,
            )?;
        }
        node(
            &doc,
            &form,
            "button",
            &[("class", "send"), ("type", "submit")],
            Some(&texts.submit),
        )?;

        let on_event = self.exit.on_event.get_or_insert_with(|| {
            let f = Closure::<dyn FnMut(web_sys::Event)>::new(|e: web_sys::Event| {
                // Never a real form submission (a navigation), even when
                // the runtime is busy or gone.
                if e.type_() == "submit" {
                    e.prevent_default();
                }
                with_runtime(|rt| rt.survey_event(&e));
            });
            let js = f.as_ref().unchecked_ref::<js_sys::Function>().clone();
            f.forget(); // page-lifetime: shared by every dialog
            js
        });
        // Clicks and submits bubble up to the dialog; cancel and close
        // happen on it.
        for kind in ["click", "keydown", "submit", "cancel", "close"] {
            dialog.add_event_listener_with_callback(kind, on_event)?;
        }

        let parent: web_sys::Node = match doc.body() {
            Some(b) => b.into(),
            None => doc.document_element().ok_or("no root element")?.into(),
        };
        parent.append_child(&host)?;
        super::ui::unhide_ancestors(&mut self.exit.doc_sheet);
        if let Err(e) = call(&dialog, "showModal") {
            host.remove();
            return Err(e);
        }
        let first = shadow
            .query_selector("input")?
            .or_else(|| Some(close.clone()))
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
        if let Some(f) = first {
            let _ = f.focus();
        }
        Ok(Modal {
            host,
            shadow,
            dialog,
            trigger,
            return_focus,
            answered: false,
            raises: 0,
            _close_timer: None,
        })
    }

    /// Every event of the open dialog: its close button, a click on the
    /// backdrop, keys, the form, and the browser's close request (`cancel`,
    /// or `close` when the browser closed it without asking).
    fn survey_event(&mut self, e: &web_sys::Event) {
        let Some(m) = &self.exit.modal else { return };
        // Events of a dialog already taken off the page are not this one's.
        let Some(target) = e
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .filter(|t| m.dialog.contains(Some(t)))
        else {
            return;
        };
        match e.type_().as_str() {
            "keydown" => self.survey_key(e),
            "submit" => self.submit_survey(),
            "click" if target == m.dialog => self.close_survey("backdrop"),
            "click" if target.class_name() == "x" => self.close_survey("close"),
            "cancel" => {
                e.prevent_default();
                self.close_survey("escape");
            }
            // Closed by the browser (a close request it did not ask us
            // about); the `close` queued by showing it again finds it open.
            "close" if !get(&m.dialog, "open").is_truthy() => self.close_survey("escape"),
            _ => {}
        }
    }

    /// A popover opened while the survey is up went above it in the top
    /// layer: show the survey again, on top, with focus where it was.
    fn survey_over_popover(&mut self, e: &web_sys::Event) {
        let Some(m) = &mut self.exit.modal else {
            return;
        };
        let popover = e
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .is_some_and(|t| t.has_attribute("popover"));
        let page_modal = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.query_selector("dialog:modal").ok().flatten())
            .is_some();
        if !popover
            || page_modal
            || m.raises >= MAX_RAISES
            || get(e, "newState").as_string().as_deref() != Some("open")
        {
            return;
        }
        m.raises += 1;
        let active = m.shadow.active_element();
        let _ = call(&m.dialog, "close");
        let _ = call(&m.dialog, "showModal");
        if let Some(a) = active.and_then(|a| a.dyn_into::<web_sys::HtmlElement>().ok()) {
            let _ = a.focus();
        }
    }

    fn survey_key(&mut self, e: &web_sys::Event) {
        // Escape is the browser's close request: see `cancel`.
        if get(e, "key").as_string().as_deref() != Some("Tab") {
            return;
        }
        let Some(m) = &self.exit.modal else { return };
        // The cycle's ends are fixed by how `open_survey` builds the
        // dialog: the close button comes first in document order, the
        // submit button last (just the close button once the form gave way
        // to the thanks). Everything between is reached by the browser's
        // own Tab order (unchecked radios by arrow keys).
        let sel = |q: &str| {
            m.shadow
                .query_selector(q)
                .ok()
                .flatten()
                .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
        };
        let Some(first) = sel(".x") else { return };
        let last = sel(".send").unwrap_or_else(|| first.clone());
        let active: Option<web_sys::Element> = m.shadow.active_element();
        let shift = get(e, "shiftKey").is_truthy();
        let at = |x: &web_sys::HtmlElement| {
            active
                .as_ref()
                .is_some_and(|a| a == x.unchecked_ref::<web_sys::Element>())
        };
        if shift && (at(&first) || active.is_none()) {
            e.prevent_default();
            let _ = last.focus();
        } else if !shift && (at(&last) || active.is_none()) {
            e.prevent_default();
            let _ = first.focus();
        }
    }

    fn submit_survey(&mut self) {
        let texts = self.texts();
        let Some(m) = &mut self.exit.modal else {
            return;
        };
        if m.answered {
            return;
        }
        let sel = |q: &str| m.shadow.query_selector(q).ok().flatten();
        let value = |q: &str| sel(q).map(|e| get(&e, "value").as_string().unwrap_or_default());
        let input = FormInput {
            choice: value("input[name=choice]:checked"),
            text: value("#sc-text").unwrap_or_default(),
            rating: value("input[name=rating]:checked")
                .and_then(|v| crate::config::parse_uint(&v))
                .and_then(|v| u8::try_from(v).ok()),
            email: value("#sc-email").unwrap_or_default(),
            consent: sel("#sc-consent").is_some_and(|e| get(&e, "checked").is_truthy()),
        };
        match build_answer(&texts, &input) {
            Err(FormError::Email) => {
                if let Some(err) = sel("#sc-err") {
                    err.set_text_content(Some(&texts.email_error));
                }
                if let Some(email) = sel("#sc-email") {
                    let _ = email.set_attribute("aria-invalid", "true");
                    if let Ok(h) = email.dyn_into::<web_sys::HtmlElement>() {
                        let _ = h.focus();
                    }
                }
            }
            Ok(answer) => {
                m.answered = true;
                let trigger = m.trigger;
                if let Some(form) = sel("form") {
                    let thanks = web_sys::window()
                        .and_then(|w| w.document())
                        .and_then(|d| d.create_element("p").ok());
                    if let Some(p) = thanks {
                        p.set_text_content(Some(&texts.thanks));
                        let _ = p.set_attribute("role", "status");
                        let _ = form.replace_with_with_node_1(&p);
                    }
                }
                if let Some(close) =
                    sel(".x").and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
                {
                    let _ = close.focus();
                }
                m._close_timer = Some(Timeout::new(2500, || {
                    with_runtime(|rt| rt.close_survey("answered"));
                }));
                self.record(EventBody::SurveyAnswered {
                    trigger: trigger.as_str().into(),
                    answer,
                    trouble: self.exit.trouble.context(),
                });
                self.emit_survey("answered", trigger.as_str());
            }
        }
    }

    /// Close the dialog; unanswered closes are `survey_dismissed`.
    pub(super) fn close_survey(&mut self, reason: &str) {
        let Some(m) = self.exit.modal.take() else {
            return;
        };
        m.host.remove();
        if let Some(f) = &m.return_focus {
            let _ = f.focus();
        }
        if !m.answered {
            self.record(EventBody::SurveyDismissed {
                reason: reason.into(),
                trouble: self.exit.trouble.context(),
            });
            self.emit_survey("dismissed", reason);
        }
        // Its close timer may be running right now: drop it after this turn.
        Timeout::new(0, move || drop(m)).forget();
    }
}
