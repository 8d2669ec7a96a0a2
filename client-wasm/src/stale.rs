//! Stale-if-error for `price` GET calls, opted in per rule
//! (`data-price="GET /api/price/* stale"`): the last good response per URL
//! (status, headers, body) is kept in memory and sessionStorage, within a
//! byte budget and a TTL. When a live call fails (network error, 5xx or a
//! configured error status) or stalls past the role's threshold, the page
//! gets the kept copy, marked with the response header
//! `x-steadycart-stale: 1`; the live call is still watched and recorded, and
//! its late result is never delivered a second time (the page's promise has
//! settled). Never for other methods or roles (checkout, payment, cart).
//!
//! | attribute | meaning | default |
//! |---|---|---|
//! | `data-stale-ttl-s` | how long a kept response may be served, seconds (1–86400) | 300 |
//! | `data-stale-bytes` | memory and sessionStorage budget for kept responses (1024–1000000) | 65536 |
//!
//! Only responses with a declared `Content-Length` up to [`ENTRY_CAP`] are
//! kept (read from a `clone()`; streamed bodies are never cloned).
//!
//! This module decides; the shell (`shell/runtime.rs`) and the shim's
//! `substitute` seam (`js/shim.js`, `serveStale`) do the wiring.

use steadycart_protocol::Role;

/// Largest body kept for one URL, bytes (the shim clones only up to this).
pub const ENTRY_CAP: u32 = 32 * 1024;

/// The marker header on a served stale copy.
pub const MARKER: &str = "x-steadycart-stale";

/// TTL and byte budget of the stale cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaleSettings {
    /// How long a kept response may be served, ms.
    pub ttl_ms: u64,
    /// Budget of all kept responses together, bytes (as stored).
    pub budget: usize,
}

impl Default for StaleSettings {
    fn default() -> Self {
        StaleSettings {
            ttl_ms: 300_000,
            budget: 64 * 1024,
        }
    }
}

impl StaleSettings {
    /// Apply a `data-stale-*` option (`key` without `data-`): `None` if the
    /// key is not one of ours, `Some(false)` for a bad value.
    pub fn apply(&mut self, key: &str, value: &str) -> Option<bool> {
        let n = crate::config::parse_uint(value);
        match key {
            "stale-ttl-s" => {
                let ok = n.filter(|s| (1..=86_400).contains(s));
                if let Some(s) = ok {
                    self.ttl_ms = s * 1000;
                }
                Some(ok.is_some())
            }
            "stale-bytes" => {
                let ok = n.filter(|b| (1024..=1_000_000).contains(b));
                if let Some(b) = ok {
                    self.budget = b as usize;
                }
                Some(ok.is_some())
            }
            _ => None,
        }
    }
}

/// Whether a call may be served stale at all: a `price` call, GET, whose
/// rule opted in.
pub fn eligible(role: Role, method: &str, rule_opted_in: bool) -> bool {
    rule_opted_in && role == Role::Price && method.eq_ignore_ascii_case("GET")
}

/// How the live call settled, as far as stale-if-error cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Live {
    /// A response with this status.
    Status(u16),
    /// The fetch rejected (network error).
    NetworkError,
    /// The page aborted the call: it gets its own AbortError, never a copy.
    Aborted,
}

/// Whether the page gets the kept copy instead of the live result (given a
/// fresh copy exists). A stall is decided by the timer, not here.
pub fn serve_stale(live: Live, error_statuses: &[u16]) -> bool {
    match live {
        Live::NetworkError => true,
        Live::Status(s) => s >= 500 || error_statuses.contains(&s),
        Live::Aborted => false,
    }
}

/// Whether a live response is worth keeping: a 2xx with a body (not 204,
/// 205 or a partial 206) and at most [`ENTRY_CAP`] bytes.
pub fn keepable(status: u16, body_bytes: usize) -> bool {
    (200..300).contains(&status)
        && !(204..=206).contains(&status)
        && body_bytes <= ENTRY_CAP as usize
}

