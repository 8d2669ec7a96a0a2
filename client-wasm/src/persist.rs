//! The localStorage record of one page's undelivered events, and when
//! another page may adopt it. Pure: the shell reads and writes the strings.
//!
//! Each page (document) writes its own key, `steadycart.q.<random id>`, so
//! two live tabs never write or send the same record. A record is an
//! *orphan* once its page closed (`pagehide` marks it) or has not written
//! for [`STALE_MS`] (the page crashed or was killed). The next page load of
//! the shop — in any tab — adopts orphans: removes the key and sends the
//! events itself. A live page writes at least on every delivery attempt
//! (at most 60 s apart, plus timer throttling), far inside `STALE_MS`.
//!
//! Format: a header line `sc1 WRITTEN_AT CLOSED DROPPED`, then one event's
//! JSON per line (JSON never contains a raw newline). No JSON parser needed.

use crate::event_json::push_int;

/// Prefix of every record key.
pub const KEY_PREFIX: &str = "steadycart.q.";
/// A record not rewritten for this long belongs to a dead page.
pub const STALE_MS: f64 = 10.0 * 60.0 * 1000.0;

/// A decoded record.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// When it was written, ms since the epoch.
    pub written_at: f64,
    /// Its page has closed.
    pub closed: bool,
    /// Events dropped and not yet reported.
    pub dropped: u32,
    /// Undelivered events (JSON), oldest first.
    pub events: Vec<String>,
}

impl Record {
    /// Whether a page other than the writer may adopt it at `now`.
    pub fn is_orphan(&self, now: f64) -> bool {
        self.closed || now - self.written_at > STALE_MS
    }
}

/// Encode a record within `budget` bytes. `sent` are events already handed
/// to a beacon (probably delivered: they are kept so a lost beacon is
/// resent, and are the first to go, uncounted, when space runs out);
/// `pending` are undelivered, oldest first, dropped and counted beyond the
/// budget. Returns the text and how many pending events it had to drop.
pub fn encode<'a>(
    written_at: f64,
    closed: bool,
    dropped: u32,
    sent: &'a [String],
    pending: impl Iterator<Item = &'a String>,
    budget: usize,
) -> (String, u32) {
    let pending: Vec<&String> = pending.collect();
    let size = |events: &[&String]| events.iter().map(|e| e.len() + 1).sum::<usize>();
    let header_room = 48;
    let mut room = budget.saturating_sub(header_room);
    let mut skip_pending = 0;
    let mut total_pending = size(&pending);
    while total_pending > room && skip_pending < pending.len() {
        total_pending -= pending[skip_pending].len() + 1;
        skip_pending += 1;
    }
    room -= total_pending;
    let sent: Vec<&String> = sent.iter().collect();
    let mut skip_sent = 0;
    let mut total_sent = size(&sent);
    while total_sent > room && skip_sent < sent.len() {
        total_sent -= sent[skip_sent].len() + 1;
        skip_sent += 1;
    }
    let lost = skip_pending as u32;
    let mut out = String::from("sc1 ");
    push_int(&mut out, written_at as i64);
    out.push_str(if closed { " 1 " } else { " 0 " });
    push_int(&mut out, dropped.saturating_add(lost).into());
    for e in sent[skip_sent..].iter().chain(&pending[skip_pending..]) {
        out.push('\n');
        out.push_str(e);
    }
    (out, lost)
}

/// Decode a record; `None` for anything that is not one.
pub fn decode(text: &str) -> Option<Record> {
    let mut lines = text.split('\n');
    let mut head = lines.next()?.split(' ');
    if head.next()? != "sc1" {
        return None;
    }
    let written_at = crate::config::parse_int(head.next()?)? as f64;
    let closed = head.next()? == "1";
    let dropped = u32::try_from(crate::config::parse_uint(head.next()?)?).ok()?;
    let events = lines
        .filter(|l| l.starts_with('{') && l.ends_with('}'))
        .map(String::from)
        .collect();
    Some(Record {
        written_at,
        closed,
        dropped,
        events,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(n: usize) -> String {
        format!("{{\"id\":\"{n:032}\"}}")
    }

    #[test]
    fn round_trip_and_orphans() {
        let pending = [e(1), e(2)];
        let (text, lost) = encode(1000.0, false, 3, &[e(0)], pending.iter(), 4096);
        assert_eq!(lost, 0);
        let r = decode(&text).unwrap();
        assert_eq!(r.events, vec![e(0), e(1), e(2)]);
        assert_eq!((r.written_at, r.closed, r.dropped), (1000.0, false, 3));
        assert!(
            !r.is_orphan(1000.0 + STALE_MS - 1.0),
            "a live page's record"
        );
        assert!(r.is_orphan(1000.0 + STALE_MS + 1.0), "a dead page's record");
        let (closed, _) = encode(1000.0, true, 0, &[], pending.iter(), 4096);
        assert!(decode(&closed).unwrap().is_orphan(1000.0));
        assert_eq!(decode("garbage"), None);
        assert_eq!(decode("sc1 x 0 0"), None);
    }

    #[test]
    fn budget_drops_sent_first_then_oldest_pending_counted() {
        let line = e(0).len() + 1;
        let budget = 48 + 3 * line;
        let sent = [e(0), e(1)];
        let pending = [e(2), e(3)];
        let (text, lost) = encode(0.0, false, 0, &sent, pending.iter(), budget);
        assert!(text.len() <= budget);
        assert_eq!(lost, 0, "sent events go first, uncounted");
        assert_eq!(decode(&text).unwrap().events, vec![e(1), e(2), e(3)]);
        let pending: Vec<String> = (0..10).map(e).collect();
        let (text, lost) = encode(0.0, false, 1, &sent, pending.iter(), budget);
        assert!(text.len() <= budget);
        assert_eq!(lost, 7);
        let r = decode(&text).unwrap();
        assert_eq!(r.events, vec![e(7), e(8), e(9)], "newest kept");
        assert_eq!(r.dropped, 8, "earlier count plus the ones dropped here");
    }
}
