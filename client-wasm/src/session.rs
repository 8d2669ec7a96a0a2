//! Session ids: kept in sessionStorage as `id|last_seen_ms`; a new session
//! starts after [`SESSION_TIMEOUT_MS`] without activity.

/// Inactivity after which a new session starts (30 min).
pub const SESSION_TIMEOUT_MS: f64 = 30.0 * 60.0 * 1000.0;

/// The stored session.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// Session id.
    pub id: String,
    /// Last activity, ms since the epoch.
    pub last_seen: f64,
}

impl Session {
    /// Parse the stored form; junk is `None` (a new session starts).
    pub fn parse(stored: &str) -> Option<Session> {
        let (id, seen) = stored.split_once('|')?;
        let ok = (16..=64).contains(&id.len())
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        Some(Session {
            id: ok.then(|| id.to_string())?,
            // Whole ms: an integer parse keeps float parsing out of the wasm.
            last_seen: crate::config::parse_int(seen)? as f64,
        })
    }

    /// The stored form.
    pub fn to_stored(&self) -> String {
        let mut out = [self.id.as_str(), "|"].concat();
        crate::event_json::push_int(&mut out, self.last_seen as i64);
        out
    }
}

/// The session in force at `now`: the stored one if still active, else a
/// new one with `new_id()`. The flag tells whether it is new.
pub fn resolve(
    stored: Option<Session>,
    now: f64,
    new_id: impl FnOnce() -> String,
) -> (Session, bool) {
    match stored {
        Some(s) if now - s.last_seen < SESSION_TIMEOUT_MS && now >= s.last_seen - 60_000.0 => (
            Session {
                id: s.id,
                last_seen: now,
            },
            false,
        ),
        _ => (
            Session {
                id: new_id(),
                last_seen: now,
            },
            true,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continues_then_expires() {
        let (s, new) = resolve(None, 0.0, || "s_00000000000000000001".into());
        assert!(new);
        let stored = Session::parse(&s.to_stored()).unwrap();
        let (s2, new) = resolve(Some(stored), 60_000.0, || unreachable!());
        assert!(!new);
        assert_eq!(s2.id, "s_00000000000000000001");
        let (s3, new) = resolve(Some(s2), 60_000.0 + SESSION_TIMEOUT_MS, || {
            "s_00000000000000000002".into()
        });
        assert!(new);
        assert_eq!(s3.id, "s_00000000000000000002");
    }

    #[test]
    fn junk_is_ignored() {
        assert_eq!(Session::parse("<script>|1"), None);
        assert_eq!(Session::parse("s_00000000000000000001|soon"), None);
        assert_eq!(Session::parse(""), None);
    }
}
