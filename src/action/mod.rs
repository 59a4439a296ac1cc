//! The GitHub runner contract: the step's inputs into an [`inputs::ActionConfig`], the run, and what
//! later steps receive ([`outputs`]), written with the runner's workflow and file commands
//! ([`workflow`]). Nothing outside this module knows `INPUT_*` or `GITHUB_OUTPUT`.

pub mod inputs;
pub mod outputs;
pub mod workflow;

use std::io::Write;
use std::process::ExitCode;

use inputs::{ActionConfig, NamedScope};
use outputs::Issued;

use crate::error::AppError;
use crate::exchange::claims::{Claims, decode_claims};
use crate::exchange::entra::AccessToken;
use crate::exchange::{Session, host_of};
use crate::onboarding::{self, explain};
use crate::report::{ErrorStyle, Log, fail};

/// Runs the step with the environment seen through `env`, logging to `out` (the runner reads
/// workflow commands there); exit status 0 on success, 1 on failure. `unreadable` names a variable
/// `env` could not read (not UTF-8): reported, once the inputs are read, before any other error.
pub fn run_action(
    env: &dyn Fn(&str) -> Option<String>,
    unreadable: &dyn Fn() -> Option<AppError>,
    out: &mut impl Write,
) -> ExitCode {
    let config = ActionConfig::from_lookup(env);
    if let Some(error) = unreadable() {
        return fail(out, &error, None, ErrorStyle::Workflow);
    }
    let config = match config {
        Ok(config) => config,
        Err(error) => return fail(out, &AppError::from(error), None, ErrorStyle::Workflow),
    };
    let runtime = match crate::commands::runtime() {
        Ok(runtime) => runtime,
        Err(error) => return fail(out, &AppError::Runtime(error), None, ErrorStyle::Workflow),
    };
    let log = Log::new(out, true, config.exchange.debug);
    let result = runtime.block_on(run(&config, &log));
    let out = log.into_inner();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(
            out,
            &error,
            Some(&config.exchange.hint_context()),
            ErrorStyle::Workflow,
        ),
    }
}

/// The step itself; errors are reported by the caller.
pub async fn run<W: Write>(config: &ActionConfig, log: &Log<'_, W>) -> Result<(), AppError> {
    let exchange = &config.exchange;
    let session = Session::start(&exchange.source, log).await?;
    log_claims(log, &session.presented().claims);
    if config.explain {
        return explain_in_step(config, &session, log).await;
    }

    let token = session.exchange(exchange, &exchange.scope).await?;
    // Mask first: nothing else happens to the access token before the runner knows to hide it.
    log.mask(&token.token);
    let mut extra: Vec<(NamedScope, AccessToken)> = Vec::with_capacity(config.scopes.len());
    for named in &config.scopes {
        // One request per distinct scope: a `scopes` entry may repeat `scope` or another entry.
        let known = std::iter::once((exchange.scope.as_str(), &token))
            .chain(extra.iter().map(|(n, t)| (n.scope.as_str(), t)))
            .find(|(scope, _)| *scope == named.scope)
            .map(|(_, token)| token.clone());
        let token = match known {
            Some(token) => token,
            None => {
                let token = session.exchange(exchange, &named.scope).await?;
                log.mask(&token.token);
                token
            }
        };
        extra.push((named.clone(), token));
    }

    let access_claims = decode_claims(token.token.expose_secret()).ok();
    let principal_id = access_claims.as_ref().and_then(|c| c.oid.as_deref());
    let issued = Issued {
        token: &token,
        principal_id,
        extra: &extra,
    };
    outputs::write_outputs(config, &config.files, &issued)?;
    if let Some(path) = config
        .files
        .step_summary
        .as_ref()
        .filter(|_| config.summary)
    {
        let markdown = outputs::summary_markdown(config, &session.presented().claims, &issued);
        if let Err(error) = outputs::write_summary(path, &markdown) {
            log.warning(&format!(
                "could not write the step summary ({error}); outputs were written"
            ));
        }
    }
    report_success(config, &issued, log);
    Ok(())
}

fn report_success<W: Write>(config: &ActionConfig, issued: &Issued<'_>, log: &Log<'_, W>) {
    let exchange = &config.exchange;
    let token = issued.token;
    let minutes = token
        .expires_on
        .saturating_sub(crate::clock::unix_now())
        .max(0)
        / 60;
    log.say(&format!(
        "Azure access token for {} issued by {} (tenant {}, client {}{}); expires at {} (in {minutes} min).",
        exchange.scope,
        host_of(&exchange.authority_host),
        exchange.tenant_id,
        exchange.client_id,
        issued
            .principal_id
            .map(|p| format!(", principal {p}"))
            .unwrap_or_default(),
        crate::clock::rfc3339(token.expires_on),
    ));
    // The pairs hold a copy of the token: zeroed when dropped.
    let names: Vec<String> = zeroize::Zeroizing::new(outputs::output_pairs(config, issued))
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
async fn explain_in_step<W: Write>(
    config: &ActionConfig,
    session: &Session<'_>,
    log: &Log<'_, W>,
) -> Result<(), AppError> {
    let exchange = &config.exchange;
    let diagnosis = onboarding::diagnose(
        session,
        &exchange.source.id_token.origin(),
        &exchange.source.audience,
        Some(&exchange.client_id),
        &config.explain_check,
    )
    .await?;
    log.inert(&diagnosis.lines);
    if let Some(path) = config
        .files
        .step_summary
        .as_ref()
        .filter(|_| config.summary)
        && let Err(error) =
            outputs::write_summary(path, &explain::report_markdown(&diagnosis.lines))
    {
        log.warning(&format!("could not write the step summary ({error})"));
    }
    diagnosis.verdict
}

/// A claim value for a log line: JSON-quoted so no control character or line break survives.
fn show(value: Option<&str>) -> String {
    serde_json::to_string(value.unwrap_or("(none)")).unwrap_or_default()
}
