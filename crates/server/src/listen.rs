//! Accepting connections, plain or TLS, so that slow or stalled clients cannot hold the server:
//!
//! - a client has [`ConnectionLimits::header_read_timeout`] for the TLS handshake, and as long
//!   for a request's headers, counted from the connection's start or from the end of the
//!   previous response on a kept-alive connection;
//! - a connection on which no byte moves for [`ConnectionLimits::idle_timeout`] is closed unless
//!   a request is being handled and is not waiting for its body (so a stalled body or a client
//!   that stopped reading its response is closed; a long computation is not);
//! - at most [`ConnectionLimits::max`] connections are served at once, fewer if the process's
//!   open-file limit would not allow them; further ones wait in the kernel's listen queue
//!   until a connection ends.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

use crate::config::ConnectionLimits;

/// How long connections may take to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Open files kept for everything but client connections (database, store files, logs).
const RESERVED_FILES: u64 = 256;

/// Connections the kernel completes and queues while the server is busy accepting: more than
/// the usual 128, so that a burst (or many stalled clients) does not make new clients wait for
/// their SYN to be sent again; the kernel lowers it to `net.core.somaxconn`.
const LISTEN_BACKLOG: u32 = 4096;

/// A listening socket on `address` with [`LISTEN_BACKLOG`].
pub(crate) fn bind(address: SocketAddr) -> io::Result<TcpListener> {
    let socket = match address {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Serves `app` on `listener` until `shutdown` completes, then lets open connections finish
/// (at most [`SHUTDOWN_GRACE`]).
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<TlsAcceptor>,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let max = connection_cap(limits.max);
    let permits = Arc::new(Semaphore::new(max));
    let (stop, stopping) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break, // never closed
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // e.g. out of file descriptors: wait for connections to end
                    tracing::warn!("accepting a connection: {err}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let (app, tls, stopping) = (app.clone(), tls.clone(), stopping.clone());
        tokio::spawn(async move {
            connection(stream, peer, app, tls, limits, stopping).await;
            drop(permit);
        });
    }
    drop(listener);
    stop.send_replace(true);
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    if tokio::time::timeout(SHUTDOWN_GRACE, permits.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("connections still open {SHUTDOWN_GRACE:?} after the shutdown signal; closing them");
    }
}

/// `wanted`, or fewer connections if the open-file limit (raised to its hard limit first) does
/// not leave two files per connection (its socket and an object file) besides
/// [`RESERVED_FILES`].
fn connection_cap(wanted: usize) -> usize {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if let (Some(current), Some(maximum)) = (limit.current, limit.maximum)
        && current < maximum
        && let Err(err) = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(maximum),
                maximum: Some(maximum),
            },
        )
    {
        tracing::warn!("raising the open-file limit from {current} to {maximum}: {err}");
    }
    let Some(files) = getrlimit(Resource::Nofile).current else {
        return wanted.max(1);
    };
    let allowed = usize::try_from(files.saturating_sub(RESERVED_FILES) / 2).unwrap_or(usize::MAX);
    if allowed < wanted {
        tracing::warn!(
            "serving at most {allowed} connections at once, not {wanted}: the open-file limit is {files}"
        );
    }
    wanted.min(allowed).max(1)
}

/// Serves one connection: the TLS handshake (within the header-read timeout), then HTTP/1.1.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    tls: Option<TlsAcceptor>,
    limits: ConnectionLimits,
    stopping: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::new());
    let stream = Tracked {
        inner: stream,
        activity: activity.clone(),
    };
    match tls {
        None => http(stream, peer, app, limits, activity, stopping).await,
        Some(acceptor) => {
            match tokio::time::timeout(limits.header_read_timeout(), acceptor.accept(stream)).await {
                Ok(Ok(stream)) => http(stream, peer, app, limits, activity, stopping).await,
                Ok(Err(err)) => tracing::debug!(%peer, "TLS handshake failed: {err}"),
                Err(_) => tracing::debug!(%peer, "TLS handshake not finished in time; closed"),
            }
        }
    }
}

