//! A fake release host: fixed files over HTTPS on `127.0.0.1`, each served whole, cut short, or as a
//! redirect, for tests of what downloads a release asset (the native action's installer).
//!
//! Its own listener and its own CA ([`FileServer::ca_pem`]), generated at start like the emulator's;
//! unknown paths get GitHub's `404 {"message":"Not Found"}`.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::http::{self, ReadError, Response};
use crate::tls;

/// How one path is answered.
#[derive(Clone, Debug)]
pub enum Serve {
    /// `200` with these bytes.
    File(Vec<u8>),
    /// `200` announcing `announced` bytes but sending only `bytes`, then closing: a cut download.
    Truncated {
        /// What is sent.
        bytes: Vec<u8>,
        /// The `Content-Length` announced.
        announced: usize,
    },
    /// `302 Found` to this location (a path on this server or an absolute URL), as GitHub answers
    /// release downloads with a redirect to its object store.
    Redirect(String),
}

/// Lower-case hex SHA-256 of `bytes` (ring, independent of any tool an installer under test uses).
pub fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A running file server. Dropping it stops the server.
pub struct FileServer {
    ca_pem: String,
    base_url: String,
    requests: Arc<Mutex<Vec<String>>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for FileServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileServer")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl FileServer {
    /// Serves `files` (path, e.g. `/releases/download/v1.0.0/tool`, and how it is answered) on an
    /// ephemeral port of `127.0.0.1`; returns once connections are accepted.
    pub fn start(files: Vec<(String, Serve)>) -> std::io::Result<FileServer> {
        let std_listener =
            std::net::TcpListener::bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0))?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let tls = tls::generate(&[], addr.ip())?;
        let base_url = format!("https://127.0.0.1:{}", addr.port());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?;
        let listener = {
            let _entered = runtime.enter();
            TcpListener::from_std(std_listener)?
        };
        let files: Arc<HashMap<String, Serve>> = Arc::new(files.into_iter().collect());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (shutdown, mut shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let acceptor = TlsAcceptor::from(tls.server_config);
        let seen = Arc::clone(&requests);
        let thread = std::thread::Builder::new()
            .name(format!("azure-oidc-files-{}", addr.port()))
            .spawn(move || {
                runtime.block_on(async move {
                    let mut connections = JoinSet::new();
                    loop {
                        tokio::select! {
                            _ = &mut shutdown_rx => break,
                            accepted = listener.accept() => match accepted {
                                Ok((tcp, _)) => {
                                    connections.spawn(connection(
                                        tcp,
                                        acceptor.clone(),
                                        Arc::clone(&files),
                                        Arc::clone(&seen),
                                    ));
                                }
                                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                            },
                            Some(_) = connections.join_next(), if !connections.is_empty() => {}
                        }
                    }
                    connections.abort_all();
                });
            })?;
        Ok(FileServer {
            ca_pem: tls.ca_pem,
            base_url,
            requests,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// PEM of the CA that issued the server certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// `https://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// The path of every request received, in order (unknown paths included).
    pub fn requests(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            // The receiver is gone only if the server already stopped.
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn connection(
    tcp: TcpStream,
    acceptor: TlsAcceptor,
    files: Arc<HashMap<String, Serve>>,
    requests: Arc<Mutex<Vec<String>>>,
) {
    let Ok(mut tls) = acceptor.accept(tcp).await else {
        return;
    };
    let mut buf = Vec::new();
    loop {
        let request = match http::read_request(&mut tls, &mut buf).await {
            Ok(Some(request)) => request,
            Ok(None) | Err(ReadError::Closed) => return,
            Err(ReadError::Bad(response)) => {
                let _ = tls.write_all(&response.to_bytes(false)).await;
                return;
            }
        };
        requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(request.path.clone());
        let keep_alive = request.keep_alive;
        let bytes = match files.get(&request.path) {
            Some(Serve::File(body)) => {
                Response::new(200, "application/octet-stream", body.clone()).to_bytes(keep_alive)
            }
            Some(Serve::Truncated { bytes, announced }) => {
                let mut wire = Response::new(200, "application/octet-stream", Vec::new())
                    .head_bytes(*announced, false);
                wire.extend_from_slice(bytes);
                let _ = tls.write_all(&wire).await;
                let _ = tls.flush().await;
                // Close without TLS close_notify, as a dropped connection does.
                return;
            }
            Some(Serve::Redirect(location)) => Response::new(302, "", Vec::new())
                .with_header("Location", location.clone())
                .to_bytes(keep_alive),
            None => Response::new(
                404,
                "application/json; charset=utf-8",
                r#"{"message":"Not Found"}"#,
            )
            .to_bytes(keep_alive),
        };
        if tls.write_all(&bytes).await.is_err() || tls.flush().await.is_err() || !keep_alive {
            let _ = tokio::time::timeout(Duration::from_secs(1), tls.shutdown()).await;
            return;
        }
    }
}
