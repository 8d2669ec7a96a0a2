//! Recovery emails over TLS to a real SMTP server in the test process
//! (mailin-embedded: STARTTLS with a certificate from a private CA made
//! here with rcgen, AUTH PLAIN/LOGIN), on SQLite and PostgreSQL. A relay in
//! front of the server keeps every byte the collector sent, so the tests
//! see what went over the wire in clear.
//!
//! - `smtp://…?tls=required` + `smtp_ca_file` + credentials: the email
//!   arrives, after STARTTLS only TLS records went over the wire, and the
//!   server saw the right user and password.
//! - A wrong password: refused (535), retried later — the shop's
//!   configuration, not a bounce, so the contact stays `pending` — with a
//!   clear error, and the password in no log line nor stored error; once
//!   the password is fixed the email goes out once.
//! - A wrong password past `max_attempts`: the emails are held (`queued`,
//!   `smtp_config: …`), one refused login a round, no contact bounced,
//!   counted in `/metrics` and `/readyz`; once fixed, a restarted mailer
//!   sends every one at once. Held longer than `config_fault_hold`, an
//!   email fails, its contact still not bounced.
//! - `tls=required` against a server without STARTTLS: nothing but EHLO
//!   sent, no credentials, no message.
//! - A certificate from an unknown CA (no `smtp_ca_file`), or for another
//!   host name: refused before anything is sent.
//! - `smtps://` (TLS from the first byte: a TLS front, as stunnel would be,
//!   before the same server, since mailin only speaks STARTTLS) with the
//!   CA file, and a relay's self-signed certificate as the CA file.
//! - The binary: `--smtp-ca-file` and the password from
//!   `STEADYCART_RECOVERY_SMTP_PASSWORD` reach the server over STARTTLS,
//!   and its debug logs never contain the password; an unreadable CA file
//!   stops it at start, naming the file.

mod common;

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use common::{recovery::*, smtp::Setup, *};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use steadycart_collector::{
    config::Config,
    http::app,
    ingest::writer::WriterTask,
    recovery::{mailer::Mailer, RecoveryConfig},
    store::Db,
    AppState,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const USER: &str = "mailer";
const PASSWORD: &str = "Pw-TLSAUTH-7f3c9e21";
const WRONG_PASSWORD: &str = "Wrong-LOGPRIV-0a1b2c3d";
const EMAIL: &str = "ann.tls@example.com";
const PUBLIC: &str = "http://collector.test";

// ------------------------------------------------------------ certificates

/// A private CA and server certificates, as PEM files in a temp dir.
struct Pki {
    _dir: tempfile::TempDir,
    /// The CA certificate (what `smtp_ca_file` points at).
    ca: PathBuf,
    /// Certificate for 127.0.0.1 and localhost issued by the CA, its key.
    server: (PathBuf, PathBuf),
    /// Certificate issued by the CA for another host name, its key.
    other_host: (PathBuf, PathBuf),
    /// A self-signed certificate for 127.0.0.1, its key.
    self_signed: (PathBuf, PathBuf),
    /// `server` as DER, for the TLS front.
    server_der: (Vec<u8>, Vec<u8>),
}

fn leaf_params(names: &[&str]) -> CertificateParams {
    let mut p =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    p.distinguished_name.push(DnType::CommonName, names[0]);
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, pem: String| {
            let path = dir.path().join(name);
            std::fs::write(&path, pem).unwrap();
            path
        };
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Steadycart test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);

        let key = KeyPair::generate().unwrap();
        let cert = leaf_params(&["127.0.0.1", "localhost"])
            .signed_by(&key, &issuer)
            .unwrap();
        let server_der = (cert.der().to_vec(), key.serialize_der());
        let server = (
            write("server.pem", cert.pem()),
            write("server.key", key.serialize_pem()),
        );
        let key = KeyPair::generate().unwrap();
        let cert = leaf_params(&["relay.example"])
            .signed_by(&key, &issuer)
            .unwrap();
        let other_host = (
            write("other.pem", cert.pem()),
            write("other.key", key.serialize_pem()),
        );
        let key = KeyPair::generate().unwrap();
        let cert = leaf_params(&["127.0.0.1"]).self_signed(&key).unwrap();
        let self_signed = (
            write("self.pem", cert.pem()),
            write("self.key", key.serialize_pem()),
        );
        Pki {
            ca: write("ca.pem", ca_cert.pem()),
            _dir: dir,
            server,
            other_host,
            self_signed,
            server_der,
        }
    }
}

