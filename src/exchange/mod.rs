//! The exchange, with no knowledge of GitHub Actions: get an ID token from its [`source`], present it
//! to Entra ([`entra`]) as a client assertion, get an access token back. [`http`] gives every
//! request a deadline, a per-attempt limit and retries.
//!
//! What happens along the way (a secret obtained, a retry, a debug line) is told to a [`Progress`],
//! which the caller renders: workflow commands in a step, plain lines on a terminal.

pub mod claims;
pub mod cloud;
pub mod entra;
pub mod events;
pub mod http;
pub mod invalid;
pub mod network;
pub mod settings;
pub mod source;

use std::cell::{Cell, Ref, RefCell};
use std::path::Path;
use std::time::Duration;

use claims::{Claims, ClaimsError, decode_claims};
use entra::{AccessToken, EntraError, TokenRequest};
use events::RiskyEvent;
use http::{Attempt, Deadline, HttpError};
use settings::ExchangeConfig;
use source::IdTokenSource;
use source::github::{self, GitHubError};

use crate::secret::Secret;

/// `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("azure-oidc-token/", env!("CARGO_PKG_VERSION"));

/// Fetch a fresh ID token before an exchange attempt when the current one expires within this.
const REFRESH_MARGIN_SECS: i64 = 60;

/// Told what happens during an exchange.
pub trait Progress {
    /// A secret was just obtained: hide it before anything else is done with it.
    fn secret(&self, secret: &Secret);
    /// A line for the log (a retry, a refresh); it may quote server text.
    fn note(&self, line: &str);
    /// A line for debug logging only.
    fn debug(&self, line: &str);
}

/// Why no token came back.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// The HTTPS client could not be set up (a bug, or an unusable CA store).
    #[error("cannot set up HTTPS: {0}")]
    Client(HttpError),
    /// The GitHub hop failed.
    #[error("GitHub ID token endpoint {host}: {error}{}", attempts_note(*.attempts, *.retry_after_beyond_budget, .earlier.as_deref()))]
    GitHub {
        /// Host of `ACTIONS_ID_TOKEN_REQUEST_URL`.
        host: String,
        /// The last failure.
        error: GitHubError,
        /// Attempts made.
        attempts: u32,
        /// A `Retry-After` the budget could not honour.
        retry_after_beyond_budget: Option<Duration>,
        /// What the earlier attempts failed with, when the last failed otherwise.
        earlier: Option<String>,
    },
    /// The ID token source gave something that is not a JWT.
    #[error("the ID token from {origin} {source}")]
    IdToken {
        /// Where it came from (host, file or variable).
        origin: String,
        /// What is wrong with it.
        source: ClaimsError,
    },
    /// The token file cannot be read: check the path (Kubernetes: the projected service-account token volume).
    #[error("cannot read the ID token from {origin} {path}: {source}")]
    IdTokenFile {
        /// `--id-token-file` or `AZURE_FEDERATED_TOKEN_FILE`.
        origin: &'static str,
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The ID token's event is refused (see [`events`]); the message says how to allow it.
    #[error(transparent)]
    RiskyEvent(#[from] RiskyEvent),
    /// The Entra hop failed.
    #[error(
        "Entra ID token endpoint {host} (tenant {tenant}, scope {scope}): {error}{}{}",
        ids_note(.error, .client_request_id),
        attempts_note(*.attempts, *.retry_after_beyond_budget, .earlier.as_deref())
    )]
    Entra {
        /// Host of the authority.
        host: String,
        /// The tenant in the URL path.
        tenant: String,
        /// The scope requested.
        scope: String,
        /// The last failure.
        error: EntraError,
        /// `client-request-id` of the last attempt.
        client_request_id: String,
        /// Attempts made.
        attempts: u32,
        /// A `Retry-After` the budget could not honour.
        retry_after_beyond_budget: Option<Duration>,
        /// What the earlier attempts failed with, when the last failed otherwise.
        earlier: Option<String>,
        /// Claims of the ID token presented, for the mismatch hints.
        presented: Box<Claims>,
    },
}

