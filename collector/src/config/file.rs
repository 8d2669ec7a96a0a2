//! Configuration from a TOML file and the environment.
//!
//! Precedence, lowest first: built-in defaults ([`Config::default`]), the TOML
//! file (`collector serve --config PATH` or `STEADYCART_CONFIG`), environment
//! variables `STEADYCART_<SECTION>_<KEY>` (one per option, e.g.
//! `STEADYCART_INGEST_MAX_BODY_BYTES=524288`,
//! `STEADYCART_SIGNALS_DETECTOR_ALPHA=1e-5`), then command-line flags.
//!
//! The file has one table per concern — `[server]`, `[ingest]`, `[signals]`,
//! `[recovery]`
//! (and more as features add theirs). Unknown keys are errors, so a typo never
//! silently leaves a default in force. Durations are strings (`"10s"`,
//! `"500ms"`, `"7days"`); optional strings are `""` when unset.
//! `collector/collector.example.toml` lists every option with its default; a
//! test keeps it equal to [`Config::default`].
//!
//! Adding a section: give the new config type `Serialize + Deserialize` with
//! `#[serde(default, deny_unknown_fields)]`, add the field to [`Config`] and
//! to [`ConfigFile`] (and its two conversions), then document it in the
//! example file (the test fails until you do).

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use serde::{Deserialize, Serialize};

use super::{Config, IngestConfig};
use crate::signals::SignalsConfig;

/// Why configuration could not be loaded. Never contains option values
/// (they may be secrets), only where the problem is.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has a wrong or unknown key.
    #[error("config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What and where.
        message: String,
    },
    /// An environment variable does not fit its option.
    #[error("environment variable {var}: {message}")]
    Env {
        /// The variable.
        var: String,
        /// What is wrong.
        message: String,
    },
    /// A value is out of its option's range (see [`Config::validate`]).
    #[error("config option {option}: {message}")]
    Invalid {
        /// The option, as `[section] key`.
        option: String,
        /// What the option needs.
        message: String,
    },
}

/// The on-disk shape of [`Config`]: one table per section.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigFile {
    /// `[server]`.
    pub server: ServerSection,
    /// `[ingest]`.
    pub ingest: IngestConfig,
    /// `[signals]`.
    pub signals: SignalsConfig,
    /// `[recovery]`.
    pub recovery: crate::recovery::RecoveryConfig,
}

/// `[server]`: where the collector listens, stores and logs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSection {
    /// See [`Config::listen`].
    pub listen: SocketAddr,
    /// See [`Config::data_dir`].
    pub data_dir: PathBuf,
    /// See [`Config::database_url`].
    #[serde(with = "opt_string")]
    pub database_url: Option<String>,
    /// See [`Config::snippet_dir`].
    pub snippet_dir: PathBuf,
    /// See [`Config::body_deadline`].
    #[serde(with = "duration")]
    pub body_deadline: Duration,
    /// See [`crate::http::conn::ConnLimits::header_timeout`].
    #[serde(with = "duration")]
    pub header_timeout: Duration,
    /// See [`crate::http::conn::ConnLimits::max_header_bytes`].
    pub max_header_bytes: usize,
    /// See [`Config::log_json`].
    pub log_json: bool,
    /// See [`Config::trusted_proxies`].
    pub trusted_proxies: Vec<super::net::IpNet>,
    /// See [`Config::metrics_token`].
    #[serde(with = "opt_string")]
    pub metrics_token: Option<String>,
}

impl Default for ConfigFile {
    fn default() -> Self {
        Config::default().into()
    }
}

impl Default for ServerSection {
    fn default() -> Self {
        ConfigFile::default().server
    }
}

impl From<Config> for ConfigFile {
    fn from(c: Config) -> Self {
        ConfigFile {
            server: ServerSection {
                listen: c.listen,
                data_dir: c.data_dir,
                database_url: c.database_url,
                snippet_dir: c.snippet_dir,
                body_deadline: c.body_deadline,
                header_timeout: c.conn.header_timeout,
                max_header_bytes: c.conn.max_header_bytes,
                log_json: c.log_json,
                trusted_proxies: c.trusted_proxies,
                metrics_token: c.metrics_token,
            },
            ingest: c.ingest,
            signals: c.signals,
            recovery: c.recovery,
        }
    }
}

