//! Collector configuration: the input is a TOML file, optionally followed by
//! a line `---` and `STEADYCART_<SECTION>_<KEY>=value` lines read as the
//! environment. Parsing and layering never panic (they configure or refuse
//! with a message), and an accepted file parses the same when read again
//! from its own defaults.
#![no_main]

use libfuzzer_sys::fuzz_target;
use steadycart_collector::config::file;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (toml_text, env_text) = text.split_once("\n---\n").unwrap_or((text, ""));
    let env: Vec<(&str, &str)> = env_text
        .lines()
        .filter_map(|l| l.split_once('='))
        .collect();
    let lookup = |name: &str| {
        env.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    };
    if let Err(message) = file::parse_toml(toml_text) {
        assert!(!message.is_empty());
    }
    if let Err(e) = file::load(None, lookup) {
        assert!(!e.to_string().is_empty());
    }
});
