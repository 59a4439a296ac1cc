//! The top-level error of a run, its one-line message and the hints printed under it.
//!
//! Leaf modules say what went wrong; this is the edge where we add what to change in the workflow
//! or in Entra (`DESIGN.md` § Logging, masking and errors: required hints).

use std::time::Duration;

use crate::claims::{Claims, ClaimsError};
use crate::config::{Config, ConfigError};
use crate::entra::EntraError;
use crate::explain::ExplainError;
use crate::expression::ExpressionError;
use crate::fic::Credential;
use crate::github::GitHubError;
use crate::http::HttpError;
use crate::outputs::OutputError;

/// Why the step failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// An input or runner variable is unusable; the message names it.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The GitHub hop failed.
    #[error("GitHub ID token endpoint {host}: {error}{}", attempts_note(*.attempts, *.retry_after_beyond_budget))]
    GitHub {
        /// Host of `ACTIONS_ID_TOKEN_REQUEST_URL`.
        host: String,
        /// The last failure.
        error: GitHubError,
        /// Attempts made.
        attempts: u32,
        /// A `Retry-After` the budget could not honour.
        retry_after_beyond_budget: Option<Duration>,
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
    /// The issuer check of `explain` failed; Entra would refuse the token for the same reason.
    #[error("issuer check failed: {error}")]
    Explain {
        /// What failed.
        error: ExplainError,
        /// The token's claims.
        presented: Box<Claims>,
    },
    /// The Entra hop failed.
    #[error(
        "Entra ID token endpoint {host} (tenant {tenant}, scope {scope}): {error}{}{}",
        ids_note(.error, .client_request_id),
        attempts_note(*.attempts, *.retry_after_beyond_budget)
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
        /// Claims of the ID token presented, for the mismatch hints.
        presented: Box<Claims>,
    },
    /// Outputs could not be written; nothing was left half-written.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// `explain --expression` is not in Entra's expression language: fix it as the message says.
    #[error("--expression: {0}")]
    Expression(#[from] ExpressionError),
    /// The credential given to `explain` (`--subject`, `--expression`) does not match the token:
    /// change the credential (or the workflow) as the lines above say.
    #[error("{0}")]
    CredentialMismatch(String),
}

