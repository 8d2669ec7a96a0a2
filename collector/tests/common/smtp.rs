//! A real SMTP server in the test process: mailin-embedded (the protocol
//! done properly: EHLO, MAIL, RCPT, DATA, dot-stuffing) on a loopback port,
//! keeping every accepted message in memory, and answering RCPT as told
//! ([`Mode`]: accept, permanent or temporary refusal).

use std::{
    io,
    net::IpAddr,
    sync::{Arc, Mutex},
};

use mailin_embedded::{response, Handler, Response, Server, SslConfig};

/// How the test SMTP server answers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// Take every message.
    Accept,
    /// 550 to RCPT TO: the mailbox does not exist (permanent).
    RejectRecipient,
    /// 451 to RCPT TO: greylisting (temporary).
    TempFail,
}

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

/// The server's mailbox and its answering mode; clones share both.
#[derive(Clone)]
pub struct Inbox {
    mails: Arc<Mutex<Vec<Received>>>,
    /// RCPT commands seen (accepted or not).
    pub rcpts: Arc<Mutex<u32>>,
    /// How RCPT is answered; tests switch it mid-test.
    pub mode: Arc<Mutex<Mode>>,
    from: String,
    to: Vec<String>,
    buf: Vec<u8>,
}

impl Default for Inbox {
    fn default() -> Inbox {
        Inbox::new()
    }
}

impl Handler for Inbox {
    fn mail(&mut self, _ip: IpAddr, _domain: &str, from: &str) -> Response {
        self.from = from.to_string();
        self.to.clear();
        response::OK
    }
    fn rcpt(&mut self, to: &str) -> Response {
        *self.rcpts.lock().unwrap() += 1;
        let mode = *self.mode.lock().unwrap();
        if mode == Mode::RejectRecipient {
            return response::NO_MAILBOX;
        }
        if mode == Mode::TempFail {
            return Response::custom(451, "4.7.1 Greylisted, try again later".into());
        }
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
        self.mails.lock().unwrap().push(Received {
            from: self.from.clone(),
            to: self.to.clone(),
            data: std::mem::take(&mut self.buf),
        });
        response::OK
    }
}

impl Inbox {
    /// An empty mailbox that accepts everything.
    pub fn new() -> Inbox {
        Inbox {
            mails: Arc::default(),
            rcpts: Arc::default(),
            mode: Arc::new(Mutex::new(Mode::Accept)),
            from: String::new(),
            to: Vec::new(),
            buf: Vec::new(),
        }
    }

    /// Serve SMTP on `listener` for the rest of the test process.
    pub fn serve(&self, listener: std::net::TcpListener) {
        let mut server = Server::new(self.clone());
        server
            .with_name("smtp.test")
            .with_ssl(SslConfig::None)
            .unwrap()
            .with_num_threads(8)
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
    }

    /// A server on a free loopback port: its mailbox and `smtp://` URL.
    pub fn start() -> (Inbox, String) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("smtp://{}", listener.local_addr().unwrap());
        let inbox = Inbox::new();
        inbox.serve(listener);
        (inbox, url)
    }

    /// Every message accepted so far.
    pub fn mails(&self) -> Vec<Received> {
        self.mails.lock().unwrap().clone()
    }
}
