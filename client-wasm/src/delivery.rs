//! Delivery settings (batching, local storage budget, sampling, per-session
//! cap) and the per-session admission decision. Pure: no browser types.
//!
//! | attribute | meaning | default |
//! |---|---|---|
//! | `data-flush-ms` | flush when the oldest queued event is this old (ms, 50–60000) | 1000 |
//! | `data-flush-count` | flush when this many events wait (1–200) | 20 |
//! | `data-store-bytes` | localStorage budget for undelivered events per page (bytes, 4096–1048576); the in-memory queue obeys it too | 65536 |
//! | `data-sample-rate` | share of sessions reported, 0–1 (decided once per session id) | 1 |
//! | `data-max-events` | hard cap of events per session (0–100000) | 1000 |
//!
//! Sampling and the cap can also be changed at run time (remote
//! configuration) through the shell's `set_limits`.

/// Batches are also flushed when the queued events reach this many bytes
/// (a quarter of the 64 KiB keepalive/beacon quota).
pub const FLUSH_BYTES: usize = 16 * 1024;

/// Delivery settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Flush when the oldest event is this old, ms.
    pub flush_ms: u32,
    /// Flush when this many events wait.
    pub flush_count: u32,
    /// Byte budget of undelivered events, in memory and in localStorage.
    pub store_bytes: u32,
    /// Share of sessions reported, in [0, 1].
    pub sample_rate: f64,
    /// Most events one session may report.
    pub max_events: u32,
}

impl Default for Delivery {
    fn default() -> Self {
        Delivery {
            flush_ms: 1000,
            flush_count: 20,
            store_bytes: 64 * 1024,
            sample_rate: 1.0,
            max_events: 1000,
        }
    }
}

impl Delivery {
    /// Apply `data-KEY=value` if `key` is a delivery option: `None` when it
    /// is not one, `Some(false)` when the value is out of range.
    pub fn apply(&mut self, key: &str, value: &str) -> Option<bool> {
        fn int(v: &str, lo: u32, hi: u32) -> Option<u32> {
            crate::config::parse_uint(v)
                .filter(|n| (u64::from(lo)..=u64::from(hi)).contains(n))
                .map(|n| n as u32)
        }
        let ok = match key {
            "flush-ms" => int(value, 50, 60_000).map(|n| self.flush_ms = n),
            "flush-count" => int(value, 1, 200).map(|n| self.flush_count = n),
            "store-bytes" => int(value, 4096, 1 << 20).map(|n| self.store_bytes = n),
            "max-events" => int(value, 0, 100_000).map(|n| self.max_events = n),
            "sample-rate" => parse_decimal(value)
                .filter(|r| (0.0..=1.0).contains(r))
                .map(|r| self.sample_rate = r),
            _ => return None,
        };
        Some(ok.is_some())
    }
}

/// A non-negative decimal number (`1`, `0.25`, `.5`, `+2.5e-1`), parsed
/// without `f64::from_str`, whose tables and code cost the wasm about 9 KB.
/// Exact for the short values configuration and `Retry-After` carry (one
/// correctly rounded multiplication or division of exact integers); `None`
/// for anything else, including signs other than `+`, `inf` and `NaN`.
pub fn parse_decimal(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'+'));
    let mut mantissa: u64 = 0;
    let mut exp: i32 = 0;
    let mut digits = 0;
    let mut frac = false;
    while let Some(&c) = b.get(i) {
        match c {
            b'0'..=b'9' => {
                digits += 1;
                if mantissa < 1_000_000_000_000_000 {
                    mantissa = mantissa * 10 + u64::from(c - b'0');
                    exp -= i32::from(frac);
                } else {
                    exp += i32::from(!frac);
                }
            }
            b'.' if !frac => frac = true,
            _ => break,
        }
        i += 1;
    }
    if digits == 0 {
        return None;
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        let neg = b.get(i) == Some(&b'-');
        i += usize::from(matches!(b.get(i), Some(b'-' | b'+')));
        let start = i;
        let mut e: i32 = 0;
        while let Some(&c @ b'0'..=b'9') = b.get(i) {
            e = (e * 10 + i32::from(c - b'0')).min(10_000);
            i += 1;
        }
        if i == start {
            return None;
        }
        exp += if neg { -e } else { e };
    }
    if i != b.len() {
        return None;
    }
    let m = mantissa as f64;
    Some(if exp >= 0 {
        m * 10f64.powi(exp)
    } else if exp >= -22 {
        m / 10f64.powi(-exp)
    } else {
        m / 10f64.powi(22) / 10f64.powi(-exp - 22)
    })
}

