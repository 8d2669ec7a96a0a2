//! Fault injection: per endpoint, what the next calls should suffer. Pure
//! state behind a std mutex (held for microseconds, never across an await).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use serde::{Deserialize, Serialize};

/// Endpoints that can be made to fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

/// What a faulty endpoint does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Fault {
    /// Behave normally.
    None,
    /// Answer with this status and a JSON error body.
    Error {
        /// HTTP status, e.g. 503.
        status: u16,
    },
    /// Answer normally after this many ms.
    Delay {
        /// Added latency.
        ms: u64,
    },
    /// Never answer (until the fault is cleared or the client gives up).
    Hang,
}

/// The faults in force. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct FaultBoard(Arc<Mutex<HashMap<Endpoint, Fault>>>);

impl FaultBoard {
    /// Set the fault for an endpoint.
    pub fn set(&self, endpoint: Endpoint, fault: Fault) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if fault == Fault::None {
            map.remove(&endpoint);
        } else {
            map.insert(endpoint, fault);
        }
    }

    /// The fault for an endpoint.
    pub fn get(&self, endpoint: Endpoint) -> Fault {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&endpoint).copied().unwrap_or(Fault::None)
    }

    /// Every fault in force.
    pub fn all(&self) -> HashMap<Endpoint, Fault> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_clear() {
        let b = FaultBoard::default();
        assert_eq!(b.get(Endpoint::Checkout), Fault::None);
        b.set(Endpoint::Checkout, Fault::Error { status: 503 });
        assert_eq!(b.get(Endpoint::Checkout), Fault::Error { status: 503 });
        b.set(Endpoint::Checkout, Fault::None);
        assert!(b.all().is_empty());
    }

    #[test]
    fn wire_format() {
        let f: Fault = serde_json::from_str(r#"{"mode":"error","status":503}"#).unwrap();
        assert_eq!(f, Fault::Error { status: 503 });
        let f: Fault = serde_json::from_str(r#"{"mode":"delay","ms":4000}"#).unwrap();
        assert_eq!(f, Fault::Delay { ms: 4000 });
    }
}