impl From<ConfigFile> for Config {
    fn from(f: ConfigFile) -> Self {
        Config {
            listen: f.server.listen,
            data_dir: f.server.data_dir,
            database_url: f.server.database_url,
            snippet_dir: f.server.snippet_dir,
            body_deadline: f.server.body_deadline,
            conn: crate::http::conn::ConnLimits {
                header_timeout: f.server.header_timeout,
                // hyper's read buffer can't be smaller than 8 KiB.
                max_header_bytes: f.server.max_header_bytes.max(8192),
                ..Default::default()
            },
            log_json: f.server.log_json,
            trusted_proxies: f.server.trusted_proxies,
            metrics_token: f.server.metrics_token,
            ingest: f.ingest,
            signals: f.signals,
            recovery: f.recovery,
        }
    }
}

/// Parse a TOML document into a [`Config`]; missing keys keep defaults.
/// Errors give the line and key but never echo the line itself (it may hold
/// a password).
pub fn parse_toml(text: &str) -> Result<Config, String> {
    toml::from_str::<ConfigFile>(text)
        .map(Config::from)
        .map_err(|e| match e.span() {
            Some(span) => {
                let line_no = text[..span.start.min(text.len())].matches('\n').count() + 1;
                let line = text.lines().nth(line_no - 1).unwrap_or("");
                let key = line.split('=').next().unwrap_or("").trim();
                if line.contains('=') && !key.is_empty() {
                    format!("line {line_no} (`{key}`): {}", without_value(e.message()))
                } else {
                    format!("line {line_no}: {}", without_value(e.message()))
                }
            }
            None => without_value(e.message()),
        })
}

/// `message` without the value serde quotes in "invalid type: string
/// \"…\", expected …" and "invalid value: integer `…`, expected …": the
/// value may be a secret in the wrong place.
fn without_value(message: &str) -> String {
    for lead in ["invalid type: ", "invalid value: "] {
        let Some(start) = message.find(lead) else {
            continue;
        };
        let rest = &message[start + lead.len()..];
        let Some(end) = rest.find(", expected") else {
            continue;
        };
        let kind = rest[..end]
            .split(['`', '"'])
            .next()
            .unwrap_or("")
            .trim_end();
        return format!("{}{lead}{kind}{}", &message[..start], &rest[end..]);
    }
    message.to_string()
}

/// Load configuration: defaults, then the file at `path` (if any), then
/// `STEADYCART_<SECTION>_<KEY>` variables read through `env`.
pub fn load(
    path: Option<&std::path::Path>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let config = match path {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            parse_toml(&text).map_err(|message| ConfigError::Parse {
                path: path.to_path_buf(),
                message,
            })?
        }
        None => Config::default(),
    };
    let config = apply_env(config, env)?;
    config.validate()?;
    Ok(config)
}

/// The environment variable that overrides the option at `path`
/// (`["ingest", "max_body_bytes"]` → `STEADYCART_INGEST_MAX_BODY_BYTES`).
pub fn env_var_name(path: &[&str]) -> String {
    format!("STEADYCART_{}", path.join("_").to_ascii_uppercase())
}

/// Every option as its dotted path (`ingest.max_body_bytes`), in file order.
pub fn option_paths() -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(toml::Value::Table(t)) = toml::Value::try_from(ConfigFile::default()) {
        collect_paths(&t, &mut Vec::new(), &mut out);
    }
    out
}

fn collect_paths(t: &toml::Table, prefix: &mut Vec<String>, out: &mut Vec<String>) {
    for (k, v) in t {
        prefix.push(k.clone());
        match v {
            toml::Value::Table(inner) => collect_paths(inner, prefix, out),
            _ => out.push(prefix.join(".")),
        }
        prefix.pop();
    }
}

fn apply_env(config: Config, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
    let toml::Value::Table(mut table) =
        toml::Value::try_from(ConfigFile::from(config)).map_err(|e| ConfigError::Env {
            var: "STEADYCART_*".into(),
            message: e.to_string(),
        })?
    else {
        unreachable!("a struct serializes to a table")
    };
    let mut applied = Vec::new();
    override_leaves(&mut table, &mut Vec::new(), &env, &mut applied)?;
    let file: ConfigFile = toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| ConfigError::Env {
            var: applied.join(" or "),
            message: without_value(e.message()),
        })?;
    Ok(file.into())
}

