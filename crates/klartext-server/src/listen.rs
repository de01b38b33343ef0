//! The accept loop: HTTP/1.1 connections with a cap on how many are open, timeouts for
//! a request's headers, for a request body that stops arriving and for idle keep-alive
//! connections, a clear refusal (and a metric and a log line) when connections are
//! shed, and a graceful drain at shutdown. Without these, a client that opens
//! connections and sends nothing (or half a header, or a `Content-Length` it never
//! sends) holds a file descriptor for ever, and enough of them stop the server.

use crate::AppState;
use axum::body::Body;
use http_body::{Body as HttpBody, Frame};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

/// What the accept loop counts (for `/metrics`).
#[derive(Debug, Default)]
pub struct ConnStats {
    /// Connections open now.
    pub open: AtomicU64,
    /// Connections accepted.
    pub accepted: AtomicU64,
    /// Connections refused because `max_connections` were open.
    pub shed: AtomicU64,
    /// Connections closed for a timeout (headers, body or idle).
    pub timed_out: AtomicU64,
}

/// The answer to a connection over the cap, written before it is closed.
fn shed_answer() -> Vec<u8> {
    let body = crate::error::ApiError::new(
        crate::ErrorCode::TooManyConnections,
        "the server has too many open connections; retry in a moment",
    )
    .body()
    .to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nconnection: close\r\nretry-after: 1\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Serve `state`'s router on `listener` until `shutdown` resolves, then drain open
/// connections (their requests finish) and flush the prediction log.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let config = state.inner.config.clone();
    let stats = state.inner.conns.clone();
    let app = crate::router(state.clone());
    let permits = Arc::new(Semaphore::new(config.max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    let shed = Arc::new(shed_answer());
    let mut last_shed_log: Option<Instant> = None;
    let mut shed_since_log = 0u64;
    loop {
        let (stream, _) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors or a connection reset before accept: keep
                    // serving the open connections, try again shortly.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        stats.accepted.fetch_add(1, Relaxed);
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            stats.shed.fetch_add(1, Relaxed);
            shed_since_log += 1;
            if last_shed_log.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                tracing::warn!(
                    shed = shed_since_log,
                    max_connections = config.max_connections,
                    "connections refused: too many open"
                );
                last_shed_log = Some(Instant::now());
                shed_since_log = 0;
            }
            let shed = shed.clone();
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                let mut stream = stream;
                let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(&shed)).await;
            });
            continue;
        };
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(AtomicU64::new(0));
        let io = TokioIo::new(Watched::new(stream, activity.clone()));
        let service = hyper_util::service::TowerToHyperService::new(TimeoutBodies {
            app: app.clone(),
            body_timeout: config.body_timeout,
        });
        let mut stop = stop_rx.clone();
        let stats = stats.clone();
        let (header_timeout, idle_timeout) = (config.header_timeout, config.idle_timeout);
        tokio::spawn(async move {
            stats.open.fetch_add(1, Relaxed);
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .keep_alive(true)
                .serve_connection(io, service);
            tokio::pin!(conn);
            let started = Instant::now();
            let mut draining = false;
            let tick = idle_timeout.min(Duration::from_secs(1));
            let result = loop {
                tokio::select! {
                    r = conn.as_mut() => break r,
                    _ = stop.changed(), if !draining => {
                        draining = true;
                        conn.as_mut().graceful_shutdown();
                    }
                    () = tokio::time::sleep(tick), if !draining => {
                        // Idle: no byte in or out for the idle timeout. A graceful shutdown
                        // lets a request in flight finish and closes an idle connection.
                        let last = Duration::from_millis(activity.load(Relaxed));
                        if started.elapsed().saturating_sub(last) >= idle_timeout {
                            stats.timed_out.fetch_add(1, Relaxed);
                            draining = true;
                            conn.as_mut().graceful_shutdown();
                        }
                    }
                }
            };
            if let Err(e) = result {
                if e.is_timeout() {
                    stats.timed_out.fetch_add(1, Relaxed);
                }
                tracing::debug!(error = %e, "connection ended with an error");
            }
            stats.open.fetch_sub(1, Relaxed);
            drop(permit);
        });
    }
    tracing::info!("shutting down: draining in-flight requests");
    state.begin_shutdown();
    let _ = stop_tx.send(true);
    // Every open connection holds a permit: all are back once all are closed.
    let all = u32::try_from(config.max_connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(config.drain_timeout, permits.acquire_many(all)).await;
    state.flush_log().await;
    tracing::info!("prediction log flushed; stopped");
    Ok(())
}

