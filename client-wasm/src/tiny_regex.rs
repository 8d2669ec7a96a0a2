//! A tiny regular-expression matcher for `re:` endpoint rules, so shops can
//! write `re:^/api/v[0-9]+/price/[a-z0-9-]+$` without the snippet shipping
//! a regex engine (regex-lite alone would add more than the whole watch
//! logic). Matching is on bytes, backtracking, unanchored unless `^`/`$`.
//!
//! Supported: literals, `.`, classes `[a-z0-9_-]` / `[^/]`, escapes `\d \w
//! \s \D \W \S` and `\` before any punctuation, quantifiers `* + ?` on one
//! atom, anchors `^ $`, alternation `|` at the top level. Anything else
//! (groups, braces, backreferences) is refused with a reason, never
//! silently misread. Backtracking is bounded by [`STEP_BUDGET`]: a pattern
//! that would need more work on some URL simply does not match it, so a
//! call is never slowed down by a rule.

/// Most matching steps spent on one URL.
pub const STEP_BUDGET: u32 = 20_000;

/// A parsed pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Regex {
    alternatives: Vec<Vec<Piece>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Piece {
    atom: Atom,
    min: u8,
    many: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Atom {
    Byte(u8),
    Any,
    Class {
        negated: bool,
        ranges: Vec<(u8, u8)>,
    },
    Start,
    End,
}

fn escape_class(c: u8) -> Option<(bool, Vec<(u8, u8)>)> {
    let (neg, ranges) = match c.to_ascii_lowercase() {
        b'd' => (false, vec![(b'0', b'9')]),
        b'w' => (
            false,
            vec![(b'a', b'z'), (b'A', b'Z'), (b'0', b'9'), (b'_', b'_')],
        ),
        b's' => (false, vec![(b' ', b' '), (b'\t', b'\r')]),
        _ => return None,
    };
    Some((neg ^ c.is_ascii_uppercase(), ranges))
}

impl Regex {
    /// Parse `pattern`; the reason on error.
    pub fn parse(pattern: &str) -> Result<Regex, &'static str> {
        let b = pattern.as_bytes();
        let mut alternatives: Vec<Vec<Piece>> = vec![Vec::new()];
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            i += 1;
            let atom = match c {
                b'|' => {
                    alternatives.push(Vec::new());
                    continue;
                }
                b'*' | b'+' | b'?' => {
                    let last = alternatives
                        .last_mut()
                        .and_then(|a| a.last_mut())
                        .filter(|p| p.min == 1 && !p.many)
                        .filter(|p| !matches!(p.atom, Atom::Start | Atom::End))
                        .ok_or("regex: quantifier without something to repeat")?;
                    last.min = u8::from(c == b'+');
                    last.many = c != b'?';
                    continue;
                }
                b'(' | b')' | b'{' | b'}' => return Err("regex: groups and {n} are not supported"),
                b'.' => Atom::Any,
                b'^' => Atom::Start,
                b'$' => Atom::End,
                b'\\' => {
                    let e = *b.get(i).ok_or("regex: trailing backslash")?;
                    i += 1;
                    match escape_class(e) {
                        Some((negated, ranges)) => Atom::Class { negated, ranges },
                        None if e.is_ascii_punctuation() => Atom::Byte(e),
                        None => return Err("regex: unknown escape"),
                    }
                }
                b'[' => {
                    let negated = b.get(i) == Some(&b'^');
                    if negated {
                        i += 1;
                    }
                    let mut ranges = Vec::new();
                    loop {
                        let c = *b.get(i).ok_or("regex: unclosed [")?;
                        i += 1;
                        let lo = match c {
                            b']' if !ranges.is_empty() => break,
                            b'\\' => {
                                let e = *b.get(i).ok_or("regex: trailing backslash")?;
                                i += 1;
                                if let Some((false, r)) = escape_class(e) {
                                    ranges.extend(r);
                                    continue;
                                }
                                e
                            }
                            c => c,
                        };
                        if b.get(i) == Some(&b'-') && b.get(i + 1).is_some_and(|&h| h != b']') {
                            let hi = b[i + 1];
                            i += 2;
                            if hi < lo {
                                return Err("regex: reversed range in [ ]");
                            }
                            ranges.push((lo, hi));
                        } else {
                            ranges.push((lo, lo));
                        }
                    }
                    Atom::Class { negated, ranges }
                }
                c => Atom::Byte(c),
            };
            if let Some(alt) = alternatives.last_mut() {
                alt.push(Piece {
                    atom,
                    min: 1,
                    many: false,
                });
            }
        }
        Ok(Regex { alternatives })
    }

    /// Whether the pattern matches anywhere in `text`.
    pub fn is_match(&self, text: &str) -> bool {
        let t = text.as_bytes();
        let mut budget = STEP_BUDGET;
        self.alternatives
            .iter()
            .any(|alt| (0..=t.len()).any(|start| match_here(alt, t, start, &mut budget)))
    }
}