fn override_leaves(
    table: &mut toml::Table,
    prefix: &mut Vec<String>,
    env: &impl Fn(&str) -> Option<String>,
    applied: &mut Vec<String>,
) -> Result<(), ConfigError> {
    for (k, v) in table.iter_mut() {
        prefix.push(k.clone());
        if let toml::Value::Table(inner) = v {
            override_leaves(inner, prefix, env, applied)?;
        } else {
            let parts: Vec<&str> = prefix.iter().map(String::as_str).collect();
            let var = env_var_name(&parts);
            if let Some(raw) = env(&var) {
                *v = env_value(v, &raw).map_err(|message| ConfigError::Env {
                    var: var.clone(),
                    message,
                })?;
                applied.push(var);
            }
        }
        prefix.pop();
    }
    Ok(())
}

/// Read `raw` as a value of the same kind as `current`.
fn env_value(current: &toml::Value, raw: &str) -> Result<toml::Value, String> {
    use toml::Value as V;
    let raw = raw.trim();
    Ok(match current {
        V::String(_) => V::String(raw.to_string()),
        V::Integer(_) => V::Integer(raw.parse().map_err(|_| "expected an integer".to_string())?),
        V::Float(_) => V::Float(raw.parse().map_err(|_| "expected a number".to_string())?),
        V::Boolean(_) => V::Boolean(match raw.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => true,
            "0" | "false" | "no" | "off" | "" => false,
            _ => return Err("expected true or false".into()),
        }),
        V::Array(_) => {
            // A TOML array (`["a","b"]`), or a comma-separated list of strings.
            if raw.starts_with('[') {
                let t: toml::Table = toml::from_str(&format!("x = {raw}"))
                    .map_err(|_| "expected a TOML array".to_string())?;
                t["x"].clone()
            } else {
                V::Array(
                    raw.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| V::String(s.to_string()))
                        .collect(),
                )
            }
        }
        V::Datetime(_) | V::Table(_) => return Err("not settable from the environment".into()),
    })
}

/// Serde for [`Duration`] as a human string: `"10s"`, `"1500ms"`, `"7days"`.
pub mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Write as e.g. `"10s"`.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    /// Read `"10s"`, `"1m 30s"`, `"250ms"`, `"7days"`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        // The message does not repeat the text (it may be a misplaced
        // secret), nor humantime's error, which quotes it.
        humantime::parse_duration(&text).map_err(|_| {
            serde::de::Error::custom("invalid duration; write e.g. \"10s\", \"250ms\", \"7days\"")
        })
    }
}

/// Serde for `Option<String>` as a string that is `""` when unset (TOML has
/// no null, and an always-present key keeps every option documented).
pub mod opt_string {
    use serde::{Deserialize, Deserializer, Serializer};

