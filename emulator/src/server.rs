//! The listener: accepts TLS connections, reads requests, routes them to a hop, records them and
//! lets the fault layer and the hop's handler answer.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::faults::{self, Next};
use crate::http::{self, ReadError, Request, Response};
use crate::state::State;
use crate::{Hop, Recorded, arm, directory, entra, github, github_api, services};

/// Accepts connections until `shutdown` fires (or its sender is dropped), then aborts every connection.
pub(crate) async fn run(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    state: Arc<State>,
    mut shutdown: oneshot::Receiver<()>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => {
                    connections.spawn(connection(tcp, acceptor.clone(), Arc::clone(&state)));
                }
                // E.g. out of file descriptors: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.abort_all();
}

/// The emulator's own counters (not a hop: neither recorded nor counted).
const STATS_PATH: &str = "/_emulator/stats";

/// Where a request goes.
enum Route {
    GitHub,
    Discovery(github::Document),
    Entra { tenant: String },
    TenantDiscovery { tenant: String },
}

impl Route {
    fn hop(&self) -> Hop {
        match self {
            Route::GitHub => Hop::GitHub,
            Route::Discovery(_) => Hop::Discovery,
            Route::Entra { .. } => Hop::Entra,
            Route::TenantDiscovery { .. } => Hop::TenantDiscovery,
        }
    }
}

fn route(state: &State, path: &str) -> Option<Route> {
    if path == state.request_path {
        return Some(Route::GitHub);
    }
    if let Some(tenant) = path
        .strip_prefix('/')
        .and_then(|p| p.strip_suffix("/v2.0/.well-known/openid-configuration"))
        .filter(|t| !t.contains('/'))
    {
        return Some(Route::TenantDiscovery {
            tenant: tenant.to_owned(),
        });
    }
    if let Some(rest) = path.strip_prefix(state.issuer_path.as_str()) {
        match rest {
            "/.well-known/openid-configuration" => {
                return Some(Route::Discovery(github::Document::OpenIdConfiguration));
            }
            "/.well-known/jwks" => return Some(Route::Discovery(github::Document::Jwks)),
            _ => {}
        }
    }
    let tenant = path.strip_prefix('/')?.strip_suffix("/oauth2/v2.0/token")?;
    if tenant.contains('/') {
        return None;
    }
    Some(Route::Entra {
        tenant: tenant.to_owned(),
    })
}

fn record(request: &Request) -> Recorded {
    Recorded {
        method: request.method.clone(),
        path: request.path.clone(),
        query: request.query.clone(),
        headers: request.headers.clone(),
        body: String::from_utf8_lossy(&request.body).into_owned(),
    }
}

async fn connection(tcp: TcpStream, acceptor: TlsAcceptor, state: Arc<State>) {
    let _ = tcp.set_nodelay(true);
    let Ok(mut tls) = acceptor.accept(tcp).await else {
        return;
    };
    let mut buf = Vec::new();
    loop {
        let request = match http::read_request(&mut tls, &mut buf).await {
            Ok(Some(request)) => request,
            Ok(None) | Err(ReadError::Closed) => return,
            Err(ReadError::Bad(response)) => {
                let _ = faults::serve(&mut tls, Hop::GitHub, None, false, || response).await;
                return;
            }
        };
        let keep_alive = request.keep_alive;
        let next = match route(&state, &request.path) {
            // The audit's doubles: Graph and ARM credential lists, GitHub REST.
            None if directory::serves(&request.path) || github_api::serves(&request.path) => {
                let answer = || {
                    if directory::serves(&request.path) {
                        directory::handle(&state, &request, record(&request))
                    } else {
                        github_api::handle(&state, &request, record(&request))
                    }
                };
                faults::serve(&mut tls, Hop::GitHub, None, keep_alive, answer).await
            }
            None if services::serves(&request.path) => {
                let answer = || services::handle(&state, &request, record(&request));
                faults::serve(&mut tls, Hop::GitHub, None, keep_alive, answer).await
            }
            None if arm::is_arm_path(&request.path) => {
                let answer = || arm::handle(&state, &request, record(&request));
                let delay = arm::delay(&state.arm);
                faults::serve(&mut tls, Hop::GitHub, delay, keep_alive, answer).await
            }
            None if request.path == STATS_PATH => {
                let stats = || Response::json(200, &state.stats());
                faults::serve(&mut tls, Hop::GitHub, None, keep_alive, stats).await
            }
            None => {
                let not_found = || {
                    Response::new(
                        404,
                        "application/json; charset=utf-8",
                        r#"{"message":"Not Found"}"#,
                    )
                };
                faults::serve(&mut tls, Hop::GitHub, None, keep_alive, not_found).await
            }
            Some(route) => {
                let hop = route.hop();
                let fault = state.arrive(hop, record(&request));
                let handler = || {
                    let response = match &route {
                        Route::GitHub => github::id_token(&state, &request),
                        Route::Discovery(document) => {
                            github::discovery(&state, &request, *document)
                        }
                        Route::Entra { tenant } => entra::token(&state, &request, tenant),
                        Route::TenantDiscovery { tenant } => {
                            entra::tenant_discovery(&state, &request, tenant)
                        }
                    };
                    if response.status == 200 {
                        state.succeeded(hop);
                    }
                    response
                };
                faults::serve(&mut tls, hop, fault, keep_alive, handler).await
            }
        };
        match next {
            Next::Continue => {}
            Next::Close => {
                let _ = tokio::time::timeout(Duration::from_secs(1), tls.shutdown()).await;
                return;
            }
            Next::Drop => return,
            Next::Reset => {
                let (tcp, _) = tls.get_ref();
                let _ = tcp.set_zero_linger();
                return;
            }
        }
    }
}
