//! Endpoint rules and call URLs: the first line is a rule list, the second a
//! method, the rest a URL. Parsing and matching never panic; a stripped URL
//! holds no query or fragment.
#![no_main]

use libfuzzer_sys::fuzz_target;
use steadycart_client::rules;
use steadycart_protocol::Role;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.splitn(3, '\n');
    let list = parts.next().unwrap_or("");
    let method = parts.next().unwrap_or("GET");
    let url = parts.next().unwrap_or("");
    for role in [Role::Cart, Role::Checkout, Role::Payment, Role::Price] {
        if let Ok(r) = rules::parse_rules(role, list) {
            let _ = rules::role_of(&r, method, url, "https://shop.example");
        }
    }
    let stripped = rules::strip_query(url);
    assert!(!stripped.contains('?') && !stripped.contains('#'));
});
