//! Answers a request: the protocol's checks, then a token from the cache or from a fresh exchange
//! (a new session, so a fresh GitHub ID token, for every exchange), and the failures rendered for
//! the client (status, AADSTS code and the action's hints) and for the log (one line per request).

use std::io::Write as _;

use crate::action::workflow;
use crate::clock::{rfc3339, unix_now};
use crate::error::{self, AppError};
use crate::exchange::entra::{AccessToken, EntraError};
use crate::exchange::http::server_text;
use crate::exchange::settings::{ConfigError, ExchangeConfig};
use crate::exchange::source::IdTokenSource;
use crate::exchange::source::github::GitHubError;
use crate::exchange::{ExchangeError, Session};
use crate::report::Log;
use crate::secret::Secret;

use super::allow::{AllowList, scope_for};
use super::cache::{Cache, Served};
use super::protocol::{self, RequestParts};

/// Why an exchange gave no token, rendered once and shared by every request that waited for it.
#[derive(Debug)]
pub struct Failure {
    /// HTTP status for the client: 503 when trying again later may help, 400 when a setting must change.
    pub status: u16,
    /// OAuth-style code.
    pub code: &'static str,
    /// The message and its hints, one per line, inert for the runner's command parsers.
    pub lines: Vec<String>,
}

impl Failure {
    fn from_error(error: &AppError, config: &ExchangeConfig) -> Self {
        let transient = is_transient(error);
        let mut lines = vec![error.to_string()];
        lines.extend(error::hints(error, Some(&config.hint_context())));
        Self {
            status: if transient { 503 } else { 400 },
            code: if transient {
                "temporarily_unavailable"
            } else {
                "invalid_request"
            },
            lines: lines
                .iter()
                .map(|line| workflow::neutralize(line))
                .collect(),
        }
    }
}

/// Whether the failure may pass by itself (the network, a server's 5xx or 429): the action already
/// retried within its budget, so the client may try again later; anything else needs a change.
fn is_transient(error: &AppError) -> bool {
    let AppError::Exchange(error) = error else {
        return false;
    };
    match &**error {
        ExchangeError::Entra { error, .. } => match error {
            EntraError::Http(_) | EntraError::EmptySuccess => true,
            other => other
                .status()
                .is_some_and(|status| status == 429 || status >= 500),
        },
        ExchangeError::GitHub { error, .. } => !matches!(error, GitHubError::Unauthorized(_)),
        _ => false,
    }
}

/// The error for an ID token already past its `exp` when the service got it: a file or variable
/// that nothing keeps fresh (a GitHub token is fetched fresh, so only clock trouble gets here).
fn expired_id_token(source: &IdTokenSource, exp: i64) -> AppError {
    let variable = match source {
        IdTokenSource::File { origin, .. } => origin,
        IdTokenSource::Env { .. } => "--id-token-env",
        IdTokenSource::GitHub(_) => "ACTIONS_ID_TOKEN_REQUEST_URL",
    };
    AppError::Config(ConfigError::Runner {
        variable,
        problem: format!(
            "gave an ID token that expired at {} ({}): the service never presents an expired token; whatever provides it must keep it fresh (a file rewritten before expiry, or the runner's endpoint), and the machine's clock must be right",
            rfc3339(exp),
            source.origin()
        ),
    })
}

/// An answer: status and body, plus the log line.
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// JSON body (holds the token on success).
    pub body: Secret,
    /// The one log line for this request (no secret in it).
    pub log_line: String,
}

/// The service's state: what to exchange, what is allowed, the header secret and the cache.
pub struct Tokens {
    config: ExchangeConfig,
    allow: AllowList,
    secret: Secret,
    in_actions: bool,
    cache: Cache<Failure>,
}

impl Tokens {
    /// The state of a service minting with `config` for the resources in `allow`.
    pub fn new(config: ExchangeConfig, allow: AllowList, secret: Secret, in_actions: bool) -> Self {
        Self {
            config,
            allow,
            secret,
            in_actions,
            cache: Cache::default(),
        }
    }

    /// Answers one request.
    pub async fn answer(&self, parts: &RequestParts<'_>) -> Answer {
        let client_id = &self.config.client_id;
        let query = match protocol::check(parts, &self.secret, client_id, |r| self.allow.allows(r))
        {
            Ok(query) => query,
            Err(refusal) => {
                let message = refusal.to_string();
                return Answer {
                    status: refusal.status(),
                    body: Secret::new(protocol::error_json(
                        refusal.status(),
                        refusal.code(),
                        &message,
                    )),
                    log_line: format!(
                        "{} {}: refused ({}): {message}",
                        server_text(parts.method),
                        server_text(parts.path),
                        refusal.status()
                    ),
                };
            }
        };
        let resource = &query.resource;
        match self
            .cache
            .get(resource, unix_now, || self.exchange(resource))
            .await
        {
            Ok(served) => {
                let token = served.token();
                let how = match served {
                    Served::Cached(_) => "from cache",
                    Served::Exchanged(_) => "exchanged",
                };
                Answer {
                    status: 200,
                    body: protocol::token_json(&token.token, token.expires_on, resource, client_id),
                    log_line: format!(
                        "resource {resource}: {how}, 200, expires {} (in {} s)",
                        rfc3339(token.expires_on),
                        token.expires_on - unix_now()
                    ),
                }
            }
            Err(failure) => Answer {
                status: failure.status,
                body: Secret::new(protocol::error_json(
                    failure.status,
                    failure.code,
                    &failure.lines.join("\n"),
                )),
                log_line: format!(
                    "resource {resource}: exchange failed, {}: {}",
                    failure.status,
                    failure.lines.join(" | ")
                ),
            },
        }
    }

    /// One exchange for `resource`: a new session (so a fresh ID token), refused if that ID token
    /// has already expired (a stale `--id-token-file`), then the action's exchange with its retries.
    async fn exchange(&self, resource: &str) -> Result<AccessToken, Failure> {
        let mut stderr = std::io::stderr();
        let log = Log::new(&mut stderr, self.in_actions, self.config.debug);
        let scope = scope_for(resource);
        let result: Result<AccessToken, AppError> = async {
            let session = Session::start(&self.config.source, &log).await?;
            if let Some(exp) = session.presented().claims.exp
                && exp <= unix_now()
            {
                return Err(expired_id_token(&self.config.source.id_token, exp));
            }
            Ok(session.exchange(&self.config, &scope).await?)
        }
        .await;
        match result {
            Ok(token) if token.expires_on <= unix_now() => {
                // Never served: a token already expired on arrival means the clock or the
                // server is wrong, and a client would fail with it anyway.
                log.mask(&token.token);
                Err(Failure {
                    status: 503,
                    code: "temporarily_unavailable",
                    lines: vec![format!(
                        "Entra answered with a token that expired at {}, before it arrived: check this machine's clock",
                        rfc3339(token.expires_on)
                    )],
                })
            }
            Ok(token) => {
                log.mask(&token.token);
                Ok(token)
            }
            Err(error) => {
                let failure = Failure::from_error(&error, &self.config);
                let _ = log.into_inner().flush();
                Err(failure)
            }
        }
    }
}
