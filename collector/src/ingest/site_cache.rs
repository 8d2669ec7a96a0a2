//! Sites by public key for the ingest path, kept for a short time so a busy
//! shop's batches don't cost two database reads each (the site row and its
//! origins) — at a few thousand batches per second those reads were a
//! large share of the collector's work.
//!
//! # Staleness
//! An entry is used for at most `[ingest] site_cache_ttl` (default 2 s) after
//! it was read from the database, then read again. So a change to a site that
//! ingest depends on — an origin removed, the site deleted — takes effect on
//! ingest within that TTL, never later; `0s` turns the cache off. Unknown keys
//! are not cached (every unknown key is a database read, as before: a flood
//! of made-up keys is bounded by the per-IP bucket, which runs first, and
//! cannot fill this map). Admin routes never use this cache: a rotated or
//! revoked admin token takes effect at once.
//!
//! The map is bounded by [`SiteCache::MAX_ENTRIES`]; when full, expired
//! entries are dropped, and if none are, the whole map is cleared (real
//! deployments have far fewer sites; this only bounds memory).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::store::sites::Site;

/// Recently read sites, by public key. Time is an input (`now`) so tests
/// don't sleep.
#[derive(Debug)]
pub struct SiteCache {
    ttl: Duration,
    /// A std mutex, not tokio's: it is held only for a map lookup or insert,
    /// never across an `.await`.
    entries: Mutex<HashMap<String, (Instant, Arc<Site>)>>,
}

impl SiteCache {
    /// Most sites kept at once.
    pub const MAX_ENTRIES: usize = 10_000;

    /// A cache whose entries live `ttl` (zero: nothing is cached).
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The site with this key if it was read less than the TTL before `now`.
    pub fn get(&self, key: &str, now: Instant) -> Option<Arc<Site>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (read_at, site) = entries.get(key)?;
        (now.saturating_duration_since(*read_at) < self.ttl).then(|| site.clone())
    }

    /// Remember `site`, read from the database at `read_at`.
    pub fn put(&self, site: Arc<Site>, read_at: Instant) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= Self::MAX_ENTRIES && !entries.contains_key(&site.site_key) {
            let ttl = self.ttl;
            entries.retain(|_, (at, _)| read_at.saturating_duration_since(*at) < ttl);
            if entries.len() >= Self::MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(site.site_key.clone(), (read_at, site));
    }

    /// Entries held (tests).
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(key: &str, origins: &[&str]) -> Arc<Site> {
        Arc::new(Site {
            id: 1,
            site_key: key.into(),
            name: "shop".into(),
            admin_token_hash: String::new(),
            admin_token_prev_hash: String::new(),
            admin_token_prev_until: 0,
            origins: origins.iter().map(|o| o.to_string()).collect(),
        })
    }

    #[test]
    fn entries_expire_after_the_ttl() {
        let cache = SiteCache::new(Duration::from_secs(2));
        let t0 = Instant::now();
        cache.put(site("k1", &["https://a.example"]), t0);
        assert!(cache.get("k1", t0 + Duration::from_millis(1999)).is_some());
        assert!(cache.get("k1", t0 + Duration::from_secs(2)).is_none());
        assert!(cache.get("k2", t0).is_none());
    }

    #[test]
    fn a_fresh_read_replaces_the_old_entry() {
        let cache = SiteCache::new(Duration::from_secs(2));
        let t0 = Instant::now();
        cache.put(site("k1", &["https://a.example"]), t0);
        let t1 = t0 + Duration::from_secs(3);
        assert!(cache.get("k1", t1).is_none());
        cache.put(site("k1", &["https://b.example"]), t1);
        let got = cache.get("k1", t1).unwrap();
        assert_eq!(got.origins, ["https://b.example"]);
    }

    #[test]
    fn zero_ttl_caches_nothing() {
        let cache = SiteCache::new(Duration::ZERO);
        let t0 = Instant::now();
        cache.put(site("k1", &[]), t0);
        assert!(cache.get("k1", t0).is_none());
        assert!(cache.is_empty());
    }

    #[test]
    fn the_map_stays_bounded() {
        let cache = SiteCache::new(Duration::from_secs(60));
        let t0 = Instant::now();
        for i in 0..SiteCache::MAX_ENTRIES + 10 {
            cache.put(site(&format!("k{i}"), &[]), t0);
        }
        assert!(cache.len() <= SiteCache::MAX_ENTRIES);
        // The newest is always kept.
        let last = format!("k{}", SiteCache::MAX_ENTRIES + 9);
        assert!(cache.get(&last, t0).is_some());
    }
}
