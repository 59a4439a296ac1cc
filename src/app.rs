//! One run, end to end: config → ID token → preflight → exchange(s) → mask → outputs; and the same
//! pieces for the `token` and `explain` commands.
//!
//! All log lines go through one [`Log`] (stdout in action mode), so their order is the order the
//! runner sees: every secret's `::add-mask::` line is written and flushed before anything else is
//! done with that secret.

use std::cell::RefCell;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use crate::claims::{Claims, decode_claims};
use crate::config::{Config, IdTokenSource};
use crate::entra::{self, AccessToken, EntraError, TokenRequest};
use crate::error::{self, AppError};
use crate::explain;
use crate::github::{self, GitHubError};
use crate::http::{self, Attempt, Deadline, GaveUp};
use crate::matching;
use crate::outputs::{self, Issued};
use crate::runner;
use crate::secret::Secret;

/// `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("azure-oidc-token/", env!("CARGO_PKG_VERSION"));

/// The title of the one `::error` annotation.
pub const ERROR_TITLE: &str = "azure-oidc-token";

/// Fetch a fresh ID token before an exchange attempt when the current one expires within this.
const REFRESH_MARGIN_SECS: i64 = 60;

/// Where log lines go, and whether secrets get `::add-mask::` lines (only where a runner reads them).
pub struct Log<'a, W: Write> {
    out: RefCell<&'a mut W>,
    masking: bool,
    debug: bool,
}

impl<'a, W: Write> Log<'a, W> {
    /// A log writing to `out`.
    pub fn new(out: &'a mut W, masking: bool, debug: bool) -> Self {
        Self {
            out: RefCell::new(out),
            masking,
            debug,
        }
    }

    /// A plain line, made inert for the runner's command parsers (it may quote server text).
    pub fn say(&self, line: &str) {
        let _ = runner::plain(*self.out.borrow_mut(), line);
    }

    /// A `::warning` annotation.
    pub fn warning(&self, message: &str) {
        let _ = runner::warning(*self.out.borrow_mut(), message);
    }

    /// A `::debug::` line, only with `RUNNER_DEBUG=1`.
    pub fn debug(&self, line: &str) {
        if self.debug {
            let _ = runner::debug(*self.out.borrow_mut(), line);
        }
    }

    /// `::add-mask::` for `secret`, flushed at once.
    pub fn mask(&self, secret: &Secret) {
        if self.masking {
            let _ = runner::add_mask(*self.out.borrow_mut(), secret);
        }
    }

    /// Lines that quote claims or server text, fenced so the runner runs none of them.
    pub fn inert(&self, lines: &[String]) {
        let _ = runner::write_inert(*self.out.borrow_mut(), lines);
    }

    /// The sink back.
    pub fn into_inner(self) -> &'a mut W {
        self.out.into_inner()
    }
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// How a failure is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorStyle {
    /// One `::error` workflow command, then hints (action mode, or any command inside GitHub Actions).
    Workflow,
    /// `error: …`, then hints (a terminal or another CI system).
    Plain,
}

impl ErrorStyle {
    /// The style of a command's errors: workflow commands only where a runner reads them.
    pub fn for_commands(in_actions: bool) -> Self {
        if in_actions {
            Self::Workflow
        } else {
            Self::Plain
        }
    }
}

/// The one HTTP client of a run (both hops share it).
#[allow(
    clippy::result_large_err,
    reason = "called once per run; AppError is what every caller returns"
)]
fn new_client(config: &Config) -> Result<reqwest::Client, AppError> {
    http::client(USER_AGENT, &config.network).map_err(|error| AppError::GitHub {
        host: "(no request made)".to_owned(),
        error: error.into(),
        attempts: 0,
        retry_after_beyond_budget: None,
    })
}

/// Reports `error` and returns exit status 1.
pub fn fail(
    out: &mut impl Write,
    error: &AppError,
    config: Option<&Config>,
    style: ErrorStyle,
) -> ExitCode {
    // If the stream itself is gone there is nobody left to tell; the exit status still says it.
    let message = match (error, style) {
        (AppError::Config(config_error), ErrorStyle::Plain) if config.is_none() => {
            config_error.cli_message()
        }
        _ => error.to_string(),
    };
    match style {
        ErrorStyle::Workflow => {
            let _ = runner::error(out, ERROR_TITLE, &message);
        }
        ErrorStyle::Plain => {
            let _ = runner::plain(out, &format!("error: {message}"));
        }
    }
    let hints = error::hints(error, config);
    if matches!(error, AppError::Entra { .. } | AppError::Explain { .. })
        && style == ErrorStyle::Workflow
    {
        // These hints quote token claims: keep the runner from reading any of it as a command.
        let _ = runner::write_inert(out, &hints);
    } else {
        for hint in hints {
            let _ = runner::plain(out, &hint);
        }
    }
    let _ = out.flush();
    ExitCode::FAILURE
}

