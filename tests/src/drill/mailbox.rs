//! The drill's SMTP server: the harness's [`SmtpInbox`] (mailin-embedded,
//! a real SMTP conversation, messages kept in memory) wrapped so each
//! accepted message also gets the time the server accepted it — the
//! "recovery email delivered" moment of the timeline — and its envelope
//! recipients.

use std::{
    io,
    net::IpAddr,
    sync::{Arc, Mutex},
};

use mailin_embedded::{Handler, Response, Server, SslConfig};

use crate::smtp::{Received, SmtpInbox};

/// One message as the drill's SMTP server accepted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// When the server accepted it (end of DATA), ms since the Unix epoch.
    pub at_ms: i64,
    /// Envelope recipients.
    pub to: Vec<String>,
}

/// [`SmtpInbox`] plus receive times; each SMTP connection gets a clone
/// (its own envelope), the lists are shared.
#[derive(Clone, Default)]
struct Stamped {
    inbox: SmtpInbox,
    deliveries: Arc<Mutex<Vec<Delivery>>>,
    to: Vec<String>,
}

impl Handler for Stamped {
    fn mail(&mut self, ip: IpAddr, domain: &str, from: &str) -> Response {
        self.to.clear();
        self.inbox.mail(ip, domain, from)
    }
    fn rcpt(&mut self, to: &str) -> Response {
        self.to.push(to.to_string());
        self.inbox.rcpt(to)
    }
    fn data_start(&mut self, domain: &str, from: &str, eight_bit: bool, to: &[String]) -> Response {
        self.inbox.data_start(domain, from, eight_bit, to)
    }
    fn data(&mut self, buf: &[u8]) -> io::Result<()> {
        self.inbox.data(buf)
    }
    fn data_end(&mut self) -> Response {
        let res = self.inbox.data_end();
        self.deliveries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Delivery {
                at_ms: steadycart_collector::now_ms(),
                to: self.to.clone(),
            });
        res
    }
}

/// The running SMTP server (it serves until the process ends).
pub struct Mailbox {
    /// `smtp://127.0.0.1:PORT`, for the collector's `[recovery] smtp_url`.
    pub url: String,
    handler: Stamped,
}

impl Mailbox {
    /// Serve on a free loopback port.
    pub fn start() -> anyhow::Result<Mailbox> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let url = format!("smtp://{}", listener.local_addr()?);
        let handler = Stamped::default();
        let mut server = Server::new(handler.clone());
        server
            .with_name("smtp.drill")
            .with_ssl(SslConfig::None)
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .with_num_threads(2)
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        Ok(Mailbox { url, handler })
    }

    /// Messages accepted so far, in arrival order.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.handler
            .deliveries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The messages themselves (headers and body as sent).
    pub fn mails(&self) -> Vec<Received> {
        self.handler.inbox.mails()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};

    /// A hand-written SMTP conversation: the message is accepted, stamped
    /// and kept with its recipients.
    #[test]
    fn stamps_each_accepted_message() {
        let mailbox = Mailbox::start().unwrap();
        let before = steadycart_collector::now_ms();
        let addr = mailbox.url.trim_start_matches("smtp://");
        let stream = std::net::TcpStream::connect(addr).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut w = stream;
        let mut line = String::new();
        let mut expect = |reader: &mut BufReader<std::net::TcpStream>, code: &str| loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            assert!(line.starts_with(code), "{line}");
            if line.as_bytes().get(3) != Some(&b'-') {
                break;
            }
        };
        expect(&mut reader, "220");
        for (cmd, code) in [
            ("EHLO client.test\r\n", "250"),
            ("MAIL FROM:<shop@voltline.example>\r\n", "250"),
            ("RCPT TO:<ann@example.com>\r\n", "250"),
            ("DATA\r\n", "354"),
            ("Subject: hi\r\n\r\nyour cart\r\n.\r\n", "250"),
            ("QUIT\r\n", "221"),
        ] {
            w.write_all(cmd.as_bytes()).unwrap();
            expect(&mut reader, code);
        }
        let d = mailbox.deliveries();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].to, vec!["ann@example.com".to_string()]);
        assert!(d[0].at_ms >= before);
        assert_eq!(mailbox.mails().len(), 1);
    }
}
