//! Fault injection: per endpoint, what the next calls should suffer, when
//! and how often. Pure state behind a std mutex (held for microseconds,
//! never across an await); time is an input.
//!
//! A [`Rule`] is a [`Fault`] (error with a status, added latency, hang,
//! connection reset, malformed JSON, API version mismatch), the fraction of
//! calls it hits (`rate`) and an optional schedule (`from_ms`..`until_ms`,
//! ms since the Unix epoch). An endpoint holds a list of rules; the first one
//! whose window contains the call's time applies. The rate is spread
//! deterministically (every call adds `rate` to an accumulator and is hit
//! when it reaches 1), so a drill replays the same calls the same way.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
};

use serde::{Deserialize, Serialize};

/// Endpoints that can be made to fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// `GET/POST /api/cart`.
    Cart,
    /// `POST /api/checkout`.
    Checkout,
    /// `POST /api/payment`.
    Payment,
    /// `GET /api/price/{sku}`.
    Price,
}

impl Endpoint {
    /// Every endpoint.
    pub const ALL: [Endpoint; 4] = [
        Endpoint::Cart,
        Endpoint::Checkout,
        Endpoint::Payment,
        Endpoint::Price,
    ];
}

/// What a faulty endpoint does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Fault {
    /// Behave normally.
    None,
    /// Answer with this status and a JSON error body.
    Error {
        /// HTTP status, 400 to 599, e.g. 503.
        status: u16,
    },
    /// Answer normally after this many ms.
    Delay {
        /// Added latency, at most [`MAX_DELAY_MS`].
        ms: u64,
    },
    /// Never answer while the rule is in force (at most two minutes), then
    /// 504.
    Hang,
    /// Reset the TCP connection instead of answering (the browser sees a
    /// network error).
    Reset,
    /// Answer 200 with a truncated JSON body.
    MalformedJson,
    /// Answer 400 with a schema error, as an API that moved to a new version
    /// answers an old client.
    VersionMismatch,
}

/// Longest added latency a rule may ask for, ms.
pub const MAX_DELAY_MS: u64 = 120_000;

fn full_rate() -> f64 {
    1.0
}

/// One fault with its rate and schedule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// The fault.
    #[serde(flatten)]
    pub fault: Fault,
    /// Fraction of calls hit, 0 to 1. Default 1.
    #[serde(default = "full_rate")]
    pub rate: f64,
    /// In force from this time on (ms since the Unix epoch). Default: now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_ms: Option<i64>,
    /// In force until this time (exclusive). Default: until changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_ms: Option<i64>,
}

impl Rule {
    /// A rule hitting every call from now on until changed.
    pub fn always(fault: Fault) -> Rule {
        Rule {
            fault,
            rate: 1.0,
            from_ms: None,
            until_ms: None,
        }
    }

    /// Whether the rule is in force at `now`.
    pub fn active_at(&self, now: i64) -> bool {
        self.from_ms.is_none_or(|f| f <= now) && self.until_ms.is_none_or(|u| now < u)
    }

    /// Whether the rule can never apply again after `now`.
    pub fn expired_at(&self, now: i64) -> bool {
        self.until_ms.is_some_and(|u| u <= now)
    }
}

/// A rule as the control API accepts it: absolute times, or times relative
/// to when the request arrives (`start_in_ms`, `for_ms`).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct RuleSpec {
    /// The rule (absolute times optional).
    #[serde(flatten)]
    pub rule: Rule,
    /// Start this many ms after the request (instead of `from_ms`).
    #[serde(default)]
    pub start_in_ms: Option<i64>,
    /// Last this many ms after the start (instead of `until_ms`).
    #[serde(default)]
    pub for_ms: Option<i64>,
}

/// Why a rule was refused; names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidRule {
    /// The offending field.
    pub field: &'static str,
    /// What is wrong with it.
    pub message: &'static str,
}

fn invalid(field: &'static str, message: &'static str) -> InvalidRule {
    InvalidRule { field, message }
}

impl RuleSpec {
    /// The rule with times made absolute against `now`, validated.
    pub fn resolve(self, now: i64) -> Result<Rule, InvalidRule> {
        let mut rule = self.rule;
        if let Some(s) = self.start_in_ms {
            if s < 0 {
                return Err(invalid("start_in_ms", "must not be negative"));
            }
            rule.from_ms = Some(now + s);
        }
        if let Some(d) = self.for_ms {
            if d <= 0 {
                return Err(invalid("for_ms", "must be positive"));
            }
            rule.until_ms = Some(rule.from_ms.unwrap_or(now) + d);
        }
        if !(0.0..=1.0).contains(&rule.rate) {
            return Err(invalid("rate", "must be between 0 and 1"));
        }
        if let (Some(f), Some(u)) = (rule.from_ms, rule.until_ms) {
            if u <= f {
                return Err(invalid("until_ms", "must be after from_ms"));
            }
        }
        match rule.fault {
            Fault::Error { status } if !(400..=599).contains(&status) => {
                Err(invalid("status", "must be between 400 and 599"))
            }
            Fault::Delay { ms } if ms > MAX_DELAY_MS => {
                Err(invalid("ms", "must be at most 120000"))
            }
            _ => Ok(rule),
        }
    }
}

