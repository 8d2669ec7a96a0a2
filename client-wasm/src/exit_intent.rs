//! Exit intent as a pure state machine fed by browser events, with the
//! page's clock (`now`, ms) passed in. The shell translates DOM events into
//! calls here; this module decides whether the shopper is about to leave.
//!
//! Signals:
//! - desktop: the pointer leaves the document through the top edge (within
//!   [`IntentConfig::top_margin_px`]), not into a child element, after the
//!   minimum dwell, and not while text is being selected or a form field is
//!   busy (autofill dropdowns make the pointer "leave" the document);
//! - touch: a fast upward scroll (≥ [`IntentConfig::scroll_speed`] px/ms)
//!   that ends near the top of the page (the address bar is about to show);
//! - back: the shell's one-shot history guard was popped (see
//!   [`ExitIntent::arm_guard`]: armed at most once per page, so one extra
//!   back always leaves);
//! - return: the page became hidden (tab switch, app switch) and then
//!   visible again — the intent recorded on hiding shows the survey on return;
//! - idle: no activity for [`IntentConfig::idle_ms`] after trouble.
//!
//! Intents keep coming until the shell reports the survey shown
//! ([`ExitIntent::shown`]); then the page reports no more. An intent the
//! policy refused (no trouble yet, a dialog open) does not use the page up:
//! a shopper who glanced at the tab bar before checkout failed still gets
//! the survey when they head out afterwards.

/// Why the survey would show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// Pointer left through the top edge.
    PointerTop,
    /// Fast upward scroll near the top (touch).
    ScrollUp,
    /// Back navigation caught by the history guard.
    Back,
    /// Back to a page that was hidden.
    Return,
    /// Idle after trouble.
    Idle,
    /// The shop's app asked for it (`Steadycart.showSurvey()`).
    Api,
}

impl Trigger {
    /// Wire name, as sent in survey events.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::PointerTop => "pointer_top",
            Trigger::ScrollUp => "scroll_up",
            Trigger::Back => "back",
            Trigger::Return => "return",
            Trigger::Idle => "idle",
            Trigger::Api => "api",
        }
    }
}

/// Thresholds; defaults in [`IntentConfig::default`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IntentConfig {
    /// How close to the top edge (px) a pointer exit counts. Default 20.
    pub top_margin_px: f64,
    /// Minimum time on the page before any intent counts (ms). Default 3000.
    pub min_dwell_ms: f64,
    /// Upward scroll speed that counts on touch (px/ms). Default 1.5.
    pub scroll_speed: f64,
    /// How near the top (px of scroll offset) the fast scroll must end. Default 300.
    pub near_top_px: f64,
    /// Idle time after trouble that counts (ms); 0 disables. Default 30000.
    pub idle_ms: f64,
}

impl Default for IntentConfig {
    fn default() -> Self {
        IntentConfig {
            top_margin_px: 20.0,
            min_dwell_ms: 3000.0,
            scroll_speed: 1.5,
            near_top_px: 300.0,
            idle_ms: 30_000.0,
        }
    }
}

/// A pointer leaving the document.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PointerOut {
    /// `clientY` of the event.
    pub y: f64,
    /// Whether it left the document (no `relatedTarget`), not into a child.
    pub left_document: bool,
    /// Whether text is selected or being selected (button held).
    pub selecting: bool,
    /// Whether a form field has focus and was used within the last second
    /// (autofill and `<select>` dropdowns fire spurious exits).
    pub form_busy: bool,
}

/// The page's exit-intent detector.
#[derive(Debug, Clone)]
pub struct ExitIntent {
    config: IntentConfig,
    started: f64,
    last_scroll: Option<(f64, f64)>,
    hidden_at: Option<f64>,
    guard_armed: bool,
    guard_popped: bool,
    shown: bool,
    last_activity: f64,
    /// `last_activity` when idle was last reported: one report per quiet spell.
    idle_reported: Option<f64>,
    trouble_at: Option<f64>,
}

impl ExitIntent {
    /// A detector for a page loaded at `now`.
    pub fn new(config: IntentConfig, now: f64) -> ExitIntent {
        ExitIntent {
            config,
            started: now,
            last_scroll: None,
            hidden_at: None,
            guard_armed: false,
            guard_popped: false,
            shown: false,
            last_activity: now,
            idle_reported: None,
            trouble_at: None,
        }
    }

    /// The survey showed on this page: report no more intents.
    pub fn shown(&mut self) {
        self.shown = true;
    }

    /// Whether the survey showed on this page.
    pub fn is_shown(&self) -> bool {
        self.shown
    }

    fn dwelled(&self, now: f64) -> bool {
        now - self.started >= self.config.min_dwell_ms
    }

    fn fire(&self, now: f64, trigger: Trigger) -> Option<Trigger> {
        (!self.shown && self.dwelled(now)).then_some(trigger)
    }