/// Response headers worth replaying, from `name: value` lines (lower-case
/// names, as `Headers` iterates them): drops those describing the original
/// transfer (length, encoding) and cookies.
pub fn replay_headers(lines: &str) -> String {
    let mut out = String::new();
    for line in lines.lines() {
        let name = line.split(':').next().unwrap_or_default().trim();
        let skip = name.is_empty()
            || name.eq_ignore_ascii_case(MARKER)
            || [
                "content-length",
                "content-encoding",
                "transfer-encoding",
                "set-cookie",
                "connection",
            ]
            .iter()
            .any(|h| name.eq_ignore_ascii_case(h));
        if !skip {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// One kept response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The full request URL (with query: prices may depend on it).
    pub url: String,
    /// When it was kept, ms since the epoch.
    pub stored_ms: u64,
    /// HTTP status.
    pub status: u16,
    /// `name: value` lines (see [`replay_headers`]).
    pub headers: String,
    /// The body text.
    pub body: String,
}

impl Entry {
    /// Bytes it takes in the budget (its stored form).
    pub fn bytes(&self) -> usize {
        self.url.len() + self.headers.len() + self.body.len() + 32
    }

    fn fresh(&self, now_ms: u64, ttl_ms: u64) -> bool {
        // A clock set back makes an entry look younger; never trust one
        // from the future.
        self.stored_ms <= now_ms && now_ms - self.stored_ms <= ttl_ms
    }
}

/// The kept responses, oldest first, within the budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleCache {
    entries: Vec<Entry>,
    settings: StaleSettings,
}

impl StaleCache {
    /// An empty cache.
    pub fn new(settings: StaleSettings) -> StaleCache {
        StaleCache {
            entries: Vec::new(),
            settings,
        }
    }

    /// The fresh copy for `url`, if any.
    pub fn get(&self, url: &str, now_ms: u64) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| e.url == url)
            .filter(|e| e.fresh(now_ms, self.settings.ttl_ms))
    }

    /// Keep `entry` (replacing the URL's older copy), dropping expired
    /// entries and then the oldest until the budget holds. Returns false
    /// (and keeps nothing new) when the entry alone is over the budget.
    pub fn keep(&mut self, entry: Entry) -> bool {
        let now = entry.stored_ms;
        let ttl = self.settings.ttl_ms;
        self.entries
            .retain(|e| e.url != entry.url && e.fresh(now, ttl));
        if entry.bytes() > self.settings.budget {
            return false;
        }
        self.entries.push(entry);
        while self.bytes() > self.settings.budget {
            self.entries.remove(0);
        }
        true
    }

    /// Bytes of all entries.
    pub fn bytes(&self) -> usize {
        self.entries.iter().map(Entry::bytes).sum()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The sessionStorage form: per entry a header line
    /// `stored_ms status url_len headers_len body_len` and then the three
    /// texts back to back (lengths in bytes, so any text round-trips).
    pub fn to_stored(&self) -> String {
        let mut out = String::with_capacity(self.bytes());
        for e in &self.entries {
            for n in [
                e.stored_ms,
                u64::from(e.status),
                e.url.len() as u64,
                e.headers.len() as u64,
            ] {
                crate::event_json::push_int(&mut out, n as i64);
                out.push(' ');
            }
            crate::event_json::push_int(&mut out, e.body.len() as i64);
            out.push('\n');
            out.push_str(&e.url);
            out.push_str(&e.headers);
            out.push_str(&e.body);
        }
        out
    }

    /// Parse the stored form; a damaged tail is dropped, entries beyond the
    /// budget (settings may have shrunk) are dropped oldest first.
    pub fn parse(stored: &str, settings: StaleSettings) -> StaleCache {
        let mut cache = StaleCache::new(settings);
        let mut rest = stored;
        while let Some((head, tail)) = rest.split_once('\n') {
            let nums: Vec<u64> = head
                .split(' ')
                .filter_map(crate::config::parse_uint)
                .collect();
            let [stored_ms, status, u, h, b] = nums[..] else {
                break;
            };
            let (u, h, b) = (u as usize, h as usize, b as usize);
            let (Some(url), Some(headers), Some(body)) = (
                tail.get(..u),
                tail.get(u..u + h),
                tail.get(u + h..u + h + b),
            ) else {
                break;
            };
            cache.entries.push(Entry {
                url: url.to_string(),
                stored_ms,
                status: status as u16,
                headers: headers.to_string(),
                body: body.to_string(),
            });
            rest = &tail[u + h + b..];
        }
        while cache.bytes() > settings.budget {
            cache.entries.remove(0);
        }
        cache
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(url: &str, at: u64, body: &str) -> Entry {
        Entry {
            url: url.into(),
            stored_ms: at,
            status: 200,
            headers: "content-type: application/json\n".into(),
            body: body.into(),
        }
    }

    #[test]
    fn only_price_get_calls_of_opted_in_rules() {
        assert!(eligible(Role::Price, "GET", true));
        assert!(eligible(Role::Price, "get", true));
        assert!(!eligible(Role::Price, "GET", false), "opt-in per rule");
        assert!(!eligible(Role::Price, "POST", true));
        assert!(!eligible(Role::Price, "HEAD", true));
        for role in [Role::Checkout, Role::Payment, Role::Cart] {
            assert!(!eligible(role, "GET", true), "{role:?}");
        }
    }

    #[test]
    fn serves_stale_on_failures_not_on_answers_or_aborts() {
        assert!(serve_stale(Live::NetworkError, &[]));
        assert!(serve_stale(Live::Status(503), &[]));
        assert!(serve_stale(Live::Status(500), &[]));
        assert!(serve_stale(Live::Status(429), &[409, 429]));
        assert!(!serve_stale(Live::Status(429), &[]));
        assert!(
            !serve_stale(Live::Status(404), &[]),
            "an answer, not a failure"
        );
        assert!(!serve_stale(Live::Status(200), &[]));
        assert!(!serve_stale(Live::Aborted, &[]), "the page's own abort");
    }

    #[test]
    fn keeps_small_2xx_with_a_body() {
        assert!(keepable(200, 10));
        assert!(keepable(200, ENTRY_CAP as usize));
        assert!(!keepable(200, ENTRY_CAP as usize + 1));
        assert!(!keepable(204, 0));
        assert!(!keepable(206, 10));
        assert!(!keepable(304, 0));
        assert!(!keepable(503, 10));
    }

    #[test]
    fn replayed_headers_drop_transfer_details() {
        let h = replay_headers(
            "content-encoding: gzip\ncontent-length: 12\ncontent-type: application/json\nx-steadycart-stale: 1\ncache-control: no-cache\n",
        );
        assert_eq!(
            h,
            "content-type: application/json\ncache-control: no-cache\n"
        );
    }

    #[test]
    fn ttl_is_respected() {
        let mut c = StaleCache::new(StaleSettings {
            ttl_ms: 1000,
            budget: 10_000,
        });
        assert!(c.keep(entry("https://s/p/1", 5000, "{\"p\":1}")));
        assert!(c.get("https://s/p/1", 5000).is_some());
        assert!(c.get("https://s/p/1", 6000).is_some());
        assert!(c.get("https://s/p/1", 6001).is_none(), "expired");
        assert!(c.get("https://s/p/1", 4000).is_none(), "from the future");
        assert!(c.get("https://s/p/2", 5000).is_none());
        // Expired entries go when something new is kept.
        assert!(c.keep(entry("https://s/p/2", 7000, "{}")));
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn budget_drops_the_oldest_and_refuses_giants() {
        let mut c = StaleCache::new(StaleSettings {
            ttl_ms: 60_000,
            budget: 300,
        });
        let body = "x".repeat(80);
        for i in 0..5 {
            assert!(c.keep(entry(&format!("https://s/p/{i}"), 1000 + i, &body)));
            assert!(c.bytes() <= 300);
        }
        assert!(c.get("https://s/p/0", 2000).is_none(), "oldest dropped");
        assert!(c.get("https://s/p/4", 2000).is_some());
        // The same URL replaces its older copy.
        let n = c.len();
        assert!(c.keep(entry("https://s/p/4", 1500, "new")));
        assert_eq!(c.len(), n);
        assert_eq!(c.get("https://s/p/4", 2000).unwrap().body, "new");
        assert!(!c.keep(entry("https://s/big", 1600, &"y".repeat(400))));
        assert!(c.get("https://s/big", 2000).is_none());
    }

    #[test]
    fn stored_form_round_trips_any_text_and_survives_damage() {
        let mut c = StaleCache::new(StaleSettings::default());
        c.keep(entry(
            "https://s/p/ä?x=1 2",
            1,
            "{\"name\":\"Kopfhörer\n 1 2 3\"}",
        ));
        c.keep(Entry {
            headers: String::new(),
            body: String::new(),
            ..entry("https://s/p/2", 2, "")
        });
        let s = c.to_stored();
        assert_eq!(StaleCache::parse(&s, StaleSettings::default()), c);
        let damaged = &s[..s.len() - 3];
        assert_eq!(
            StaleCache::parse(damaged, StaleSettings::default()).len(),
            1
        );
        assert!(StaleCache::parse("junk\n<x>", StaleSettings::default()).is_empty());
        assert!(StaleCache::parse("1 2 999 0 0\nabc", StaleSettings::default()).is_empty());
        // A smaller budget on the next page drops the oldest.
        let small = StaleSettings {
            budget: c.entries[1].bytes(),
            ..StaleSettings::default()
        };
        assert_eq!(StaleCache::parse(&s, small).len(), 1);
    }

    #[test]
    fn settings_from_attributes() {
        let mut s = StaleSettings::default();
        assert_eq!(s.apply("stale-ttl-s", "60"), Some(true));
        assert_eq!(s.ttl_ms, 60_000);
        assert_eq!(s.apply("stale-bytes", "2048"), Some(true));
        assert_eq!(s.budget, 2048);
        assert_eq!(s.apply("stale-ttl-s", "0"), Some(false));
        assert_eq!(s.apply("stale-bytes", "lots"), Some(false));
        assert_eq!(s.apply("stale-other", "1"), None);
    }
}