/// What the control API accepts for one endpoint: one rule or a schedule of
/// several.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RulesSpec {
    /// Several rules, the first in force applies.
    Many(Vec<RuleSpec>),
    /// One rule.
    One(RuleSpec),
}

impl RulesSpec {
    /// Every rule resolved against `now`.
    pub fn resolve(self, now: i64) -> Result<Vec<Rule>, InvalidRule> {
        match self {
            RulesSpec::One(r) => Ok(vec![r.resolve(now)?]),
            RulesSpec::Many(rs) => {
                if rs.len() > 32 {
                    return Err(invalid("rules", "at most 32 per endpoint"));
                }
                rs.into_iter().map(|r| r.resolve(now)).collect()
            }
        }
    }
}

/// The decision for one call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    /// The fault to apply (`Fault::None`: answer normally).
    pub fault: Fault,
    /// When the rule stops (for hangs), ms since the Unix epoch.
    pub until_ms: Option<i64>,
}

#[derive(Debug, Default)]
struct EndpointFaults {
    rules: Vec<Rule>,
    /// Rate accumulator (see the module doc).
    acc: f64,
}

/// The faults in force. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct FaultBoard(Arc<Mutex<HashMap<Endpoint, EndpointFaults>>>);

impl FaultBoard {
    /// Replace the endpoint's rules with one rule in force from now on.
    pub fn set(&self, endpoint: Endpoint, fault: Fault) {
        self.set_rules(endpoint, vec![Rule::always(fault)]);
    }

    /// Replace the endpoint's rules (rules of `Fault::None` are dropped).
    pub fn set_rules(&self, endpoint: Endpoint, rules: Vec<Rule>) {
        let rules: Vec<Rule> = rules
            .into_iter()
            .filter(|r| r.fault != Fault::None)
            .collect();
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if rules.is_empty() {
            map.remove(&endpoint);
        } else {
            map.insert(endpoint, EndpointFaults { rules, acc: 0.0 });
        }
    }

    /// Decide what one call to `endpoint` at `now` suffers.
    pub fn decide(&self, endpoint: Endpoint, now: i64) -> Decision {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let none = Decision {
            fault: Fault::None,
            until_ms: None,
        };
        let Some(e) = map.get_mut(&endpoint) else {
            return none;
        };
        e.rules.retain(|r| !r.expired_at(now));
        let Some(rule) = e.rules.iter().find(|r| r.active_at(now)).copied() else {
            if e.rules.is_empty() {
                map.remove(&endpoint);
            }
            return none;
        };
        e.acc += rule.rate;
        // The small slack keeps rates like 0.1 exact after ten additions.
        if e.acc >= 1.0 - 1e-9 {
            e.acc -= 1.0;
            Decision {
                fault: rule.fault,
                until_ms: rule.until_ms,
            }
        } else {
            none
        }
    }

