//! Ingest bodies: parsing and validation never panic, and every refusal names
//! a field.
#![no_main]

use libfuzzer_sys::fuzz_target;
use steadycart_collector::{config::IngestConfig, ingest::validate};

fuzz_target!(|data: &[u8]| {
    let limits = IngestConfig::default();
    match validate::parse(data) {
        Ok(batch) => {
            if let Err(e) = validate::validate(batch, 1, 1_790_000_000_000, &limits) {
                assert!(!e.field.is_empty());
            }
        }
        Err(e) => assert!(!e.field.is_empty()),
    }
});
