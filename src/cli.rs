//! The command line: parse the arguments, pick the mode (no arguments runs the action; `token`,
//! `explain` and `federated-credential` serve local use, other CI systems and onboarding), build
//! that mode's configuration from the typed flags, and hand every error to [`crate::report::fail`].

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::action;
use crate::commands::{self, Console, ExplainConfig};
use crate::error::AppError;
use crate::exchange::SourceConfig;
use crate::exchange::cloud::Cloud;
use crate::exchange::network::Network;
use crate::exchange::settings::{
    ConfigError, ExchangeConfig, ExchangeInputs, check_client_id, parse_audience, parse_cloud,
    parse_timeout,
};
use crate::exchange::source::IdTokenSource;
use crate::onboarding::credential;
use crate::onboarding::expression;
use crate::onboarding::matching::Check;
use crate::onboarding::render::Format;
use crate::onboarding::subject::Entity;
use crate::report::{ErrorStyle, fail};

/// Exchange a GitHub Actions (or other) OIDC token for a short-lived Azure access token.
///
/// With no command, runs as a GitHub Actions step: inputs come from INPUT_* variables.
#[derive(Debug, Parser)]
#[command(name = "azure-oidc-token", version, about, long_about = None)]
pub struct Cli {
    /// What to do; none runs the action.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Exchange an OIDC token for an Azure access token and print it (JSON, or --raw).
    Token(TokenArgs),
    /// Show an OIDC token's claims, the federated credential that matches it, and check its issuer as Entra does.
    Explain(ExplainArgs),
    /// Print the federated identity credential for a repository (offline).
    FederatedCredential(FederatedCredentialArgs),
    /// Serve tokens to later steps on loopback, by the App Service managed-identity protocol (until SIGTERM).
    Serve(ServeArgs),
}

/// `serve` arguments.
#[derive(Debug, Args)]
#[command(
    after_help = "Once listening, appends IDENTITY_ENDPOINT and IDENTITY_HEADER to the env file (GITHUB_ENV by default): \
later steps then use ManagedIdentityCredential / DefaultAzureCredential, MSAL's ManagedIdentityClient or \
`az login --identity` unchanged. Every exchange uses a fresh ID token; tokens are cached per resource. \
Resource Manager (both resource URIs) is served by default; --scope and --allow-scope add resources."
)]
pub struct ServeArgs {
    /// Exchange settings (the same as `token`'s).
    #[command(flatten)]
    pub exchange: ExchangeArgs,
    /// Also serve this resource (a resource URI or its /.default scope); repeatable
    #[arg(long, value_name = "SCOPE")]
    pub allow_scope: Vec<String>,
    /// Append IDENTITY_ENDPOINT and IDENTITY_HEADER here once listening [default: $GITHUB_ENV]
    #[arg(long, value_name = "FILE")]
    pub env_file: Option<std::path::PathBuf>,
    /// Loopback address to listen on (port 0: any free port)
    #[arg(long, value_name = "ADDRESS:PORT", default_value = "127.0.0.1:0")]
    pub listen: String,
}

/// Where the OIDC token comes from and how to exchange it.
#[derive(Debug, Args)]
pub struct ExchangeArgs {
    /// Application (client) ID [env: AZURE_CLIENT_ID]
    #[arg(long)]
    pub client_id: Option<String>,
    /// Directory (tenant) ID or domain [env: AZURE_TENANT_ID]
    #[arg(long)]
    pub tenant_id: Option<String>,
    /// Resource scope; a bare resource URI gets /.default [default: the cloud's ARM scope]
    #[arg(long)]
    pub scope: Option<String>,
    /// The Azure cloud (not a GitHub environment): AzureCloud, AzureUSGovernment or AzureChinaCloud
    #[arg(long, default_value = "AzureCloud")]
    pub environment: String,
    /// Audience to request from GitHub [default: by cloud, e.g. api://AzureADTokenExchange]
    #[arg(long)]
    pub audience: Option<String>,
    /// Entra authority host, https:// only [env: AZURE_AUTHORITY_HOST]
    #[arg(long)]
    pub authority_host: Option<String>,
    /// Read the OIDC token from this file (re-read on every run) [env: AZURE_FEDERATED_TOKEN_FILE]
    #[arg(long, value_name = "FILE")]
    pub id_token_file: Option<String>,
    /// Read the OIDC token from this environment variable (e.g. a GitLab `id_tokens` entry)
    #[arg(long, value_name = "VAR", conflicts_with = "id_token_file")]
    pub id_token_env: Option<String>,
    /// Budget for the whole run, retries included (1..=600)
    #[arg(long, default_value_t = 60)]
    pub timeout_seconds: u64,
    /// Exchange ID tokens of these risky events too (pull_request_target, workflow_run; comma-separated or repeated)
    #[arg(long, value_name = "EVENTS")]
    pub allow_events: Vec<String>,
}