    /// The fault that applies to `endpoint` at `now` if it hits, without
    /// counting a call.
    pub fn get(&self, endpoint: Endpoint, now: i64) -> Fault {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&endpoint)
            .and_then(|e| e.rules.iter().find(|r| r.active_at(now)))
            .map_or(Fault::None, |r| r.fault)
    }

    /// Every rule not yet expired at `now`, by endpoint.
    pub fn all(&self, now: i64) -> BTreeMap<Endpoint, Vec<Rule>> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.iter()
            .map(|(k, e)| {
                (
                    *k,
                    e.rules
                        .iter()
                        .filter(|r| !r.expired_at(now))
                        .copied()
                        .collect::<Vec<_>>(),
                )
            })
            .filter(|(_, rs)| !rs.is_empty())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_764_000_000_000;

    #[test]
    fn set_get_clear() {
        let b = FaultBoard::default();
        assert_eq!(b.get(Endpoint::Checkout, T), Fault::None);
        b.set(Endpoint::Checkout, Fault::Error { status: 503 });
        assert_eq!(b.get(Endpoint::Checkout, T), Fault::Error { status: 503 });
        assert_eq!(
            b.decide(Endpoint::Checkout, T).fault,
            Fault::Error { status: 503 }
        );
        b.set(Endpoint::Checkout, Fault::None);
        assert!(b.all(T).is_empty());
    }

    #[test]
    fn wire_format() {
        let f: Fault = serde_json::from_str(r#"{"mode":"error","status":503}"#).unwrap();
        assert_eq!(f, Fault::Error { status: 503 });
        let f: Fault = serde_json::from_str(r#"{"mode":"delay","ms":4000}"#).unwrap();
        assert_eq!(f, Fault::Delay { ms: 4000 });
        for (text, fault) in [
            (r#"{"mode":"reset"}"#, Fault::Reset),
            (r#"{"mode":"malformed_json"}"#, Fault::MalformedJson),
            (r#"{"mode":"version_mismatch"}"#, Fault::VersionMismatch),
            (r#"{"mode":"hang"}"#, Fault::Hang),
        ] {
            assert_eq!(serde_json::from_str::<Fault>(text).unwrap(), fault);
        }
        let spec: RulesSpec = serde_json::from_str(
            r#"{"mode":"error","status":502,"rate":0.5,"start_in_ms":1000,"for_ms":2000}"#,
        )
        .unwrap();
        let rules = spec.resolve(T).unwrap();
        assert_eq!(
            rules,
            vec![Rule {
                fault: Fault::Error { status: 502 },
                rate: 0.5,
                from_ms: Some(T + 1000),
                until_ms: Some(T + 3000),
            }]
        );
        let text = serde_json::to_string(&rules[0]).unwrap();
        assert_eq!(
            text,
            format!(
                r#"{{"mode":"error","status":502,"rate":0.5,"from_ms":{},"until_ms":{}}}"#,
                T + 1000,
                T + 3000
            )
        );
    }

    #[test]
    fn invalid_rules_name_their_field() {
        let bad = |s: &str| {
            serde_json::from_str::<RulesSpec>(s)
                .unwrap()
                .resolve(T)
                .unwrap_err()
                .field
        };
        assert_eq!(bad(r#"{"mode":"error","status":200}"#), "status");
        assert_eq!(bad(r#"{"mode":"hang","rate":1.5}"#), "rate");
        assert_eq!(bad(r#"{"mode":"delay","ms":999999}"#), "ms");
        assert_eq!(bad(r#"{"mode":"reset","for_ms":0}"#), "for_ms");
        assert_eq!(
            bad(r#"{"mode":"reset","from_ms":10,"until_ms":5}"#),
            "until_ms"
        );
    }

    #[test]
    fn schedule_applies_only_inside_its_window() {
        let b = FaultBoard::default();
        let rule = Rule {
            from_ms: Some(T + 1000),
            until_ms: Some(T + 2000),
            ..Rule::always(Fault::Reset)
        };
        b.set_rules(Endpoint::Payment, vec![rule]);
        assert_eq!(b.decide(Endpoint::Payment, T).fault, Fault::None);
        assert_eq!(
            b.decide(Endpoint::Payment, T + 1000),
            Decision {
                fault: Fault::Reset,
                until_ms: Some(T + 2000)
            }
        );
        assert_eq!(b.decide(Endpoint::Payment, T + 1999).fault, Fault::Reset);
        assert_eq!(b.decide(Endpoint::Payment, T + 2000).fault, Fault::None);
        assert!(b.all(T + 2000).is_empty(), "expired rules are dropped");
    }

    #[test]
    fn first_rule_in_force_wins() {
        let b = FaultBoard::default();
        b.set_rules(
            Endpoint::Price,
            vec![
                Rule {
                    until_ms: Some(T + 100),
                    ..Rule::always(Fault::Delay { ms: 10 })
                },
                Rule::always(Fault::MalformedJson),
            ],
        );
        assert_eq!(b.decide(Endpoint::Price, T).fault, Fault::Delay { ms: 10 });
        assert_eq!(
            b.decide(Endpoint::Price, T + 100).fault,
            Fault::MalformedJson
        );
    }

    #[test]
    fn rate_hits_that_fraction_of_calls_exactly_and_replayably() {
        let b = FaultBoard::default();
        b.set_rules(
            Endpoint::Cart,
            vec![Rule {
                rate: 0.3,
                ..Rule::always(Fault::Error { status: 500 })
            }],
        );
        let hits: Vec<bool> = (0..10)
            .map(|_| b.decide(Endpoint::Cart, T).fault != Fault::None)
            .collect();
        assert_eq!(hits.iter().filter(|h| **h).count(), 3);
        // Setting the rule again starts the same sequence again.
        b.set_rules(
            Endpoint::Cart,
            vec![Rule {
                rate: 0.3,
                ..Rule::always(Fault::Error { status: 500 })
            }],
        );
        let again: Vec<bool> = (0..10)
            .map(|_| b.decide(Endpoint::Cart, T).fault != Fault::None)
            .collect();
        assert_eq!(hits, again);
        b.set_rules(
            Endpoint::Cart,
            vec![Rule {
                rate: 0.1,
                ..Rule::always(Fault::Error { status: 500 })
            }],
        );
        let n = (0..100)
            .filter(|_| b.decide(Endpoint::Cart, T).fault != Fault::None)
            .count();
        assert_eq!(n, 10);
    }
}
