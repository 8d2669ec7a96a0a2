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
    Serve(ServeArgs),
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

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutdown signal received");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            let mut config = args.db.load()?;
            if let Some(listen) = args.listen {
                config.listen = listen;
            }
            if let Some(dir) = args.snippet_dir {
                config.snippet_dir = dir;
            }
            config.log_json |= args.log_json;
            args.signals.apply(&mut config.signals);
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
    }
}