/// `(after N attempts)`, and what the earlier attempts saw when the last one failed otherwise:
/// `(after 5 attempts; the ones before the last: connection failed (connection reset by peer))`.
fn attempts_note(attempts: u32, retry_after: Option<Duration>, earlier: Option<&str>) -> String {
    let mut note = String::new();
    if let Some(after) = retry_after {
        note.push_str(&format!(
            "; the server asked to retry after {} s, beyond the time left in timeout-seconds",
            after.as_secs()
        ));
    }
    match (attempts, earlier) {
        (2.., Some(earlier)) => note.push_str(&format!(
            " (after {attempts} attempts; the ones before the last: {earlier})"
        )),
        (2.., None) => note.push_str(&format!(" (after {attempts} attempts)")),
        _ => {}
    }
    note
}

fn ids_note(error: &EntraError, client_request_id: &str) -> String {
    let mut ids = Vec::new();
    if let Some(body) = error.body() {
        if let Some(trace) = &body.trace_id {
            ids.push(format!("trace_id {trace}"));
        }
        if let Some(correlation) = &body.correlation_id {
            ids.push(format!("correlation_id {correlation}"));
        }
    }
    ids.push(format!("client-request-id {client_request_id}"));
    format!(" [{}]", ids.join(", "))
}

/// What getting an ID token needs: its source and audience, the budget and the network settings.
#[derive(Debug)]
pub struct SourceConfig {
    /// Where the ID token comes from.
    pub id_token: IdTokenSource,
    /// Its audience.
    pub audience: String,
    /// Budget for the whole run, retries included.
    pub timeout: Duration,
    /// Proxy settings, checked.
    pub network: network::Network,
}

/// The ID token in use and its (unverified) claims.
pub struct Presented {
    /// The token: the client assertion.
    pub token: Secret,
    /// Its claims.
    pub claims: Claims,
}

/// One run's connection to the token services: the HTTPS client, the deadline, and the ID token in
/// use (fetched afresh when it nears expiry).
pub struct Session<'a> {
    source: &'a IdTokenSource,
    audience: &'a str,
    client: reqwest::Client,
    deadline: Deadline,
    progress: &'a dyn Progress,
    current: RefCell<Presented>,
    exchanged: Cell<bool>,
}

impl<'a> Session<'a> {
    /// Sets up the client and the deadline, and gets the first ID token.
    pub async fn start(
        config: &'a SourceConfig,
        progress: &'a dyn Progress,
    ) -> Result<Session<'a>, ExchangeError> {
        let client = http::client(USER_AGENT, &config.network).map_err(ExchangeError::Client)?;
        let deadline = Deadline::after(config.timeout);
        let current = fetch_id_token(
            &config.id_token,
            &config.audience,
            &client,
            &deadline,
            progress,
        )
        .await?;
        Ok(Session {
            source: &config.id_token,
            audience: &config.audience,
            client,
            deadline,
            progress,
            current: RefCell::new(current),
            exchanged: Cell::new(false),
        })
    }

    /// The HTTPS client.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The run's deadline.
    pub fn deadline(&self) -> &Deadline {
        &self.deadline
    }

    /// The ID token in use.
    pub fn presented(&self) -> Ref<'_, Presented> {
        self.current.borrow()
    }

    /// Exchanges the ID token for an access token for `scope`, retrying within the deadline. Before
    /// every attempt but the very first of the run, an ID token that expires within a minute is
    /// replaced by a fresh one.
    ///
    /// Every mode that mints a token comes through here, so the risky-event guard is checked here,
    /// before any Entra request, against `config.allow_events`.
    pub async fn exchange(
        &self,
        config: &ExchangeConfig,
        scope: &str,
    ) -> Result<AccessToken, ExchangeError> {
        self.check_event(&config.allow_events)?;
        let endpoint = entra::token_endpoint(&config.authority_host, &config.tenant_id);
        let host = host_of(&config.authority_host);
        let request = TokenRequest {
            endpoint: &endpoint,
            client_id: &config.client_id,
            scope,
        };
        let first_of_run = !self.exchanged.replace(true);
        let last_request_id = RefCell::new(String::new());
        self.progress.debug(&format!(
            "exchanging at {host}{} for scope {scope}",
            endpoint.path()
        ));
        let result = http::retry(
            &self.deadline,
            |attempt| {
                let (last_request_id, request, host) = (&last_request_id, &request, &host);
                async move {
                    if !(first_of_run && attempt == 1)
                        && let Err(error) = self.refresh_if_expiring().await
                    {
                        return Attempt::Done(Err(Failed::Refresh(Box::new(error))));
                    }
                    let request_id = uuid::Uuid::new_v4().to_string();
                    self.progress.debug(&format!(
                        "attempt {attempt} to {host}: client-request-id {request_id}"
                    ));
                    last_request_id.replace(request_id.clone());
                    let assertion = self.current.borrow().token.clone();
                    match entra::exchange_once(
                        &self.client,
                        request,
                        &assertion,
                        &request_id,
                        &self.deadline,
                    )
                    .await
                    {
                        Attempt::Done(result) => Attempt::Done(result.map_err(Failed::Entra)),
                        Attempt::Retry { error, retry_after } => Attempt::Retry {
                            error: Failed::Entra(error),
                            retry_after,
                        },
                    }
                }
            },
            |error, attempt, wait| {
                self.progress.note(&format!(
                    "Entra ID token endpoint {host}: {error} [client-request-id {}]; retrying in {} (attempt {attempt} failed)",
                    last_request_id.borrow(),
                    seconds(wait)
                ));
            },
        )
        .await;
        result.map_err(|gave_up| match gave_up.error {
            Failed::Refresh(error) => *error,
            Failed::Entra(error) => ExchangeError::Entra {
                host,
                tenant: config.tenant_id.clone(),
                scope: scope.to_owned(),
                error,
                client_request_id: last_request_id.take(),
                attempts: gave_up.attempts,
                retry_after_beyond_budget: gave_up.retry_after_beyond_budget,
                earlier: gave_up.earlier,
                presented: Box::new(self.current.borrow().claims.clone()),
            },
        })
    }

    /// The risky-event guard on the ID token in use (see [`events`]).
    fn check_event(&self, allowed: &[String]) -> Result<(), RiskyEvent> {
        events::check_event(self.current.borrow().claims.event_name.as_deref(), allowed)
    }

    async fn refresh_if_expiring(&self) -> Result<(), ExchangeError> {
        let expires = self.current.borrow().claims.exp.unwrap_or(i64::MAX);
        if expires.saturating_sub(crate::clock::unix_now()) >= REFRESH_MARGIN_SECS {
            return Ok(());
        }
        self.progress
            .note("The ID token is about to expire: getting a fresh one before the exchange.");
        let fresh = fetch_id_token(
            self.source,
            self.audience,
            &self.client,
            &self.deadline,
            self.progress,
        )
        .await?;
        *self.current.borrow_mut() = fresh;
        Ok(())
    }
}

