//! Capturing the collector's `tracing` output inside one test, while other
//! tests of the same process run on other threads.
//!
//! `tracing` caches each callsite's interest process-wide. With a single
//! registered dispatcher it asks only the *registering thread's* default, so
//! a callsite first hit by another test's thread (no subscriber there) would
//! be cached as "never" and our thread's subscriber would miss it. Keeping a
//! second dispatcher alive makes every (re)registration ask all live
//! dispatchers, ours included.

use std::{
    io,
    sync::{Arc, Mutex},
};

use tracing::{subscriber::DefaultGuard, Dispatch};

/// Everything logged at any level on this thread while it lives.
pub struct LogCapture {
    buf: Arc<Mutex<Vec<u8>>>,
    _guard: DefaultGuard,
    _second: Dispatch,
}

#[derive(Clone)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl LogCapture {
    /// Start capturing `trace` and above on the current thread.
    pub fn start() -> LogCapture {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = Sink(buf.clone());
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter("trace")
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        let second = Dispatch::new(tracing::subscriber::NoSubscriber::default());
        tracing::callsite::rebuild_interest_cache();
        LogCapture {
            buf,
            _guard: guard,
            _second: second,
        }
    }

    /// What has been logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf.lock().unwrap()).into_owned()
    }
}
