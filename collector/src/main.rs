//! `collector`: the Steadycart collector binary. Thin: parse the command line,
//! set up tracing, then [`steadycart_collector::serve`] or a site command.

use std::{net::SocketAddr, path::PathBuf};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use steadycart_collector::{config::Config, keys, store::Db};
use steadycart_protocol::api::SiteCreated;

#[derive(Parser, Debug)]
#[command(name = "collector", version, about = "Steadycart collector")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the collector.
    Serve(Box<ServeArgs>),
    /// Manage sites.
    #[command(subcommand)]
    Site(SiteCommand),
}

#[derive(Args, Debug, Clone)]
struct DbArgs {
    /// TOML configuration file (see collector/collector.example.toml); the
    /// flags below and `STEADYCART_<SECTION>_<KEY>` variables override it.
    #[arg(long, env = "STEADYCART_CONFIG")]
    config: Option<PathBuf>,
    /// Directory for the embedded SQLite database (default `data`).
    #[arg(long, env = "STEADYCART_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Database URL (`sqlite://…` or `postgres://…`); default: SQLite in the data dir.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
}

impl DbArgs {
    /// Defaults, then the config file, then `STEADYCART_<SECTION>_<KEY>`
    /// variables, then these flags.
    fn load(&self) -> anyhow::Result<Config> {
        let mut config = steadycart_collector::config::file::load(self.config.as_deref(), |k| {
            std::env::var(k).ok()
        })?;
        if let Some(dir) = &self.data_dir {
            config.data_dir = dir.clone();
        }
        if let Some(url) = &self.database_url {
            config.database_url = Some(url.clone());
        }
        Ok(config)
    }
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// Address to listen on (default 127.0.0.1:7070).
    #[arg(long, env = "STEADYCART_LISTEN")]
    listen: Option<SocketAddr>,
    /// Directory with the built snippet, `cargo xtask dist` (default dist/snippet).
    #[arg(long, env = "STEADYCART_SNIPPET_DIR")]
    snippet_dir: Option<PathBuf>,
    /// Log as JSON lines.
    #[arg(long, env = "STEADYCART_LOG_JSON")]
    log_json: bool,
    #[command(flatten)]
    db: DbArgs,
    #[command(flatten)]
    signals: SignalsArgs,
    #[command(flatten)]
    recovery: RecoveryArgs,
}

/// Command-line overrides of `[recovery]` (the file and
/// `STEADYCART_RECOVERY_<KEY>` variables set every option).
#[derive(Args)]
struct RecoveryArgs {
    /// Delay between a consented survey answer and its recovery email, ms (default 3600000).
    #[arg(long)]
    recovery_delay_ms: Option<u64>,
    /// At most one recovery email per contact within this period, ms (default 7 days).
    #[arg(long)]
    recovery_period_ms: Option<u64>,
    /// Hold recovery emails while the site has an open incident.
    #[arg(long)]
    recovery_wait_for_resolution: bool,
    /// First retry delay after an SMTP failure, ms (default 30000; doubles up to 1 h).
    #[arg(long)]
    recovery_min_backoff_ms: Option<u64>,
    /// Mailer tick, ms (default 1000).
    #[arg(long)]
    recovery_tick_ms: Option<u64>,
    /// SMTP server URL: smtp://host:25, smtp://host:587?tls=required (STARTTLS), smtps://host:465.
    /// Without it, emails are written as .eml files into the data dir.
    #[arg(long)]
    smtp_url: Option<String>,
    /// SMTP user name.
    #[arg(long)]
    smtp_username: Option<String>,
    /// SMTP password (prefer the environment variable).
    #[arg(long)]
    smtp_password: Option<String>,
    /// PEM file of root certificates to trust for the SMTP server's TLS certificate
    /// besides the built-in ones (private CA, self-signed relay); needs smtps:// or ?tls=required.
    #[arg(long)]
    smtp_ca_file: Option<PathBuf>,
    /// Directory for .eml files when no SMTP server is set (default <data dir>/recovery-mail).
    #[arg(long)]
    recovery_mail_dir: Option<PathBuf>,
    /// Secret signing recovery and unsubscribe links (default: one kept in the database).
    #[arg(long)]
    recovery_token_secret: Option<String>,
    /// Public base URL for unsubscribe links (default: --public-url).
    #[arg(long)]
    recovery_public_url: Option<String>,
    /// Don't send recovery emails from this instance.
    #[arg(long)]
    recovery_disabled: bool,
}

impl std::fmt::Debug for RecoveryArgs {
    // Secrets stay out of debug output; the applied config is logged redacted.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryArgs { .. }")
    }
}

