//! Per-client-IP and per-site token buckets for `POST /v1/ingest` (GCRA via
//! `governor`). A request spends one token from its IP's bucket, then one
//! from its site's; an empty bucket answers 429 with the time until a token
//! is back as `Retry-After`.
//!
//! The IP bucket is checked first: it is the client's own budget, so a flood
//! of requests with unknown keys or a wrong origin costs neither the
//! database nor any real site's budget. The site bucket is spent only after
//! the key and origin are known good (see [`crate::http::ingest`]), so an
//! unauthenticated flood can never eat a real site's budget.
//!
//! IPv6 clients are keyed by their /64 (one host usually owns a whole /64),
//! so rotating addresses inside it buys nothing.

use std::{
    net::{IpAddr, Ipv6Addr},
    num::NonZeroU32,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use governor::{
    clock::{Clock, DefaultClock},
    middleware::NoOpMiddleware,
    state::keyed::DashMapStateStore,
    Quota, RateLimiter,
};

use crate::config::IngestConfig;

/// Which bucket ran dry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The client IP's bucket.
    Ip,
    /// The site's bucket.
    Site,
}

impl Scope {
    /// Label used in metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ip => "rate_limited_ip",
            Scope::Site => "rate_limited_site",
        }
    }
}

/// A refused request: which bucket, and when to come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("rate limited ({scope:?}); retry after {retry_after:?}")]
pub struct Limited {
    /// The bucket that was empty.
    pub scope: Scope,
    /// Time until the next token; at least one second (`Retry-After` has
    /// whole seconds).
    pub retry_after: Duration,
}

type Keyed<K, C> = RateLimiter<K, DashMapStateStore<K>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// Checks between two sweeps of idle buckets (keeps memory bounded when
/// many distinct addresses come and go).
const SWEEP_EVERY: u64 = 4096;

/// The ingest rate limiter. `C` is a clock, fake in tests.
pub struct RateLimits<C: Clock = DefaultClock> {
    ip: Option<Keyed<IpAddr, C>>,
    site: Option<Keyed<i64, C>>,
    clock: C,
    checks: AtomicU64,
}

impl<C: Clock> std::fmt::Debug for RateLimits<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits")
            .field("ip", &self.ip.is_some())
            .field("site", &self.site.is_some())
            .finish()
    }
}

fn quota(rate_per_sec: u32, burst: u32) -> Option<Quota> {
    let rate = NonZeroU32::new(rate_per_sec)?;
    let burst = NonZeroU32::new(burst).unwrap_or(rate);
    Some(Quota::per_second(rate).allow_burst(burst))
}

impl RateLimits<DefaultClock> {
    /// Limits from the `[ingest]` settings on the real clock.
    pub fn new(config: &IngestConfig) -> Self {
        Self::with_clock(config, DefaultClock::default())
    }
}

impl<C: Clock + Clone> RateLimits<C> {
    /// Limits on `clock`. A rate of 0 disables that bucket.
    pub fn with_clock(config: &IngestConfig, clock: C) -> Self {
        RateLimits {
            ip: quota(config.ip_rate_per_sec, config.ip_burst)
                .map(|q| RateLimiter::dashmap_with_clock(q, clock.clone())),
            site: quota(config.site_rate_per_sec, config.site_burst)
                .map(|q| RateLimiter::dashmap_with_clock(q, clock.clone())),
            clock,
            checks: AtomicU64::new(0),
        }
    }

    /// Spend one token of `ip`'s bucket (no client address: nothing to
    /// limit).
    pub fn check_ip(&self, ip: impl Into<Option<IpAddr>>) -> Result<(), Limited> {
        let (Some(limiter), Some(ip)) = (&self.ip, ip.into()) else {
            return Ok(());
        };
        self.sweep();
        limiter
            .check_key(&bucket_key(ip))
            .map_err(|not_until| Limited {
                scope: Scope::Ip,
                retry_after: whole_seconds(not_until.wait_time_from(self.clock.now())),
            })
    }

    /// Spend one token of site `site_id`'s bucket.
    pub fn check_site(&self, site_id: i64) -> Result<(), Limited> {
        let Some(limiter) = &self.site else {
            return Ok(());
        };
        limiter.check_key(&site_id).map_err(|not_until| Limited {
            scope: Scope::Site,
            retry_after: whole_seconds(not_until.wait_time_from(self.clock.now())),
        })
    }

    /// IP buckets held in memory (for tests and metrics).
    pub fn tracked_ips(&self) -> usize {
        self.ip.as_ref().map_or(0, |l| l.len())
    }

    fn sweep(&self) {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            if let Some(l) = &self.ip {
                // Buckets that have refilled completely are the same as new.
                l.retain_recent();
                l.shrink_to_fit();
            }
        }
    }
}

/// IPv4 as is; IPv6 by its /64 (IPv4-mapped IPv6 as IPv4).
pub fn bucket_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

fn whole_seconds(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    use governor::clock::FakeRelativeClock;

    use super::*;

    fn limits(
        ip: (u32, u32),
        site: (u32, u32),
    ) -> (RateLimits<FakeRelativeClock>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        let config = IngestConfig {
            ip_rate_per_sec: ip.0,
            ip_burst: ip.1,
            site_rate_per_sec: site.0,
            site_burst: site.1,
            ..IngestConfig::default()
        };
        (RateLimits::with_clock(&config, clock.clone()), clock)
    }

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 7));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 8));

    #[test]
    fn burst_then_refused_with_retry_after_then_refilled() {
        let (l, clock) = limits((2, 5), (0, 0));
        for _ in 0..5 {
            l.check_ip(A).unwrap();
        }
        let refused = l.check_ip(A).unwrap_err();
        assert_eq!(refused.scope, Scope::Ip);
        assert_eq!(refused.retry_after, Duration::from_secs(1));
        // Another client is unaffected.
        l.check_ip(B).unwrap();
        // Two tokens a second come back.
        clock.advance(Duration::from_secs(1));
        l.check_ip(A).unwrap();
        l.check_ip(A).unwrap();
        assert!(l.check_ip(A).is_err());
    }

    #[test]
    fn slow_refill_reports_whole_seconds_until_the_next_token() {
        let (l, _) = limits((0, 0), (1, 1));
        // 1 per second is the slowest quota; check rounding on it.
        l.check_site(1).unwrap();
        let refused = l.check_site(1).unwrap_err();
        assert_eq!(refused.scope, Scope::Site);
        assert_eq!(refused.retry_after, Duration::from_secs(1));
        l.check_site(2).unwrap();
    }

    #[test]
    fn zero_rate_disables_the_bucket() {
        let (l, _) = limits((0, 0), (0, 0));
        for _ in 0..10_000 {
            l.check_ip(A).unwrap();
            l.check_site(1).unwrap();
        }
    }

    #[test]
    fn ipv6_clients_share_their_slash_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(bucket_key(a), bucket_key(b));
        assert_ne!(bucket_key(a), bucket_key(other));
        let mapped: IpAddr = "::ffff:203.0.113.7".parse().unwrap();
        assert_eq!(bucket_key(mapped), A);
    }

    #[test]
    fn idle_buckets_are_swept() {
        let (l, clock) = limits((10, 10), (0, 0));
        for i in 0..(SWEEP_EVERY as u32 - 1) {
            l.check_ip(IpAddr::V4(i.into())).unwrap();
        }
        assert_eq!(l.tracked_ips(), SWEEP_EVERY as usize - 1);
        clock.advance(Duration::from_secs(5));
        l.check_ip(A).unwrap();
        assert!(l.tracked_ips() <= 1, "{}", l.tracked_ips());
    }
}