fn attempts_note(attempts: u32, retry_after: Option<Duration>) -> String {
    let mut note = String::new();
    if let Some(after) = retry_after {
        note.push_str(&format!(
            "; the server asked to retry after {} s, beyond the time left in timeout-seconds",
            after.as_secs()
        ));
    }
    if attempts > 1 {
        note.push_str(&format!(" (after {attempts} attempts)"));
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

/// Hint lines for `error`: what to change. Lines derived from token claims or server text must be
/// printed inert (see `runner::write_inert`).
pub fn hints(error: &AppError, config: Option<&Config>) -> Vec<String> {
    match error {
        AppError::Config(ConfigError::NoIdTokenPermission { .. }) => vec![
            "Add to the job (or workflow):".to_owned(),
            "  permissions:".to_owned(),
            "    id-token: write".to_owned(),
            "    contents: read   # listing any permission sets the others to none".to_owned(),
            "Pull requests from forks never get an ID token, and local runners such as nektos/act provide none.".to_owned(),
        ],
        AppError::Config(ConfigError::Missing { .. }) => vec![
            "Use the Application (client) ID and Directory (tenant) ID of the app registration or user-assigned managed identity that holds the federated credential.".to_owned(),
        ],
        AppError::Config(ConfigError::NoIdTokenSource) => vec![
            "Kubernetes workload identity sets AZURE_FEDERATED_TOKEN_FILE; GitLab CI: declare `id_tokens:` with the federated credential's audience and pass --id-token-env NAME.".to_owned(),
        ],
        AppError::Config(_) | AppError::IdToken { .. } => Vec::new(),
        AppError::IdTokenFile { .. } => vec![
            "On Kubernetes, the pod needs the azure.workload.identity/use label and a service account annotated with the client ID, so the token is projected into the pod.".to_owned(),
        ],
        AppError::Explain { .. } => vec![
            "Entra fetches the issuer's discovery document and keys from the public internet: a GitHub Enterprise Server or custom issuer must be reachable over HTTPS with a publicly trusted certificate, and its keys must sign the token.".to_owned(),
        ],
        AppError::GitHub { error, host, .. } => github_hints(error, host, config),
        AppError::Entra {
            error,
            presented,
            host,
            ..
        } => config
            .map(|config| entra_hints(error, host, presented, config))
            .unwrap_or_default(),
        AppError::Expression(_) => vec![
            "Write conditions as claims['sub'] matches 'PATTERN' or claims['job_workflow_ref'] eq 'VALUE', joined by ` and `; `*` matches any run of characters, `?` one.".to_owned(),
        ],
        AppError::CredentialMismatch(_) => Vec::new(),
        AppError::Output(_) => vec![
            "Nothing was written to GITHUB_OUTPUT or GITHUB_ENV; check that the runner's file-command directory is writable and has space.".to_owned(),
        ],
    }
}

fn github_hints(error: &GitHubError, host: &str, config: Option<&Config>) -> Vec<String> {
    match error {
        GitHubError::Unauthorized(_) => vec![
            "The request token is valid only while this job runs; re-run the job. A step must not override ACTIONS_ID_TOKEN_REQUEST_TOKEN.".to_owned(),
        ],
        GitHubError::Http(http) => network_hints(http, "GitHub hop", host, config),
        _ => Vec::new(),
    }
}

/// What to change when a hop got no usable answer: the budget, the CA bundle, or the proxy.
fn network_hints(error: &HttpError, hop: &str, host: &str, config: Option<&Config>) -> Vec<String> {
    match error {
        HttpError::Timeout(budget) | HttpError::AttemptTimeout { budget, .. } => vec![format!(
            "The {hop} ({host}) did not answer within timeout-seconds = {}; raise timeout-seconds or check the runner's network and proxy.",
            budget.as_secs()
        )],
        HttpError::Certificate(_) => vec![
            "Behind a TLS-inspecting proxy, set SSL_CERT_FILE (or SSL_CERT_DIR) to a bundle that contains the proxy's CA. SSL_CERT_DIR alone replaces the system's CAs, so keep the public CAs in it too.".to_owned(),
        ],
        HttpError::Proxy(_) => {
            let proxy = config.and_then(|c| c.network.proxy.as_ref()).map_or_else(
                || "the proxy (HTTPS_PROXY)".to_owned(),
                |p| format!("the proxy {} (set by {})", p.host(), p.variable),
            );
            vec![format!(
                "The {hop} ({host}) goes through {proxy}, which refused the tunnel: fix the proxy address or its credentials (http://USER:PASSWORD@HOST:PORT), or add the host to NO_PROXY."
            )]
        }
        _ => Vec::new(),
    }
}

fn entra_hints(error: &EntraError, host: &str, presented: &Claims, config: &Config) -> Vec<String> {
    if let EntraError::Http(http) = error {
        return network_hints(http, "Entra hop", host, Some(config));
    }
    if error.status() == Some(429) {
        return vec![
            "Entra is throttling this client (HTTP 429). Retries honoured Retry-After within the budget; spread out parallel jobs or raise timeout-seconds.".to_owned(),
        ];
    }
    let codes = error.body().map(|b| b.codes()).unwrap_or_default();
    let has = |code: u64| codes.contains(&code);
    let mut hints = Vec::new();
    if has(7_002_138) {
        hints.push(format!(
            "Only the letter case differs: federated credential matching is case-sensitive. Set the credential's subject to exactly {}.",
            quoted(presented.sub.as_deref())
        ));
        hints.extend(matching_credential(presented, config));
    } else if [70_021, 700_211, 700_212, 700_213, 7_002_137]
        .iter()
        .any(|c| has(*c))
    {
        hints.push("No federated identity credential matches what was presented (issuer, subject and audience must match exactly, case-sensitively).".to_owned());
        if has(700_211) {
            hints.push("The issuer differs: the credential's issuer must equal the token's iss exactly (no trailing slash unless the token has one).".to_owned());
        }
        if has(700_212) {
            hints.push(format!(
                "The audience differs: the credential's audiences must contain {} (this step requested it; set the `audience` input to match the credential instead if that one is right).",
                quoted(Some(&config.audience))
            ));
        }
        if has(700_213) || has(7_002_137) {
            hints.push("The subject differs: a job with `environment:` presents ...:environment:NAME, pull requests present ...:pull_request, other runs ...:ref:refs/heads/BRANCH or refs/tags/TAG. Repositories created or renamed after July 2026 present ID-based subjects (repo:OWNER@OWNER_ID/REPO@REPO_ID:...); older ones keep repo:OWNER/REPO:... until they opt in. Use the form your token has.".to_owned());
            hints.extend(
                presented
                    .sub
                    .as_deref()
                    .and_then(crate::fic::presented_form_note),
            );
        }
        if has(70_021) {
            hints.push("If the credential was created or changed in the last few minutes, it may still be propagating: wait a few minutes and re-run the job (this action does not loop on it).".to_owned());
        }
        hints.extend(matching_credential(presented, config));
    } else if has(70_025) {
        hints.push(format!(
            "The app or managed identity {} has no federated identity credential at all (or client-id names the wrong one). Add one; credentials take a few minutes to propagate.",
            config.client_id
        ));
        hints.extend(matching_credential(presented, config));
    } else if has(700_016) {
        hints.push(format!(
            "Check client-id (the Application (client) ID, not the object ID), tenant-id, and environment ({}): the app must exist in that tenant and cloud.",
            config.cloud.name()
        ));
    } else if has(90_002) {
        hints.push(format!(
            "Check tenant-id; a tenant in a sovereign cloud needs `environment: AzureUSGovernment` or `AzureChinaCloud` (now {}).",
            config.cloud.name()
        ));
    } else if has(900_023) {
        hints.push("tenant-id must be the Directory (tenant) ID GUID or a verified domain such as contoso.onmicrosoft.com; check for an unexpanded expression or stray quotes.".to_owned());
    } else if has(700_024) {
        hints.push(format!(
            "The GitHub token is outside its valid time range (it presented nbf {} and exp {}; this machine's clock says {}). Check the runner's clock (self-hosted: enable NTP); this action always fetches a fresh token.",
            presented.nbf.map_or_else(|| "?".to_owned(), crate::outputs::rfc3339),
            presented.exp.map_or_else(|| "?".to_owned(), crate::outputs::rfc3339),
            crate::outputs::rfc3339(crate::entra::unix_now())
        ));
    } else if has(700_222) {
        hints.push("An Entra-issued token was presented as the assertion; the assertion must be the GitHub ID token (check ACTIONS_ID_TOKEN_REQUEST_URL is not overridden).".to_owned());
    } else if has(7_000_215) || has(7_000_218) {
        hints.push("Entra expected a client secret: this app must authenticate with a federated credential. Check client-id names the app that holds the federated credential.".to_owned());
    } else if has(70_011) || has(700_022) || has(1_002_012) || has(500_011) {
        hints.push(format!(
            "Check the `scope` input ({}): one resource, ending in /.default, whose service principal exists in the tenant.",
            config.scope
        ));
    } else if let Some(code) = codes.first() {
        hints.push(format!(
            "See https://login.microsoftonline.com/error?code={code}."
        ));
    } else if matches!(
        error,
        EntraError::NotJson { .. } | EntraError::Redirect { .. } | EntraError::Malformed(_)
    ) {
        hints.push(format!(
            "Something other than Entra answered: check authority-host ({}) and any proxy.",
            config.authority_host.as_str().trim_end_matches('/')
        ));
    }
    hints
}

fn quoted(value: Option<&str>) -> String {
    serde_json::to_string(value.unwrap_or_default()).unwrap_or_default()
}

/// The presented claims and the federated credential that would match them.
pub fn matching_credential(presented: &Claims, config: &Config) -> Vec<String> {
    let issuer = presented.iss.clone().unwrap_or_default();
    let subject = presented.sub.clone().unwrap_or_default();
    let audience = presented
        .aud
        .values()
        .first()
        .map_or_else(|| config.audience.clone(), |a| (*a).to_owned());
    let credential = Credential::new(&issuer, &subject, &audience);
    let mut lines = vec![
        format!("Presented issuer:   {}", quoted(Some(&issuer))),
        format!("Presented subject:  {}", quoted(Some(&subject))),
        format!("Presented audience: {}", quoted(Some(&audience))),
    ];
    if let Some(workflow) = &presented.job_workflow_ref {
        lines.push(format!("job_workflow_ref:   {}", quoted(Some(workflow))));
    }
    lines.push("A federated identity credential that matches this token:".to_owned());
    lines.push(format!("  {}", credential.to_json()));
    lines.push(format!(
        "  {}",
        credential.az_app_command(Some(&config.client_id))
    ));
    lines.push(format!(
        "  (managed identity: {})",
        credential.az_identity_command()
    ));
    lines
}