impl RecoveryArgs {
    fn apply(self, c: &mut steadycart_collector::recovery::RecoveryConfig) {
        use std::time::Duration;
        let ms = Duration::from_millis;
        if let Some(v) = self.recovery_delay_ms {
            c.delay = ms(v);
        }
        if let Some(v) = self.recovery_period_ms {
            c.period = ms(v);
        }
        if let Some(v) = self.recovery_min_backoff_ms {
            c.min_backoff = ms(v.max(1));
        }
        if let Some(v) = self.recovery_tick_ms {
            c.tick = ms(v.max(10));
        }
        c.wait_for_resolution |= self.recovery_wait_for_resolution;
        c.smtp_url = self.smtp_url.or(c.smtp_url.take());
        c.smtp_username = self.smtp_username.or(c.smtp_username.take());
        c.smtp_password = self.smtp_password.or(c.smtp_password.take());
        c.smtp_ca_file = self
            .smtp_ca_file
            .map(|p| p.display().to_string())
            .or(c.smtp_ca_file.take());
        c.mail_dir = self
            .recovery_mail_dir
            .map(|p| p.display().to_string())
            .or(c.mail_dir.take());
        c.token_secret = self.recovery_token_secret.or(c.token_secret.take());
        c.public_url = self.recovery_public_url.or(c.public_url.take());
        c.enabled = c.enabled && !self.recovery_disabled;
    }
}

/// `[signals]` settings that are commonly overridden (defaults in
/// `signals::SignalsConfig`).
#[derive(Args, Debug)]
struct SignalsArgs {
    /// Rollup bucket, ms (default 60000).
    #[arg(long, env = "STEADYCART_SIGNALS_BUCKET_MS")]
    signals_bucket_ms: Option<u64>,
    /// Delay before a closed bucket is rolled up, ms (default 5000).
    #[arg(long, env = "STEADYCART_SIGNALS_SETTLE_MS")]
    signals_settle_ms: Option<u64>,
    /// Quiet time after a page exit that makes it an abandonment, ms (default 20000).
    #[arg(long, env = "STEADYCART_SIGNALS_EXIT_GRACE_MS")]
    signals_exit_grace_ms: Option<u64>,
    /// Leader lease, ms (default 15000).
    #[arg(long, env = "STEADYCART_SIGNALS_LEASE_MS")]
    signals_lease_ms: Option<u64>,
    /// Engine tick, ms (default 1000).
    #[arg(long, env = "STEADYCART_SIGNALS_TICK_MS")]
    signals_tick_ms: Option<u64>,
    /// PagerDuty Events API base URL.
    #[arg(long, env = "STEADYCART_PAGERDUTY_URL")]
    pagerduty_url: Option<String>,
    /// Opsgenie API base URL.
    #[arg(long, env = "STEADYCART_OPSGENIE_URL")]
    opsgenie_url: Option<String>,
    /// This collector's public URL, for links in notifications.
    #[arg(long, env = "STEADYCART_PUBLIC_URL")]
    public_url: Option<String>,
    /// Don't run detection and notification on this instance.
    #[arg(long, env = "STEADYCART_SIGNALS_DISABLED")]
    signals_disabled: bool,
}

impl SignalsArgs {
    fn apply(self, c: &mut steadycart_collector::signals::SignalsConfig) {
        use std::time::Duration;
        let ms = Duration::from_millis;
        if let Some(v) = self.signals_bucket_ms {
            c.bucket = ms(v.max(1));
        }
        if let Some(v) = self.signals_settle_ms {
            c.settle = ms(v);
        }
        if let Some(v) = self.signals_exit_grace_ms {
            c.exit_grace = ms(v);
        }
        if let Some(v) = self.signals_lease_ms {
            c.lease_ttl = ms(v);
        }
        if let Some(v) = self.signals_tick_ms {
            c.tick = ms(v.max(10));
        }
        if let Some(v) = self.pagerduty_url {
            c.pagerduty_url = v;
        }
        if let Some(v) = self.opsgenie_url {
            c.opsgenie_url = v;
        }
        c.public_url = self.public_url.or(c.public_url.take());
        if self.signals_disabled {
            c.enabled = false;
        }
    }
}

