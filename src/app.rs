//! One run of the action, end to end: config → ID token → preflight → exchange → mask → outputs.
//!
//! All log lines go to one `impl Write` (stdout in production), so their order is the order the
//! runner sees: every secret's `::add-mask::` line is written and flushed before anything else
//! is done with that secret.

use std::cell::RefCell;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use crate::claims::{Claims, decode_claims};
use crate::config::Config;
use crate::entra::{self, AccessToken, EntraError, TokenRequest};
use crate::error::{self, AppError};
use crate::github::{self, GitHubError};
use crate::http::{self, Attempt, Deadline, GaveUp};
use crate::outputs::{self, Issued};
use crate::runner;
use crate::secret::Secret;

/// `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("azure-oidc-token/", env!("CARGO_PKG_VERSION"));

/// The title of the one `::error` annotation.
pub const ERROR_TITLE: &str = "azure-oidc-token";

/// Fetch a fresh ID token before retrying the exchange when the current one expires within this.
const REFRESH_MARGIN_SECS: i64 = 60;

/// Runs the action with the environment seen through `lookup`, logging to `out`; 0 on success, 1 on failure.
pub fn run_action(lookup: &dyn Fn(&str) -> Option<String>, out: &mut impl Write) -> ExitCode {
    let config = match Config::from_lookup(lookup) {
        Ok(config) => config,
        Err(error) => return fail(out, &AppError::from(error), None),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            // Without a runtime nothing can run; report it like any other failure.
            let _ = runner::error(
                out,
                ERROR_TITLE,
                &format!("cannot start the async runtime: {error}"),
            );
            return ExitCode::FAILURE;
        }
    };
    let log = RefCell::new(out);
    let result = runtime.block_on(run(&config, &log));
    let out = log.into_inner();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(out, &error, Some(&config)),
    }
}

/// Prints the one `::error` line and its hints, and returns exit status 1.
fn fail(out: &mut impl Write, error: &AppError, config: Option<&Config>) -> ExitCode {
    // If stdout itself is gone there is nobody left to tell; the exit status still says it.
    let _ = runner::error(out, ERROR_TITLE, &error.to_string());
    let hints = error::hints(error, config);
    if matches!(error, AppError::Entra { .. }) {
        // These hints quote token claims: keep the runner from reading any of it as a command.
        let _ = runner::write_inert(out, &hints);
    } else {
        for hint in hints {
            let _ = writeln!(out, "{hint}");
        }
    }
    let _ = out.flush();
    ExitCode::FAILURE
}

/// Writes a plain log line, folding any line break a server put into it.
fn say<W: Write>(log: &RefCell<&mut W>, line: &str) {
    let mut out = log.borrow_mut();
    let _ = writeln!(out, "{}", line.replace(['\r', '\n'], " "));
}

fn debug<W: Write>(log: &RefCell<&mut W>, config: &Config, line: &str) {
    if config.debug {
        let _ = runner::debug(*log.borrow_mut(), line);
    }
}

fn mask<W: Write>(log: &RefCell<&mut W>, secret: &Secret) {
    let _ = runner::add_mask(*log.borrow_mut(), secret);
}

/// The run itself; errors are reported by the caller.
pub async fn run<W: Write>(config: &Config, log: &RefCell<&mut W>) -> Result<(), AppError> {
    let deadline = Deadline::after(config.timeout);
    let client = http::client(USER_AGENT).map_err(|error| AppError::GitHub {
        host: host_of(&config.id_token_request.url),
        error: error.into(),
        attempts: 0,
        retry_after_beyond_budget: None,
    })?;

    let (id_token, presented) = fetch_and_check_id_token(config, &client, log, &deadline).await?;
    say(
        log,
        &format!(
            "GitHub ID token: iss={} sub={} aud={}{}",
            show(presented.iss.as_deref()),
            show(presented.sub.as_deref()),
            show(Some(&presented.aud.joined())),
            presented
                .job_workflow_ref
                .as_deref()
                .map(|w| format!(" job_workflow_ref={}", show(Some(w))))
                .unwrap_or_default()
        ),
    );

    let token = exchange(config, &client, log, &deadline, id_token, presented.clone()).await?;
    // Mask first: nothing else happens to the access token before the runner knows to hide it.
    mask(log, &token.token);

    let access_claims = decode_claims(token.token.expose_secret()).ok();
    let principal_id = access_claims.as_ref().and_then(|c| c.oid.as_deref());
    let issued = Issued {
        token: &token,
        principal_id,
    };
    outputs::write_outputs(config, &issued)?;

    if let Some(path) = config
        .files
        .step_summary
        .as_ref()
        .filter(|_| config.summary)
        && let Err(error) = outputs::write_summary(
            path,
            &outputs::summary_markdown(config, &presented, &issued),
        )
    {
        say(
            log,
            &format!("::warning::could not write the step summary ({error}); outputs were written"),
        );
    }

    let minutes = (token.expires_on - entra::unix_now()).max(0) / 60;
    say(
        log,
        &format!(
            "Azure access token for {} issued by {} (tenant {}, client {}{}); expires at {} (in {minutes} min).",
            config.scope,
            host_of(&config.authority_host),
            config.tenant_id,
            config.client_id,
            principal_id
                .map(|p| format!(", principal {p}"))
                .unwrap_or_default(),
            outputs::rfc3339(token.expires_on),
        ),
    );
    let names: Vec<&str> = outputs::output_pairs(config, &issued)
        .iter()
        .map(|(name, _)| *name)
        .collect();
    say(log, &format!("Step outputs: {}.", names.join(", ")));
    if let Some(name) = &config.export_env {
        say(log, &format!("Later steps also get the token in ${name}."));
    }
    Ok(())
}