    /// The pointer left (`mouseout` on the document).
    pub fn pointer_out(&mut self, now: f64, p: PointerOut) -> Option<Trigger> {
        if !p.left_document || p.selecting || p.form_busy || p.y > self.config.top_margin_px {
            return None;
        }
        self.fire(now, Trigger::PointerTop)
    }

    /// The page scrolled to offset `y` (touch devices only).
    pub fn scroll(&mut self, now: f64, y: f64) -> Option<Trigger> {
        self.last_activity = now;
        let previous = self.last_scroll.replace((now, y));
        let (t0, y0) = previous?;
        let dt = (now - t0).max(1.0);
        let speed = (y0 - y) / dt;
        if speed >= self.config.scroll_speed && y <= self.config.near_top_px && dt <= 250.0 {
            return self.fire(now, Trigger::ScrollUp);
        }
        None
    }

    /// Whether the shell should push its one history guard entry now: only
    /// once per page, only after trouble, and never after the survey showed.
    /// Marks it armed when true.
    pub fn arm_guard(&mut self) -> bool {
        if self.guard_armed || self.shown || self.trouble_at.is_none() {
            return false;
        }
        self.guard_armed = true;
        true
    }

    /// The guard entry was popped (the shopper pressed back once). The next
    /// back leaves: the guard is never re-armed on this page, and later
    /// pops are the page's own.
    pub fn back(&mut self) -> Option<Trigger> {
        if !self.guard_armed || self.guard_popped {
            return None;
        }
        self.guard_popped = true;
        // Back is an explicit act: no dwell needed.
        (!self.shown).then_some(Trigger::Back)
    }

    /// The page became hidden: remember the intent for the return.
    pub fn hidden(&mut self, now: f64) {
        if self.dwelled(now) {
            self.hidden_at = Some(now);
        }
    }

    /// The page became visible again.
    pub fn visible(&mut self, now: f64) -> Option<Trigger> {
        self.hidden_at.take()?;
        self.last_activity = now;
        self.fire(now, Trigger::Return)
    }

    /// Trouble happened (a call failed or stalled).
    pub fn trouble(&mut self, now: f64) {
        self.trouble_at.get_or_insert(now);
        self.last_activity = now;
    }

    /// The shopper did something (key, click, pointer move, scroll).
    pub fn activity(&mut self, now: f64) {
        self.last_activity = now;
    }

    /// When the idle check should next run (ms from `now`), if idle
    /// detection applies.
    pub fn idle_due_in(&self, now: f64) -> Option<f64> {
        if self.config.idle_ms <= 0.0
            || self.shown
            || self.idle_reported == Some(self.last_activity)
        {
            return None;
        }
        self.trouble_at?;
        // Not before the dwell either: an idle spell shorter than the dwell
        // would otherwise be re-checked at once, over and over.
        let due =
            (self.last_activity + self.config.idle_ms).max(self.started + self.config.min_dwell_ms);
        Some((due - now).max(0.0))
    }