/// What an exchange attempt failed with: Entra, or the fresh ID token fetched before it.
#[derive(Debug, thiserror::Error)]
enum Failed {
    #[error(transparent)]
    Entra(EntraError),
    #[error(transparent)]
    Refresh(Box<ExchangeError>),
}

/// Gets an ID token from `source`, has `progress` hide it at once, and decodes its claims.
pub async fn fetch_id_token(
    source: &IdTokenSource,
    audience: &str,
    client: &reqwest::Client,
    deadline: &Deadline,
    progress: &dyn Progress,
) -> Result<Presented, ExchangeError> {
    let token = match source {
        IdTokenSource::GitHub(request) => {
            let host = host_of(&request.url);
            progress.debug(&format!(
                "requesting a GitHub ID token from {host}{} for audience {audience}",
                request.url.path(),
            ));
            github::fetch_id_token(
                client,
                request,
                audience,
                deadline,
                |error: &GitHubError, attempt, wait| {
                    progress.note(&format!(
                        "GitHub ID token endpoint {host}: {error}; retrying in {} (attempt {attempt} failed)",
                        seconds(wait)
                    ));
                },
            )
            .await
            .map_err(|gave_up| ExchangeError::GitHub {
                host: host.clone(),
                error: gave_up.error,
                attempts: gave_up.attempts,
                retry_after_beyond_budget: gave_up.retry_after_beyond_budget,
                earlier: gave_up.earlier,
            })?
        }
        IdTokenSource::File { path, origin } => source::file::read_token_file(path, deadline)
            .map_err(|error| ExchangeError::IdTokenFile {
                origin,
                path: display(path),
                source: error,
            })?,
        IdTokenSource::Env { token, .. } => token.clone(),
    };
    progress.secret(&token);
    let claims = decode_claims(token.expose_secret()).map_err(|error| ExchangeError::IdToken {
        origin: source.origin(),
        source: error,
    })?;
    Ok(Presented { token, claims })
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

/// `host[:port]` of a URL, for messages (never its path or query).
pub fn host_of(url: &reqwest::Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        _ => "(no host)".to_owned(),
    }
}

fn seconds(wait: Duration) -> String {
    format!("{:.1} s", wait.as_secs_f64())
}