#[derive(Subcommand, Debug)]
enum SiteCommand {
    /// Register a site; prints JSON with its public `site_key` and its secret
    /// `admin_token` (shown once, stored only as a hash).
    Add {
        /// Display name.
        #[arg(long)]
        name: String,
        /// Allowed origin (scheme://host[:port]); repeat for several.
        #[arg(long = "origin", required = true)]
        origins: Vec<String>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Replace a site's admin token: prints JSON with the new `admin_token`
    /// (shown once); the old token stops working at once, or at the end of
    /// `--overlap`. Also undoes a revocation.
    RotateToken {
        /// The site's public key.
        #[arg(long)]
        site: String,
        /// Keep the old token working this long too (e.g. `1h`, at most
        /// 7 days), so scripts and open incident views can switch over. A
        /// token replaced by an earlier rotation stops at once either way.
        #[arg(long, value_parser = parse_overlap)]
        overlap: Option<std::time::Duration>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Revoke a site's admin token: no token opens the site's admin API or
    /// incident view until `rotate-token`.
    RevokeToken {
        /// The site's public key.
        #[arg(long)]
        site: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

/// `--overlap`: a duration of at most 7 days.
fn parse_overlap(text: &str) -> Result<std::time::Duration, String> {
    let d = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if d > std::time::Duration::from_secs(7 * 24 * 3600) {
        return Err("at most 7 days".into());
    }
    Ok(d)
}

/// Open the database named by `db` (migrated).
async fn open_db(db: DbArgs) -> anyhow::Result<Db> {
    let config = db.load()?;
    let db = Db::connect(&config.database_url()).await?;
    db.migrate().await?;
    Ok(db)
}

fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn normalize_origin(origin: &str) -> anyhow::Result<String> {
    let url = url::Url::parse(origin).with_context(|| format!("invalid origin {origin:?}"))?;
    anyhow::ensure!(
        matches!(url.scheme(), "http" | "https") && url.path() == "/" && url.query().is_none(),
        "origin {origin:?} must be scheme://host[:port] with no path"
    );
    Ok(url.origin().ascii_serialization())
}

/// Resolves on Ctrl-C or SIGTERM. The SIGTERM handler is installed here, at
/// once, not when the future is first polled: `serve` polls it only once
/// its background workers run, and a SIGTERM in between (a supervisor, or a
/// test that saw the mailer's first attempt) would otherwise kill the
/// process by the default action, skipping the graceful shutdown.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    async move {
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        #[cfg(unix)]
        let term = async {
            match term {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! { _ = ctrl_c => {}, _ = term => {} }
        tracing::info!("shutdown signal received");
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            let args = *args;
            let mut config = args.db.load()?;
            if let Some(listen) = args.listen {
                config.listen = listen;
            }
            if let Some(dir) = args.snippet_dir {
                config.snippet_dir = dir;
            }
            config.log_json |= args.log_json;
            args.signals.apply(&mut config.signals);
            args.recovery.apply(&mut config.recovery);
            config.validate()?;
            init_tracing(config.log_json);
            tracing::info!(?config, "starting");
            let listener = tokio::net::TcpListener::bind(config.listen)
                .await
                .with_context(|| format!("binding {}", config.listen))?;
            steadycart_collector::serve(listener, config, shutdown_signal()).await
        }
        Command::Site(SiteCommand::Add { name, origins, db }) => {
            init_tracing(false);
            let origins = origins
                .iter()
                .map(|o| normalize_origin(o))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let config = db.load()?;
            let db = Db::connect(&config.database_url()).await?;
            db.migrate().await?;
            let site_key = keys::new_site_key();
            let admin_token = keys::new_admin_token();
            db.insert_site(
                &site_key,
                &name,
                &keys::hash_token(&admin_token),
                &origins,
                steadycart_collector::now_ms(),
            )
            .await?;
            db.close().await;
            let created = SiteCreated {
                site_key,
                admin_token,
                name,
                origins,
            };
            #[allow(clippy::print_stdout)] // the command's output is this JSON
            {
                println!("{}", serde_json::to_string_pretty(&created)?);
            }
            Ok(())
        }
        Command::Site(SiteCommand::RotateToken { site, overlap, db }) => {
            init_tracing(false);
            let db = open_db(db).await?;
            let admin_token = keys::new_admin_token();
            let now = steadycart_collector::now_ms();
            let until = now + overlap.map_or(0, |d| d.as_millis() as i64);
            let found = db
                .rotate_admin_token_with_overlap(&site, &keys::hash_token(&admin_token), now, until)
                .await?;
            db.close().await;
            anyhow::ensure!(found, "no site with key {site:?}");
            let out = serde_json::json!({
                "site_key": site,
                "admin_token": admin_token,
                // When the replaced token stops working (ms since the epoch).
                "old_token_valid_until": until,
            });
            #[allow(clippy::print_stdout)] // the command's output is this JSON
            {
                println!("{}", serde_json::to_string_pretty(&out)?);
            }
            Ok(())
        }
        Command::Site(SiteCommand::RevokeToken { site, db }) => {
            init_tracing(false);
            let db = open_db(db).await?;
            let found = db
                .revoke_admin_token(&site, steadycart_collector::now_ms())
                .await?;
            db.close().await;
            anyhow::ensure!(found, "no site with key {site:?}");
            let out = serde_json::json!({ "site_key": site, "revoked": true });
            #[allow(clippy::print_stdout)] // the command's output is this JSON
            {
                println!("{}", serde_json::to_string_pretty(&out)?);
            }
            Ok(())
        }
    }
}
