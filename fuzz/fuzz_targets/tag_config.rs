//! Tag configuration: each line `name=value` is one attribute of the script
//! tag. Building the configuration never panics (it configures or refuses).
#![no_main]

use libfuzzer_sys::fuzz_target;
use steadycart_client::config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let attrs: Vec<(String, String)> = text
        .lines()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.to_string(), String::new()),
        })
        .collect();
    let _ = config::from_attributes(&attrs, "https://collector.example/snippet/steadycart.js");
});