/// `token` arguments.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// Exchange settings.
    #[command(flatten)]
    pub exchange: ExchangeArgs,
    /// Print only the access token (for `$(…)`), not JSON
    #[arg(long)]
    pub raw: bool,
    /// Write the access token to FILE (mode 0600, atomically, no trailing newline) and print the
    /// JSON without it
    #[arg(long, value_name = "FILE", conflicts_with = "raw")]
    pub output: Option<std::path::PathBuf>,
}

/// `explain` arguments.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Exchange settings (only the token source, audience and client ID are used).
    #[command(flatten)]
    pub exchange: ExchangeArgs,
    /// Check a flexible credential's expression against the token, e.g. "claims['sub'] matches 'repo:o/r:ref:refs/heads/release/*'" (exit 1 if it does not match)
    #[arg(long, value_name = "EXPR")]
    pub expression: Option<String>,
    /// Check an exact credential's subject (as set in Entra) against the token's sub (exit 1 if it does not match)
    #[arg(long, value_name = "SUBJECT")]
    pub subject: Option<String>,
}

/// Output formats.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FormatArg {
    /// One JSON object per line, each for one `az ad app federated-credential create --parameters` call (or a Graph beta body)
    Json,
    /// `az` commands, one credential after another
    Az,
    /// Bicep resources (user-assigned managed identity), chained with dependsOn
    Bicep,
    /// Terraform azuread_application_(flexible_)federated_identity_credential blocks
    Terraform,
}

/// `federated-credential` arguments.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("entity").args(["environment", "branch", "tag", "pull_request"])))]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
#[command(
    after_help = "Output: one credential in the name-based subject form, plus one in the ID-based form \
(repo:OWNER@ID/REPO@ID:...) with --owner-id and --repository-id. A `*` or `?` in a value, or \
--job-workflow-ref outside --claim-keys, makes a flexible credential (Entra preview, github.com issuer only).\n\n\
JSON is one object per line; az takes one per call:\n  \
azure-oidc-token federated-credential ... > fic.jsonl\n  \
while IFS= read -r fic; do az ad app federated-credential create --id \"$APP_ID\" --parameters \"$fic\"; done < fic.jsonl\n\
A single credential can also go to a file for --parameters @fic.json. Flexible credentials: use --format az."
)]
pub struct FederatedCredentialArgs {
    /// `audit`: check the credentials already in Entra instead of printing one.
    #[command(subcommand)]
    pub command: Option<FederatedCredentialCommand>,
    /// OWNER/REPO
    #[arg(long, required = true)]
    pub repository: Option<String>,
    /// Jobs that run in this GitHub environment
    #[arg(long)]
    pub environment: Option<String>,
    /// Runs on this branch (NAME or refs/heads/NAME; * and ? make a flexible credential)
    #[arg(long)]
    pub branch: Option<String>,
    /// Runs on this tag (NAME or refs/tags/NAME; * and ? make a flexible credential)
    #[arg(long)]
    pub tag: Option<String>,
    /// pull_request runs
    #[arg(long)]
    pub pull_request: bool,
    /// Numeric owner ID, for the ID-based subject (repo:OWNER@ID/REPO@ID:…); github.com and GHEC only
    #[arg(long)]
    pub owner_id: Option<u64>,
    /// Numeric repository ID, for the ID-based subject (with --owner-id)
    #[arg(long)]
    pub repository_id: Option<u64>,
    /// The subject template's include_claim_keys, in order (e.g. repo,context,job_workflow_ref) [default: repo,context]
    #[arg(long, value_delimiter = ',', value_name = "KEYS")]
    pub claim_keys: Option<Vec<String>>,
    /// A claim value the template needs that no other flag gives, e.g. repo_property_workspace_id=42 (repeatable)
    #[arg(long, value_name = "KEY=VALUE")]
    pub claim: Vec<String>,
    /// The reusable workflow (OWNER/REPO/.github/workflows/FILE.yml@REF): in the subject if in --claim-keys, else matched on its own (flexible)
    #[arg(long, value_name = "REF")]
    pub job_workflow_ref: Option<String>,
    /// Issuer: https://token.actions.githubusercontent.com[/ENTERPRISE] or https://HOST/_services/token (GHES)
    #[arg(long, default_value = credential::GITHUB_ISSUER)]
    pub issuer: String,
    /// Audience [default: by --environment-cloud]
    #[arg(long)]
    pub audience: Option<String>,
    /// AzureCloud, AzureUSGovernment or AzureChinaCloud (sets the default audience)
    #[arg(long, default_value = "AzureCloud")]
    pub environment_cloud: String,
    /// Credential name: 3-120 of A-Z a-z 0-9 - _, starting with a letter or digit [default: derived from the subject]
    #[arg(long)]
    pub name: Option<String>,
    /// Application (client) ID, for the printed az command
    #[arg(long)]
    pub client_id: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value = "json")]
    pub format: FormatArg,
}

