//! `cargo xtask demo`: build the snippet, start the collector on embedded
//! SQLite (data in `data/`) and the demo store, register the demo site once
//! (kept in `data/demo-site.json`), and print the storefront URL.

use std::{
    fs,
    process::{Child, Command, Stdio},
};

use anyhow::Context;
use clap::Args;

use crate::{dist, tools};

/// Options of `cargo xtask demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Collector port on 127.0.0.1.
    #[arg(long, default_value_t = 7070)]
    collector_port: u16,
    /// Demo store port on 127.0.0.1.
    #[arg(long, default_value_t = 8080)]
    store_port: u16,
}

/// Kills its child when dropped, so Ctrl-C or an error leaves nothing behind.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    dist::run()?;
    let root = crate::root();
    tools::run(
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args([
                "build",
                "--package",
                "steadycart-collector",
                "--package",
                "steadycart-demo-store",
            ])
            .current_dir(&root),
    )?;
    let bin = crate::target_dir().join("debug");
    let data = root.join("data");
    fs::create_dir_all(&data)?;
    let store_origin = format!("http://127.0.0.1:{}", args.store_port);
    let collector_url = format!("http://127.0.0.1:{}", args.collector_port);

    let site_file = data.join("demo-site.json");
    let site: serde_json::Value = match fs::read(&site_file) {
        Ok(bytes)
            if serde_json::from_slice::<serde_json::Value>(&bytes)
                .is_ok_and(|v| v["origins"][0] == store_origin.as_str()) =>
        {
            serde_json::from_slice(&bytes)?
        }
        _ => {
            let out = Command::new(bin.join("collector"))
                .args([
                    "site",
                    "add",
                    "--name",
                    "Voltline demo store",
                    "--origin",
                    &store_origin,
                    "--data-dir",
                ])
                .arg(&data)
                .env_remove("DATABASE_URL")
                .output()
                .context("running collector site add")?;
            anyhow::ensure!(
                out.status.success(),
                "collector site add failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            fs::write(&site_file, &out.stdout)?;
            serde_json::from_slice(&out.stdout)?
        }
    };
    let site_key = site["site_key"]
        .as_str()
        .context("site_key in demo-site.json")?
        .to_string();
    let control_token = hex::encode(rand::random::<[u8; 16]>());

    let _collector = Guard(
        Command::new(bin.join("collector"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{}", args.collector_port),
                "--data-dir",
            ])
            .arg(&data)
            .arg("--snippet-dir")
            .arg(dist::out_dir())
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null())
            .spawn()
            .context("starting the collector")?,
    );
    let _store = Guard(
        Command::new(bin.join("demo-store"))
            .args([
                "--listen",
                &format!("127.0.0.1:{}", args.store_port),
                "--collector",
                &collector_url,
            ])
            .args(["--site-key", &site_key, "--control-token", &control_token])
            .stdin(Stdio::null())
            .spawn()
            .context("starting the demo store")?,
    );
    println!();
    println!("  Storefront:   {store_origin}/");
    println!(
        "  Collector:    {collector_url}  (SQLite: {})",
        data.join("steadycart.db").display()
    );
    println!("  Admin token:  in {}", site_file.display());
    println!();
    println!("  Break checkout:  curl -X PUT -H 'x-control-token: {control_token}' -H 'content-type: application/json' \\");
    println!("                     -d '{{\"mode\":\"error\",\"status\":503}}' {store_origin}/control/faults/checkout");
    println!("  Fault control:   {store_origin}/control  (token: {control_token})");
    println!("  Events:          curl -H \"Authorization: Bearer $(jq -r .admin_token {})\" {collector_url}/v1/admin/sites/{site_key}/events", site_file.display());
    println!();
    println!("  Ctrl-C (or SIGTERM) stops both.");
    wait_for_ctrl_c();
    Ok(())
}

/// Block until Ctrl-C, SIGTERM or SIGHUP; the guards then kill and reap the
/// children (on Ctrl-C they got SIGINT too).
fn wait_for_ctrl_c() {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    if ctrlc::set_handler(move || {
        let _ = tx.send(());
    })
    .is_ok()
    {
        let _ = rx.recv();
    }
}
