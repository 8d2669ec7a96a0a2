//! The client's IP address: the socket's peer, or — only when that peer is a
//! configured trusted proxy — the nearest untrusted address in
//! `X-Forwarded-For` (read right to left, because a client can put anything
//! on the left of that header).

use std::net::{IpAddr, SocketAddr};

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{request::Parts, HeaderMap},
};

use crate::{config::net::IpNet, state::AppState};

/// The resolved client address; `None` without connection info (the router
/// called in-process, as tests do: there is no client to limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub Option<IpAddr>);

/// Resolve the client address from the peer and the headers.
pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let mut client = peer;
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !is_trusted(ip) {
                    break;
                }
            }
            // Garbage in the chain: stop at the last address we could trust.
            Err(_) => break,
        }
    }
    client
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(ClientIp(peer.map(|peer| {
            resolve(peer, &parts.headers, &state.config.trusted_proxies)
        })))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn header_is_ignored_unless_the_peer_is_trusted() {
        let h = xff(&["198.51.100.1"]);
        assert_eq!(resolve(ip("203.0.113.9"), &h, &[]), ip("203.0.113.9"));
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        assert_eq!(resolve(ip("203.0.113.9"), &h, &trusted), ip("203.0.113.9"));
        assert_eq!(resolve(ip("10.0.0.2"), &h, &trusted), ip("198.51.100.1"));
    }

    #[test]
    fn spoofed_left_entries_do_not_count() {
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        // The client claims 1.1.1.1; our proxy appended the real address.
        let h = xff(&["1.1.1.1, 198.51.100.1", "10.0.0.5"]);
        assert_eq!(resolve(ip("10.0.0.2"), &h, &trusted), ip("198.51.100.1"));
    }

    #[test]
    fn garbage_stops_at_the_last_trusted_hop() {
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        let h = xff(&["nonsense, 10.0.0.7"]);
        assert_eq!(resolve(ip("10.0.0.2"), &h, &trusted), ip("10.0.0.7"));
        assert_eq!(
            resolve(ip("10.0.0.2"), &HeaderMap::new(), &trusted),
            ip("10.0.0.2")
        );
    }
}