// ------------------------------------------------------------ servers

/// The SMTP server set up as `setup` says, on a free loopback port.
fn smtp_server(setup: Setup) -> (Inbox, SocketAddr) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let inbox = Inbox::new();
    inbox.serve_with(listener, &setup);
    (inbox, addr)
}

/// STARTTLS with `cert` and AUTH with [`USER`]/[`PASSWORD`].
fn starttls_server(cert: &(PathBuf, PathBuf)) -> (Inbox, SocketAddr) {
    smtp_server(Setup {
        starttls: Some(cert.clone()),
        credentials: Some((USER.into(), PASSWORD.into())),
    })
}

/// A TCP relay to `upstream` that keeps what each client sent.
#[derive(Clone, Default)]
struct Wire(Arc<Mutex<Vec<Vec<u8>>>>);

impl Wire {
    async fn start(upstream: SocketAddr) -> (Wire, SocketAddr) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let wire = Wire::default();
        let sessions = wire.0.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let sessions = sessions.clone();
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    let n = {
                        let mut s = sessions.lock().unwrap();
                        s.push(Vec::new());
                        s.len() - 1
                    };
                    let (mut client_rx, mut client_tx) = client.into_split();
                    let (mut server_rx, mut server_tx) = server.into_split();
                    let up = async {
                        let mut buf = [0u8; 4096];
                        while let Ok(len @ 1..) = client_rx.read(&mut buf).await {
                            sessions.lock().unwrap()[n].extend_from_slice(&buf[..len]);
                            if server_tx.write_all(&buf[..len]).await.is_err() {
                                break;
                            }
                        }
                        let _ = server_tx.shutdown().await;
                    };
                    let down = async {
                        let _ = tokio::io::copy(&mut server_rx, &mut client_tx).await;
                        let _ = client_tx.shutdown().await;
                    };
                    tokio::join!(up, down);
                });
            }
        });
        (wire, addr)
    }

    /// What the client sent, per connection.
    fn sessions(&self) -> Vec<Vec<u8>> {
        self.0.lock().unwrap().clone()
    }
}

/// TLS from the first byte with `cert` (DER certificate and PKCS#8 key),
/// forwarding the plain text to `upstream`: an `smtps://` server.
async fn tls_front(cert: &(Vec<u8>, Vec<u8>), upstream: SocketAddr) -> SocketAddr {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![CertificateDer::from(cert.0.clone())],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.1.clone())),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let (Ok(mut tls), Ok(mut plain)) = (
                    acceptor.accept(tcp).await,
                    tokio::net::TcpStream::connect(upstream).await,
                ) else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    addr
}

// ------------------------------------------------------------ the wire

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// What went over the wire in clear must be EHLO (and STARTTLS) only: no
/// command of the mail transaction, no AUTH, no address, no password.
fn assert_nothing_sensitive_in_clear(clear: &[u8]) {
    let text = String::from_utf8_lossy(clear).to_ascii_uppercase();
    for command in ["AUTH", "MAIL FROM", "RCPT", "DATA"] {
        assert!(!text.contains(command), "{command} sent in clear: {text}");
    }
    for secret in [EMAIL, PASSWORD, WRONG_PASSWORD, USER] {
        assert!(
            !text.contains(&secret.to_ascii_uppercase()),
            "{secret} sent in clear: {text}"
        );
    }
}