/// Runs the action with the environment seen through `lookup`, logging to `out`; 0 on success, 1 on failure.
pub fn run_action(lookup: &dyn Fn(&str) -> Option<String>, out: &mut impl Write) -> ExitCode {
    let config = match Config::from_lookup(lookup) {
        Ok(config) => config,
        Err(error) => return fail(out, &AppError::from(error), None, ErrorStyle::Workflow),
    };
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(error) => {
            let _ = runner::error(
                out,
                ERROR_TITLE,
                &format!("cannot start the async runtime: {error}"),
            );
            return ExitCode::FAILURE;
        }
    };
    let log = Log::new(out, true, config.debug);
    let result = runtime.block_on(run(&config, &log));
    let out = log.into_inner();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(out, &error, Some(&config), ErrorStyle::Workflow),
    }
}

/// The action run itself; errors are reported by the caller.
pub async fn run<W: Write>(config: &Config, log: &Log<'_, W>) -> Result<(), AppError> {
    let deadline = Deadline::after(config.timeout);
    let client = new_client(config)?;

    let current = obtain_id_token(config, &client, log, &deadline).await?;
    log_claims(log, &current.1);

    if config.explain {
        return explain_in_action(config, &client, log, &deadline, &current.0).await;
    }
    let current = RefCell::new(current);

    let token = exchange(
        config,
        &config.scope,
        &client,
        log,
        &deadline,
        &current,
        true,
    )
    .await?;
    // Mask first: nothing else happens to the access token before the runner knows to hide it.
    log.mask(&token.token);
    let mut extra: Vec<(crate::config::NamedScope, AccessToken)> =
        Vec::with_capacity(config.scopes.len());
    for named in &config.scopes {
        // One request per distinct scope: a `scopes` entry may repeat `scope` or another entry.
        let known = std::iter::once((config.scope.as_str(), &token))
            .chain(extra.iter().map(|(n, t)| (n.scope.as_str(), t)))
            .find(|(scope, _)| *scope == named.scope)
            .map(|(_, token)| token.clone());
        if let Some(token) = known {
            extra.push((named.clone(), token));
            continue;
        }
        let token = exchange(
            config,
            &named.scope,
            &client,
            log,
            &deadline,
            &current,
            false,
        )
        .await?;
        log.mask(&token.token);
        extra.push((named.clone(), token));
    }

    let access_claims = decode_claims(token.token.expose_secret()).ok();
    let principal_id = access_claims.as_ref().and_then(|c| c.oid.as_deref());
    let issued = Issued {
        token: &token,
        principal_id,
        extra: &extra,
    };
    let presented = current.into_inner().1;
    if let Some(files) = &config.files {
        outputs::write_outputs(config, files, &issued)?;
        if let Some(path) = files.step_summary.as_ref().filter(|_| config.summary)
            && let Err(error) = outputs::write_summary(
                path,
                &outputs::summary_markdown(config, &presented, &issued),
            )
        {
            log.warning(&format!(
                "could not write the step summary ({error}); outputs were written"
            ));
        }
    }

    let minutes = token.expires_on.saturating_sub(entra::unix_now()).max(0) / 60;
    log.say(&format!(
        "Azure access token for {} issued by {} (tenant {}, client {}{}); expires at {} (in {minutes} min).",
        config.scope,
        host_of(&config.authority_host),
        config.tenant_id,
        config.client_id,
        principal_id.map(|p| format!(", principal {p}")).unwrap_or_default(),
        outputs::rfc3339(token.expires_on),
    ));
    // The pairs hold a copy of the token: zeroed when dropped.
    let names: Vec<String> = zeroize::Zeroizing::new(outputs::output_pairs(config, &issued))
        .iter()
        .map(|(name, _)| name.clone())
        .collect();
    log.say(&format!("Step outputs: {}.", names.join(", ")));
    if let Some(name) = &config.export_env {
        log.say(&format!("Later steps also get the token in ${name}."));
    }
    if config.export_sdk_env {
        let names: Vec<&str> = outputs::sdk_env_pairs(config)
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        log.say(&format!(
            "Exported for later steps (not secret): {}.",
            names.join(", ")
        ));
    }
    Ok(())
}