    /// Idle check: fires once the shopper was inactive for `idle_ms` after
    /// trouble.
    pub fn tick(&mut self, now: f64) -> Option<Trigger> {
        if self.idle_due_in(now)? > 0.0 {
            return None;
        }
        let t = self.fire(now, Trigger::Idle);
        if t.is_some() {
            self.idle_reported = Some(self.last_activity);
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(y: f64) -> PointerOut {
        PointerOut {
            y,
            left_document: true,
            selecting: false,
            form_busy: false,
        }
    }

    fn detector() -> ExitIntent {
        ExitIntent::new(IntentConfig::default(), 0.0)
    }

    #[test]
    fn desktop_leave_through_the_top_after_dwell() {
        let mut x = detector();
        assert_eq!(x.pointer_out(1000.0, out(0.0)), None, "too early");
        assert_eq!(x.pointer_out(5000.0, out(400.0)), None, "bottom/side exit");
        let mut into_child = out(0.0);
        into_child.left_document = false;
        assert_eq!(x.pointer_out(5000.0, into_child), None);
        let mut selecting = out(0.0);
        selecting.selecting = true;
        assert_eq!(x.pointer_out(5000.0, selecting), None);
        let mut autofill = out(-3.0);
        autofill.form_busy = true;
        assert_eq!(x.pointer_out(5000.0, autofill), None);
        assert_eq!(x.pointer_out(5000.0, out(-2.0)), Some(Trigger::PointerTop));
        x.shown();
        assert_eq!(x.pointer_out(6000.0, out(0.0)), None, "once shown, no more");
        assert!(x.is_shown());
    }

    #[test]
    fn a_refused_intent_does_not_use_the_page_up() {
        // The policy said no (healthy session, a dialog open): the shell
        // does not call `shown`, so the next exit still counts.
        let mut x = detector();
        assert_eq!(x.pointer_out(4000.0, out(0.0)), Some(Trigger::PointerTop));
        x.trouble(5000.0);
        assert_eq!(x.pointer_out(9000.0, out(0.0)), Some(Trigger::PointerTop));
        assert!(x.arm_guard(), "the back guard too");
        assert_eq!(x.scroll(9100.0, 1000.0), None);
        assert_eq!(x.scroll(9200.0, 0.0), Some(Trigger::ScrollUp));
        x.shown();
        assert_eq!(x.pointer_out(9300.0, out(0.0)), None);
        assert_eq!(x.back(), None, "the guard pops, the survey already showed");
        assert_eq!(x.tick(1e9), None);
    }

    #[test]
    fn margin_is_configurable() {
        let mut x = ExitIntent::new(
            IntentConfig {
                top_margin_px: 50.0,
                ..IntentConfig::default()
            },
            0.0,
        );
        assert_eq!(x.pointer_out(4000.0, out(60.0)), None);
        assert_eq!(x.pointer_out(4000.0, out(45.0)), Some(Trigger::PointerTop));
    }

    #[test]
    fn touch_fast_upward_scroll_near_top() {
        let mut x = detector();
        assert_eq!(x.scroll(4000.0, 2000.0), None, "first sample");
        assert_eq!(x.scroll(4100.0, 1950.0), None, "slow");
        assert_eq!(x.scroll(4200.0, 1000.0), None, "fast but far from top");
        assert_eq!(x.scroll(4300.0, 1200.0), None, "downward");
        assert_eq!(x.scroll(4400.0, 100.0), Some(Trigger::ScrollUp));
        x.shown();
        assert_eq!(x.scroll(4500.0, 2000.0), None);
        assert_eq!(x.scroll(4600.0, 0.0), None, "once shown, no more");
        let mut early = detector();
        early.scroll(100.0, 1000.0);
        assert_eq!(early.scroll(200.0, 0.0), None, "before the dwell");
        let mut gap = detector();
        gap.scroll(4000.0, 2000.0);
        assert_eq!(gap.scroll(9000.0, 0.0), None, "two far-apart samples");
    }

    #[test]
    fn back_guard_is_armed_once_and_never_traps() {
        let mut x = detector();
        assert!(!x.arm_guard(), "no guard without trouble");
        assert_eq!(x.back(), None, "an unguarded back is the page's own");
        x.trouble(500.0);
        assert!(x.arm_guard());
        assert!(!x.arm_guard(), "armed once per page");
        assert_eq!(x.back(), Some(Trigger::Back), "no dwell needed");
        assert_eq!(x.back(), None, "the next back leaves");
        assert!(!x.arm_guard(), "never re-armed");
        // Refused (say a dialog was open): still popped, still one back.
        let mut refused = detector();
        refused.trouble(1.0);
        assert!(refused.arm_guard());
        assert_eq!(refused.back(), Some(Trigger::Back));
        assert_eq!(refused.back(), None, "later pops are the page's own");
        assert!(!refused.arm_guard());
    }

    #[test]
    fn hidden_then_visible_shows_on_return() {
        let mut x = detector();
        assert_eq!(x.visible(5000.0), None, "visible without hidden");
        x.hidden(1000.0);
        assert_eq!(x.visible(2000.0), None, "hidden before the dwell");
        x.hidden(6000.0);
        assert_eq!(x.visible(60_000.0), Some(Trigger::Return));
        assert_eq!(x.visible(61_000.0), None, "one return per hiding");
        x.shown();
        x.hidden(70_000.0);
        assert_eq!(x.visible(80_000.0), None, "once shown, no more");
    }

    #[test]
    fn idle_after_trouble() {
        let mut x = detector();
        assert_eq!(x.idle_due_in(0.0), None, "no trouble, no idle");
        x.trouble(10_000.0);
        assert_eq!(x.idle_due_in(10_000.0), Some(30_000.0));
        x.activity(20_000.0);
        assert_eq!(x.tick(45_000.0), None, "activity postponed it");
        assert_eq!(x.tick(50_000.0), Some(Trigger::Idle));
        assert_eq!(x.idle_due_in(60_000.0), None, "one report per quiet spell");
        assert_eq!(x.tick(60_000.0), None);
        x.activity(70_000.0);
        assert_eq!(
            x.tick(100_000.0),
            Some(Trigger::Idle),
            "refused: next spell"
        );
        x.shown();
        x.activity(110_000.0);
        assert_eq!(x.idle_due_in(110_000.0), None, "once shown, no more");
        let mut off = ExitIntent::new(
            IntentConfig {
                idle_ms: 0.0,
                ..IntentConfig::default()
            },
            0.0,
        );
        off.trouble(1.0);
        assert_eq!(off.tick(1e9), None, "idle disabled");
        let mut short = ExitIntent::new(
            IntentConfig {
                idle_ms: 1000.0,
                ..IntentConfig::default()
            },
            0.0,
        );
        short.trouble(100.0);
        assert_eq!(
            short.idle_due_in(1200.0),
            Some(1800.0),
            "due after the dwell"
        );
        assert_eq!(short.tick(1200.0), None);
        assert_eq!(short.tick(3000.0), Some(Trigger::Idle));
    }
}