/// A STARTTLS session: EHLO and STARTTLS in clear, then TLS records only.
fn assert_starttls_then_tls_only(session: &[u8]) {
    let at = find(session, b"STARTTLS\r\n").unwrap_or_else(|| {
        panic!(
            "no STARTTLS: {}",
            String::from_utf8_lossy(&session[..session.len().min(200)])
        )
    }) + b"STARTTLS\r\n".len();
    let (clear, tls) = session.split_at(at);
    assert!(
        clear.starts_with(b"EHLO "),
        "{}",
        String::from_utf8_lossy(clear)
    );
    assert_nothing_sensitive_in_clear(clear);
    assert_eq!(
        &tls[..2],
        [0x16u8, 0x03],
        "a TLS handshake record follows STARTTLS"
    );
    // The rest is ciphertext: neither the password nor the address in it.
    for secret in [EMAIL, PASSWORD] {
        assert!(find(tls, secret.as_bytes()).is_none());
    }
}

// ------------------------------------------------------------ the shop

fn config(smtp_url: String, ca_file: Option<&Path>) -> RecoveryConfig {
    RecoveryConfig {
        smtp_url: Some(smtp_url),
        smtp_ca_file: ca_file.map(|p| p.display().to_string()),
        delay: Duration::ZERO,
        min_backoff: Duration::from_secs(1),
        max_backoff: Duration::from_secs(60),
        smtp_timeout: Duration::from_secs(5),
        public_url: Some(PUBLIC.into()),
        ..RecoveryConfig::default()
    }
}

/// A site with recovery settings and one abandoned session leaving
/// [`EMAIL`]; keep the returned app parts alive.
async fn shop(db: &Db, dir: &Path) -> (axum::Router, AppState, WriterTask) {
    let site = add_site(db, ORIGIN).await;
    let config = Config {
        data_dir: dir.to_path_buf(),
        ..Config::default()
    };
    let (state, writer) = AppState::start(db.clone(), config);
    let app = app(state.clone());
    put_settings(&app, &site).await;
    ingest(&app, &site.key, &abandonment(1, EMAIL)).await;
    (app, state, writer)
}

async fn mailer(db: &Db, cfg: &RecoveryConfig, dir: &Path) -> Mailer {
    Mailer::new(db.clone(), cfg.clone(), dir, PUBLIC.into())
        .await
        .unwrap()
}

// ------------------------------------------------------------ tests

both_backends!(
    starttls_required_with_a_private_ca_and_auth_delivers_over_tls_only,
    |db: Db| async move {
        let pki = Pki::new();
        let (inbox, server) = starttls_server(&pki.server);
        let (wire, relay) = Wire::start(server).await;
        let dir = tempfile::tempdir().unwrap();
        let _shop = shop(&db, dir.path()).await;
        let cfg = config(
            format!("smtp://{USER}:{PASSWORD}@{relay}?tls=required"),
            Some(pki.ca.as_path()),
        );
        let sent = mailer(&db, &cfg, dir.path())
            .await
            .deliver_due(now_ms())
            .await
            .unwrap();
        assert_eq!(sent, 1, "{:?}", outbox(&db).await);
        let mails = inbox.mails();
        assert_eq!(mails.len(), 1);
        assert_eq!(mails[0].to, vec![EMAIL]);
        assert_eq!(
            *inbox.auths.lock().unwrap(),
            vec![(USER.to_string(), PASSWORD.to_string(), true)],
            "the server saw the right credentials (offered only after STARTTLS)"
        );
        let sessions = wire.sessions();
        assert_eq!(sessions.len(), 1);
        assert_starttls_then_tls_only(&sessions[0]);
        assert_eq!(outbox(&db).await[0].status, "sent");
    }
);