fn atom_matches(atom: &Atom, t: &[u8], at: usize) -> bool {
    let Some(&c) = t.get(at) else {
        return false;
    };
    match atom {
        Atom::Byte(b) => *b == c,
        Atom::Any => true,
        Atom::Class { negated, ranges } => {
            ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&c)) != *negated
        }
        Atom::Start | Atom::End => false,
    }
}

fn match_here(pieces: &[Piece], t: &[u8], at: usize, budget: &mut u32) -> bool {
    let Some((p, rest)) = pieces.split_first() else {
        return true;
    };
    if *budget == 0 {
        return false;
    }
    *budget -= 1;
    match p.atom {
        Atom::Start => return at == 0 && match_here(rest, t, at, budget),
        Atom::End => return at == t.len() && match_here(rest, t, at, budget),
        _ => {}
    }
    // Greedy: take as many as allowed, then back off.
    let max = if p.many { t.len() - at } else { 1 };
    let mut n = 0;
    while n < max && atom_matches(&p.atom, t, at + n) {
        n += 1;
    }
    loop {
        if n >= usize::from(p.min) && match_here(rest, t, at + n, budget) {
            return true;
        }
        if n == 0 {
            return false;
        }
        n -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, t: &str) -> bool {
        Regex::parse(p).unwrap().is_match(t)
    }

    #[test]
    fn matches_like_a_regex_engine() {
        assert!(m("^/api/v[0-9]+/price/[a-z0-9-]+$", "/api/v2/price/sku-1"));
        assert!(!m("^/api/v[0-9]+/price/[a-z0-9-]+$", "/api/v/price/sku-1"));
        assert!(!m(
            "^/api/v[0-9]+/price/[a-z0-9-]+$",
            "/api/v2/price/sku-1/x"
        ));
        assert!(m("price", "/api/price/1"), "unanchored search");
        assert!(m("^/cart$|^/basket$", "/basket"));
        assert!(!m("^/cart$|^/basket$", "/basket/1"));
        assert!(m(r"^/p/\d+\.json$", "/p/42.json"));
        assert!(!m(r"^/p/\d+\.json$", "/p/42xjson"));
        assert!(m("^/a/[^/]*/c$", "/a/bb/c"));
        assert!(!m("^/a/[^/]*/c$", "/a/b/b/c"));
        assert!(m("^/x-?y$", "/xy") && m("^/x-?y$", "/x-y"));
        assert!(m(r"^/\w+$", "/abc_1") && !m(r"^/\W+$", "/abc"));
        assert!(m("^/a.*z$", "/a/b/c/z"));
    }

    #[test]
    fn unsupported_syntax_is_refused() {
        assert!(Regex::parse("^/(a|b)$").is_err());
        assert!(Regex::parse("a{2}").is_err());
        assert!(Regex::parse("*a").is_err());
        assert!(Regex::parse("a**").is_err());
        assert!(Regex::parse("[a-").is_err());
        assert!(Regex::parse("[z-a]").is_err());
        assert!(Regex::parse("a\\").is_err());
        assert!(Regex::parse(r"\q").is_err());
    }

    #[test]
    fn pathological_inputs_stay_cheap() {
        // Unanchored `a*a*a*b` on a long run of `a` is cubic: the step
        // budget ends it quickly (no match) instead of freezing the page.
        let long = "a".repeat(5000);
        let start = std::time::Instant::now();
        assert!(!m("a*a*a*b", &long));
        assert!(start.elapsed() < std::time::Duration::from_secs(1));
        assert!(m("a*b", "aaab"), "ordinary patterns stay within budget");
    }
}