/// Whether the session `id` is in the sample at `rate`: a stable hash of
/// the id (FNV-1a), so every page of a session decides the same way and a
/// session's funnel is never half reported.
pub fn session_sampled(id: &str, rate: f64) -> bool {
    if rate >= 1.0 {
        return true;
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    ((h >> 11) as f64 / (1u64 << 53) as f64) < rate
}

/// Events a session has reported so far, stored as `SESSION:COUNT`.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionCount {
    /// The session id counted.
    pub session: String,
    /// Events admitted in it.
    pub used: u32,
}

impl SessionCount {
    /// Parse the stored form; `None` for anything else.
    pub fn parse(s: &str) -> Option<SessionCount> {
        let (session, used) = s.rsplit_once(':')?;
        Some(SessionCount {
            session: session.to_string(),
            used: u32::try_from(crate::config::parse_uint(used)?).ok()?,
        })
    }

    /// The stored form.
    pub fn to_stored(&self) -> String {
        let mut out = [self.session.as_str(), ":"].concat();
        crate::event_json::push_int(&mut out, self.used.into());
        out
    }

    /// Admit one more event of `session` under `settings`: counts it and
    /// returns true, or returns false (sampled out or over the cap).
    pub fn admit(&mut self, session: &str, settings: &Delivery) -> bool {
        if self.session != session {
            self.session = session.to_string();
            self.used = 0;
        }
        if !session_sampled(session, settings.sample_rate) || self.used >= settings.max_events {
            return false;
        }
        self.used += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_parse_like_f64_from_str() {
        for s in [
            "0", "1", "0.25", ".5", "5.", "+0.5", "1e0", "2.5E-1", "0.1", "0.3", "0.7", "120",
            "3600", "1.000", "0.0001", "007", "1e3", "0.999999",
        ] {
            assert_eq!(parse_decimal(s), s.parse::<f64>().ok(), "{s}");
        }
        let long = parse_decimal("12345678901234567890.5").unwrap();
        assert!((long / 12_345_678_901_234_567_890.5 - 1.0).abs() < 1e-15);
        for s in [
            "", ".", "-1", "1e", "e1", "1.2.3", " 1", "1 ", "inf", "NaN", "0x1", "1,5",
        ] {
            assert_eq!(parse_decimal(s), None, "{s}");
        }
    }

    #[test]
    fn options_parse_with_ranges() {
        let mut d = Delivery::default();
        assert_eq!(d.apply("flush-ms", "250"), Some(true));
        assert_eq!(d.apply("sample-rate", "0.25"), Some(true));
        assert_eq!(d.apply("max-events", "5"), Some(true));
        assert_eq!(d.apply("store-bytes", "100"), Some(false));
        assert_eq!(d.apply("sample-rate", "2"), Some(false));
        assert_eq!(d.apply("text-cart", "x"), None);
        assert_eq!((d.flush_ms, d.sample_rate, d.max_events), (250, 0.25, 5));
        assert_eq!(d.store_bytes, 64 * 1024, "refused value leaves the default");
    }

    #[test]
    fn sampling_is_per_session_and_near_the_rate() {
        let ids: Vec<String> = (0..4000).map(|i| format!("s_{i:020x}")).collect();
        let kept = ids.iter().filter(|id| session_sampled(id, 0.25)).count();
        assert!((800..1200).contains(&kept), "kept {kept} of 4000 at 25%");
        assert!(ids.iter().all(|id| session_sampled(id, 1.0)));
        assert!(!ids.iter().any(|id| session_sampled(id, 0.0)));
        // Stable: the same session decides the same way on every page.
        assert_eq!(session_sampled(&ids[7], 0.5), session_sampled(&ids[7], 0.5));
    }

    #[test]
    fn cap_counts_per_session_and_resets_for_a_new_one() {
        let settings = Delivery {
            max_events: 2,
            ..Delivery::default()
        };
        let mut c = SessionCount::parse("s_a:1").unwrap();
        assert!(c.admit("s_a", &settings));
        assert!(
            !c.admit("s_a", &settings),
            "third event of s_a is over the cap"
        );
        assert_eq!(c.to_stored(), "s_a:2");
        assert!(c.admit("s_b", &settings), "a new session starts at zero");
        assert_eq!(SessionCount::parse("junk"), None);
    }
}