async fn http<I>(
    io: I,
    peer: SocketAddr,
    app: Router,
    limits: ConnectionLimits,
    activity: Arc<Activity>,
    mut stopping: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let handling = activity.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let mut request = request.map(|body| WatchedBody {
            inner: body,
            activity: handling.clone(),
        });
        request.extensions_mut().insert(ConnectInfo(peer));
        let busy = Handling::new(&handling);
        let app = app.clone();
        async move {
            let response = app.oneshot(request).await;
            drop(busy);
            response
        }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout())
        .serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    let mut stopped = *stopping.borrow();
    if stopped {
        connection.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            outcome = connection.as_mut() => {
                if let Err(err) = outcome {
                    tracing::debug!(%peer, "connection ended: {err}");
                }
                return;
            }
            _ = stopping.changed(), if !stopped => {
                stopped = true;
                connection.as_mut().graceful_shutdown();
            }
            () = activity.idle(limits.idle_timeout()) => {
                tracing::debug!(%peer, "connection idle for {:?}; closed", limits.idle_timeout());
                return;
            }
        }
    }
}

/// When a connection last moved a byte, and whether a request is being handled.
#[derive(Debug)]
struct Activity {
    start: Instant,
    /// Milliseconds from `start` to the last byte read or written.
    last: AtomicU64,
    /// Requests being handled (HTTP/1.1: one at a time).
    handling: AtomicUsize,
    /// Whether the request being handled waits for its body's next bytes.
    waiting_for_body: AtomicBool,
}

impl Activity {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            last: AtomicU64::new(0),
            handling: AtomicUsize::new(0),
            waiting_for_body: AtomicBool::new(false),
        }
    }

    fn touch(&self) {
        let since_start = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(since_start, Ordering::Relaxed);
    }

    /// Whether the server, not the client, is to move next: a request is being handled and
    /// does not wait for its body.
    fn server_busy(&self) -> bool {
        self.handling.load(Ordering::Relaxed) > 0 && !self.waiting_for_body.load(Ordering::Relaxed)
    }

    /// Completes once no byte has moved for `timeout` while the server was not busy.
    async fn idle(&self, timeout: Duration) {
        loop {
            let deadline = self.start + Duration::from_millis(self.last.load(Ordering::Relaxed)) + timeout;
            if Instant::now() < deadline {
                tokio::time::sleep_until(deadline.into()).await;
            } else if self.server_busy() {
                // counts from when it is done
                self.touch();
            } else {
                return;
            }
        }
    }
}

/// A request being handled, for as long as the value lives.
struct Handling(Arc<Activity>);

impl Handling {
    fn new(activity: &Arc<Activity>) -> Self {
        activity.handling.fetch_add(1, Ordering::Relaxed);
        Self(activity.clone())
    }
}

impl Drop for Handling {
    fn drop(&mut self) {
        self.0.handling.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

/// A request body that records in its [`Activity`] whether the handler waits for it.
struct WatchedBody {
    inner: Incoming,
    activity: Arc<Activity>,
}

impl hyper::body::Body for WatchedBody {
    type Data = bytes::Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let poll = Pin::new(&mut self.inner).poll_frame(cx);
        self.activity
            .waiting_for_body
            .store(poll.is_pending(), Ordering::Relaxed);
        poll
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for WatchedBody {
    fn drop(&mut self) {
        self.activity.waiting_for_body.store(false, Ordering::Relaxed);
    }
}

/// A stream that records in its [`Activity`] when it last moved a byte.
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl Tracked {
    fn moved<T>(&self, poll: Poll<io::Result<T>>, bytes: bool) -> Poll<io::Result<T>> {
        if bytes {
            self.activity.touch();
        }
        poll
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = matches!(poll, Poll::Ready(Ok(()))) && buf.filled().len() > before;
        self.moved(poll, read)
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, data);
        let wrote = matches!(poll, Poll::Ready(Ok(n)) if n > 0);
        self.moved(poll, wrote)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, data);
        let wrote = matches!(poll, Poll::Ready(Ok(n)) if n > 0);
        self.moved(poll, wrote)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
