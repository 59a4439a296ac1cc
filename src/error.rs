//! The top-level error of a run and the hints printed under it.
//!
//! Leaf modules say what went wrong; this is the edge where we add what to change in the workflow
//! or in Entra (the Entra side lives in [`crate::onboarding::diagnosis`]).

use crate::action::outputs::OutputError;
use crate::exchange::ExchangeError;
use crate::exchange::claims::Claims;
use crate::exchange::settings::ConfigError;
use crate::exchange::source::github::GitHubError;
use crate::onboarding::diagnosis::{self, HintContext, network_hints};
use crate::onboarding::explain::ExplainError;
use crate::onboarding::expression::ExpressionError;

/// Why the run failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// An input or runner variable is unusable; the message names it.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// stdout is closed or full: check what the output is piped to.
    #[error("cannot write to stdout: {0}")]
    Stdout(std::io::Error),
    /// The process cannot start its async runtime (out of threads or memory): re-run the job.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// No token came back; the message names the hop or source and the hints say what to change.
    #[error(transparent)]
    Exchange(Box<ExchangeError>),
    /// The issuer check of `explain` failed; Entra would refuse the token for the same reason.
    #[error("issuer check failed: {error}")]
    Explain {
        /// What failed.
        error: ExplainError,
        /// The token's claims.
        presented: Box<Claims>,
    },
    /// Outputs could not be written; nothing was left half-written.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// `explain --expression` is not in Entra's expression language: fix it as the message says.
    #[error("--expression: {0}")]
    Expression(#[from] ExpressionError),
    /// `federated-credential` cannot build a credential from the flags; the message names the flag.
    #[error(transparent)]
    Credential(#[from] crate::onboarding::credential::FicError),
    /// `token --output` cannot write where it was asked to; the message says why.
    #[error(transparent)]
    TokenFile(#[from] crate::token_file::TokenFileError),
    /// `federated-credential audit` could not read what it audits; the message names the service
    /// and the hints the permission.
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
    /// The credential given to `explain` (`--subject`, `--expression`) does not match the token:
    /// change the credential (or the workflow) as the lines above say.
    #[error("{0}")]
    CredentialMismatch(String),
}

impl From<ExchangeError> for AppError {
    fn from(error: ExchangeError) -> Self {
        Self::Exchange(Box::new(error))
    }
}

impl AppError {
    /// Whether the hints quote token claims or server text (then they are printed fenced).
    pub fn hints_quote_claims(&self) -> bool {
        match self {
            Self::Exchange(error) => matches!(**error, ExchangeError::Entra { .. }),
            Self::Explain { .. } => true,
            _ => false,
        }
    }
}

/// Hint lines for `error`: what to change. Lines derived from token claims or server text must be
/// printed inert ([`AppError::hints_quote_claims`]).
pub fn hints(error: &AppError, context: Option<&HintContext<'_>>) -> Vec<String> {
    match error {
        AppError::Exchange(error) => exchange_hints(error, context),
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
        AppError::Config(_) | AppError::Runtime(_) | AppError::Stdout(_) => Vec::new(),
        AppError::Explain { .. } => vec![
            "Entra fetches the issuer's discovery document and keys from the public internet: a GitHub Enterprise Server or custom issuer must be reachable over HTTPS with a publicly trusted certificate, and its keys must sign the token.".to_owned(),
        ],

        AppError::Expression(_) => vec![
            "Write conditions as claims['sub'] matches 'PATTERN' or claims['job_workflow_ref'] eq 'VALUE', joined by ` and `; `*` matches any run of characters, `?` one.".to_owned(),
        ],
        AppError::Audit(error) => audit_hints(error),
        AppError::CredentialMismatch(_) | AppError::Credential(_) | AppError::TokenFile(_) => {
            Vec::new()
        }
        AppError::Output(_) => vec![
            "Nothing was written to GITHUB_OUTPUT or GITHUB_ENV; check that the runner's file-command directory is writable and has space.".to_owned(),
        ],
    }
}

fn audit_hints(error: &crate::audit::AuditError) -> Vec<String> {
    use crate::audit::AuditError;
    use crate::audit::fetch::FetchError;
    match error {
        AuditError::Fetch(FetchError::GraphForbidden { app_id, .. }) => vec![
            "The audit's principal needs the Microsoft Graph application permission Application.Read.All (with admin consent), or to be an owner of the app registration:".to_owned(),
            format!("  az ad app owner add --id {app_id} --owner-object-id AUDIT_PRINCIPAL_OBJECT_ID"),
        ],
        AuditError::Fetch(FetchError::ArmForbidden { .. }) => vec![
            "The audit's principal needs the Reader role on the identity (or its resource group):".to_owned(),
            "  az role assignment create --assignee AUDIT_CLIENT_ID --role Reader --scope IDENTITY_RESOURCE_ID".to_owned(),
        ],
        AuditError::Fetch(FetchError::Unauthorized { service, .. }) => vec![format!(
            "The access token must be unexpired and for {service} of the same cloud: for --access-token-file use `az account get-access-token --resource-type {} --query accessToken --output tsv`; without it the audit mints one with the same flags as `token`.",
            if *service == "Microsoft Graph" { "ms-graph" } else { "arm" }
        )],
        _ => Vec::new(),
    }
}

fn exchange_hints(error: &ExchangeError, context: Option<&HintContext<'_>>) -> Vec<String> {
    match error {
        ExchangeError::IdToken { .. }
        | ExchangeError::Client(_)
        | ExchangeError::RiskyEvent(_) => Vec::new(),
        ExchangeError::IdTokenFile { .. } => vec![
            "On Kubernetes, the pod needs the azure.workload.identity/use label and a service account annotated with the client ID, so the token is projected into the pod.".to_owned(),
        ],
        ExchangeError::GitHub { error, host, .. } => github_hints(error, host, context),
        ExchangeError::Entra {
            error,
            presented,
            host,
            ..
        } => context
            .map(|context| diagnosis::entra_hints(error, host, presented, context))
            .unwrap_or_default(),
    }
}

fn github_hints(error: &GitHubError, host: &str, context: Option<&HintContext<'_>>) -> Vec<String> {
    match error {
        GitHubError::Unauthorized(_) => vec![
            "The request token is valid only while this job runs; re-run the job. A step must not override ACTIONS_ID_TOKEN_REQUEST_TOKEN.".to_owned(),
        ],
        GitHubError::Http(http) => network_hints(http, "GitHub hop", host, context),
        _ => Vec::new(),
    }
}
