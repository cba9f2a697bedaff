//! Scriptable faults: what they are, the queue they wait in, and the
//! connection plumbing that lets a handler drop a connection or cut its
//! answer short.
//!
//! The server is still `axum::serve`, but over `FaultListener`, whose
//! connections (`FaultIo`) carry a `ConnControl` the handler reaches through
//! `ConnectInfo<ConnHandle>`. A handler that wants the client to see no
//! answer (or a truncated one) sets the control's mode before returning its
//! response; `FaultIo` then refuses (or cuts) the bytes hyper writes, which
//! makes hyper close the socket.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// A fault to inject into the answer to one request (see `Emulator::inject`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Close the TCP connection without answering; the request is NOT
    /// processed (no copy is created, its nonce is not used). The request is
    /// read (head and body) first, so that it can be matched and recorded.
    Drop,
    /// Process the request normally (a CopyImage creates its copy), then
    /// wait this long before answering. Used to hang past the client's read
    /// timeout.
    Delay(Duration),
    /// Do not process; answer this HTTP status. 502 and 504 get a small
    /// HTML page (`text/html`), as a gateway would send; 503 gets the ECS
    /// error body with Code `ServiceUnavailable`; any other status the ECS
    /// error body with Code `InternalError` (204 and 304 without a body, as
    /// HTTP requires). A number that cannot be a final HTTP status (below 200
    /// or above 999) is answered as 500.
    Status(u16),
    /// Do not process; answer this HTTP status (400..=599, else 500) with an ECS error body
    /// carrying this Code (e.g. 403 `Forbidden.RAM`).
    Error { status: u16, code: String },
    /// Do not process; answer 400 `Throttling` ("Request was denied due to
    /// request throttling."), with header `x-acs-retry-after: <ms>` when
    /// `Some`.
    Throttle { retry_after_ms: Option<u64> },
    /// Do not process; answer 200 `application/json` with a body that is not
    /// JSON (a truncated object: `{"RequestId":"…","ImageId":"m-`).
    Garbage,
    /// Process the request (a CopyImage creates its copy and records its
    /// ClientToken), then break the connection instead of answering: the
    /// status line and headers (with the full `Content-Length`) go out,
    /// followed by the first few bytes of the body (at most 8, never more than
    /// half, never the ImageId), then the socket is closed. The client sees a
    /// transport error although the copy exists.
    LoseAnswer,
}

impl Fault {
    /// The variant's name, as recorded in `RecordedRequest::fault`.
    pub fn name(&self) -> &'static str {
        match self {
            Fault::Drop => "Drop",
            Fault::Delay(_) => "Delay",
            Fault::Status(_) => "Status",
            Fault::Error { .. } => "Error",
            Fault::Throttle { .. } => "Throttle",
            Fault::Garbage => "Garbage",
            Fault::LoseAnswer => "LoseAnswer",
        }
    }
}

/// One queued fault and the action it is for (`None`: any request).
#[derive(Debug, Clone)]
pub(crate) struct QueuedFault {
    pub action: Option<String>,
    pub fault: Fault,
}

/// Removes and returns the first queued fault that applies to a request
/// with this action (`None`: the action could not be read).
pub(crate) fn take_fault(queue: &mut Vec<QueuedFault>, action: Option<&str>) -> Option<Fault> {
    let index = queue.iter().position(|q| match &q.action {
        None => true,
        Some(wanted) => action == Some(wanted.as_str()),
    })?;
    Some(queue.remove(index).fault)
}

/// The small page a gateway (Tengine, in front of ECS) sends for 502/504.
pub(crate) fn gateway_page(status: u16) -> String {
    let reason = match status {
        502 => "Bad Gateway",
        504 => "Gateway Time-out",
        _ => "Error",
    };
    format!(
        "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n\
         <center><h1>{status} {reason}</h1></center>\r\n<hr><center>Tengine</center>\r\n\
         </body>\r\n</html>\r\n"
    )
}

// ------------------------------------------------------- connection control

