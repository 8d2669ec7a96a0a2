//! `demo-store`: serve the Steadycart demo storefront.

use std::net::SocketAddr;

use anyhow::Context;
use clap::Parser;
use steadycart_demo_store::StoreConfig;

#[derive(Parser, Debug)]
#[command(name = "demo-store", version, about = "Steadycart demo storefront")]
struct Cli {
    /// Address to listen on.
    #[arg(long, env = "DEMO_STORE_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Collector base URL the snippet reports to.
    #[arg(
        long,
        env = "DEMO_STORE_COLLECTOR",
        default_value = "http://127.0.0.1:7070"
    )]
    collector: String,
    /// Public site key for the embed tag.
    #[arg(long, env = "DEMO_STORE_SITE_KEY")]
    site_key: String,
    /// Secret for the fault control API (`x-control-token`).
    #[arg(long, env = "DEMO_STORE_CONTROL_TOKEN", hide_env_values = true)]
    control_token: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let listener = tokio::net::TcpListener::bind(cli.listen)
        .await
        .with_context(|| format!("binding {}", cli.listen))?;
    tracing::info!(addr = %cli.listen, "demo store listening");
    let config = StoreConfig {
        collector_url: cli.collector,
        site_key: cli.site_key,
        control_token: cli.control_token,
        snippet_attrs: String::new(),
    };
    steadycart_demo_store::serve(listener, config, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}
