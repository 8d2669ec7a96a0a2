//! A real SMTP server for end-to-end tests: mailin-embedded (an SMTP
//! protocol implementation) on a loopback port, keeping every accepted
//! message in memory. It speaks the protocol properly (EHLO, MAIL, RCPT,
//! DATA, dot-stuffing), so only a correct client gets a message through.

use std::{
    io,
    net::IpAddr,
    sync::{Arc, Mutex},
};

use mailin_embedded::{response, Handler, Response, Server, SslConfig};

/// One message as the server received it.
#[derive(Debug, Clone)]
pub struct Received {
    /// Envelope sender.
    pub from: String,
    /// Envelope recipients.
    pub to: Vec<String>,
    /// The message (headers and body) as sent.
    pub data: Vec<u8>,
}

/// The server's mailbox; clones share it.
#[derive(Clone, Default)]
pub struct SmtpInbox {
    mails: Arc<Mutex<Vec<Received>>>,
    from: String,
    to: Vec<String>,
    buf: Vec<u8>,
}

impl Handler for SmtpInbox {
    fn mail(&mut self, _ip: IpAddr, _domain: &str, from: &str) -> Response {
        self.from = from.to_string();
        self.to.clear();
        response::OK
    }
    fn rcpt(&mut self, to: &str) -> Response {
        self.to.push(to.to_string());
        response::OK
    }
    fn data_start(&mut self, _d: &str, _f: &str, _eight_bit: bool, _to: &[String]) -> Response {
        self.buf.clear();
        response::OK
    }
    fn data(&mut self, buf: &[u8]) -> io::Result<()> {
        self.buf.extend_from_slice(buf);
        Ok(())
    }
    fn data_end(&mut self) -> Response {
        self.mails
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Received {
                from: self.from.clone(),
                to: self.to.clone(),
                data: std::mem::take(&mut self.buf),
            });
        response::OK
    }
}

impl SmtpInbox {
    /// Serve on a free loopback port for the rest of the process; returns
    /// the inbox and the `smtp://` URL for the collector.
    pub fn start() -> anyhow::Result<(SmtpInbox, String)> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let url = format!("smtp://{}", listener.local_addr()?);
        let inbox = SmtpInbox::default();
        let mut server = Server::new(inbox.clone());
        server
            .with_name("smtp.test")
            .with_ssl(SslConfig::None)
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .with_num_threads(2)
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        Ok((inbox, url))
    }

    /// Messages received so far.
    pub fn mails(&self) -> Vec<Received> {
        self.mails.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