/// What a connection does with the bytes hyper writes.
#[derive(Debug, Clone, Copy, Default)]
enum Mode {
    /// Pass everything through.
    #[default]
    Normal,
    /// Write nothing more: every write fails, every read sees end of file.
    Broken,
    /// Let the response head through, then `body_left` bytes of the body,
    /// then behave as `Broken`.
    Cut {
        /// How many bytes of "\r\n\r\n" were just seen (0..=3).
        matched: usize,
        head_done: bool,
        body_left: usize,
    },
}

impl Mode {
    /// How many leading bytes of `buf` may be written; also returns the mode
    /// after writing exactly that many.
    fn allowance(self, buf: &[u8]) -> (usize, Mode) {
        match self {
            Mode::Normal => (buf.len(), self),
            Mode::Broken => (0, self),
            Mode::Cut {
                mut matched,
                mut head_done,
                mut body_left,
            } => {
                let mut allowed = 0;
                for &byte in buf {
                    if head_done {
                        if body_left == 0 {
                            break;
                        }
                        body_left -= 1;
                    } else {
                        let expected = b"\r\n\r\n"[matched];
                        matched = if byte == expected {
                            matched + 1
                        } else if byte == b'\r' {
                            1
                        } else {
                            0
                        };
                        if matched == 4 {
                            head_done = true;
                            matched = 0;
                        }
                    }
                    allowed += 1;
                }
                (
                    allowed,
                    Mode::Cut {
                        matched,
                        head_done,
                        body_left,
                    },
                )
            }
        }
    }
}

/// Shared between a connection's `FaultIo` and the handlers serving it.
#[derive(Debug, Default)]
pub(crate) struct ConnControl {
    mode: Mutex<Mode>,
}

impl ConnControl {
    fn mode(&self) -> MutexGuard<'_, Mode> {
        self.mode.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The handle a handler gets (as `ConnectInfo<ConnHandle>`) on the
/// connection its request came in on.
#[derive(Debug, Clone)]
pub(crate) struct ConnHandle {
    control: Arc<ConnControl>,
}

impl ConnHandle {
    /// Nothing more goes out on this connection; hyper closes it as soon as
    /// it tries to write the answer.
    pub fn break_connection(&self) {
        *self.control.mode() = Mode::Broken;
    }

    /// The next answer's head and `body_bytes` bytes of its body go out,
    /// then the connection breaks.
    pub fn cut_answer_after(&self, body_bytes: usize) {
        *self.control.mode() = Mode::Cut {
            matched: 0,
            head_done: false,
            body_left: body_bytes,
        };
    }
}

impl Connected<IncomingStream<'_, FaultListener>> for ConnHandle {
    fn connect_info(stream: IncomingStream<'_, FaultListener>) -> ConnHandle {
        ConnHandle {
            control: Arc::clone(&stream.io().control),
        }
    }
}

/// A TCP listener whose connections can be broken by the handlers.
pub(crate) struct FaultListener {
    pub inner: TcpListener,
}

impl Listener for FaultListener {
    type Io = FaultIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (FaultIo, SocketAddr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    let io = FaultIo {
                        inner: stream,
                        control: Arc::new(ConnControl::default()),
                    };
                    return (io, addr);
                }
                // Out of file descriptors and the like: wait, retry.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// A TCP stream that obeys its `ConnControl`.
pub(crate) struct FaultIo {
    inner: TcpStream,
    control: Arc<ConnControl>,
}

fn broken() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "connection broken by an injected fault",
    )
}

impl AsyncRead for FaultIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if matches!(*this.control.mode(), Mode::Broken) {
            // End of file: hyper stops reading and closes.
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for FaultIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        }
        let mode = *this.control.mode();
        let (allowed, _) = mode.allowance(buf);
        if allowed == 0 {
            *this.control.mode() = Mode::Broken;
            return Poll::Ready(Err(broken()));
        }
        let result = Pin::new(&mut this.inner).poll_write(cx, &buf[..allowed]);
        if let Poll::Ready(Ok(written)) = result {
            let (_, after) = mode.allowance(&buf[..written.min(allowed)]);
            let mut current = this.control.mode();
            // Only the handler's own settings move Normal/Broken; keep the
            // cut's progress.
            if matches!(*current, Mode::Cut { .. }) {
                *current = after;
            }
        }
        result
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
