//! `federated-credential audit`'s flags and their validation into an [`AuditConfig`] before any
//! request: the edge between the command line and [`crate::audit`].

use clap::{Args, ValueEnum};

use super::{ExchangeArgs, id_token_source};
use crate::audit::AuditConfig;
use crate::error::AppError;
use crate::exchange::network::Network;
use crate::exchange::settings::{ExchangeConfig, ExchangeInputs, parse_cloud, parse_timeout};
use crate::secret::Secret;

/// `federated-credential audit` arguments.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["app_id", "identity"])))]
pub struct AuditArgs {
    /// The app registration's Application (client) ID (read through Microsoft Graph)
    #[arg(long, value_name = "GUID")]
    pub app_id: Option<String>,
    /// A user-assigned managed identity's resource ID (read through Azure Resource Manager)
    #[arg(long, value_name = "RESOURCE_ID")]
    pub identity: Option<String>,
    /// A Graph (app) or ARM (identity) access token; without it, one is minted by the same exchange as `token`
    #[arg(long, value_name = "FILE")]
    pub access_token_file: Option<std::path::PathBuf>,
    /// Exchange settings, when no --access-token-file (the audit's own identity); --environment also picks the endpoints.
    #[command(flatten)]
    pub exchange: ExchangeArgs,
    /// Microsoft Graph's root, without a version [default: by --environment]
    #[arg(long, value_name = "URL")]
    pub graph_endpoint: Option<String>,
    /// Azure Resource Manager's root [default: by --environment]
    #[arg(long, value_name = "URL")]
    pub arm_endpoint: Option<String>,
    /// GitHub's REST root (https://HOST/api/v3 on GHES) [env: GITHUB_API_URL] [default: api.github.com, or api.SUBDOMAIN.ghe.com for a GHE.com issuer]; $GITHUB_TOKEN is sent if set
    #[arg(long, value_name = "URL")]
    pub github_api_url: Option<String>,
    /// The credentials the repository declares: the JSON lines of `federated-credential --format json`
    #[arg(long, value_name = "FILE")]
    pub declared: Option<std::path::PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value = "text")]
    pub format: AuditFormatArg,
}

/// `audit` output formats.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum AuditFormatArg {
    /// A Markdown table (terminal or job summary)
    Text,
    /// {"credentials": [...], "findings": [...]}
    Json,
}

/// `federated-credential audit`'s settings, validated before any request.
pub(super) fn audit_config(
    args: &AuditArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<AuditConfig, AppError> {
    use crate::audit::target::{Target, parse_app_id, parse_identity};
    use crate::audit::{AccessToken, AuditError, OutputFormat, parse_endpoint};
    let set = |value: Option<String>| value.filter(|v| !v.trim().is_empty());
    let target = match (&args.app_id, &args.identity) {
        (Some(app_id), _) => parse_app_id(app_id).map_err(AuditError::from)?,
        (_, Some(identity)) => parse_identity(identity).map_err(AuditError::from)?,
        (None, None) => unreachable!("clap requires --app-id or --identity"),
    };
    let cloud = parse_cloud(Some(&args.exchange.environment))?;
    let endpoint = |flag, given: &Option<String>, default: &str| {
        parse_endpoint(flag, given.as_deref().unwrap_or(default))
    };
    let graph = endpoint(
        "--graph-endpoint",
        &args.graph_endpoint,
        cloud.graph_endpoint(),
    )?;
    let arm = endpoint("--arm-endpoint", &args.arm_endpoint, cloud.arm_endpoint())?;
    let github_api = set(args.github_api_url.clone())
        .or_else(|| set(env("GITHUB_API_URL")))
        .map(|url| parse_endpoint("--github-api-url", &url))
        .transpose()?;
    let github_token = set(env("GITHUB_TOKEN")).map(|t| Secret::new(t.trim().to_owned()));
    let read = |flag: &'static str, path: &std::path::Path| {
        std::fs::read_to_string(path).map_err(|error| AuditError::File {
            flag,
            path: path.display().to_string(),
            problem: error.to_string(),
        })
    };
    let declared = match &args.declared {
        Some(path) => Some(
            crate::audit::plan::parse_declared(&read("--declared", path)?)
                .map_err(AuditError::from)?,
        ),
        None => None,
    };
    let timeout = parse_timeout(Some(args.exchange.timeout_seconds))?;
    let network = Network::from_lookup(&|name| set(env(name)), timeout)?;
    let access_token = match &args.access_token_file {
        Some(path) => {
            let text = zeroize::Zeroizing::new(read("--access-token-file", path)?);
            let token = text.trim();
            if token.is_empty() || token.contains(char::is_whitespace) {
                return Err(AuditError::File {
                    flag: "--access-token-file",
                    path: path.display().to_string(),
                    problem: "holds no token (one access token, nothing else)".to_owned(),
                }
                .into());
            }
            AccessToken::File(Secret::new(token.to_owned()))
        }
        None => {
            let scope = match &target {
                Target::App { .. } => cloud.graph_scope(),
                Target::Identity(_) => cloud.arm_scope(),
            };
            let inputs = ExchangeInputs {
                client_id: args.exchange.client_id.clone(),
                tenant_id: args.exchange.tenant_id.clone(),
                environment: Some(args.exchange.environment.clone()),
                audience: args.exchange.audience.clone(),
                scope: Some(
                    args.exchange
                        .scope
                        .clone()
                        .unwrap_or_else(|| scope.to_owned()),
                ),
                authority_host: args.exchange.authority_host.clone(),
                timeout_seconds: Some(args.exchange.timeout_seconds),
                allow_events: Some(args.exchange.allow_events.join(",")),
            };
            AccessToken::Exchange(Box::new(ExchangeConfig::new(
                inputs,
                || id_token_source(&args.exchange, env),
                env,
            )?))
        }
    };
    Ok(AuditConfig {
        target,
        cloud,
        graph,
        arm,
        github_api,
        github_token,
        access_token,
        declared,
        format: match args.format {
            AuditFormatArg::Text => OutputFormat::Text,
            AuditFormatArg::Json => OutputFormat::Json,
        },
        timeout,
        network,
    })
}