/// A connection's stream that notes when it last moved a byte (milliseconds since it
/// was accepted), for the idle timeout; and that puts the HTTP layer's own refusals (a
/// request that does not parse, headers too large: written with an empty body before the
/// router sees anything) into the API's error envelope.
struct Watched<S> {
    inner: S,
    activity: Arc<AtomicU64>,
    started: Instant,
    /// An enveloped refusal being written in place of the HTTP layer's: its bytes, how
    /// many are written, and the length of the write it stands for.
    rewrite: Option<(Vec<u8>, usize, usize)>,
}

impl<S> Watched<S> {
    fn new(inner: S, activity: Arc<AtomicU64>) -> Watched<S> {
        Watched {
            inner,
            activity,
            started: Instant::now(),
            rewrite: None,
        }
    }

    fn touch(&self) {
        self.activity
            .store(self.started.elapsed().as_millis() as u64, Relaxed);
    }
}

/// The HTTP layer's refusal in `buf` (a 4xx with an empty body on a closing
/// connection), as an enveloped answer.
fn enveloped_refusal(buf: &[u8]) -> Option<Vec<u8>> {
    let head = std::str::from_utf8(buf).ok()?;
    let status: u16 = head
        .strip_prefix("HTTP/1.1 4")?
        .get(..2)?
        .parse::<u16>()
        .ok()?
        + 400;
    let lower = head.to_ascii_lowercase();
    if !(lower.contains("\r\ncontent-length: 0\r\n") && lower.contains("\r\nconnection: close\r\n"))
    {
        return None;
    }
    let (code, message) = match status {
        431 => (
            crate::ErrorCode::HeadersTooLarge,
            "the request's headers are too large",
        ),
        414 => (
            crate::ErrorCode::UriTooLong,
            "the request's URI is too long",
        ),
        408 => (
            crate::ErrorCode::RequestTimeout,
            "the request's headers did not arrive in time",
        ),
        _ => (
            crate::ErrorCode::InvalidRequest,
            "the request is not valid HTTP/1.1 (its start line, a header, or its Content-Length)",
        ),
    };
    let body = crate::error::ApiError::new(code, message)
        .body()
        .to_string();
    let reason = head.lines().next()?.get(13..).unwrap_or("");
    Some(
        format!(
            "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.touch();
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.rewrite.is_none() && buf.starts_with(b"HTTP/1.1 4") {
            if let Some(bytes) = enveloped_refusal(buf) {
                self.rewrite = Some((bytes, 0, buf.len()));
            }
        }
        if let Some((bytes, mut done, stands_for)) = self.rewrite.take() {
            while done < bytes.len() {
                match Pin::new(&mut self.inner).poll_write(cx, &bytes[done..]) {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Ok(0)),
                    Poll::Ready(Ok(n)) => done += n,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => {
                        self.rewrite = Some((bytes, done, stands_for));
                        return Poll::Pending;
                    }
                }
            }
            self.touch();
            return Poll::Ready(Ok(stands_for));
        }
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The router with every request body under a timeout between its chunks.
#[derive(Clone)]
struct TimeoutBodies {
    app: axum::Router,
    body_timeout: Duration,
}

impl tower_service::Service<hyper::Request<hyper::body::Incoming>> for TimeoutBodies {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = <axum::Router as tower_service::Service<axum::http::Request<Body>>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        tower_service::Service::<axum::http::Request<Body>>::poll_ready(&mut self.app, cx)
    }

    fn call(&mut self, req: hyper::Request<hyper::body::Incoming>) -> Self::Future {
        let timeout = self.body_timeout;
        let req = req.map(|b| {
            Body::new(StalledAfter {
                inner: b,
                timeout,
                sleep: None,
            })
        });
        self.app.call(req)
    }
}

/// A request body that fails when no chunk arrives for `timeout`.
struct StalledAfter<B> {
    inner: B,
    timeout: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

/// The error a stalled body ends with; [`crate::api::body_bytes`] answers it 408.
#[derive(Debug)]
pub(crate) struct BodyStalled(pub Duration);

impl std::fmt::Display for BodyStalled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "no part of the request body arrived for {} s",
            self.0.as_secs()
        )
    }
}

impl std::error::Error for BodyStalled {}

impl<B> HttpBody for StalledAfter<B>
where
    B: HttpBody<Data = axum::body::Bytes> + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = axum::body::Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(r) => {
                self.sleep = None;
                Poll::Ready(r.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                let timeout = self.timeout;
                let sleep = self
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyStalled(timeout))))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
