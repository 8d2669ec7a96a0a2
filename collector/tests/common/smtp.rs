//! A real SMTP server in the test process: mailin-embedded (the protocol
//! done properly: EHLO, MAIL, RCPT, DATA, dot-stuffing) on a loopback port,
//! keeping every accepted message in memory, and answering RCPT as told
//! ([`Mode`]: accept, permanent or temporary refusal). Optionally slow
//! (a delay before DATA's final reply), with STARTTLS (certificate and key
//! from PEM files) and AUTH PLAIN/LOGIN required ([`Setup`]).

use std::{
    io,
    net::IpAddr,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};

use mailin_embedded::{response, AuthMechanism, Handler, Response, Server, SslConfig};

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
    /// How long the reply to the end of DATA waits (a slow server).
    pub data_delay: Arc<Mutex<Duration>>,
    /// DATA commands begun (a message in flight counts).
    pub data_begun: Arc<Mutex<u32>>,
    /// The only credentials AUTH accepts (see [`Setup::credentials`]).
    accept_auth: Option<(String, String)>,
    /// Every AUTH seen: `(user, password, accepted)`.
    pub auths: Arc<Mutex<Vec<(String, String, bool)>>>,
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
        *self.data_begun.lock().unwrap() += 1;
        self.buf.clear();
        response::OK
    }
    fn data(&mut self, buf: &[u8]) -> io::Result<()> {
        self.buf.extend_from_slice(buf);
        Ok(())
    }
    fn data_end(&mut self) -> Response {
        let delay = *self.data_delay.lock().unwrap();
        std::thread::sleep(delay);
        self.mails.lock().unwrap().push(Received {
            from: self.from.clone(),
            to: self.to.clone(),
            data: std::mem::take(&mut self.buf),
        });
        response::OK
    }
    fn auth_plain(&mut self, _authz: &str, user: &str, password: &str) -> Response {
        self.auth(user, password)
    }
    fn auth_login(&mut self, user: &str, password: &str) -> Response {
        self.auth(user, password)
    }
}

/// How [`Inbox::serve_with`] sets the server up.
#[derive(Debug, Clone, Default)]
pub struct Setup {
    /// Offer STARTTLS with this certificate chain and private key (PEM
    /// files).
    pub starttls: Option<(PathBuf, PathBuf)>,
    /// Require AUTH (PLAIN or LOGIN) with this user and password. As the
    /// RFCs ask, mailin offers AUTH only once STARTTLS is done (so only
    /// with `starttls`).
    pub credentials: Option<(String, String)>,
}

impl Inbox {
    fn auth(&mut self, user: &str, password: &str) -> Response {
        let ok = self
            .accept_auth
            .as_ref()
            .is_some_and(|(u, p)| u == user && p == password);
        self.auths
            .lock()
            .unwrap()
            .push((user.to_string(), password.to_string(), ok));
        if ok {
            response::AUTH_OK
        } else {
            response::INVALID_CREDENTIALS
        }
    }

    /// An empty mailbox that accepts everything.
    pub fn new() -> Inbox {
        Inbox {
            mails: Arc::default(),
            rcpts: Arc::default(),
            mode: Arc::new(Mutex::new(Mode::Accept)),
            data_delay: Arc::default(),
            data_begun: Arc::default(),
            accept_auth: None,
            auths: Arc::default(),
            from: String::new(),
            to: Vec::new(),
            buf: Vec::new(),
        }
    }

    /// Serve SMTP on `listener` for the rest of the test process.
    pub fn serve(&self, listener: std::net::TcpListener) {
        self.serve_with(listener, &Setup::default());
    }

    /// [`Inbox::serve`] with STARTTLS and AUTH as `setup` says.
    pub fn serve_with(&self, listener: std::net::TcpListener, setup: &Setup) {
        let mut handler = self.clone();
        handler.accept_auth = setup.credentials.clone();
        let ssl = match &setup.starttls {
            Some((cert, key)) => {
                // rustls is built with two crypto providers in the tests;
                // mailin asks for the process default.
                let _ = rustls::crypto::ring::default_provider().install_default();
                SslConfig::SelfSigned {
                    cert_path: cert.display().to_string(),
                    key_path: key.display().to_string(),
                }
            }
            None => SslConfig::None,
        };
        let mut server = Server::new(handler);
        server
            .with_name("smtp.test")
            .with_ssl(ssl)
            .unwrap()
            .with_num_threads(8)
            .with_tcp_listener(listener);
        if setup.credentials.is_some() {
            server
                .with_auth(AuthMechanism::Plain)
                .with_auth(AuthMechanism::Login);
        }
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