fn log_claims<W: Write>(log: &Log<'_, W>, presented: &Claims) {
    log.say(&format!(
        "GitHub ID token: iss={} sub={} aud={}{}",
        show(presented.iss.as_deref()),
        show(presented.sub.as_deref()),
        show(Some(&presented.aud.joined())),
        presented
            .job_workflow_ref
            .as_deref()
            .map(|w| format!(" job_workflow_ref={}", show(Some(w))))
            .unwrap_or_default()
    ));
}

/// `explain: true`: the diagnosis instead of the exchange, in the log and the step summary.
async fn explain_in_action<W: Write>(
    config: &Config,
    client: &reqwest::Client,
    log: &Log<'_, W>,
    deadline: &Deadline,
    token: &Secret,
) -> Result<(), AppError> {
    let claims = decode_claims(token.expose_secret()).map_err(|source| AppError::IdToken {
        origin: id_token_origin(config),
        source,
    })?;
    let verification = explain::verify_issuer(client, token, &claims, deadline).await;
    let lines = explain::report_lines(
        token,
        &id_token_origin(config),
        Some(&config.audience),
        Some(&config.client_id),
        &verification,
        entra::unix_now(),
    )
    .map_err(|source| AppError::IdToken {
        origin: id_token_origin(config),
        source,
    })?;
    let mut lines = lines;
    let payload = crate::claims::decode_payload(token.expose_secret()).unwrap_or_default();
    lines.extend(matching::check_lines(&payload, &matching::Check::default()).0);
    log.inert(&lines);
    if let Some(path) = config
        .files
        .as_ref()
        .and_then(|f| f.step_summary.as_ref())
        .filter(|_| config.summary)
        && let Err(error) = outputs::write_summary(path, &explain::report_markdown(&lines))
    {
        log.warning(&format!("could not write the step summary ({error})"));
    }
    verification.map(|_| ()).map_err(|error| AppError::Explain {
        error,
        presented: Box::new(claims),
    })
}

/// Where the ID token comes from, for messages.
pub fn id_token_origin(config: &Config) -> String {
    match &config.id_token {
        IdTokenSource::GitHub(request) => format!("GitHub ({})", host_of(&request.url)),
        IdTokenSource::File { path, origin } => format!("{origin} ({})", path.display()),
        IdTokenSource::Env { name, .. } => format!("${name}"),
    }
}

/// Gets an ID token from the configured source, masks it at once, and decodes its claims.
pub async fn obtain_id_token<W: Write>(
    config: &Config,
    client: &reqwest::Client,
    log: &Log<'_, W>,
    deadline: &Deadline,
) -> Result<(Secret, Claims), AppError> {
    let token = match &config.id_token {
        IdTokenSource::GitHub(request) => {
            let host = host_of(&request.url);
            log.debug(&format!(
                "requesting a GitHub ID token from {host}{} for audience {}",
                request.url.path(),
                config.audience
            ));
            github::fetch_id_token(client, request, &config.audience, deadline, |error: &GitHubError, attempt, wait| {
                log.say(&format!(
                    "GitHub ID token endpoint {host}: {error}; retrying in {} (attempt {attempt} failed)",
                    seconds(wait)
                ));
            })
            .await
            .map_err(|gave_up: GaveUp<GitHubError>| AppError::GitHub {
                host: host.clone(),
                error: gave_up.error,
                attempts: gave_up.attempts,
                retry_after_beyond_budget: gave_up.retry_after_beyond_budget,
            })?
        }
        IdTokenSource::File { path, origin } => {
            // Read afresh every time: projected service-account tokens are rotated in place.
            read_token_file(path, deadline).map_err(|source| AppError::IdTokenFile {
                origin,
                path: path.display().to_string(),
                source,
            })?
        }
        IdTokenSource::Env { token, .. } => token.clone(),
    };
    log.mask(&token);
    let claims = decode_claims(token.expose_secret()).map_err(|source| AppError::IdToken {
        origin: id_token_origin(config),
        source,
    })?;
    Ok((token, claims))
}

/// The most an ID token file may hold: a JWT is a few KiB, so anything larger is not one.
pub const TOKEN_FILE_LIMIT: usize = 64 * 1024;

