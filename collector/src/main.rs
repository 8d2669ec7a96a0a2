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
    /// Directory for the embedded SQLite database.
    #[arg(long, env = "STEADYCART_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
    /// Database URL (`sqlite://…` or `postgres://…`); default: SQLite in the data dir.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "STEADYCART_LISTEN", default_value = "127.0.0.1:7070")]
    listen: SocketAddr,
    /// Directory with the built snippet (`cargo xtask dist`).
    #[arg(long, env = "STEADYCART_SNIPPET_DIR", default_value = "dist/snippet")]
    snippet_dir: PathBuf,
    /// Log as JSON lines.
    #[arg(long, env = "STEADYCART_LOG_JSON")]
    log_json: bool,
    #[command(flatten)]
    db: DbArgs,
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
            init_tracing(args.log_json);
            let config = Config {
                listen: args.listen,
                data_dir: args.db.data_dir,
                database_url: args.db.database_url,
                snippet_dir: args.snippet_dir,
                ..Config::default()
            };
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
            let config = Config {
                data_dir: db.data_dir,
                database_url: db.database_url,
                ..Config::default()
            };
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