/// Fetches an ID token, masks it at once, and decodes its claims.
async fn fetch_and_check_id_token<W: Write>(
    config: &Config,
    client: &reqwest::Client,
    log: &RefCell<&mut W>,
    deadline: &Deadline,
) -> Result<(Secret, Claims), AppError> {
    let request = &config.id_token_request;
    let host = host_of(&request.url);
    debug(
        log,
        config,
        &format!(
            "requesting a GitHub ID token from {host}{} for audience {}",
            request.url.path(),
            config.audience
        ),
    );
    let token = github::fetch_id_token(client, request, &config.audience, deadline, |error: &GitHubError, attempt, wait| {
        say(log, &format!("GitHub ID token endpoint {host}: {error}; retrying in {} (attempt {attempt} failed)", seconds(wait)));
    })
    .await
    .map_err(|gave_up: GaveUp<GitHubError>| AppError::GitHub {
        host: host.clone(),
        error: gave_up.error,
        attempts: gave_up.attempts,
        retry_after_beyond_budget: gave_up.retry_after_beyond_budget,
    })?;
    mask(log, &token);
    let claims = decode_claims(token.expose_secret())
        .map_err(|source| AppError::IdToken { host, source })?;
    Ok((token, claims))
}

/// What an exchange attempt failed with: Entra, or the fresh ID token fetched before it.
#[derive(Debug, thiserror::Error)]
enum ExchangeError {
    #[error(transparent)]
    Entra(EntraError),
    #[error(transparent)]
    Refresh(Box<AppError>),
}

/// Exchanges the ID token, retrying within the deadline and refreshing the ID token near its expiry.
async fn exchange<W: Write>(
    config: &Config,
    client: &reqwest::Client,
    log: &RefCell<&mut W>,
    deadline: &Deadline,
    id_token: Secret,
    presented: Claims,
) -> Result<AccessToken, AppError> {
    let endpoint = entra::token_endpoint(&config.authority_host, &config.tenant_id);
    let host = host_of(&config.authority_host);
    let request = TokenRequest {
        endpoint: &endpoint,
        client_id: &config.client_id,
        scope: &config.scope,
    };
    let current = RefCell::new((id_token, presented));
    let last_request_id = RefCell::new(String::new());
    debug(
        log,
        config,
        &format!(
            "exchanging at {host}{} for scope {}",
            endpoint.path(),
            config.scope
        ),
    );

    let result = http::retry(
        deadline,
        |attempt| {
            let (current, last_request_id, request, host) = (&current, &last_request_id, &request, &host);
            async move {
                let expires = current.borrow().1.exp.unwrap_or(i64::MAX);
                if attempt > 1 && expires - entra::unix_now() < REFRESH_MARGIN_SECS {
                    say(log, "The GitHub ID token is about to expire: fetching a fresh one before retrying.");
                    match fetch_and_check_id_token(config, client, log, deadline).await {
                        Ok(fresh) => *current.borrow_mut() = fresh,
                        Err(error) => return Attempt::Done(Err(ExchangeError::Refresh(Box::new(error)))),
                    }
                }
                let request_id = uuid::Uuid::new_v4().to_string();
                debug(log, config, &format!("attempt {attempt} to {host}: client-request-id {request_id}"));
                last_request_id.replace(request_id.clone());
                let assertion = current.borrow().0.clone();
                match entra::exchange_once(client, request, &assertion, &request_id, deadline).await {
                    Attempt::Done(result) => Attempt::Done(result.map_err(ExchangeError::Entra)),
                    Attempt::Retry { error, retry_after } => Attempt::Retry {
                        error: ExchangeError::Entra(error),
                        retry_after,
                    },
                }
            }
        },
        |error, attempt, wait| {
            say(
                log,
                &format!(
                    "Entra ID token endpoint {host}: {error} [client-request-id {}]; retrying in {} (attempt {attempt} failed)",
                    last_request_id.borrow(),
                    seconds(wait)
                ),
            );
        },
    )
    .await;

    result.map_err(|gave_up| match gave_up.error {
        ExchangeError::Refresh(error) => *error,
        ExchangeError::Entra(error) => AppError::Entra {
            host,
            tenant: config.tenant_id.clone(),
            error,
            client_request_id: last_request_id.take(),
            attempts: gave_up.attempts,
            retry_after_beyond_budget: gave_up.retry_after_beyond_budget,
            presented: Box::new(current.into_inner().1),
        },
    })
}

fn host_of(url: &reqwest::Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        _ => "(no host)".to_owned(),
    }
}

/// A claim value for a log line: JSON-quoted so no control character or line break survives.
fn show(value: Option<&str>) -> String {
    serde_json::to_string(value.unwrap_or("(none)")).unwrap_or_default()
}

fn seconds(wait: Duration) -> String {
    format!("{:.1} s", wait.as_secs_f64())
}