both_backends!(
    a_wrong_password_is_retried_as_a_configuration_fault_and_never_logged,
    |db: Db| async move {
        let logs = common::logs::LogCapture::start();

        let pki = Pki::new();
        let (inbox, server) = starttls_server(&pki.server);
        let dir = tempfile::tempdir().unwrap();
        let _shop = shop(&db, dir.path()).await;
        let url = format!("smtp://{server}?tls=required");
        let cfg = RecoveryConfig {
            smtp_username: Some(USER.into()),
            smtp_password: Some(WRONG_PASSWORD.into()),
            ..config(url, Some(pki.ca.as_path()))
        };
        let now = now_ms();
        let sent = mailer(&db, &cfg, dir.path())
            .await
            .deliver_due(now)
            .await
            .unwrap();
        assert_eq!(sent, 0);
        assert_eq!(
            *inbox.auths.lock().unwrap(),
            vec![(USER.to_string(), WRONG_PASSWORD.to_string(), false)]
        );
        assert_eq!(*inbox.rcpts.lock().unwrap(), 0, "no recipient named");
        let row = &outbox(&db).await[0];
        assert_eq!(
            (row.status.as_str(), row.attempts, row.claimed_until),
            ("queued", 1, 0),
            "retried later: {row:?}"
        );
        let error = row.last_error.clone().unwrap();
        eprintln!("wrong password: {error}");
        assert!(
            error.contains("authentication refused") && error.contains("535"),
            "{error}"
        );
        assert_eq!(contact_statuses(&db).await, vec!["pending"], "not a bounce");
        let text = logs.text();
        assert!(
            text.contains("will retry") && text.contains("authentication refused"),
            "the failure is logged clearly: {text}"
        );
        for secret in [WRONG_PASSWORD, "LOGPRIV", EMAIL] {
            assert!(!text.contains(secret), "{secret} in logs:\n{text}");
            assert!(!error.contains(secret), "{secret} stored: {error}");
        }

        // The operator fixes the password: the email goes out, once.
        let fixed = RecoveryConfig {
            smtp_password: Some(PASSWORD.into()),
            ..cfg
        };
        let m = mailer(&db, &fixed, dir.path()).await;
        assert_eq!(m.deliver_due(now + 1_500).await.unwrap(), 1);
        assert_eq!(m.deliver_due(now + 3_600_000).await.unwrap(), 0);
        assert_eq!(inbox.mails().len(), 1);
        assert_eq!(outbox(&db).await[0].status, "sent");
        assert_eq!(contact_statuses(&db).await, vec!["emailed"]);
    }
);