    /// `None` → `""`.
    pub fn serialize<S: Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v.as_deref().unwrap_or(""))
    }

    /// `""` → `None`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        let text = String::deserialize(d)?;
        Ok((!text.is_empty()).then_some(text))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const EXAMPLE: &str = include_str!("../../collector.example.toml");

    fn as_toml(c: &Config) -> toml::Value {
        toml::Value::try_from(ConfigFile::from(c.clone())).unwrap()
    }

    #[test]
    fn example_file_equals_the_defaults() {
        let parsed = parse_toml(EXAMPLE).unwrap();
        assert_eq!(as_toml(&parsed), as_toml(&Config::default()));
    }

    #[test]
    fn example_file_sets_every_option_explicitly() {
        let raw: toml::Table = toml::from_str(EXAMPLE).unwrap();
        for path in option_paths() {
            let mut at = Some(&raw);
            let parts: Vec<&str> = path.split('.').collect();
            let (leaf, tables) = parts.split_last().unwrap();
            for p in tables {
                at = at.and_then(|t| t.get(*p)).and_then(|v| v.as_table());
            }
            assert!(
                at.is_some_and(|t| t.contains_key(*leaf)),
                "collector.example.toml does not document `{path}`"
            );
        }
    }

    #[test]
    fn empty_file_is_the_defaults() {
        assert_eq!(
            as_toml(&parse_toml("").unwrap()),
            as_toml(&Config::default())
        );
    }

    #[test]
    fn file_values_are_read() {
        let c = parse_toml(
            r#"
            [server]
            listen = "0.0.0.0:9000"
            database_url = "postgres://u:p@db/x"
            body_deadline = "2s 500ms"
            [ingest]
            max_body_bytes = 1000
            [signals]
            bucket = "10s"
            [signals.detector]
            alpha = 0.001
            "#,
        )
        .unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.database_url.as_deref(), Some("postgres://u:p@db/x"));
        assert_eq!(c.body_deadline, Duration::from_millis(2500));
        assert_eq!(c.ingest.max_body_bytes, 1000);
        assert_eq!(c.signals.bucket, Duration::from_secs(10));
        assert_eq!(c.signals.detector.alpha, 0.001);
        assert_eq!(
            c.ingest.queue_capacity,
            IngestConfig::default().queue_capacity
        );
    }

    #[test]
    fn typos_and_wrong_types_are_errors_naming_the_key() {
        let err = parse_toml("[ingest]\nmax_body_byte = 5\n").unwrap_err();
        assert!(err.contains("max_body_byte"), "{err}");
        let err = parse_toml("[ingest]\nmax_body_bytes = \"big\"\n").unwrap_err();
        assert!(err.contains("max_body_bytes"), "{err}");
        let err = parse_toml("[server]\nbody_deadline = \"soon\"\n").unwrap_err();
        assert!(err.contains("invalid duration"), "{err}");
        let err = parse_toml("[server]\ntrusted_proxies = [\"10.0.0.0/40\"]\n").unwrap_err();
        assert!(err.contains("invalid network"), "{err}");
    }

    #[test]
    fn environment_overrides_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "[ingest]\nmax_body_bytes = 1000\nqueue_capacity = 7\n",
        )
        .unwrap();
        let vars: HashMap<&str, &str> = [
            ("STEADYCART_INGEST_MAX_BODY_BYTES", "2000"),
            ("STEADYCART_SERVER_LOG_JSON", "true"),
            ("STEADYCART_SIGNALS_BUCKET", "15s"),
            ("STEADYCART_SIGNALS_DETECTOR_MIN_RATIO", "2.5"),
            ("STEADYCART_SERVER_DATABASE_URL", "postgres://db/x"),
            ("STEADYCART_SERVER_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1"),
        ]
        .into();
        let c = load(Some(&path), |k| vars.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(c.ingest.max_body_bytes, 2000);
        assert_eq!(c.ingest.queue_capacity, 7, "file value kept");
        assert!(c.log_json);
        assert_eq!(c.signals.bucket, Duration::from_secs(15));
        assert_eq!(c.signals.detector.min_ratio, 2.5);
        assert_eq!(c.database_url.as_deref(), Some("postgres://db/x"));
        assert_eq!(c.trusted_proxies.len(), 2);
        assert!(c.trusted_proxies[0].contains("10.9.8.7".parse().unwrap()));
    }

    #[test]
    fn bad_environment_values_name_the_variable() {
        let err = load(None, |k| {
            (k == "STEADYCART_INGEST_QUEUE_CAPACITY").then(|| "lots".to_string())
        })
        .unwrap_err();
        assert!(
            err.to_string().contains("STEADYCART_INGEST_QUEUE_CAPACITY"),
            "{err}"
        );
        let err = load(None, |k| {
            (k == "STEADYCART_SIGNALS_TICK").then(|| "x".to_string())
        })
        .unwrap_err();
        assert!(err.to_string().contains("invalid duration"), "{err}");
        assert!(err.to_string().contains("STEADYCART_SIGNALS_TICK"), "{err}");
    }

    #[test]
    fn values_the_collector_cannot_run_with_are_refused_by_name() {
        assert!(Config::default().validate().is_ok());
        assert!(parse_toml(EXAMPLE).unwrap().validate().is_ok());
        for (var, value, option) in [
            (
                "STEADYCART_INGEST_QUEUE_CAPACITY",
                "0",
                "[ingest] queue_capacity",
            ),
            (
                "STEADYCART_INGEST_WRITER_MAX_EVENTS",
                "0",
                "[ingest] writer_max_events",
            ),
            (
                "STEADYCART_INGEST_MAX_BODY_BYTES",
                "0",
                "[ingest] max_body_bytes",
            ),
            (
                "STEADYCART_INGEST_MAX_QUEUE_WAIT",
                "0s",
                "[ingest] max_queue_wait",
            ),
            (
                "STEADYCART_SERVER_BODY_DEADLINE",
                "0s",
                "[server] body_deadline",
            ),
            (
                "STEADYCART_SERVER_HEADER_TIMEOUT",
                "0s",
                "[server] header_timeout",
            ),
            ("STEADYCART_SIGNALS_BUCKET", "500ms", "[signals] bucket"),
            ("STEADYCART_SIGNALS_TICK", "0s", "[signals] tick"),
            ("STEADYCART_SIGNALS_LEASE_TTL", "1s", "[signals] lease_ttl"),
            (
                "STEADYCART_SIGNALS_MIN_BACKOFF",
                "0s",
                "[signals] min_backoff",
            ),
            (
                "STEADYCART_SIGNALS_MAX_BACKOFF",
                "1s",
                "[signals] max_backoff",
            ),
            ("STEADYCART_RECOVERY_TICK", "0s", "[recovery] tick"),
            (
                "STEADYCART_RECOVERY_MIN_BACKOFF",
                "0s",
                "[recovery] min_backoff",
            ),
            (
                "STEADYCART_RECOVERY_MAX_BACKOFF",
                "1s",
                "[recovery] max_backoff",
            ),
        ] {
            let err = load(None, |k| (k == var).then(|| value.to_string())).unwrap_err();
            assert!(
                matches!(&err, ConfigError::Invalid { option: o, .. } if o == option),
                "{var}={value}: {err}"
            );
            assert!(err.to_string().contains(option), "{err}");
        }
        let err = load(None, |k| {
            (k == "STEADYCART_SIGNALS_DETECTOR_ALPHA").then(|| "0.5".to_string())
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "config option [signals.detector] alpha: must be in (0, 0.1]"
        );
        // The same from a file.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[ingest]\nqueue_capacity = 0\n").unwrap();
        let err = load(Some(&path), |_| None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "config option [ingest] queue_capacity: must be at least 1"
        );
    }

    #[test]
    fn errors_never_repeat_the_value() {
        for text in [
            "[recovery]\nsmtp_password = 12345\n",
            "[ingest]\nmax_queue_wait = \"s3cretq\"\n",
            "[server]\ntrusted_proxies = [\"s3cret9\"]\n",
            "[ingest]\nqueue_capacity = \"s3cret\"\n",
            "[signals.detector]\nalpha = \"s3cret\"\n",
        ] {
            let err = parse_toml(text).unwrap_err();
            assert!(
                !err.contains("s3cret") && !err.contains("12345"),
                "{text}: {err}"
            );
            assert!(err.contains("line 2"), "{err}");
        }
        for (var, value) in [
            ("STEADYCART_INGEST_MAX_QUEUE_WAIT", "s3cretq"),
            ("STEADYCART_SERVER_TRUSTED_PROXIES", "s3cret9"),
        ] {
            let err = load(None, |k| (k == var).then(|| value.to_string()))
                .map(|_| ())
                .unwrap_err()
                .to_string();
            assert!(!err.contains("s3cret"), "{var}: {err}");
            assert!(err.contains(var), "{err}");
        }
        assert_eq!(
            without_value("invalid type: integer `12345`, expected a string"),
            "invalid type: integer, expected a string"
        );
        assert_eq!(
            without_value("invalid value: string \"x, y\", expected z"),
            "invalid value: string, expected z"
        );
    }

    #[test]
    fn missing_file_is_an_error_naming_it() {
        let err = load(Some(std::path::Path::new("/nonexistent/c.toml")), |_| None).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/c.toml"), "{err}");
    }

    #[test]
    fn parse_errors_do_not_echo_secret_values() {
        let err =
            parse_toml("[server]\ndatabase_url = \"postgres://u:hunter2@db/x\" x\n").unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
        assert!(err.contains("line 2"), "{err}");
        let err = parse_toml("[server]\ndatabase_url = 5\n").unwrap_err();
        assert!(err.contains("database_url"), "{err}");
    }
}