mod audit_args;
pub use audit_args::{AuditArgs, AuditFormatArg};

/// What `federated-credential` does besides printing a credential.
#[derive(Debug, Subcommand)]
pub enum FederatedCredentialCommand {
    /// Check the federated credentials already in Entra against GitHub (read-only): exit 2 on an error finding, 1 if it cannot run
    Audit(Box<AuditArgs>),
}

/// A variable's value is not valid UTF-8.
#[derive(Debug)]
pub struct NotUnicode;

/// Runs the binary: `args` without the program name, `env_os` the environment.
///
/// A variable whose value is not UTF-8 reads as unset to the configuration, and once the mode's
/// configuration is read (before any request) it is reported instead of whatever that caused.
pub fn main_with(
    args: Vec<String>,
    env_os: &dyn Fn(&str) -> Result<Option<String>, NotUnicode>,
    stdout: &mut impl Write,
    stderr: &mut impl Write,
) -> ExitCode {
    let first_unreadable = std::cell::RefCell::new(None::<String>);
    let env = |name: &str| match env_os(name) {
        Ok(value) => value,
        Err(NotUnicode) => {
            first_unreadable
                .borrow_mut()
                .get_or_insert_with(|| name.to_owned());
            None
        }
    };
    let unreadable = || {
        first_unreadable
            .borrow()
            .clone()
            .map(|variable| AppError::from(ConfigError::NotUnicode { variable }))
    };
    let env: &dyn Fn(&str) -> Option<String> = &env;
    if args.is_empty() {
        return action::run_action(env, &unreadable, stdout);
    }
    let error_args = args.clone();
    let cli = match Cli::try_parse_from(std::iter::once("azure-oidc-token".to_owned()).chain(args))
    {
        Ok(cli) => cli,
        Err(error) => {
            let (sink, code): (&mut dyn Write, u8) = if error.use_stderr() {
                // The audit's 2 means "error findings": a usage error there is "could not run", 1.
                let audit = matches!(
                    cli_words(&error_args)[..],
                    ["federated-credential", "audit", ..]
                );
                (stderr, if audit { 1 } else { 2 })
            } else {
                (stdout, 0)
            };
            let _ = write!(sink, "{}", error.render());
            return ExitCode::from(code);
        }
    };
    let in_actions = env("GITHUB_ACTIONS").as_deref() == Some("true");
    let style = ErrorStyle::for_commands(in_actions);
    if let Some(error) = unreadable() {
        return fail(stderr, &error, None, style);
    }
    match cli.command {
        None => action::run_action(env, &unreadable, stdout),
        Some(Command::Token(args)) => {
            // Before any request: a token nobody can store is not worth fetching.
            if let Some(Err(error)) = args.output.as_deref().map(crate::token_file::check) {
                return fail(stderr, &AppError::from(error), None, style);
            }
            if let Err(error) = check_token_destination(in_actions, args.output.as_deref()) {
                return fail(stderr, &AppError::from(error), None, style);
            }
            match read_whole(&unreadable, exchange_config(&args.exchange, env)) {
                Ok(config) => commands::run_token(
                    &config,
                    args.raw,
                    args.output.as_deref(),
                    &mut Console {
                        stdout,
                        stderr,
                        in_actions,
                    },
                ),
                Err(error) => fail(stderr, &error, None, style),
            }
        }
        Some(Command::Explain(args)) => match read_whole(&unreadable, explain_config(&args, env)) {
            Ok(config) => commands::run_explain(
                &config,
                &mut Console {
                    stdout,
                    stderr,
                    in_actions,
                },
            ),
            Err(error) => fail(stderr, &error, None, style),
        },
        Some(Command::FederatedCredential(FederatedCredentialArgs {
            command: Some(FederatedCredentialCommand::Audit(args)),
            ..
        })) => match read_whole(&unreadable, audit_args::audit_config(&args, env)) {
            Ok(config) => crate::audit::run_audit(
                &config,
                &mut Console {
                    stdout,
                    stderr,
                    in_actions,
                },
            ),
            Err(error) => fail(stderr, &error, None, style),
        },
        Some(Command::FederatedCredential(args)) => match federated_credential(&args) {
            Ok((text, notes)) => {
                let _ = stdout.write_all(text.as_bytes());
                for note in notes.into_iter().chain(terraform_audience_note(&args)) {
                    let _ = writeln!(stderr, "{note}");
                }
                ExitCode::SUCCESS
            }
            Err(error) => fail(stderr, &error, None, style),
        },
        Some(Command::Serve(args)) => match read_whole(&unreadable, serve_config(&args, env)) {
            Ok(config) => crate::service::run(
                config,
                &mut Console {
                    stdout,
                    stderr,
                    in_actions,
                },
            ),
            Err(error) => fail(stderr, &error, None, style),
        },
    }
}