/// Reads an ID token file: at most [`TOKEN_FILE_LIMIT`] bytes, within the time left in `deadline`
/// (a FIFO or a stalled network mount must not hang the run), trimmed.
pub fn read_token_file(path: &std::path::Path, deadline: &Deadline) -> std::io::Result<Secret> {
    use std::io::{Error, ErrorKind, Read as _};
    let (sender, receiver) = std::sync::mpsc::channel();
    let owned = path.to_owned();
    // A blocking read on its own thread, so the wait can end; the thread dies with the process.
    std::thread::spawn(move || {
        let read = || -> std::io::Result<zeroize::Zeroizing<Vec<u8>>> {
            // Room for one byte past the limit, so a too-large file is seen without reallocating
            // (a reallocation would leave an unzeroed copy of the token behind).
            let mut bytes = zeroize::Zeroizing::new(Vec::with_capacity(TOKEN_FILE_LIMIT + 1));
            std::fs::File::open(&owned)?
                .take(TOKEN_FILE_LIMIT as u64 + 1)
                .read_to_end(&mut bytes)?;
            Ok(bytes)
        };
        let _ = sender.send(read());
    });
    let bytes = match receiver.recv_timeout(deadline.remaining()) {
        Ok(read) => read?,
        Err(_) => {
            return Err(Error::new(
                ErrorKind::TimedOut,
                format!(
                    "not read within the {}-second budget (timeout-seconds)",
                    deadline.budget().as_secs()
                ),
            ));
        }
    };
    if bytes.len() > TOKEN_FILE_LIMIT {
        return Err(Error::new(
            ErrorKind::InvalidData,
            "larger than 64 KiB, so it holds no ID token",
        ));
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        Error::new(
            ErrorKind::InvalidData,
            "not UTF-8 text, so it holds no ID token",
        )
    })?;
    Ok(Secret::new(text.trim().to_owned()))
}

/// What an exchange attempt failed with: Entra, or the fresh ID token fetched before it.
#[derive(Debug, thiserror::Error)]
enum ExchangeError {
    #[error(transparent)]
    Entra(EntraError),
    #[error(transparent)]
    Refresh(Box<AppError>),
}

