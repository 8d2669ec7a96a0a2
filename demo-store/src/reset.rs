//! Connection resets on demand: a listener whose connections carry a
//! [`ResetSwitch`] that a handler can flip. The next write on a flipped
//! connection sets `SO_LINGER` to zero and fails, so hyper drops the
//! connection and the kernel answers with a TCP RST — what a crashed load
//! balancer or proxy looks like to a browser (`TypeError: Failed to fetch`).

use std::{
    io,
    net::SocketAddr,
    pin::Pin,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    extract::connect_info::Connected,
    serve::{IncomingStream, Listener},
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
};

/// Flips one connection into "reset on next write".
#[derive(Debug, Clone, Default)]
pub struct ResetSwitch(Arc<AtomicBool>);

impl ResetSwitch {
    /// Reset the connection instead of sending the response.
    pub fn trip(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn tripped(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Per-connection info handed to handlers (as `ConnectInfo`).
#[derive(Debug, Clone)]
pub struct Conn {
    /// The peer.
    pub peer: SocketAddr,
    /// The connection's reset switch.
    pub reset: ResetSwitch,
}

/// A TCP listener whose connections can be reset by handlers.
#[derive(Debug)]
pub struct ResettableListener(pub TcpListener);

/// An accepted connection with its switch.
#[derive(Debug)]
pub struct ResettableStream {
    inner: TcpStream,
    switch: ResetSwitch,
}

impl Listener for ResettableListener {
    type Io = ResettableStream;
    type Addr = Conn;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((inner, peer)) => {
                    let switch = ResetSwitch::default();
                    let conn = Conn {
                        peer,
                        reset: switch.clone(),
                    };
                    return (ResettableStream { inner, switch }, conn);
                }
                // Out of file descriptors and the like: back off briefly.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(Conn {
            peer: self.0.local_addr()?,
            reset: ResetSwitch::default(),
        })
    }
}

impl Connected<IncomingStream<'_, ResettableListener>> for Conn {
    fn connect_info(target: IncomingStream<'_, ResettableListener>) -> Self {
        target.remote_addr().clone()
    }
}

impl ResettableStream {
    fn abort(&self) -> io::Error {
        // Linger zero makes close() send RST instead of FIN; with a zero
        // timeout the close never blocks.
        let _ = socket2::SockRef::from(&self.inner).set_linger(Some(Duration::ZERO));
        io::Error::new(io::ErrorKind::ConnectionReset, "reset by fault injection")
    }
}

impl AsyncRead for ResettableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for ResettableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.switch.tripped() {
            return Poll::Ready(Err(self.abort()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.switch.tripped() {
            return Poll::Ready(Err(self.abort()));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.switch.tripped() {
            return Poll::Ready(Err(self.abort()));
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