/// A mode's configuration, unless a variable it read was not UTF-8: that variable is named instead
/// of whatever its absence caused. Every mode that reads the environment goes through here.
fn read_whole<T>(
    unreadable: &dyn Fn() -> Option<AppError>,
    config: Result<T, AppError>,
) -> Result<T, AppError> {
    unreadable().map_or(config, Err)
}

/// `serve`'s settings: `token`'s exchange settings, then the service's own.
fn serve_config(
    args: &ServeArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<crate::service::ServeConfig, AppError> {
    let exchange = exchange_config(&args.exchange, env)?;
    Ok(crate::service::ServeConfig::new(
        exchange,
        &args.allow_scope,
        args.exchange.scope.is_some(),
        args.env_file.clone(),
        &args.listen,
        env,
    )?)
}

/// The arguments as words, for matching the command they name.
fn cli_words(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// Where `token` may put the access token. Inside GitHub Actions, never on stdout: the runner reads
/// stdout and stderr on separate threads (actions/runner `ProcessInvoker.cs`), so it may process
/// the token's line before the `::add-mask::` line on stderr and show the token, and `2>/dev/null`
/// would discard the mask outright. No order of writes can prevent that, and a capture
/// (`$(…)`) cannot be told from the log by the process, so only `--output FILE` is accepted there.
pub fn check_token_destination(
    in_actions: bool,
    output: Option<&std::path::Path>,
) -> Result<(), ConfigError> {
    if in_actions && output.is_none() {
        return Err(ConfigError::Runner {
            variable: "GITHUB_ACTIONS",
            problem: "is true, so `token` will not print the access token on stdout: the runner reads stdout and stderr separately and could show the token before it reads the ::add-mask:: line. Write it to a file with --output FILE (e.g. --output \"$RUNNER_TEMP/azure-token\", then capture it with TOKEN=\"$(cat \"$RUNNER_TEMP/azure-token\")\"), or use the action itself (`uses:`), whose outputs are masked first".to_owned(),
        });
    }
    Ok(())
}

/// `token`'s settings, from the flags with the `AZURE_*` fallbacks.
fn exchange_config(
    args: &ExchangeArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ExchangeConfig, AppError> {
    let inputs = ExchangeInputs {
        client_id: args.client_id.clone(),
        tenant_id: args.tenant_id.clone(),
        environment: Some(args.environment.clone()),
        audience: args.audience.clone(),
        scope: args.scope.clone(),
        authority_host: args.authority_host.clone(),
        timeout_seconds: Some(args.timeout_seconds),
        allow_events: Some(args.allow_events.join(",")),
    };
    Ok(ExchangeConfig::new(
        inputs,
        || id_token_source(args, env),
        env,
    )?)
}

pub(crate) fn id_token_source(
    args: &ExchangeArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<IdTokenSource, ConfigError> {
    IdTokenSource::for_command_line(
        args.id_token_file.as_deref(),
        args.id_token_env.as_deref(),
        env,
    )
}

/// `explain`'s settings: only what getting and checking an ID token needs (no tenant, and a client
/// ID only if one was given).
fn explain_config(
    args: &ExplainArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ExplainConfig, AppError> {
    // A malformed expression is refused before any request.
    let expression = args
        .expression
        .as_deref()
        .map(expression::parse)
        .transpose()?;
    let set = |value: Option<String>| value.filter(|v| !v.trim().is_empty());
    let exchange = &args.exchange;
    let client_id = set(exchange.client_id.clone()).or_else(|| set(env("AZURE_CLIENT_ID")));
    if let Some(client_id) = &client_id {
        check_client_id(client_id)?;
    }
    let cloud = parse_cloud(Some(&exchange.environment))?;
    let audience = parse_audience(set(exchange.audience.clone()).as_deref(), cloud)?;
    let timeout = parse_timeout(Some(exchange.timeout_seconds))?;
    let network = Network::from_lookup(&|name| set(env(name)), timeout)?;
    Ok(ExplainConfig {
        source: SourceConfig {
            id_token: id_token_source(exchange, env)?,
            audience,
            timeout,
            network,
        },
        cloud,
        client_id,
        check: Check {
            subject: args.subject.clone(),
            expression,
            from_inputs: false,
        },
    })
}

/// `federated-credential`: the credential(s) for the flags, rendered, and notes for stderr.
pub fn federated_credential(
    args: &FederatedCredentialArgs,
) -> Result<(String, Vec<String>), AppError> {
    let entity = match (
        &args.environment,
        &args.branch,
        &args.tag,
        args.pull_request,
    ) {
        (Some(environment), _, _, _) => Some(Entity::Environment(environment.clone())),
        (_, Some(branch), _, _) => Some(Entity::Branch(branch.clone())),
        (_, _, Some(tag), _) => Some(Entity::Tag(tag.clone())),
        (_, _, _, true) => Some(Entity::PullRequest),
        _ => None,
    };
    let cloud = Cloud::parse(&args.environment_cloud).ok_or_else(|| ConfigError::Invalid {
        input: "environment-cloud",
        problem: format!(
            "is {:?}: use AzureCloud, AzureUSGovernment or AzureChinaCloud",
            args.environment_cloud
        ),
    })?;
    let request = credential::Request {
        repository: args.repository.clone().unwrap_or_default(),
        owner_id: args.owner_id,
        repository_id: args.repository_id,
        entity,
        issuer: args.issuer.clone(),
        audience: args
            .audience
            .clone()
            .unwrap_or_else(|| cloud.audience().to_owned()),
        name: args.name.clone(),
        claim_keys: args.claim_keys.clone(),
        claims: args.claim.clone(),
        job_workflow_ref: args.job_workflow_ref.clone(),
    };
    let credentials = credential::credentials(&request)?;
    let format = match args.format {
        FormatArg::Json => Format::Json,
        FormatArg::Az => Format::Az,
        FormatArg::Bicep => Format::Bicep,
        FormatArg::Terraform => Format::Terraform,
    };
    Ok((
        crate::onboarding::render::render(&credentials, format, args.client_id.as_deref(), cloud),
        crate::onboarding::render::notes(&credentials, format),
    ))
}
/// In a sovereign cloud without `--audience`: Terraform's azurerm/azuread providers ask GitHub for
/// the public cloud's audience in every cloud (hashicorp/go-azure-sdk `github_oidc_authorizer.go`),
/// so the credential printed (the cloud's audience) does not serve them; say how to get the one that does.
pub fn terraform_audience_note(args: &FederatedCredentialArgs) -> Option<String> {
    let public = Cloud::AzureCloud.audience();
    let sovereign = Cloud::parse(&args.environment_cloud).is_some_and(|c| c.audience() != public);
    (sovereign && args.audience.is_none()).then(|| {
        format!(
            "note: Terraform's azurerm/azuread providers (export-sdk-env) request audience {public} in every cloud: for them, also create this credential with --audience {public}"
        )
    })
}
