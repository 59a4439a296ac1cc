//! The HTTP server: HTTP/1.1 on a loopback listener (hyper), one task per connection on the one
//! thread, every request answered by [`Tokens::answer`] and logged in one line on stderr; it stops
//! on SIGTERM or SIGINT (Ctrl-C on Windows), dropping connections still open.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::rc::Rc;
use std::task::Poll;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use crate::action::workflow;

use super::protocol::{RequestParts, SECRET_HEADER};
use super::tokens::Tokens;

/// Why the server stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// SIGTERM.
    Terminate,
    /// SIGINT (Ctrl-C).
    Interrupt,
}

impl Stopped {
    /// The signal's name, for the log.
    pub fn name(self) -> &'static str {
        match self {
            Self::Terminate => "SIGTERM",
            Self::Interrupt => "SIGINT",
        }
    }
}

enum Event {
    Connection(std::io::Result<(tokio::net::TcpStream, SocketAddr)>),
    Stop(std::io::Result<Stopped>),
}

/// Serves `listener` until a stop signal; must run inside a [`tokio::task::LocalSet`].
/// `stop` is the signal future, made before the service announced itself (so no signal is missed).
pub async fn serve(
    listener: tokio::net::TcpListener,
    tokens: Rc<Tokens>,
    stop: impl Future<Output = std::io::Result<Stopped>>,
) -> std::io::Result<Stopped> {
    let mut stop = pin!(stop);
    loop {
        let event = std::future::poll_fn(|cx| {
            if let Poll::Ready(stopped) = stop.as_mut().poll(cx) {
                return Poll::Ready(Event::Stop(stopped));
            }
            listener.poll_accept(cx).map(Event::Connection)
        })
        .await;
        match event {
            Event::Stop(stopped) => return stopped,
            Event::Connection(Err(error)) => {
                // Out of file descriptors and the like: say so and keep serving.
                log(&format!("accept failed: {error}"));
            }
            Event::Connection(Ok((stream, peer))) => {
                let tokens = Rc::clone(&tokens);
                tokio::task::spawn_local(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let tokens = Rc::clone(&tokens);
                        async move { Ok::<_, Infallible>(respond(&tokens, peer, request).await) }
                    });
                    // A client that hangs up mid-request is no news.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
}

async fn respond(
    tokens: &Tokens,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let secret_headers: Vec<&[u8]> = request
        .headers()
        .get_all(SECRET_HEADER)
        .iter()
        .map(HeaderValue::as_bytes)
        .collect();
    let parts = RequestParts {
        peer_is_loopback: peer.ip().is_loopback() || is_mapped_loopback(peer),
        method: request.method().as_str(),
        path: request.uri().path(),
        query: request.uri().query(),
        secret_headers,
    };
    let answer = tokens.answer(&parts).await;
    log(&answer.log_line);
    let mut response = Response::new(Full::new(Bytes::from(
        answer.body.expose_secret().as_bytes().to_vec(),
    )));
    *response.status_mut() =
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn is_mapped_loopback(peer: SocketAddr) -> bool {
    match peer.ip() {
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        std::net::IpAddr::V4(_) => false,
    }
}

/// One line on stderr, inert for the runner's command parsers.
pub fn log(line: &str) {
    let _ = workflow::plain(
        &mut std::io::stderr(),
        &format!("azure-oidc-token serve: {line}"),
    );
}

/// Resolves on SIGTERM or SIGINT (Unix), Ctrl-C (elsewhere). Registering can fail (no signal
/// support): that is an error before anything is announced.
#[cfg(unix)]
pub fn stop_signal() -> std::io::Result<impl Future<Output = std::io::Result<Stopped>>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        std::future::poll_fn(|cx| {
            if terminate.poll_recv(cx).is_ready() {
                return Poll::Ready(Ok(Stopped::Terminate));
            }
            if interrupt.poll_recv(cx).is_ready() {
                return Poll::Ready(Ok(Stopped::Interrupt));
            }
            Poll::Pending
        })
        .await
    })
}

/// Resolves on Ctrl-C.
#[cfg(not(unix))]
pub fn stop_signal() -> std::io::Result<impl Future<Output = std::io::Result<Stopped>>> {
    Ok(async { tokio::signal::ctrl_c().await.map(|()| Stopped::Interrupt) })
}