/// Exchanges the current ID token for a token for `scope`, retrying within the deadline and
/// fetching a fresh ID token when it nears expiry (on retries, and before every exchange but the
/// first, `fresh`).
pub async fn exchange<W: Write>(
    config: &Config,
    scope: &str,
    client: &reqwest::Client,
    log: &Log<'_, W>,
    deadline: &Deadline,
    current: &RefCell<(Secret, Claims)>,
    fresh: bool,
) -> Result<AccessToken, AppError> {
    let endpoint = entra::token_endpoint(&config.authority_host, &config.tenant_id);
    let host = host_of(&config.authority_host);
    let request = TokenRequest {
        endpoint: &endpoint,
        client_id: &config.client_id,
        scope,
    };
    let last_request_id = RefCell::new(String::new());
    log.debug(&format!(
        "exchanging at {host}{} for scope {scope}",
        endpoint.path()
    ));

    let result = http::retry(
        deadline,
        |attempt| {
            let (last_request_id, request, host) = (&last_request_id, &request, &host);
            async move {
                let expires = current.borrow().1.exp.unwrap_or(i64::MAX);
                if (attempt > 1 || !fresh) && expires.saturating_sub(entra::unix_now()) < REFRESH_MARGIN_SECS {
                    log.say("The ID token is about to expire: getting a fresh one before the exchange.");
                    match obtain_id_token(config, client, log, deadline).await {
                        Ok(fresh) => *current.borrow_mut() = fresh,
                        Err(error) => return Attempt::Done(Err(ExchangeError::Refresh(Box::new(error)))),
                    }
                }
                let request_id = uuid::Uuid::new_v4().to_string();
                log.debug(&format!("attempt {attempt} to {host}: client-request-id {request_id}"));
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
            log.say(&format!(
                "Entra ID token endpoint {host}: {error} [client-request-id {}]; retrying in {} (attempt {attempt} failed)",
                last_request_id.borrow(),
                seconds(wait)
            ));
        },
    )
    .await;

    result.map_err(|gave_up| match gave_up.error {
        ExchangeError::Refresh(error) => *error,
        ExchangeError::Entra(error) => AppError::Entra {
            host,
            tenant: config.tenant_id.clone(),
            scope: scope.to_owned(),
            error,
            client_request_id: last_request_id.take(),
            attempts: gave_up.attempts,
            retry_after_beyond_budget: gave_up.retry_after_beyond_budget,
            presented: Box::new(current.borrow().1.clone()),
        },
    })
}

/// `azure-oidc-token token`: the exchange for use outside the action; prints JSON or the raw token
/// on `stdout` (with `output`, writes the token to that file instead and prints the JSON without it),
/// errors on `stderr`. Inside GitHub Actions the token is also masked.
pub fn run_token(
    config: &Config,
    raw: bool,
    output: Option<&std::path::Path>,
    in_actions: bool,
    stdout: &mut impl Write,
    stderr: &mut impl Write,
) -> ExitCode {
    let style = ErrorStyle::for_commands(in_actions);
    let Ok(runtime) = runtime() else {
        let _ = writeln!(stderr, "error: cannot start the async runtime");
        return ExitCode::FAILURE;
    };
    let log = Log::new(stderr, in_actions, config.debug);
    let result = runtime.block_on(async {
        let deadline = Deadline::after(config.timeout);
        let client = new_client(config)?;
        let current = RefCell::new(obtain_id_token(config, &client, &log, &deadline).await?);
        exchange(
            config,
            &config.scope,
            &client,
            &log,
            &deadline,
            &current,
            true,
        )
        .await
    });
    let stderr = log.into_inner();
    let token = match result {
        Ok(token) => token,
        Err(error) => return fail(stderr, &error, Some(config), style),
    };
    if in_actions {
        let _ = runner::add_mask(stderr, &token.token);
    }
    if let Some(path) = output
        && let Err(error) = crate::token_file::write(path, token.token.expose_secret())
    {
        let _ = writeln!(stderr, "error: {error}");
        return ExitCode::FAILURE;
    }
    let printed = if output.is_some() {
        // The token went to the file; stdout (often a log) gets only what is not secret.
        let json = serde_json::json!({
            "token_type": "Bearer",
            "expires_on": token.expires_on,
            "expires_at": outputs::rfc3339(token.expires_on),
        });
        writeln!(stdout, "{json}")
    } else if raw {
        writeln!(stdout, "{}", token.token.expose_secret())
    } else {
        let json = serde_json::json!({
            "access_token": token.token.expose_secret(),
            "token_type": "Bearer",
            "expires_on": token.expires_on,
            "expires_at": outputs::rfc3339(token.expires_on),
        });
        writeln!(stdout, "{json}")
    };
    match printed.and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let _ = writeln!(stderr, "error: cannot write the token to stdout: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `azure-oidc-token explain`: the diagnosis on `stdout`; exit 1 if the issuer check fails.
pub fn run_explain(
    config: &ExplainConfig,
    in_actions: bool,
    stdout: &mut impl Write,
    stderr: &mut impl Write,
) -> ExitCode {
    let style = ErrorStyle::for_commands(in_actions);
    let Ok(runtime) = runtime() else {
        let _ = writeln!(stderr, "error: cannot start the async runtime");
        return ExitCode::FAILURE;
    };
    let log = Log::new(stderr, in_actions, false);
    let result = runtime.block_on(async {
        let deadline = Deadline::after(config.inner.timeout);
        let client = new_client(&config.inner)?;
        let (token, claims) = obtain_id_token(&config.inner, &client, &log, &deadline).await?;
        let verification = explain::verify_issuer(&client, &token, &claims, &deadline).await;
        let lines = explain::report_lines(
            &token,
            &id_token_origin(&config.inner),
            Some(&config.inner.audience),
            config.client_id.as_deref(),
            &verification,
            entra::unix_now(),
        )
        .map_err(|source| AppError::IdToken {
            origin: id_token_origin(&config.inner),
            source,
        })?;
        let mut lines = lines;
        let payload = crate::claims::decode_payload(token.expose_secret()).unwrap_or_default();
        let (checked, mismatch) = matching::check_lines(&payload, &config.check);
        lines.extend(checked);
        // The issuer check comes first: a credential cannot match a token Entra would refuse.
        let verdict = match (verification, mismatch) {
            (Err(error), _) => Err(AppError::Explain {
                error,
                presented: Box::new(claims),
            }),
            (Ok(_), Some(mismatch)) => Err(AppError::CredentialMismatch(mismatch)),
            (Ok(_), None) => Ok(()),
        };
        Ok::<_, AppError>((lines, verdict))
    });
    let stderr = log.into_inner();
    match result {
        Ok((lines, verification)) => {
            if in_actions {
                // Claims and issuer text are not ours: fence them so the runner runs none of it.
                let _ = runner::write_inert(stdout, &lines);
            } else {
                for line in &lines {
                    let _ = writeln!(stdout, "{line}");
                }
            }
            let _ = stdout.flush();
            match verification {
                Ok(_) => ExitCode::SUCCESS,
                Err(error) => fail(stderr, &error, Some(&config.inner), style),
            }
        }
        Err(error) => fail(stderr, &error, Some(&config.inner), style),
    }
}

/// What `explain` needs: the exchange settings (for the ID token source and audience), whether a
/// client ID was given for the printed `az` command, and a credential to check the token against.
pub struct ExplainConfig {
    /// Settings; `client_id`/`tenant_id` may be placeholders when not given.
    pub inner: Config,
    /// The client ID, if one was given.
    pub client_id: Option<String>,
    /// `--subject` / `--expression`.
    pub check: matching::Check,
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