/// The app's `/metrics` and `/readyz` numbers of held recovery emails.
async fn held_reported(app: &axum::Router) -> (String, i64) {
    let get = |path: &str| {
        axum::http::Request::get(path)
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let (status, res) = send(app, get("/metrics")).await;
    assert_eq!(status, 200);
    let bytes = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    let metrics = String::from_utf8(bytes.to_vec()).unwrap();
    let line = metrics
        .lines()
        .find(|l| l.starts_with("steadycart_recovery_emails_held "))
        .unwrap_or_else(|| panic!("no held gauge: {metrics}"))
        .to_string();
    let (_, res) = send(app, get("/readyz")).await;
    let ready = json_body(res).await;
    (line, ready["recovery_emails_held"].as_i64().unwrap())
}

both_backends!(
    a_wrong_password_past_max_attempts_holds_the_emails_and_bounces_no_one,
    |db: Db| async move {
        let pki = Pki::new();
        let (inbox, server) = starttls_server(&pki.server);
        let dir = tempfile::tempdir().unwrap();
        let (app, _state, _writer) = shop(&db, dir.path()).await;
        let site: (String,) = match &db {
            Db::Sqlite(p) => {
                sqlx::query_as("SELECT site_key FROM sites")
                    .fetch_one(p)
                    .await
            }
            Db::Postgres(p) => {
                sqlx::query_as("SELECT site_key FROM sites")
                    .fetch_one(p)
                    .await
            }
        }
        .unwrap();
        for (seed, email) in [(2, "bob.tls@example.com"), (3, "cy.tls@example.com")] {
            ingest(&app, &site.0, &abandonment(seed, email)).await;
        }
        let url = format!("smtp://{server}?tls=required");
        let cfg = RecoveryConfig {
            smtp_username: Some(USER.into()),
            smtp_password: Some(WRONG_PASSWORD.into()),
            max_attempts: 2,
            ..config(url, Some(pki.ca.as_path()))
        };
        let m = mailer(&db, &cfg, dir.path()).await;
        let now = now_ms();
        // Rounds two minutes apart (past the 60 s longest backoff), well
        // past `max_attempts`.
        for round in 0..5 {
            assert_eq!(m.deliver_due(now + round * 120_000).await.unwrap(), 0);
        }
        assert_eq!(
            contact_statuses(&db).await,
            vec!["pending"; 3],
            "the shop's password is no shopper's bounce"
        );
        let rows = outbox(&db).await;
        eprintln!("held: {rows:?}");
        assert_eq!(
            (rows[0].status.as_str(), rows[0].attempts),
            ("queued", 5),
            "held past max_attempts: {rows:?}"
        );
        let error = rows[0].last_error.clone().unwrap();
        assert!(
            error.starts_with("smtp_config: ") && error.contains("535"),
            "{error}"
        );
        assert!(
            rows[1..]
                .iter()
                .all(|r| r.status == "queued" && r.attempts == 0),
            "the others wait untried: {rows:?}"
        );
        assert_eq!(
            inbox.auths.lock().unwrap().len(),
            5,
            "one refused login a round, not one per queued email"
        );
        let (gauge, ready) = held_reported(&app).await;
        assert_eq!(gauge, "steadycart_recovery_emails_held 1");
        assert_eq!(ready, 1);

        // The operator fixes the password and restarts: every email goes
        // out at once, each once.
        let fixed = RecoveryConfig {
            smtp_password: Some(PASSWORD.into()),
            ..cfg
        };
        let m = mailer(&db, &fixed, dir.path()).await;
        assert_eq!(m.deliver_due(now_ms()).await.unwrap(), 3);
        assert_eq!(m.deliver_due(now_ms() + 86_400_000).await.unwrap(), 0);
        assert_eq!(inbox.mails().len(), 3);
        assert!(outbox(&db).await.iter().all(|r| r.status == "sent"));
        assert_eq!(contact_statuses(&db).await, vec!["emailed"; 3]);
        assert_eq!(
            held_reported(&app).await,
            ("steadycart_recovery_emails_held 0".into(), 0)
        );
    }
);

both_backends!(
    an_email_held_longer_than_config_fault_hold_fails_without_a_bounce,
    |db: Db| async move {
        let pki = Pki::new();
        let (inbox, server) = starttls_server(&pki.server);
        let dir = tempfile::tempdir().unwrap();
        let _shop = shop(&db, dir.path()).await;
        let cfg = RecoveryConfig {
            config_fault_hold: Duration::from_secs(3600),
            ..config(
                format!("smtp://{USER}:{WRONG_PASSWORD}@{server}?tls=required"),
                Some(pki.ca.as_path()),
            )
        };
        let m = mailer(&db, &cfg, dir.path()).await;
        let now = now_ms();
        m.deliver_due(now).await.unwrap();
        assert_eq!(outbox(&db).await[0].status, "queued");
        m.deliver_due(now + 2 * 3_600_000).await.unwrap();
        let row = &outbox(&db).await[0];
        assert_eq!(
            (row.status.as_str(), row.attempts),
            ("failed", 2),
            "{row:?}"
        );
        let error = row.last_error.as_deref().unwrap();
        assert!(
            error.starts_with("smtp_config: held longer than config_fault_hold"),
            "{error}"
        );
        assert_eq!(contact_statuses(&db).await, vec!["pending"]);
        assert!(inbox.mails().is_empty());
    }
);

both_backends!(
    tls_required_against_a_server_without_starttls_sends_nothing_in_clear,
    |db: Db| async move {
        let (inbox, server) = smtp_server(Setup::default());
        let (wire, relay) = Wire::start(server).await;
        let dir = tempfile::tempdir().unwrap();
        let _shop = shop(&db, dir.path()).await;
        let cfg = config(
            format!("smtp://{USER}:{PASSWORD}@{relay}?tls=required"),
            None,
        );
        let sent = mailer(&db, &cfg, dir.path())
            .await
            .deliver_due(now_ms())
            .await
            .unwrap();
        assert_eq!(sent, 0);
        assert!(inbox.mails().is_empty());
        assert_eq!(*inbox.rcpts.lock().unwrap(), 0);
        let sessions = wire.sessions();
        assert_eq!(sessions.len(), 1);
        assert!(sessions[0].starts_with(b"EHLO "));
        assert_nothing_sensitive_in_clear(&sessions[0]);
        let row = &outbox(&db).await[0];
        assert_eq!((row.status.as_str(), row.attempts), ("queued", 1));
        eprintln!("no STARTTLS: {:?}", row.last_error);
        assert!(
            row.last_error.as_deref().unwrap_or("").contains("STARTTLS"),
            "{row:?}"
        );
        assert!(
            row.last_error
                .as_deref()
                .unwrap_or("")
                .starts_with("smtp_config: "),
            "{row:?}"
        );
        assert_eq!(contact_statuses(&db).await, vec!["pending"]);
    }
);

both_backends!(
    an_untrusted_or_misnamed_certificate_is_refused_before_anything_is_sent,
    |db: Db| async move {
        let pki = Pki::new();
        let dir = tempfile::tempdir().unwrap();
        let _shop = shop(&db, dir.path()).await;
        // A certificate from a CA the collector was not told to trust, and
        // one from the trusted CA for another host name.
        // Each round's clock is an hour on: the retry is due.
        let now = now_ms();
        for (round, (cert, ca, expect)) in [
            (&pki.server, None, "UnknownIssuer"),
            (
                &pki.other_host,
                Some(pki.ca.as_path()),
                "not valid for name",
            ),
        ]
        .into_iter()
        .enumerate()
        {
            let (inbox, server) = starttls_server(cert);
            let (wire, relay) = Wire::start(server).await;
            let cfg = config(format!("smtp://{USER}:{PASSWORD}@{relay}?tls=required"), ca);
            let sent = mailer(&db, &cfg, dir.path())
                .await
                .deliver_due(now + round as i64 * 3_600_000)
                .await
                .unwrap();
            assert_eq!(sent, 0, "{expect}");
            assert!(inbox.mails().is_empty());
            assert!(inbox.auths.lock().unwrap().is_empty(), "no AUTH: {expect}");
            let sessions = wire.sessions();
            assert_eq!(sessions.len(), 1);
            assert_starttls_then_tls_only(&sessions[0]);
            let row = &outbox(&db).await[0];
            assert_eq!(row.status, "queued", "retried later: {row:?}");
            assert!(
                row.last_error
                    .as_deref()
                    .unwrap_or("")
                    .starts_with("smtp_config: "),
                "a TLS failure is the shop's configuration: {row:?}"
            );
            eprintln!("{expect}: {:?}", row.last_error);
            assert!(
                row.last_error.as_deref().unwrap_or("").contains(expect),
                "{expect}: {row:?}"
            );
        }
        assert_eq!(contact_statuses(&db).await, vec!["pending"]);
    }
);

both_backends!(
    smtps_with_a_private_ca_is_tls_from_the_first_byte,
    |db: Db| async move {
        let pki = Pki::new();
        let (inbox, server) = smtp_server(Setup::default());
        let front = tls_front(&pki.server_der, server).await;
        let (wire, relay) = Wire::start(front).await;
        let dir = tempfile::tempdir().unwrap();
        let _shop = shop(&db, dir.path()).await;
        let cfg = config(format!("smtps://{relay}"), Some(pki.ca.as_path()));
        let sent = mailer(&db, &cfg, dir.path())
            .await
            .deliver_due(now_ms())
            .await
            .unwrap();
        assert_eq!(sent, 1, "{:?}", outbox(&db).await);
        assert_eq!(inbox.mails()[0].to, vec![EMAIL]);
        let sessions = wire.sessions();
        assert_eq!(sessions.len(), 1);
        assert_eq!(&sessions[0][..2], [0x16u8, 0x03], "TLS from the first byte");
        assert!(find(&sessions[0], b"EHLO").is_none());
        assert!(find(&sessions[0], EMAIL.as_bytes()).is_none());
    }
);

both_backends!(
    a_relays_self_signed_certificate_can_be_trusted_as_the_ca_file,
    |db: Db| async move {
        let pki = Pki::new();
        let (inbox, server) = starttls_server(&pki.self_signed);
        let dir = tempfile::tempdir().unwrap();
        let _shop = shop(&db, dir.path()).await;
        let cfg = config(
            format!("smtp://{USER}:{PASSWORD}@{server}?tls=required"),
            Some(pki.self_signed.0.as_path()),
        );
        let sent = mailer(&db, &cfg, dir.path())
            .await
            .deliver_due(now_ms())
            .await
            .unwrap();
        assert_eq!(sent, 1, "{:?}", outbox(&db).await);
        assert_eq!(inbox.mails().len(), 1);
        assert_eq!(inbox.auths.lock().unwrap().len(), 1);
    }
);

/// The binary, with `args` and `env`, logging at debug; its stderr after
/// SIGTERM (or after it exited by itself).
async fn run_collector(
    args: &[&str],
    env: &[(&str, &str)],
    until: impl AsyncFnOnce(),
) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_collector"))
        .args(["serve", "--listen", &format!("127.0.0.1:{}", free_port())])
        .args(args)
        .envs(env.iter().copied())
        .env("RUST_LOG", "debug")
        .env_remove("STEADYCART_LOG_JSON")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    until().await;
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let out = tokio::task::spawn_blocking(move || {
        let _ = child.stdout.take();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_binary_takes_the_ca_file_flag_and_never_logs_the_password() {
    let t = TestDb::sqlite().await;
    let pki = Pki::new();
    let (inbox, server) = starttls_server(&pki.server);
    let dir = tempfile::tempdir().unwrap();
    let _shop = shop(&t.db, dir.path()).await;
    let url = format!("smtp://{USER}@{server}?tls=required");
    let ca = pki.ca.display().to_string();
    let data = dir.path().display().to_string();
    let args = [
        "--database-url",
        &t.url,
        "--data-dir",
        &data,
        "--signals-disabled",
        "--smtp-url",
        &url,
        "--smtp-ca-file",
        &ca,
        "--recovery-delay-ms",
        "0",
        "--recovery-tick-ms",
        "50",
        "--recovery-public-url",
        PUBLIC,
    ];
    let (ok, logs) = run_collector(
        &args,
        &[("STEADYCART_RECOVERY_SMTP_PASSWORD", WRONG_PASSWORD)],
        async || {
            let started = std::time::Instant::now();
            while outbox(&t.db).await[0].last_error.is_none() {
                assert!(started.elapsed() < Duration::from_secs(20), "no attempt");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        },
    )
    .await;
    assert!(ok, "{logs}");
    assert_eq!(
        *inbox.auths.lock().unwrap(),
        vec![(USER.to_string(), WRONG_PASSWORD.to_string(), false)],
        "STARTTLS with the CA file worked, then the password from the environment was refused"
    );
    assert!(logs.contains("authentication refused"), "{logs}");
    for secret in [WRONG_PASSWORD, "LOGPRIV", EMAIL] {
        if let Some(line) = logs.lines().find(|l| l.contains(secret)) {
            panic!("{secret} logged: {line}");
        }
    }

    // An unreadable CA file: the collector does not start, and says why.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_collector"));
    cmd.args(["serve", "--listen", &format!("127.0.0.1:{}", free_port())])
        .args(["--database-url", &t.url, "--data-dir", &data])
        .args(["--smtp-url", &url, "--smtp-ca-file", "/nonexistent/ca.pem"]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let logs = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{logs}");
    assert!(logs.contains("smtp_ca_file /nonexistent/ca.pem"), "{logs}");
    t.cleanup().await;
}
