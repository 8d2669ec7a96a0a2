//! The real collector binary as a child process on a loopback port: spawn,
//! wait until ready, SIGTERM with a bound, SIGKILL. Killed on drop, so a
//! failing test leaves no process behind.

use std::{
    ffi::OsStr,
    process::{Child, Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

/// A port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `collector serve`.
pub struct Collector {
    /// The process.
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Collector {
    /// `collector serve --listen 127.0.0.1:PORT ARGS…` on a free port, logs
    /// at `warn` and discarded.
    pub fn spawn<I, S>(args: I) -> Collector
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Collector::spawn_on(free_port(), args)
    }

    /// [`Collector::spawn`] on `port` (a restart on the same address).
    pub fn spawn_on<I, S>(port: u16, args: I) -> Collector
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let child = Command::new(env!("CARGO_BIN_EXE_collector"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("collector binary");
        Collector {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Wait until `/readyz` answers 2xx (panics after 20 s).
    pub async fn ready(self) -> Collector {
        let client = reqwest::Client::new();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            if let Ok(r) = client.get(format!("{}/readyz", self.url)).send().await {
                if r.status().is_success() {
                    return self;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("collector did not become ready at {}", self.url);
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, and reap it.
    pub fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then wait for the exit: how long it took and the status.
    /// Panics if it is still running after `bound`.
    pub async fn terminate(&mut self, bound: Duration) -> (Duration, ExitStatus) {
        let sent = Instant::now();
        assert!(Command::new("kill")
            .args(["-TERM", &self.id().to_string()])
            .status()
            .unwrap()
            .success());
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (sent.elapsed(), status);
            }
            assert!(
                sent.elapsed() < bound,
                "SIGTERM: still running after {bound:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
